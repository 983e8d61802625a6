import AWSCore
import AWSServices
import FairflowTemplate
import Foundation

/// `fairflow status`: the whole deployment in one view; the calls run concurrently. Exit 3 when
/// anything is unhealthy, naming the component and the evidence. What counts as unhealthy is decided
/// by `StatusAssessment` over the facts the APIs gave, so it can be tested without AWS.
public enum Status: FairflowOperation {
    public static let id = "status"
    public static let summary = "Show the deployment's health: stack, services, tasks, targets, database, Redis, EFS, bastion."

    public struct Input: Codable, Sendable {
        /// Redraw until healthy or `timeoutSeconds` passes.
        public var watch = false
        public var timeoutSeconds: Int = 600
        public var intervalSeconds: Double = 10
        /// A deployment IN_PROGRESS longer than this is stuck (nil: 10 minutes plus the service's grace period).
        public var deploymentExpectedSeconds: Int?
        public init(watch: Bool = false, timeoutSeconds: Int = 600) {
            self.watch = watch
            self.timeoutSeconds = timeoutSeconds
        }
    }

    public static func validate(_ input: Input) throws {
        if input.timeoutSeconds <= 0 {
            throw FairflowError.usage("bad --timeout \(input.timeoutSeconds)", why: "it must be a positive duration", fix: "use e.g. --timeout 10m")
        }
        if input.intervalSeconds <= 0 {
            throw FairflowError.usage("bad --interval", why: "it must be positive", fix: "leave it at its default (10s)")
        }
    }

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
        public var problems: [Problem]
        /// With --watch: how many times the state was read, and whether the timeout ended the watch.
        public var polls: Int = 1
        public var timedOut: Bool = false
        public var healthy: Bool { problems.isEmpty }
        public var exitStatus: ExitStatus { problems.isEmpty ? .ok : .checkFailed }

        enum CodingKeys: String, CodingKey {
            case stack, stackStatus, services, stoppedTasks, targets, database, redis, efs, bastion, problems, healthy, polls, timedOut
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(stack, forKey: .stack); try c.encode(stackStatus, forKey: .stackStatus)
            try c.encode(services, forKey: .services); try c.encode(stoppedTasks, forKey: .stoppedTasks)
            try c.encode(targets, forKey: .targets); try c.encodeIfPresent(database, forKey: .database)
            try c.encode(redis, forKey: .redis); try c.encodeIfPresent(efs, forKey: .efs)
            try c.encodeIfPresent(bastion, forKey: .bastion); try c.encode(problems, forKey: .problems)
            try c.encode(healthy, forKey: .healthy)
            try c.encode(polls, forKey: .polls); try c.encode(timedOut, forKey: .timedOut)
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
                s += "targets\t\(tg)\t\(StatusAssessment.describe(list))\n"
            }
            for st in stoppedTasks.prefix(10) {
                s += "stopped\t\(st.component)\t\(st.task)\t\(st.stopCode ?? "")\t\(st.reason ?? "")\(st.exitCodes.isEmpty ? "" : "\texit " + st.exitCodes.joined(separator: ","))\n"
            }
            if problems.isEmpty { s += t.paint("healthy", .green) + "\n" } else {
                for p in problems { s += t.paint("UNHEALTHY", .red) + "\t\(p.line)\n" }
                if timedOut { s += "still unhealthy after \(polls) checks (--timeout reached)\n" }
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
         "EFS DescribeFileSystems", "SSM DescribeInstanceInformation"].map { PlannedAction($0, detail: input.watch ? "repeated until healthy" : nil) }
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try validate(input)
        guard input.watch else { return try await once(input, context: context) }
        let deadline = Date().addingTimeInterval(TimeInterval(input.timeoutSeconds))
        let redraw = StatusRedraw(terminal: context.terminal, json: context.settings.output == .json)
        var polls = 0
        InterruptFlag.shared.install()
        while true {
            var out = try await once(input, context: context)
            polls += 1
            out.polls = polls
            if out.healthy { redraw.clear(); return out }
            if Date().addingTimeInterval(input.intervalSeconds) > deadline || InterruptFlag.shared.isRaised {
                redraw.clear()
                if InterruptFlag.shared.isRaised { throw Interrupted() }
                out.timedOut = true
                return out
            }
            redraw.show(out, remaining: Int(deadline.timeIntervalSinceNow))
            try await Task.sleep(nanoseconds: UInt64(input.intervalSeconds * 1e9))
        }
    }

    /// One read of every part, assessed.
    static func once(_ input: Input, context: Context) async throws -> Output {
        let facts = try await gather(context)
        return StatusAssessment.output(facts, now: Date(), expectedDeploySeconds: input.deploymentExpectedSeconds)
    }

    public static func gather(_ context: Context) async throws -> StatusFacts {
        let aws = try context.aws()
        let summary: StackSummary
        do { summary = try await CloudFormation(aws).stack(context.stackName) } catch CloudFormationError.stackNotFound {
            _ = try await StackResources.load(context)  // its "does not exist" message names the fix
            throw CloudFormationError.stackNotFound(context.stackName)
        }
        let resources = try await CloudFormation(aws).resources(context.stackName)
        @Sendable func physical(_ type: String) -> [(String, String)] {
            resources.filter { $0.resourceType == type }.compactMap { r in r.physicalId.map { (r.logicalId, $0) } }
        }
        let cluster = summary.outputs[StackOutputs.clusterName]
        var names: [String: String] = [:]  // name -> component
        for c in Component.allCases { if let n = summary.outputs[StackOutputs.serviceName(c)] { names[n] = kebab(c.rawValue) } }
        let serviceNames = names

        async let servicesCall: [ECSService] = {
            guard let cl = cluster, !serviceNames.isEmpty else { return [] }
            return try await ECS(aws).describeServices(cluster: cl, Array(serviceNames.keys).sorted())
        }()
        async let stoppedCall: [ECSTask] = {
            guard let cl = cluster else { return [] }
            let arns = try await ECS(aws).listTasks(cluster: cl, desiredStatus: "STOPPED").all()
            return arns.isEmpty ? [] : try await ECS(aws).describeTasks(cluster: cl, Array(arns.prefix(100)))
        }()
        async let runningCall: [ECSTask] = {
            guard let cl = cluster else { return [] }
            let arns = try await ECS(aws).listTasks(cluster: cl, desiredStatus: "RUNNING").all()
            return arns.isEmpty ? [] : try await ECS(aws).describeTasks(cluster: cl, Array(arns.prefix(500)))
        }()
        async let targetsCall: [TargetGroupFacts] = {
            var out: [TargetGroupFacts] = []
            for (lid, arn) in physical("AWS::ElasticLoadBalancingV2::TargetGroup") {
                out.append(TargetGroupFacts(logicalId: lid, arn: arn, targets: try await ELBv2(aws).targetHealth(arn)))
            }
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
            guard let id = summary.outputs[StackOutputs.efsFileSystemId] else { return nil }
            return try await EFS(aws).state(id)
        }()
        async let bastionCall: String? = {
            guard let id = summary.outputs[StackOutputs.bastionInstanceId] else { return nil }
            do { return try await SSM(aws).pingStatus(id) ?? "not managed by SSM" } catch {
                return "unknown (SSM did not answer: \(ErrorReport.message(for: error)))"
            }
        }()
        return StatusFacts(stack: context.stackName, stackStatus: summary.status, stackStatusReason: summary.statusReason,
                           serviceComponents: serviceNames, services: try await servicesCall, runningTasks: try await runningCall,
                           stoppedTasks: try await stoppedCall, targetGroups: try await targetsCall,
                           databaseExpected: !physical("AWS::RDS::DBInstance").isEmpty, database: try await dbCall,
                           redisGroupExpected: !physical("AWS::ElastiCache::ReplicationGroup").isEmpty, redisGroup: try await redisCall,
                           efs: try await efsCall, bastion: await bastionCall)
    }
}

/// One thing wrong: the component, what is wrong, and what the APIs showed.
public struct Problem: Codable, Sendable, Equatable {
    public var component: String
    public var problem: String
    public var evidence: String?

    public init(_ component: String, _ problem: String, evidence: String? = nil) {
        self.component = component
        self.problem = problem
        self.evidence = evidence?.isEmpty == true ? nil : evidence
    }

    public var line: String { "\(component): \(problem)\(evidence.map { " — \($0)" } ?? "")" }
}

public struct TargetGroupFacts: Sendable {
    public var logicalId: String
    public var arn: String
    public var targets: [TargetHealth]
    public init(logicalId: String, arn: String, targets: [TargetHealth]) {
        self.logicalId = logicalId
        self.arn = arn
        self.targets = targets
    }
}

/// What the APIs said about the stack at one moment.
public struct StatusFacts: Sendable {
    public var stack: String
    public var stackStatus: String
    public var stackStatusReason: String?
    /// ECS service name → the user's component name.
    public var serviceComponents: [String: String]
    public var services: [ECSService]
    public var runningTasks: [ECSTask]
    public var stoppedTasks: [ECSTask]
    public var targetGroups: [TargetGroupFacts]
    public var databaseExpected: Bool
    public var database: DBInstanceStatus?
    public var redisGroupExpected: Bool
    public var redisGroup: ReplicationGroupStatus?
    public var efs: String?
    public var bastion: String?
}

/// The rules: a status that cannot be fooled by a running count alone.
public enum StatusAssessment {
    /// "2 healthy, 1 unhealthy (Health checks failed with these codes: [502])" or "none registered".
    public static func describe(_ list: [TargetHealth]) -> String {
        if list.isEmpty { return "none registered" }
        let groups = Dictionary(grouping: list, by: \.state)
        return groups.keys.sorted().map { state in
            let ts = groups[state]!
            let why = ts.compactMap(\.reason).first.map { " (\($0))" } ?? ""
            return "\(ts.count) \(state)\(state == "healthy" ? "" : why)"
        }.joined(separator: ", ")
    }

    static func lastEvent(_ s: ECSService) -> String? { s.events?.first?.message.map { "last event: \($0)" } }

    public static func problems(_ f: StatusFacts, now: Date, expectedDeploySeconds: Int? = nil) -> [Problem] {
        var out: [Problem] = []
        if !StackWatch.successStatuses.contains(f.stackStatus) && f.stackStatus != "UPDATE_ROLLBACK_COMPLETE" {
            out.append(Problem("stack", "stack is \(f.stackStatus)", evidence: f.stackStatusReason))
        }
        var tgOwners: [String: String] = [:]  // target group ARN -> component
        for s in f.services.sorted(by: { (f.serviceComponents[$0.serviceName] ?? "") < (f.serviceComponents[$1.serviceName] ?? "") }) {
            let comp = f.serviceComponents[s.serviceName] ?? s.serviceName
            let primary = s.deployments?.first { $0.status == "PRIMARY" }
            if s.runningCount < s.desiredCount {
                let what = comp == "redis" ? "Redis not available: \(s.runningCount) of \(s.desiredCount) tasks running"
                                           : "\(s.runningCount) of \(s.desiredCount) tasks running"
                out.append(Problem(comp, what, evidence: [s.pendingCount > 0 ? "\(s.pendingCount) pending" : nil, lastEvent(s)]
                    .compactMap { $0 }.joined(separator: "; ")))
            }
            if primary?.rolloutState == "FAILED" {
                out.append(Problem(comp, "deployment failed", evidence: primary?.rolloutStateReason))
            }
            for d in s.deployments ?? [] where d.rolloutState == "IN_PROGRESS" {
                let expected = expectedDeploySeconds ?? (600 + (s.healthCheckGracePeriodSeconds ?? 0))
                guard let started = d.createdAt, now.timeIntervalSince(started) > TimeInterval(expected) else { continue }
                let minutes = Int(now.timeIntervalSince(started) / 60)
                out.append(Problem(comp, "deployment \(d.id ?? "?") IN_PROGRESS for \(minutes) min (expected within \(expected / 60) min)",
                                   evidence: ["\(d.runningCount ?? 0) of \(d.desiredCount ?? 0) running",
                                              (d.failedTasks ?? 0) > 0 ? "\(d.failedTasks!) failed tasks" : nil, lastEvent(s)]
                                       .compactMap { $0 }.joined(separator: "; ")))
            }
            // A task ECS counts as running but whose health check fails (scheduler, triggerer, dag-processor, worker...).
            for t in f.runningTasks where t.group == "service:\(s.serviceName)" && t.lastStatus == "RUNNING" {
                let sick = (t.containers ?? []).filter { $0.healthStatus == "UNHEALTHY" }
                if !sick.isEmpty {
                    out.append(Problem(comp, "container \(sick.compactMap(\.name).joined(separator: ", ")) UNHEALTHY",
                                       evidence: "task \(t.taskId): its container health check fails"))
                } else if t.healthStatus == "UNHEALTHY" {
                    out.append(Problem(comp, "task UNHEALTHY", evidence: "task \(t.taskId): ECS reports the task's health as UNHEALTHY"))
                }
            }
            // A service behind the ALB serves nothing without a registered, healthy target.
            for lb in s.loadBalancers ?? [] {
                guard let arn = lb.targetGroupArn else { continue }
                tgOwners[arn] = comp
                guard s.desiredCount > 0, let tg = f.targetGroups.first(where: { $0.arn == arn }) else { continue }
                if !tg.targets.contains(where: { $0.state == "healthy" }) {
                    out.append(Problem(comp, "no healthy target in \(tg.logicalId)", evidence: "target health: \(describe(tg.targets))"))
                }
            }
        }
        for tg in f.targetGroups {
            if let comp = tgOwners[tg.arn] {
                let bad = tg.targets.filter { !["healthy", "initial", "draining"].contains($0.state) }
                if !bad.isEmpty && tg.targets.contains(where: { $0.state == "healthy" }) {
                    out.append(Problem(comp, "\(bad.count) unhealthy target(s) in \(tg.logicalId)", evidence: "target health: \(describe(tg.targets))"))
                }
            } else if !tg.targets.contains(where: { $0.state == "healthy" }) {
                // No service claims the group (the ECS API did not list its load balancers): judge the group alone.
                out.append(Problem(StackComponent.of(tg.logicalId), "no healthy target in \(tg.logicalId)", evidence: "target health: \(describe(tg.targets))"))
            }
        }
        if let d = f.database, d.status != "available" {
            out.append(Problem("database", "database \(d.id) is \(d.status)", evidence: "RDS DescribeDBInstances: DBInstanceStatus \(d.status)"))
        }
        if f.database == nil && f.databaseExpected { out.append(Problem("database", "database not found", evidence: "RDS does not know the stack's DB instance")) }
        if let rg = f.redisGroup, rg.status != "available" {
            out.append(Problem("redis", "Redis replication group \(rg.id) is \(rg.status)", evidence: "ElastiCache DescribeReplicationGroups: Status \(rg.status)"))
        }
        if f.redisGroup == nil && f.redisGroupExpected {
            out.append(Problem("redis", "Redis replication group not found", evidence: "ElastiCache does not know the stack's replication group"))
        }
        if let e = f.efs, e != "available" { out.append(Problem("efs", "EFS is \(e)")) }
        return out
    }

    public static func output(_ f: StatusFacts, now: Date, expectedDeploySeconds: Int? = nil) -> Status.Output {
        var svcOut: [Status.ServiceStatus] = []
        for s in f.services.sorted(by: { (f.serviceComponents[$0.serviceName] ?? "") < (f.serviceComponents[$1.serviceName] ?? "") }) {
            let primary = s.deployments?.first { $0.status == "PRIMARY" }
            svcOut.append(Status.ServiceStatus(component: f.serviceComponents[s.serviceName] ?? s.serviceName, name: s.serviceName,
                                               desired: s.desiredCount, running: s.runningCount, pending: s.pendingCount,
                                               rollout: primary?.rolloutState, events: (s.events ?? []).prefix(3).compactMap(\.message)))
        }
        let groupToComponent = Dictionary(f.services.map { ("service:\($0.serviceName)", f.serviceComponents[$0.serviceName] ?? $0.serviceName) },
                                          uniquingKeysWith: { a, _ in a })
        let stopped = f.stoppedTasks.sorted { ($0.stoppedAt ?? .distantPast) > ($1.stoppedAt ?? .distantPast) }.map { t in
            Status.StoppedTask(component: groupToComponent[t.group ?? ""] ?? (t.group ?? "?"), task: t.taskId, stopCode: t.stopCode, reason: t.stoppedReason,
                               exitCodes: (t.containers ?? []).compactMap { c in c.exitCode.map { "\(c.name ?? "?")=\($0)" } }, stoppedAt: t.stoppedAt)
        }
        var targets: [String: [TargetHealth]] = [:]
        for tg in f.targetGroups { targets[tg.logicalId] = tg.targets }
        var redis = "Redis on Fargate (see the redis service)"
        if let rg = f.redisGroup { redis = "ElastiCache \(rg.id): \(rg.status), automatic failover \(rg.automaticFailover)" }
        return Status.Output(stack: f.stack, stackStatus: f.stackStatus, services: svcOut, stoppedTasks: stopped, targets: targets,
                             database: f.database, redis: redis, efs: f.efs, bastion: f.bastion,
                             problems: problems(f, now: now, expectedDeploySeconds: expectedDeploySeconds))
    }
}

/// `status --watch`: the current problems redrawn in place on a TTY (stderr), one line per change on a pipe.
final class StatusRedraw: @unchecked Sendable {
    let terminal: Terminal
    let json: Bool
    var lines = 0
    var last: [String] = []

    init(terminal: Terminal, json: Bool) {
        self.terminal = terminal
        self.json = json
    }

    func show(_ o: Status.Output, remaining: Int) {
        let now = o.problems.map(\.line)
        if json {
            struct Line: Encodable { let event = "status"; let problems: [Problem]; let remainingSeconds: Int }
            if now != last, let s = try? JSON.encode(Line(problems: o.problems, remainingSeconds: remaining), pretty: false) { terminal.note(s) }
        } else if terminal.stderrIsTTY {
            var out = lines > 0 ? "\u{1B}[\(lines)A" : ""
            let frame = ["waiting for healthy (\(o.problems.count) problem\(o.problems.count == 1 ? "" : "s"), \(remaining)s left, check \(o.polls))"]
                + now.map { "  " + $0 }
            for l in frame { out += "\u{1B}[2K" + l + "\n" }
            if frame.count < lines { for _ in frame.count..<lines { out += "\u{1B}[2K\n" } }
            lines = max(lines, frame.count)
            terminal.writeErr(out)
        } else if now != last {
            terminal.note("waiting for healthy: " + now.joined(separator: "; "))
        }
        last = now
    }

    func clear() {
        guard lines > 0, terminal.stderrIsTTY, !json else { return }
        var out = "\u{1B}[\(lines)A"
        for _ in 0..<lines { out += "\u{1B}[2K\n" }
        out += "\u{1B}[\(lines)A"
        terminal.writeErr(out)
        lines = 0
    }
}
