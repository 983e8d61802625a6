import AWSCore
import AWSServices
import FairflowTemplate
import Foundation

/// `fairflow scale COMPONENT COUNT`: sets a service's desired count and waits for a steady state.
public enum Scale: FairflowOperation {
    public static let id = "scale"
    public static let summary = "Set a component's task count (UpdateService) and wait until it is steady."
    public static let scalable: [AirflowComponent] = AirflowComponent.allCases.filter { $0 != .external }

    public struct Input: Codable, Sendable {
        public var component: AirflowComponent
        public var count: Int
        public var wait = true
        public var timeoutSeconds: Double = 600
        public init(component: AirflowComponent, count: Int, wait: Bool = true) {
            self.component = component
            self.count = count
            self.wait = wait
        }
    }

    public struct Output: OperationOutput {
        public var component: String
        public var cluster: String
        public var service: String
        public var previousDesiredCount: Int
        public var desiredCount: Int
        public var runningCount: Int
        public var pendingCount: Int
        public var steady: Bool?
        /// Workers scaled in: which tasks stopped, and which of them ECS kept until their Celery tasks finished.
        public var drain: Drain?

        public func renderText(_ t: Terminal) -> String {
            var s = Table(headers: ["COMPONENT", "SERVICE", "DESIRED", "RUNNING", "PENDING", "STEADY"], rows: [[
                component, service, "\(previousDesiredCount) → \(desiredCount)", "\(runningCount)", "\(pendingCount)",
                steady.map { $0 ? "yes" : "no" } ?? "not waited",
            ]]).render(tty: t.isTTY)
            if t.isTTY, let d = drain, !d.stopped.isEmpty {
                s += "stopped: \(d.stopped.joined(separator: ", "))"
                s += d.waitedFor.isEmpty ? "\n" : "; waited for the busy ones to finish: \(d.waitedFor.joined(separator: ", "))\n"
            }
            return s
        }
    }

    /// What a worker scale-in waited for (task ids).
    public struct Drain: Codable, Sendable, Equatable {
        /// Worker tasks that stopped during the scale-in.
        public var stopped: [String]
        /// Those of them that were protected (busy) when the count went down: ECS stopped them only once
        /// their task-protection was released, i.e. their Celery tasks had finished.
        public var waitedFor: [String]
        /// Protected when the count went down, still running now (ECS chose idle ones, or the wait ended first).
        public var stillBusy: [String]

        public init(runningBefore: [String], protectedBefore: [String], runningAfter: [String]) {
            func id(_ arn: String) -> String { arn.split(separator: "/").last.map(String.init) ?? arn }
            let after = Set(runningAfter)
            stopped = runningBefore.filter { !after.contains($0) }.map(id)
            waitedFor = protectedBefore.filter { !after.contains($0) }.map(id)
            stillBusy = protectedBefore.filter { after.contains($0) }.map(id)
        }
    }

    public static func validate(_ input: Input) throws {
        if input.component == .external {
            throw FairflowError.usage("external is not a service", why: "external tasks run on demand", fix: "use `fairflow tasks run big|little`")
        }
        if input.count < 0 { throw FairflowError.usage("bad count \(input.count)", why: "a task count cannot be negative", fix: "use 0 or more") }
        if input.count > 100 { throw FairflowError.usage("bad count \(input.count)", why: "more than 100 tasks of one component is surely a typo", fix: "use a smaller count") }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        var p = [PlannedAction("CloudFormation DescribeStacks"), PlannedAction("ECS DescribeServices"),
                 PlannedAction("ECS UpdateService", mutating: true, detail: "\(input.component.rawValue) desiredCount \(input.count)")]
        if input.component == .worker {
            p.insert(contentsOf: [PlannedAction("ECS ListTasks", detail: "on scale-in"), PlannedAction("ECS GetTaskProtection", detail: "on scale-in")], at: 2)
        }
        if input.wait { p.append(PlannedAction("ECS DescribeServices", detail: "until steady")) }
        return p
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try validate(input)
        let stack = try await StackResources.load(context)
        let cluster = try stack.cluster
        let service = try stack.serviceName(input.component)
        let ecs = ECS(try context.aws())
        guard let before = try await ecs.describeServices(cluster: cluster, [service]).first else {
            throw ECSError.serviceNotFound(cluster: cluster, service: service)
        }
        if input.count == 0 && before.desiredCount > 0 {
            try context.confirm("Scale \(input.component.rawValue) (\(service)) from \(before.desiredCount) to 0 tasks? It stops serving until scaled up.")
        }
        // Workers going away: a busy one is protected (its task-protection container), and ECS stops it only
        // when it is idle again, so the wait below is the drain; say whom it waits for.
        let scalingIn = input.component == .worker && input.count < before.runningCount
        var runningBefore: [String] = [], protectedBefore: [String] = []
        if scalingIn {
            runningBefore = try await ecs.listTasks(cluster: cluster, service: service, desiredStatus: "RUNNING").all()
            if !runningBefore.isEmpty, let p = try? await ecs.taskProtection(cluster: cluster, runningBefore) {
                protectedBefore = p.filter(\.protectionEnabled).map(\.taskArn)
            }
            if input.wait, !protectedBefore.isEmpty {
                let ids = protectedBefore.map { $0.split(separator: "/").last.map(String.init) ?? $0 }
                context.terminal.note("worker: \(ids.count) busy worker task(s) protected from scale-in (\(ids.joined(separator: ", "))): ECS stops them when their Celery tasks finish")
            }
        }
        var after = try await ecs.updateService(cluster: cluster, service: service, desiredCount: input.count)
        var steady: Bool?
        if input.wait {
            let term = context.terminal
            let last = LastLine()
            do {
                after = try await ecs.waitUntilStable(cluster: cluster, [service], timeout: input.timeoutSeconds) { services in
                    guard let s = services.first else { return }
                    let line = "\(input.component.rawValue): \(s.runningCount)/\(s.desiredCount) running, \(s.pendingCount) pending, \((s.deployments ?? []).count) deployment(s)"
                    if last.swap(line) != line { term.note(line) }
                }.first ?? after
                steady = true
            } catch where error is Waiter<[ECSService]>.TimedOut || error is Waiter<[ECSService]>.Failed {
                let why = (error as? Waiter<[ECSService]>.Failed)?.reason ?? "\(error)"
                throw FairflowError("\(input.component.rawValue) did not reach a steady state", why: "\(why)\(try await stoppedReasons(ecs, cluster: cluster, service: service))",
                                    fix: protectedBefore.isEmpty ? "look at `fairflow logs tail \(input.component.rawValue) --previous`"
                                        : "`fairflow workers` shows which workers are still protected and the Celery tasks they run; wait longer with --timeout")
            }
        }
        var drain: Drain?
        if scalingIn && input.wait {
            let runningAfter = try await ecs.listTasks(cluster: cluster, service: service, desiredStatus: "RUNNING").all()
            drain = Drain(runningBefore: runningBefore, protectedBefore: protectedBefore, runningAfter: runningAfter)
        }
        return Output(component: input.component.rawValue, cluster: cluster, service: service, previousDesiredCount: before.desiredCount,
                      desiredCount: after.desiredCount, runningCount: after.runningCount, pendingCount: after.pendingCount, steady: steady,
                      drain: drain)
    }

    /// "; stopped tasks: abc: Essential container exited (exit 1)" for the few most recent.
    static func stoppedReasons(_ ecs: ECS, cluster: String, service: String) async throws -> String {
        let arns = try await ecs.listTasks(cluster: cluster, service: service, desiredStatus: "STOPPED").all()
        let tasks = try await ecs.describeTasks(cluster: cluster, Array(arns.prefix(100)))
            .sorted { ($0.stoppedAt ?? .distantPast) > ($1.stoppedAt ?? .distantPast) }.prefix(3)
        guard !tasks.isEmpty else { return "" }
        return "; stopped tasks: " + tasks.map { t in
            let codes = (t.containers ?? []).compactMap { c in c.exitCode.map { "\(c.name ?? "?") exit \($0)" } ?? c.reason.map { "\(c.name ?? "?"): \($0)" } }
            return "\(t.taskId.prefix(8)): \(t.stoppedReason ?? t.stopCode ?? "stopped")" + (codes.isEmpty ? "" : " (\(codes.joined(separator: ", ")))")
        }.joined(separator: "; ")
    }
}

/// The last progress line printed, so an unchanged poll prints nothing.
final class LastLine: @unchecked Sendable {
    private let lock = NSLock()
    private var value = ""
    func swap(_ new: String) -> String { lock.withLock { let old = value; value = new; return old } }
}

/// `fairflow scale worker --min N --max M [--cpu PCT] [--memory PCT] [--tasks-per-worker N]`: Application Auto Scaling.
public enum ScaleAuto: FairflowOperation {
    public static let id = "scale.auto"
    public static let summary = "Let the workers scale between a minimum and maximum on the work waiting, CPU and memory."

    public struct Input: Codable, Sendable {
        public var component: AirflowComponent = .worker
        public var min: Int
        public var max: Int
        public var cpuPercent: Double?
        public var memoryPercent: Double?
        /// The queue policy's target: queued + running Celery tasks per worker (the stack's CeleryBacklogPerWorker).
        public var tasksPerWorker: Int?
        public init(component: AirflowComponent = .worker, min: Int, max: Int, cpuPercent: Double? = nil, memoryPercent: Double? = nil,
                    tasksPerWorker: Int? = nil) {
            self.component = component
            self.min = min
            self.max = max
            self.cpuPercent = cpuPercent
            self.memoryPercent = memoryPercent
            self.tasksPerWorker = tasksPerWorker
        }
    }

    public struct Output: OperationOutput {
        public var component: String
        public var resourceId: String
        public var min: Int
        public var max: Int
        public var policies: [String]
        public func renderText(_ t: Terminal) -> String {
            Table(headers: ["COMPONENT", "RESOURCE", "MIN", "MAX", "POLICIES"], rows: [[
                component, resourceId, "\(min)", "\(max)", policies.isEmpty ? "-" : policies.joined(separator: ","),
            ]]).render(tty: t.isTTY)
        }
    }

    public static func validate(_ input: Input) throws {
        if input.component != .worker {
            throw FairflowError.usage("autoscaling is for workers", why: "only Celery workers share work so that more tasks help",
                                      fix: "use `fairflow scale worker --min N --max M`, or `scale \(input.component.rawValue) COUNT`")
        }
        if input.min < 0 || input.max < 0 { throw FairflowError.usage("bad --min/--max", why: "task counts cannot be negative", fix: "use 0 or more") }
        if input.min > input.max {
            throw FairflowError.usage("bad --min \(input.min) --max \(input.max)", why: "--min is above --max", fix: "make --min at most --max")
        }
        if input.max > 100 { throw FairflowError.usage("bad --max \(input.max)", why: "more than 100 workers is surely a typo", fix: "use a smaller maximum") }
        for (flag, v) in [("--cpu", input.cpuPercent), ("--memory", input.memoryPercent)] {
            if let p = v, !(p > 0 && p <= 100) {
                throw FairflowError.usage("bad \(flag) \(p)", why: "a target utilisation is a percentage above 0 and at most 100", fix: "use e.g. \(flag) 70")
            }
        }
        if let n = input.tasksPerWorker, !(1...1000).contains(n) {
            throw FairflowError.usage("bad --tasks-per-worker \(n)", why: "a worker carries 1 to 1000 queued + running tasks",
                                      fix: "use the worker's concurrency (\(TemplateOptions.defaultTasksPerWorker)) or a little more")
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        var p = [PlannedAction("CloudFormation DescribeStacks"),
                 PlannedAction("Application Auto Scaling RegisterScalableTarget", mutating: true, detail: "min \(input.min) max \(input.max)")]
        if input.cpuPercent != nil { p.append(PlannedAction("Application Auto Scaling PutScalingPolicy", mutating: true, detail: "CPU")) }
        if input.memoryPercent != nil { p.append(PlannedAction("Application Auto Scaling PutScalingPolicy", mutating: true, detail: "memory")) }
        if let n = input.tasksPerWorker {
            p.append(PlannedAction("Application Auto Scaling PutScalingPolicy", mutating: true, detail: "queue: \(n) tasks per worker"))
        }
        return p
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try validate(input)
        let stack = try await StackResources.load(context)
        let cluster = try stack.cluster
        let service = try stack.serviceName(input.component)
        let aas = ApplicationAutoScaling(try context.aws())
        try await aas.registerECSService(cluster: cluster, service: service, min: input.min, max: input.max)
        var policies: [String] = []
        // The template's policy names: PutScalingPolicy updates the stack's own policies instead of adding more.
        for (id, metric, target) in [("WorkerCpuScaling", "ECSServiceAverageCPUUtilization", input.cpuPercent),
                                     ("WorkerMemoryScaling", "ECSServiceAverageMemoryUtilization", input.memoryPercent)] {
            guard let t = target else { continue }
            let name = "\(stack.stackName)-\(id)"
            try await aas.putTargetTracking(name: name, cluster: cluster, service: service, metric: metric, target: t)
            policies.append(name)
        }
        if let n = input.tasksPerWorker {
            // What the scheduler's queue-metrics sidecar publishes (a stack deployed with --autoscaling).
            let name = "\(stack.stackName)-WorkerQueueScaling"
            try await aas.putTargetTracking(name: name, cluster: cluster, service: service, namespace: WorkerQueueMetric.namespace,
                                            metricName: WorkerQueueMetric.backlogPerWorker, dimensions: WorkerQueueMetric.dimensions(cluster: cluster, service: service),
                                            target: Double(n))
            policies.append(name)
        }
        return Output(component: input.component.rawValue, resourceId: ApplicationAutoScaling.ecsResourceId(cluster: cluster, service: service),
                      min: input.min, max: input.max, policies: policies)
    }
}

