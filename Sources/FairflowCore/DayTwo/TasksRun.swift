import AWSCore
import AWSServices
import Foundation

/// `fairflow tasks run big|little [-- COMMAND...]`: one on-demand external task, its log, its exit code.
public enum TasksRun: FairflowOperation {
    public static let id = "tasks.run"
    public static let summary = "Run an on-demand external task (big or little) and exit with its container's exit code."

    public enum Size: String, Codable, Sendable, CaseIterable {
        case big, little
        var familyOutput: String { self == .big ? "BigTaskDefinitionFamily" : "LittleTaskDefinitionFamily" }
    }

    public struct Input: Codable, Sendable {
        public var size: Size
        public var command: [String]?
        public var wait = false
        public var timeoutSeconds: Double = 3600
        public var pollSeconds: Double = 3
        public init(size: Size, command: [String]? = nil, wait: Bool = false) {
            self.size = size
            self.command = command
            self.wait = wait
        }
    }

    public struct Output: OperationOutput {
        public var taskArn: String
        public var taskDefinition: String
        public var container: String
        public var lastStatus: String
        public var stopCode: String?
        public var stoppedReason: String?
        /// The container's exit code once the task stopped (`--wait`); the CLI exits with it.
        public var exitCode: Int?
        public var logGroup: String
        public var logStream: String

        public func renderText(_ t: Terminal) -> String {
            var rows = [["task", taskArn], ["status", lastStatus], ["log", "\(logGroup) \(logStream)"]]
            if let c = exitCode { rows.append(["exit code", "\(c)"]) }
            if let r = stoppedReason { rows.append(["stopped", r]) }
            return Table(headers: ["FIELD", "VALUE"], rows: rows).render(tty: t.isTTY)
        }

        public var exitStatus: ExitStatus { (exitCode ?? 0) == 0 ? .ok : .failed }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        var p = [PlannedAction("CloudFormation DescribeStacks"), PlannedAction("ECS DescribeTaskDefinition"),
                 PlannedAction("ECS RunTask", mutating: true, detail: "\(input.size.rawValue)\(input.command.map { ": " + $0.joined(separator: " ") } ?? "")")]
        if input.wait { p += [PlannedAction("ECS DescribeTasks", detail: "until STOPPED"), PlannedAction("CloudWatch Logs FilterLogEvents")] }
        return p
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        if let c = input.command, c.isEmpty || c.allSatisfy({ $0.isEmpty }) {
            throw FairflowError.usage("empty command", why: "nothing follows --", fix: "give the command, e.g. `tasks run little -- python job.py`")
        }
        let stack = try await StackResources.load(context)
        let cluster = try stack.cluster
        let family = try stack.output(input.size.familyOutput, for: "the \(input.size.rawValue) task definition")
        let group = try stack.logGroup(.external)
        let sg = try stack.output("ExternalTasksSecurityGroupId", for: "the external tasks' security group")
        let network = ECSNetwork(subnets: try stack.privateSubnets, securityGroups: [sg])
        let aws = try context.aws()
        let ecs = ECS(aws)
        let td = try await ecs.describeTaskDefinition(family)
        guard let cd = td.containerDefinitions?.first(where: { $0.essential ?? true }) ?? td.containerDefinitions?.first, let container = cd.name else {
            throw FairflowError("cannot run \(family)", why: "its task definition has no container", fix: "redeploy the stack")
        }
        let prefix = cd.logConfiguration?.options?["awslogs-stream-prefix"] ?? "FairflowExternalTask"
        let tasks = try await ecs.runTask(cluster: cluster, taskDefinition: td.taskDefinitionArn ?? family, network: network, container: container,
                                          command: input.command, clientToken: context.idempotencyToken("tasks.run/\(input.size.rawValue)"))
        let task = tasks[0]
        let stream = "\(prefix)/\(container)/\(task.taskId)"
        context.terminal.note("started \(input.size.rawValue) task \(task.taskId) (\(task.lastStatus ?? "?"))")
        var out = Output(taskArn: task.taskArn, taskDefinition: task.taskDefinitionArn ?? family, container: container,
                         lastStatus: task.lastStatus ?? "PROVISIONING", logGroup: group, logStream: stream)
        guard input.wait else { return out }
        let watch = TaskWatch(ecs: ecs, logs: CloudWatchLogs(aws), cluster: cluster, container: container, logGroup: group,
                              pollSeconds: input.pollSeconds, timeoutSeconds: input.timeoutSeconds)
        let stopped = try await watch.follow(task.taskArn, stream: stream, terminal: context.terminal, json: context.settings.output == .json)
        out.lastStatus = stopped.lastStatus ?? "STOPPED"
        out.stopCode = stopped.stopCode
        out.stoppedReason = stopped.stoppedReason
        out.exitCode = try TaskWatch.exitCode(stopped, container: container)
        context.terminal.note("task \(task.taskId) stopped: \(container) exited with \(out.exitCode ?? 0)\(stopped.stoppedReason.flatMap { $0.isEmpty ? nil : " (\($0))" } ?? "")")
        return out
    }
}

/// Follows one task until it stops, printing its log as it comes; then reads its container's exit code.
public struct TaskWatch: Sendable {
    public var ecs: ECS
    public var logs: CloudWatchLogs
    public var cluster: String
    public var container: String
    public var logGroup: String
    public var pollSeconds: Double
    public var timeoutSeconds: Double

    public init(ecs: ECS, logs: CloudWatchLogs, cluster: String, container: String, logGroup: String, pollSeconds: Double, timeoutSeconds: Double) {
        self.ecs = ecs
        self.logs = logs
        self.cluster = cluster
        self.container = container
        self.logGroup = logGroup
        self.pollSeconds = pollSeconds
        self.timeoutSeconds = timeoutSeconds
    }

    /// The container's exit code; a task that stopped without one (it never started) is an error saying why.
    public static func exitCode(_ task: ECSTask, container: String) throws -> Int {
        let c = task.containers?.first { $0.name == container } ?? task.containers?.first
        if let code = c?.exitCode { return code }
        let why = [task.stopCode, task.stoppedReason, c?.reason].compactMap { $0 }.joined(separator: ": ")
        throw FairflowError("task \(task.taskId) stopped without an exit code", why: why.isEmpty ? "ECS gave no reason" : why,
                            fix: task.stopCode == "TaskFailedToStart" ? "check the image, the subnets' route to ECR and the execution role" :
                                "look at its log with `fairflow logs tail external --since 1h`")
    }

    /// Polls DescribeTasks and the task's log stream until the task is STOPPED; prints each log event once.
    public func follow(_ taskArn: String, stream: String, terminal: Terminal, json: Bool,
                       sleep: @Sendable (TimeInterval) async throws -> Void = { try await Task.sleep(nanoseconds: UInt64($0 * 1e9)) }) async throws -> ECSTask {
        var merger = LogMerger(start: [logGroup: 0])
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var lastStatus = ""
        while true {
            guard let task = try await ecs.describeTasks(cluster: cluster, [taskArn]).first else {
                throw FairflowError("task \(taskArn) vanished", why: "DescribeTasks no longer knows it", fix: "look at the ECS console's stopped tasks")
            }
            if task.lastStatus != lastStatus {
                lastStatus = task.lastStatus ?? ""
                terminal.note("task \(task.taskId.prefix(8)): \(lastStatus)")
            }
            // The log is read after the status, so a STOPPED task's last lines are already in.
            let events = (try? await logs.filterLogEvents(LogFilter(group: logGroup, startTime: merger.startTime(logGroup), streamNames: [stream])).all()) ?? []
            for (_, e) in merger.accept([(logGroup, events)]) {
                if json {
                    terminal.write(try JSON.encode(TailLine(component: "external", task: task.taskId, container: container, stream: stream,
                                                            timestamp: Date(timeIntervalSince1970: Double(e.timestamp) / 1000), message: e.message,
                                                            eventId: e.eventId), pretty: false) + "\n")
                } else {
                    terminal.write(e.message.hasSuffix("\n") ? e.message : e.message + "\n")
                }
            }
            if task.lastStatus == "STOPPED" { return task }
            if Date() > deadline {
                throw FairflowError("task \(task.taskId) still \(lastStatus) after \(Int(timeoutSeconds)) s", why: "it has not stopped",
                                    fix: "it keeps running; follow it with `fairflow logs tail external --follow`")
            }
            try await sleep(pollSeconds)
        }
    }
}
