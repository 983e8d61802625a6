import AWSCore
import AWSServices
import FairflowTemplate
import Foundation

/// `fairflow restart [COMPONENT...]`: a rolling restart (an ECS new deployment) so services read new
/// secrets; waits for a steady state unless `--no-wait`.
public enum Restart: FairflowOperation {
    public static let id = "restart"
    public static let summary = "Restart Airflow services with a rolling ECS deployment (they re-read their secrets)."

    public struct Input: Codable, Sendable {
        /// Empty: every service of the stack.
        public var components: [AirflowComponent] = []
        public var wait = true
        public var timeoutSeconds: Double = 900
        public init(components: [AirflowComponent] = [], wait: Bool = true, timeoutSeconds: Double = 900) {
            self.components = components
            self.wait = wait
            self.timeoutSeconds = timeoutSeconds
        }
    }

    public struct Output: OperationOutput {
        public var services: [String]
        public var stable: Bool
        public func renderText(_ t: Terminal) -> String {
            services.map { "restarted\t\($0)" }.joined(separator: "\n") + (stable ? "\nsteady state reached" : "") + "\n"
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("ECS UpdateService forceNewDeployment (each service)", mutating: true),
         PlannedAction("ECS DescribeServices (until steady)")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let stack = try await StackResources.load(context)
        let cluster = try stack.cluster
        let wanted = input.components.isEmpty ? stack.components.filter { $0 != .external } : input.components
        var names: [String] = []
        for c in wanted {
            guard let sc = c.stackComponent, let name = stack.outputs[StackOutputs.serviceName(sc)] else {
                throw FairflowError.usage("cannot restart \(c.rawValue)", why: "stack \(context.stackName) has no \(c.rawValue) service",
                                          fix: "name one of: \(stack.components.filter { $0 != .external }.map(\.rawValue).joined(separator: ", "))")
            }
            names.append(name)
        }
        let ecs = ECS(try context.aws())
        for n in names {
            _ = try await ecs.updateService(cluster: cluster, service: n, forceNewDeployment: true)
            context.terminal.note("new deployment of \(n)")
        }
        guard input.wait else { return Output(services: names, stable: false) }
        _ = try await ecs.waitUntilStable(cluster: cluster, names, timeout: input.timeoutSeconds)
        return Output(services: names, stable: true)
    }
}

/// `fairflow secrets prune airflow-fernet-key`: after a rotation and re-encryption, keep only the
/// newest Fernet key ("new,old" → "new").
public enum SecretsPrune: FairflowOperation {
    public static let id = "secrets.prune"
    public static let summary = "Drop the old Fernet key after a rotation: keep only the newest."

    public struct Input: Codable, Sendable {
        public var secret: AirflowSecret = .fernetKey
        public init(secret: AirflowSecret = .fernetKey) { self.secret = secret }
    }

    public struct Output: OperationOutput {
        public var secret: String
        public var keysBefore: Int
        public var keysAfter: Int
        public func renderText(_ t: Terminal) -> String {
            keysBefore == keysAfter ? "\(secret): one key already, nothing to drop\n" : "\(secret): kept the newest key, dropped \(keysBefore - keysAfter)\n"
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("Secrets Manager GetSecretValue"), PlannedAction("Secrets Manager PutSecretValue", mutating: true)]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        guard input.secret == .fernetKey else {
            throw FairflowError.usage("cannot prune \(input.secret.rawValue)", why: "only the Fernet key holds several keys", fix: "name airflow-fernet-key")
        }
        let sm = SecretsManager(try context.aws())
        let value = try await sm.value(input.secret.rawValue)
        let keys = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard keys.count > 1, let newest = keys.first else {
            return Output(secret: input.secret.rawValue, keysBefore: keys.count, keysAfter: keys.count)
        }
        try await sm.putValue(input.secret.rawValue, value: newest, token: context.idempotencyToken("secrets.prune/\(input.secret.rawValue)"))
        return Output(secret: input.secret.rawValue, keysBefore: keys.count, keysAfter: 1)
    }
}

extension Restart: DefaultedInputs { public static let inputDefaults = #"{"components":[],"wait":true,"timeoutSeconds":900}"# }
extension SecretsPrune: DefaultedInputs { public static let inputDefaults = #"{"secret":"airflow-fernet-key"}"# }
