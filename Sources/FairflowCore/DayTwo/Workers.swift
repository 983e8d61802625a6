import AirflowAPI
import AWSCore
import AWSServices
import FairflowTemplate
import Foundation

/// `fairflow workers`: per worker task, what keeps it (or not) from going away — its Celery tasks, its
/// scale-in protection — and the work waiting that the queue policy scales on.
public enum Workers: FairflowOperation {
    public static let id = "workers"
    public static let summary = "Show each worker task: its Celery host, active tasks, scale-in protection, and the queue depth."

    public struct Input: Codable, Sendable {
        /// Where Flower is; when it cannot be asked the rest is still shown (with a note).
        public var flower: AirflowTarget
        public init(flower: AirflowTarget = AirflowTarget()) { self.flower = flower }
    }

    public struct Worker: Codable, Sendable, Equatable {
        public var taskId: String
        public var lastStatus: String
        public var health: String?
        public var startedAt: Date?
        public var privateIp: String?
        /// celery@<host>, as Flower names the worker (nil: Flower did not list it).
        public var celeryHostname: String?
        public var activeTasks: Int?
        public var activeTaskIds: [String]?
        public var protected: Bool
        public var protectionExpires: Date?
    }

    public struct Output: OperationOutput {
        public var service: String
        public var desiredCount: Int
        public var runningCount: Int
        public var workers: [Worker]
        /// Fairflow/CeleryBacklog: queued + running task instances (nil: nothing published in the last 10 minutes).
        public var backlog: Double?
        /// Fairflow/CeleryBacklogPerWorker, what WorkerQueueScaling tracks.
        public var backlogPerWorker: Double?
        public var backlogAt: Date?
        /// What could not be read (Flower, the metric), so an empty column says why.
        public var notes: [String]

        public func renderText(_ t: Terminal) -> String {
            func time(_ d: Date?) -> String { d.map { AirflowAccess.shortDate(ISO8601DateFormatter().string(from: $0)) } ?? "-" }
            var s = Table(headers: ["TASK", "STATUS", "CELERY_HOST", "ACTIVE", "PROTECTED", "UNTIL"], rows: workers.map { w in
                [w.taskId, w.lastStatus + (w.health.map { "/\($0)" } ?? ""), w.celeryHostname ?? "-",
                 w.activeTasks.map(String.init) ?? "-", w.protected ? "yes" : "no", w.protected ? time(w.protectionExpires) : "-"]
            }).render(tty: t.isTTY)
            func n(_ v: Double?) -> String { v.map { $0 == $0.rounded() ? String(Int($0)) : String(format: "%.2f", $0) } ?? "-" }
            let summary = "queue: backlog \(n(backlog)), per worker \(n(backlogPerWorker)) (at \(time(backlogAt))); workers desired \(desiredCount), running \(runningCount)"
            // On a pipe the table stays plain rows; the summary and notes are for a reader (JSON has them all).
            if t.isTTY {
                s += summary + "\n"
                for note in notes { s += "note: \(note)\n" }
            }
            return s
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("CloudFormation DescribeStacks"), PlannedAction("ECS DescribeServices"), PlannedAction("ECS ListTasks"),
         PlannedAction("ECS DescribeTasks"), PlannedAction("ECS GetTaskProtection"), PlannedAction("Flower GET /api/workers"),
         PlannedAction("Flower GET /api/tasks?state=STARTED"), PlannedAction("CloudWatch GetMetricStatistics", detail: WorkerQueueMetric.namespace)]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let stack = try await StackResources.load(context)
        let cluster = try stack.cluster
        let service = try stack.serviceName(.worker)
        let aws = try context.aws()
        let ecs = ECS(aws)
        let svc = try await ecs.describeServices(cluster: cluster, [service]).first
        let arns = try await ecs.listTasks(cluster: cluster, service: service, desiredStatus: "RUNNING").all()
        let tasks = arns.isEmpty ? [] : try await ecs.describeTasks(cluster: cluster, arns)
        var notes: [String] = []
        var protection: [String: ECSTaskProtection] = [:]
        if !arns.isEmpty {
            do {
                for p in try await ecs.taskProtection(cluster: cluster, arns) { protection[p.taskArn] = p }
            } catch {
                notes.append("task protection unavailable: \(error)")
            }
        }
        var flowerWorkers: [FlowerWorker] = [], started: [FlowerTask] = []
        do {
            (flowerWorkers, started) = try await AirflowAccess.withFlower(input.flower, context: context) { f in
                (try await f.workers(), try await f.tasks(state: "STARTED"))
            }
        } catch {
            notes.append("Flower unavailable (no Celery hosts or active tasks): \(error)")
        }
        let workers = tasks.sorted { ($0.startedAt ?? .distantPast) < ($1.startedAt ?? .distantPast) }.map { t -> Worker in
            let ip = t.privateIPv4Address
            // Fargate names a task's host after its address: celery@ip-10-0-1-23.ec2.internal.
            let host = ip.map { "ip-" + $0.replacingOccurrences(of: ".", with: "-") }
            let fw = host.flatMap { h in flowerWorkers.first { $0.name.hasPrefix("celery@\(h).") || $0.name == "celery@\(h)" } }
            let p = protection[t.taskArn]
            return Worker(taskId: t.taskId, lastStatus: t.lastStatus ?? "?", health: t.healthStatus, startedAt: t.startedAt, privateIp: ip,
                          celeryHostname: fw?.name, activeTasks: fw?.activeTasks,
                          activeTaskIds: fw.map { w in started.filter { $0.worker == w.name }.map(\.id) },
                          protected: p?.protectionEnabled ?? false, protectionExpires: p?.protectionEnabled == true ? p?.expirationDate : nil)
        }
        let cw = CloudWatch(aws)
        let dims = WorkerQueueMetric.dimensions(cluster: cluster, service: service)
        var backlog: MetricDatapoint?, perWorker: MetricDatapoint?
        do {
            backlog = try await cw.latest(namespace: WorkerQueueMetric.namespace, metric: WorkerQueueMetric.backlog, dimensions: dims)
            perWorker = try await cw.latest(namespace: WorkerQueueMetric.namespace, metric: WorkerQueueMetric.backlogPerWorker, dimensions: dims)
            if backlog == nil {
                notes.append("no queue metric in the last 10 minutes: the stack publishes it with --autoscaling (the scheduler's queue-metrics container)")
            }
        } catch {
            notes.append("queue metric unavailable: \(error)")
        }
        return Output(service: service, desiredCount: svc?.desiredCount ?? 0, runningCount: svc?.runningCount ?? 0, workers: workers,
                      backlog: backlog?.value, backlogPerWorker: perWorker?.value, backlogAt: backlog?.timestamp, notes: notes)
    }
}
