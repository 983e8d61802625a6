import AWSCore
import AWSServices
import Foundation

public enum Whoami: FairflowOperation {
    public static let id = "whoami"
    public static let summary = "Show the AWS identity, region and endpoint fairflow uses."

    public struct Input: Codable, Sendable { public init() {} }

    public struct Output: OperationOutput {
        public var account: String
        public var arn: String
        public var userId: String
        public var region: String
        public var endpoint: String
        public var credentialSource: String

        public func renderText(_ t: Terminal) -> String {
            Table(headers: ["FIELD", "VALUE"], rows: [
                ["account", account], ["arn", arn], ["region", region], ["endpoint", endpoint], ["credentials", credentialSource],
            ]).render(tty: t.isTTY)
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("STS GetCallerIdentity")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let aws = try context.aws()
        let creds = try await aws.credentials()
        let id = try await STS(aws).callerIdentity()
        return Output(account: id.account, arn: id.arn, userId: id.userId, region: aws.region.name,
                      endpoint: aws.endpoint(for: .sts).absoluteString, credentialSource: creds.source)
    }
}
