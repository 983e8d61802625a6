import AWSCore
import AWSServices
import Foundation

/// `fairflow logs tail`: components' log groups, merged in time order, optionally followed.
public enum LogsTail: FairflowOperation {
    public static let id = "logs.tail"
    public static let summary = "Show (and follow) the components' logs, interleaved in time order."

    public struct Input: Codable, Sendable {
        public var components: [AirflowComponent] = []
        public var since: String = "10m"
        public var filter: String?
        public var follow = false
        public var previous = false
        /// Seconds between follow polls at first; doubles while quiet, up to `maxPollSeconds`.
        public var pollSeconds: Double = 1
        public var maxPollSeconds: Double = 10
        /// Stop following after this many polls (tests, runbooks); nil follows until Ctrl-C.
        public var maxPolls: Int?
        /// Events per FilterLogEvents page (nil: the service's default, up to 10,000).
        public var pageSize: Int?
        public init(components: [AirflowComponent] = [], since: String = "10m", filter: String? = nil, follow: Bool = false, previous: Bool = false) {
            self.components = components
            self.since = since
            self.filter = filter
            self.follow = follow
            self.previous = previous
        }
    }

    public struct Output: OperationOutput {
        public var events: Int
        public var groups: [String: String]
        public var polls: Int
        /// Lines are streamed while the command runs; nothing is left to print.
        public func renderText(_ t: Terminal) -> String { "" }
    }

    public static func validate(_ input: Input) throws {
        _ = try SinceParser.parse(input.since)
        if input.previous && input.components.count != 1 {
            throw FairflowError.usage("--previous needs one component", why: "it shows one service's last stopped task", fix: "name the component, e.g. `logs tail scheduler --previous`")
        }
        if input.previous && input.components.first == .external {
            throw FairflowError.usage("--previous is for services", why: "external tasks are not a service", fix: "use `logs tail external --since ...`")
        }
        if let p = input.pageSize, !(1...10_000).contains(p) {
            throw FairflowError.usage("bad page size \(p)", why: "FilterLogEvents takes 1 to 10000", fix: "leave it at its default")
        }
        if input.pollSeconds <= 0 || input.maxPollSeconds < input.pollSeconds {
            throw FairflowError.usage("bad poll interval", why: "it must be positive and at most the maximum", fix: "leave it at its default")
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        var p = [PlannedAction("CloudFormation DescribeStacks", detail: context.stackName)]
        if input.previous { p += [PlannedAction("ECS ListTasks", detail: "STOPPED"), PlannedAction("ECS DescribeTasks")] }
        p.append(PlannedAction("CloudWatch Logs FilterLogEvents", detail: input.follow ? "polled until Ctrl-C" : "since \(input.since)"))
        return p
    }

    /// "scheduler/scheduler/0123abcd…" → (container, task id).
    static func streamParts(_ stream: String) -> (container: String?, task: String) {
        let parts = stream.split(separator: "/").map(String.init)
        if parts.count >= 3 { return (parts[parts.count - 2], parts[parts.count - 1]) }
        return (nil, parts.last ?? stream)
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try validate(input)
        let since = try SinceParser.parse(input.since)
        let stack = try await StackResources.load(context)
        let components = input.components.isEmpty ? stack.components : input.components
        var groups: [(AirflowComponent, String)] = []
        for c in components { groups.append((c, try stack.logGroup(c))) }
        let logs = CloudWatchLogs(try context.aws())
        var streams: [String]?
        if input.previous { streams = try await previousTaskStreams(input.components[0], stack: stack, context: context) }

        let stop = StopFlag()
        if input.follow { stop.installSignalHandlers() }
        var merger = LogMerger(start: Dictionary(uniqueKeysWithValues: groups.map { ($0.1, Int64(since.timeIntervalSince1970 * 1000)) }))
        let componentOf = Dictionary(uniqueKeysWithValues: groups.map { ($0.1, $0.0.rawValue) })
        let json = context.settings.output == .json
        let term = context.terminal
        let width = groups.map(\.0.rawValue.count).max() ?? 0
        var shown = 0, polls = 0
        var delay = input.pollSeconds
        while true {
            polls += 1
            // All groups of one poll in parallel; each group's pages in order.
            let polled = try await withThrowingTaskGroup(of: (Int, String, [LogEvent]).self) { tg in
                for (i, (_, group)) in groups.enumerated() {
                    let filter = LogFilter(group: group, startTime: merger.startTime(group), pattern: input.filter, streamNames: streams,
                                           limit: input.pageSize)
                    let component = groups[i].0.rawValue
                    tg.addTask {
                        do { return (i, group, try await logs.filterLogEvents(filter).all()) } catch CloudWatchLogsError.logGroupNotFound(let g) {
                            throw FairflowError("cannot read the \(component) logs", why: "log group \(g) (from stack \(stack.stackName)) does not exist",
                                                fix: "it was deleted outside the stack; run `fairflow deploy` to recreate it, or leave \(component) out")
                        }
                    }
                }
                var out: [(Int, String, [LogEvent])] = []
                for try await r in tg { out.append(r) }
                return out.sorted { $0.0 < $1.0 }.map { (group: $0.1, events: $0.2) }
            }
            let fresh = merger.accept(polled)
            var text = ""
            for (group, e) in fresh {
                let (container, task) = streamParts(e.logStreamName ?? "")
                let comp = componentOf[group] ?? group
                if json {
                    let line = TailLine(component: comp, task: task, container: container, stream: e.logStreamName ?? "",
                                        timestamp: Date(timeIntervalSince1970: Double(e.timestamp) / 1000), message: e.message, eventId: e.eventId)
                    text += try JSON.encode(line, pretty: false) + "\n"
                } else {
                    let label = comp.padding(toLength: width, withPad: " ", startingAt: 0)
                    let message = e.message.hasSuffix("\n") ? String(e.message.dropLast()) : e.message
                    text += "\(term.paint(label, .cyan)) \(term.paint(String(task.prefix(8)), .dim)) \(message)\n"
                }
            }
            if !text.isEmpty { term.write(text) }
            shown += fresh.count
            if !input.follow || stop.isSet { break }
            if let m = input.maxPolls, polls >= m { break }
            delay = fresh.isEmpty ? min(input.maxPollSeconds, delay * 2) : input.pollSeconds
            if !(await stop.sleep(delay)) { break }
        }
        return Output(events: shown, groups: Dictionary(uniqueKeysWithValues: groups.map { ($0.0.rawValue, $0.1) }), polls: polls)
    }

    /// The log streams of the service's most recently stopped task, from its task definition's awslogs options.
    static func previousTaskStreams(_ c: AirflowComponent, stack: StackResources, context: Context) async throws -> [String] {
        let ecs = ECS(try context.aws())
        let cluster = try stack.cluster
        let service = try stack.serviceName(c)
        let arns = try await ecs.listTasks(cluster: cluster, service: service, desiredStatus: "STOPPED").all()
        let tasks = try await ecs.describeTasks(cluster: cluster, arns)
        guard let last = tasks.max(by: { ($0.stoppedAt ?? .distantPast) < ($1.stoppedAt ?? .distantPast) }) else {
            throw FairflowError("no previous task of \(c.rawValue)", why: "ECS lists no stopped task for service \(service) (it keeps them about an hour)",
                                fix: "leave out --previous to see the current tasks' logs")
        }
        guard let tdArn = last.taskDefinitionArn else { return [] }
        let td = try await ecs.describeTaskDefinition(tdArn)
        let streams = (td.containerDefinitions ?? []).compactMap { cd -> String? in
            guard let name = cd.name, let prefix = cd.logConfiguration?.options?["awslogs-stream-prefix"] else { return nil }
            return "\(prefix)/\(name)/\(last.taskId)"
        }
        context.terminal.note("previous task \(last.taskId): stopped \(last.stoppedAt.map { ISO8601DateFormatter().string(from: $0) } ?? "?") — \(last.stoppedReason ?? "no reason given")")
        return streams
    }
}

/// `fairflow logs task DAG RUN TASK [--try N]`: a task instance's log from the S3 remote-log bucket.
public enum LogsTask: FairflowOperation {
    public static let id = "logs.task"
    public static let summary = "Print a task instance's log from the stack's S3 remote-log bucket."

    public struct Input: Codable, Sendable {
        public var dagId: String
        public var runId: String
        public var taskId: String
        public var tryNumber: Int?
        public var mapIndex: Int?
        public init(dagId: String, runId: String, taskId: String, tryNumber: Int? = nil, mapIndex: Int? = nil) {
            self.dagId = dagId
            self.runId = runId
            self.taskId = taskId
            self.tryNumber = tryNumber
            self.mapIndex = mapIndex
        }
    }

    public struct Output: OperationOutput {
        public var bucket: String
        public var key: String
        public var tryNumber: Int
        public var tries: [Int]
        public var log: String
        public func renderText(_ t: Terminal) -> String { log }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("CloudFormation DescribeStacks"), PlannedAction("S3 ListObjectsV2"), PlannedAction("S3 GetObject")]
    }

    /// Airflow's default `log_filename_template`, under REMOTE_BASE_LOG_FOLDER `s3://<bucket>/logs`.
    public static func prefix(_ input: Input) -> String {
        var p = "logs/dag_id=\(input.dagId)/run_id=\(input.runId)/task_id=\(input.taskId)/"
        if let m = input.mapIndex, m >= 0 { p += "map_index=\(m)/" }
        return p
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        if let t = input.tryNumber, t < 1 { throw FairflowError.usage("bad --try \(t)", why: "tries count from 1", fix: "use --try 1 or higher") }
        for (name, v) in [("DAG_ID", input.dagId), ("RUN_ID", input.runId), ("TASK_ID", input.taskId)] where v.isEmpty || v.contains("/") {
            throw FairflowError.usage("bad \(name) '\(v)'", why: "it must be non-empty and without '/'", fix: "copy it from the Airflow UI")
        }
        let stack = try await StackResources.load(context)
        let bucket = try stack.output("LogsBucketName", for: "the task-log bucket")
        let s3 = S3(try context.aws())
        let prefix = prefix(input)
        let keys = try await s3.objects(bucket, prefix: prefix).all().map(\.key)
        let tries = keys.compactMap { k -> Int? in
            let name = k.dropFirst(prefix.count)
            guard name.hasPrefix("attempt="), name.hasSuffix(".log") else { return nil }
            return Int(name.dropFirst("attempt=".count).dropLast(4))
        }.sorted()
        guard let n = input.tryNumber ?? tries.last else {
            throw FairflowError("no log for task \(input.taskId) of \(input.dagId) run \(input.runId)",
                                why: "s3://\(bucket)/\(prefix) holds no attempt=N.log",
                                fix: "check the ids in the Airflow UI; a task that has not finished a try may not have uploaded its log yet")
        }
        guard tries.contains(n) else {
            throw FairflowError("no log for try \(n) of task \(input.taskId)", why: "the tries with a log are \(tries.map(String.init).joined(separator: ", "))",
                                fix: "pass one of them to --try")
        }
        let key = prefix + "attempt=\(n).log"
        let body = try await s3.getObject(bucket, key: key)
        return Output(bucket: bucket, key: key, tryNumber: n, tries: tries, log: String(decoding: body, as: UTF8.self))
    }
}
