import ArgumentParser
import FairflowCore

/// Flower's location and user; the password comes from FAIRFLOW_FLOWER_PASSWORD or stdin.
struct FlowerOptions: ParsableArguments {
    @Option(name: .customLong("flower-url"), help: ArgumentHelp("Flower's base URL (else FAIRFLOW_FLOWER_URL).", valueName: "url"))
    var url: String?

    @Option(name: .customLong("flower-user"), help: ArgumentHelp("Flower's basic-auth user (else FAIRFLOW_FLOWER_USER).", valueName: "name"))
    var user: String?

    @Flag(name: .customLong("password-stdin"), help: "Read Flower's password from stdin (else FAIRFLOW_FLOWER_PASSWORD).")
    var passwordStdin = false

    func target() throws -> AirflowTarget {
        AirflowTarget(url: url, user: user, password: passwordStdin ? try readPasswordFromStdin() : nil)
    }
}

struct FlowerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flower", abstract: "Celery workers and tasks from Flower's API.",
        subcommands: [FlowerWorkersCommand.self, FlowerTasksCommand.self])
}

struct FlowerWorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workers", abstract: FlowerWorkers.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var flower: FlowerOptions
    @Option(help: "Exit 3 unless at least this many workers are online (e.g. after `scale worker N`).") var expect: Int?

    func validate() throws {
        if let expect, expect < 0 { throw ValidationError("--expect must be 0 or more") }
    }

    func run() async throws {
        try await CommandRunner.run(FlowerWorkers.self, .init(flower: try flower.target(), expect: expect), globals: globals)
    }
}

struct FlowerTasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tasks", abstract: FlowerTasks.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var flower: FlowerOptions
    @Option(help: "Only tasks in this state (PENDING, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED).") var state: String?
    @Option(help: "At most this many tasks.") var limit = 50

    func run() async throws {
        try await CommandRunner.run(FlowerTasks.self, .init(flower: try flower.target(), state: state, limit: limit), globals: globals)
    }
}
