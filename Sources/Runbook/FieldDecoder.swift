import Foundation

/// Decodes `with:` into an operation's `Input` to learn which fields it reads: keys nobody asked for are
/// unknown fields. Values not known yet (expressions) decode as any type; everything else is checked.
final class FieldDecoder {
    static let unknownMarker = "\u{1}unknown\u{1}"
    var requested: Set<String> = []  // dotted paths
    /// Problems met on the way; decoding goes on past them so every field is seen.
    var problems: [DecodingError] = []

    func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: Impl(value: value, path: [], owner: self))
    }

    /// Keys written in `value` that decoding never asked for, as dotted paths.
    func unknownKeys(in value: JSONValue, prefix: [String] = []) -> [[String]] {
        guard case .object(let o) = value else { return [] }
        var out: [[String]] = []
        for (k, v) in o {
            let p = prefix + [k]
            if !requested.contains(p.joined(separator: ".")) { out.append(p) } else { out += unknownKeys(in: v, prefix: p) }
        }
        return out
    }

    static func firstCase<C: CaseIterable>(_ c: C.Type) -> Any? { c.allCases.first }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init(intValue: Int) { self.stringValue = "\(intValue)"; self.intValue = intValue }
    }

    struct Impl: Decoder {
        let value: JSONValue?
        let path: [String]
        let owner: FieldDecoder
        var codingPath: [CodingKey] { path.map { Key(stringValue: $0) } }
        var userInfo: [CodingUserInfoKey: Any] { [:] }
        var isUnknown: Bool {
            if case .string(let s)? = value { return s.hasPrefix(FieldDecoder.unknownMarker) }
            return false
        }
        /// What a not-yet-known string shows in a plan: "<known after deploy>".
        var unknownText: String {
            guard case .string(let s)? = value else { return "" }
            let step = s.dropFirst(FieldDecoder.unknownMarker.count)
            return step.isEmpty ? "" : "<known after \(step)>"
        }

        func container<K: CodingKey>(keyedBy: K.Type) throws -> KeyedDecodingContainer<K> {
            if !isUnknown, case .object = value {} else if !isUnknown {
                throw DecodingError.typeMismatch([String: Any].self, .init(codingPath: codingPath, debugDescription: "expected a mapping"))
            }
            return KeyedDecodingContainer(Keyed<K>(d: self))
        }
        func unkeyedContainer() throws -> UnkeyedDecodingContainer {
            if isUnknown { return Unkeyed(d: self, items: []) }
            guard case .array(let a) = value else {
                throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "expected a list"))
            }
            return Unkeyed(d: self, items: a)
        }
        func singleValueContainer() throws -> SingleValueDecodingContainer { Single(d: self) }

        func child(_ key: String, _ v: JSONValue?) -> Impl { Impl(value: v, path: path + [key], owner: owner) }

        /// Any value; an enum that cannot decode (not known yet, or a wrong word) counts as its first case so the
        /// fields after it are still seen, and the wrong word is still reported.
        func value<T: Decodable>(_ type: T.Type, viaSingle: Bool = false) throws -> T {
            switch type {
            case is String.Type, is Bool.Type, is Double.Type, is Float.Type, is any FixedWidthInteger.Type: return try primitive(type)
            default: break
            }
            let fallback = (type as? any CaseIterable.Type).flatMap { FieldDecoder.firstCase($0) as? T }
            if isUnknown, let f = fallback { return f }
            if viaSingle { return try T(from: self) }
            do { return try T(from: self) } catch let e as DecodingError {
                guard let f = fallback else { throw e }
                owner.problems.append(e)
                return f
            }
        }

        func primitive<T>(_ type: T.Type) throws -> T {
            do { return try strictPrimitive(type) } catch let e as DecodingError {
                owner.problems.append(e)
                return try Impl(value: .string(FieldDecoder.unknownMarker), path: path, owner: owner).strictPrimitive(type)
            }
        }

        func strictPrimitive<T>(_ type: T.Type) throws -> T {
            if isUnknown {
                switch type {
                case is String.Type: return unknownText as! T
                case is Bool.Type: return false as! T
                case is Double.Type: return 0.0 as! T
                case is Float.Type: return Float(0) as! T
                default: break
                }
                if let i = type as? any FixedWidthInteger.Type { return i.init(0) as! T }
            }
            let mismatch = DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(Impl.name(type)), got \(value.map(Impl.kind) ?? "nothing")"))
            switch (value, type) {
            case (.string(let s)?, is String.Type): return s as! T
            case (.bool(let b)?, is Bool.Type): return b as! T
            case (.int(let i)?, is Double.Type): return Double(i) as! T
            case (.double(let d)?, is Double.Type): return d as! T
            case (.int(let i)?, is Float.Type): return Float(i) as! T
            case (.double(let d)?, is Float.Type): return Float(d) as! T
            case (.int(let i)?, _):
                if let t = type as? any FixedWidthInteger.Type, let v = t.init(exactly: i) { return v as! T }
                throw mismatch
            default: throw mismatch
            }
        }

        static func name(_ t: Any.Type) -> String {
            switch t {
            case is String.Type: return "a string"
            case is Bool.Type: return "true or false"
            case is any FixedWidthInteger.Type: return "a whole number"
            default: return "a number"
            }
        }
        static func kind(_ v: JSONValue) -> String {
            switch v {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int, .double: return "a number"
            case .string: return "a string"
            case .array: return "a list"
            case .object: return "a mapping"
            }
        }
    }

    struct Keyed<K: CodingKey>: KeyedDecodingContainerProtocol {
        let d: Impl
        var codingPath: [CodingKey] { d.codingPath }
        var allKeys: [K] {
            guard case .object(let o)? = d.value else { return [] }
            return o.keys.compactMap { K(stringValue: $0) }
        }
        func raw(_ key: K) -> JSONValue? {
            d.owner.requested.insert((d.path + [key.stringValue]).joined(separator: "."))
            if d.isUnknown { return d.value }
            return d.value?[key.stringValue]
        }
        func contains(_ key: K) -> Bool { raw(key) != nil }
        func decodeNil(forKey key: K) throws -> Bool {
            let v = raw(key)
            return v == nil || v == .null
        }
        func decode<T: Decodable>(_ type: T.Type, forKey key: K) throws -> T {
            var v = raw(key)
            if v == nil {
                d.owner.problems.append(DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing")))
                v = .string(FieldDecoder.unknownMarker)
            }
            let c = d.child(key.stringValue, v)
            return try c.value(type)
        }
        func nestedContainer<NK: CodingKey>(keyedBy t: NK.Type, forKey key: K) throws -> KeyedDecodingContainer<NK> {
            try d.child(key.stringValue, raw(key)).container(keyedBy: t)
        }
        func nestedUnkeyedContainer(forKey key: K) throws -> UnkeyedDecodingContainer {
            try d.child(key.stringValue, raw(key)).unkeyedContainer()
        }
        func superDecoder() throws -> Decoder { d }
        func superDecoder(forKey key: K) throws -> Decoder { d.child(key.stringValue, raw(key)) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let d: Impl
        let items: [JSONValue]
        var currentIndex = 0
        var codingPath: [CodingKey] { d.codingPath }
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }
        mutating func next() throws -> Impl {
            guard !isAtEnd else { throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "list too short")) }
            defer { currentIndex += 1 }
            return d.child("\(currentIndex)", items[currentIndex])
        }
        mutating func decodeNil() throws -> Bool {
            if !isAtEnd && items[currentIndex] == .null { currentIndex += 1; return true }
            return false
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            return try next().value(type)
        }
        mutating func nestedContainer<NK: CodingKey>(keyedBy t: NK.Type) throws -> KeyedDecodingContainer<NK> { try next().container(keyedBy: t) }
        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> Decoder { try next() }
    }

    struct Single: SingleValueDecodingContainer {
        let d: Impl
        var codingPath: [CodingKey] { d.codingPath }
        func decodeNil() -> Bool { d.value == nil || d.value == .null }
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            switch type {
            case is String.Type, is Bool.Type, is Double.Type, is Float.Type, is any FixedWidthInteger.Type: return try d.primitive(type)
            default: return try d.value(type, viaSingle: true)
            }
        }
    }
}

/// `flower-user`, `flowerUser` and `flower_user` in `with:` all name the field the `--flower-user` flag sets,
/// whatever spelling the operation's `Input` uses on the wire.
func normalizedKey(_ k: String) -> String { k.lowercased().filter { $0 != "-" && $0 != "_" } }

/// Renames the keys of `with:` to the Input's own spelling; keys it does not know stay as written.
func canonicalKeys(_ v: JSONValue, known: Set<String>, prefix: [String] = []) -> JSONValue {
    switch v {
    case .object(let o):
        var out: [String: JSONValue] = [:]
        for (k, x) in o {
            let match = known.first { path in
                let parts = path.split(separator: ".").map(String.init)
                return parts.count == prefix.count + 1 && Array(parts.dropLast()) == prefix && normalizedKey(parts.last!) == normalizedKey(k)
            }
            let key = match.map { String($0.split(separator: ".").last!) } ?? k
            out[key] = canonicalKeys(x, known: known, prefix: prefix + [key])
        }
        return .object(out)
    case .array(let a): return .array(a.map { canonicalKeys($0, known: known, prefix: prefix) })
    default: return v
    }
}

extension FieldDecoder {
    /// The dotted field paths an Input reads, learned by decoding a value that is all "unknown".
    static func fields<T: Decodable>(of type: T.Type) -> Set<String> {
        let d = FieldDecoder()
        _ = try? d.decode(type, from: .string(unknownMarker))
        // An empty mapping too: an Input that reads a nested group or, failing that, the same fields flat
        // (`mode` or its fields at the top) shows both ways.
        let flat = FieldDecoder()
        _ = try? flat.decode(type, from: .object([:]))
        return d.requested.union(flat.requested)
    }
}
