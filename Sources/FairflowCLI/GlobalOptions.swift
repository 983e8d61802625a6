import ArgumentParser
import FairflowCore
import Foundation

extension OutputFormat: ExpressibleByArgument {}

/// The flags every command shares.
public struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("env"), help: ArgumentHelp("The env file (the seed's envs/<region>.env format).", valueName: "file"))
    var envFile: String?

    @Option(help: "The CloudFormation stack name.")
    var stack: String = "FairflowStack"

    @Option(help: "AWS region (else AWS_REGION, AWS_DEFAULT_REGION, the profile's region).")
    var region: String?

    @Option(help: "Named profile from ~/.aws/config or ~/.aws/credentials (else AWS_PROFILE).")
    var profile: String?

    @Option(name: .customLong("endpoint-url"), help: ArgumentHelp("Send AWS calls here (else AWS_ENDPOINT_URL[_<SERVICE>]).", valueName: "url"))
    var endpointURL: String?

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Flag(name: .customLong("no-color"), help: "No colour (also NO_COLOR).")
    var noColor = false

    @Flag(name: [.short, .long], help: "Answer yes to confirmations (needed without a TTY).")
    var yes = false

    @Flag(name: .shortAndLong, help: "Log each AWS call to stderr.")
    var verbose = false

    public init() {}

    public var settings: GlobalSettings {
        var s = GlobalSettings()
        s.envFile = envFile
        s.stack = stack
        s.region = region
        s.profile = profile
        s.endpointURL = endpointURL ?? ProcessInfo.processInfo.environment["FAIRFLOW_ENDPOINT_URL"]
        s.output = output
        s.noColor = noColor
        s.yes = yes
        s.verbose = verbose
        return s
    }

    public func makeContext() -> Context {
        let s = settings
        return Context(settings: s, terminal: .system(noColor: s.noColor, environment: s.environment))
    }
}

/// Runs an operation for a command: build the context, run, render, map errors to exit codes.
public enum CommandRunner {
    public static func run<Op: FairflowOperation>(_ op: Op.Type, _ input: Op.Input, globals: GlobalOptions,
                                                   configure: (Context) -> Void = { _ in }) async throws {
        let context = globals.makeContext()
        configure(context)
        let status: ExitStatus
        do {
            let output = try await Runtime.run(op, input, context: context)
            try Runtime.render(output, context: context)
            status = output.exitStatus
        } catch {
            status = report(error, context: context)
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    /// Prints the error once, on stderr, and returns its exit status.
    @discardableResult
    public static func report(_ error: Error, context: Context) -> ExitStatus {
        let status = ErrorReport.status(for: error)
        let endpoint = context.endpointOverride?.absoluteString
        let msg = ErrorReport.message(for: error, endpoint: endpoint)
        if context.settings.output == .json && status != .interrupted {
            struct E: Encodable { let error: String; let exitCode: Int32 }
            context.terminal.note((try? JSON.encode(E(error: msg, exitCode: status.rawValue), pretty: false)) ?? msg)
        } else {
            context.terminal.note("\(context.terminal.stderrIsTTY && context.terminal.color ? "\u{1B}[31merror\u{1B}[0m" : "error"): \(msg)")
        }
        return status
    }
}
