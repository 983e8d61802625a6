import AWSCore
import Foundation

public struct StackSummary: Sendable {
    public var name: String
    public var id: String
    public var status: String
    public var statusReason: String?
    public var outputs: [String: String]
    public var tags: [String: String]
    public var lastUpdated: Date?

    public init(name: String, id: String, status: String, statusReason: String?, outputs: [String: String], tags: [String: String], lastUpdated: Date?) {
        self.name = name
        self.id = id
        self.status = status
        self.statusReason = statusReason
        self.outputs = outputs
        self.tags = tags
        self.lastUpdated = lastUpdated
    }
}

public enum CloudFormationError: Error, CustomStringConvertible {
    case stackNotFound(String)
    public var description: String {
        switch self { case .stackNotFound(let s): return "stack \(s) does not exist" }
    }
}

public struct CloudFormation: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    static func isNotFound(_ e: AWSError) -> Bool {
        e.code == "ValidationError" && e.message.contains("does not exist")
    }

    public func stack(_ name: String) async throws -> StackSummary {
        do {
            let r = try await client.send(.query(.cloudFormation, "DescribeStacks", [("StackName", name)]))
            guard let s = r.xml?.list("Stacks").first else { throw CloudFormationError.stackNotFound(name) }
            return Self.summary(s)
        } catch let e as AWSError where Self.isNotFound(e) {
            throw CloudFormationError.stackNotFound(name)
        }
    }

    /// nil when the stack does not exist.
    public func stackIfExists(_ name: String) async throws -> StackSummary? {
        do { return try await stack(name) } catch CloudFormationError.stackNotFound { return nil }
    }

    static func summary(_ s: XMLElement) -> StackSummary {
        var outputs: [String: String] = [:]
        for o in s.list("Outputs") { if let k = o.string("OutputKey") { outputs[k] = o.string("OutputValue") ?? "" } }
        var tags: [String: String] = [:]
        for t in s.list("Tags") { if let k = t.string("Key") { tags[k] = t.string("Value") ?? "" } }
        return StackSummary(name: s.string("StackName") ?? "", id: s.string("StackId") ?? "",
                            status: s.string("StackStatus") ?? "", statusReason: s.string("StackStatusReason"),
                            outputs: outputs, tags: tags,
                            lastUpdated: (s.string("LastUpdatedTime") ?? s.string("CreationTime")).flatMap(AWSDate.parse))
    }
}
