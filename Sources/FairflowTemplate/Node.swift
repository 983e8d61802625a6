import Foundation

/// An ordered JSON-like value: the template is built as data in a fixed order, so the same
/// inputs always print the same bytes (a Swift Dictionary would not).
public indirect enum Node: Equatable, Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case array([Node])
    case object([(String, Node)])

    public static func == (lhs: Node, rhs: Node) -> Bool {
        switch (lhs, rhs) {
        case let (.string(a), .string(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.bool(a), .bool(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value under `key` when this is an object.
    public subscript(key: String) -> Node? {
        if case let .object(pairs) = self { return pairs.first { $0.0 == key }?.1 }
        return nil
    }

    public var stringValue: String? { if case let .string(s) = self { return s }; return nil }
    public var intValue: Int? { if case let .int(i) = self { return i }; return nil }
    public var boolValue: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var arrayValue: [Node]? { if case let .array(a) = self { return a }; return nil }
    public var objectValue: [(String, Node)]? { if case let .object(o) = self { return o }; return nil }
}

extension Node: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: Node...) { self = .array(elements) }
    // Dictionary literals arrive in source order, which is the order we print.
    public init(dictionaryLiteral elements: (String, Node)...) { self = .object(elements) }
}

// MARK: - CloudFormation intrinsics

enum CFN {
    static func ref(_ id: String) -> Node { ["Ref": .string(id)] }
    static func getAtt(_ id: String, _ attribute: String) -> Node { ["Fn::GetAtt": [.string(id), .string(attribute)]] }
    static func sub(_ s: String) -> Node { ["Fn::Sub": .string(s)] }
    static func join(_ sep: String, _ parts: [Node]) -> Node { ["Fn::Join": [.string(sep), .array(parts)]] }
    static func az(_ index: Int) -> Node { ["Fn::Select": [.int(index), ["Fn::GetAZs": ""]]] }
}

// MARK: - Rendering

enum Render {
    static func json(_ node: Node) -> String {
        var out = ""
        writeJSON(node, indent: 0, into: &out)
        out += "\n"
        return out
    }

    static func quoted(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\r": r += "\\r"
            case "\t": r += "\\t"
            default:
                if u.value < 0x20 { r += String(format: "\\u%04x", u.value) } else { r.unicodeScalars.append(u) }
            }
        }
        return r + "\""
    }

    private static func writeJSON(_ node: Node, indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent + 1)
        let close = String(repeating: "  ", count: indent)
        switch node {
        case let .string(s): out += quoted(s)
        case let .int(i): out += String(i)
        case let .bool(b): out += b ? "true" : "false"
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                writeJSON(item, indent: indent + 1, into: &out)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += close + "]"
        case let .object(pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{\n"
            for (i, (k, v)) in pairs.enumerated() {
                out += pad + quoted(k) + ": "
                writeJSON(v, indent: indent + 1, into: &out)
                out += i == pairs.count - 1 ? "\n" : ",\n"
            }
            out += close + "}"
        }
    }

    /// Block-style YAML. Every string is double-quoted (JSON escapes are valid YAML), so no value
    /// can be re-read as a number, a boolean or a tag.
    static func yaml(_ node: Node) -> String {
        var lines: [String] = []
        writeYAML(node, indent: 0, into: &lines)
        return lines.joined(separator: "\n") + "\n"
    }

    private static func key(_ k: String) -> String {
        let plain = !k.isEmpty && k.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII }
        return plain ? k : quoted(k)
    }

    private static func scalar(_ node: Node) -> String? {
        switch node {
        case let .string(s): return quoted(s)
        case let .int(i): return String(i)
        case let .bool(b): return b ? "true" : "false"
        case let .array(a) where a.isEmpty: return "[]"
        case let .object(o) where o.isEmpty: return "{}"
        default: return nil
        }
    }

    private static func writeYAML(_ node: Node, indent: Int, into lines: inout [String]) {
        let pad = String(repeating: "  ", count: indent)
        switch node {
        case let .object(pairs) where !pairs.isEmpty:
            for (k, v) in pairs {
                if let s = scalar(v) {
                    lines.append(pad + key(k) + ": " + s)
                } else {
                    lines.append(pad + key(k) + ":")
                    writeYAML(v, indent: indent + 1, into: &lines)
                }
            }
        case let .array(items) where !items.isEmpty:
            for item in items {
                if let s = scalar(item) {
                    lines.append(pad + "- " + s)
                } else {
                    // Nested block under "- ": render at indent+1 and put the dash on the first line.
                    var inner: [String] = []
                    writeYAML(item, indent: indent + 1, into: &inner)
                    let innerPad = String(repeating: "  ", count: indent + 1)
                    for (i, line) in inner.enumerated() {
                        if i == 0 { lines.append(pad + "- " + line.dropFirst(innerPad.count)) } else { lines.append(line) }
                    }
                }
            }
        default:
            lines.append(pad + (scalar(node) ?? ""))
        }
    }
}
