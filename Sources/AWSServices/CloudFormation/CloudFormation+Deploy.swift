import AWSCore
import Foundation

public struct ChangeSetChange: Codable, Sendable, Equatable {
    public var action: String          // Add | Modify | Remove | Import | Dynamic
    public var logicalId: String
    public var physicalId: String?
    public var resourceType: String
    public var replacement: String?    // True | False | Conditional

    public init(action: String, logicalId: String, physicalId: String?, resourceType: String, replacement: String?) {
        self.action = action
        self.logicalId = logicalId
        self.physicalId = physicalId
        self.resourceType = resourceType
        self.replacement = replacement
    }
}

public struct ChangeSetDescription: Sendable {
    public var id: String
    public var status: String          // CREATE_PENDING | CREATE_IN_PROGRESS | CREATE_COMPLETE | FAILED ...
    public var statusReason: String?
    public var executionStatus: String?
    public var changes: [ChangeSetChange]
    public var stackId: String?

    /// CloudFormation's way of saying "nothing to change".
    public var isEmpty: Bool {
        status == "FAILED" && (statusReason ?? "").contains("didn't contain changes")
            || status == "FAILED" && (statusReason ?? "").contains("No updates are to be performed")
    }
}

public struct StackEvent: Codable, Sendable, Equatable {
    public var eventId: String
    public var timestamp: Date
    public var logicalId: String
    public var physicalId: String?
    public var resourceType: String
    public var status: String
    public var reason: String?

    public init(eventId: String, timestamp: Date, logicalId: String, physicalId: String?, resourceType: String, status: String, reason: String?) {
        self.eventId = eventId
        self.timestamp = timestamp
        self.logicalId = logicalId
        self.physicalId = physicalId
        self.resourceType = resourceType
        self.status = status
        self.reason = reason
    }
}

public struct StackResource: Codable, Sendable, Equatable {
    public var logicalId: String
    public var physicalId: String?
    public var resourceType: String
    public var status: String
    public var reason: String?

    public init(logicalId: String, physicalId: String?, resourceType: String, status: String, reason: String?) {
        self.logicalId = logicalId
        self.physicalId = physicalId
        self.resourceType = resourceType
        self.status = status
        self.reason = reason
    }
}

public extension CloudFormation {
    enum ChangeSetType: String, Sendable { case create = "CREATE", update = "UPDATE" }

    func createChangeSet(stack: String, name: String, type: ChangeSetType, templateURL: String, tags: [String: String],
                         token: String) async throws -> (id: String, stackId: String?) {
        var p: [(String, String)] = [
            ("StackName", stack), ("ChangeSetName", name), ("ChangeSetType", type.rawValue), ("TemplateURL", templateURL),
            ("ClientToken", token), ("Description", "fairflow deploy"),
        ]
        p.appendList("Capabilities", ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
        for (i, (k, v)) in tags.sorted(by: { $0.key < $1.key }).enumerated() {
            p.append(("Tags.member.\(i + 1).Key", k))
            p.append(("Tags.member.\(i + 1).Value", v))
        }
        let r = try await client.send(.query(.cloudFormation, "CreateChangeSet", p))
        return (r.xml?.string("Id") ?? name, r.xml?.string("StackId"))
    }

    func describeChangeSet(stack: String, name: String) async throws -> ChangeSetDescription {
        var changes: [ChangeSetChange] = []
        var token: String?
        var desc: ChangeSetDescription?
        repeat {
            var p: [(String, String)] = [("StackName", stack), ("ChangeSetName", name)]
            if let t = token { p.append(("NextToken", t)) }
            let r = try await client.send(.query(.cloudFormation, "DescribeChangeSet", p))
            guard let x = r.xml else { break }
            for m in x.list("Changes") {
                guard let rc = m["ResourceChange"] else { continue }
                changes.append(ChangeSetChange(action: rc.string("Action") ?? "?", logicalId: rc.string("LogicalResourceId") ?? "?",
                                               physicalId: rc.string("PhysicalResourceId"), resourceType: rc.string("ResourceType") ?? "?",
                                               replacement: rc.string("Replacement")))
            }
            desc = ChangeSetDescription(id: x.string("ChangeSetId") ?? name, status: x.string("Status") ?? "",
                                        statusReason: x.string("StatusReason"), executionStatus: x.string("ExecutionStatus"),
                                        changes: [], stackId: x.string("StackId"))
            token = x.string("NextToken")
        } while token != nil
        guard var d = desc else { throw CloudFormationError.stackNotFound(stack) }
        d.changes = changes
        return d
    }

    /// Polls until the change set is ready (or failed / empty).
    func waitForChangeSet(stack: String, name: String, timeout: TimeInterval = 600) async throws -> ChangeSetDescription {
        let waiter = Waiter<ChangeSetDescription>(minDelay: 1, maxDelay: 5, timeout: timeout, acceptors: [
            { r in
                guard case .success(let d) = r else { return nil }
                switch d.status {
                case "CREATE_COMPLETE": return .success
                case "FAILED": return .success  // the caller reads isEmpty / statusReason
                default: return .retry
                }
            },
        ])
        return try await waiter.wait { try await describeChangeSet(stack: stack, name: name) }
    }

    func executeChangeSet(stack: String, name: String, token: String) async throws {
        _ = try await client.send(.query(.cloudFormation, "ExecuteChangeSet", [
            ("StackName", stack), ("ChangeSetName", name), ("ClientRequestToken", token),
        ]))
    }

    func deleteChangeSet(stack: String, name: String) async throws {
        _ = try await client.send(.query(.cloudFormation, "DeleteChangeSet", [("StackName", stack), ("ChangeSetName", name)]))
    }

    func deleteStack(_ stack: String, retain: [String] = [], token: String) async throws {
        var p: [(String, String)] = [("StackName", stack), ("ClientRequestToken", token)]
        p.appendList("RetainResources", retain)
        _ = try await client.send(.query(.cloudFormation, "DeleteStack", p))
    }

    func cancelUpdate(_ stack: String, token: String) async throws {
        _ = try await client.send(.query(.cloudFormation, "CancelUpdateStack", [("StackName", stack), ("ClientRequestToken", token)]))
    }

    /// One page of a stack-scoped list call; "does not exist" becomes `stackNotFound`.
    private func page(_ action: String, _ stack: String, token: String?) async throws -> XMLElement? {
        var p: [(String, String)] = [("StackName", stack)]
        if let t = token { p.append(("NextToken", t)) }
        do {
            return try await client.send(.query(.cloudFormation, action, p)).xml
        } catch let e as AWSError where Self.isNotFound(e) {
            throw CloudFormationError.stackNotFound(stack)
        }
    }

    /// Newest first, as the API returns them; stops paging once `since` is passed.
    func events(_ stack: String, since: Date? = nil) async throws -> [StackEvent] {
        var out: [StackEvent] = []
        let pages = Paginator<StackEvent> { token in
            let x = try await page("DescribeStackEvents", stack, token: token)
            let events = (x?.list("StackEvents") ?? []).map { m in
                StackEvent(eventId: m.string("EventId") ?? UUID().uuidString,
                           timestamp: m.string("Timestamp").flatMap(AWSDate.parse) ?? Date.distantPast,
                           logicalId: m.string("LogicalResourceId") ?? "", physicalId: m.string("PhysicalResourceId"),
                           resourceType: m.string("ResourceType") ?? "", status: m.string("ResourceStatus") ?? "",
                           reason: m.string("ResourceStatusReason"))
            }
            return (events, x?.string("NextToken"))
        }
        for try await batch in pages {
            let fresh = batch.filter { since == nil || $0.timestamp >= since! }
            out += fresh
            if fresh.count < batch.count { break }  // reached events older than `since`
        }
        return out
    }

    func resources(_ stack: String) async throws -> [StackResource] {
        try await Paginator<StackResource> { token in
            let x = try await page("ListStackResources", stack, token: token)
            let items = (x?.list("StackResourceSummaries") ?? []).map { m in
                StackResource(logicalId: m.string("LogicalResourceId") ?? "", physicalId: m.string("PhysicalResourceId"),
                              resourceType: m.string("ResourceType") ?? "", status: m.string("ResourceStatus") ?? "",
                              reason: m.string("ResourceStatusReason"))
            }
            return (items, x?.string("NextToken"))
        }.all()
    }

    /// The template CloudFormation holds for the stack (to find retained resources before a delete).
    func templateBody(_ stack: String) async throws -> String {
        let r = try await client.send(.query(.cloudFormation, "GetTemplate", [("StackName", stack)]))
        return r.xml?.string("TemplateBody") ?? ""
    }
}
