import FairflowCore
import Foundation

/// The one way a step calls its operation: `with:` (already substituted) → `Op.Input` via JSON,
/// `Runtime.run` (the path the CLI takes), the output encoded exactly as `--output json` prints it.
public enum StepAdapter {
    public struct Result: Sendable {
        public var output: JSONValue
        public var exitStatus: ExitStatus
        /// What the command prints in text mode.
        public var text: String
    }

    public static func run(_ op: any FairflowOperation.Type, with: JSONValue, context: Context) async throws -> Result {
        try await runTyped(op, with: with, context: context)
    }

    static func runTyped<Op: FairflowOperation>(_ op: Op.Type, with: JSONValue, context: Context) async throws -> Result {
        let input = try decodeInput(op, with)
        let output = try await Runtime.run(op, input, context: context)
        let text = try JSON.encode(output)
        return Result(output: try JSONValue.parse(Data(text.utf8)), exitStatus: output.exitStatus, text: output.renderText(context.terminal))
    }

    static func decodeInput<Op: FairflowOperation>(_ op: Op.Type, _ with: JSONValue) throws -> Op.Input {
        let body = withDefaults(op, canonicalKeys(with == .null ? .object([:]) : with, known: FieldDecoder.fields(of: Op.Input.self)))
        do {
            return try JSONDecoder().decode(Op.Input.self, from: try body.data())
        } catch let e as DecodingError {
            throw FairflowError.usage("step input for \(Op.id) is wrong", why: describe(e), fix: "fix the step's `with:` (see `fairflow \(Op.id.replacingOccurrences(of: ".", with: " ")) --help`)")
        }
    }

    /// The plan, with values not known yet (`FieldDecoder.unknownMarker` + step) shown as "<known after step>".
    public static func plan(_ op: any FairflowOperation.Type, with: JSONValue, context: Context) async throws -> [PlannedAction] {
        try await planTyped(op, with: with, context: context)
    }

    static func planTyped<Op: FairflowOperation>(_ op: Op.Type, with: JSONValue, context: Context) async throws -> [PlannedAction] {
        let input: Op.Input
        let d = FieldDecoder()
        do {
            input = try d.decode(Op.Input.self, from: withDefaults(op, canonicalKeys(with == .null ? .object([:]) : with, known: FieldDecoder.fields(of: Op.Input.self))))
            if let e = d.problems.first { throw e }
        } catch let e as DecodingError {
            throw FairflowError.usage("step input for \(Op.id) is wrong", why: describe(e), fix: "fix the step's `with:`")
        }
        return try await Op.plan(input, context: context)
    }

    /// Unknown keys (as written) and the first decoding problem, with every expression taken as "any value".
    public static func checkFields(_ op: any FairflowOperation.Type, with: JSONValue) -> (unknown: [[String]], problems: [DecodingError]) {
        checkTyped(op, with: with)
    }

    static func checkTyped<Op: FairflowOperation>(_ op: Op.Type, with: JSONValue) -> (unknown: [[String]], problems: [DecodingError]) {
        let d = FieldDecoder()
        let body = canonicalKeys(with == .null ? .object([:]) : with, known: FieldDecoder.fields(of: Op.Input.self))
        var problem: DecodingError?
        do { _ = try d.decode(Op.Input.self, from: withDefaults(op, body)) } catch let e as DecodingError { problem = e } catch {}
        return (d.unknownKeys(in: body), d.problems.isEmpty ? problem.map { [$0] } ?? [] : d.problems)
    }

    /// The step's fields over the defaults of the command's flags (an operation with `DefaultedInputs`).
    static func withDefaults<Op: FairflowOperation>(_ op: Op.Type, _ body: JSONValue) -> JSONValue {
        guard let d = op as? DefaultedInputs.Type, let defaults = try? JSONValue.parse(Data(d.inputDefaults.utf8)) else { return body }
        return merge(defaults, body)
    }

    static func merge(_ base: JSONValue, _ over: JSONValue) -> JSONValue {
        guard case .object(let b) = base, case .object(let o) = over else { return over }
        var out = b
        for (k, v) in o { out[k] = out[k].map { merge($0, v) } ?? v }
        return .object(out)
    }

    public static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String { c.map { Validator.kebab($0.stringValue) }.joined(separator: ".") }
        switch e {
        case .keyNotFound(let k, let c):
            return "missing field '\(path(c.codingPath + [k]))' — set it in `with:` (the operation's Input has no default for it)"
        case .typeMismatch(_, let c): return "field '\(path(c.codingPath))': \(c.debugDescription)"
        case .valueNotFound(_, let c): return "field '\(path(c.codingPath))' has no value"
        case .dataCorrupted(let c): return "field '\(path(c.codingPath))': \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
