import ArgumentParser
import FairflowCore
import FairflowTemplate

extension TemplateOptions.Format: ExpressibleByArgument {}

/// `fairflow generate`: the whole stack as one CloudFormation template, written locally (no AWS calls).
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: Generate.summary,
        discussion: """
        Reads the secret ARNs, DAG_REPOSITORY, GIT_READ_ONLY_SECRET_ARN and IP_WHITELIST from --env
        (else from the process environment). Defaults as the seed's: not HA, no autoscaling, bastion on.
        The same inputs give byte-identical output.
        """)

    @OptionGroup var globals: GlobalOptions
    @OptionGroup var modeOptions: ModeOptions

    @Option(help: "Template format: json or yaml.")
    var format: TemplateOptions.Format = .json

    @Option(name: [.short, .customLong("out")], help: ArgumentHelp("Write the template to this file (else stdout).", valueName: "file"))
    var outputFile: String?

    func run() async throws {
        var input = Generate.Input()
        input.mode = modeOptions.mode
        input.format = format.rawValue
        input.outputFile = outputFile
        try await CommandRunner.run(Generate.self, input, globals: globals)
    }
}
