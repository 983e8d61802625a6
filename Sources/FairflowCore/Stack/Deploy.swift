import AWSCore
import AWSServices
import FairflowTemplate
import Foundation

/// `fairflow deploy`: change set preview, confirmation, execution with live progress, outputs.
public enum Deploy: FairflowOperation {
    public static let id = "deploy"
    public static let summary = "Deploy the stack: preview the change set, execute it, follow its progress."

    public struct Input: Codable, Sendable {
        public var mode = StackMode()
        public var noWait = false
        /// What a stall verdict leads to; nil: ask on a terminal, `fail` without one.
        public var onStall: OnStall?
        /// The same failure this many times is a stall.
        public var stallRepeats = 2
        public init() {}
        enum CodingKeys: String, CodingKey { case mode, noWait = "no_wait", onStall = "on_stall", stallRepeats = "stall_repeats" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            mode = try c.decodeIfPresent(StackMode.self, forKey: .mode) ?? (try StackMode(from: decoder))
            noWait = try c.decodeIfPresent(Bool.self, forKey: .noWait) ?? false
            onStall = try c.decodeIfPresent(OnStall.self, forKey: .onStall)
            stallRepeats = try c.decodeIfPresent(Int.self, forKey: .stallRepeats) ?? 2
        }
    }

    public struct Output: OperationOutput {
        public var stack: String
        /// create | update | none
        public var action: String
        public var status: String
        public var changes: [ChangeSetChange]
        public var outputs: [String: String]

        static let shown: [(String, String)] = [
            (StackOutputs.airflowUrl, "Airflow URL"), (StackOutputs.flowerUrl, "Flower URL"), (StackOutputs.mySqlEndpoint, "MySQL endpoint"),
            (StackOutputs.bastionInstanceId, "bastion"), (StackOutputs.efsFileSystemId, "EFS file system"),
            (StackOutputs.dagsAccessPointId, "EFS DAGs access point"), (StackOutputs.externalAccessPointId, "EFS external access point"),
            (StackOutputs.clusterName, "ECS cluster"), (StackOutputs.logsBucketName, "task logs bucket"),
        ]

        public func renderText(_ t: Terminal) -> String {
            if action == "none" { return "no changes: stack \(stack) is up to date (\(status))\n" }
            if outputs.isEmpty { return "stack \(stack): \(status)\n" }
            let rows = Self.shown.compactMap { key, label in outputs[key].map { [label, $0] } }
            return "stack \(stack): \(status)\n" + Table(headers: ["OUTPUT", "VALUE"], rows: rows).render(tty: t.isTTY)
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("CloudFormation DescribeStacks"), PlannedAction("S3 PutObject (staged template)", mutating: true),
         PlannedAction("CloudFormation CreateChangeSet + DescribeChangeSet", mutating: true,
                       detail: "the change set is shown before anything changes"),
         PlannedAction("CloudFormation ExecuteChangeSet", mutating: true), PlannedAction("CloudFormation DescribeStackEvents (progress)"),
         PlannedAction("ECS DescribeServices + ListTasks + DescribeTasks, CloudWatch Logs GetLogEvents (stall detector)",
                       detail: "on a stall: \(input.onStall?.rawValue ?? "ask on a terminal, else fail")")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let prepared = try await ChangeSetPlan.prepare(input.mode, context: context)
        let stack = prepared.stack
        let cfn = CloudFormation(try context.aws())
        if prepared.isEmpty {
            try? await ChangeSetPlan.discard(stack: stack, name: prepared.changeSetName, type: prepared.type, context: context)
            return Output(stack: stack, action: "none", status: prepared.existing?.status ?? "", changes: [],
                          outputs: prepared.existing?.outputs ?? [:])
        }
        let changes = prepared.description.changes
        if context.settings.output == .text {
            context.terminal.note("\(prepared.type == .create ? "Creating" : "Updating") stack \(stack) (\(prepared.templateDescription)): \(ChangeSetPlan.summary(changes))")
            context.terminal.write(ChangeSetPlan.table(changes, terminal: context.terminal))
        }
        do {
            try context.confirm("Apply these changes to stack \(stack)?")
        } catch {
            try? await ChangeSetPlan.discard(stack: stack, name: prepared.changeSetName, type: prepared.type, context: context)
            throw error
        }
        let started = Date()
        try await cfn.executeChangeSet(stack: stack, name: prepared.changeSetName,
                                       token: context.idempotencyToken("execute:\(stack):\(prepared.changeSetName)"))
        let action = prepared.type == .create ? "create" : "update"
        if input.noWait {
            context.terminal.note("executing change set \(prepared.changeSetName); follow it with `fairflow status`")
            return Output(stack: stack, action: action, status: prepared.type == .create ? "CREATE_IN_PROGRESS" : "UPDATE_IN_PROGRESS",
                          changes: changes, outputs: [:])
        }
        let isCreate = prepared.type == .create
        let stall = StallWatch(probe: AWSDeployWatchProbe(try context.aws()), since: started, repeats: input.stallRepeats,
                               pollEvery: Double(context.environment["FAIRFLOW_STALL_POLL_SECONDS"] ?? "") ?? 10,
                               componentOf: { StackComponent.of($0) },
                               resolve: { [cfn] in
                                   Dictionary(try await cfn.resources(stack).compactMap { r in r.physicalId.map { (r.logicalId, $0) } },
                                              uniquingKeysWith: { a, _ in a })
                               })
        let verdicts = VerdictLog()
        let onStall = input.onStall
        let result = try await StackWatch.follow(stack: stack, since: started, context: context, onInterrupt: {
            let why = verdicts.last == nil ? "interrupted" : "stalled"
            if isCreate {
                context.terminal.note("\(why) during create: deleting stack \(stack)")
                try await cfn.deleteStack(stack, token: context.idempotencyToken("interrupt-delete:\(stack)"))
            } else {
                context.terminal.note("\(why) during update: cancelling the update of \(stack) (CloudFormation rolls back)")
                try await cfn.cancelUpdate(stack, token: context.idempotencyToken("interrupt-cancel:\(stack)"))
            }
        }, stall: stall, onStall: { verdict in
            verdicts.append(verdict)
            Deploy.report(verdict, context: context)
            return try Deploy.decide(verdict, onStall: onStall, isCreate: isCreate, context: context)
        })
        guard StackWatch.successStatuses.contains(result.status) else {
            let first = StackWatch.firstFailure(result.events)
            var why = first.map { "\($0.logicalId) (\($0.resourceType)) failed: \($0.reason ?? "no reason given")" } ?? "no resource reported a failure"
            if verdicts.last == nil, let f = first, f.resourceType == "AWS::ECS::Service",
               let v = await stall.postMortem(logicalId: f.logicalId, physicalId: f.physicalId) {
                verdicts.append(v)
                Deploy.report(v, context: context)
            }
            if let v = verdicts.last { why += "; ECS says \(v.summary) — \(v.whatToDo)" }
            throw FairflowError("deploy of stack \(stack) failed", why: why,
                                fix: "the rollback left the stack in \(result.status); \(isCreate ? "fix the cause, run `fairflow teardown`, then deploy again" : "fix the cause and deploy again")")
        }
        return Output(stack: stack, action: action, status: result.status, changes: changes, outputs: result.summary?.outputs ?? [:])
    }
}

extension Deploy {
    /// The verdict on stderr: a block of text, or one JSON line with `--output json`.
    static func report(_ v: StallVerdict, context: Context) {
        if context.settings.output == .json {
            struct Line: Encodable { let event = "stall"; let verdict: StallVerdict }
            if let s = try? JSON.encode(Line(verdict: v), pretty: false) { context.terminal.note(s) }
        } else {
            context.terminal.writeErr("\n" + context.terminal.paint(v.render(), .red))
        }
    }

    /// `--on-stall`, else on a terminal the user's answer, else `fail`.
    static func decide(_ v: StallVerdict, onStall: OnStall?, isCreate: Bool, context: Context) throws -> StackWatch.StallResponse {
        let choice: OnStall
        if let c = onStall { choice = c } else if !context.settings.yes, isatty(STDIN_FILENO) == 1, context.terminal.stderrIsTTY {
            let undo = isCreate ? "delete the new stack" : "cancel the update (CloudFormation rolls back)"
            context.terminal.writeErr("Roll back now (\(undo))? [y/N, N keeps waiting] ")
            let answer = (readLine() ?? "").trimmingCharacters(in: .whitespaces).lowercased()
            choice = ["y", "yes"].contains(answer) ? .rollback : .wait
        } else {
            choice = .fail
        }
        if choice == .wait { context.terminal.note("keeping on waiting (--on-stall wait): CloudFormation and the circuit breaker decide") }
        return choice == .wait ? .keepWaiting : .stop
    }
}

/// The verdicts of one deploy, shared with the clean-up closure.
final class VerdictLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [StallVerdict] = []
    func append(_ v: StallVerdict) { lock.withLock { list.append(v) } }
    var last: StallVerdict? { lock.withLock { list.last } }
}

/// `fairflow diff`: the change set preview alone; the change set is deleted afterwards.
public enum Diff: FairflowOperation {
    public static let id = "diff"
    public static let summary = "Show what a deploy would change, without changing anything."

    public struct Input: Codable, Sendable {
        public var mode = StackMode()
        public var exitCode = false
        public init() {}
        enum CodingKeys: String, CodingKey { case mode, exitCode = "exit_code" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            mode = try c.decodeIfPresent(StackMode.self, forKey: .mode) ?? (try StackMode(from: decoder))
            exitCode = try c.decodeIfPresent(Bool.self, forKey: .exitCode) ?? false
        }
    }

    public struct Output: OperationOutput {
        public var stack: String
        public var action: String
        public var changes: [ChangeSetChange]
        public var exitCodeRequested: Bool

        enum CodingKeys: String, CodingKey { case stack, action, changes }
        public var exitStatus: ExitStatus { exitCodeRequested && !changes.isEmpty ? .changes : .ok }

        public func renderText(_ t: Terminal) -> String {
            if changes.isEmpty { return "no changes: stack \(stack) matches the template\n" }
            return ChangeSetPlan.table(changes, terminal: t) + "\(ChangeSetPlan.summary(changes))\n"
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("CloudFormation DescribeStacks"), PlannedAction("S3 PutObject (staged template)", mutating: true),
         PlannedAction("CloudFormation CreateChangeSet + DescribeChangeSet + DeleteChangeSet", mutating: true)]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let prepared = try await ChangeSetPlan.prepare(input.mode, context: context)
        try await ChangeSetPlan.discard(stack: prepared.stack, name: prepared.changeSetName, type: prepared.type, context: context)
        return Output(stack: prepared.stack, action: prepared.isEmpty ? "none" : (prepared.type == .create ? "create" : "update"),
                      changes: prepared.isEmpty ? [] : prepared.description.changes, exitCodeRequested: input.exitCode)
    }
}
