import AWSCore
import Foundation

public struct ServiceQuotas: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    /// The applied quota value, nil when the service does not know the quota.
    public func quota(service: String, code: String) async throws -> Double? {
        struct R: Decodable { struct Q: Decodable { var Value: Double? }; var Quota: Q? }
        do {
            return try await client.send(.json(.serviceQuotas, "GetServiceQuota", ["ServiceCode": service, "QuotaCode": code]))
                .decode(R.self).Quota?.Value
        } catch let e as AWSError where e.code == "NoSuchResourceException" {
            return nil
        }
    }
}
