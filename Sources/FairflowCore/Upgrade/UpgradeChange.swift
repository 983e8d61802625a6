import AirflowAPI
import AWSCore
import AWSServices
import FairflowTemplate
import Foundation
import MetadataDB

// MARK: 4. quiesce

public enum UpgradeQuiesce: FairflowOperation {
    public static let id = "upgrade.quiesce"
    public static let summary = "Pause scheduling (scheduler, DAG processor and triggerer to 0) and let the workers finish their running tasks."

    public struct Input: Codable, Sendable {
        public var drainTimeoutSeconds: Double = 600
        public init() {}
        enum CodingKeys: String, CodingKey { case drainTimeoutSeconds = "drain_timeout_seconds" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            drainTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .drainTimeoutSeconds) ?? 600
        }
    }

    public struct Output: OperationOutput {
        /// The desired counts before, to give back after the roll.
        public var counts: [String: Int]
        public var drainedSeconds: Double
        public var stillRunning: [String]
        public func renderText(_ t: Terminal) -> String {
            "scheduling paused (\(counts.keys.sorted().joined(separator: ", ")) at 0); "
                + (stillRunning.isEmpty ? "no task running (waited \(Int(drainedSeconds)) s)\n" : "still running after the drain timeout: \(stillRunning.joined(separator: ", "))\n")
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("ECS UpdateService", mutating: true, detail: "scheduler, dag-processor, triggerer desiredCount 0"),
         PlannedAction("ECS DescribeServices", detail: "until they stopped"),
         PlannedAction("SSM SendCommand AWS-RunShellScript", detail: "running and queued task instances, until none or \(Int(input.drainTimeoutSeconds)) s")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let stack = try await StackResources.load(context)
        let cluster = try stack.cluster
        let ecs = ECS(try context.aws())
        let template = try await UpgradeSteps.templateCounts(context)
        var counts: [String: Int] = [:]
        for c in UpgradeSteps.schedulingComponents where stack.components.contains(c) {
            let name = try stack.serviceName(c)
            let now = try await ecs.describeServices(cluster: cluster, [name]).first?.desiredCount ?? 0
            // a resumed step finds them at 0 already: the template says what they ran
            counts[c.rawValue] = now > 0 ? now : (template[c.rawValue] ?? 1)
        }
        context.terminal.note("pausing scheduling: \(counts.keys.sorted().joined(separator: ", ")) to 0")
        try await UpgradeSteps.setCounts(counts.mapValues { _ in 0 }, context: context)
        let started = Date()
        var still: [String] = []
        var shown = ""
        if stack.outputs[StackOutputs.bastionInstanceId] != nil {
            while true {
                let rows = try await UpgradeSQL.rows(UpgradeSQL.running, context: context, what: "upgrade quiesce")
                still = rows.map { r in "\(r[0] ?? "?").\(r[1] ?? "?") (\(r[3] ?? "?"), \(r[2] ?? "?"))" }
                if still.isEmpty { break }
                let line = still.joined(separator: ", ")
                if line != shown { shown = line; context.terminal.note("waiting for \(still.count) task\(still.count == 1 ? "" : "s") to finish: \(line)") }
                if Date().timeIntervalSince(started) > input.drainTimeoutSeconds {
                    context.terminal.note("warning: still running after \(Int(input.drainTimeoutSeconds)) s: \(line) — they may fail across the migration")
                    break
                }
                try await Task.sleep(nanoseconds: UInt64(UpgradeSteps.poll(context, default: 10) * 1e9))
            }
        } else {
            context.terminal.note("no bastion: running tasks are not checked")
        }
        return Output(counts: counts, drainedSeconds: Date().timeIntervalSince(started), stillRunning: still)
    }
}

// MARK: 5. migrate

public enum UpgradeMigrate: FairflowOperation {
    public static let id = "upgrade.migrate"
    public static let summary = "Migrate the metadata database with the new image in a one-off task, showing its log and any session blocking it."

    public struct Input: Codable, Sendable {
        public var image: String
        /// `db migrate` (the default) or a downgrade: `["db", "downgrade", "--to-revision", R, "-y"]`.
        public var command: [String]?
        public var timeoutSeconds: Double = 3600
        public var watchSeconds: Double = 15
        public var blockedAfterSeconds = 60
        public init(image: String) { self.image = image }
        enum CodingKeys: String, CodingKey { case image, command, timeoutSeconds = "timeout_seconds", watchSeconds = "watch_seconds", blockedAfterSeconds = "blocked_after_seconds" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            image = try c.decode(String.self, forKey: .image)
            command = try c.decodeIfPresent([String].self, forKey: .command)
            timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? 3600
            watchSeconds = try c.decodeIfPresent(Double.self, forKey: .watchSeconds) ?? 15
            blockedAfterSeconds = try c.decodeIfPresent(Int.self, forKey: .blockedAfterSeconds) ?? 60
        }
    }

    public struct Output: OperationOutput {
        public var image: String
        public var task: String
        public var exitCode: Int
        public var revision: String?
        public var seconds: Double
        public var blocked: [String]
        public func renderText(_ t: Terminal) -> String {
            "migrated with \(image) in \(String(format: "%.0f", seconds)) s; schema revision \(revision ?? "?")\n"
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("ECS RegisterTaskDefinition", mutating: true, detail: "\(UpgradeSteps.family(context, "migrate")) with \(input.image)"),
         PlannedAction("ECS RunTask", mutating: true, detail: "airflow \((input.command ?? ["db", "migrate"]).joined(separator: " "))"),
         PlannedAction("CloudWatch Logs FilterLogEvents", detail: "its log lines, as they come"),
         PlannedAction("SSM SendCommand AWS-RunShellScript", detail: "every \(Int(input.watchSeconds)) s: the database's sessions and locks"),
         PlannedAction("ECS DeregisterTaskDefinition", mutating: true)]
    }

    static let userCreation: (String) -> Bool = { $0.hasPrefix("_AIRFLOW_") }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let stack = try await StackResources.load(context)
        let ui: AirflowComponent = stack.components.contains(.apiServer) ? .apiServer : .webserver
        let command = input.command ?? ["db", "migrate"]
        let purpose = command.contains("downgrade") ? "downgrade" : "migrate"
        let aws = try context.aws()
        let task = try await OneOffTask.make(aws, cluster: try stack.cluster, service: try stack.serviceName(ui), from: "db-migrate",
                                             name: "db-\(purpose)", image: input.image, command: command, dropEnvironment: userCreation,
                                             family: UpgradeSteps.family(context, purpose))
        let t = context.terminal
        t.note("\(purpose): airflow \(command.joined(separator: " ")) with \(input.image) in a one-off task")
        let watchDB = stack.outputs[StackOutputs.bastionInstanceId] != nil
        var lastWatch = Date()
        var blocked: [String] = []
        let r = try await task.run(token: { context.idempotencyToken("upgrade.\(purpose)|\($0)") }, poll: UpgradeSteps.poll(context, default: 3),
                                   timeout: input.timeoutSeconds, onLine: { t.note("\(purpose) | \($0)") }, tick: {
            guard watchDB, Date().timeIntervalSince(lastWatch) >= input.watchSeconds else { return }
            lastWatch = Date()
            guard let rows = try? await UpgradeSQL.rows(UpgradeSQL.sessions, context: context, what: "migration watch") else { return }
            if let w = MigrationWatch.blocked(MigrationWatch.sessions(rows), after: input.blockedAfterSeconds) {
                if blocked.last != w { t.note("warning: \(w)") }
                blocked.append(w)
            }
        })
        guard r.exitCode == 0 else {
            throw FairflowError("the \(purpose) failed", why: "airflow \(command.joined(separator: " ")) exited \(r.exitCode.map(String.init) ?? "without a code") (\(r.task.stoppedReason ?? "")); last lines: \(r.lines.suffix(10).joined(separator: " | "))",
                                fix: purpose == "migrate" ? "the upgrade rolls back; look at the full log with `fairflow logs tail \(ui.rawValue) --since 1h`" : "restore from the snapshot: `fairflow upgrade --rollback RUN_ID --restore snapshot`")
        }
        let revision = watchDB ? try? await UpgradeSteps.revision(context) : nil
        return Output(image: input.image, task: r.task.taskArn, exitCode: 0, revision: revision, seconds: r.seconds, blocked: Array(Set(blocked)))
    }
}

// MARK: 6. roll

public enum UpgradeRoll: FairflowOperation {
    public static let id = "upgrade.roll"
    public static let summary = "Roll every service to a version (a stack update with the stall detector), then start scheduling again."

    public struct Input: Codable, Sendable {
        public var mode: StackMode
        public var airflowVersion: String
        public var image: String?
        /// Desired counts to give back (the quiesce step's); nil: the deployed template's.
        public var counts: [String: Int]?
        public init(mode: StackMode, airflowVersion: String) { self.mode = mode; self.airflowVersion = airflowVersion }
        enum CodingKeys: String, CodingKey { case mode, airflowVersion = "airflow_version", image, counts }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            mode = try c.decode(StackMode.self, forKey: .mode)
            airflowVersion = try c.decode(String.self, forKey: .airflowVersion)
            image = try c.decodeIfPresent(String.self, forKey: .image).flatMap { $0.isEmpty ? nil : $0 }
            counts = try c.decodeIfPresent([String: Int].self, forKey: .counts)
        }
    }

    public struct Output: OperationOutput {
        public var airflowVersion: String
        public var stackStatus: String
        public var counts: [String: Int]
        public var seconds: Double
        public func renderText(_ t: Terminal) -> String { "rolled to Airflow \(airflowVersion) (\(stackStatus)) in \(String(format: "%.0f", seconds)) s\n" }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        var d = Deploy.Input()
        d.mode = input.mode
        d.mode.airflowVersion = input.airflowVersion
        return try await Deploy.plan(d, context: context) + [PlannedAction("ECS UpdateService", mutating: true, detail: "scheduling components back to their counts")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let started = Date()
        var d = Deploy.Input()
        d.mode = input.mode
        d.mode.airflowVersion = input.airflowVersion
        d.mode.image = input.image ?? input.mode.image
        d.onStall = .fail
        context.confirmed = true   // the upgrade was confirmed once, at its start
        let out = try await Deploy.run(d, context: context)
        var counts = input.counts ?? [:]
        if counts.isEmpty {
            let template = try await UpgradeSteps.templateCounts(context)
            for c in UpgradeSteps.schedulingComponents { if let n = template[c.rawValue] { counts[c.rawValue] = n } }
        }
        context.terminal.note("starting scheduling again: \(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        try await UpgradeSteps.setCounts(counts, context: context)
        return Output(airflowVersion: input.airflowVersion, stackStatus: out.status, counts: counts, seconds: Date().timeIntervalSince(started))
    }
}
