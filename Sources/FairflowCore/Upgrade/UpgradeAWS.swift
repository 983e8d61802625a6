import AWSCore
import AWSServices
import FairflowTemplate
import Foundation

/// A one-off task made from one of the stack's services: its task definition with one container kept, given
/// another image and command, registered under its own family, run in the service's subnets and security
/// groups, followed to its end with its log lines, then deregistered (nothing is left behind).
struct OneOffTask {
    let aws: AWSClient
    let cluster: String
    let family: String
    let container: String
    let network: [String: Any]
    let definition: [String: Any]
    let logGroup: String
    let streamPrefix: String

    /// `service`: the stack's ECS service; `from`: its container to keep (others are dropped, and with them dependsOn).
    static func make(_ aws: AWSClient, cluster: String, service: String, from: String, name: String, image: String,
                     command: [String], dropEnvironment: (String) -> Bool = { _ in false }, family: String) async throws -> OneOffTask {
        let svc = try await aws.send(.json(.ecs, "DescribeServices", ["cluster": cluster, "services": [service]])).json
        guard let s = (svc["services"] as? [[String: Any]])?.first, let tdArn = s["taskDefinition"] as? String,
              let network = s["networkConfiguration"] as? [String: Any] else {
            throw ECSError.serviceNotFound(cluster: cluster, service: service)
        }
        let td = (try await aws.send(.json(.ecs, "DescribeTaskDefinition", ["taskDefinition": tdArn])).json["taskDefinition"] as? [String: Any]) ?? [:]
        guard var c = (td["containerDefinitions"] as? [[String: Any]])?.first(where: { $0["name"] as? String == from }) else {
            throw FairflowError("cannot make the \(name) task", why: "\(tdArn) has no container \(from)", fix: "update the stack with `fairflow deploy`")
        }
        c["name"] = name
        c["image"] = image
        c["command"] = command
        c["essential"] = true
        for k in ["dependsOn", "healthCheck", "portMappings"] { c.removeValue(forKey: k) }
        c["environment"] = ((c["environment"] as? [[String: Any]]) ?? []).filter { !dropEnvironment(($0["name"] as? String) ?? "") }
        c["secrets"] = ((c["secrets"] as? [[String: Any]]) ?? []).filter { !dropEnvironment(($0["name"] as? String) ?? "") }
        var def: [String: Any] = ["family": family, "containerDefinitions": [c]]
        for k in ["taskRoleArn", "executionRoleArn", "networkMode", "volumes", "requiresCompatibilities", "cpu", "memory", "runtimePlatform"] {
            if let v = td[k] { def[k] = v }
        }
        let options = ((c["logConfiguration"] as? [String: Any])?["options"] as? [String: String]) ?? [:]
        return OneOffTask(aws: aws, cluster: cluster, family: family, container: name, network: network, definition: def,
                          logGroup: options["awslogs-group"] ?? "", streamPrefix: options["awslogs-stream-prefix"] ?? name)
    }

    struct Result {
        var task: ECSTask
        var exitCode: Int?
        var lines: [String]
        var seconds: Double
    }

    /// Registers, runs (once per `token` and definition: a resumed step finds the same task), follows, deregisters.
    /// `onLine` sees each log line as it arrives; `tick` runs between polls (the migration's database watch).
    func run(token: (String) -> String, poll: Double, timeout: Double, onLine: (String) -> Void,
             tick: (() async -> Void)? = nil) async throws -> Result {
        let arn = try await register()
        do {
            let r = try await run(arn, token: token(arn), poll: poll, timeout: timeout, onLine: onLine, tick: tick)
            await OneOffTask.deregisterAll(aws, family: family)
            return r
        } catch {
            await OneOffTask.deregisterAll(aws, family: family)
            throw error
        }
    }

    private func run(_ arn: String, token: String, poll: Double, timeout: Double, onLine: (String) -> Void,
                     tick: (() async -> Void)?) async throws -> Result {
        let ecs = ECS(aws)
        let started = Date()
        let p: [String: Any] = ["cluster": cluster, "taskDefinition": arn, "count": 1, "launchType": "FARGATE",
                                "networkConfiguration": network, "startedBy": "fairflow-upgrade", "clientToken": token]
        let r = try await aws.send(.json(.ecs, "RunTask", p, mutating: true)).decode(RunTaskResult.self)
        guard let task = r.tasks?.first else { throw ECSError.runTaskFailed(r.failures ?? []) }
        let logs = CloudWatchLogs(aws)
        let stream = "\(streamPrefix)/\(container)/\(task.taskId)"
        var seen = 0
        var lines: [String] = []
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let t = try await ecs.describeTasks(cluster: cluster, [task.taskArn]).first ?? task
            let events = (try? await logs.filterLogEvents(LogFilter(group: logGroup, streamNames: [stream])).all()) ?? []
            if events.count > seen {
                for e in events[seen...] { lines.append(e.message); onLine(e.message) }
                seen = events.count
            }
            if t.lastStatus == "STOPPED" {
                let code = t.containers?.first { $0.name == container }?.exitCode
                return Result(task: t, exitCode: code, lines: lines, seconds: Date().timeIntervalSince(started))
            }
            guard Date() < deadline else {
                _ = try? await aws.send(.json(.ecs, "StopTask", ["cluster": cluster, "task": task.taskArn, "reason": "fairflow upgrade: timed out"], mutating: true))
                throw FairflowError("the \(container) task did not finish in \(Int(timeout)) s", why: "it was \(t.lastStatus ?? "?"); it has been stopped",
                                    fix: "look at its log (\(logGroup) \(stream)), then resume the run")
            }
            if let tick { await tick() }
            try await Task.sleep(nanoseconds: UInt64(poll * 1e9))
        }
    }

    /// The family's ACTIVE revision if it is this very definition (a killed run registered it: the resumed one
    /// must run the same so RunTask's client token matches), else a new revision.
    func register() async throws -> String {
        let want = (definition["containerDefinitions"] as? [[String: Any]])?.first
        let list = try? await aws.send(.json(.ecs, "ListTaskDefinitions", ["familyPrefix": family, "status": "ACTIVE", "sort": "DESC"])).json
        for arn in (list?["taskDefinitionArns"] as? [String]) ?? [] where arn.contains(":task-definition/\(family):") {
            let td = try? await aws.send(.json(.ecs, "DescribeTaskDefinition", ["taskDefinition": arn])).json["taskDefinition"] as? [String: Any]
            let have = (td?["containerDefinitions"] as? [[String: Any]])?.first
            if have?["image"] as? String == want?["image"] as? String, have?["command"] as? [String] == want?["command"] as? [String] { return arn }
            _ = try? await aws.send(.json(.ecs, "DeregisterTaskDefinition", ["taskDefinition": arn], mutating: true))
        }
        let reg = try await aws.send(.json(.ecs, "RegisterTaskDefinition", definition, mutating: true)).json
        return ((reg["taskDefinition"] as? [String: Any])?["taskDefinitionArn"] as? String) ?? family
    }

    struct RunTaskResult: Decodable { var tasks: [ECSTask]?; var failures: [ECSFailure]? }

    /// Every ACTIVE revision of the family (a killed run may have left one).
    static func deregisterAll(_ aws: AWSClient, family: String) async {
        guard let r = try? await aws.send(.json(.ecs, "ListTaskDefinitions", ["familyPrefix": family, "status": "ACTIVE"])).json else { return }
        for arn in (r["taskDefinitionArns"] as? [String]) ?? [] where arn.contains(":task-definition/\(family):") {
            _ = try? await aws.send(.json(.ecs, "DeregisterTaskDefinition", ["taskDefinition": arn], mutating: true))
        }
    }
}

/// The stack's database instance and its snapshots (RDS query API).
struct UpgradeRDS {
    let aws: AWSClient

    struct Snapshot { var id: String; var status: String; var progress: Int?; var created: Date? }

    static func instanceId(_ context: Context) async throws -> String {
        let rs = try await CloudFormation(try context.aws()).resources(context.stackName)
        guard let id = rs.first(where: { $0.resourceType == "AWS::RDS::DBInstance" })?.physicalId else {
            throw FairflowError("stack \(context.stackName) has no RDS instance", why: "no AWS::RDS::DBInstance resource", fix: "deploy the stack with fairflow")
        }
        return id
    }

    func snapshot(_ id: String) async throws -> Snapshot? {
        do {
            let x = try await aws.send(.query(.rds, "DescribeDBSnapshots", [("DBSnapshotIdentifier", id)])).xml
            guard let s = x?.list("DBSnapshots", item: "DBSnapshot").first else { return nil }
            return Snapshot(id: id, status: s.string("Status") ?? "?", progress: s.string("PercentProgress").flatMap { Int($0) },
                            created: s.string("SnapshotCreateTime").flatMap(AWSDate.parse))
        } catch let e as AWSError where e.code == "DBSnapshotNotFound" || e.code == "DBSnapshotNotFoundFault" {
            return nil
        }
    }

    func createSnapshot(_ id: String, instance: String, tags: [(String, String)]) async throws {
        var p = [("DBInstanceIdentifier", instance), ("DBSnapshotIdentifier", id)]
        for (i, t) in tags.enumerated() { p += [("Tags.Tag.\(i + 1).Key", t.0), ("Tags.Tag.\(i + 1).Value", t.1)] }
        do {
            _ = try await aws.send(.query(.rds, "CreateDBSnapshot", p, mutating: true))
        } catch let e as AWSError where e.code == "DBSnapshotAlreadyExists" || e.code == "DBSnapshotAlreadyExistsFault" {
            // a retried or resumed step: the snapshot is this run's already
        }
    }

    /// Polls until `available`; `progress` sees each state change.
    func waitSnapshot(_ id: String, timeout: Double, poll: Double, progress: (Snapshot) -> Void) async throws -> Snapshot {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while true {
            guard let s = try await snapshot(id) else {
                throw FairflowError("snapshot \(id) vanished", why: "DescribeDBSnapshots no longer knows it", fix: "start the upgrade again")
            }
            let line = "\(s.status)\(s.progress.map { " \($0)%" } ?? "")"
            if line != last { last = line; progress(s) }
            if s.status == "available" { return s }
            if ["failed", "deleted", "incompatible-restore"].contains(s.status) {
                throw FairflowError("snapshot \(id) is \(s.status)", why: "RDS could not take it", fix: "look at `aws rds describe-events --source-type db-snapshot`")
            }
            guard Date() < deadline else { throw FairflowError("snapshot \(id) not available after \(Int(timeout)) s", why: "it is \(s.status)", fix: "wait for it, then resume the run") }
            try await Task.sleep(nanoseconds: UInt64(poll * 1e9))
        }
    }

    struct Instance { var id: String; var status: String; var subnetGroup: String?; var securityGroups: [String]; var instanceClass: String?; var multiAZ: Bool }

    func instance(_ id: String) async throws -> Instance? {
        do {
            let x = try await aws.send(.query(.rds, "DescribeDBInstances", [("DBInstanceIdentifier", id)])).xml
            guard let i = x?.list("DBInstances", item: "DBInstance").first else { return nil }
            let sgs = (i["VpcSecurityGroups"]?.children ?? []).compactMap { $0.string("VpcSecurityGroupId") }
            return Instance(id: id, status: i.string("DBInstanceStatus") ?? "?", subnetGroup: i["DBSubnetGroup"]?.string("DBSubnetGroupName"),
                            securityGroups: sgs, instanceClass: i.string("DBInstanceClass"), multiAZ: i.string("MultiAZ") == "true")
        } catch let e as AWSError where e.code == "DBInstanceNotFound" || e.code == "DBInstanceNotFoundFault" {
            return nil
        }
    }

    func waitInstance(_ id: String, timeout: Double, poll: Double, note: (String) -> Void) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            let s = try await instance(id)?.status ?? "absent"
            if s != last { last = s; note("database \(id): \(s)") }
            if s == "available" { return }
            try await Task.sleep(nanoseconds: UInt64(poll * 1e9))
        }
        throw FairflowError("database \(id) not available after \(Int(timeout)) s", why: "it is \(last)", fix: "wait for it, then run the rollback again")
    }

    /// Moves the instance's endpoint name aside (ModifyDBInstance NewDBInstanceIdentifier) and restores the snapshot
    /// under the original name, so the stack's endpoint, secret and security groups stay as they are.
    func restoreInPlace(instance id: String, snapshot: String, asideAs aside: String, poll: Double, note: (String) -> Void) async throws {
        guard let current = try await instance(id) else {
            throw FairflowError("database \(id) not found", why: "RDS does not know it", fix: "check the stack's resources")
        }
        if try await instance(aside) == nil {
            _ = try await aws.send(.query(.rds, "ModifyDBInstance", [("DBInstanceIdentifier", id), ("NewDBInstanceIdentifier", aside),
                                                                     ("ApplyImmediately", "true")], mutating: true))
        }
        try await waitInstance(aside, timeout: 1800, poll: poll, note: note)
        var p = [("DBInstanceIdentifier", id), ("DBSnapshotIdentifier", snapshot), ("MultiAZ", current.multiAZ ? "true" : "false"),
                 ("PubliclyAccessible", "false")]
        if let g = current.subnetGroup { p.append(("DBSubnetGroupName", g)) }
        if let c = current.instanceClass { p.append(("DBInstanceClass", c)) }
        for (i, sg) in current.securityGroups.enumerated() { p.append(("VpcSecurityGroupIds.VpcSecurityGroupId.\(i + 1)", sg)) }
        do {
            _ = try await aws.send(.query(.rds, "RestoreDBInstanceFromDBSnapshot", p, mutating: true))
        } catch let e as AWSError where e.code == "DBInstanceAlreadyExists" || e.code == "DBInstanceAlreadyExistsFault" {
            // resumed: the restore is under way
        }
        try await waitInstance(id, timeout: 3600, poll: poll, note: note)
    }
}

/// Read-only statements on the metadata database through the bastion (SSM Run Command).
enum UpgradeSQL {
    /// One statement's rows; throws the database's error.
    static func rows(_ sql: String, context: Context, what: String) async throws -> [[String?]] {
        let (_, answers) = try await DatabaseThroughSSM.answers(context: context, timeoutSeconds: 120, statements: [sql], what: what)
        guard let a = answers[sql] else { throw FairflowError("\(what): no answer from the bastion", why: "its output had no result", fix: "check the bastion's SSM agent") }
        if a.status != 0 { throw FairflowError("\(what): the query failed", why: a.error, fix: "check the database with `fairflow db check`") }
        return a.rows
    }

    static let tableSizes = """
        SELECT table_name, ROUND((data_length + index_length) / 1048576, 1) FROM information_schema.tables \
        WHERE table_schema = DATABASE() ORDER BY (data_length + index_length) DESC
        """
    static let running = "SELECT dag_id, task_id, run_id, state FROM task_instance WHERE state IN ('running', 'queued') ORDER BY dag_id, task_id"
    static let revision = "SELECT version_num FROM alembic_version"
    /// Sessions doing something (not the watcher's own), longest first; and open transactions (possible lock holders).
    static let sessions = """
        SELECT p.ID, p.USER, p.TIME, p.STATE, LEFT(REPLACE(p.INFO, '\\n', ' '), 160), t.trx_started \
        FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID \
        WHERE p.ID <> CONNECTION_ID() AND (p.COMMAND <> 'Sleep' OR t.trx_id IS NOT NULL) ORDER BY p.TIME DESC
        """
}

/// What the migration watch says about the database's sessions: a statement waiting on a lock, and who may hold it.
public enum MigrationWatch {
    public struct Session: Equatable, Sendable {
        public var id: String, user: String, seconds: Int, state: String, statement: String, transactionStarted: String?
    }

    public static func sessions(_ rows: [[String?]]) -> [Session] {
        rows.compactMap { r in
            guard r.count >= 6, let id = r[0] else { return nil }
            return Session(id: id, user: r[1] ?? "", seconds: Int(r[2] ?? "") ?? 0, state: r[3] ?? "", statement: r[4] ?? "", transactionStarted: r[5])
        }
    }

    /// A warning when a session waits on a lock longer than `after` seconds, naming the sessions that hold
    /// transactions open (the likely blockers); nil when nothing waits.
    public static func blocked(_ sessions: [Session], after: Int) -> String? {
        guard let waiting = sessions.first(where: { $0.state.lowercased().contains("lock") && $0.seconds >= after }) else { return nil }
        let holders = sessions.filter { $0.id != waiting.id && $0.transactionStarted != nil }
        let named = holders.isEmpty ? "no open transaction found (a session may hold a metadata lock outside one)"
            : holders.map { "session \($0.id) (\($0.user), \($0.seconds) s\($0.statement.isEmpty ? ", idle in a transaction" : ": \($0.statement)"))" }.joined(separator: "; ")
        return "the migration's statement (session \(waiting.id)) has waited \(waiting.seconds) s: \(waiting.state) — \(waiting.statement); blocking: \(named); end the blocker with `CALL mysql.rds_kill(ID)`"
    }
}
