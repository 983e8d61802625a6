import FairflowCore
import Foundation

/// One line of `.fairflow/runs/<run-id>/journal.jsonl`.
public struct JournalEvent: Codable, Sendable {
    public var event: String            // run-started, step-started, step-succeeded, step-failed, step-skipped, run-finished, run-resumed
    public var time: Date
    public var runId: String
    public var step: String?
    public var uses: String?
    public var attempt: Int?
    public var inputs: JSONValue?
    public var outputs: JSONValue?
    public var outcome: String?
    public var error: String?
    public var exitStatus: Int32?
    public var requestIds: [AWSRequest]?
    public var idempotencySeed: String?
    public var durationSeconds: Double?
    public var identity: JSONValue?
    public var runbook: String?
    public var stack: String?
    /// Output paths that were redacted (a later resume re-runs the step if it needs them).
    public var redacted: [String]?

    public init(event: String, runId: String, step: String? = nil) {
        self.event = event
        self.time = Date()
        self.runId = runId
        self.step = step
    }
}

public struct AWSRequest: Codable, Sendable, Equatable {
    public var call: String
    public var requestId: String?
    public var status: Int?
    public var mutating: Bool
}

/// Appends events, each fsynced before the caller goes on to report the step's effect.
public final class Journal: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let lock = NSLock()

    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        fd = open(path, O_RDWR | O_APPEND | O_CREAT, 0o600)
        guard fd >= 0 else { throw FairflowError("cannot open the journal \(path)", why: String(cString: strerror(errno)), fix: "check the directory's permissions") }
        // A run killed mid-write leaves a torn last line: end it, so the next event starts on its own line.
        let size = lseek(fd, 0, SEEK_END)
        if size > 0 {
            var last: UInt8 = 0
            if pread(fd, &last, 1, size - 1) == 1, last != 0x0A { _ = write(fd, "\n", 1) }
        }
    }

    deinit { close(fd) }

    public func append(_ e: JournalEvent) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        enc.dateEncodingStrategy = .iso8601
        var data = try enc.encode(e)
        data.append(0x0A)
        try lock.withLock {
            let ok = data.withUnsafeBytes { buf -> Bool in
                var off = 0
                while off < buf.count {
                    let n = write(fd, buf.baseAddress! + off, buf.count - off)
                    if n < 0 { if errno == EINTR { continue }; return false }
                    off += n
                }
                return true
            }
            guard ok, fsync(fd) == 0 else {
                throw FairflowError("cannot write the journal \(path)", why: String(cString: strerror(errno)), fix: "free disk space and resume the run")
            }
        }
    }

    /// Every complete line; a torn last line (killed mid-write) is ignored.
    public static func read(_ path: String) throws -> [JournalEvent] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FairflowError("no journal at \(path)", why: "the run id is unknown here", fix: "run `fairflow runbook show` in the directory the run started in; runs live in .fairflow/runs")
        }
        let dec = JSONDecoder()
        dec.dateDecodingStrategy = .iso8601
        return data.split(separator: 0x0A).compactMap { try? dec.decode(JournalEvent.self, from: Data($0)) }
    }
}

/// Keeps secrets out of journals: keys that name secrets, and any value that came from one.
public struct Redactor: Sendable {
    public static let mark = "[redacted]"
    static let pattern = try! NSRegularExpression(pattern: "password|secret|token|key|credential", options: [.caseInsensitive])
    /// Values known to be secret (secret inputs, values under secret-named keys); any occurrence is masked.
    public private(set) var secrets: Set<String> = []

    public init() {}

    public static func isSecretKey(_ k: String) -> Bool {
        pattern.firstMatch(in: k, range: NSRange(k.startIndex..., in: k)) != nil
    }

    /// Fields that name a secret rather than hold it (`secrets: [{name, arn, action}]` stays readable).
    static let identifierKeys: Set<String> = ["name", "arn", "id", "action", "envkey", "envfile", "status", "type", "description"]
    static func isIdentifier(_ k: String) -> Bool { identifierKeys.contains(k.lowercased()) }

    /// Remembers the values under secret-named keys (and everything under them but identifiers).
    public mutating func learn(_ v: JSONValue, secret: Bool = false) {
        switch v {
        case .object(let o): for (k, x) in o where !Redactor.isIdentifier(k) { learn(x, secret: secret || Redactor.isSecretKey(k)) }
        case .array(let a): for x in a { learn(x, secret: secret) }
        case .string(let s) where secret && s.count >= 4: secrets.insert(s)
        case .int, .double: if secret, v.description.count >= 4 { secrets.insert(v.description) }
        default: break
        }
    }

    public mutating func learnSecret(_ s: String) { if s.count >= 4 { secrets.insert(s) } }

    /// A copy fit for the journal, and the dotted paths that were masked.
    public func redact(_ v: JSONValue, path: [String] = [], secret: Bool = false) -> (JSONValue, [String]) {
        switch v {
        case .object(let o):
            var out: [String: JSONValue] = [:], paths: [String] = []
            for (k, x) in o {
                let (r, p) = Redactor.isIdentifier(k) ? redactKnown(x, path: path + [k]) : redact(x, path: path + [k], secret: secret || Redactor.isSecretKey(k))
                out[k] = r; paths += p
            }
            return (.object(out), paths)
        case .array(let a):
            var out: [JSONValue] = [], paths: [String] = []
            for (i, x) in a.enumerated() { let (r, p) = redact(x, path: path + ["\(i)"], secret: secret); out.append(r); paths += p }
            return (.array(out), paths)
        case .null: return (v, [])
        default:
            if secret, !isHarmless(v), v != .string("") { return (.string(Redactor.mark), [path.joined(separator: ".")]) }
            return redactKnown(v, path: path)
        }
    }

    /// Masks only the values already known to be secret.
    func redactKnown(_ v: JSONValue, path: [String]) -> (JSONValue, [String]) {
        switch v {
        case .string(let s):
            let masked = mask(s)
            return (.string(masked), masked == s ? [] : [path.joined(separator: ".")])
        case .object, .array: return redact(v, path: path)
        default: return (v, [])
        }
    }

    /// Booleans and counts under a secret-named key (`rotateKey: true`, `keyCount: 2`) give nothing away.
    func isHarmless(_ v: JSONValue) -> Bool {
        switch v {
        case .bool: return true
        case .int(let i): return abs(i) < 1000
        case .string(let s): return s.hasPrefix("<known after ") && s.hasSuffix(">")  // a dry run's placeholder
        default: return false
        }
    }

    public func mask(_ s: String) -> String {
        var out = s
        for secret in secrets.sorted(by: { $0.count > $1.count }) where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: Redactor.mark)
        }
        return out
    }
}
