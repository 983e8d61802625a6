import AirflowAPI
import ArgumentParser
import FairflowCore
import Foundation

/// Where Airflow is and who we are; the password comes from FAIRFLOW_AIRFLOW_PASSWORD or stdin, never a flag.
struct AirflowOptions: ParsableArguments {
    @Option(name: .customLong("airflow-url"), help: ArgumentHelp("Airflow's base URL (else FAIRFLOW_AIRFLOW_URL).", valueName: "url"))
    var url: String?

    @Option(name: .customLong("airflow-user"), help: ArgumentHelp("Airflow user (else FAIRFLOW_AIRFLOW_USER, else admin).", valueName: "name"))
    var user: String?

    @Flag(name: .customLong("password-stdin"), help: "Read the Airflow password from stdin (else FAIRFLOW_AIRFLOW_PASSWORD).")
    var passwordStdin = false

    func target() throws -> AirflowTarget {
        AirflowTarget(url: url, user: user, password: passwordStdin ? try readPasswordFromStdin() : nil)
    }
}

/// "90", "90s", "10m", "1h30m" → seconds.
func parseDuration(_ s: String) -> Double? {
    if let n = Double(s), n >= 0 { return n }
    var total = 0.0, number = ""
    for ch in s.lowercased() {
        if ch.isNumber || ch == "." { number.append(ch); continue }
        guard let n = Double(number) else { return nil }
        switch ch {
        case "s": total += n
        case "m": total += n * 60
        case "h": total += n * 3600
        case "d": total += n * 86400
        default: return nil
        }
        number = ""
    }
    return number.isEmpty ? total : nil
}

struct DagsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dags",
        abstract: "Work with Airflow's DAGs and runs through its REST API (Airflow 2 and 3).",
        discussion: "Airflow is found with --airflow-url or FAIRFLOW_AIRFLOW_URL; the password comes from FAIRFLOW_AIRFLOW_PASSWORD or --password-stdin.",
        subcommands: [DagsListCommand.self, DagsErrorsCommand.self, DagsTriggerCommand.self, DagsRunsCommand.self,
                      DagsStateCommand.self, DagsLogsCommand.self, DagsPauseCommand.self, DagsUnpauseCommand.self,
                      DagsClearCommand.self, DagsSyncCommand.self]
    )
}

struct DagsListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: DagsList.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var airflow: AirflowOptions
    @Option(help: "Only DAGs with this owner.") var owner: String?
    @Option(help: "Only DAGs with this tag.") var tag: String?
    @Flag(help: "Only paused DAGs.") var paused = false
    @Flag(help: "Only active (unpaused) DAGs.") var active = false

    func validate() throws {
        if paused && active { throw ValidationError("--paused and --active exclude each other") }
    }

    func run() async throws {
        try await CommandRunner.run(DagsList.self, .init(airflow: try airflow.target(), owner: owner, tag: tag,
                                                         paused: paused ? true : (active ? false : nil)), globals: globals)
    }
}

struct DagsErrorsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "errors", abstract: DagsErrors.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var airflow: AirflowOptions

    func run() async throws {
        try await CommandRunner.run(DagsErrors.self, .init(airflow: try airflow.target()), globals: globals)
    }
}

struct DagsTriggerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trigger", abstract: DagsTrigger.summary,
        discussion: "Prints the run id. With --wait, shows task states on stderr until the run ends; exit 0 on success, 1 on failure.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var airflow: AirflowOptions
    @Argument(help: "The DAG id.") var dagId: String
    @Option(help: ArgumentHelp("The run's conf: a JSON object, or @file with one.", valueName: "json|@file")) var conf: String?
    @Option(name: .customLong("run-id"), help: "The run id (default: manual__<time>_ff<random>).") var runId: String?
    @Flag(help: "Unpause the DAG first if it is paused.") var unpause = false
    @Flag(help: "Wait for the run to finish, showing task progress.") var wait = false
    @Option(help: ArgumentHelp("Give up waiting after this long (90s, 10m, 1h).", valueName: "duration")) var timeout: String?

    func parsedConf() throws -> [String: JSONValue] {
        guard let conf else { return [:] }
        var text = conf
        if conf.hasPrefix("@") {
            let path = String(conf.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--conf: cannot read \(path)") }
            text = String(decoding: data, as: UTF8.self)
        }
        guard let value = try? JSONValue.parse(text) else { throw ValidationError("--conf: not valid JSON") }
        guard case .object(let o) = value else { throw ValidationError("--conf: must be a JSON object, like {\"key\": \"value\"}") }
        return o
    }

    func validate() throws {
        _ = try parsedConf()
        if let t = timeout, parseDuration(t) == nil { throw ValidationError("--timeout: '\(t)' is not a duration like 90s, 10m or 1h") }
        if timeout != nil && !wait { throw ValidationError("--timeout needs --wait") }
    }

    func run() async throws {
        let input = DagsTrigger.Input(airflow: try airflow.target(), dagId: dagId, conf: try parsedConf(), runId: runId, unpause: unpause,
                                      wait: wait, timeout: timeout.flatMap(parseDuration))
        try await CommandRunner.run(DagsTrigger.self, input, globals: globals)
    }
}

struct DagsRunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: DagsRuns.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var airflow: AirflowOptions
    @Argument(help: "The DAG id.") var dagId: String
    @Option(help: "How many runs.") var limit = 10
    @Option(help: "Only runs in this state (queued, running, success, failed).") var state: String?

    func validate() throws {
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        try await CommandRunner.run(DagsRuns.self, .init(airflow: try airflow.target(), dagId: dagId, limit: limit, state: state), globals: globals)
    }
}

struct DagsStateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "state", abstract: DagsState.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var airflow: AirflowOptions
    @Argument(help: "The DAG id.") var dagId: String
    @Argument(help: "The run id.") var runId: String

    func run() async throws {
        try await CommandRunner.run(DagsState.self, .init(airflow: try airflow.target(), dagId: dagId, runId: runId), globals: globals)
    }
}

struct DagsLogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: DagsLogs.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var airflow: AirflowOptions
    @Argument(help: "The DAG id.") var dagId: String
    @Argument(help: "The run id.") var runId: String
    @Argument(help: "One task (default: all tasks in execution order).") var taskId: String?
    @Option(name: .customLong("try"), help: "The try number (default: the latest).") var tryNumber: Int?

    func validate() throws {
        if let t = tryNumber, t < 1 { throw ValidationError("--try must be at least 1") }
    }

    func run() async throws {
        try await CommandRunner.run(DagsLogs.self, .init(airflow: try airflow.target(), dagId: dagId, runId: runId, taskId: taskId,
                                                         tryNumber: tryNumber), globals: globals)
    }
}

struct DagsPauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: DagsPause.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var airflow: AirflowOptions
    @Argument(help: "DAG ids.") var dagIds: [String]

    func validate() throws { if dagIds.isEmpty { throw ValidationError("name at least one DAG id") } }

    func run() async throws {
        try await CommandRunner.run(DagsPause.self, .init(airflow: try airflow.target(), dagIds: dagIds), globals: globals)
    }
}

struct DagsUnpauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpause", abstract: DagsUnpause.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var airflow: AirflowOptions
    @Argument(help: "DAG ids.") var dagIds: [String]

    func validate() throws { if dagIds.isEmpty { throw ValidationError("name at least one DAG id") } }

    func run() async throws {
        try await CommandRunner.run(DagsUnpause.self, .init(airflow: try airflow.target(), dagIds: dagIds), globals: globals)
    }
}

struct DagsClearCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: DagsClear.summary,
                                                    discussion: "Needs --yes: cleared tasks run again.")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var airflow: AirflowOptions
    @Argument(help: "The DAG id.") var dagId: String
    @Argument(help: "The run id.") var runId: String
    @Flag(name: .customLong("failed-only"), help: "Clear only failed (and upstream-failed) tasks.") var failedOnly = false

    func run() async throws {
        try await CommandRunner.run(DagsClear.self, .init(airflow: try airflow.target(), dagId: dagId, runId: runId, failedOnly: failedOnly),
                                    globals: globals)
    }
}

struct DagsSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync", abstract: DagsSync.summary,
        discussion: "Exit 3 when the sync brought new import errors (they are listed).")
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var airflow: AirflowOptions
    @Option(help: "Seconds the DAG list and import errors must stay unchanged to count as parsed.") var settle: Double = 30
    @Option(help: "Give up after this many seconds.") var timeout: Double = 600

    func run() async throws {
        var input = DagsSync.Input()
        input.airflow = try airflow.target()
        input.settleSeconds = settle
        input.timeoutSeconds = timeout
        try await CommandRunner.run(DagsSync.self, input, globals: globals)
    }
}
