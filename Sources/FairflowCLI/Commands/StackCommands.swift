import ArgumentParser
import FairflowCore

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deploy", abstract: Deploy.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var modeOptions: ModeOptions
    @Flag(name: .customLong("no-wait"), help: "Start the change set and return without following it.")
    var noWait = false

    func run() async throws {
        var input = Deploy.Input()
        input.mode = modeOptions.mode
        input.noWait = noWait
        try await CommandRunner.run(Deploy.self, input, globals: globals)
    }
}

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: Diff.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var modeOptions: ModeOptions
    @Flag(name: .customLong("exit-code"), help: "Exit 2 when there are changes, 0 when none (Terraform's convention).")
    var exitCode = false

    func run() async throws {
        var input = Diff.Input()
        input.mode = modeOptions.mode
        input.exitCode = exitCode
        try await CommandRunner.run(Diff.self, input, globals: globals)
    }
}

struct TeardownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "teardown", abstract: Teardown.summary)
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .customLong("keep-logs"), help: "Keep the log groups and the task-logs bucket.")
    var keepLogs = false
    @Flag(name: .customLong("delete-secrets"), help: "Schedule the airflow-* secrets for deletion (7-day recovery window).")
    var deleteSecrets = false
    @Flag(name: .customLong("keep-snapshot"), help: "Keep the database's final snapshot.")
    var keepSnapshot = false
    @Flag(name: .customLong("retain-failed"), help: "After DELETE_FAILED, delete the stack again keeping the resources that failed.")
    var retainFailed = false

    func run() async throws {
        var input = Teardown.Input()
        input.keepLogs = keepLogs
        input.deleteSecrets = deleteSecrets
        input.keepSnapshot = keepSnapshot
        input.retainFailed = retainFailed
        try await CommandRunner.run(Teardown.self, input, globals: globals)
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: Status.summary)
    @OptionGroup var globals: GlobalOptions

    func run() async throws {
        try await CommandRunner.run(Status.self, .init(), globals: globals)
    }
}
