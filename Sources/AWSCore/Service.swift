import Foundation

/// The wire protocols fairflow speaks; grows one case at a time.
public enum AWSProtocol: Sendable, Equatable {
    case json(version: String, targetPrefix: String)  // awsJson 1.0 / 1.1
    case query(apiVersion: String)
    case ec2(apiVersion: String)
    case restJSON
    case restXML
}

/// What fairflow needs to know about one AWS service.
public struct AWSService: Sendable {
    /// The SDK's service id ("Secrets Manager"): names `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
    public var serviceId: String
    public var signingName: String
    public var endpointPrefix: String
    public var wire: AWSProtocol
    /// Global services sign in us-east-1 and have one endpoint per partition.
    public var global: Bool

    public init(serviceId: String, signingName: String, endpointPrefix: String? = nil, protocol wire: AWSProtocol, global: Bool = false) {
        self.serviceId = serviceId
        self.signingName = signingName
        self.endpointPrefix = endpointPrefix ?? signingName
        self.wire = wire
        self.global = global
    }

    public var endpointEnvName: String {
        "AWS_ENDPOINT_URL_" + serviceId.uppercased().replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "-", with: "_")
    }
}

public enum Partition: String, Sendable {
    case aws, awsCN = "aws-cn", awsUSGov = "aws-us-gov"

    public var dnsSuffix: String { self == .awsCN ? "amazonaws.com.cn" : "amazonaws.com" }
}

/// A validated AWS region name.
public struct Region: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public var description: String { name }

    /// The regions known when fairflow was built; a new one matching the partition pattern is accepted too.
    public static let known: [String] = [
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-east-2", "ap-south-1",
        "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
        "ap-southeast-7", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ca-central-1", "ca-west-1",
        "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2",
        "eu-north-1", "il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1",
        "cn-north-1", "cn-northwest-1", "us-gov-east-1", "us-gov-west-1",
    ]

    public init(validating name: String) throws {
        let n = name.trimmingCharacters(in: .whitespaces)
        guard Region.known.contains(n) || Region.matchesPattern(n) else {
            throw RegionError(name: name, suggestion: Region.closest(to: n))
        }
        self.name = n
    }

    static func matchesPattern(_ s: String) -> Bool {
        // botocore's partition regex: ^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$ (plus cn- and us-gov-)
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3 || (parts.count == 4 && parts[0] == "us" && parts[1] == "gov") else { return false }
        let prefixes: Set<Substring> = ["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx", "cn"]
        guard prefixes.contains(parts[0]) else { return false }
        let middle = parts[parts.count - 2]
        guard !middle.isEmpty, middle.allSatisfy({ $0.isLetter && $0.isLowercase }) else { return false }
        let direction: Set<Substring> = ["east", "west", "north", "south", "central", "northeast", "northwest",
                                          "southeast", "southwest", "gov"]
        guard direction.contains(middle) else { return false }
        return parts.last!.allSatisfy(\.isNumber) && !parts.last!.isEmpty
    }

    static func closest(to s: String) -> String? {
        Region.known.map { ($0, editDistance($0, s)) }.min { $0.1 < $1.1 }.flatMap { $0.1 <= 3 ? $0.0 : nil }
    }

    public var partition: Partition {
        if name.hasPrefix("cn-") { return .awsCN }
        if name.hasPrefix("us-gov-") { return .awsUSGov }
        return .aws
    }
}

public struct RegionError: Error, CustomStringConvertible {
    public let name: String
    public let suggestion: String?
    public var description: String {
        var s = "unknown region '\(name)': not an AWS region name"
        if let sug = suggestion { s += " — did you mean '\(sug)'?" } else { s += " — use a name like us-east-1 or eu-west-1" }
        return s
    }
}

/// Levenshtein distance, for "did you mean" hints.
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    for i in 1...a.count {
        var cur = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[b.count]
}

/// Where requests for a service go: the SDKs' order of precedence.
public struct EndpointResolver: Sendable {
    public var override: URL?
    public var environment: [String: String]

    public init(override: URL? = nil, environment: [String: String]) {
        self.override = override
        self.environment = environment
    }

    public func endpoint(for service: AWSService, region: Region) -> (url: URL, custom: Bool) {
        if let o = override { return (o, true) }
        if let s = environment[service.endpointEnvName], !s.isEmpty, let u = URL(string: s) { return (u, true) }
        if let s = environment["AWS_ENDPOINT_URL"], !s.isEmpty, let u = URL(string: s) { return (u, true) }
        let suffix = region.partition.dnsSuffix
        if service.global {
            let host = region.partition == .aws ? "\(service.endpointPrefix).\(suffix)" : "\(service.endpointPrefix).\(region.name).\(suffix)"
            return (URL(string: "https://\(host)")!, false)
        }
        return (URL(string: "https://\(service.endpointPrefix).\(region.name).\(suffix)")!, false)
    }
}
