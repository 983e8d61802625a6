import Foundation

/// One step of a run's progress: reported whenever the run's or a task's state changes.
public struct RunProgress: Sendable {
    public var run: DagRun
    public var tasks: [TaskInstance]
    /// Tasks whose state differs from the previous report (all tasks in the first one).
    public var changed: [TaskInstance]
    public var elapsed: Double
}

/// How a run ended.
public struct RunOutcome: Sendable {
    public var run: DagRun
    public var tasks: [TaskInstance]
    public var elapsed: Double

    public var succeeded: Bool { run.state == "success" }
    public var failedTasks: [String] { tasks.filter { $0.state == "failed" }.map(\.displayName) }
    public var upstreamFailedTasks: [String] { tasks.filter { $0.state == "upstream_failed" }.map(\.displayName) }
    public var succeededTasks: [String] { tasks.filter { $0.state == "success" }.map(\.displayName) }
}

extension AirflowClient {
    /// Polls the run and its tasks until the run succeeds or fails, reporting each change.
    public func waitForRun(_ dagId: String, runId: String, pollInterval: Double = 1, timeout: Double? = nil,
                           progress: @Sendable (RunProgress) -> Void = { _ in }) async throws -> RunOutcome {
        let start = Date()
        var lastStates: [String: String] = [:]
        var lastRunState = ""
        while true {
            let run = try await self.run(dagId, runId: runId)
            let tasks = try await taskInstances(dagId, runId: runId)
            let elapsed = Date().timeIntervalSince(start)
            let changed = tasks.filter { lastStates[$0.displayName] != ($0.state ?? "none") }
            if !changed.isEmpty || run.state != lastRunState {
                progress(RunProgress(run: run, tasks: tasks, changed: changed, elapsed: elapsed))
                for t in tasks { lastStates[t.displayName] = t.state ?? "none" }
                lastRunState = run.state
            }
            if run.isFinished { return RunOutcome(run: run, tasks: tasks, elapsed: elapsed) }
            if let timeout, elapsed >= timeout {
                throw AirflowError.waitTimedOut(dagId: dagId, runId: runId, lastState: run.state, seconds: Int(timeout))
            }
            try await Task.sleep(nanoseconds: UInt64(pollInterval * 1_000_000_000))
        }
    }

    /// Triggers after checking the DAG: unknown ids get suggestions, and a paused DAG is refused
    /// (its run would stay queued) unless `unpause` is set, in which case it is unpaused first.
    /// Returns the run and whether the DAG was unpaused.
    public func triggerChecked(_ dagId: String, conf: [String: JSONValue] = [:], runId: String? = nil,
                               unpause: Bool = false) async throws -> (run: DagRun, unpaused: Bool) {
        let dag = try await getDag(dagId)
        var unpaused = false
        if dag.isPaused {
            guard unpause else { throw AirflowError.dagPaused(dagId: dagId) }
            try await setPaused(dagId, paused: false)
            unpaused = true
        }
        return (try await trigger(dagId, conf: conf, runId: runId), unpaused)
    }
}
