import AirflowAPI
import Foundation

/// `fairflow flower workers`: Celery workers online, their active tasks, and the queue depth.
public enum FlowerWorkers: FairflowOperation {
    public static let id = "flower.workers"
    public static let summary = "Show Celery workers (online, active tasks) and queue depth from Flower."

    public struct Input: Codable, Sendable {
        public var flower: AirflowTarget
        /// At least this many workers must be online, else the check fails (exit 3): after `scale worker N`.
        public var expect: Int?
        public init(flower: AirflowTarget, expect: Int? = nil) {
            self.flower = flower
            self.expect = expect
        }
    }

    public struct Output: OperationOutput {
        public var workers: [FlowerWorker]
        public var queues: [FlowerQueue]
        public var expected: Int?
        public var online: Int { workers.filter(\.online).count }
        public var exitStatus: ExitStatus { (expected.map { online < $0 } ?? false) ? .checkFailed : .ok }
        public var problems: [String] {
            guard let expected, online < expected else { return [] }
            return ["\(online) of \(expected) expected Celery workers online"]
        }
        public func renderText(_ t: Terminal) -> String {
            var s = Table(headers: ["WORKER", "ONLINE", "ACTIVE", "PROCESSED", "QUEUES"], rows: workers.map {
                [$0.name, $0.online ? "yes" : "no", "\($0.activeTasks)", $0.processed.map(String.init) ?? "-", $0.queues.joined(separator: ",")]
            }).render(tty: t.isTTY)
            if t.isTTY {
                s += "\n" + Table(headers: ["QUEUE", "WAITING"], rows: queues.map { [$0.name, "\($0.messages)"] }).render(tty: true)
            }
            for p in problems { s += "problem: \(p)\n" }
            return s
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("Flower GET /api/workers"), PlannedAction("Flower GET /api/tasks?state=STARTED"),
         PlannedAction("Flower GET /api/queues/length")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try await AirflowAccess.withFlower(input.flower, context: context) { flower in
            Output(workers: try await flower.workers(), queues: try await flower.queues(), expected: input.expect)
        }
    }
}

/// `fairflow flower tasks [--state S]`.
public enum FlowerTasks: FairflowOperation {
    public static let id = "flower.tasks"
    public static let summary = "List Celery tasks Flower has seen, newest first, optionally by state."

    public struct Input: Codable, Sendable {
        public var flower: AirflowTarget
        public var state: String?
        public var limit: Int
        public init(flower: AirflowTarget, state: String? = nil, limit: Int = 50) {
            self.flower = flower
            self.state = state
            self.limit = limit
        }
    }

    public struct Output: OperationOutput {
        public var tasks: [FlowerTask]
        public func renderText(_ t: Terminal) -> String {
            Table(headers: ["TASK_ID", "NAME", "STATE", "WORKER", "RUNTIME"], rows: tasks.map {
                [$0.id, $0.name ?? "-", $0.state, $0.worker ?? "-", $0.runtime.map { String(format: "%.2f", $0) } ?? "-"]
            }).render(tty: t.isTTY)
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("Flower GET /api/tasks")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try await AirflowAccess.withFlower(input.flower, context: context) { flower in
            Output(tasks: try await flower.tasks(state: input.state, limit: input.limit))
        }
    }
}
