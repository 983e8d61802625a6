import Foundation

/// What an expression reads.
public enum Reference: Sendable, Equatable, Hashable {
    case input(String)
    case stepOutput(step: String, path: [String])
    case stepOutcome(step: String)
    case run(String)  // run.failed, run.id, run.stack

    public var step: String? {
        switch self {
        case .stepOutput(let s, _), .stepOutcome(let s): return s
        default: return nil
        }
    }
}

public struct ExpressionError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// A value an expression cannot know yet (dry run): the step whose output it waits for.
public struct KnownAfter: Error, Sendable {
    public var step: String
}

/// `${{ inputs.dag }}`, `${{ steps.deploy.outputs.airflowUrl }}`, `${{ steps.s.outcome == 'failed' }}`,
/// `${{ !run.failed && inputs.wait }}`: paths, quoted strings, numbers, true/false/null, == != ! && || ( ).
public indirect enum Expression: Sendable, Equatable {
    case literal(JSONValue)
    case ref(Reference)
    case not(Expression)
    case equal(Expression, Expression, negated: Bool)
    case and(Expression, Expression)
    case or(Expression, Expression)

    public var references: [Reference] {
        switch self {
        case .literal: return []
        case .ref(let r): return [r]
        case .not(let e): return e.references
        case .equal(let a, let b, _), .and(let a, let b), .or(let a, let b): return a.references + b.references
        }
    }

    public static func parse(_ text: String) throws -> Expression {
        var p = Parser(tokens: try tokenize(text))
        let e = try p.or()
        if p.i < p.tokens.count { throw ExpressionError(message: "unexpected '\(p.tokens[p.i].text)' in expression '\(text)'") }
        return e
    }

    public func evaluate(_ scope: Scope) throws -> JSONValue {
        switch self {
        case .literal(let v): return v
        case .ref(let r): return try scope.resolve(r)
        case .not(let e): return .bool(!(try e.evaluate(scope).isTruthy))
        case .equal(let a, let b, let neg): return .bool(try a.evaluate(scope).looselyEquals(try b.evaluate(scope)) != neg)
        case .and(let a, let b):
            let l = try a.evaluate(scope)
            return l.isTruthy ? try b.evaluate(scope) : l
        case .or(let a, let b):
            let l = try a.evaluate(scope)
            return l.isTruthy ? l : try b.evaluate(scope)
        }
    }

    struct Token { var text: String; var isString = false }

    static func tokenize(_ s: String) throws -> [Token] {
        var out: [Token] = []
        let chars = Array(s)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            if c == "'" || c == "\"" {
                var j = i + 1, str = ""
                while j < chars.count, chars[j] != c { str.append(chars[j]); j += 1 }
                guard j < chars.count else { throw ExpressionError(message: "unterminated string in expression '\(s)'") }
                out.append(Token(text: str, isString: true)); i = j + 1; continue
            }
            let two = i + 1 < chars.count ? String(chars[i...i + 1]) : ""
            if ["==", "!=", "&&", "||"].contains(two) { out.append(Token(text: two)); i += 2; continue }
            if "!()".contains(c) { out.append(Token(text: String(c))); i += 1; continue }
            var j = i, word = ""
            while j < chars.count, chars[j].isLetter || chars[j].isNumber || "._-".contains(chars[j]) { word.append(chars[j]); j += 1 }
            guard !word.isEmpty else { throw ExpressionError(message: "unexpected '\(c)' in expression '\(s)'") }
            out.append(Token(text: word)); i = j
        }
        return out
    }

    struct Parser {
        var tokens: [Token]
        var i = 0
        mutating func peek(_ t: String) -> Bool { i < tokens.count && !tokens[i].isString && tokens[i].text == t }
        mutating func or() throws -> Expression {
            var l = try and()
            while peek("||") { i += 1; l = .or(l, try and()) }
            return l
        }
        mutating func and() throws -> Expression {
            var l = try unary()
            while peek("&&") { i += 1; l = .and(l, try unary()) }
            return l
        }
        mutating func unary() throws -> Expression {
            if peek("!") { i += 1; return .not(try unary()) }
            let l = try primary()
            if peek("==") || peek("!=") {
                let neg = tokens[i].text == "!="
                i += 1
                return .equal(l, try primary(), negated: neg)
            }
            return l
        }
        mutating func primary() throws -> Expression {
            guard i < tokens.count else { throw ExpressionError(message: "expression ends too early") }
            let t = tokens[i]; i += 1
            if t.isString { return .literal(.string(t.text)) }
            if t.text == "(" {
                let e = try or()
                guard peek(")") else { throw ExpressionError(message: "missing ')'") }
                i += 1
                return e
            }
            switch t.text {
            case "true": return .literal(.bool(true))
            case "false": return .literal(.bool(false))
            case "null": return .literal(.null)
            default: break
            }
            if let n = Int64(t.text) { return .literal(.int(n)) }
            if let d = Double(t.text) { return .literal(.double(d)) }
            return .ref(try Expression.reference(t.text))
        }
    }

    static func reference(_ path: String) throws -> Reference {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        switch parts.first {
        case "inputs" where parts.count == 2: return .input(parts[1])
        case "steps" where parts.count == 3 && parts[2] == "outcome": return .stepOutcome(step: parts[1])
        case "steps" where parts.count >= 3 && parts[2] == "outputs": return .stepOutput(step: parts[1], path: Array(parts.dropFirst(3)))
        case "run" where parts.count == 2 && ["failed", "id", "stack"].contains(parts[1]): return .run(parts[1])
        default:
            throw ExpressionError(message: "unknown reference '\(path)' (use inputs.NAME, steps.ID.outputs.PATH, steps.ID.outcome, run.failed, run.id or run.stack)")
        }
    }
}

/// What expressions can see while a run goes on.
public struct Scope: Sendable {
    public var inputs: [String: JSONValue] = [:]
    public var outcomes: [String: String] = [:]
    public var outputs: [String: JSONValue] = [:]
    public var runFailed = false
    public var runId = ""
    public var stack = ""
    /// Dry run: steps whose outputs are not known yet.
    public var pending: Set<String> = []

    public init() {}

    public func resolve(_ r: Reference) throws -> JSONValue {
        switch r {
        case .input(let n):
            guard let v = inputs[n] else { throw ExpressionError(message: "no input '\(n)'") }
            return v
        case .stepOutcome(let s):
            if pending.contains(s) { throw KnownAfter(step: s) }
            return .string(outcomes[s] ?? "pending")
        case .stepOutput(let s, let path):
            if pending.contains(s) { throw KnownAfter(step: s) }
            guard var v = outputs[s] else {
                throw ExpressionError(message: "step '\(s)' has no outputs (it \(outcomes[s] ?? "has not run"))")
            }
            for (k, key) in path.enumerated() {
                guard let next = v[key] else {
                    throw ExpressionError(message: "step '\(s)' output has no '\(path.prefix(k + 1).joined(separator: "."))'")
                }
                v = next
            }
            return v
        case .run(let f):
            switch f {
            case "failed": return .bool(runFailed)
            case "id": return .string(runId)
            default: return .string(stack)
            }
        }
    }
}

/// A string with `${{ … }}` holes.
public struct Template: Sendable {
    public enum Part: Sendable { case text(String), expr(Expression, String) }
    public var parts: [Part]

    public static func parse(_ s: String) throws -> Template {
        var parts: [Part] = []
        var rest = Substring(s)
        while let open = rest.range(of: "${{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw ExpressionError(message: "'${{' without its closing '}}'")
            }
            let body = String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces)
            parts.append(.expr(try Expression.parse(body), body))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        return Template(parts: parts)
    }

    public var references: [Reference] {
        parts.flatMap { if case .expr(let e, _) = $0 { return e.references } else { return [] } }
    }

    /// A lone `${{ x }}` keeps x's type (a number stays a number); otherwise the pieces are joined as text.
    public func evaluate(_ scope: Scope) throws -> JSONValue {
        if parts.count == 1, case .expr(let e, _) = parts[0] { return try e.evaluate(scope) }
        var out = ""
        for p in parts {
            switch p {
            case .text(let t): out += t
            case .expr(let e, _): out += try e.evaluate(scope).description
            }
        }
        return .string(out)
    }

    public var hasExpressions: Bool { parts.contains { if case .expr = $0 { return true } else { return false } } }
}

extension JSONValue {
    /// Substitutes every `${{ }}` in the strings of this value.
    public func substituting(_ scope: Scope) throws -> JSONValue {
        switch self {
        case .string(let s) where s.contains("${{"): return try Template.parse(s).evaluate(scope)
        case .array(let a): return .array(try a.map { try $0.substituting(scope) })
        case .object(let o): return .object(try o.mapValues { try $0.substituting(scope) })
        default: return self
        }
    }
}

/// `when:` accepts `${{ expr }}` or a bare expression.
public func whenExpression(_ s: String) throws -> Expression {
    let t = s.trimmingCharacters(in: .whitespaces)
    if t.hasPrefix("${{") && t.hasSuffix("}}") && t.components(separatedBy: "${{").count == 2 {
        return try Expression.parse(String(t.dropFirst(3).dropLast(2)))
    }
    return try Expression.parse(t)
}
