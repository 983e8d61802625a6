import AirflowAPI
import AWSCore
import AWSServices
import FairflowTemplate
import Foundation
import MetadataDB

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
