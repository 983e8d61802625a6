import FairflowTemplate
import Foundation

/// Which Airflow upgrades `fairflow upgrade` takes: forward only, Airflow 2 → 3 only from the newest 2.x minor,
/// a skipped minor named (Airflow migrates across minors in one step, but each minor's notes apply).
public enum UpgradePath {
    public struct Verdict: Equatable, Sendable {
        public var refusal: String?
        public var fix: String?
        public var warnings: [String] = []
    }

    public static func check(from: String, to: String, supported: [String] = AirflowVersions.supported) -> Verdict {
        var v = Verdict()
        let a = parse(from), b = parse(to)
        guard supported.contains(to) else {
            v.refusal = "Airflow \(to) is not a release fairflow deploys"
            v.fix = "use one of \(supported.joined(separator: ", "))"
            return v
        }
        if a == b {
            v.refusal = "the stack already runs Airflow \(from)"
            v.fix = "nothing to upgrade; `fairflow status` shows the deployment"
            return v
        }
        if less(b, a) {
            v.refusal = "Airflow \(to) is older than the running \(from): fairflow upgrades forward only"
            v.fix = "to go back after an upgrade, `fairflow upgrade --rollback RUN_ID` restores the pre-upgrade state"
            return v
        }
        if a[0] < b[0] {
            let newest2 = parse(AirflowVersions.latestAirflow2)
            if a[0] != 2 || b[0] != 3 {
                v.refusal = "Airflow \(from) → \(to) crosses more than one major release"
                v.fix = "upgrade one major at a time"
                return v
            }
            if a[1] != newest2[1] {
                v.refusal = "Airflow 2 → 3 is taken only from the newest 2.x minor (\(AirflowVersions.latestAirflow2)); this stack runs \(from)"
                v.fix = "upgrade to \(AirflowVersions.latestAirflow2) first (`fairflow upgrade --airflow-version \(AirflowVersions.latestAirflow2)`), fix its deprecation warnings, then to \(to)"
                return v
            }
            v.warnings.append("Airflow 2 → 3 changes DAG authoring (airflow.sdk), the REST API (v2) and the UI server (api-server): read https://airflow.apache.org/docs/apache-airflow/stable/installation/upgrading_to_airflow3.html")
            return v
        }
        if a[0] == b[0], b[1] > a[1] + 1 {
            let skipped = (a[1] + 1..<b[1]).map { "\(a[0]).\($0)" }
            v.warnings.append("this upgrade skips Airflow \(skipped.joined(separator: ", ")): its migrations run in the same step, and its release notes apply too")
        }
        return v
    }

    static func parse(_ v: String) -> [Int] {
        let p = v.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
        return p + Array(repeating: 0, count: max(0, 3 - p.count))
    }

    static func less(_ a: [Int], _ b: [Int]) -> Bool {
        for (x, y) in zip(a, b) where x != y { return x < y }
        return false
    }
}

/// The mode a deployed stack was made with, read from its template, so an upgrade changes the version only.
public enum DeployedMode {
    public static func detect(template: String, airflowVersion: String) throws -> StackMode {
        guard let root = try? JSONSerialization.jsonObject(with: Data(template.utf8)) as? [String: Any],
              let resources = root["Resources"] as? [String: Any] else {
            throw FairflowError("cannot read the deployed template", why: "it is not the JSON template `fairflow deploy` writes",
                                fix: "deploy the stack with fairflow first")
        }
        func props(_ id: String) -> [String: Any]? { (resources[id] as? [String: Any])?["Properties"] as? [String: Any] }
        var m = StackMode()
        m.airflowVersion = airflowVersion
        m.ha = resources["RedisReplicationGroup"] != nil
        m.autoscaling = resources["WorkerScalableTarget"] != nil
        m.noBastion = resources["BastionInstance"] == nil
        if let certs = props("UiListener")?["Certificates"] as? [[String: Any]], let arn = certs.first?["CertificateArn"] as? String {
            m.certificateArn = arn
        }
        if let ingress = props("BastionSecurityGroup")?["SecurityGroupIngress"] as? [[String: Any]],
           let ssh = ingress.first(where: { ($0["FromPort"] as? Int) == 22 }), let cidr = ssh["CidrIp"] as? String {
            m.sshIngressCidr = cidr
        }
        if let defs = props("WorkerTaskDefinition")?["ContainerDefinitions"] as? [[String: Any]],
           let stop = defs.first(where: { $0["Name"] as? String == "worker" })?["StopTimeout"] as? Int {
            m.workerDrainTimeout = stop
        }
        if let cfg = props("WorkerQueueScaling")?["TargetTrackingScalingPolicyConfiguration"] as? [String: Any],
           let target = cfg["TargetValue"] as? Int {
            m.tasksPerWorker = target
        }
        if let defs = props("SchedulerTaskDefinition")?["ContainerDefinitions"] as? [[String: Any]],
           let image = defs.first(where: { $0["Name"] as? String == "scheduler" })?["Image"] as? String,
           image != "apache/airflow:\(airflowVersion)" {
            m.image = image
        }
        return m
    }
}
