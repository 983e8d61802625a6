import ArgumentParser
import FairflowCore
import Foundation

/// `fairflow secrets init|list|rotate`.
struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets", abstract: "Create, list and rotate the stack's airflow-* secrets.",
        subcommands: [SecretsInitCommand.self, SecretsListCommand.self, SecretsRotateCommand.self, SecretsPruneCommand.self])
}

struct SecretsInitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: SecretsInit.summary,
        discussion: """
        Creates airflow-fernet-key, airflow-admin-password, airflow-flower-credentials and, with --deploy-key,
        airflow-dag-repo-ro-privatekey. Existing secrets are kept (their ARNs reused) unless named by --rotate.
        The ARNs go into --env (default envs/<region>.env), keeping every other line. Values are never printed.
        """)
    @OptionGroup var globals: GlobalOptions

    @Flag(name: .customLong("admin-password-stdin"), help: "Read the Airflow admin password from stdin (else a random one).")
    var adminPasswordStdin = false

    @Option(name: .customLong("flower-user"), help: "The Flower basic-auth user name.")
    var flowerUser = "admin"

    @Option(name: .customLong("deploy-key"), help: ArgumentHelp("The DAG repository's read-only SSH private key.", valueName: "file"))
    var deployKey: String?

    @Option(name: .customLong("rotate"), help: ArgumentHelp("Give this existing secret a new value (repeatable).", valueName: "name"))
    var rotate: [String] = []

    func run() async throws {
        try await DayTwoRunner.run(SecretsInit.self, globals: globals) {
            SecretsInit.Input(adminPassword: adminPasswordStdin ? try readPasswordFromStdin() : nil, flowerUser: flowerUser,
                              deployKeyFile: deployKey, rotate: try rotate.map(AirflowSecret.parse))
        }
    }
}

struct SecretsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: SecretsList.summary)
    @OptionGroup var globals: GlobalOptions

    func run() async throws {
        try await DayTwoRunner.run(SecretsList.self, globals: globals) { .init() }
    }
}

struct SecretsRotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: SecretsRotate.summary,
        discussion: "The Fernet key keeps its old keys after the new one, comma-separated, as Airflow's key rotation needs.")
    @OptionGroup var globals: GlobalOptions

    @Argument(help: "airflow-fernet-key, airflow-admin-password, airflow-flower-credentials or airflow-dag-repo-ro-privatekey.")
    var name: String

    @Flag(name: .customLong("admin-password-stdin"), help: "Read the new admin password from stdin (else a random one).")
    var adminPasswordStdin = false

    @Option(name: .customLong("flower-user"), help: "A new Flower user name (else the current one).")
    var flowerUser: String?

    @Option(name: .customLong("deploy-key"), help: ArgumentHelp("The new read-only SSH private key.", valueName: "file"))
    var deployKey: String?

    func run() async throws {
        try await DayTwoRunner.run(SecretsRotate.self, globals: globals) {
            SecretsRotate.Input(secret: try AirflowSecret.parse(name), adminPassword: adminPasswordStdin ? try readPasswordFromStdin() : nil,
                                flowerUser: flowerUser, deployKeyFile: deployKey)
        }
    }
}

/// Runs a day-two operation: builds its input inside the error mapping (bad input exits 64 with
/// "what: why — fix"), runs it, and renders it unless its lines were streamed already.
enum DayTwoRunner {
    /// `streamed`: the operation printed its lines as it ran; with `--output json` the final output is
    /// added as one more JSON line only when `jsonSummary` (tasks run --wait), so logs stay pure JSON lines.
    static func run<Op: FairflowOperation>(_ op: Op.Type, globals: GlobalOptions, streamed: Bool = false, jsonSummary: Bool = false,
                                           exitCode: ((Op.Output) -> Int32?)? = nil,
                                           _ build: () throws -> Op.Input) async throws {
        let context = globals.makeContext()
        var status: Int32
        do {
            let input = try build()
            let output = try await Runtime.run(op, input, context: context)
            if !streamed {
                try Runtime.render(output, context: context)
            } else if jsonSummary && context.settings.output == .json {
                context.terminal.print(try JSON.encode(output, pretty: false))
            }
            status = exitCode?(output) ?? output.exitStatus.rawValue
        } catch {
            status = CommandRunner.report(error, context: context).rawValue
        }
        if status != 0 { throw ExitCode(status) }
    }
}
