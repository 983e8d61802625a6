import Foundation
import HTTPTransport

/// Everything that can go wrong talking to Airflow, in the user's terms.
/// Messages read "what failed: why — how to fix" and never contain a password or token.
public enum AirflowError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Wrong user or password (or, on Airflow 2, a user without permission: it answers both with 403).
    case authFailed(url: String, user: String, passwordSource: String, detail: String)
    /// Airflow 3 told us the user is known but lacks the permission.
    case permissionDenied(url: String, user: String, action: String)
    case dagNotFound(dagId: String, suggestions: [String])
    case runNotFound(dagId: String, runId: String)
    case taskNotFound(dagId: String, runId: String, taskId: String)
    /// Triggering a paused DAG would leave the run queued forever.
    case dagPaused(dagId: String)
    /// 502/503/504 (or a dropped connection) on every attempt.
    case unavailable(url: String, reason: String, attempts: Int)
    /// Neither /api/v2/version nor /api/v1/version answered like Airflow.
    case notAirflow(url: String, detail: String)
    /// Airflow refused the request (400, 409, 422, ...): its own words.
    case rejected(action: String, status: Int, detail: String)
    /// The answer could not be read.
    case badResponse(action: String, detail: String)
    case transport(action: String, error: String)
    case waitTimedOut(dagId: String, runId: String, lastState: String, seconds: Int)

    public var description: String {
        let p = parts
        return p.fix.map { "\(p.what): \(p.why) — \($0)" } ?? "\(p.what): \(p.why)"
    }

    /// What failed, why, and how to fix it (the CLI's error format).
    public var parts: (what: String, why: String, fix: String?) {
        switch self {
        case let .authFailed(url, user, source, detail):
            return ("Airflow at \(url) refused user '\(user)'", detail,
                    "check the password (\(source)) and that the user exists with the Admin role")
        case let .permissionDenied(url, user, action):
            return ("\(action) on Airflow at \(url)", "user '\(user)' lacks the permission", "use an Admin (or Op) user")
        case let .dagNotFound(dagId, suggestions):
            let hint = suggestions.isEmpty
                ? "run `fairflow dags list` to see the DAG ids, or `fairflow dags errors` if its file did not import"
                : "did you mean \(suggestions.map { "'\($0)'" }.joined(separator: ", "))?"
            return ("DAG '\(dagId)' not found", "Airflow has no DAG with that id", hint)
        case let .runNotFound(dagId, runId):
            return ("run '\(runId)' of DAG '\(dagId)' not found", "Airflow has no such run",
                    "list the runs with `fairflow dags runs \(dagId)`")
        case let .taskNotFound(dagId, runId, taskId):
            return ("task '\(taskId)' not found", "run '\(runId)' of DAG '\(dagId)' has no such task",
                    "list its tasks with `fairflow dags state \(dagId) \(runId)`")
        case let .dagPaused(dagId):
            return ("DAG '\(dagId)' is paused", "a triggered run would stay queued",
                    "add --unpause, or run `fairflow dags unpause \(dagId)` first")
        case let .unavailable(url, reason, attempts):
            return ("Airflow at \(url) is unavailable", "\(reason) on all \(attempts) attempts",
                    "the load balancer has no healthy Airflow behind it yet (starting or crashing); check `fairflow status` and retry in a minute")
        case let .notAirflow(url, detail):
            return ("no Airflow API at \(url)", detail, "check the URL (the Airflow webserver's base URL, without /api/...)")
        case let .rejected(action, status, detail):
            return (action, "Airflow answered HTTP \(status): \(detail)", nil)
        case let .badResponse(action, detail):
            return (action, "unreadable answer from Airflow: \(detail)", nil)
        case let .transport(action, error):
            return (action, error, "check the URL and that Airflow is reachable from here")
        case let .waitTimedOut(dagId, runId, lastState, seconds):
            return ("run '\(runId)' of DAG '\(dagId)' not finished", "still \(lastState) after \(seconds) s",
                    "raise --timeout, or follow it with `fairflow dags state \(dagId) \(runId)`")
        }
    }

    /// The CLI's exit code: 4 for credentials, 1 for everything else.
    public var exitCode: Int32 {
        switch self {
        case .authFailed, .permissionDenied: return 4
        default: return 1
        }
    }
}
