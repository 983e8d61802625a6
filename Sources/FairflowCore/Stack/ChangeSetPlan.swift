import AWSCore
import AWSServices
import AWSSigV4
import FairflowTemplate
import Foundation

/// Everything before "execute": the template staged in S3, the stack's state checked, a change set
/// made and described. Shared by deploy and diff so both show the same preview.
public struct PreparedChangeSet: Sendable {
    public var stack: String
    public var changeSetName: String
    public var type: CloudFormation.ChangeSetType
    public var description: ChangeSetDescription
    public var templateURL: String
    public var templateDescription: String
    /// The stack as it was before (nil: it does not exist).
    public var existing: StackSummary?

    public var isEmpty: Bool { description.isEmpty || (description.status == "CREATE_COMPLETE" && description.changes.isEmpty) }
}

public enum ChangeSetPlan {
    static let busyStatuses: Set<String> = []

    /// Refuses stacks that cannot take a change set now, with the fix.
    public static func checkState(_ s: StackSummary) throws {
        let st = s.status
        switch st {
        case "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED":
            throw FairflowError("stack \(s.name) is in \(st)", why: "its creation failed\(s.statusReason.map { " (\($0))" } ?? "") and a stack in this state cannot be updated",
                                fix: "delete it first with `fairflow teardown --stack \(s.name)`, then deploy again")
        case "DELETE_FAILED":
            throw FairflowError("stack \(s.name) is in DELETE_FAILED", why: s.statusReason ?? "a previous delete did not finish",
                                fix: "run `fairflow teardown --stack \(s.name)` again (add --retain-failed to keep what cannot be deleted)")
        case "UPDATE_ROLLBACK_FAILED":
            throw FairflowError("stack \(s.name) is in UPDATE_ROLLBACK_FAILED", why: "a rollback could not finish\(s.statusReason.map { ": \($0)" } ?? "")",
                                fix: "fix the resource named in the stack events, then `aws cloudformation continue-update-rollback --stack-name \(s.name)`")
        case "REVIEW_IN_PROGRESS":
            return  // a stack that only holds change sets: a CREATE change set still works
        default:
            if st.hasSuffix("_IN_PROGRESS") {
                throw FairflowError("stack \(s.name) is busy (\(st))", why: "another operation is running on it",
                                    fix: "wait for it to finish (`fairflow status`), then deploy again")
            }
        }
    }

    public static func stagingBucket(account: String, region: String) -> String { "fairflow-staging-\(account)-\(region)" }

    /// The private, versioned, encrypted staging bucket, made on first use; returns the template's URL.
    public static func stage(_ template: String, context: Context) async throws -> String {
        let aws = try context.aws()
        let account = try await STS(aws).callerIdentity().account
        let bucket = stagingBucket(account: account, region: aws.region.name)
        let s3 = S3(aws)
        if try await !s3.bucketExists(bucket) {
            context.terminal.note("creating the template staging bucket \(bucket)")
            try await s3.createBucket(bucket, region: aws.region.name)
            try await s3.harden(bucket, tags: ["fairflow:purpose": "template-staging", "fairflow:managed": "true"])
        }
        let data = Data(template.utf8)
        let key = "\(context.stackName)/\(SigV4.hexSHA256(data)).json"
        try await s3.putObject(bucket, key: key, body: data, contentType: "application/json")
        let (endpoint, custom) = aws.endpoints.endpoint(for: .s3, region: aws.region)
        if custom {
            var base = endpoint.absoluteString
            if base.hasSuffix("/") { base.removeLast() }
            return "\(base)/\(bucket)/\(key)"
        }
        return "https://\(bucket).s3.\(aws.region.name).\(aws.region.partition.dnsSuffix)/\(key)"
    }

    public static func prepare(_ mode: StackMode, context: Context) async throws -> PreparedChangeSet {
        let options = try StackTemplate.options(mode, context: context)
        var template = try StackTemplate.render(options)
        if let spec = context.environment[TestTemplateOverride.variable], !spec.isEmpty {
            template = try TestTemplateOverride.apply(spec, to: template)
            context.terminal.note("test override: \(TestTemplateOverride.variable) changes the template")
        }
        let aws = try context.aws()
        let cfn = CloudFormation(aws)
        let stack = context.stackName
        let existing = try await cfn.stackIfExists(stack)
        if let s = existing { try checkState(s) }
        let url = try await stage(template, context: context)
        let type: CloudFormation.ChangeSetType = (existing == nil || existing?.status == "REVIEW_IN_PROGRESS") ? .create : .update
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        let name = "fairflow-\(f.string(from: Date()))"
        _ = try await cfn.createChangeSet(stack: stack, name: name, type: type, templateURL: url, tags: ["Stack": stack],
                                          token: context.idempotencyToken("changeset:\(stack):\(SigV4.hexSHA256(Data(template.utf8)))"))
        let desc = try await cfn.waitForChangeSet(stack: stack, name: name)
        if desc.status == "FAILED" && !desc.isEmpty {
            try? await discard(stack: stack, name: name, type: type, context: context)
            throw FairflowError("CloudFormation rejected the change set for \(stack)", why: desc.statusReason ?? "no reason given",
                                fix: "check the template with `fairflow generate` and cfn-lint")
        }
        return PreparedChangeSet(stack: stack, changeSetName: name, type: type, description: desc, templateURL: url,
                                 templateDescription: StackTemplate.describe(options), existing: existing)
    }

    /// Deletes a change set that will not run; a CREATE change set leaves an empty stack behind, which goes too.
    public static func discard(stack: String, name: String, type: CloudFormation.ChangeSetType, context: Context) async throws {
        let cfn = CloudFormation(try context.aws())
        try? await cfn.deleteChangeSet(stack: stack, name: name)
        if type == .create, let s = try await cfn.stackIfExists(stack), s.status == "REVIEW_IN_PROGRESS" {
            try await cfn.deleteStack(stack, token: context.idempotencyToken("discard:\(stack):\(name)"))
        }
    }

    /// The preview: Add / Modify / Remove with the replacement flag, grouped by component.
    public static func table(_ changes: [ChangeSetChange], terminal: Terminal) -> String {
        let sorted = changes.sorted {
            let (a, b) = (StackComponent.of($0.logicalId), StackComponent.of($1.logicalId))
            return a == b ? $0.logicalId < $1.logicalId : a < b
        }
        let rows = sorted.map { c -> [String] in
            let action: String
            switch c.action {
            case "Add": action = terminal.paint("+ Add", .green)
            case "Remove": action = terminal.paint("- Remove", .red)
            default: action = terminal.paint("~ \(c.action)", .yellow)
            }
            let replace = c.action == "Modify" ? (c.replacement == "True" ? terminal.paint("replace", .red) : c.replacement == "Conditional" ? "maybe" : "no") : ""
            return [StackComponent.of(c.logicalId), action, c.logicalId, c.resourceType, replace]
        }
        return Table(headers: ["COMPONENT", "ACTION", "RESOURCE", "TYPE", "REPLACEMENT"], rows: rows).render(tty: terminal.isTTY)
    }

    public static func summary(_ changes: [ChangeSetChange]) -> String {
        let add = changes.filter { $0.action == "Add" }.count
        let mod = changes.filter { $0.action == "Modify" }.count
        let rem = changes.filter { $0.action == "Remove" }.count
        return "\(add) to add, \(mod) to modify, \(rem) to remove"
    }
}
