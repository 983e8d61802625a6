import AirflowAPI
import AWSCore
import AWSServices
import FairflowTemplate
import Foundation
import MetadataDB

// MARK: 7. verify

public enum UpgradeVerify: FairflowOperation {
    public static let id = "upgrade.verify"
    public static let summary = "Verify a deployment: status healthy, the schema at the version's head, and a canary DAG run to success."

    public struct Input: Codable, Sendable {
        public var canary: String?
        public var timeoutSeconds: Int = 900
        public init() {}
        enum CodingKeys: String, CodingKey { case canary, timeoutSeconds = "timeout_seconds" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            canary = try c.decodeIfPresent(String.self, forKey: .canary).flatMap { $0.isEmpty ? nil : $0 }
            timeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .timeoutSeconds) ?? 900
        }
    }

    public struct Output: OperationOutput {
        public var airflowVersion: String
        public var revision: String?
        public var canary: String?
        public var canaryRun: String?
        public var canaryState: String?
        public func renderText(_ t: Terminal) -> String {
            "verified Airflow \(airflowVersion): healthy, schema \(revision ?? "?")\(canary.map { ", canary \($0) \(canaryState ?? "?")" } ?? "")\n"
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        var p = [PlannedAction("status --watch", detail: "until healthy or \(input.timeoutSeconds) s"), PlannedAction("db check", detail: "the schema at the version's alembic head")]
        if let c = input.canary { p.append(PlannedAction("dags trigger \(c) --wait", mutating: true)) }
        return p
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        var s = Status.Input(watch: true, timeoutSeconds: input.timeoutSeconds)
        s.intervalSeconds = UpgradeSteps.poll(context, default: 10)
        let status = try await Status.run(s, context: context)
        if !status.problems.isEmpty {
            throw FairflowError("verify: the stack is not healthy after \(input.timeoutSeconds) s",
                                why: status.problems.map { "\($0.component): \($0.problem)" }.joined(separator: "; "), fix: "the upgrade rolls back; see `fairflow timeline`")
        }
        let stack = try await StackResources.load(context)
        let version = try stack.output(StackOutputs.airflowVersion, for: "the Airflow version")
        var revision: String?
        if stack.outputs[StackOutputs.bastionInstanceId] != nil {
            let db = try await DbCheck.run(DbCheck.Input(), context: context)
            let failed = db.checks.filter { $0.status == .fail }
            if !failed.isEmpty {
                throw FairflowError("verify: db check failed", why: failed.map { "\($0.name): \($0.detail)" }.joined(separator: "; "), fix: "see `fairflow db check`")
            }
            revision = db.checks.first { $0.name == "schema-revision" }?.detail
        }
        var out = Output(airflowVersion: version, revision: revision, canary: input.canary)
        // `canary` may name several DAGs, comma-separated: each must run to success, in order.
        for dag in (input.canary ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }).filter({ !$0.isEmpty }) {
            context.terminal.note("canary: triggering \(dag) and waiting for it")
            // Right after a roll the new DAG processor may not have parsed the canary's file yet: wait for it.
            let parsedBy = Date().addingTimeInterval(300)
            var run: DagsTrigger.Output
            while true {
                do {
                    run = try await DagsTrigger.run(DagsTrigger.Input(airflow: AirflowTarget(), dagId: dag, unpause: true, wait: true,
                                                                      timeout: Double(input.timeoutSeconds), pollInterval: 2), context: context)
                    break
                } catch AirflowError.dagNotFound where Date() < parsedBy {
                    context.terminal.note("canary: \(dag) is not parsed yet on the new version; waiting")
                    try await Task.sleep(nanoseconds: 10_000_000_000)
                }
            }
            out.canaryRun = run.runId
            out.canaryState = run.state
            if run.state != "success" {
                throw FairflowError("verify: the canary DAG \(dag) ended \(run.state)", why: "run \(run.runId)\(run.failedTasks.isEmpty ? "" : ", failed tasks \(run.failedTasks.joined(separator: ", "))")",
                                    fix: "see `fairflow dags logs \(dag) \(run.runId)`")
            }
        }
        return out
    }
}

// MARK: 8. rollback

public enum UpgradeRollback: FairflowOperation {
    public static let id = "upgrade.rollback"
    public static let summary = "Put a failed upgrade back: the old schema (a downgrade, or the pre-upgrade snapshot), the old images, then verify."

    public enum Restore: String, Codable, Sendable, CaseIterable { case auto, downgrade, snapshot }

    public struct Input: Codable, Sendable {
        public var mode: StackMode
        public var fromVersion: String
        public var fromImage: String?
        /// The image of the version the upgrade went to (its code knows the migrations to undo).
        public var toImage: String
        public var snapshot: String?
        public var restore: Restore = .auto
        public var timeoutSeconds: Int = 900
        public init(mode: StackMode, fromVersion: String, toImage: String) { self.mode = mode; self.fromVersion = fromVersion; self.toImage = toImage }
        enum CodingKeys: String, CodingKey { case mode, fromVersion = "from_version", fromImage = "from_image", toImage = "to_image", snapshot, restore, timeoutSeconds = "timeout_seconds" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            mode = try c.decode(StackMode.self, forKey: .mode)
            fromVersion = try c.decode(String.self, forKey: .fromVersion)
            fromImage = try c.decodeIfPresent(String.self, forKey: .fromImage)
            toImage = try c.decode(String.self, forKey: .toImage)
            snapshot = try c.decodeIfPresent(String.self, forKey: .snapshot).flatMap { $0.isEmpty ? nil : $0 }
            restore = try c.decodeIfPresent(Restore.self, forKey: .restore) ?? .auto
            timeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .timeoutSeconds) ?? 900
        }
    }

    public struct Output: OperationOutput {
        public var airflowVersion: String
        /// none (the schema was never changed), downgrade, snapshot
        public var method: String
        public var restored: String
        public var lost: String
        public var keptInstance: String?
        public var seconds: Double
        public func renderText(_ t: Terminal) -> String {
            var rows = [["rolled back to", "Airflow \(airflowVersion)"], ["schema", method], ["restored", restored], ["lost", lost]]
            if let k = keptInstance { rows.append(["kept", k]) }
            rows.append(["time", String(format: "%.0f s", seconds)])
            return Table(headers: ["ROLLBACK", ""], rows: rows).render(tty: t.isTTY)
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("ECS UpdateService", mutating: true, detail: "scheduler, dag-processor, triggerer to 0"),
         PlannedAction("SSM SendCommand AWS-RunShellScript", detail: "the schema revision"),
         PlannedAction("ECS RunTask", mutating: true, detail: "airflow db downgrade --to-revision (head of \(input.fromVersion)) -y with \(input.toImage)"),
         PlannedAction("RDS ModifyDBInstance + RestoreDBInstanceFromDBSnapshot", mutating: true, detail: "when a downgrade is not possible: \(input.snapshot ?? "no snapshot")"),
         PlannedAction("deploy Airflow \(input.fromVersion)", mutating: true), PlannedAction("status --watch + db check")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let started = Date()
        let t = context.terminal
        let stack = try await StackResources.load(context)
        let template = try await UpgradeSteps.templateCounts(context)
        var counts: [String: Int] = [:]
        for c in UpgradeSteps.schedulingComponents where stack.components.contains(c) { counts[c.rawValue] = max(template[c.rawValue] ?? 1, 1) }
        t.note("rollback to Airflow \(input.fromVersion): pausing scheduling")
        try await UpgradeSteps.setCounts(counts.mapValues { _ in 0 }, context: context)
        let oldHead = AirflowRevisions.expectedHead(forAirflow: input.fromVersion)
        let current = try await UpgradeSteps.revision(context)
        var method = "none", restored = "nothing: the schema was still Airflow \(input.fromVersion)'s (\(current ?? "?"))"
        var lost = "nothing", kept: String?
        let sameMajor = UpgradePath.parse(input.fromVersion)[0] == UpgradePath.parse(input.toImage.split(separator: ":").last.map(String.init) ?? "")[0]
        if current != nil && current != oldHead {
            var downgraded = false
            if input.restore != .snapshot, let head = oldHead, sameMajor || input.restore == .downgrade {
                t.note("schema at \(current!): downgrading to \(head) (Airflow \(input.fromVersion)) with \(input.toImage)")
                var m = UpgradeMigrate.Input(image: input.toImage)
                m.command = ["db", "downgrade", "--to-revision", head, "-y"]
                do {
                    _ = try await UpgradeMigrate.run(m, context: context)
                    downgraded = try await UpgradeSteps.revision(context) == head
                } catch {
                    t.note("the downgrade failed: \(error)")
                    if input.restore == .downgrade { throw error }
                }
                if downgraded {
                    method = "downgrade"
                    restored = "the schema, downgraded in place from \(current!) to \(head) by Airflow's own migrations"
                    lost = "nothing written since the snapshot: every DAG run and task instance is kept (only columns new in the upgrade are dropped)"
                }
            }
            if !downgraded {
                guard let snap = input.snapshot else {
                    throw FairflowError("rollback: cannot restore the old schema", why: "a downgrade was not possible and the run has no snapshot",
                                        fix: "restore a snapshot of the database by hand (`aws rds restore-db-instance-from-db-snapshot`)")
                }
                let rds = UpgradeRDS(aws: try context.aws())
                let db = try await UpgradeRDS.instanceId(context)
                let taken = try await rds.snapshot(snap)?.created
                let aside = UpgradeSnapshot.identifier("\(db)-failed-upgrade-\(Int(started.timeIntervalSince1970))")
                t.note("restoring \(db) from snapshot \(snap): the upgraded database moves aside as \(aside)")
                try await rds.restoreInPlace(instance: db, snapshot: snap, asideAs: aside, poll: UpgradeSteps.poll(context, default: 15)) { t.note($0) }
                method = "snapshot"
                let when = taken.map { ISO8601DateFormatter().string(from: $0) } ?? "the upgrade's start"
                restored = "the whole database from snapshot \(snap) (taken \(when))"
                lost = "everything written to the database after \(when): DAG runs, task instances, connections, variables and users changed since (they are still in \(aside))"
                kept = "\(aside): the upgraded database, kept for inspection — delete it with `aws rds delete-db-instance --db-instance-identifier \(aside) --skip-final-snapshot`"
            }
        }
        t.note("rolling every service back to Airflow \(input.fromVersion)")
        var roll = UpgradeRoll.Input(mode: input.mode, airflowVersion: input.fromVersion)
        roll.image = input.mode.image
        roll.counts = counts
        _ = try await UpgradeRoll.run(roll, context: context)
        _ = try await UpgradeVerify.run({ var v = UpgradeVerify.Input(); v.timeoutSeconds = input.timeoutSeconds; return v }(), context: context)
        let out = Output(airflowVersion: input.fromVersion, method: method, restored: restored, lost: lost, keptInstance: kept, seconds: Date().timeIntervalSince(started))
        t.note("rolled back to Airflow \(input.fromVersion): restored \(restored); lost: \(lost)")
        return out
    }
}
