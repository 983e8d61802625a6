import Foundation
import HTTPTransport

/// How often and how patiently to retry an answer that says "not now" (502/503/504, dropped connections).
public struct AirflowRetryPolicy: Sendable, Equatable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double

    public init(maxAttempts: Int = 6, baseDelay: Double = 0.5, maxDelay: Double = 8) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Seconds to wait before attempt `n + 1` (n counted from 1): exponential, capped.
    public func delay(after attempt: Int) -> Double {
        min(maxDelay, baseDelay * pow(2, Double(attempt - 1)))
    }

    public static let standard = AirflowRetryPolicy()
}

/// Who we are, and where the password came from (named in errors, never the value).
public struct AirflowCredentials: Sendable {
    public var user: String
    public var password: String
    /// e.g. "the airflow-admin-password secret" or "FAIRFLOW_AIRFLOW_PASSWORD".
    public var passwordSource: String

    public init(user: String, password: String, passwordSource: String = "the password given") {
        self.user = user
        self.password = password
        self.passwordSource = passwordSource
    }
}

/// Builds URLs under the base, sends with retries, and turns wire errors into `AirflowError`.
struct RESTCore: Sendable {
    let base: String
    let http: HTTPClient
    let retry: AirflowRetryPolicy

    init(baseURL: URL, http: HTTPClient, retry: AirflowRetryPolicy) {
        var b = baseURL.absoluteString
        while b.hasSuffix("/") { b.removeLast() }
        self.base = b
        self.http = http
        self.retry = retry
    }

    /// Percent-encodes one path segment: run ids hold ':' and '+'.
    static func segment(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    static func query(_ items: [(String, String)]) -> String {
        guard !items.isEmpty else { return "" }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return "?" + items.map { k, v in
            "\(k)=\(v.addingPercentEncoding(withAllowedCharacters: allowed) ?? v)"
        }.joined(separator: "&")
    }

    func url(_ path: String, _ query: [(String, String)] = []) throws -> URL {
        guard let u = URL(string: base + path + Self.query(query)) else {
            throw AirflowError.notAirflow(url: base, detail: "cannot build a URL from '\(base + path)'")
        }
        return u
    }

    /// Sends, retrying 502/503/504 and transient transport failures with exponential backoff.
    func send(_ request: HTTPRequest, action: String) async throws -> HTTPResponse {
        var last = ""
        for attempt in 1...retry.maxAttempts {
            do {
                let r = try await http.send(request)
                if [502, 503, 504].contains(r.status) {
                    last = "HTTP \(r.status)"
                } else {
                    return r
                }
            } catch let e as TransportError {
                guard e.isTransient else { throw AirflowError.transport(action: action, error: e.description) }
                last = e.kind.rawValue
            }
            if attempt < retry.maxAttempts {
                try await Task.sleep(nanoseconds: UInt64(retry.delay(after: attempt) * 1_000_000_000))
            }
        }
        throw AirflowError.unavailable(url: base, reason: last, attempts: retry.maxAttempts)
    }

    static func jsonBody(_ value: [String: JSONValue]) -> Data {
        (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ r: HTTPResponse, action: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: r.body) } catch {
            let snippet = String(r.text.prefix(200))
            throw AirflowError.badResponse(action: action, detail: "\(error) in: \(snippet)")
        }
    }

    /// Airflow's own words from an error body: v1 problem+json {title, detail}, v2 {detail: string|list|object}.
    static func detail(of r: HTTPResponse) -> String {
        guard let j = try? JSONDecoder().decode(JSONValue.self, from: r.body) else {
            let t = r.text.trimmingCharacters(in: .whitespacesAndNewlines)
            return t.isEmpty || t.hasPrefix("<") ? "no details" : String(t.prefix(300))
        }
        switch j["detail"] {
        case .string(let s)?: return s
        case .array(let a)?:
            return a.map { e in
                let loc: String
                if case .array(let parts)? = e["loc"] { loc = parts.map { $0.stringValue ?? $0.description }.joined(separator: ".") } else { loc = "" }
                return [loc, e["msg"]?.stringValue ?? e.description].filter { !$0.isEmpty }.joined(separator: ": ")
            }.joined(separator: "; ")
        case .object(let o)?:
            return o["message"]?.stringValue ?? o["reason"]?.stringValue ?? JSONValue.object(o).description
        default:
            return j["title"]?.stringValue ?? String(r.text.prefix(300))
        }
    }
}

/// What a 404 means depends on what we asked about.
enum Subject: Sendable {
    case none
    case dag(String)
    case run(String, String)
    case task(String, String, String)
}

/// The wire shapes both versions share (fields missing in one are optional).
struct WireDag: Decodable {
    let dag_id: String
    let is_paused: Bool?
    let owners: [String]?
    let tags: [WireTag]?
    let schedule_interval: JSONValue?
    let timetable_summary: String?
    let timetable_description: String?
    let has_import_errors: Bool?
    let fileloc: String?

    struct WireTag: Decodable { let name: String }

    var model: AirflowDag {
        var schedule: String?
        if let s = timetable_summary { schedule = s }
        else if let v = schedule_interval?["value"]?.stringValue { schedule = v }
        else if let s = schedule_interval?.stringValue { schedule = s }
        else if case .object? = schedule_interval { schedule = timetable_description }
        if schedule == "None" { schedule = nil }
        return AirflowDag(dagId: dag_id, isPaused: is_paused ?? false, owners: owners ?? [],
                          tags: (tags ?? []).map(\.name), schedule: schedule,
                          hasImportErrors: has_import_errors ?? false, fileloc: fileloc)
    }
}

struct WireDagList: Decodable {
    let dags: [WireDag]
    let total_entries: Int?
}

struct WireImportErrors: Decodable {
    struct E: Decodable {
        let import_error_id: Int
        let filename: String?
        let stack_trace: String?
        let timestamp: String?
    }
    let import_errors: [E]
    let total_entries: Int?
}

struct WireRun: Decodable {
    let dag_id: String
    let dag_run_id: String
    let state: String?
    let conf: JSONValue?
    let logical_date: String?
    let run_after: String?
    let start_date: String?
    let end_date: String?
    let run_type: String?

    var model: DagRun {
        DagRun(dagId: dag_id, runId: dag_run_id, state: state ?? "queued", conf: conf,
               logicalDate: logical_date ?? run_after, startDate: start_date, endDate: end_date, runType: run_type)
    }
}

struct WireRuns: Decodable { let dag_runs: [WireRun] }

struct WireTaskInstance: Decodable {
    let task_id: String
    let state: String?
    let try_number: Int?
    let map_index: Int?
    let start_date: String?
    let end_date: String?
    let duration: Double?
    let `operator`: String?

    var model: TaskInstance {
        TaskInstance(taskId: task_id, state: state, tryNumber: try_number ?? 0, mapIndex: map_index ?? -1,
                     startDate: start_date, endDate: end_date, duration: duration, operatorName: `operator`)
    }
}

struct WireTaskInstances: Decodable { let task_instances: [WireTaskInstance] }

struct WireCleared: Decodable {
    struct T: Decodable { let task_id: String }
    let task_instances: [T]
}

struct WireVersion: Decodable { let version: String }
