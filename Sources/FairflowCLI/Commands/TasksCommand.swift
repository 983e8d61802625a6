import ArgumentParser
import FairflowCore
import Foundation

extension TasksRun.Size: ExpressibleByArgument {}

/// `fairflow tasks run big|little [--wait] [-- COMMAND...]`.
struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "Run the on-demand external tasks.", subcommands: [TasksRunCommand.self])
}

struct TasksRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: TasksRun.summary,
        discussion: """
        Runs the big or little task definition in the stack's private subnets. With --wait, streams the
        container's log to stdout and exits with the container's exit code (ECS Exec cannot give one).
        """)
    @OptionGroup var globals: GlobalOptions

    @Argument(help: "big or little.")
    var size: TasksRun.Size

    @Flag(help: "Wait for the task to stop, streaming its log; exit with its exit code.")
    var wait = false

    @Option(name: .customLong("poll-interval"), help: .hidden)
    var pollInterval: Double = 3

    @Option(help: "Seconds to wait with --wait.")
    var timeout: Double = 3600

    @Argument(parsing: .postTerminator, help: "The command to run instead of the image's.")
    var command: [String] = []

    func run() async throws {
        try await DayTwoRunner.run(TasksRun.self, globals: globals, streamed: wait, jsonSummary: true, exitCode: { out in
            out.exitCode.map { Int32(clamping: Swift.min(Swift.max($0, 0), 255)) }
        }) {
            var i = TasksRun.Input(size: size, command: command.isEmpty ? nil : command, wait: wait)
            i.pollSeconds = pollInterval
            i.timeoutSeconds = timeout
            return i
        }
    }
}
