import FairflowTemplate
import Foundation

/// The mode flags shared by generate, deploy and diff: the same flags give the same template.
public struct StackMode: Codable, Sendable, Equatable {
    public var ha = false
    public var autoscaling = false
    public var noBastion = false
    public var airflowVersion: String = TemplateGenerator.defaultAirflowVersion
    public var certificateArn: String?
    public var image: String?
    public var sshIngressCidr: String?
    public var workerDrainTimeout: Int = TemplateOptions.defaultWorkerDrainTimeout
    public var tasksPerWorker: Int = TemplateOptions.defaultTasksPerWorker

    public init() {}

    enum CodingKeys: String, CodingKey { case ha, autoscaling, noBastion = "no_bastion", airflowVersion = "airflow_version",
                                              certificateArn = "certificate_arn", image, sshIngressCidr = "ssh_ingress_cidr",
                                              workerDrainTimeout = "worker_drain_timeout", tasksPerWorker = "tasks_per_worker" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ha = try c.decodeIfPresent(Bool.self, forKey: .ha) ?? false
        autoscaling = try c.decodeIfPresent(Bool.self, forKey: .autoscaling) ?? false
        noBastion = try c.decodeIfPresent(Bool.self, forKey: .noBastion) ?? false
        airflowVersion = try c.decodeIfPresent(String.self, forKey: .airflowVersion) ?? TemplateGenerator.defaultAirflowVersion
        certificateArn = try c.decodeIfPresent(String.self, forKey: .certificateArn)
        image = try c.decodeIfPresent(String.self, forKey: .image)
        sshIngressCidr = try c.decodeIfPresent(String.self, forKey: .sshIngressCidr)
        workerDrainTimeout = try c.decodeIfPresent(Int.self, forKey: .workerDrainTimeout) ?? TemplateOptions.defaultWorkerDrainTimeout
        tasksPerWorker = try c.decodeIfPresent(Int.self, forKey: .tasksPerWorker) ?? TemplateOptions.defaultTasksPerWorker
    }
}

public enum StackTemplate {
    /// The generator's options from the env file (else the process environment) and the mode flags.
    public static func options(_ mode: StackMode, format: TemplateOptions.Format = .json, context: Context) throws -> TemplateOptions {
        let values: [String: String]
        if let file = try context.envFile() {
            values = file.values
        } else {
            values = context.environment.filter { TemplateOptions.EnvKey.all.contains($0.key) }
        }
        var o = TemplateOptions.fromEnv(values, stackName: context.stackName)
        o.ha = mode.ha
        o.autoscaling = mode.autoscaling
        o.bastion = !mode.noBastion
        o.airflowVersion = mode.airflowVersion
        o.certificateArn = mode.certificateArn
        o.image = mode.image
        o.sshIngressCidr = mode.sshIngressCidr
        o.workerDrainTimeout = mode.workerDrainTimeout
        o.tasksPerWorker = mode.tasksPerWorker
        o.format = format
        return o
    }

    /// Renders the template, turning bad inputs into one usage error naming the key and the fix.
    public static func render(_ o: TemplateOptions) throws -> String {
        do {
            return try TemplateGenerator.render(o)
        } catch let e as TemplateInputError {
            let shown = e.value.isEmpty ? "" : " (\"\(e.value)\")"
            throw FairflowError.usage("invalid \(e.key)\(shown)", why: e.problem, fix: e.fix)
        }
    }

    public static func describe(_ o: TemplateOptions) -> String {
        "Airflow \(o.resolvedAirflowVersion), \(o.ha ? "HA" : "not HA")\(o.autoscaling ? ", autoscaling" : ""), \(o.bastion ? "bastion" : "no bastion")"
    }
}

/// A test-only template change, so tests against a running local stack can break one component on
/// purpose: `FAIRFLOW_TEST_CONTAINER_ENV="worker:AIRFLOW__CELERY__BROKER_URL=redis://nowhere:6379/0"`
/// sets (or adds) that variable in every container named `worker`. Never set outside tests.
public enum TestTemplateOverride {
    public static let variable = "FAIRFLOW_TEST_CONTAINER_ENV"

    public static func apply(_ spec: String, to json: String) throws -> String {
        guard let colon = spec.firstIndex(of: ":"), let eq = spec[colon...].firstIndex(of: "=") else {
            throw FairflowError.usage("bad \(variable) '\(spec)'", why: "not container:NAME=value", fix: "use e.g. worker:AIRFLOW__CELERY__BROKER_URL=redis://nowhere:6379/0")
        }
        let container = String(spec[..<colon]), name = String(spec[spec.index(after: colon)..<eq]), value = String(spec[spec.index(after: eq)...])
        guard var root = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              var resources = root["Resources"] as? [String: Any] else { return json }
        var changed = 0
        for (id, r) in resources {
            guard var res = r as? [String: Any], res["Type"] as? String == "AWS::ECS::TaskDefinition",
                  var props = res["Properties"] as? [String: Any], var defs = props["ContainerDefinitions"] as? [[String: Any]] else { continue }
            for i in defs.indices where defs[i]["Name"] as? String == container {
                var env = (defs[i]["Environment"] as? [[String: Any]] ?? []).filter { $0["Name"] as? String != name }
                env.append(["Name": name, "Value": value])
                defs[i]["Environment"] = env
                changed += 1
            }
            props["ContainerDefinitions"] = defs
            res["Properties"] = props
            resources[id] = res
        }
        guard changed > 0 else {
            throw FairflowError.usage("bad \(variable) '\(spec)'", why: "no container is named \(container)", fix: "name a container of the template (worker, scheduler, ...)")
        }
        root["Resources"] = resources
        let data = try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
