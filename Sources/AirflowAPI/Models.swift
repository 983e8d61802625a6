import Foundation

/// Any JSON value: a run's `conf` and the parts of Airflow's answers whose shape varies.
public enum JSONValue: Codable, Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if n.rounded() == n && abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Parses JSON text (a `--conf` argument or a file's content).
    public static func parse(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }

    /// Compact JSON with sorted keys.
    public var description: String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: enc.encode(self), as: UTF8.self)) ?? "null"
    }
}

/// A DAG as both API versions describe it.
public struct AirflowDag: Codable, Equatable, Sendable {
    public var dagId: String
    public var isPaused: Bool
    public var owners: [String]
    public var tags: [String]
    /// Cron expression, preset or timetable summary; nil when the DAG has no schedule.
    public var schedule: String?
    public var hasImportErrors: Bool
    public var fileloc: String?

    public init(dagId: String, isPaused: Bool, owners: [String] = [], tags: [String] = [], schedule: String? = nil,
                hasImportErrors: Bool = false, fileloc: String? = nil) {
        self.dagId = dagId
        self.isPaused = isPaused
        self.owners = owners
        self.tags = tags
        self.schedule = schedule
        self.hasImportErrors = hasImportErrors
        self.fileloc = fileloc
    }
}

/// A DAG file the processor could not import.
public struct AirflowImportError: Codable, Equatable, Sendable {
    public var id: Int
    public var filename: String
    public var stackTrace: String
    public var timestamp: String?

    public init(id: Int, filename: String, stackTrace: String, timestamp: String?) {
        self.id = id
        self.filename = filename
        self.stackTrace = stackTrace
        self.timestamp = timestamp
    }

    /// The last non-empty line of the trace: the exception itself.
    public var message: String {
        stackTrace.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? stackTrace
    }
}

public struct DagRun: Codable, Equatable, Sendable {
    public var dagId: String
    public var runId: String
    /// queued, running, success, failed.
    public var state: String
    public var conf: JSONValue?
    public var logicalDate: String?
    public var startDate: String?
    public var endDate: String?
    public var runType: String?

    public init(dagId: String, runId: String, state: String, conf: JSONValue? = nil, logicalDate: String? = nil,
                startDate: String? = nil, endDate: String? = nil, runType: String? = nil) {
        self.dagId = dagId
        self.runId = runId
        self.state = state
        self.conf = conf
        self.logicalDate = logicalDate
        self.startDate = startDate
        self.endDate = endDate
        self.runType = runType
    }

    public var isFinished: Bool { state == "success" || state == "failed" }
}

public struct TaskInstance: Codable, Equatable, Sendable {
    public var taskId: String
    /// nil until the scheduler looks at it; then scheduled, queued, running, success, failed, upstream_failed, ...
    public var state: String?
    public var tryNumber: Int
    public var mapIndex: Int
    public var startDate: String?
    public var endDate: String?
    public var duration: Double?
    public var operatorName: String?

    public init(taskId: String, state: String?, tryNumber: Int = 0, mapIndex: Int = -1, startDate: String? = nil,
                endDate: String? = nil, duration: Double? = nil, operatorName: String? = nil) {
        self.taskId = taskId
        self.state = state
        self.tryNumber = tryNumber
        self.mapIndex = mapIndex
        self.startDate = startDate
        self.endDate = endDate
        self.duration = duration
        self.operatorName = operatorName
    }

    /// The task's name with its map index when it is one of a mapped task's copies.
    public var displayName: String { mapIndex >= 0 ? "\(taskId)[\(mapIndex)]" : taskId }
}

/// Filters for `listDags`; nil means "any".
public struct DagFilter: Sendable, Equatable {
    public var owner: String?
    public var tag: String?
    public var paused: Bool?

    public init(owner: String? = nil, tag: String? = nil, paused: Bool? = nil) {
        self.owner = owner
        self.tag = tag
        self.paused = paused
    }
}

public enum AirflowAPIVersion: String, Sendable, Codable {
    /// Airflow 2: /api/v1 with basic auth.
    case v1
    /// Airflow 3: /api/v2 with a bearer token from POST /auth/token.
    case v2
}
