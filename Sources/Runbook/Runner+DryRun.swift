import AWSCore
import FairflowCore
import Foundation

extension RunbookRunner {
    // MARK: dry run

    public struct PlannedStep: Codable, Sendable {
        public var id: String
        public var uses: String
        public var when: String?
        public var with: JSONValue?
        public var knownAfter: [String]
        public var confirm: Bool
        public var actions: [PlannedAction]
        public var error: String?
    }

    /// Each step's plan with a read-only context: the AWS clients refuse every mutating call.
    public func dryRun(_ runbook: Runbook, options: RunOptions) async throws -> [PlannedStep] {
        try check(runbook)
        var redactor = Redactor()
        let inputs = try resolveInputs(runbook, given: options.inputs, stored: nil, redactor: &redactor)
        var scope = Scope()
        scope.inputs = inputs
        scope.stack = settings.stack
        scope.runId = "dry-run"
        scope.pending = Set(runbook.steps.map(\.id))
        var out: [PlannedStep] = []
        for step in runbook.steps {
            var after: Set<String> = []
            var when: String?
            if let w = step.when {
                do { when = try whenExpression(w).evaluate(scope).isTruthy ? "true" : "false (skipped)" } catch let k as KnownAfter {
                    after.insert(k.step); when = "known after \(k.step)"
                } catch { when = "error: \(error)" }
            }
            let with = partialSubstitute(step.with?.json ?? .object([:]), scope, &after)
            var ps = PlannedStep(id: step.id, uses: step.uses, when: when, with: redactor.redact(displayed(step.with?.json ?? .object([:]), scope)).0,
                                 knownAfter: after.sorted(),
                                 confirm: step.confirm, actions: [])
            let context = makeContext(settings, terminal)
            context.readOnly = true
            do { ps.actions = try await StepAdapter.plan(operations[step.uses]!, with: with, context: context) } catch {
                ps.error = redactor.mask(ErrorReport.message(for: error))
            }
            out.append(ps)
        }
        return out
    }

    func partialSubstitute(_ v: JSONValue, _ scope: Scope, _ after: inout Set<String>) -> JSONValue {
        switch v {
        case .string(let s) where s.contains("${{"):
            do { return try Template.parse(s).evaluate(scope) } catch let k as KnownAfter {
                after.insert(k.step); return .string(FieldDecoder.unknownMarker + k.step)
            } catch { return .string(s) }
        case .array(let a): return .array(a.map { partialSubstitute($0, scope, &after) })
        case .object(let o): return .object(o.mapValues { partialSubstitute($0, scope, &after) })
        default: return v
        }
    }

    /// `with:` as a person reads it in a dry run: what is known filled in, the rest "<known after step>".
    func displayed(_ v: JSONValue, _ scope: Scope) -> JSONValue {
        switch v {
        case .string(let s) where s.contains("${{"):
            guard let t = try? Template.parse(s) else { return v }
            var pieces: [JSONValue] = []
            for part in t.parts {
                switch part {
                case .text(let x): pieces.append(.string(x))
                case .expr(let e, _):
                    do { pieces.append(try e.evaluate(scope)) } catch let k as KnownAfter { pieces.append(.string("<known after \(k.step)>")) } catch {
                        pieces.append(.string("<\(error)>"))
                    }
                }
            }
            return pieces.count == 1 ? pieces[0] : .string(pieces.map(\.description).joined())
        case .array(let a): return .array(a.map { displayed($0, scope) })
        case .object(let o): return .object(o.mapValues { displayed($0, scope) })
        default: return v
        }
    }
}
