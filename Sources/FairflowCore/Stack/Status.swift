import AWSCore
import AWSServices
import FairflowTemplate
import Foundation

/// `fairflow status`: the whole deployment in one view; the calls run concurrently. Exit 3 when
/// anything is unhealthy, naming what and why.
public enum Status: FairflowOperation {
    public static let id = "status"
    public static let summary = "Show the deployment's health: stack, services, tasks, targets, database, Redis, EFS, bastion."

    public struct Input: Codable, Sendable { public init() {} }

    public struct ServiceStatus: Codable, Sendable, Equatable {
        public var component: String
        public var name: String
        public var desired: Int
        public var running: Int
        public var pending: Int
        public var rollout: String?
        public var events: [String]
    }

    public struct StoppedTask: Codable, Sendable, Equatable {
        public var component: String
        public var task: String
        public var stopCode: String?
        public var reason: String?
        public var exitCodes: [String]
        public var stoppedAt: Date?
    }

    public struct Output: OperationOutput {
        public var stack: String
        public var stackStatus: String
        public var services: [ServiceStatus]
        public var stoppedTasks: [StoppedTask]
        public var targets: [String: [TargetHealth]]
        public var database: DBInstanceStatus?
        public var redis: String
        public var efs: String?
        public var bastion: String?
        public var problems: [String]
        public var healthy: Bool { problems.isEmpty }
        public var exitStatus: ExitStatus { problems.isEmpty ? .ok : .checkFailed }

        enum CodingKeys: String, CodingKey { case stack, stackStatus, services, stoppedTasks, targets, database, redis, efs, bastion, problems, healthy }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(stack, forKey: .stack); try c.encode(stackStatus, forKey: .stackStatus)
            try c.encode(services, forKey: .services); try c.encode(stoppedTasks, forKey: .stoppedTasks)
            try c.encode(targets, forKey: .targets); try c.encodeIfPresent(database, forKey: .database)
            try c.encode(redis, forKey: .redis); try c.encodeIfPresent(efs, forKey: .efs)
            try c.encodeIfPresent(bastion, forKey: .bastion); try c.encode(problems, forKey: .problems)
            try c.encode(healthy, forKey: .healthy)
        }

        public func renderText(_ t: Terminal) -> String {
            var s = "stack\t\(stack)\t\(stackStatus)\n"
            let svc = services.map { [$0.component, "\($0.running)/\($0.desired)", "\($0.pending)", $0.rollout ?? "", $0.events.first ?? ""] }
            s += Table(headers: ["SERVICE", "RUNNING", "PENDING", "ROLLOUT", "LAST EVENT"], rows: svc).render(tty: t.isTTY)
            if let db = database {
                s += "database\t\(db.id)\t\(db.status)\tMulti-AZ \(db.multiAZ ? "yes" : "no")\t\(db.engine) \(db.engineVersion)\(db.pendingMaintenance ? "\tpending changes" : "")\n"
            }
            s += "redis\t\(redis)\n"
            if let e = efs { s += "efs\t\(e)\n" }
            if let b = bastion { s += "bastion\t\(b)\n" }
            for (tg, list) in targets.sorted(by: { $0.key < $1.key }) {
                let states = Dictionary(grouping: list, by: \.state).map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
                s += "targets\t\(tg)\t\(states.isEmpty ? "none registered" : states)\n"
            }
            for st in stoppedTasks.prefix(10) {
                s += "stopped\t\(st.component)\t\(st.task)\t\(st.stopCode ?? "")\t\(st.reason ?? "")\(st.exitCodes.isEmpty ? "" : "\texit " + st.exitCodes.joined(separator: ","))\n"
            }
            if problems.isEmpty { s += t.paint("healthy", .green) + "\n" } else {
                for p in problems { s += t.paint("UNHEALTHY", .red) + "\t\(p)\n" }
            }
            return s
        }
    }

    /// "DagProcessor" → "dag-processor": the user's word for a component.
    static func kebab(_ s: String) -> String {
        var out = ""
        for ch in s {
            if ch.isUppercase && !out.isEmpty { out.append("-") }
            out.append(Character(ch.lowercased()))
        }
        return out
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        ["CloudFormation DescribeStacks + ListStackResources", "ECS DescribeServices + ListTasks + DescribeTasks",
         "ELBv2 DescribeTargetHealth", "RDS DescribeDBInstances", "ElastiCache DescribeReplicationGroups",
         "EFS DescribeFileSystems", "SSM DescribeInstanceInformation"].map { PlannedAction($0) }
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let aws = try context.aws()
        let summary: StackSummary
        do { summary = try await CloudFormation(aws).stack(context.stackName) } catch CloudFormationError.stackNotFound {
            _ = try await StackResources.load(context)  // its "does not exist" message names the fix
            throw CloudFormationError.stackNotFound(context.stackName)
        }
        let stack = StackResources(stackName: context.stackName, outputs: summary.outputs)
        let resources = try await CloudFormation(aws).resources(context.stackName)
        func physical(_ type: String) -> [(String, String)] {
            resources.filter { $0.resourceType == type }.compactMap { r in r.physicalId.map { (r.logicalId, $0) } }
        }
        var problems: [String] = []
        if !StackWatch.successStatuses.contains(summary.status) && summary.status != "UPDATE_ROLLBACK_COMPLETE" {
            problems.append("stack is \(summary.status)\(summary.statusReason.map { ": \($0)" } ?? "")")
        }
        let cluster = stack.outputs[StackOutputs.clusterName]
        var serviceNames: [String: String] = [:]  // name -> component
        for c in Component.allCases { if let n = stack.outputs[StackOutputs.serviceName(c)] { serviceNames[n] = kebab(c.rawValue) } }

        async let servicesCall: [ECSService] = {
            guard let cl = cluster, !serviceNames.isEmpty else { return [] }
            return try await ECS(aws).describeServices(cluster: cl, Array(serviceNames.keys).sorted())
        }()
        async let stoppedCall: [ECSTask] = {
            guard let cl = cluster else { return [] }
            let arns = try await ECS(aws).listTasks(cluster: cl, desiredStatus: "STOPPED").all()
            return arns.isEmpty ? [] : try await ECS(aws).describeTasks(cluster: cl, Array(arns.prefix(100)))
        }()
        async let targetsCall: [String: [TargetHealth]] = {
            var out: [String: [TargetHealth]] = [:]
            for (lid, arn) in physical("AWS::ElasticLoadBalancingV2::TargetGroup") { out[lid] = try await ELBv2(aws).targetHealth(arn) }
            return out
        }()
        async let dbCall: DBInstanceStatus? = {
            guard let (_, id) = physical("AWS::RDS::DBInstance").first else { return nil }
            return try await RDS(aws).instance(id)
        }()
        async let redisCall: ReplicationGroupStatus? = {
            guard let (_, id) = physical("AWS::ElastiCache::ReplicationGroup").first else { return nil }
            return try await ElastiCache(aws).replicationGroup(id)
        }()
        async let efsCall: String? = {
            guard let id = stack.outputs[StackOutputs.efsFileSystemId] else { return nil }
            return try await EFS(aws).state(id)
        }()
        async let bastionCall: String? = {
            guard let id = stack.outputs[StackOutputs.bastionInstanceId] else { return nil }
            do { return try await SSM(aws).pingStatus(id) ?? "not managed by SSM" } catch {
                return "unknown (SSM did not answer: \(ErrorReport.message(for: error)))"
            }
        }()

        let services = try await servicesCall
        var svcOut: [ServiceStatus] = []
        for s in services.sorted(by: { (serviceNames[$0.serviceName] ?? "") < (serviceNames[$1.serviceName] ?? "") }) {
            let comp = serviceNames[s.serviceName] ?? s.serviceName
            let primary = s.deployments?.first { $0.status == "PRIMARY" }
            svcOut.append(ServiceStatus(component: comp, name: s.serviceName, desired: s.desiredCount, running: s.runningCount,
                                        pending: s.pendingCount, rollout: primary?.rolloutState,
                                        events: (s.events ?? []).prefix(3).compactMap(\.message)))
            if s.runningCount < s.desiredCount {
                problems.append("\(comp): \(s.runningCount) of \(s.desiredCount) tasks running\(s.events?.first?.message.map { " (\($0))" } ?? "")")
            }
            if primary?.rolloutState == "FAILED" {
                problems.append("\(comp): deployment failed\(primary?.rolloutStateReason.map { ": \($0)" } ?? "")")
            }
        }
        let groupToComponent = Dictionary(uniqueKeysWithValues: services.map { ("service:\($0.serviceName)", serviceNames[$0.serviceName] ?? $0.serviceName) })
        let stopped = try await stoppedCall.sorted { ($0.stoppedAt ?? .distantPast) > ($1.stoppedAt ?? .distantPast) }.map { t in
            StoppedTask(component: groupToComponent[t.group ?? ""] ?? (t.group ?? "?"), task: t.taskId, stopCode: t.stopCode, reason: t.stoppedReason,
                        exitCodes: (t.containers ?? []).compactMap { c in c.exitCode.map { "\(c.name ?? "?")=\($0)" } }, stoppedAt: t.stoppedAt)
        }
        let targets = try await targetsCall
        for (tg, list) in targets {
            let bad = list.filter { !["healthy", "initial", "draining"].contains($0.state) }
            if !bad.isEmpty { problems.append("\(tg): \(bad.count) unhealthy target(s)\(bad.first?.reason.map { " (\($0))" } ?? "")") }
        }
        let db = try await dbCall
        if let d = db, d.status != "available" { problems.append("database \(d.id) is \(d.status)") }
        if db == nil && !physical("AWS::RDS::DBInstance").isEmpty { problems.append("database not found") }
        var redis = "Redis on Fargate (see the redis service)"
        if let rg = try await redisCall {
            redis = "ElastiCache \(rg.id): \(rg.status), automatic failover \(rg.automaticFailover)"
            if rg.status != "available" { problems.append("Redis replication group \(rg.id) is \(rg.status)") }
        }
        let efs = try await efsCall
        if let e = efs, e != "available" { problems.append("EFS is \(e)") }
        let bastion = try await bastionCall
        return Output(stack: context.stackName, stackStatus: summary.status, services: svcOut, stoppedTasks: stopped, targets: targets,
                      database: db, redis: redis, efs: efs, bastion: bastion, problems: problems)
    }
}
