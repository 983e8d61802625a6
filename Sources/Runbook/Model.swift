import FairflowCore
import Foundation
import Yams

/// A place in a runbook file (1-based, as editors count).
public struct Position: Sendable, Codable, Equatable, Comparable {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    init(_ mark: Mark?) { self.init(line: mark?.line ?? 0, column: mark?.column ?? 0) }
    public static func < (a: Position, b: Position) -> Bool { (a.line, a.column) < (b.line, b.column) }
}

/// One problem in a runbook file: `file:line:column: message`.
public struct Diagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var position: Position
    public var message: String
    public init(file: String, _ position: Position, _ message: String) {
        self.file = file; self.position = position; self.message = message
    }
    public var description: String { "\(file):\(position.line):\(position.column): \(message)" }
}

/// The runbook's invalid: all its problems at once.
public struct RunbookInvalid: Error, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public var description: String {
        "runbook is invalid: \(diagnostics.count) problem\(diagnostics.count == 1 ? "" : "s") — fix them and run `fairflow runbook validate` again\n"
            + diagnostics.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// A YAML value that remembers where it was written, so every error can point at it.
public indirect enum Tree: Sendable {
    case scalar(JSONValue, Position)
    case sequence([Tree], Position)
    case mapping([(key: String, keyPosition: Position, value: Tree)], Position)

    public var position: Position {
        switch self {
        case .scalar(_, let p), .sequence(_, let p), .mapping(_, let p): return p
        }
    }

    public var json: JSONValue {
        switch self {
        case .scalar(let v, _): return v
        case .sequence(let a, _): return .array(a.map(\.json))
        case .mapping(let m, _): return .object(Dictionary(m.map { ($0.key, $0.value.json) }, uniquingKeysWith: { _, b in b }))
        }
    }

    init(_ node: Node) {
        switch node {
        case .scalar(let s):
            let p = Position(s.mark)
            guard s.style == .plain else { self = .scalar(.string(s.string), p); return }
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: self = .scalar(.null, p)
            case .bool where ["true", "false"].contains(s.string.lowercased()): self = .scalar(.bool(s.string.lowercased() == "true"), p)
            case .int: self = node.int.map { .scalar(.int(Int64($0)), p) } ?? .scalar(.string(s.string), p)
            case .float: self = node.float.map { .scalar(.double($0), p) } ?? .scalar(.string(s.string), p)
            default: self = .scalar(.string(s.string), p)
            }
        case .sequence(let q): self = .sequence(q.map(Tree.init), Position(q.mark))
        case .mapping(let m):
            self = .mapping(m.map { (key: $0.key.string ?? "", keyPosition: Position($0.key.mark), value: Tree($0.value)) }, Position(m.mark))
        case .alias(let a): self = .scalar(.null, Position(a.mark))
        }
    }

    /// Every string in this value with its position (expressions live in strings).
    public func strings() -> [(String, Position)] {
        switch self {
        case .scalar(.string(let s), let p): return [(s, p)]
        case .scalar: return []
        case .sequence(let a, _): return a.flatMap { $0.strings() }
        case .mapping(let m, _): return m.flatMap { $0.value.strings() }
        }
    }

    func value(_ key: String) -> Tree? {
        if case .mapping(let m, _) = self { return m.first { $0.key == key }?.value }
        return nil
    }
}

public struct RunbookInput: Sendable {
    public var name: String
    public var description: String?
    public var defaultValue: JSONValue?
    public var required: Bool
    public var secret: Bool
    public var position: Position
}

public enum OnFailure: Sendable, Equatable, Codable {
    case stop, `continue`, goto(String)
}

public struct Step: Sendable {
    public var id: String
    public var uses: String
    public var with: Tree?
    public var when: String?
    public var retries = 0
    public var backoff: TimeInterval = 1
    public var timeout: TimeInterval?
    /// `timeout: ${{ inputs.run-timeout }}`: evaluated when the step starts.
    public var timeoutExpression: String?
    public var onFailure: OnFailure = .stop
    public var confirm = false
    /// Where each field was written (`id`, `uses`, `when`, `on-failure`, ...), and the step itself.
    public var positions: [String: Position] = [:]
    public var position: Position
}

/// A parsed runbook file.
public struct Runbook: Sendable {
    public var file: String
    public var source: String
    public var name: String
    public var description: String
    public var inputs: [RunbookInput]
    public var steps: [Step]

    public func step(_ id: String) -> Step? { steps.first { $0.id == id } }
    public func index(of id: String) -> Int? { steps.firstIndex { $0.id == id } }

    static let topKeys: Set<String> = ["name", "description", "inputs", "steps"]
    static let stepKeys: Set<String> = ["id", "uses", "with", "when", "retries", "backoff", "timeout", "on-failure", "confirm", "name"]
    static let inputKeys: Set<String> = ["description", "default", "required", "secret"]

    public static func load(_ path: String) throws -> Runbook {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FairflowError.usage("cannot read runbook \(path)", why: "no such file (and no shipped or local runbook by that name)",
                                      fix: "check the path, or see `fairflow runbook list`")
        }
        let (rb, diags) = parse(String(decoding: data, as: UTF8.self), file: path)
        if let rb, diags.isEmpty { return rb }
        throw RunbookInvalid(diagnostics: diags)
    }

    /// Parses the structure; reports every structural problem with its position.
    public static func parse(_ text: String, file: String) -> (Runbook?, [Diagnostic]) {
        var diags: [Diagnostic] = []
        func fail(_ p: Position, _ m: String) { diags.append(Diagnostic(file: file, p, m)) }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch let e as YamlError {
            if case .scanner(_, _, let mark, _) = e { fail(Position(line: mark.line, column: mark.column), "not valid YAML: \(e)") }
            else if case .parser(_, _, let mark, _) = e { fail(Position(line: mark.line, column: mark.column), "not valid YAML: \(e)") }
            else { fail(Position(line: 1, column: 1), "not valid YAML: \(e)") }
            return (nil, diags)
        } catch {
            fail(Position(line: 1, column: 1), "not valid YAML: \(error)")
            return (nil, diags)
        }
        guard let node, case .mapping(let top, let topPos) = Tree(node) else {
            fail(Position(line: 1, column: 1), "a runbook is a mapping with name, description, inputs and steps")
            return (nil, diags)
        }
        for k in top where !topKeys.contains(k.key) {
            fail(k.keyPosition, "unknown field '\(k.key)' (a runbook has: \(topKeys.sorted().joined(separator: ", ")))")
        }
        let root = Tree.mapping(top, topPos)
        func string(_ t: Tree?, _ what: String) -> String? {
            guard let t else { return nil }
            if case .scalar(let v, _) = t, case .string(let s) = v { return s }
            if case .scalar(let v, _) = t, v != .null { return v.description }
            fail(t.position, "\(what) must be a string")
            return nil
        }
        let name = string(root.value("name"), "name") ?? (file as NSString).lastPathComponent.replacingOccurrences(of: ".yaml", with: "")
        let description = string(root.value("description"), "description") ?? ""

        var inputs: [RunbookInput] = []
        if let t = root.value("inputs") {
            if case .mapping(let m, _) = t {
                for entry in m {
                    var input = RunbookInput(name: entry.key, description: nil, defaultValue: nil, required: false, secret: false, position: entry.keyPosition)
                    if case .mapping(let fields, _) = entry.value {
                        for f in fields where !inputKeys.contains(f.key) {
                            fail(f.keyPosition, "unknown field '\(f.key)' in input '\(entry.key)' (an input has: \(inputKeys.sorted().joined(separator: ", ")))")
                        }
                        input.description = string(entry.value.value("description"), "description")
                        input.defaultValue = entry.value.value("default")?.json
                        input.required = entry.value.value("required")?.json == .bool(true)
                        input.secret = entry.value.value("secret")?.json == .bool(true)
                    } else {
                        input.defaultValue = entry.value.json  // `name: value` is the short form of a default
                    }
                    if input.defaultValue == .null { input.defaultValue = nil }
                    inputs.append(input)
                }
            } else { fail(t.position, "inputs must be a mapping of input name to its default or its fields") }
        }

        var steps: [Step] = []
        guard case .sequence(let items, _)? = root.value("steps") else {
            fail(root.value("steps")?.position ?? topPos, "a runbook needs `steps:`, a list of steps")
            return (nil, diags)
        }
        var seen: [String: Position] = [:]
        for item in items {
            guard case .mapping(let fields, let pos) = item else { fail(item.position, "a step is a mapping with id and uses"); continue }
            var step = Step(id: "", uses: "", position: pos)
            for f in fields {
                step.positions[f.key] = f.value.position
                if !stepKeys.contains(f.key) {
                    fail(f.keyPosition, "unknown field '\(f.key)' in a step (a step has: \(stepKeys.sorted().joined(separator: ", ")))")
                }
            }
            step.id = string(item.value("id"), "id") ?? ""
            step.uses = string(item.value("uses"), "uses") ?? ""
            if step.id.isEmpty { fail(pos, "a step needs an `id`") }
            else if step.id.range(of: "^[A-Za-z_][A-Za-z0-9_-]*$", options: .regularExpression) == nil {
                fail(step.positions["id"] ?? pos, "step id '\(step.id)' must be letters, digits, _ and -, starting with a letter")
            } else if let first = seen[step.id] {
                fail(step.positions["id"] ?? pos, "duplicate step id '\(step.id)' (first at line \(first.line))")
            } else { seen[step.id] = step.positions["id"] ?? pos }
            if step.uses.isEmpty { fail(pos, "step '\(step.id)' needs `uses:` (an operation id like dags.trigger)") }
            if let w = item.value("with") {
                if case .mapping = w { step.with = w } else if w.json != .null { fail(w.position, "`with:` must be a mapping of field to value") }
            }
            if let w = item.value("when") {
                if case .scalar(let v, _) = w { step.when = v.description } else { fail(w.position, "`when:` must be an expression") }
            }
            if let r = item.value("retries") {
                if case .scalar(.int(let n), _) = r, n >= 0 { step.retries = Int(n) } else { fail(r.position, "`retries:` must be a whole number ≥ 0") }
            }
            for key in ["backoff", "timeout"] {
                guard let t = item.value(key) else { continue }
                if key == "timeout", case .scalar(.string(let e), _) = t, e.contains("${{") { step.timeoutExpression = e; continue }
                guard case .scalar(let v, _) = t, let d = Duration.parse(v) else {
                    fail(t.position, "`\(key):` must be a duration like 30s, 5m, 1h or a number of seconds"); continue
                }
                if key == "backoff" { step.backoff = d } else { step.timeout = d }
            }
            if let o = item.value("on-failure") {
                switch string(o, "on-failure") {
                case "stop"?: step.onFailure = .stop
                case "continue"?: step.onFailure = .continue
                case let s? where !s.isEmpty: step.onFailure = .goto(s)
                default: fail(o.position, "`on-failure:` is stop, continue or a step id")
                }
            }
            if let c = item.value("confirm") {
                if case .scalar(.bool(let b), _) = c { step.confirm = b } else { fail(c.position, "`confirm:` is true or false") }
            }
            steps.append(step)
        }
        if items.isEmpty { fail(root.value("steps")!.position, "a runbook needs at least one step") }
        return (Runbook(file: file, source: text, name: name, description: description, inputs: inputs, steps: steps), diags)
    }
}

public enum Duration {
    /// `30s`, `5m`, `1h`, `250ms`, `1h30m` or a bare number of seconds.
    public static func parse(_ v: JSONValue) -> TimeInterval? {
        switch v {
        case .int(let i): return i >= 0 ? TimeInterval(i) : nil
        case .double(let d): return d >= 0 ? d : nil
        case .string(let s): return parse(s)
        default: return nil
        }
    }

    public static func parse(_ s: String) -> TimeInterval? {
        let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(s.trimmingCharacters(in: .whitespaces))
        if let d = Double(rest), d >= 0 { return d }
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let num = rest.prefix { $0.isNumber || $0 == "." }
            guard let n = Double(num) else { return nil }
            rest = rest.dropFirst(num.count)
            guard let (u, f) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            total += n * f
            rest = rest.dropFirst(u.count)
        }
        return total
    }

    public static func format(_ t: TimeInterval) -> String {
        t < 1 ? "\(Int(t * 1000))ms" : t < 60 ? String(format: "%.1fs", t) : "\(Int(t) / 60)m\(Int(t) % 60)s"
    }
}
