import Foundation

/// One thing a user's command would do, as a plan line (dry run) before it is done.
public struct PlannedAction: Codable, Sendable, Equatable {
    public var call: String      // "STS GetCallerIdentity"
    public var mutating: Bool
    public var detail: String?

    public init(_ call: String, mutating: Bool = false, detail: String? = nil) {
        self.call = call
        self.mutating = mutating
        self.detail = detail
    }
}

/// What `--output json` prints and what later runbook steps read; text is for people.
public protocol OperationOutput: Encodable, Sendable {
    func renderText(_ terminal: Terminal) -> String
    /// Exit status of a successful run that still has something to report (3 for failed checks).
    var exitStatus: ExitStatus { get }
}

public extension OperationOutput {
    var exitStatus: ExitStatus { .ok }
}

/// A command, its operation and its runbook step are one thing: the CLI fills `Input` from flags,
/// a runbook from `with:`; both call `run` through `Runtime`.
public protocol FairflowOperation {
    associatedtype Input: Codable & Sendable
    associatedtype Output: OperationOutput
    /// The dotted id (`dags.trigger` is `fairflow dags trigger`).
    static var id: String { get }
    static var summary: String { get }
    static func plan(_ input: Input, context: Context) async throws -> [PlannedAction]
    static func run(_ input: Input, context: Context) async throws -> Output
}

/// All operations, for the runbook registry and the test that walks it against the command tree.
public enum OperationRegistry {
    nonisolated(unsafe) public private(set) static var all: [String: any FairflowOperation.Type] = [:]

    public static func register(_ ops: [any FairflowOperation.Type]) {
        for op in ops { all[op.id] = op }
    }
}

public enum Runtime {
    /// Runs an operation and returns its output (rendering is the caller's job).
    public static func run<Op: FairflowOperation>(_ op: Op.Type, _ input: Op.Input, context: Context) async throws -> Op.Output {
        try await Op.run(input, context: context)
    }

    /// Renders an output as the user asked: JSON document or text.
    public static func render<O: OperationOutput>(_ output: O, context: Context) throws {
        switch context.settings.output {
        case .json: context.terminal.print(try JSON.encode(output))
        case .text:
            let t = output.renderText(context.terminal)
            if !t.isEmpty { context.terminal.write(t.hasSuffix("\n") ? t : t + "\n") }
        }
    }
}

public enum JSON {
    public static func encode<T: Encodable>(_ v: T, pretty: Bool = true) throws -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        enc.dateEncodingStrategy = .iso8601
        return String(decoding: try enc.encode(v), as: UTF8.self)
    }
}

/// An operation whose flags have defaults: a runbook step's `with:` may leave them out and gets the
/// same default the command's flag has (a JSON object over the Input's field names).
public protocol DefaultedInputs {
    static var inputDefaults: String { get }
}
