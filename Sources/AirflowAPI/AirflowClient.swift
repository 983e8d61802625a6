import Foundation
import HTTPTransport

/// One client for Airflow's stable REST API, whichever major version answers.
/// `AirflowAPI.connect` picks the implementation; commands never look at the version.
public protocol AirflowClient: Sendable {
    var apiVersion: AirflowAPIVersion { get }
    /// What the server reported, e.g. "2.11.2".
    var serverVersion: String { get }
    var baseURL: String { get }

    func listDags(_ filter: DagFilter) async throws -> [AirflowDag]
    func importErrors() async throws -> [AirflowImportError]
    func getDag(_ dagId: String) async throws -> AirflowDag
    @discardableResult
    func setPaused(_ dagId: String, paused: Bool) async throws -> AirflowDag
    /// Creates a run; `runId` nil lets fairflow choose a unique one (so a retried POST cannot create two runs).
    func trigger(_ dagId: String, conf: [String: JSONValue], runId: String?) async throws -> DagRun
    /// Newest first.
    func runs(_ dagId: String, limit: Int, state: String?) async throws -> [DagRun]
    func run(_ dagId: String, runId: String) async throws -> DagRun
    func taskInstances(_ dagId: String, runId: String) async throws -> [TaskInstance]
    /// The task's log text for one try (1-based).
    func taskLog(_ dagId: String, runId: String, taskId: String, tryNumber: Int) async throws -> String
    /// Clears the run's tasks (all, or only the failed ones) so the scheduler runs them again; returns their ids.
    func clearRun(_ dagId: String, runId: String, failedOnly: Bool) async throws -> [String]
}

extension AirflowClient {
    @discardableResult
    public func pause(_ dagId: String) async throws -> AirflowDag { try await setPaused(dagId, paused: true) }
    @discardableResult
    public func unpause(_ dagId: String) async throws -> AirflowDag { try await setPaused(dagId, paused: false) }
    public func runState(_ dagId: String, runId: String) async throws -> String { try await run(dagId, runId: runId).state }
    public func trigger(_ dagId: String, conf: [String: JSONValue] = [:]) async throws -> DagRun {
        try await trigger(dagId, conf: conf, runId: nil)
    }
}

/// The parts in which v1 and v2 differ; everything else is shared below.
protocol RESTDialect: AirflowClient {
    var core: RESTCore { get }
    var credentials: AirflowCredentials { get }
    var prefix: String { get }
    /// Adds credentials; `fresh` forces a new login (v2 after a 401).
    func authorize(_ request: inout HTTPRequest, fresh: Bool) async throws
    /// Turns a 401/403 into the error to throw.
    func authError(_ response: HTTPResponse, action: String) async -> AirflowError
    var canRefreshAuth: Bool { get }
    var activeOnly: (String, String) { get }
    var runsOrder: String { get }
    var triggerExtra: [String: JSONValue] { get }
    var logAccept: String { get }
    func logText(_ response: HTTPResponse, action: String) throws -> String
}

extension RESTDialect {
    public var baseURL: String { core.base }

    func call(_ method: String, _ path: String, query: [(String, String)] = [], body: [String: JSONValue]? = nil,
              accept: String = "application/json", subject: Subject = .none, action: String) async throws -> HTTPResponse {
        var req = HTTPRequest(method: method, url: try core.url(prefix + path, query))
        req.setHeader("Accept", accept)
        if let body {
            req.body = RESTCore.jsonBody(body)
            req.setHeader("Content-Type", "application/json")
        }
        var r = try await send(req, fresh: false, action: action)
        if r.status == 401 && canRefreshAuth {
            r = try await send(req, fresh: true, action: action)
        }
        if (200..<300).contains(r.status) { return r }
        if r.status == 401 || r.status == 403 { throw await authError(r, action: action) }
        if r.status == 404 { throw await notFound(subject, r, action: action) }
        throw AirflowError.rejected(action: action, status: r.status, detail: RESTCore.detail(of: r))
    }

    private func send(_ req: HTTPRequest, fresh: Bool, action: String) async throws -> HTTPResponse {
        var req = req
        try await authorize(&req, fresh: fresh)
        return try await core.send(req, action: action)
    }

    private func notFound(_ subject: Subject, _ r: HTTPResponse, action: String) async -> AirflowError {
        switch subject {
        case .none:
            return .rejected(action: action, status: 404, detail: RESTCore.detail(of: r))
        case .dag(let dag):
            return await dagNotFound(dag)
        case let .run(dag, run):
            if let e = await missingDag(dag) { return e }
            return .runNotFound(dagId: dag, runId: run)
        case let .task(dag, run, task):
            if let e = await missingDag(dag) { return e }
            if (try? await self.run(dag, runId: run)) == nil { return .runNotFound(dagId: dag, runId: run) }
            return .taskNotFound(dagId: dag, runId: run, taskId: task)
        }
    }

    private func missingDag(_ dag: String) async -> AirflowError? {
        do { _ = try await getDag(dag); return nil } catch let e as AirflowError {
            if case .dagNotFound = e { return e }
            return nil
        } catch { return nil }
    }

    func dagNotFound(_ dag: String) async -> AirflowError {
        let ids = (try? await listDags(DagFilter()).map(\.dagId)) ?? []
        return .dagNotFound(dagId: dag, suggestions: closestIds(to: dag, among: ids))
    }

    public func listDags(_ filter: DagFilter) async throws -> [AirflowDag] {
        var out: [AirflowDag] = []
        var offset = 0
        let page = 100
        while true {
            var q: [(String, String)] = [("limit", "\(page)"), ("offset", "\(offset)"), ("order_by", "dag_id"), activeOnly]
            if let t = filter.tag { q.append(("tags", t)) }
            if let p = filter.paused { q.append(("paused", p ? "true" : "false")) }
            let r = try await call("GET", "/dags", query: q, action: "list DAGs")
            let list = try RESTCore.decode(WireDagList.self, r, action: "list DAGs")
            out += list.dags.map(\.model)
            offset += list.dags.count
            if list.dags.count < page || offset >= (list.total_entries ?? 0) { break }
        }
        if let o = filter.owner { out = out.filter { $0.owners.contains(o) } }
        return out
    }

    public func importErrors() async throws -> [AirflowImportError] {
        var out: [AirflowImportError] = []
        while true {
            let r = try await call("GET", "/importErrors", query: [("limit", "100"), ("offset", "\(out.count)")],
                                   action: "list import errors")
            let page = try RESTCore.decode(WireImportErrors.self, r, action: "list import errors")
            out += page.import_errors.map {
                AirflowImportError(id: $0.import_error_id, filename: $0.filename ?? "?", stackTrace: $0.stack_trace ?? "",
                                   timestamp: $0.timestamp)
            }
            if page.import_errors.count < 100 || out.count >= (page.total_entries ?? 0) { break }
        }
        return out
    }

    public func getDag(_ dagId: String) async throws -> AirflowDag {
        let r = try await call("GET", "/dags/\(RESTCore.segment(dagId))", subject: .dag(dagId), action: "read DAG '\(dagId)'")
        return try RESTCore.decode(WireDag.self, r, action: "read DAG '\(dagId)'").model
    }

    @discardableResult
    public func setPaused(_ dagId: String, paused: Bool) async throws -> AirflowDag {
        let action = "\(paused ? "pause" : "unpause") DAG '\(dagId)'"
        let r = try await call("PATCH", "/dags/\(RESTCore.segment(dagId))", query: [("update_mask", "is_paused")],
                               body: ["is_paused": .bool(paused)], subject: .dag(dagId), action: action)
        return try RESTCore.decode(WireDag.self, r, action: action).model
    }

    public func trigger(_ dagId: String, conf: [String: JSONValue], runId: String?) async throws -> DagRun {
        let action = "trigger DAG '\(dagId)'"
        let id = runId ?? newRunId()
        var body = triggerExtra
        body["conf"] = .object(conf)
        body["dag_run_id"] = .string(id)
        do {
            let r = try await call("POST", "/dags/\(RESTCore.segment(dagId))/dagRuns", body: body, subject: .dag(dagId),
                                   action: action)
            return try RESTCore.decode(WireRun.self, r, action: action).model
        } catch AirflowError.rejected(_, 409, let detail) where runId == nil {
            // Our own unique id already exists: an earlier attempt got through before the gateway gave up.
            if let existing = try? await run(dagId, runId: id) { return existing }
            throw AirflowError.rejected(action: action, status: 409, detail: detail)
        }
    }

    public func runs(_ dagId: String, limit: Int, state: String?) async throws -> [DagRun] {
        var q: [(String, String)] = [("limit", "\(max(1, limit))"), ("order_by", runsOrder)]
        if let s = state { q.append(("state", s)) }
        let r = try await call("GET", "/dags/\(RESTCore.segment(dagId))/dagRuns", query: q, subject: .dag(dagId),
                               action: "list runs of '\(dagId)'")
        return try RESTCore.decode(WireRuns.self, r, action: "list runs of '\(dagId)'").dag_runs.map(\.model)
    }

    public func run(_ dagId: String, runId: String) async throws -> DagRun {
        let action = "read run '\(runId)' of '\(dagId)'"
        let r = try await call("GET", "/dags/\(RESTCore.segment(dagId))/dagRuns/\(RESTCore.segment(runId))",
                               subject: .run(dagId, runId), action: action)
        return try RESTCore.decode(WireRun.self, r, action: action).model
    }

    public func taskInstances(_ dagId: String, runId: String) async throws -> [TaskInstance] {
        let action = "list tasks of run '\(runId)'"
        let r = try await call("GET", "/dags/\(RESTCore.segment(dagId))/dagRuns/\(RESTCore.segment(runId))/taskInstances",
                               query: [("limit", "1000")], subject: .run(dagId, runId), action: action)
        return try RESTCore.decode(WireTaskInstances.self, r, action: action).task_instances.map(\.model)
    }

    public func taskLog(_ dagId: String, runId: String, taskId: String, tryNumber: Int) async throws -> String {
        let action = "read the log of task '\(taskId)' try \(tryNumber)"
        let path = "/dags/\(RESTCore.segment(dagId))/dagRuns/\(RESTCore.segment(runId))/taskInstances/"
            + "\(RESTCore.segment(taskId))/logs/\(max(1, tryNumber))"
        let r = try await call("GET", path, query: [("full_content", "true")], accept: logAccept,
                               subject: .task(dagId, runId, taskId), action: action)
        return try logText(r, action: action)
    }

    public func clearRun(_ dagId: String, runId: String, failedOnly: Bool) async throws -> [String] {
        let action = "clear run '\(runId)' of '\(dagId)'"
        _ = try await run(dagId, runId: runId)  // a clear of an unknown run silently clears nothing
        let body: [String: JSONValue] = ["dry_run": .bool(false), "dag_run_id": .string(runId),
                                         "only_failed": .bool(failedOnly), "reset_dag_runs": .bool(true)]
        let r = try await call("POST", "/dags/\(RESTCore.segment(dagId))/clearTaskInstances", body: body,
                               subject: .dag(dagId), action: action)
        return try RESTCore.decode(WireCleared.self, r, action: action).task_instances.map(\.task_id)
    }
}

/// fairflow's run ids: the trigger time like Airflow's own `manual__…`, plus a random suffix.
func newRunId(now: Date = Date()) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    return "manual__\(f.string(from: now))_ff\(suffix)"
}
