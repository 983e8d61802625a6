import AWSCore
import AWSServices
import Foundation

/// What the stall detector reads from AWS, as a role: ECS services and tasks, a task definition's
/// awslogs options, a log stream's tail. Tests answer it in-process.
public protocol DeployWatchProbe: Sendable {
    func services(cluster: String, names: [String]) async throws -> [ECSService]
    /// Tasks of one service in one desired status (RUNNING also lists PROVISIONING and PENDING tasks).
    func tasks(cluster: String, service: String, desiredStatus: String) async throws -> [ECSTask]
    func taskDefinition(_ arn: String) async throws -> ECSTaskDefinition
    func lastLogLines(group: String, stream: String, count: Int) async throws -> [String]
}

public struct AWSDeployWatchProbe: DeployWatchProbe {
    let ecs: ECS
    let logs: CloudWatchLogs
    public init(_ client: AWSClient) {
        ecs = ECS(client)
        logs = CloudWatchLogs(client)
    }

    public func services(cluster: String, names: [String]) async throws -> [ECSService] {
        try await ecs.describeServices(cluster: cluster, names)
    }

    public func tasks(cluster: String, service: String, desiredStatus: String) async throws -> [ECSTask] {
        let arns = try await ecs.listTasks(cluster: cluster, service: service, desiredStatus: desiredStatus).all()
        return arns.isEmpty ? [] : try await ecs.describeTasks(cluster: cluster, Array(arns.suffix(100)))
    }

    public func taskDefinition(_ arn: String) async throws -> ECSTaskDefinition { try await ecs.describeTaskDefinition(arn) }

    public func lastLogLines(group: String, stream: String, count: Int) async throws -> [String] {
        try await logs.lastEvents(group: group, stream: stream, limit: count).map(\.message)
    }
}

/// `--on-stall`: what a deploy does once the stall detector gives its verdict.
public enum OnStall: String, Codable, Sendable, CaseIterable {
    /// Cancel the update (CloudFormation rolls back) or delete the new stack, follow that to its end, exit 1.
    case rollback
    /// Print the verdict and keep waiting for CloudFormation (and the circuit breaker).
    case wait
    /// The default without a terminal: the same clean-up as `rollback` (and as Ctrl-C), exit 1.
    case fail
}

/// The one message a stalled deploy ends with.
public struct StallVerdict: Codable, Sendable, Equatable {
    public var component: String
    public var service: String
    /// The reason as ECS gave it (the stopped task's reason, the container's reason, or the rollout's).
    public var reason: String
    public var stopCode: String?
    public var container: String?
    public var exitCode: Int?
    public var task: String?
    /// How many stopped tasks showed this same failure since the deploy began.
    public var occurrences: Int
    public var circuitBreakerTripped: Bool
    public var logStream: String?
    public var logLines: [String]
    public var whatToDo: String
    public var detectedAt: Date
    /// When the first task with this failure stopped: the verdict's delay is `detectedAt - firstFailureAt`.
    public var firstFailureAt: Date?

    public func render() -> String {
        var s = "deploy stalled: \(component) (service \(service))\n"
        s += "  reason:    \(reason)\(stopCode.map { " [\($0)]" } ?? "")\n"
        if let c = container { s += "  container: \(c)\(exitCode.map { ", exit code \($0)" } ?? "")\n" } else if let e = exitCode { s += "  exit code: \(e)\n" }
        if let t = task { s += "  task:      \(t)\n" }
        s += "  seen:      \(occurrences) stopped task\(occurrences == 1 ? "" : "s") with this failure\(circuitBreakerTripped ? "; the circuit breaker tripped" : "")\n"
        if logLines.isEmpty {
            s += "  log:       no lines\(logStream.map { " in \($0)" } ?? " (the container never started or has no awslogs stream)")\n"
        } else {
            s += "  last \(logLines.count) log line\(logLines.count == 1 ? "" : "s")\(logStream.map { " of \($0)" } ?? ""):\n"
            for l in logLines { s += "    | \(l)\n" }
        }
        s += "  what to do: \(whatToDo)\n"
        return s
    }

    /// One line for an error message.
    public var summary: String {
        "\(component): \(reason)\(exitCode.map { " (exit code \($0))" } ?? "")" + (logLines.last.map { " — last log line: \($0)" } ?? "")
    }
}

/// One ECS service as seen in one poll during a deploy.
public struct ServiceSnapshot: Sendable {
    public var component: String
    public var service: ECSService
    /// Tasks that stopped since the deploy began.
    public var stopped: [ECSTask]
    /// Tasks ECS wants running (PROVISIONING, PENDING, RUNNING).
    public var active: [ECSTask]

    public init(component: String, service: ECSService, stopped: [ECSTask], active: [ECSTask]) {
        self.component = component
        self.service = service
        self.stopped = stopped
        self.active = active
    }
}

/// A failure found, before its log lines are read.
public struct StallCandidate: Sendable, Equatable {
    public var signature: String
    public var component: String
    public var service: String
    public var reason: String
    public var stopCode: String?
    public var container: String?
    public var exitCode: Int?
    public var task: String?
    public var taskDefinitionArn: String?
    public var occurrences: Int
    public var circuitBreakerTripped: Bool
    public var firstFailureAt: Date?
}

/// Decides, poll by poll, whether a deploy is merely slow or stalled: the same failure twice (or
/// `repeats` times), or the circuit breaker's FAILED rollout, is a stall. Pure: tests feed snapshots.
public struct StallDetector: Sendable {
    public var since: Date
    public var repeats: Int
    /// Signatures already reported (with `--on-stall wait` a failure is reported once).
    public private(set) var reported: Set<String> = []

    public init(since: Date, repeats: Int = 2) {
        self.since = since
        self.repeats = repeats
    }

    /// A stop ECS made on purpose (a rolling deploy replacing old tasks, a scale-in) is no failure.
    static func isFailure(_ t: ECSTask) -> Bool {
        let reason = t.stoppedReason ?? ""
        if t.stopCode == "UserInitiated" || reason.hasPrefix("Scaling activity initiated") { return false }
        if t.stopCode == "TaskFailedToStart" || t.stopCode == "EssentialContainerExited" { return true }
        return reason.localizedCaseInsensitiveContains("fail") || (t.containers ?? []).contains { ($0.exitCode ?? 0) != 0 }
    }

    /// The container to blame: one that exited non-zero, else one whose health check failed, else one with a reason.
    /// A dependency that exited 0 (wait-for-migrations) is not to blame; when nothing else stands out, the
    /// last container (the task's main one in fairflow's task definitions) is.
    static func failingContainer(_ t: ECSTask) -> ECSContainer? {
        let cs = t.containers ?? []
        return cs.first { ($0.exitCode ?? 0) != 0 } ?? cs.first { $0.healthStatus == "UNHEALTHY" }
            ?? cs.first { !($0.reason ?? "").isEmpty } ?? cs.last { $0.exitCode != 0 } ?? cs.last
    }

    /// Ids, ARNs and addresses differ from task to task; the failure is the same.
    static func normalize(_ s: String) -> String {
        var out = s
        for pattern in ["arn:aws[^ )]*", "[0-9a-f]{16,}", "\\b\\d{1,3}(\\.\\d{1,3}){3}\\b"] {
            out = out.replacingOccurrences(of: pattern, with: "*", options: .regularExpression)
        }
        return out
    }

    static func reason(_ t: ECSTask, _ c: ECSContainer?) -> String {
        let taskReason = t.stoppedReason ?? ""
        if let cr = c?.reason, !cr.isEmpty, cr != taskReason { return taskReason.isEmpty ? cr : "\(taskReason): \(cr)" }
        return taskReason.isEmpty ? "task stopped" : taskReason
    }

    public static func signature(_ component: String, _ t: ECSTask) -> String {
        let c = failingContainer(t)
        return [component, c?.name ?? "", c?.exitCode.map(String.init) ?? "", normalize(reason(t, c))].joined(separator: "|")
    }

    /// The stall in this poll, if any (not yet reported).
    public mutating func assess(_ snapshots: [ServiceSnapshot]) -> StallCandidate? {
        for snap in snapshots {
            let s = snap.service
            let failures = snap.stopped.filter { ($0.stopTime ?? .distantFuture) >= since && Self.isFailure($0) }
                .sorted { ($0.stopTime ?? .distantPast) < ($1.stopTime ?? .distantPast) }
            let bySignature = Dictionary(grouping: failures) { Self.signature(snap.component, $0) }
            let tripped = (s.deployments ?? []).first { $0.rolloutState == "FAILED" && ($0.updatedAt ?? $0.createdAt ?? .distantFuture) >= since }
            if let d = tripped {
                // The breaker gave up: blame the most frequent failure, if ECS still lists the tasks.
                let worst = bySignature.max { $0.value.count < $1.value.count }
                let sig = "breaker|\(snap.component)|\(d.id ?? "")"
                guard !reported.contains(sig) else { continue }
                reported.insert(sig)
                var c = worst.map { candidate(snap, $0.key, $0.value) } ?? StallCandidate(
                    signature: sig, component: snap.component, service: s.serviceName, reason: d.rolloutStateReason ?? "rollout FAILED",
                    occurrences: d.failedTasks ?? 0, circuitBreakerTripped: true)
                c.signature = sig
                c.circuitBreakerTripped = true
                if let r = d.rolloutStateReason, worst != nil { c.reason += " (\(r))" }
                return c
            }
            for (sig, tasks) in bySignature.sorted(by: { $0.key < $1.key }) where tasks.count >= repeats && !reported.contains(sig) {
                reported.insert(sig)
                return candidate(snap, sig, tasks)
            }
        }
        return nil
    }

    func candidate(_ snap: ServiceSnapshot, _ sig: String, _ tasks: [ECSTask]) -> StallCandidate {
        let last = tasks.last!
        let c = Self.failingContainer(last)
        return StallCandidate(signature: sig, component: snap.component, service: snap.service.serviceName, reason: Self.reason(last, c),
                              stopCode: last.stopCode, container: c?.name, exitCode: c?.exitCode, task: last.taskId,
                              taskDefinitionArn: last.taskDefinitionArn, occurrences: tasks.count, circuitBreakerTripped: false,
                              firstFailureAt: tasks.first?.stopTime)
    }

    /// What a slow deploy waits for, one line per service still rolling out.
    public static func waiting(_ snapshots: [ServiceSnapshot]) -> [String] {
        snapshots.compactMap { snap in
            let s = snap.service
            let rolling = (s.deployments ?? []).contains { $0.rolloutState == "IN_PROGRESS" } || s.runningCount < s.desiredCount
            guard rolling else { return nil }
            var why: [String] = []
            let pulling = snap.active.filter { $0.pullStartedAt != nil && $0.pullStoppedAt == nil }.count
            let provisioning = snap.active.filter { ["PROVISIONING", "PENDING", "ACTIVATING"].contains($0.lastStatus ?? "") }.count - pulling
            let starting = snap.active.filter { $0.lastStatus == "RUNNING" && ($0.healthStatus ?? "UNKNOWN") == "UNKNOWN" }.count
            if pulling > 0 { why.append("\(pulling) pulling the image") }
            if provisioning > 0 { why.append("\(provisioning) provisioning") }
            if starting > 0 { why.append("\(starting) in the health check's start period") }
            let primary = s.deployments?.first { $0.status == "PRIMARY" }
            var line = "waiting for \(snap.component): \(primary?.runningCount ?? s.runningCount) of \(primary?.desiredCount ?? s.desiredCount) running"
            if !why.isEmpty { line += " (\(why.joined(separator: ", ")))" }
            if let e = s.events?.first?.message { line += " — \(e)" }
            return line
        }
    }
}

/// Advice for a verdict: what the reason, exit code and log lines usually mean.
public enum StallAdvice {
    public static func whatToDo(reason: String, exitCode: Int?, logLines: [String], component: String) -> String {
        let r = reason.lowercased()
        let log = logLines.joined(separator: "\n").lowercased()
        if r.contains("cannotpullcontainer") || r.contains("pull image") {
            return "the image cannot be pulled: check the image name and tag (`--airflow-version`), and that the private subnets reach the registry (NAT gateway)"
        }
        if r.contains("resourceinitializationerror") || r.contains("secrets") && r.contains("unable") {
            return "ECS could not prepare the task (secrets or EFS): check the secret ARNs in the env file (`fairflow secrets list`) and the EFS mount targets"
        }
        if exitCode == 137 || r.contains("outofmemory") || r.contains("oom") {
            return "the container was killed for memory (exit 137): give \(component) more memory and deploy again"
        }
        if log.contains("could not resolve host") || log.contains("unable to access") && log.contains("git") {
            return component == "dag-sync"
                ? "git-sync cannot fetch the DAG repository: check DAG_REPOSITORY, its deploy key (GIT_READ_ONLY_SECRET_ARN) and that the private subnets reach it (NAT gateway), then deploy again"
                : "\(component) cannot resolve or reach a host named in its log: check the URL and the network path (NAT gateway, security groups), then deploy again"
        }
        if log.contains("broker") || log.contains("redis") || log.contains("amqp") || log.contains("celery") && log.contains("connect") {
            return "\(component) cannot reach its Celery broker: check the Redis endpoint and the broker URL, then deploy again"
        }
        if log.contains("operationalerror") || log.contains("can't connect to mysql") || log.contains("access denied for user") {
            return "\(component) cannot reach the database: check the database is available (`fairflow status`) and its secret, then deploy again"
        }
        if r.contains("elb health check") || r.contains("target-group") {
            return "the load balancer's health check fails: check the health check path answers 200 on the container port, and that the app starts within the 300 s grace period"
        }
        if r.contains("container health check") || r.contains("health checks") {
            return "the container's own health check fails: read the log lines above, then check the health check command of \(component)"
        }
        if let e = exitCode, e != 0 {
            return "\(component) exits with code \(e): read the log lines above (`fairflow logs tail \(component) --previous` for more), fix the configuration, then deploy again"
        }
        return "read the service's events (`fairflow timeline --component \(component)`), fix the cause, then deploy again"
    }
}

/// Watches the ECS services CloudFormation is waiting on during a deploy, fed by the stack's events.
public final class StallWatch: @unchecked Sendable {
    let probe: DeployWatchProbe
    let componentOf: @Sendable (String) -> String
    let pollEvery: TimeInterval
    private var detector: StallDetector
    private var lastPoll = Date.distantPast
    /// ECS services (by logical id) whose resource is in progress: their physical id is the service ARN.
    private var watching: [String: String] = [:]
    /// Every ECS service seen during this deploy (logical id → ARN), for the post-mortem.
    private var known: [String: String] = [:]
    private var definitions: [String: ECSTaskDefinition] = [:]
    /// The stack's logical id → physical id, for services whose events carry no ARN yet.
    let resolve: (@Sendable () async throws -> [String: String])?
    public private(set) var waitingLines: [String] = []

    public init(probe: DeployWatchProbe, since: Date, repeats: Int = 2, pollEvery: TimeInterval = 10,
                componentOf: @escaping @Sendable (String) -> String,
                resolve: (@Sendable () async throws -> [String: String])? = nil) {
        self.probe = probe
        self.resolve = resolve
        self.detector = StallDetector(since: since, repeats: repeats)
        self.pollEvery = pollEvery
        self.componentOf = componentOf
    }

    /// `arn:aws:ecs:<region>:<account>:service/<cluster>/<name>` → (cluster, name).
    static func parseServiceArn(_ arn: String) -> (cluster: String, name: String)? {
        guard let r = arn.range(of: ":service/") else { return nil }
        let parts = arn[r.upperBound...].split(separator: "/").map(String.init)
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    public func observe(_ events: [StackEvent]) {
        for e in events where e.resourceType == "AWS::ECS::Service" {
            if e.status.hasSuffix("_IN_PROGRESS") && !e.status.hasPrefix("DELETE") {
                if let p = e.physicalId, Self.parseServiceArn(p) != nil { watching[e.logicalId] = p; known[e.logicalId] = p }
                else if watching[e.logicalId] == nil { watching[e.logicalId] = "" }
            } else {
                watching[e.logicalId] = nil
            }
        }
    }

    public var watchedServices: [String] { watching.values.compactMap { Self.parseServiceArn($0)?.name }.sorted() }

    /// Reads the watched services (at most every `pollEvery`) and returns a verdict once one is due.
    public func check(now: Date = Date()) async throws -> StallVerdict? {
        guard now.timeIntervalSince(lastPoll) >= pollEvery else { return nil }
        if watching.values.contains(""), let resolve {
            // The first IN_PROGRESS event of a new service has no physical id: ask the stack.
            let physical = try await resolve()
            for (lid, arn) in watching where arn.isEmpty {
                if let p = physical[lid], Self.parseServiceArn(p) != nil { watching[lid] = p; known[lid] = p }
            }
        }
        let targets = watching.compactMap { lid, arn in Self.parseServiceArn(arn).map { (lid, $0.cluster, $0.name) } }
        guard !targets.isEmpty else { waitingLines = []; return nil }
        lastPoll = now
        let snaps = try await snapshots(targets)
        waitingLines = StallDetector.waiting(snaps)
        guard let c = detector.assess(snaps) else { return nil }
        return await verdict(c, now: now)
    }

    /// After CloudFormation gave up on a service (the breaker may trip between two polls): its failure,
    /// one stopped task being enough. nil when ECS no longer shows one.
    public func postMortem(logicalId: String, physicalId: String? = nil, now: Date = Date()) async -> StallVerdict? {
        if let p = physicalId, Self.parseServiceArn(p) != nil { known[logicalId] = p }
        if known[logicalId] == nil, let resolve, let p = (try? await resolve())?[logicalId], Self.parseServiceArn(p) != nil { known[logicalId] = p }
        guard let arn = known[logicalId], let (cluster, name) = Self.parseServiceArn(arn),
              let snaps = try? await snapshots([(logicalId, cluster, name)]) else { return nil }
        var last = StallDetector(since: detector.since, repeats: 1)
        guard let c = last.assess(snaps) else { return nil }
        return await verdict(c, now: now)
    }

    func snapshots(_ targets: [(String, String, String)]) async throws -> [ServiceSnapshot] {
        var snaps: [ServiceSnapshot] = []
        for (cluster, group) in Dictionary(grouping: targets, by: { $0.1 }) {
            let services = try await probe.services(cluster: cluster, names: group.map(\.2).sorted())
            for s in services {
                guard let lid = group.first(where: { $0.2 == s.serviceName })?.0 else { continue }
                let stopped = try await probe.tasks(cluster: cluster, service: s.serviceName, desiredStatus: "STOPPED")
                let active = try await probe.tasks(cluster: cluster, service: s.serviceName, desiredStatus: "RUNNING")
                snaps.append(ServiceSnapshot(component: componentOf(lid), service: s, stopped: stopped, active: active))
            }
        }
        return snaps.sorted { $0.component < $1.component }
    }

    func verdict(_ c: StallCandidate, now: Date) async -> StallVerdict {
        var lines: [String] = []
        var stream: String?
        if let tdArn = c.taskDefinitionArn, let container = c.container, let task = c.task {
            if definitions[tdArn] == nil { definitions[tdArn] = try? await probe.taskDefinition(tdArn) }
            let cd = definitions[tdArn]?.containerDefinitions?.first { $0.name == container }
            if let opts = cd?.logConfiguration?.options, cd?.logConfiguration?.logDriver == "awslogs",
               let group = opts["awslogs-group"], let prefix = opts["awslogs-stream-prefix"] {
                stream = "\(prefix)/\(container)/\(task)"
                lines = (try? await probe.lastLogLines(group: group, stream: stream!, count: 10)) ?? []
                stream = "\(group) \(stream!)"
            }
        }
        return StallVerdict(component: c.component, service: c.service, reason: c.reason, stopCode: c.stopCode, container: c.container,
                            exitCode: c.exitCode, task: c.task, occurrences: c.occurrences, circuitBreakerTripped: c.circuitBreakerTripped,
                            logStream: stream, logLines: lines,
                            whatToDo: StallAdvice.whatToDo(reason: c.reason, exitCode: c.exitCode, logLines: lines, component: c.component),
                            detectedAt: now, firstFailureAt: c.firstFailureAt)
    }
}
