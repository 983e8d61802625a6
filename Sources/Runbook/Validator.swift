import FairflowCore
import Foundation

/// Checks a runbook against the operations: unknown step, unknown field, bad reference, cycle.
public enum Validator {
    public static func validate(_ runbook: Runbook, operations: [String: any FairflowOperation.Type] = OperationRegistry.all) -> [Diagnostic] {
        var diags: [Diagnostic] = []
        let file = runbook.file
        func fail(_ p: Position, _ m: String) { diags.append(Diagnostic(file: file, p, m)) }
        let inputNames = Set(runbook.inputs.map(\.name))
        var edges: [String: [(String, Position)]] = [:]

        for (index, step) in runbook.steps.enumerated() {
            let op = operations[step.uses]
            if op == nil && !step.uses.isEmpty {
                let hint = closest(step.uses, Array(operations.keys)).map { "; did you mean '\($0)'?" } ?? ""
                fail(step.positions["uses"] ?? step.position,
                     "unknown step '\(step.uses)' in step '\(step.id)': no such operation in this fairflow\(hint) (see `fairflow runbook list --operations`)")
            }
            // References in `with:` and `when:`.
            var strings = step.with?.strings() ?? []
            if let w = step.when, let p = step.positions["when"] { strings.append((w.contains("${{") ? w : "${{ \(w) }}", p)) }
            if let t = step.timeoutExpression, let p = step.positions["timeout"] { strings.append((t, p)) }
            for (s, pos) in strings where s.contains("${{") {
                let template: Template
                do { template = try Template.parse(s) } catch { fail(pos, "bad expression: \(error)"); continue }
                for r in template.references {
                    switch r {
                    case .input(let n) where !inputNames.contains(n):
                        fail(pos, "bad reference 'inputs.\(n)': the runbook declares no input '\(n)'\(closest(n, Array(inputNames)).map { " (did you mean '\($0)'?)" } ?? "")")
                    case .stepOutput(let s, _), .stepOutcome(let s):
                        guard let j = runbook.index(of: s) else {
                            fail(pos, "bad reference 'steps.\(s)': no step with id '\(s)'\(closest(s, runbook.steps.map(\.id)).map { " (did you mean '\($0)'?)" } ?? "")")
                            continue
                        }
                        edges[step.id, default: []].append((s, pos))
                        if j == index { fail(pos, "bad reference 'steps.\(s)': a step cannot read its own outputs") }
                        else if j > index { fail(pos, "bad reference 'steps.\(s)': step '\(s)' runs after '\(step.id)', so its outputs are not known yet") }
                    default: break
                    }
                }
            }
            if case .goto(let target) = step.onFailure {
                let pos = step.positions["on-failure"] ?? step.position
                if let j = runbook.index(of: target) {
                    edges[target, default: []].append((step.id, pos))  // the jump's target runs after this step
                    if j <= index { fail(pos, "on-failure '\(target)' must name a step after '\(step.id)' (a jump back would loop)") }
                } else {
                    fail(pos, "on-failure '\(target)': no step with id '\(target)' (use stop, continue or a later step's id)")
                }
            }
            // Fields of `with:` against the operation's Input.
            if let op {
                let with = placeholders(step.with?.json ?? .object([:]))
                let (unknown, problems) = StepAdapter.checkFields(op, with: with)
                for path in unknown {
                    fail(position(of: path, in: step.with) ?? step.positions["with"] ?? step.position,
                         "unknown field '\(path.joined(separator: "."))' in `with:` of step '\(step.id)' (\(step.uses) takes: \(fieldList(op)))")
                }
                for problem in problems where unknown.isEmpty || !isKeyNotFound(problem) {
                    let at: Position
                    if case .typeMismatch(_, let c) = problem { at = position(of: c.codingPath.map(\.stringValue), in: step.with, value: true) ?? step.position }
                    else { at = step.positions["with"] ?? step.positions["uses"] ?? step.position }
                    fail(at, "step '\(step.id)': \(StepAdapter.describe(problem))")
                }
            }
        }
        // Cycles among references and failure jumps.
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var stack: [String] = []
        func visit(_ id: String) {
            state[id] = 1; stack.append(id)
            for (next, pos) in edges[id] ?? [] {
                if state[next] == 1 {
                    let cycle = stack.drop { $0 != next } + [next]
                    fail(pos, "cycle: \(cycle.joined(separator: " → "))")
                } else if state[next] == nil { visit(next) }
            }
            stack.removeLast(); state[id] = 2
        }
        for s in runbook.steps where state[s.id] == nil { visit(s.id) }
        return diags.sorted { $0.position < $1.position }
    }

    static func isKeyNotFound(_ e: DecodingError) -> Bool { if case .keyNotFound = e { return true } else { return false } }

    /// Every string holding an expression becomes "any value" for the field check.
    static func placeholders(_ v: JSONValue) -> JSONValue {
        switch v {
        case .string(let s) where s.contains("${{"): return .string(FieldDecoder.unknownMarker)
        case .array(let a): return .array(a.map(placeholders))
        case .object(let o): return .object(o.mapValues(placeholders))
        default: return v
        }
    }

    static func position(of path: [String], in tree: Tree?, value: Bool = false) -> Position? {
        guard var t = tree, !path.isEmpty else { return nil }
        var pos: Position?
        for key in path {
            switch t {
            case .mapping(let m, _):
                guard let e = m.first(where: { normalizedKey($0.key) == normalizedKey(key) }) else { return pos }
                pos = value ? e.value.position : e.keyPosition
                t = e.value
            case .sequence(let a, _):
                guard let i = Int(key), a.indices.contains(i) else { return pos }
                t = a[i]; pos = t.position
            default: return pos
            }
        }
        return pos
    }

    /// The Input's top-level fields as a user would write them (kebab-case, like the flags).
    static func fieldList(_ op: any FairflowOperation.Type) -> String {
        func learn<Op: FairflowOperation>(_ o: Op.Type) -> Set<String> { FieldDecoder.fields(of: Op.Input.self) }
        let fields = learn(op).filter { !$0.contains(".") }.map(kebab).sorted()
        return fields.isEmpty ? "no fields" : fields.joined(separator: ", ")
    }

    static func kebab(_ s: String) -> String {
        var out = ""
        for c in s {
            if c == "_" { out.append("-") } else if c.isUppercase { out += "-" + c.lowercased() } else { out.append(c) }
        }
        return out
    }

    static func closest(_ s: String, _ candidates: [String]) -> String? {
        let best = candidates.map { ($0, distance($0, s)) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= max(2, s.count / 3) else { return nil }
        return best.0
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where j <= b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
}
