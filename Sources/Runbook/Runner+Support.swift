import AWSCore
import FairflowCore
import Foundation

extension RunbookRunner {
    // MARK: helpers

    func check(_ runbook: Runbook) throws {
        let diags = Validator.validate(runbook, operations: operations)
        if !diags.isEmpty { throw RunbookInvalid(diagnostics: diags) }
    }

    func references(of step: Step) -> [Reference] {
        var refs = (step.with?.strings() ?? []).flatMap { (try? Template.parse($0.0).references) ?? [] }
        if let w = step.when { refs += (try? whenExpression(w).references) ?? [] }
        return refs
    }

    func resolveInputs(_ runbook: Runbook, given: [String: String], stored: [String: JSONValue]?, redactor: inout Redactor) throws -> [String: JSONValue] {
        let declared = Set(runbook.inputs.map(\.name))
        for k in given.keys where !declared.contains(k) {
            throw FairflowError.usage("unknown input '\(k)'", why: "\(runbook.name) declares: \(declared.sorted().joined(separator: ", "))",
                                      fix: "pass --input NAME=VALUE with one of those names")
        }
        var out: [String: JSONValue] = [:]
        for input in runbook.inputs {
            if let s = given[input.name] {
                out[input.name] = typed(s, like: input.defaultValue)
            } else if let d = input.defaultValue {
                out[input.name] = d
            } else if input.required || input.secret {
                throw FairflowError.usage("input '\(input.name)' is needed", why: stored == nil ? "it has no default" : "it is secret, so the run did not keep it",
                                          fix: "pass --input \(input.name)=VALUE")
            } else {
                out[input.name] = .null
            }
            if input.secret || Redactor.isSecretKey(input.name), let v = out[input.name] { redactor.learnSecret(v.description) }
        }
        return out
    }

    /// `--input n=3` is a number when the default is a number; a string otherwise.
    func typed(_ s: String, like d: JSONValue?) -> JSONValue {
        switch d {
        case .int?: return Int64(s).map(JSONValue.int) ?? .string(s)
        case .double?: return Double(s).map(JSONValue.double) ?? .string(s)
        case .bool?: return ["true", "false"].contains(s.lowercased()) ? .bool(s.lowercased() == "true") : .string(s)
        default: return .string(s)
        }
    }

    /// Without --yes and without a terminal, a runbook with confirm steps stops before doing anything (exit 64).
    func preflightConfirm(_ runbook: Runbook) throws {
        let steps = runbook.steps.filter(\.confirm).map(\.id)
        guard !steps.isEmpty, !settings.yes, !(isatty(STDIN_FILENO) == 1 && terminal.stderrIsTTY) else { return }
        throw FairflowError.usage("confirmation needed", why: "step\(steps.count == 1 ? "" : "s") \(steps.joined(separator: ", ")) must be confirmed and there is no terminal to ask on",
                                  fix: "pass --yes to confirm")
    }

    func callerIdentity() async -> JSONValue? {
        guard let identity else { return nil }
        let ctx = makeContext(settings, terminal)
        ctx.readOnly = true
        return await identity(ctx)
    }

    /// whoami, through the same adapter as any step, with a short deadline.
    public static let whoami: @Sendable (Context) async -> JSONValue? = { ctx in
        do {
            let r = try await withTimeout(10, step: "whoami") { try await StepAdapter.run(Whoami.self, with: .object([:]), context: ctx) }
            guard case .object(let o) = r.output else { return r.output }
            return .object(o.filter { ["account", "arn", "userId", "region"].contains($0.key) })
        } catch {
            return .object(["error": .string(ErrorReport.message(for: error))])
        }
    }

    static func newRunId() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let rand = (0..<6).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! }
        return f.string(from: Date()) + "-" + String(rand)
    }

    func fairflowDir(_ o: RunOptions) -> String { (o.directory as NSString).appendingPathComponent(".fairflow") }
    func runDir(_ o: RunOptions, _ id: String) -> String { "\(fairflowDir(o))/runs/\(id)" }

    func writeJSON<T: Encodable>(_ v: T, to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        enc.dateEncodingStrategy = .iso8601
        try enc.encode(v).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
