import Foundation
import HTTPTransport

/// A Celery worker as Flower sees it.
public struct FlowerWorker: Sendable, Equatable, Codable {
    public var name: String
    public var online: Bool
    public var activeTasks: Int
    public var processed: Int?
    public var queues: [String]
}

public struct FlowerTask: Sendable, Equatable, Codable {
    public var id: String
    public var name: String?
    /// PENDING, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED.
    public var state: String
    public var worker: String?
    public var received: Double?
    public var runtime: Double?
}

public struct FlowerQueue: Sendable, Equatable, Codable {
    public var name: String
    public var messages: Int
}

/// Celery Flower's HTTP API with basic auth.
public struct FlowerClient: Sendable {
    let core: RESTCore
    let credentials: AirflowCredentials

    public init(baseURL: URL, user: String, password: String, passwordSource: String = "the password given",
                http: HTTPClient, retry: AirflowRetryPolicy = .standard) {
        self.core = RESTCore(baseURL: baseURL, http: http, retry: retry)
        self.credentials = AirflowCredentials(user: user, password: password, passwordSource: passwordSource)
    }

    func get(_ path: String, _ query: [(String, String)] = [], action: String) async throws -> HTTPResponse {
        var req = HTTPRequest(method: "GET", url: try core.url(path, query))
        req.setHeader("Accept", "application/json")
        req.setHeader("Authorization", "Basic " + Data("\(credentials.user):\(credentials.password)".utf8).base64EncodedString())
        let r = try await core.send(req, action: action)
        switch r.status {
        case 200..<300: return r
        // Flower's API answers a wrong password with a bare 401, without WWW-Authenticate.
        case 401, 403:
            throw AirflowError.authFailed(url: core.base, user: credentials.user, passwordSource: credentials.passwordSource,
                                          detail: "HTTP \(r.status) from Flower")
        case 404:
            throw AirflowError.notAirflow(url: core.base, detail: "\(path) answered 404: is this Flower?")
        default:
            throw AirflowError.rejected(action: action, status: r.status, detail: RESTCore.detail(of: r))
        }
    }

    /// Workers Flower knows, with whether each answers now and how many tasks it is running.
    public func workers() async throws -> [FlowerWorker] {
        let action = "list Celery workers"
        // refresh=1: without it Flower may answer from an inspection older than the workers.
        let info = try RESTCore.decode([String: JSONValue].self, try await get("/api/workers", [("refresh", "1")], action: action),
                                       action: action)
        let status = (try? RESTCore.decode([String: Bool].self, try await get("/api/workers", [("status", "1")], action: action),
                                           action: action)) ?? [:]
        // Flower 2.2's worker info has no `active` list; its task events know what each worker is running.
        let running = try await tasks(state: "STARTED", limit: 1000)
        return info.keys.sorted().map { name in
            let w = info[name] ?? .null
            var active = running.filter { $0.worker == name }.count
            if case .array(let a)? = w["active"] { active = max(active, a.count) }
            var processed: Int?
            if case .object(let total)? = w["stats"]?["total"] {
                processed = total.values.reduce(0) { acc, v in if case .number(let n) = v { return acc + Int(n) }; return acc }
            }
            var queues: [String] = []
            if case .array(let qs)? = w["active_queues"] { queues = qs.compactMap { $0["name"]?.stringValue } }
            return FlowerWorker(name: name, online: status[name] ?? !info.isEmpty, activeTasks: active,
                                processed: processed, queues: queues)
        }
    }

    /// Tasks Flower has seen (newest first), optionally only one state.
    public func tasks(state: String? = nil, limit: Int = 100) async throws -> [FlowerTask] {
        let action = "list Celery tasks"
        var q: [(String, String)] = [("limit", "\(limit)"), ("sort_by", "-received")]
        if let s = state { q.append(("state", s.uppercased())) }
        let all = try RESTCore.decode([String: JSONValue].self, try await get("/api/tasks", q, action: action), action: action)
        return all.map { id, t in
            var received: Double?, runtime: Double?
            if case .number(let n)? = t["received"] { received = n }
            if case .number(let n)? = t["runtime"] { runtime = n }
            return FlowerTask(id: id, name: t["name"]?.stringValue, state: t["state"]?.stringValue ?? "?",
                              worker: t["worker"]?.stringValue, received: received, runtime: runtime)
        }.sorted { ($0.received ?? 0) > ($1.received ?? 0) }
    }

    /// Messages waiting in each queue the workers consume (the broker's queue depth).
    public func queues() async throws -> [FlowerQueue] {
        let action = "read Celery queue lengths"
        struct Q: Decodable { struct E: Decodable { let name: String; let messages: Int? }; let active_queues: [E] }
        let q = try RESTCore.decode(Q.self, try await get("/api/queues/length", action: action), action: action)
        return q.active_queues.map { FlowerQueue(name: $0.name, messages: $0.messages ?? 0) }
    }

    /// Sends a task through Flower (used by tests and smoke checks); returns its id.
    public func apply(_ task: String, args: [JSONValue]) async throws -> String {
        let action = "send Celery task \(task)"
        var req = HTTPRequest(method: "POST", url: try core.url("/api/task/async-apply/\(RESTCore.segment(task))"))
        req.setHeader("Content-Type", "application/json")
        req.setHeader("Authorization", "Basic " + Data("\(credentials.user):\(credentials.password)".utf8).base64EncodedString())
        req.body = (try? JSONEncoder().encode(["args": JSONValue.array(args)])) ?? Data()
        let r = try await core.send(req, action: action)
        guard (200..<300).contains(r.status) else {
            if r.status == 401 || r.status == 403 {
                throw AirflowError.authFailed(url: core.base, user: credentials.user, passwordSource: credentials.passwordSource,
                                              detail: "HTTP \(r.status) from Flower")
            }
            throw AirflowError.rejected(action: action, status: r.status, detail: RESTCore.detail(of: r))
        }
        struct A: Decodable { let task_id: String; enum CodingKeys: String, CodingKey { case task_id = "task-id" } }
        return try RESTCore.decode(A.self, r, action: action).task_id
    }
}
