import ArgumentParser
import FairflowCore
import Foundation

/// `fairflow logs tail|task`.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Read the components' logs (CloudWatch) and task instances' logs (S3).",
        subcommands: [LogsTailCommand.self, LogsTaskCommand.self])
}

struct LogsTailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail", abstract: LogsTail.summary,
        discussion: """
        Components: \(AirflowComponent.names) (default: all in the stack).
        Each line starts with the component and the task. --output json gives one JSON object per line.
        With --follow, Ctrl-C ends cleanly (exit 0).
        """)
    @OptionGroup var globals: GlobalOptions

    @Argument(help: "Components to show.")
    var components: [String] = []

    @Flag(name: [.short, .long], help: "Keep polling for new lines until Ctrl-C.")
    var follow = false

    @Option(help: "Start this long ago (30s, 10m, 2h, 3d) or at an ISO-8601 time.")
    var since = "10m"

    @Option(help: "A CloudWatch Logs filter pattern.")
    var filter: String?

    @Flag(help: "The last stopped task's logs (one component).")
    var previous = false

    @Option(name: .customLong("poll-interval"), help: .hidden)
    var pollInterval: Double = 1

    @Option(name: .customLong("max-polls"), help: .hidden)
    var maxPolls: Int?

    @Option(name: .customLong("page-size"), help: .hidden)
    var pageSize: Int?

    func run() async throws {
        try await DayTwoRunner.run(LogsTail.self, globals: globals, streamed: true) {
            var i = LogsTail.Input(components: try components.map { try AirflowComponent.parse($0) }, since: since, filter: filter,
                                   follow: follow, previous: previous)
            i.pollSeconds = pollInterval
            i.maxPollSeconds = max(10, pollInterval)
            i.maxPolls = maxPolls
            i.pageSize = pageSize
            try LogsTail.validate(i)
            return i
        }
    }
}

struct LogsTaskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "task", abstract: LogsTask.summary)
    @OptionGroup var globals: GlobalOptions

    @Argument(help: "The DAG id.") var dagId: String
    @Argument(help: "The DAG run id.") var runId: String
    @Argument(help: "The task id.") var taskId: String

    @Option(name: .customLong("try"), help: "The try number (default: the latest).")
    var tryNumber: Int?

    @Option(name: .customLong("map-index"), help: "A mapped task's index.")
    var mapIndex: Int?

    func run() async throws {
        try await DayTwoRunner.run(LogsTask.self, globals: globals) {
            LogsTask.Input(dagId: dagId, runId: runId, taskId: taskId, tryNumber: tryNumber, mapIndex: mapIndex)
        }
    }
}
