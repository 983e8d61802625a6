import AirflowAPI
import Foundation

/// `fairflow dags list`: id, paused, owner, schedule, last run state; the import error count as a hint.
public enum DagsList: FairflowOperation {
    public static let id = "dags.list"
    public static let summary = "List DAGs with their paused flag, owner, schedule and last run state."

    public struct Input: Codable, Sendable {
        public var airflow: AirflowTarget
        public var owner: String?
        public var tag: String?
        /// true: only paused; false: only active (unpaused); nil: all.
        public var paused: Bool?
        public init(airflow: AirflowTarget, owner: String? = nil, tag: String? = nil, paused: Bool? = nil) {
            self.airflow = airflow
            self.owner = owner
            self.tag = tag
            self.paused = paused
        }
    }

    public struct Row: Codable, Sendable, Equatable {
        public var dagId: String
        public var paused: Bool
        public var owners: [String]
        public var schedule: String?
        public var tags: [String]
        public var lastRunState: String?
        public var lastRunId: String?
        public var hasImportErrors: Bool
    }

    public struct Output: OperationOutput {
        public var dags: [Row]
        public var importErrors: Int

        public func renderText(_ t: Terminal) -> String {
            let rows = dags.map { d in
                [d.dagId, d.paused ? "yes" : "no", d.owners.joined(separator: ","), d.schedule ?? "-",
                 d.lastRunState ?? "-", d.hasImportErrors ? "yes" : "no"]
            }
            var s = Table(headers: ["DAG_ID", "PAUSED", "OWNER", "SCHEDULE", "LAST_RUN", "IMPORT_ERRORS"], rows: rows).render(tty: t.isTTY)
            if t.isTTY && importErrors > 0 {
                s += t.paint("\(importErrors) DAG file\(importErrors == 1 ? "" : "s") failed to import: see `fairflow dags errors`", .yellow) + "\n"
            }
            return s
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("Airflow GET /dags"), PlannedAction("Airflow GET /dags/{id}/dagRuns?limit=1 (per DAG)"),
         PlannedAction("Airflow GET /importErrors")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try await AirflowAccess.withAirflow(input.airflow, context: context) { client in
            let dags = try await client.listDags(DagFilter(owner: input.owner, tag: input.tag, paused: input.paused))
            let errors = try await client.importErrors().count
            var rows: [Row] = []
            for d in dags {
                // One DAG whose runs Airflow cannot read (e.g. serialized by a newer Airflow before a rollback)
                // is named, not the end of the list.
                let last: DagRun?
                do { last = try await client.runs(d.dagId, limit: 1, state: nil).first } catch {
                    context.terminal.note("warning: \(d.dagId): \(error)")
                    rows.append(Row(dagId: d.dagId, paused: d.isPaused, owners: d.owners, schedule: d.schedule, tags: d.tags,
                                    lastRunState: "unreadable", lastRunId: nil, hasImportErrors: d.hasImportErrors))
                    continue
                }
                rows.append(Row(dagId: d.dagId, paused: d.isPaused, owners: d.owners, schedule: d.schedule, tags: d.tags,
                                lastRunState: last?.state, lastRunId: last?.runId, hasImportErrors: d.hasImportErrors))
            }
            return Output(dags: rows, importErrors: errors)
        }
    }
}

/// `fairflow dags errors`: DAG files that failed to import.
public enum DagsErrors: FairflowOperation {
    public static let id = "dags.errors"
    public static let summary = "List DAG files that failed to import, with the error."

    public struct Input: Codable, Sendable {
        public var airflow: AirflowTarget
        public init(airflow: AirflowTarget) { self.airflow = airflow }
    }

    public struct Item: Codable, Sendable, Equatable {
        public var filename: String
        public var message: String
        public var timestamp: String?
        public var stackTrace: String
    }

    public struct Output: OperationOutput {
        public var errors: [Item]
        public func renderText(_ t: Terminal) -> String {
            if errors.isEmpty { return t.isTTY ? "no import errors\n" : "" }
            return Table(headers: ["FILE", "ERROR", "SINCE"], rows: errors.map { [$0.filename, $0.message, AirflowAccess.shortDate($0.timestamp)] })
                .render(tty: t.isTTY)
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] { [PlannedAction("Airflow GET /importErrors")] }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try await AirflowAccess.withAirflow(input.airflow, context: context) { client in
            Output(errors: try await client.importErrors().map {
                Item(filename: $0.filename, message: $0.message, timestamp: $0.timestamp, stackTrace: $0.stackTrace)
            })
        }
    }
}

/// `fairflow dags trigger`: creates a run; with `wait`, follows it and fails when the run fails.
public enum DagsTrigger: FairflowOperation {
    public static let id = "dags.trigger"
    public static let summary = "Trigger a DAG run (optionally unpausing the DAG) and optionally wait for it to finish."

    public struct Input: Codable, Sendable {
        public var airflow: AirflowTarget
        public var dagId: String
        public var conf: [String: JSONValue]
        public var runId: String?
        public var unpause: Bool
        public var wait: Bool
        /// Seconds; nil waits as long as it takes.
        public var timeout: Double?
        public var pollInterval: Double
        public init(airflow: AirflowTarget, dagId: String, conf: [String: JSONValue] = [:], runId: String? = nil,
                    unpause: Bool = false, wait: Bool = false, timeout: Double? = nil, pollInterval: Double = 0.5) {
            self.airflow = airflow
            self.dagId = dagId
            self.conf = conf
            self.runId = runId
            self.unpause = unpause
            self.wait = wait
            self.timeout = timeout
            self.pollInterval = pollInterval
        }
    }

    public struct Output: OperationOutput {
        public var dagId: String
        public var runId: String
        public var state: String
        public var unpaused: Bool
        public var waited: Bool
        public var failedTasks: [String]
        public var upstreamFailedTasks: [String]
        public var seconds: Double?

        public var exitStatus: ExitStatus { waited && state != "success" ? .failed : .ok }

        public func renderText(_ t: Terminal) -> String {
            guard waited else { return runId + "\n" }
            var s = "\(runId)\t\(state == "success" ? t.paint(state, .green) : t.paint(state, .red))"
            if let sec = seconds { s += "\t\(String(format: "%.1f", sec)) s" }
            if !failedTasks.isEmpty { s += "\tfailed: \(failedTasks.joined(separator: ","))" }
            if !upstreamFailedTasks.isEmpty { s += "\tupstream_failed: \(upstreamFailedTasks.joined(separator: ","))" }
            return s + "\n"
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        var p = [PlannedAction("Airflow GET /dags/\(input.dagId)")]
        if input.unpause { p.append(PlannedAction("Airflow PATCH /dags/\(input.dagId) is_paused=false (if paused)", mutating: true)) }
        p.append(PlannedAction("Airflow POST /dags/\(input.dagId)/dagRuns", mutating: true, detail: input.conf.isEmpty ? nil : "conf \(JSONValue.object(input.conf))"))
        if input.wait { p.append(PlannedAction("Airflow GET dagRuns/{run} and taskInstances until the run ends")) }
        return p
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try await AirflowAccess.withAirflow(input.airflow, context: context) { client in
            let t = context.terminal
            let (run, unpaused) = try await client.triggerChecked(input.dagId, conf: input.conf, runId: input.runId, unpause: input.unpause)
            if unpaused { t.note("unpaused \(input.dagId)") }
            guard input.wait else {
                return Output(dagId: input.dagId, runId: run.runId, state: run.state, unpaused: unpaused, waited: false,
                              failedTasks: [], upstreamFailedTasks: [], seconds: nil)
            }
            t.note("triggered \(input.dagId): run \(run.runId); waiting (Ctrl-C stops waiting, not the run)")
            let outcome = try await client.waitForRun(input.dagId, runId: run.runId, pollInterval: input.pollInterval,
                                                      timeout: input.timeout) { p in
                let when = String(format: "%5.1fs", p.elapsed)
                for task in p.changed { t.note("\(when)  \(task.displayName): \(task.state ?? "none")") }
                if p.changed.isEmpty { t.note("\(when)  run: \(p.run.state)") }
            }
            if !outcome.succeeded {
                let names = outcome.failedTasks.isEmpty ? "" : ": failed task\(outcome.failedTasks.count == 1 ? "" : "s") \(outcome.failedTasks.joined(separator: ", "))"
                t.note("run \(run.runId) of \(input.dagId) \(outcome.run.state)\(names) — read the logs with `fairflow dags logs \(input.dagId) \(run.runId)`")
            }
            return Output(dagId: input.dagId, runId: run.runId, state: outcome.run.state, unpaused: unpaused, waited: true,
                          failedTasks: outcome.failedTasks, upstreamFailedTasks: outcome.upstreamFailedTasks, seconds: outcome.elapsed)
        }
    }
}

/// `fairflow dags runs`: the newest runs of a DAG.
public enum DagsRuns: FairflowOperation {
    public static let id = "dags.runs"
    public static let summary = "List a DAG's runs, newest first."

    public struct Input: Codable, Sendable {
        public var airflow: AirflowTarget
        public var dagId: String
        public var limit: Int
        public var state: String?
        public init(airflow: AirflowTarget, dagId: String, limit: Int = 10, state: String? = nil) {
            self.airflow = airflow
            self.dagId = dagId
            self.limit = limit
            self.state = state
        }
    }

    public struct Output: OperationOutput {
        public var runs: [DagRun]
        public func renderText(_ t: Terminal) -> String {
            Table(headers: ["RUN_ID", "STATE", "TYPE", "LOGICAL_DATE", "STARTED", "ENDED"], rows: runs.map {
                [$0.runId, $0.state, $0.runType ?? "-", AirflowAccess.shortDate($0.logicalDate),
                 AirflowAccess.shortDate($0.startDate), AirflowAccess.shortDate($0.endDate)]
            }).render(tty: t.isTTY)
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("Airflow GET /dags/\(input.dagId)/dagRuns")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try await AirflowAccess.withAirflow(input.airflow, context: context) { client in
            Output(runs: try await client.runs(input.dagId, limit: input.limit, state: input.state))
        }
    }
}

/// `fairflow dags state`: a run's state and its tasks' states.
public enum DagsState: FairflowOperation {
    public static let id = "dags.state"
    public static let summary = "Show a run's state and the state of each of its tasks."

    public struct Input: Codable, Sendable {
        public var airflow: AirflowTarget
        public var dagId: String
        public var runId: String
        public init(airflow: AirflowTarget, dagId: String, runId: String) {
            self.airflow = airflow
            self.dagId = dagId
            self.runId = runId
        }
    }

    public struct Output: OperationOutput {
        public var run: DagRun
        public var tasks: [TaskInstance]
        public func renderText(_ t: Terminal) -> String {
            var s = t.isTTY ? "run \(run.runId): \(run.state)\n" : "\(run.runId)\t\(run.state)\n"
            s += Table(headers: ["TASK", "STATE", "TRY", "STARTED", "ENDED", "SECONDS"], rows: tasks.map {
                [$0.displayName, $0.state ?? "none", "\($0.tryNumber)", AirflowAccess.shortDate($0.startDate),
                 AirflowAccess.shortDate($0.endDate), $0.duration.map { String(format: "%.1f", $0) } ?? "-"]
            }).render(tty: t.isTTY)
            return s
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("Airflow GET dagRuns/\(input.runId)"), PlannedAction("Airflow GET dagRuns/\(input.runId)/taskInstances")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try await AirflowAccess.withAirflow(input.airflow, context: context) { client in
            let run = try await client.run(input.dagId, runId: input.runId)
            return Output(run: run, tasks: ordered(try await client.taskInstances(input.dagId, runId: input.runId)))
        }
    }

    /// Execution order: started tasks by start time, then the ones that never started, by name.
    static func ordered(_ tasks: [TaskInstance]) -> [TaskInstance] {
        tasks.sorted { a, b in
            switch (a.startDate, b.startDate) {
            case let (x?, y?) where x != y: return x < y
            case (_?, nil): return true
            case (nil, _?): return false
            default: return (a.taskId, a.mapIndex) < (b.taskId, b.mapIndex)
            }
        }
    }
}

/// `fairflow dags logs`: task logs through the API (which reads the remote logs), all tasks in order by default.
public enum DagsLogs: FairflowOperation {
    public static let id = "dags.logs"
    public static let summary = "Print task logs of a run (one task, or all tasks in execution order)."

    public struct Input: Codable, Sendable {
        public var airflow: AirflowTarget
        public var dagId: String
        public var runId: String
        public var taskId: String?
        /// nil: each task's latest try.
        public var tryNumber: Int?
        public init(airflow: AirflowTarget, dagId: String, runId: String, taskId: String? = nil, tryNumber: Int? = nil) {
            self.airflow = airflow
            self.dagId = dagId
            self.runId = runId
            self.taskId = taskId
            self.tryNumber = tryNumber
        }
    }

    public struct Log: Codable, Sendable, Equatable {
        public var taskId: String
        public var tryNumber: Int
        public var state: String?
        public var text: String
    }

    public struct Output: OperationOutput {
        public var logs: [Log]
        public func renderText(_ t: Terminal) -> String {
            if logs.count == 1 { return logs[0].text }
            return logs.map { l in
                t.paint("=== \(l.taskId) (try \(l.tryNumber), \(l.state ?? "none")) ===", .bold) + "\n" + l.text
                    + (l.text.hasSuffix("\n") ? "" : "\n")
            }.joined()
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("Airflow GET dagRuns/\(input.runId)/taskInstances"),
         PlannedAction("Airflow GET taskInstances/\(input.taskId ?? "{each task}")/logs/{try}")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try await AirflowAccess.withAirflow(input.airflow, context: context) { client in
            var tasks = DagsState.ordered(try await client.taskInstances(input.dagId, runId: input.runId))
            if let wanted = input.taskId {
                tasks = tasks.filter { $0.taskId == wanted }
                if tasks.isEmpty { throw AirflowError.taskNotFound(dagId: input.dagId, runId: input.runId, taskId: wanted) }
            }
            var logs: [Log] = []
            for task in tasks {
                let tryNumber = input.tryNumber ?? max(1, task.tryNumber)
                if task.tryNumber == 0 && input.tryNumber == nil {
                    logs.append(Log(taskId: task.displayName, tryNumber: 0, state: task.state, text: "(not started yet)\n"))
                    continue
                }
                let text = try await client.taskLog(input.dagId, runId: input.runId, taskId: task.taskId, tryNumber: tryNumber)
                logs.append(Log(taskId: task.displayName, tryNumber: tryNumber, state: task.state, text: text))
            }
            return Output(logs: logs)
        }
    }
}

/// `fairflow dags pause|unpause`.
public enum DagsSetPaused {
    public struct Input: Codable, Sendable {
        public var airflow: AirflowTarget
        public var dagIds: [String]
        public init(airflow: AirflowTarget, dagIds: [String]) {
            self.airflow = airflow
            self.dagIds = dagIds
        }
    }

    public struct Row: Codable, Sendable, Equatable {
        public var dagId: String
        public var paused: Bool
    }

    public struct Output: OperationOutput {
        public var dags: [Row]
        public func renderText(_ t: Terminal) -> String {
            Table(headers: ["DAG_ID", "PAUSED"], rows: dags.map { [$0.dagId, $0.paused ? "yes" : "no"] }).render(tty: t.isTTY)
        }
    }

    static func run(_ input: Input, paused: Bool, context: Context) async throws -> Output {
        try await AirflowAccess.withAirflow(input.airflow, context: context) { client in
            var rows: [Row] = []
            for id in input.dagIds {
                rows.append(Row(dagId: id, paused: try await client.setPaused(id, paused: paused).isPaused))
            }
            return Output(dags: rows)
        }
    }
}

public enum DagsPause: FairflowOperation {
    public static let id = "dags.pause"
    public static let summary = "Pause DAGs: the scheduler starts no new runs or tasks for them."
    public typealias Input = DagsSetPaused.Input
    public typealias Output = DagsSetPaused.Output
    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        input.dagIds.map { PlannedAction("Airflow PATCH /dags/\($0) is_paused=true", mutating: true) }
    }
    public static func run(_ input: Input, context: Context) async throws -> Output {
        try await DagsSetPaused.run(input, paused: true, context: context)
    }
}

public enum DagsUnpause: FairflowOperation {
    public static let id = "dags.unpause"
    public static let summary = "Unpause DAGs so the scheduler runs them."
    public typealias Input = DagsSetPaused.Input
    public typealias Output = DagsSetPaused.Output
    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        input.dagIds.map { PlannedAction("Airflow PATCH /dags/\($0) is_paused=false", mutating: true) }
    }
    public static func run(_ input: Input, context: Context) async throws -> Output {
        try await DagsSetPaused.run(input, paused: false, context: context)
    }
}

/// `fairflow dags clear`: the run's tasks (or only the failed ones) run again.
public enum DagsClear: FairflowOperation {
    public static let id = "dags.clear"
    public static let summary = "Clear a run's tasks (or only the failed ones) so they run again."

    public struct Input: Codable, Sendable {
        public var airflow: AirflowTarget
        public var dagId: String
        public var runId: String
        public var failedOnly: Bool
        public init(airflow: AirflowTarget, dagId: String, runId: String, failedOnly: Bool = false) {
            self.airflow = airflow
            self.dagId = dagId
            self.runId = runId
            self.failedOnly = failedOnly
        }
    }

    public struct Output: OperationOutput {
        public var dagId: String
        public var runId: String
        public var cleared: [String]
        public func renderText(_ t: Terminal) -> String {
            if t.isTTY && cleared.isEmpty { return "nothing to clear in \(runId)\n" }
            return cleared.map { $0 + "\n" }.joined()
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("Airflow POST /dags/\(input.dagId)/clearTaskInstances", mutating: true,
                       detail: "run \(input.runId)\(input.failedOnly ? ", failed tasks only" : "")")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        guard context.settings.yes else {
            throw FairflowError.usage("clear run '\(input.runId)' of '\(input.dagId)'", why: "clearing makes its tasks run again",
                                      fix: "add --yes to confirm")
        }
        return try await AirflowAccess.withAirflow(input.airflow, context: context) { client in
            Output(dagId: input.dagId, runId: input.runId,
                   cleared: try await client.clearRun(input.dagId, runId: input.runId, failedOnly: input.failedOnly))
        }
    }
}
