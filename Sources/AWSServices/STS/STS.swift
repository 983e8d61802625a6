import AWSCore
import Foundation

public struct CallerIdentity: Codable, Sendable, Equatable {
    public var account: String
    public var arn: String
    public var userId: String
}

public struct STS: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    public func callerIdentity() async throws -> CallerIdentity {
        let r = try await client.send(.query(.sts, "GetCallerIdentity"))
        guard let x = r.xml, let account = x.string("Account"), let arn = x.string("Arn") else {
            throw AWSError(service: "STS", operation: "GetCallerIdentity", code: "UnexpectedResponse",
                           message: "no Account/Arn in the answer", status: r.http.status)
        }
        return CallerIdentity(account: account, arn: arn, userId: x.string("UserId") ?? "")
    }
}
