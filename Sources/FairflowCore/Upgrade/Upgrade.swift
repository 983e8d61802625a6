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
