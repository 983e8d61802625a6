import AWSCore
import AWSServices
import FairflowTemplate
import Foundation

/// A long-running piece of Airflow by the name its users know, or the on-demand external tasks.
public enum AirflowComponent: String, CaseIterable, Codable, Sendable {
    case webserver, apiServer = "api-server", scheduler, worker, flower, redis
    case dagProcessor = "dag-processor", triggerer, dagSync = "dag-sync", external

    /// The stack's component (its outputs' names); nil for the external tasks, which are no service.
    public var stackComponent: Component? {
        switch self {
        case .webserver: return .webserver
        case .apiServer: return .apiServer
        case .scheduler: return .scheduler
        case .worker: return .worker
        case .flower: return .flower
        case .redis: return .redis
        case .dagProcessor: return .dagProcessor
        case .triggerer: return .triggerer
        case .dagSync: return .dagSync
        case .external: return nil
        }
    }

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// Parses a user's word; an unknown one is a usage error that lists the valid names.
    public static func parse(_ s: String, allowed: [AirflowComponent] = AirflowComponent.allCases) throws -> AirflowComponent {
        let word = s.lowercased()
        let aliases: [String: AirflowComponent] = ["apiserver": .apiServer, "api_server": .apiServer, "dagprocessor": .dagProcessor,
                                                   "dag_processor": .dagProcessor, "dagsync": .dagSync, "workers": .worker]
        guard let c = AirflowComponent(rawValue: word) ?? aliases[word], allowed.contains(c) else {
            let valid = allowed.map(\.rawValue).joined(separator: ", ")
            let guess = allowed.map { ($0.rawValue, editDistance($0.rawValue, word)) }.min { $0.1 < $1.1 }
            let hint = guess.flatMap { $0.1 <= 3 ? " (did you mean \($0.0)?)" : nil } ?? ""
            throw FairflowError.usage("unknown component '\(s)'", why: "valid components are \(valid)\(hint)",
                                      fix: "name one of them")
        }
        return c
    }
}

/// The stack's outputs, read once per run: cluster, services, log groups, subnets, task definitions.
public struct StackResources: Sendable {
    public var stackName: String
    public var outputs: [String: String]

    public init(stackName: String, outputs: [String: String]) {
        self.stackName = stackName
        self.outputs = outputs
    }

    public static func load(_ context: Context) async throws -> StackResources {
        let name = context.stackName
        do {
            let s = try await CloudFormation(try context.aws()).stack(name)
            return StackResources(stackName: name, outputs: s.outputs)
        } catch CloudFormationError.stackNotFound {
            throw FairflowError("cannot read stack \(name)", why: "it does not exist in \(try context.region())",
                                fix: "deploy it first (`fairflow deploy`), or pass --stack / --region for the one you mean")
        }
    }

    public func output(_ key: String, for what: String) throws -> String {
        guard let v = outputs[key], !v.isEmpty else {
            throw FairflowError("cannot find \(what) in stack \(stackName)", why: "the stack has no output \(key)",
                                fix: "update the stack with `fairflow deploy` (it was made by an older template, or without that component)")
        }
        return v
    }

    public var cluster: String { get throws { try output(StackOutputs.clusterName, for: "the ECS cluster") } }

    /// The components this stack runs (those with a service output), plus the external tasks.
    public var components: [AirflowComponent] {
        AirflowComponent.allCases.filter { c in
            guard let sc = c.stackComponent else { return outputs[StackOutputs.externalTaskLogGroup] != nil }
            return outputs[StackOutputs.serviceName(sc)] != nil || outputs[StackOutputs.logGroup(sc)] != nil
        }
    }

    func notInStack(_ c: AirflowComponent) -> FairflowError {
        let have = components.map(\.rawValue).joined(separator: ", ")
        return FairflowError.usage("component \(c.rawValue) is not in stack \(stackName)", why: "this stack runs \(have)",
                                   fix: c == .webserver ? "Airflow 3 stacks serve the UI from api-server" :
                                       c == .apiServer ? "Airflow 2 stacks serve the UI from webserver" : "name one of those")
    }

    public func logGroup(_ c: AirflowComponent) throws -> String {
        guard let sc = c.stackComponent else { return try output(StackOutputs.externalTaskLogGroup, for: "the external tasks' log group") }
        guard let g = outputs[StackOutputs.logGroup(sc)], !g.isEmpty else { throw notInStack(c) }
        return g
    }

    public func serviceName(_ c: AirflowComponent) throws -> String {
        guard let sc = c.stackComponent else {
            throw FairflowError.usage("external is not a service", why: "external tasks run on demand",
                                      fix: "use `fairflow tasks run big|little`")
        }
        guard let s = outputs[StackOutputs.serviceName(sc)], !s.isEmpty else { throw notInStack(c) }
        // CloudFormation's Ref of a service can be its ARN; ECS accepts both, the name reads better.
        return s.hasPrefix("arn:") ? String(s.split(separator: "/").last ?? Substring(s)) : s
    }

    public var privateSubnets: [String] {
        get throws {
            try output(StackOutputs.privateSubnetIds, for: "the private subnets").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }
}
