import AirflowAPI
import AWSCore
import AWSServices
import FairflowTemplate
import Foundation
import MetadataDB

/// `fairflow upgrade`: the steps of a guarded Airflow upgrade, each an operation (and a step of
/// runbooks/upgrade.yaml, which the command runs): preflight, import test, snapshot, quiesce, migrate,
/// roll, verify, and rollback when migrate, roll or verify fail.
public enum UpgradeSteps {
    public static let all: [any FairflowOperation.Type] = [
        UpgradePreflight.self, UpgradeImportTest.self, UpgradeSnapshot.self, UpgradeQuiesce.self,
        UpgradeMigrate.self, UpgradeRoll.self, UpgradeVerify.self, UpgradeRollback.self,
    ]

    /// The components that schedule work: stopped before the migration, started again by the roll.
    static let schedulingComponents: [AirflowComponent] = [.scheduler, .dagProcessor, .triggerer]

    static func image(_ mode: StackMode, version: String, image: String?, context: Context) throws -> String {
        var m = mode
        m.airflowVersion = version
        m.image = image
        return try StackTemplate.options(m, context: context).airflowImage
    }

    static func poll(_ context: Context, default d: Double) -> Double {
        Double(context.environment["FAIRFLOW_POLL_SECONDS"] ?? "").map { max($0, 0.5) } ?? d
    }

    /// The desired count each service has in the deployed template (what the stack should run).
    static func templateCounts(_ context: Context) async throws -> [String: Int] {
        let body = try await CloudFormation(try context.aws()).templateBody(context.stackName)
        guard let root = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let resources = root["Resources"] as? [String: Any] else { return [:] }
        var out: [String: Int] = [:]
        for c in AirflowComponent.allCases {
            guard let sc = c.stackComponent, let r = resources["\(sc.rawValue)Service"] as? [String: Any],
                  let n = (r["Properties"] as? [String: Any])?["DesiredCount"] as? Int else { continue }
            out[c.rawValue] = n
        }
        return out
    }

    /// Sets each component's desired count and waits until they are steady.
    static func setCounts(_ counts: [String: Int], context: Context, timeout: Double = 900) async throws {
        guard !counts.isEmpty else { return }
        let stack = try await StackResources.load(context)
        let cluster = try stack.cluster
        let ecs = ECS(try context.aws())
        var names: [String] = []
        for (c, n) in counts.sorted(by: { $0.key < $1.key }) {
            guard let comp = AirflowComponent(rawValue: c), stack.components.contains(comp) else { continue }
            let s = try stack.serviceName(comp)
            try await ecs.updateService(cluster: cluster, service: s, desiredCount: n)
            context.terminal.note("\(c): desired count \(n)")
            names.append(s)
        }
        let last = LastLine()
        _ = try await ecs.waitUntilStable(cluster: cluster, names, timeout: timeout, maxDelay: poll(context, default: 10)) { services in
            let line = services.map { "\($0.serviceName.split(separator: "-").dropFirst().first ?? Substring($0.serviceName)) \($0.runningCount)/\($0.desiredCount)" }.joined(separator: ", ")
            if last.swap(line) != line { context.terminal.note("waiting: \(line)") }
        }
    }

    /// The one-off tasks' family, per purpose: `<stack>-upgrade-<purpose>`.
    static func family(_ context: Context, _ purpose: String) -> String { "\(context.stackName)-upgrade-\(purpose)" }

    /// The database's schema revision, read through the bastion.
    static func revision(_ context: Context) async throws -> String? {
        try await UpgradeSQL.rows(UpgradeSQL.revision, context: context, what: "upgrade").first?.first ?? nil
    }
}

// MARK: 1. preflight

public enum UpgradePreflight: FairflowOperation {
    public static let id = "upgrade.preflight"
    public static let summary = "Check an upgrade can start: the version path, the metadata database's size, the stack's health."

    public struct Input: Codable, Sendable {
        public var airflowVersion: String
        public var image: String?
        public var force = false
        public var warnGigabytes: Double = 10
        public var maxGigabytes: Double = 50
        public init(airflowVersion: String) { self.airflowVersion = airflowVersion }
        enum CodingKeys: String, CodingKey { case airflowVersion = "airflow_version", image, force, warnGigabytes = "warn_gigabytes", maxGigabytes = "max_gigabytes" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            airflowVersion = try c.decode(String.self, forKey: .airflowVersion)
            image = try c.decodeIfPresent(String.self, forKey: .image).flatMap { $0.isEmpty ? nil : $0 }
            force = try c.decodeIfPresent(Bool.self, forKey: .force) ?? false
            warnGigabytes = try c.decodeIfPresent(Double.self, forKey: .warnGigabytes) ?? 10
            maxGigabytes = try c.decodeIfPresent(Double.self, forKey: .maxGigabytes) ?? 50
        }
    }

    public struct Output: OperationOutput {
        public var fromVersion: String
        public var toVersion: String
        public var fromImage: String
        public var toImage: String
        public var mode: StackMode
        public var fromRevision: String?
        public var databaseMegabytes: Double?
        public var largestTables: [String]
        public var warnings: [String]

        public func renderText(_ t: Terminal) -> String {
            var rows = [["upgrade", "Airflow \(fromVersion) → \(toVersion)"], ["images", "\(fromImage) → \(toImage)"],
                        ["mode", "\(mode.ha ? "HA" : "not HA")\(mode.autoscaling ? ", autoscaling" : "")\(mode.noBastion ? ", no bastion" : ", bastion")\(mode.image.map { ", image \($0)" } ?? "")"]]
            if let r = fromRevision { rows.append(["schema", r]) }
            if let mb = databaseMegabytes { rows.append(["database", String(format: "%.1f MB (largest: %@)", mb, largestTables.prefix(3).joined(separator: ", "))]) }
            for w in warnings { rows.append(["warning", w]) }
            return Table(headers: ["PREFLIGHT", ""], rows: rows).render(tty: t.isTTY)
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("CloudFormation DescribeStacks + GetTemplate", detail: "the running version and mode"),
         PlannedAction("status (ECS, ELB, RDS, ElastiCache, EFS)", detail: "the stack must be healthy"),
         PlannedAction("SSM SendCommand AWS-RunShellScript", detail: "the metadata tables' sizes and schema revision, read on the bastion")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let stack = try await StackResources.load(context)
        let from = try stack.output(StackOutputs.airflowVersion, for: "the running Airflow version")
        guard let to = AirflowVersions.resolve(input.airflowVersion) else {
            throw FairflowError.usage("unknown Airflow version \(input.airflowVersion)", why: "fairflow deploys \(AirflowVersions.supported.joined(separator: ", "))",
                                      fix: "pass one of them")
        }
        let path = UpgradePath.check(from: from, to: to)
        if let refusal = path.refusal { throw FairflowError.usage("upgrade refused", why: refusal, fix: path.fix) }
        var warnings = path.warnings
        let mode = try DeployedMode.detect(template: try await CloudFormation(try context.aws()).templateBody(context.stackName), airflowVersion: from)
        if mode.image != nil && input.image == nil {
            throw FairflowError.usage("the stack runs a custom image (\(mode.image!))", why: "fairflow cannot tell which image holds Airflow \(to)",
                                      fix: "pass --image with your image built on apache/airflow:\(to)")
        }
        let fromImage = try UpgradeSteps.image(mode, version: from, image: mode.image, context: context)
        let toImage = try UpgradeSteps.image(mode, version: to, image: input.image, context: context)
        let t = context.terminal
        t.note("upgrade: Airflow \(from) → \(to); checking the stack's health")
        let health = try await Status.run(Status.Input(), context: context)
        if !health.problems.isEmpty {
            let list = health.problems.map { "\($0.component): \($0.problem)" }.joined(separator: "; ")
            if !input.force {
                throw FairflowError("upgrade refused: the stack is not healthy", why: list, fix: "fix it first (`fairflow status`, `fairflow timeline`), or pass --force")
            }
            warnings.append("the stack is not healthy (--force): \(list)")
        }
        var megabytes: Double?, largest: [String] = [], revision: String?
        if mode.noBastion {
            warnings.append("no bastion: the database's size and schema were not read")
        } else {
            let (_, answers) = try await DatabaseThroughSSM.answers(context: context, timeoutSeconds: 120,
                                                                    statements: [UpgradeSQL.tableSizes, UpgradeSQL.revision], what: "upgrade preflight")
            let sizes = (answers[UpgradeSQL.tableSizes]?.rows ?? []).compactMap { r -> (String, Double)? in
                guard r.count >= 2, let n = r[0], let mb = r[1].flatMap(Double.init) else { return nil }
                return (n, mb)
            }
            megabytes = sizes.reduce(0) { $0 + $1.1 }
            largest = sizes.prefix(5).map { String(format: "%@ %.1f MB", $0.0, $0.1) }
            revision = answers[UpgradeSQL.revision]?.rows.first?.first ?? nil
            let gb = (megabytes ?? 0) / 1024
            if gb > input.maxGigabytes && !input.force {
                throw FairflowError("upgrade refused: the metadata database holds \(String(format: "%.1f", gb)) GB", why: "above \(Int(input.maxGigabytes)) GB a migration can run for hours (largest: \(largest.prefix(3).joined(separator: ", ")))",
                                    fix: "clean old rows first (`airflow db clean --clean-before-timestamp ...` in a one-off task), or pass --force")
            }
            if gb > input.warnGigabytes { warnings.append(String(format: "the metadata database holds %.1f GB: the migration may take long", gb)) }
        }
        for w in warnings { t.note("warning: \(w)") }
        return Output(fromVersion: from, toVersion: to, fromImage: fromImage, toImage: toImage, mode: mode, fromRevision: revision,
                      databaseMegabytes: megabytes, largestTables: largest, warnings: warnings)
    }
}

// MARK: 2. import test

public enum UpgradeImportTest: FairflowOperation {
    public static let id = "upgrade.import-test"
    public static let summary = "Parse the DAGs on EFS with the new Airflow in a one-off task; fail, listing the broken DAGs, before anything changes."

    public struct Input: Codable, Sendable {
        public var image: String
        public var timeoutSeconds: Double = 900
        public init(image: String) { self.image = image }
        enum CodingKeys: String, CodingKey { case image, timeoutSeconds = "timeout_seconds" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            image = try c.decode(String.self, forKey: .image)
            timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? 900
        }
    }

    public struct Output: OperationOutput {
        public var image: String
        public var dags: [String]
        public var errors: [String: String]
        public var task: String
        public var seconds: Double
        public func renderText(_ t: Terminal) -> String {
            "import test with \(image): \(dags.count) DAGs parse (\(dags.joined(separator: ", "))) in \(String(format: "%.0f", seconds)) s\n"
        }
    }

    /// Parses the DAGs folder as the DAG processor would, without the database; one JSON line at the end.
    static let script = """
        import inspect, json, os, sys
        try:
            from airflow.dag_processing.dagbag import DagBag
        except ImportError:
            from airflow.models.dagbag import DagBag
        folder = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER") or sys.argv[1]
        kw = {"include_examples": False} if "include_examples" in inspect.signature(DagBag.__init__).parameters else {}
        bag = DagBag(dag_folder=folder, **kw)
        errors = {os.path.relpath(k, folder): (v.strip().splitlines() or ["?"])[-1] for k, v in bag.import_errors.items()}
        print("FAIRFLOW-IMPORT-TEST " + json.dumps({"dags": sorted(bag.dag_ids), "errors": errors}), flush=True)
        """
    static let marker = "FAIRFLOW-IMPORT-TEST "

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("ECS DescribeServices + DescribeTaskDefinition", detail: "the scheduler's task, to copy"),
         PlannedAction("ECS RegisterTaskDefinition", mutating: true, detail: "\(UpgradeSteps.family(context, "import-test")) with \(input.image)"),
         PlannedAction("ECS RunTask", mutating: true, detail: "parse the DAGs folder (no database writes)"),
         PlannedAction("ECS DescribeTasks + CloudWatch Logs FilterLogEvents", detail: "until it stops"),
         PlannedAction("ECS DeregisterTaskDefinition", mutating: true)]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let stack = try await StackResources.load(context)
        let aws = try context.aws()
        let task = try await OneOffTask.make(aws, cluster: try stack.cluster, service: try stack.serviceName(.scheduler), from: "scheduler",
                                             name: "import-test", image: input.image, command: ["python", "-c", script, "/opt/airflow/dags"],
                                             family: UpgradeSteps.family(context, "import-test"))
        context.terminal.note("import test: parsing the DAGs with \(input.image) in a one-off task")
        let r = try await task.run(token: { context.idempotencyToken("upgrade.import-test|\($0)") }, poll: UpgradeSteps.poll(context, default: 3),
                                   timeout: input.timeoutSeconds, onLine: { _ in })
        guard let line = r.lines.last(where: { $0.contains(marker) }),
              let json = line.range(of: marker).map({ String(line[$0.upperBound...]) }),
              let doc = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw FairflowError("the import test did not finish", why: "the task stopped (\(r.task.stoppedReason ?? "?"), exit \(r.exitCode.map(String.init) ?? "none")) without a result; its last lines: \(r.lines.suffix(10).joined(separator: " | "))",
                                fix: "check the image \(input.image) runs (`fairflow logs tail scheduler`), then run the upgrade again")
        }
        let dags = doc["dags"] as? [String] ?? []
        let errors = doc["errors"] as? [String: String] ?? [:]
        if !errors.isEmpty {
            let list = errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            for l in list { context.terminal.note("  broken on the new version: \(l)") }
            throw FairflowError("upgrade refused: \(errors.count) DAG file\(errors.count == 1 ? "" : "s") fail\(errors.count == 1 ? "s" : "") to import with \(input.image)",
                                why: list.joined(separator: "; "),
                                fix: "fix them in the DAG repository (nothing was changed: the stack still runs the old version), then run the upgrade again")
        }
        return Output(image: input.image, dags: dags, errors: errors, task: r.task.taskArn, seconds: r.seconds)
    }
}

// MARK: 3. snapshot

public enum UpgradeSnapshot: FairflowOperation {
    public static let id = "upgrade.snapshot"
    public static let summary = "Take an RDS snapshot of the metadata database, named after the run, and wait until it is available."

    public struct Input: Codable, Sendable {
        public var name: String
        public var timeoutSeconds: Double = 3600
        public init(name: String) { self.name = name }
        enum CodingKeys: String, CodingKey { case name, timeoutSeconds = "timeout_seconds" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            timeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? 3600
        }
    }

    public struct Output: OperationOutput {
        public var snapshotId: String
        public var dbInstance: String
        public var createdAt: Date?
        public var seconds: Double
        public func renderText(_ t: Terminal) -> String { "snapshot \(snapshotId) of \(dbInstance) available in \(String(format: "%.0f", seconds)) s\n" }
    }

    /// RDS identifiers: letters, digits, single hyphens, starting with a letter, at most 255 characters.
    public static func identifier(_ name: String) -> String {
        var s = name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.reduce(into: "") { acc, ch in
            if ch == "-" && acc.hasSuffix("-") { return }
            acc.append(ch)
        }
        while s.hasSuffix("-") { s.removeLast() }
        if !(s.first?.isLetter ?? false) { s = "s" + s }
        return String(s.prefix(255))
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("CloudFormation DescribeStackResources", detail: "the DB instance"),
         PlannedAction("RDS CreateDBSnapshot", mutating: true, detail: identifier(input.name)),
         PlannedAction("RDS DescribeDBSnapshots", detail: "until available")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let id = identifier(input.name)
        let db = try await UpgradeRDS.instanceId(context)
        let rds = UpgradeRDS(aws: try context.aws())
        let started = Date()
        try await rds.createSnapshot(id, instance: db, tags: [("fairflow:stack", context.stackName), ("fairflow:purpose", "upgrade")])
        let s = try await rds.waitSnapshot(id, timeout: input.timeoutSeconds, poll: UpgradeSteps.poll(context, default: 10)) {
            context.terminal.note("snapshot \(id): \($0.status)\($0.progress.map { " \($0)%" } ?? "") (\(Int(Date().timeIntervalSince(started))) s)")
        }
        return Output(snapshotId: id, dbInstance: db, createdAt: s.created, seconds: Date().timeIntervalSince(started))
    }
}

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
