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
