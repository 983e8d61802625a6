import Foundation

/// A JSON document as a value: what a step's output is, what `with:` becomes, what expressions read.
public enum JSONValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public static func parse(_ data: Data) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: data)
    }

    public func data() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try enc.encode(self)
    }

    /// Compact JSON text.
    public var json: String { (try? data()).map { String(decoding: $0, as: UTF8.self) } ?? "null" }

    /// How a value reads when put inside a string: strings bare, everything else as JSON.
    public var description: String {
        switch self {
        case .string(let s): return s
        case .null: return ""
        default: return json
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        if case .array(let a) = self, let i = Int(key), a.indices.contains(i) { return a[i] }
        return nil
    }

    /// Truthiness for `when:`: false, null, "", 0, "false" and empty collections are false.
    public var isTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !(s.isEmpty || s == "false" || s == "0")
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        }
    }

    /// Loose equality for `==` in expressions: 3 == "3", true == "true".
    public func looselyEquals(_ other: JSONValue) -> Bool {
        if self == other { return true }
        switch (self, other) {
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)): return Double(a) == b
        case (.string, .string): return false
        case (.string(let s), let v), (let v, .string(let s)):
            if case .array = v { return false }
            if case .object = v { return false }
            return s == v.description
        default: return false
        }
    }
}
