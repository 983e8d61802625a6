import AWSCore
import FairflowCore
import Foundation

/// What `run.json` keeps so `resume` can pick up a run with the same runbook, inputs and stack.
public struct RunRecord: Codable, Sendable {
    public var runId: String
    public var file: String
    public var name: String
    public var stack: String
    public var region: String?
    public var endpointURL: String?
    public var envFile: String?
    /// Non-secret inputs; secret ones are "[redacted]" and must be passed again to `resume`.
    public var inputs: [String: JSONValue]
    public var created: Date
}

public struct StepResult: Codable, Sendable {
    public var id: String
    public var uses: String
    public var outcome: String   // succeeded, failed, skipped, not-run
    public var attempts: Int
    public var outputs: JSONValue?
    public var error: String?
    public var durationSeconds: Double?
    public var reused: Bool?
}

public struct RunSummary: Codable, Sendable {
    public var runId: String
    public var runbook: String
    public var status: String    // succeeded, failed
    public var journal: String
    public var steps: [StepResult]
    public var exitStatus: Int32
}

public struct RunOptions: Sendable {
    public var inputs: [String: String] = [:]
    public var waitLock = false
    /// Where `.fairflow/` lives (the working directory).
    public var directory = FileManager.default.currentDirectoryPath
    public init() {}
}
