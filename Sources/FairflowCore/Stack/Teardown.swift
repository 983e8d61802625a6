import AWSCore
import AWSServices
import FairflowTemplate
import Foundation

/// `fairflow teardown`: a plan, then the stack and everything it leaves behind, then a census.
public enum Teardown: FairflowOperation {
    public static let id = "teardown"
    public static let summary = "Delete the stack and what outlives it (logs, bucket, snapshot), then prove nothing is left."

    public struct Input: Codable, Sendable {
        public var keepLogs = false
        public var deleteSecrets = false
        public var keepSnapshot = false
        public var retainFailed = false
        public init() {}
        enum CodingKeys: String, CodingKey { case keepLogs = "keep_logs", deleteSecrets = "delete_secrets", keepSnapshot = "keep_snapshot", retainFailed = "retain_failed" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            keepLogs = try c.decodeIfPresent(Bool.self, forKey: .keepLogs) ?? false
            deleteSecrets = try c.decodeIfPresent(Bool.self, forKey: .deleteSecrets) ?? false
            keepSnapshot = try c.decodeIfPresent(Bool.self, forKey: .keepSnapshot) ?? false
            retainFailed = try c.decodeIfPresent(Bool.self, forKey: .retainFailed) ?? false
        }
    }

    public struct Leftover: Codable, Sendable, Equatable {
        public var type: String
        public var id: String
        public var note: String?
    }

    public struct Output: OperationOutput {
        public var stack: String
        public var deleted: Bool
        public var resources: Int
        public var actions: [String]
        /// Kept on purpose (--keep-logs, --keep-snapshot, secrets without --delete-secrets).
        public var kept: [Leftover]
        /// Found by the census: still there although it should not be.
        public var leftovers: [Leftover]
        public var exitStatus: ExitStatus { leftovers.isEmpty ? .ok : .failed }

        public func renderText(_ t: Terminal) -> String {
            var s = ""
            for k in kept { s += "kept\t\(k.type)\t\(k.id)\(k.note.map { "\t\($0)" } ?? "")\n" }
            if leftovers.isEmpty {
                s += "census: nothing left of stack \(stack)\n"
            } else {
                s += "census: \(leftovers.count) resource\(leftovers.count == 1 ? "" : "s") of stack \(stack) still exist:\n"
                s += Table(headers: ["TYPE", "ID", "NOTE"], rows: leftovers.map { [$0.type, $0.id, $0.note ?? ""] }).render(tty: t.isTTY)
            }
            return s
        }
    }

    struct Retained {
        var logGroups: [String] = []
        var buckets: [String] = []
        var snapshotOf: String?
        /// KMS keys kept by the stack (they encrypt the retained logs): scheduled for deletion with them.
        var keys: [String] = []
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        var p = [PlannedAction("CloudFormation DescribeStacks + ListStackResources + GetTemplate")]
        if !input.keepLogs { p.append(PlannedAction("S3 DeleteObjects (all versions) on the logs bucket", mutating: true)) }
        p.append(PlannedAction("CloudFormation DeleteStack", mutating: true))
        if !input.keepLogs { p.append(PlannedAction("Logs DeleteLogGroup (retained groups), S3 DeleteBucket", mutating: true)) }
        if !input.keepSnapshot { p.append(PlannedAction("RDS DeleteDBSnapshot (final snapshot)", mutating: true)) }
        if input.deleteSecrets { p.append(PlannedAction("SecretsManager DeleteSecret airflow-* (7-day recovery)", mutating: true)) }
        p.append(PlannedAction("census: per-type describe calls + tagging GetResources"))
        return p
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let aws = try context.aws()
        let cfn = CloudFormation(aws)
        let s3 = S3(aws)
        let stack = context.stackName
        let t = context.terminal
        var actions: [String] = []
        guard let summary = try await cfn.stackIfExists(stack) else {
            t.note("stack \(stack) does not exist; checking that nothing of it is left")
            let leftovers = try await census(stack: stack, recorded: [], kept: [], context: context)
            return Output(stack: stack, deleted: false, resources: 0, actions: ["stack not found"], kept: [], leftovers: leftovers)
        }
        if summary.status.hasSuffix("_IN_PROGRESS") && summary.status != "REVIEW_IN_PROGRESS" && summary.status != "DELETE_IN_PROGRESS" {
            throw FairflowError("stack \(stack) is busy (\(summary.status))", why: "another operation is running on it",
                                fix: "wait for it to finish, or cancel it, then tear down")
        }
        var resources = try await cfn.resources(stack).filter { !$0.logicalId.isEmpty }
        // A rolled-back create already skipped its retained resources: the events name them.
        let skipped = try await cfn.events(stack).filter { $0.status == "DELETE_SKIPPED" && !($0.physicalId ?? "").isEmpty }
        for e in skipped where !resources.contains(where: { $0.logicalId == e.logicalId }) {
            resources.append(StackResource(logicalId: e.logicalId, physicalId: e.physicalId, resourceType: e.resourceType,
                                           status: "DELETE_SKIPPED", reason: e.reason))
        }
        let retained = retainedResources(template: try await cfn.templateBody(stack), resources: resources)

        // The plan.
        var plan = "Teardown of stack \(stack) (\(summary.status)): \(resources.filter { !["DELETE_COMPLETE", "DELETE_SKIPPED"].contains($0.status) }.count) resources will be deleted.\n"
        plan += "Outlives the stack unless fairflow deletes it:\n"
        for g in retained.logGroups { plan += "  log group \(g): \(input.keepLogs ? "kept (--keep-logs)" : "deleted") \n" }
        for b in retained.buckets { plan += "  bucket \(b) and all its object versions: \(input.keepLogs ? "kept (--keep-logs)" : "emptied and deleted")\n" }
        for k in retained.keys { plan += "  KMS key \(k) (encrypts the logs): \(input.keepLogs ? "kept (--keep-logs)" : "scheduled for deletion (7-day window)")\n" }
        if let db = retained.snapshotOf { plan += "  final RDS snapshot of \(db): \(input.keepSnapshot ? "kept (--keep-snapshot)" : "deleted")\n" }
        plan += "  airflow-* secrets: \(input.deleteSecrets ? "scheduled for deletion (7-day recovery window)" : "kept (pass --delete-secrets to delete)")\n"
        plan += "  template staging bucket: this stack's templates deleted\n"
        t.note(plan)
        try context.confirm("Delete stack \(stack) and the resources above?", typed: stack)

        if !input.keepLogs {
            for b in retained.buckets {
                let n = try await emptyBucket(b, s3: s3)
                actions.append("emptied bucket \(b) (\(n) object versions)")
                t.note("emptied bucket \(b): \(n) object versions deleted")
            }
        }

        // Delete, following progress; on DELETE_FAILED name the resource, retry with RetainResources if asked.
        let started = Date()
        try await cfn.deleteStack(stack, token: context.idempotencyToken("teardown:\(stack)"))
        var result = try await StackWatch.follow(stack: stack, since: started, context: context, deleting: true)
        if result.status == "DELETE_FAILED" {
            let failed = try await cfn.resources(stack).filter { $0.status == "DELETE_FAILED" }
            let why = failed.map { "\($0.logicalId) (\($0.resourceType)): \($0.reason ?? "no reason")" }.joined(separator: "; ")
            guard input.retainFailed else {
                throw FairflowError("teardown of stack \(stack) stopped at DELETE_FAILED", why: why.isEmpty ? "no resource reported why" : why,
                                    fix: "fix the cause and run teardown again, or pass --retain-failed to delete the stack and keep those resources")
            }
            t.note("retrying the delete, retaining: \(failed.map(\.logicalId).joined(separator: ", "))")
            try await cfn.deleteStack(stack, retain: failed.map(\.logicalId), token: context.idempotencyToken("teardown-retain:\(stack)"))
            result = try await StackWatch.follow(stack: stack, since: Date(), context: context, deleting: true)
            actions.append("retained after DELETE_FAILED: \(failed.map(\.logicalId).joined(separator: ", "))")
        }
        actions.append("deleted stack \(stack)")

        var kept: [Leftover] = []
        if input.keepLogs {
            kept += retained.logGroups.map { Leftover(type: "AWS::Logs::LogGroup", id: $0, note: "--keep-logs") }
            kept += retained.buckets.map { Leftover(type: "AWS::S3::Bucket", id: $0, note: "--keep-logs") }
            kept += retained.keys.map { Leftover(type: "AWS::KMS::Key", id: $0, note: "--keep-logs (it decrypts the kept logs)") }
        } else {
            for g in retained.logGroups {
                do {
                    _ = try await aws.send(.json(.logs, "DeleteLogGroup", ["logGroupName": g]))
                    actions.append("deleted log group \(g)")
                } catch let e as AWSError where e.code == "ResourceNotFoundException" {}
            }
            for b in retained.buckets {
                _ = try await emptyBucket(b, s3: s3)  // objects written between the purge and the delete
                try await s3.deleteBucket(b)
                actions.append("deleted bucket \(b)")
            }
            for k in retained.keys {
                do {
                    _ = try await aws.send(.json(.kms, "ScheduleKeyDeletion", ["KeyId": k, "PendingWindowInDays": 7]))
                    actions.append("scheduled KMS key \(k) for deletion in 7 days")
                } catch let e as AWSError where e.code == "NotFoundException" || e.code == "KMSInvalidStateException" {}
            }
        }
        if let db = retained.snapshotOf {
            let snaps = try await finalSnapshots(of: db, aws: aws)
            if input.keepSnapshot {
                kept += snaps.map { Leftover(type: "AWS::RDS::DBSnapshot", id: $0, note: "--keep-snapshot") }
            } else {
                for s in snaps {
                    _ = try await aws.send(.query(.rds, "DeleteDBSnapshot", [("DBSnapshotIdentifier", s)]))
                    actions.append("deleted final snapshot \(s)")
                }
            }
        }
        if input.deleteSecrets {
            let sm = SecretsManager(aws)
            for s in try await sm.list(prefix: "airflow-").all() where s.DeletedDate == nil {
                try await sm.delete(s.ARN)
                actions.append("scheduled secret \(s.Name) for deletion")
            }
        }
        try await cleanStaging(stack: stack, aws: aws)

        let leftovers = try await census(stack: stack, recorded: resources, kept: kept, context: context)
        return Output(stack: stack, deleted: true, resources: resources.count, actions: actions, kept: kept, leftovers: leftovers)
    }

    /// Log groups and buckets with DeletionPolicy Retain, and the database with DeletionPolicy Snapshot.
    static func retainedResources(template: String, resources: [StackResource]) -> Retained {
        var r = Retained()
        let json = (try? JSONSerialization.jsonObject(with: Data(template.utf8))) as? [String: Any]
        let defs = json?["Resources"] as? [String: [String: Any]] ?? [:]
        for res in resources {
            guard let id = res.physicalId, !id.isEmpty else { continue }
            let policy = res.status == "DELETE_SKIPPED" ? "Retain" : (defs[res.logicalId]?["DeletionPolicy"] as? String ?? "Delete")
            switch (res.resourceType, policy) {
            case ("AWS::Logs::LogGroup", "Retain"): r.logGroups.append(id)
            case ("AWS::S3::Bucket", _): r.buckets.append(id)  // emptied first in every case: CloudFormation cannot delete a non-empty bucket
            case ("AWS::RDS::DBInstance", "Snapshot"): r.snapshotOf = id
            case ("AWS::KMS::Key", "Retain"): r.keys.append(id)
            default: break
            }
        }
        return r
    }

    static func emptyBucket(_ bucket: String, s3: S3) async throws -> Int {
        var total = 0
        // Re-list from the start after each batch: deleting shifts the pages.
        while true {
            let page: [S3Object]
            do {
                var it = s3.objectVersions(bucket).makeAsyncIterator()
                page = try await it.next() ?? []
            } catch S3Error.noSuchBucket { return total }
            if page.isEmpty { return total }
            let failed = try await s3.deleteObjects(bucket, page)
            total += page.count - failed.count
            if !failed.isEmpty {
                throw FairflowError("cannot empty bucket \(bucket)", why: "\(failed.count) objects could not be deleted (e.g. \(failed[0]))",
                                    fix: "check the bucket policy and object lock settings")
            }
        }
    }

    static func finalSnapshots(of db: String, aws: AWSClient) async throws -> [String] {
        do {
            let r = try await aws.send(.query(.rds, "DescribeDBSnapshots", [("DBInstanceIdentifier", db), ("SnapshotType", "manual")]))
            return (r.xml?.list("DBSnapshots", item: "DBSnapshot") ?? []).compactMap { $0.string("DBSnapshotIdentifier") }
        } catch let e as AWSError where e.code == "DBInstanceNotFound" || e.code == "DBSnapshotNotFound" {
            return []
        }
    }

    /// Removes this stack's staged templates; the bucket goes too once nothing else is in it.
    static func cleanStaging(stack: String, aws: AWSClient) async throws {
        let s3 = S3(aws)
        let account = try await STS(aws).callerIdentity().account
        let bucket = ChangeSetPlan.stagingBucket(account: account, region: aws.region.name)
        guard try await s3.bucketExists(bucket) else { return }
        let mine = try await s3.objectVersions(bucket).all().filter { $0.key.hasPrefix("\(stack)/") }
        if !mine.isEmpty { _ = try await s3.deleteObjects(bucket, mine) }
        if try await s3.objectVersions(bucket).all().isEmpty { try await s3.deleteBucket(bucket) }
    }

    /// Every resource the stack had, asked of its own service, plus everything still tagged Stack=<name>.
    public static func census(stack: String, recorded: [StackResource], kept: [Leftover], context: Context) async throws -> [Leftover] {
        let probe = ResourceProbe(try context.aws())
        let keptIds = Set(kept.map(\.id))
        var left: [Leftover] = []
        try await withThrowingTaskGroup(of: Leftover?.self) { group in
            for r in recorded {
                guard let id = r.physicalId, !id.isEmpty, ResourceProbe.checkable.contains(r.resourceType), !keptIds.contains(id) else { continue }
                group.addTask {
                    let exists = try await probe.exists(type: r.resourceType, physicalId: id)
                    return exists == true ? Leftover(type: r.resourceType, id: id, note: r.logicalId) : nil
                }
            }
            for try await l in group { if let l { left.append(l) } }
        }
        do {
            for arn in try await probe.tagged(key: "Stack", value: stack) where !left.contains(where: { arn.contains($0.id) }) && !keptIds.contains(where: { arn.contains($0) }) {
                // The tagging API still lists terminated, deregistered and pending-deletion resources: ask their service.
                if let (type, id) = ResourceProbe.typeAndId(arn: arn), let exists = try await probe.exists(type: type, physicalId: id) {
                    if exists { left.append(Leftover(type: type, id: id, note: "tagged Stack=\(stack)")) }
                    continue
                }
                left.append(Leftover(type: "tagged Stack=\(stack)", id: arn, note: nil))
            }
        } catch let e as AWSError {
            context.terminal.note("census: the tagging API is not usable here (\(e.code)); relied on the per-type checks")
        }
        return left.sorted { $0.type == $1.type ? $0.id < $1.id : $0.type < $1.type }
    }
}
