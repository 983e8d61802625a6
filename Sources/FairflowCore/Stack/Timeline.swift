import AWSCore
import AWSServices
import FairflowTemplate
import Foundation

/// One thing that happened to the stack, from whichever API saw it.
public struct TimelineEntry: Codable, Sendable, Equatable {
    public var time: Date
    public var component: String
    /// cloudformation, ecs, ecs-task, target-health, rds, elasticache, autoscaling, runbook
    public var source: String
    public var message: String

    public init(time: Date, component: String, source: String, message: String) {
        self.time = time
        self.component = component
        self.source = source
        self.message = message
    }
}

/// `fairflow timeline`: one time-ordered view of what happened to the stack.
public enum Timeline: FairflowOperation {
    public static let id = "timeline"
    public static let summary = "Show what happened to the stack, in time order: stack events, ECS events and stopped tasks, targets, RDS, ElastiCache, scaling, runbook runs."

    public struct Input: Codable, Sendable {
        public var since: String = "2h"
        public var component: String?
        /// Where `.fairflow/runs/` is looked for (the directory runbooks ran in).
        public var directory: String = "."
        public init(since: String = "2h", component: String? = nil) {
            self.since = since
            self.component = component
        }
    }

    public struct Unavailable: Codable, Sendable, Equatable {
        public var source: String
        public var error: String
    }

    public struct Output: OperationOutput {
        public var stack: String
        public var since: Date
        public var entries: [TimelineEntry]
        public var unavailable: [Unavailable]

        public func renderText(_ t: Terminal) -> String {
            let f = ISO8601DateFormatter()
            if entries.isEmpty { return t.isTTY ? "nothing happened to stack \(stack) since \(f.string(from: since))\n" : "" }
            if t.isTTY {
                let rows = entries.map { [f.string(from: $0.time), $0.component, $0.source, $0.message] }
                return Table(headers: ["TIME", "COMPONENT", "SOURCE", "WHAT HAPPENED"], rows: rows).render(tty: true)
            }
            return entries.map { "\(f.string(from: $0.time))\t\($0.component)\t\($0.source)\t\($0.message)\n" }.joined()
        }
    }

    /// The words `--component` accepts: the services' names and the stack's other parts.
    public static var components: [String] {
        var set = Set(StackComponent.prefixes.map(\.1))
        set.formUnion(AirflowComponent.allCases.map(\.rawValue))
        set.formUnion(["stack", "runbook", "other"])
        return set.sorted()
    }

    public static func validate(_ input: Input) throws {
        _ = try SinceParser.parse(input.since)
        if let c = input.component, !components.contains(c) {
            let guess = components.map { ($0, editDistance($0, c)) }.min { $0.1 < $1.1 }.flatMap { $0.1 <= 3 ? " (did you mean \($0.0)?)" : nil } ?? ""
            throw FairflowError.usage("unknown component '\(c)'\(guess)", why: "valid components are \(components.joined(separator: ", "))",
                                      fix: "name one of them, or leave out --component")
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        ["CloudFormation DescribeStacks + DescribeStackEvents + ListStackResources", "ECS DescribeServices + ListTasks + DescribeTasks",
         "ELBv2 DescribeTargetHealth", "RDS DescribeEvents", "ElastiCache DescribeEvents",
         "Application Auto Scaling DescribeScalingActivities"].map { PlannedAction($0, detail: "since \(input.since)") }
            + [PlannedAction("read .fairflow/runs/*/journal.jsonl")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try validate(input)
        let now = Date()
        let since = try SinceParser.parse(input.since, now: now)
        let aws = try context.aws()
        let cfn = CloudFormation(aws)
        let summary: StackSummary
        do { summary = try await cfn.stack(context.stackName) } catch CloudFormationError.stackNotFound {
            _ = try await StackResources.load(context)  // names the fix
            throw CloudFormationError.stackNotFound(context.stackName)
        }
        var entries: [TimelineEntry] = []
        var unavailable: [Unavailable] = []
        func attempt(_ source: String, _ body: () async throws -> [TimelineEntry]) async {
            do { entries += try await body() } catch {
                unavailable.append(Unavailable(source: source, error: ErrorReport.message(for: error)))
            }
        }
        await attempt("cloudformation") {
            // The API pages newest first; reversed, events in the same second keep their real order.
            try await cfn.events(context.stackName, since: since).reversed().map { e in
                TimelineEntry(time: e.timestamp, component: StackComponent.of(e.logicalId), source: "cloudformation",
                              message: "\(e.logicalId) \(e.status)\(e.reason.map { ": \($0)" } ?? "")")
            }
        }
        let resources = (try? await cfn.resources(context.stackName)) ?? []
        func physical(_ type: String) -> [(String, String)] {
            resources.filter { $0.resourceType == type }.compactMap { r in r.physicalId.map { (r.logicalId, $0) } }
        }
        var serviceComponents: [String: String] = [:]
        for c in Component.allCases { if let n = summary.outputs[StackOutputs.serviceName(c)] { serviceComponents[n] = Status.kebab(c.rawValue) } }
        var services: [ECSService] = []
        if let cluster = summary.outputs[StackOutputs.clusterName], !serviceComponents.isEmpty {
            let ecs = ECS(aws)
            await attempt("ecs") {
                services = try await ecs.describeServices(cluster: cluster, serviceComponents.keys.sorted())
                return TimelineSources.serviceEvents(services, components: serviceComponents, since: since)
            }
            await attempt("ecs-task") {
                let arns = try await ecs.listTasks(cluster: cluster, desiredStatus: "STOPPED").all()
                let tasks = arns.isEmpty ? [] : try await ecs.describeTasks(cluster: cluster, Array(arns.prefix(100)))
                return TimelineSources.stoppedTasks(tasks, components: serviceComponents, since: since)
            }
            await attempt("autoscaling") {
                var out: [TimelineEntry] = []
                for (name, comp) in serviceComponents.sorted(by: { $0.key < $1.key }) {
                    for a in try await ApplicationAutoScaling(aws).scalingActivities(cluster: cluster, service: name).all() where a.StartTime >= since {
                        out.append(TimelineEntry(time: a.StartTime, component: comp, source: "autoscaling",
                                                 message: "\(a.Description ?? "scaling activity"): \(a.StatusCode ?? "?")\(a.StatusMessage.map { " — \($0)" } ?? "")\(a.Cause.map { " (cause: \($0))" } ?? "")"))
                    }
                }
                return out
            }
        }
        await attempt("target-health") {
            var out: [TimelineEntry] = []
            for (lid, arn) in physical("AWS::ElasticLoadBalancingV2::TargetGroup") {
                let owner = services.first { ($0.loadBalancers ?? []).contains { $0.targetGroupArn == arn } }
                let comp = owner.flatMap { serviceComponents[$0.serviceName] } ?? StackComponent.of(lid)
                // DescribeTargetHealth shows the state now, not its history.
                out.append(TimelineEntry(time: now, component: comp, source: "target-health",
                                         message: "\(lid): \(StatusAssessment.describe(try await ELBv2(aws).targetHealth(arn))) (state now)"))
            }
            return out
        }
        if let (_, id) = physical("AWS::RDS::DBInstance").first {
            await attempt("rds") {
                try await RDS(aws).events(instance: id, since: since).map {
                    TimelineEntry(time: $0.date, component: "database", source: "rds", message: "\($0.sourceId): \($0.message)")
                }
            }
        }
        if let (_, id) = physical("AWS::ElastiCache::ReplicationGroup").first {
            await attempt("elasticache") {
                try await ElastiCache(aws).events(replicationGroup: id, since: since).map {
                    TimelineEntry(time: $0.date, component: "redis", source: "elasticache", message: "\($0.sourceId): \($0.message)")
                }
            }
        }
        entries += TimelineSources.journals(directory: input.directory, stack: context.stackName, since: since)
        for u in unavailable { context.terminal.note("timeline: \(u.source) unavailable: \(u.error)") }
        return Output(stack: context.stackName, since: since, entries: TimelineSources.ordered(entries, component: input.component),
                      unavailable: unavailable)
    }
}

/// The sources' records turned into entries; pure, so tests feed them directly.
public enum TimelineSources {
    public static func ordered(_ entries: [TimelineEntry], component: String?) -> [TimelineEntry] {
        let kept = component.map { c in entries.filter { $0.component == c } } ?? entries
        // Stable: entries at the same second keep the order their source gave.
        return kept.enumerated().sorted { a, b in
            a.element.time == b.element.time ? a.offset < b.offset : a.element.time < b.element.time
        }.map(\.element)
    }

    public static func serviceEvents(_ services: [ECSService], components: [String: String], since: Date) -> [TimelineEntry] {
        services.flatMap { s in
            (s.events ?? []).compactMap { e -> TimelineEntry? in
                guard let t = e.createdAt, t >= since, let m = e.message else { return nil }
                return TimelineEntry(time: t, component: components[s.serviceName] ?? s.serviceName, source: "ecs", message: m)
            }.reversed()  // the API lists newest first
        }
    }

    public static func stoppedTasks(_ tasks: [ECSTask], components: [String: String], since: Date) -> [TimelineEntry] {
        tasks.compactMap { t in
            guard let at = t.stopTime, at >= since else { return nil }
            let service = (t.group ?? "").hasPrefix("service:") ? String(t.group!.dropFirst("service:".count)) : nil
            let comp = service.flatMap { components[$0] } ?? t.group ?? "other"
            let exits = (t.containers ?? []).compactMap { c in c.exitCode.map { "\(c.name ?? "?") exit \($0)" } }
            let reasons = (t.containers ?? []).compactMap { c in c.reason.map { "\(c.name ?? "?"): \($0)" } }
            var m = "task \(t.taskId) stopped: \(t.stoppedReason ?? "no reason given")\(t.stopCode.map { " [\($0)]" } ?? "")"
            if !exits.isEmpty { m += "; " + exits.joined(separator: ", ") }
            if !reasons.isEmpty { m += "; " + reasons.joined(separator: "; ") }
            return TimelineEntry(time: at, component: comp, source: "ecs-task", message: m)
        }
    }

    /// `.fairflow/runs/<run>/journal.jsonl`: what runbooks did (no inputs or outputs: they may hold secrets).
    public static func journals(directory: String, stack: String, since: Date) -> [TimelineEntry] {
        let runs = (directory as NSString).appendingPathComponent(".fairflow/runs")
        guard let ids = try? FileManager.default.contentsOfDirectory(atPath: runs) else { return [] }
        struct Line: Decodable {
            var event: String; var time: Date; var runId: String
            var step: String?; var uses: String?; var outcome: String?; var error: String?; var runbook: String?; var stack: String?
            var attempt: Int?
        }
        let dec = JSONDecoder()
        dec.dateDecodingStrategy = .iso8601
        var out: [TimelineEntry] = []
        for id in ids.sorted() {
            guard let data = FileManager.default.contents(atPath: "\(runs)/\(id)/journal.jsonl") else { continue }
            var runStack: String?
            var runbook: String?
            for raw in data.split(separator: 0x0A) {
                guard let l = try? dec.decode(Line.self, from: Data(raw)) else { continue }  // a torn last line
                runStack = l.stack ?? runStack
                runbook = l.runbook ?? runbook
                guard l.time >= since, runStack == nil || runStack == stack else { continue }
                var m = "\(runbook.map { "\($0) " } ?? "")run \(l.runId): \(l.event)"
                if let s = l.step { m += " \(s)\(l.uses.map { " (\($0))" } ?? "")" }
                if let a = l.attempt, a > 1 { m += " attempt \(a)" }
                if let o = l.outcome { m += ": \(o)" }
                if let e = l.error { m += " — \(e)" }
                out.append(TimelineEntry(time: l.time, component: "runbook", source: "runbook", message: m))
            }
        }
        return out
    }
}
