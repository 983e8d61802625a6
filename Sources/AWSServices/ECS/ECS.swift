import AWSCore
import Foundation

// Shapes named as on the wire (botocore's ecs service-2.json); only the fields fairflow reads.

public struct ECSServiceEvent: Codable, Sendable {
    public var id: String?
    public var createdAt: Date?
    public var message: String?
}

public struct ECSDeployment: Codable, Sendable {
    public var id: String?
    public var status: String?            // PRIMARY, ACTIVE, INACTIVE
    public var taskDefinition: String?
    public var desiredCount: Int?
    public var pendingCount: Int?
    public var runningCount: Int?
    public var failedTasks: Int?
    public var rolloutState: String?      // COMPLETED, FAILED, IN_PROGRESS
    public var rolloutStateReason: String?
    public var createdAt: Date?
    public var updatedAt: Date?
}

public struct ECSLoadBalancer: Codable, Sendable, Equatable {
    public var targetGroupArn: String?
    public var containerName: String?
    public var containerPort: Int?
    public init(targetGroupArn: String?, containerName: String? = nil, containerPort: Int? = nil) {
        self.targetGroupArn = targetGroupArn
        self.containerName = containerName
        self.containerPort = containerPort
    }
}

public struct ECSService: Codable, Sendable {
    public var serviceArn: String?
    public var serviceName: String
    public var clusterArn: String?
    public var status: String?            // ACTIVE, DRAINING, INACTIVE
    public var desiredCount: Int
    public var runningCount: Int
    public var pendingCount: Int
    public var launchType: String?
    public var taskDefinition: String?
    public var deployments: [ECSDeployment]?
    public var events: [ECSServiceEvent]?
    public var loadBalancers: [ECSLoadBalancer]?
    public var healthCheckGracePeriodSeconds: Int?

    /// botocore's `services_stable` acceptor: one deployment and as many running as desired.
    public var isStable: Bool { (deployments ?? []).count == 1 && runningCount == desiredCount }
}

public struct ECSContainer: Codable, Sendable {
    public var name: String?
    public var containerArn: String?
    public var lastStatus: String?
    public var exitCode: Int?
    public var reason: String?
    public var healthStatus: String?      // HEALTHY, UNHEALTHY, UNKNOWN
    public init(name: String?, lastStatus: String? = nil, exitCode: Int? = nil, reason: String? = nil, healthStatus: String? = nil) {
        self.name = name
        self.lastStatus = lastStatus
        self.exitCode = exitCode
        self.reason = reason
        self.healthStatus = healthStatus
    }
}

public struct ECSTask: Codable, Sendable {
    public var taskArn: String
    public var clusterArn: String?
    public var taskDefinitionArn: String?
    public var group: String?
    public var lastStatus: String?        // PROVISIONING, PENDING, RUNNING, DEPROVISIONING, STOPPED
    public var desiredStatus: String?
    public var stopCode: String?          // TaskFailedToStart, EssentialContainerExited, UserInitiated, ...
    public var stoppedReason: String?
    public var createdAt: Date?
    public var startedAt: Date?
    public var stoppingAt: Date?
    public var stoppedAt: Date?
    public var startedBy: String?
    public var containers: [ECSContainer]?
    public var healthStatus: String?      // HEALTHY, UNHEALTHY, UNKNOWN
    public var pullStartedAt: Date?
    public var pullStoppedAt: Date?
    public var attachments: [Attachment]?

    /// The awsvpc ENI (type ElasticNetworkInterface) and its details (privateIPv4Address, ...).
    public struct Attachment: Codable, Sendable {
        public struct Detail: Codable, Sendable { public var name: String?; public var value: String? }
        public var type: String?
        public var details: [Detail]?
    }

    /// The task's private address (its ENI's), which Fargate also names its host by (ip-10-0-1-23...).
    public var privateIPv4Address: String? {
        attachments?.lazy.compactMap { $0.details?.first { $0.name == "privateIPv4Address" }?.value }.first
    }

    public init(taskArn: String, taskDefinitionArn: String? = nil, group: String? = nil, lastStatus: String? = nil,
                stopCode: String? = nil, stoppedReason: String? = nil, startedAt: Date? = nil, stoppedAt: Date? = nil,
                startedBy: String? = nil, containers: [ECSContainer]? = nil, healthStatus: String? = nil) {
        self.taskArn = taskArn
        self.taskDefinitionArn = taskDefinitionArn
        self.group = group
        self.lastStatus = lastStatus
        self.stopCode = stopCode
        self.stoppedReason = stoppedReason
        self.startedAt = startedAt
        self.stoppedAt = stoppedAt
        self.startedBy = startedBy
        self.containers = containers
        self.healthStatus = healthStatus
    }

    /// When it stopped, or began to (an API that leaves out stoppedAt still says stoppingAt).
    public var stopTime: Date? { stoppedAt ?? stoppingAt }

    /// The last path element of the ARN: what awslogs puts at the end of a log stream name.
    public var taskId: String { taskArn.split(separator: "/").last.map(String.init) ?? taskArn }
}

/// A task's scale-in protection: ECS does not stop it on scale-in or deployment until it ends or expires.
public struct ECSTaskProtection: Codable, Sendable {
    public var taskArn: String
    public var protectionEnabled: Bool
    public var expirationDate: Date?
}

public struct ECSFailure: Codable, Sendable {
    public var arn: String?
    public var reason: String?
    public var detail: String?
}

public struct ECSTaskDefinition: Codable, Sendable {
    public struct ContainerDefinition: Codable, Sendable {
        public struct LogConfiguration: Codable, Sendable {
            public var logDriver: String?
            public var options: [String: String]?
        }
        public var name: String?
        public var essential: Bool?
        public var logConfiguration: LogConfiguration?
    }
    public var taskDefinitionArn: String?
    public var family: String?
    public var revision: Int?
    public var containerDefinitions: [ContainerDefinition]?
}

/// awsvpc networking for RunTask.
public struct ECSNetwork: Sendable {
    public var subnets: [String]
    public var securityGroups: [String]
    public var assignPublicIp = false
    public init(subnets: [String], securityGroups: [String], assignPublicIp: Bool = false) {
        self.subnets = subnets
        self.securityGroups = securityGroups
        self.assignPublicIp = assignPublicIp
    }
}

public enum ECSError: Error, CustomStringConvertible {
    case clusterNotFound(String)
    case serviceNotFound(cluster: String, service: String)
    case runTaskFailed([ECSFailure])

    public var description: String {
        switch self {
        case .clusterNotFound(let c): return "ECS cluster \(c) does not exist"
        case .serviceNotFound(let c, let s): return "ECS service \(s) does not exist in cluster \(c)"
        case .runTaskFailed(let f):
            return "ECS could not start the task: " + f.map { [$0.reason, $0.detail].compactMap { $0 }.joined(separator: ": ") }.joined(separator: "; ")
        }
    }
}

public struct ECS: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    func map(_ error: Error, cluster: String, service: String? = nil) -> Error {
        guard let e = error as? AWSError else { return error }
        if e.code == "ClusterNotFoundException" { return ECSError.clusterNotFound(cluster) }
        if e.code == "ServiceNotFoundException", let s = service { return ECSError.serviceNotFound(cluster: cluster, service: s) }
        return error
    }

    /// Services by name; a name ECS does not know is a `serviceNotFound` (ECS reports it as a failure "MISSING").
    public func describeServices(cluster: String, _ names: [String]) async throws -> [ECSService] {
        struct R: Decodable { var services: [ECSService]?; var failures: [ECSFailure]? }
        var out: [ECSService] = []
        // DescribeServices takes at most 10 names per call.
        for start in stride(from: 0, to: names.count, by: 10) {
            let chunk = Array(names[start..<min(names.count, start + 10)])
            do {
                let r = try await client.send(.json(.ecs, "DescribeServices", ["cluster": cluster, "services": chunk])).decode(R.self)
                if let missing = r.failures?.first(where: { $0.reason == "MISSING" }) {
                    let name = missing.arn.map { String($0.split(separator: "/").last ?? "") } ?? chunk[0]
                    throw ECSError.serviceNotFound(cluster: cluster, service: name)
                }
                out += r.services ?? []
            } catch { throw map(error, cluster: cluster) }
        }
        return out
    }

    /// Task ARNs of a cluster, optionally one service's, in one desired status (RUNNING, PENDING, STOPPED).
    public func listTasks(cluster: String, service: String? = nil, family: String? = nil, desiredStatus: String? = nil) -> Paginator<String> {
        let client = self.client
        return Paginator { token in
            struct R: Decodable { var taskArns: [String]?; var nextToken: String? }
            var p: [String: Any] = ["cluster": cluster, "maxResults": 100]
            if let s = service { p["serviceName"] = s }
            if let f = family { p["family"] = f }
            if let d = desiredStatus { p["desiredStatus"] = d }
            if let t = token { p["nextToken"] = t }
            do {
                let r = try await client.send(.json(.ecs, "ListTasks", p)).decode(R.self)
                return (r.taskArns ?? [], r.nextToken)
            } catch {
                throw ECS(client).map(error, cluster: cluster, service: service)
            }
        }
    }

    public func describeTasks(cluster: String, _ arns: [String]) async throws -> [ECSTask] {
        struct R: Decodable { var tasks: [ECSTask]? }
        var out: [ECSTask] = []
        for start in stride(from: 0, to: arns.count, by: 100) {
            let chunk = Array(arns[start..<min(arns.count, start + 100)])
            do {
                out += try await client.send(.json(.ecs, "DescribeTasks", ["cluster": cluster, "tasks": chunk])).decode(R.self).tasks ?? []
            } catch { throw map(error, cluster: cluster) }
        }
        return out
    }

    /// Scale-in protection of service tasks (GetTaskProtection, at most 100 tasks per call).
    public func taskProtection(cluster: String, _ arns: [String]) async throws -> [ECSTaskProtection] {
        struct R: Decodable { var protectedTasks: [ECSTaskProtection]? }
        var out: [ECSTaskProtection] = []
        for start in stride(from: 0, to: arns.count, by: 100) {
            let chunk = Array(arns[start..<min(arns.count, start + 100)])
            do {
                out += try await client.send(.json(.ecs, "GetTaskProtection", ["cluster": cluster, "tasks": chunk])).decode(R.self).protectedTasks ?? []
            } catch { throw map(error, cluster: cluster) }
        }
        return out
    }

    @discardableResult
    public func updateService(cluster: String, service: String, desiredCount: Int? = nil,
                              forceNewDeployment: Bool = false) async throws -> ECSService {
        struct R: Decodable { var service: ECSService }
        var p: [String: Any] = ["cluster": cluster, "service": service]
        if let d = desiredCount { p["desiredCount"] = d }
        if forceNewDeployment { p["forceNewDeployment"] = true }
        do {
            return try await client.send(.json(.ecs, "UpdateService", p)).decode(R.self).service
        } catch { throw map(error, cluster: cluster, service: service) }
    }

    /// Fargate RunTask. `clientToken` makes a retried or resumed call start the task once.
    public func runTask(cluster: String, taskDefinition: String, network: ECSNetwork, container: String? = nil,
                        command: [String]? = nil, startedBy: String? = "fairflow", clientToken: String? = nil) async throws -> [ECSTask] {
        struct R: Decodable { var tasks: [ECSTask]?; var failures: [ECSFailure]? }
        var p: [String: Any] = [
            "cluster": cluster, "taskDefinition": taskDefinition, "count": 1, "launchType": "FARGATE",
            "networkConfiguration": ["awsvpcConfiguration": [
                "subnets": network.subnets, "securityGroups": network.securityGroups,
                "assignPublicIp": network.assignPublicIp ? "ENABLED" : "DISABLED",
            ]],
        ]
        if let c = container, let cmd = command { p["overrides"] = ["containerOverrides": [["name": c, "command": cmd]]] }
        if let s = startedBy { p["startedBy"] = s }
        if let t = clientToken { p["clientToken"] = t }
        do {
            let r = try await client.send(.json(.ecs, "RunTask", p)).decode(R.self)
            let tasks = r.tasks ?? []
            if tasks.isEmpty { throw ECSError.runTaskFailed(r.failures ?? []) }
            return tasks
        } catch { throw map(error, cluster: cluster) }
    }

    public func describeTaskDefinition(_ taskDefinition: String) async throws -> ECSTaskDefinition {
        struct R: Decodable { var taskDefinition: ECSTaskDefinition }
        return try await client.send(.json(.ecs, "DescribeTaskDefinition", ["taskDefinition": taskDefinition])).decode(R.self).taskDefinition
    }

    /// Polls DescribeServices until every service is stable (botocore's `services_stable`), failing early
    /// when a deployment's rollout FAILED (the circuit breaker gave up). `progress` sees every poll.
    public func waitUntilStable(cluster: String, _ names: [String], timeout: TimeInterval = 600,
                                minDelay: TimeInterval = 2, maxDelay: TimeInterval = 15,
                                progress: @escaping @Sendable ([ECSService]) -> Void = { _ in }) async throws -> [ECSService] {
        let waiter = Waiter<[ECSService]>(minDelay: minDelay, maxDelay: maxDelay, timeout: timeout, acceptors: [
            { result in
                guard case .success(let services) = result else { return nil }
                if let failed = services.first(where: { $0.deployments?.contains { $0.rolloutState == "FAILED" } ?? false }) {
                    let reason = failed.deployments?.first { $0.rolloutState == "FAILED" }?.rolloutStateReason ?? "rollout failed"
                    return .failure("service \(failed.serviceName): \(reason)")
                }
                if let gone = services.first(where: { $0.status == "INACTIVE" || $0.status == "DRAINING" }) {
                    return .failure("service \(gone.serviceName) is \(gone.status ?? "")")
                }
                return services.allSatisfy(\.isStable) ? .success : .retry
            },
        ])
        let sleep = client.sleep
        return try await waiter.wait(sleep: sleep) {
            let s = try await describeServices(cluster: cluster, names)
            progress(s)
            return s
        }
    }
}
