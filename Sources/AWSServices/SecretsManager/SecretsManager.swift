import AWSCore
import Foundation

public struct SecretSummary: Decodable, Sendable {
    public var ARN: String
    public var Name: String
    public var LastChangedDate: Date?
    public var CreatedDate: Date?
    public var DeletedDate: Date?
}

public enum SecretsManagerError: Error, CustomStringConvertible {
    case notFound(String)
    public var description: String {
        switch self {
        case .notFound(let id): return "secret \(id) does not exist"
        }
    }
}

public struct SecretsManager: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    func map(_ error: Error, _ id: String) -> Error {
        if let e = error as? AWSError, e.code == "ResourceNotFoundException" { return SecretsManagerError.notFound(id) }
        return error
    }

    public func describe(_ id: String) async throws -> SecretSummary {
        do {
            return try await client.send(.json(.secretsManager, "DescribeSecret", ["SecretId": id])).decode(SecretSummary.self)
        } catch { throw map(error, id) }
    }

    /// The value stays in memory; callers must never print it.
    public func value(_ id: String) async throws -> String {
        struct V: Decodable { var SecretString: String? }
        do {
            let v = try await client.send(.json(.secretsManager, "GetSecretValue", ["SecretId": id])).decode(V.self)
            return v.SecretString ?? ""
        } catch { throw map(error, id) }
    }

    /// `token` is the ClientRequestToken: the same token on every retry, so a retried create never makes two.
    public func create(name: String, value: String, description: String? = nil, tags: [String: String] = [:],
                       token: String = UUID().uuidString) async throws -> String {
        struct R: Decodable { var ARN: String }
        var p: [String: Any] = ["Name": name, "SecretString": value, "ClientRequestToken": token]
        if let d = description { p["Description"] = d }
        if !tags.isEmpty { p["Tags"] = tags.sorted { $0.key < $1.key }.map { ["Key": $0.key, "Value": $0.value] } }
        return try await client.send(.json(.secretsManager, "CreateSecret", p)).decode(R.self).ARN
    }

    public func putValue(_ id: String, value: String, token: String = UUID().uuidString) async throws {
        do {
            _ = try await client.send(.json(.secretsManager, "PutSecretValue",
                                            ["SecretId": id, "SecretString": value, "ClientRequestToken": token]))
        } catch { throw map(error, id) }
    }

    public func list(prefix: String? = nil) -> Paginator<SecretSummary> {
        let client = self.client
        return Paginator { token in
            struct Page: Decodable { var SecretList: [SecretSummary]?; var NextToken: String? }
            var p: [String: Any] = ["MaxResults": 100]
            if let pre = prefix { p["Filters"] = [["Key": "name", "Values": [pre]]] }
            if let t = token { p["NextToken"] = t }
            let page = try await client.send(.json(.secretsManager, "ListSecrets", p)).decode(Page.self)
            return (page.SecretList ?? [], page.NextToken)
        }
    }

    public func delete(_ id: String, recoveryDays: Int = 7) async throws {
        do {
            _ = try await client.send(.json(.secretsManager, "DeleteSecret", ["SecretId": id, "RecoveryWindowInDays": recoveryDays]))
        } catch { throw map(error, id) }
    }
}
