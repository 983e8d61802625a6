import AWSCore
import Foundation

public struct VPCSummary: Sendable {
    public var id: String
    public var cidr: String
    public var isDefault: Bool
    public var tags: [String: String]
}

public struct EC2: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    static func tags(_ el: XMLElement) -> [String: String] {
        var out: [String: String] = [:]
        for t in el.list("tagSet", item: "item") { if let k = t.string("key") { out[k] = t.string("value") ?? "" } }
        return out
    }

    static func filters(_ filters: [String: [String]]) -> [(String, String)] {
        var p: [(String, String)] = []
        for (i, (name, values)) in filters.sorted(by: { $0.key < $1.key }).enumerated() {
            p.append(("Filter.\(i + 1).Name", name))
            p.appendList("Filter.\(i + 1).Value", values, ec2: true)
        }
        return p
    }

    public func vpcs(ids: [String] = [], filters: [String: [String]] = [:]) async throws -> [VPCSummary] {
        var p = Self.filters(filters)
        p.appendList("VpcId", ids, ec2: true)
        let r = try await client.send(.query(.ec2, "DescribeVpcs", p))
        return (r.xml?.list("vpcSet", item: "item") ?? []).map {
            VPCSummary(id: $0.string("vpcId") ?? "", cidr: $0.string("cidrBlock") ?? "",
                       isDefault: $0.string("isDefault") == "true", tags: Self.tags($0))
        }
    }

    /// Allocated Elastic IPs (public IPs).
    public func addresses() async throws -> [String] {
        let r = try await client.send(.query(.ec2, "DescribeAddresses"))
        return (r.xml?.list("addressesSet", item: "item") ?? []).compactMap { $0.string("publicIp") ?? $0.string("allocationId") }
    }

    /// Account attributes such as `vpc-max-elastic-ips` (values as strings).
    public func accountAttributes(_ names: [String] = []) async throws -> [String: String] {
        var p: [(String, String)] = []
        p.appendList("AttributeName", names, ec2: true)
        let r = try await client.send(.query(.ec2, "DescribeAccountAttributes", p))
        var out: [String: String] = [:]
        for item in r.xml?.list("accountAttributeSet", item: "item") ?? [] {
            guard let n = item.string("attributeName") else { continue }
            out[n] = item.list("attributeValueSet", item: "item").first?.string("attributeValue") ?? ""
        }
        return out
    }

    public func availabilityZones() async throws -> [String] {
        let r = try await client.send(.query(.ec2, "DescribeAvailabilityZones"))
        return (r.xml?.list("availabilityZoneInfo", item: "item") ?? []).compactMap { $0.string("zoneName") }
    }
}
