import Foundation

/// The seed's `envs/<region>.env`: `KEY=VALUE` lines, blank values, `#` comments (also after a value).
/// Every line is kept, so a rewrite changes only the keys it sets.
public struct EnvFile: Sendable, Equatable {
    public enum Line: Sendable, Equatable {
        case raw(String)  // blank or comment
        case pair(key: String, value: String, comment: String?)
    }

    public var path: String?
    public var lines: [Line]

    public init(path: String? = nil, lines: [Line] = []) {
        self.path = path
        self.lines = lines
    }

    public var values: [String: String] {
        var out: [String: String] = [:]
        for case .pair(let k, let v, _) in lines { out[k] = v }
        return out
    }

    public subscript(key: String) -> String? {
        let v = values[key]
        return (v?.isEmpty ?? true) ? nil : v
    }

    public static func load(_ path: String) throws -> EnvFile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw EnvFileError(path: path, line: nil, reason: "file not found — create it, or run `fairflow secrets init --env \(path)`")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EnvFileError(path: path, line: nil, reason: "cannot be read — check its permissions")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw EnvFileError(path: path, line: nil, reason: "is not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String? = nil) throws -> EnvFile {
        var lines: [Line] = []
        var seen: [String: Int] = [:]
        var rows = text.components(separatedBy: "\n")
        if rows.last == "" { rows.removeLast() }
        for (i, rawLine) in rows.enumerated() {
            let n = i + 1
            let raw = rawLine.hasSuffix("\r") ? String(rawLine.dropLast()) : rawLine
            let trimmed = raw.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { lines.append(.raw(raw)); continue }
            var body = Substring(trimmed)
            if body.hasPrefix("export ") { body = body.dropFirst(7) }
            guard let eq = body.firstIndex(of: "=") else {
                throw EnvFileError(path: path, line: n, reason: "expected KEY=VALUE, found `\(trimmed.prefix(40))`")
            }
            let key = body[..<eq].trimmingCharacters(in: .whitespaces)
            guard isValidKey(key) else {
                throw EnvFileError(path: path, line: n, reason: "`\(key)` is not a valid name (letters, digits and _, not starting with a digit)")
            }
            if let first = seen[key] {
                throw EnvFileError(path: path, line: n, reason: "\(key) is set twice (first on line \(first)) — keep one")
            }
            seen[key] = n
            var rest = body[body.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            var value: String
            var comment: String?
            let quoted = rest.first == "\"" || rest.first == "'"
            if let q = rest.first, quoted {
                rest.removeFirst()
                guard let close = rest.firstIndex(of: q) else {
                    throw EnvFileError(path: path, line: n, reason: "the value of \(key) opens a \(q) quote that is never closed")
                }
                value = String(rest[..<close])
                let after = rest[rest.index(after: close)...].trimmingCharacters(in: .whitespaces)
                if !after.isEmpty {
                    guard after.hasPrefix("#") else {
                        throw EnvFileError(path: path, line: n, reason: "unexpected text after the quoted value of \(key)")
                    }
                    comment = after
                }
            } else if let hash = rest.range(of: "#"), rest[..<hash.lowerBound].isEmpty || rest[rest.index(before: hash.lowerBound)] == " " || rest[rest.index(before: hash.lowerBound)] == "\t" {
                value = rest[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
                comment = String(rest[hash.lowerBound...])
            } else {
                value = rest
            }
            if value.contains(" ") && !quoted {
                // The seed's users load the file with `export $(xargs < file)`: a bare space breaks that.
                throw EnvFileError(path: path, line: n, reason: "the value of \(key) contains a space — quote it or remove the space")
            }
            lines.append(.pair(key: key, value: value, comment: comment))
        }
        return EnvFile(path: path, lines: lines)
    }

    static func isValidKey(_ k: String) -> Bool {
        guard let f = k.unicodeScalars.first, f == "_" || (f.isASCII && CharacterSet.letters.contains(f)) else { return false }
        return k.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }

    /// Sets or adds a key, keeping every other line (and this line's comment) as it was.
    public mutating func set(_ key: String, _ value: String) {
        for (i, line) in lines.enumerated() {
            if case .pair(let k, _, let c) = line, k == key {
                lines[i] = .pair(key: k, value: value, comment: c)
                return
            }
        }
        lines.append(.pair(key: key, value: value, comment: nil))
    }

    public func render() -> String {
        lines.map { line -> String in
            switch line {
            case .raw(let s): return s
            case .pair(let k, let v, let c): return c.map { "\(k)=\(v) \($0)" } ?? "\(k)=\(v)"
            }
        }.joined(separator: "\n") + "\n"
    }

    /// Writes atomically: a temp file beside it, fsynced, then renamed over the original.
    public func write(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let data = Data(render().utf8)
        guard FileManager.default.createFile(atPath: tmp.path, contents: data, attributes: [.posixPermissions: 0o644]) else {
            throw EnvFileError(path: path, line: nil, reason: "cannot write beside it (\(tmp.path))")
        }
        if let h = FileHandle(forWritingAtPath: tmp.path) { try? h.synchronize(); try? h.close() }
        if rename(tmp.path, path) != 0 {
            let why = String(cString: strerror(errno))
            unlink(tmp.path)
            throw EnvFileError(path: path, line: nil, reason: "cannot replace it: \(why)")
        }
    }
}

public struct EnvFileError: Error, CustomStringConvertible, Sendable {
    public let path: String?
    public let line: Int?
    public let reason: String
    public var description: String {
        let where_ = [path, line.map { "line \($0)" }].compactMap { $0 }.joined(separator: ":")
        return "env file \(where_.isEmpty ? "" : where_ + " ")is malformed: \(reason)"
    }
}

/// The env keys fairflow reads, with the seed's names.
public enum EnvKey {
    public static let fernetKeySecretArn = "AIRFLOW_FERNET_KEY_SECRET_ARN"
    public static let adminPasswordSecretArn = "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN"
    public static let flowerCredentialsSecretArn = "AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN"
    public static let gitReadOnlySecretArn = "GIT_READ_ONLY_SECRET_ARN"
    public static let dagRepository = "DAG_REPOSITORY"
    public static let ipWhitelist = "IP_WHITELIST"
    public static let secretArnKeys = [fernetKeySecretArn, adminPasswordSecretArn, flowerCredentialsSecretArn, gitReadOnlySecretArn]
}
