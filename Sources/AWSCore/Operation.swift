import Foundation
import HTTPTransport

/// One call, encoded once: retries re-sign the same bytes, so an idempotency token in the body is the
/// same on every attempt.
public struct AWSOperation: Sendable {
    public var service: AWSService
    public var name: String
    public var method: String = "POST"
    /// Already percent-encoded path (rest protocols); "/" for the others.
    public var path: String = "/"
    public var query: [(String, String)] = []
    public var headers: [(name: String, value: String)] = []
    public var body: Data = Data()
    /// Changes something on the AWS side; refused by a read-only (dry-run) client.
    public var mutating: Bool
    /// S3: the bucket, addressed virtual-host style on AWS and path style when an endpoint URL is set.
    public var bucket: String?

    public init(service: AWSService, name: String, method: String = "POST", path: String = "/",
                query: [(String, String)] = [], headers: [(name: String, value: String)] = [], body: Data = Data(), mutating: Bool? = nil) {
        self.service = service
        self.name = name
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.mutating = mutating ?? AWSOperation.looksMutating(name)
    }

    public static func looksMutating(_ name: String) -> Bool {
        let readOnly = ["Describe", "List", "Get", "Head", "Filter", "Lookup", "Search", "Validate", "Estimate", "Detect"]
        return !readOnly.contains { name.hasPrefix($0) }
    }

    /// awsJson 1.0/1.1: POST / with X-Amz-Target.
    public static func json(_ service: AWSService, _ name: String, _ payload: [String: Any] = [:], mutating: Bool? = nil) -> AWSOperation {
        guard case .json(let version, let prefix) = service.wire else { preconditionFailure("\(service.serviceId) is not a JSON service") }
        let body = (try? JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])) ?? Data("{}".utf8)
        return AWSOperation(service: service, name: name, headers: [
            ("Content-Type", "application/x-amz-json-\(version)"), ("X-Amz-Target", "\(prefix).\(name)"),
        ], body: body, mutating: mutating)
    }

    /// query and ec2: a form body with Action and Version; `params` already flattened (`Tags.member.1.Key`).
    public static func query(_ service: AWSService, _ name: String, _ params: [(String, String)] = [], mutating: Bool? = nil) -> AWSOperation {
        let version: String
        switch service.wire {
        case .query(let v), .ec2(let v): version = v
        default: preconditionFailure("\(service.serviceId) is not a query service")
        }
        let all = [("Action", name), ("Version", version)] + params
        let body = all.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&")
        return AWSOperation(service: service, name: name, headers: [
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
        ], body: Data(body.utf8), mutating: mutating)
    }

    /// rest-json and rest-xml: method, path with its labels already encoded, query, body.
    public static func rest(_ service: AWSService, _ name: String, method: String, path: String, query: [(String, String)] = [],
                            headers: [(name: String, value: String)] = [], json: [String: Any]? = nil, body: Data? = nil,
                            bucket: String? = nil, mutating: Bool? = nil) -> AWSOperation {
        var h = headers
        var b = body ?? Data()
        if let j = json {
            b = (try? JSONSerialization.data(withJSONObject: j, options: [.sortedKeys])) ?? Data()
            h.append(("Content-Type", "application/json"))
        }
        let isRead = method == "GET" || method == "HEAD"
        var op = AWSOperation(service: service, name: name, method: method, path: path, query: query, headers: h, body: b,
                              mutating: mutating ?? (!isRead && looksMutating(name)))
        op.bucket = bucket
        return op
    }

    /// Percent-encodes one path segment (a label such as a bucket key or a file system id).
    public static func pathSegment(_ s: String) -> String { AWSSigV4Bridge.encode(s) }

    static func formEncode(_ s: String) -> String { AWSSigV4Bridge.encode(s) }
}

/// Adds list members to query parameters the way each protocol flattens them.
public extension Array where Element == (String, String) {
    mutating func appendList(_ name: String, _ values: [String], ec2: Bool = false) {
        for (i, v) in values.enumerated() { append((ec2 ? "\(name).\(i + 1)" : "\(name).member.\(i + 1)", v)) }
    }
}

import AWSSigV4
enum AWSSigV4Bridge {
    static func encode(_ s: String) -> String { SigV4.uriEncode(s) }
}

/// A decoded answer: the raw response plus lazily parsed bodies.
public struct AWSResponse: @unchecked Sendable {
    public let http: HTTPResponse
    public let operation: String
    public let wire: AWSProtocol

    public var requestId: String? {
        http.header("x-amzn-requestid") ?? http.header("x-amz-request-id") ?? xml?.find("RequestId")?.text
    }

    /// query/ec2: the `<OperationResult>` element (or the root for ec2); rest-xml: the root.
    public var xml: XMLElement? {
        guard let root = XMLElement.parse(http.body) else { return nil }
        if case .query = wire { return root["\(operation)Result"] ?? root }
        return root
    }

    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: http.body)) as? [String: Any] ?? [:]
    }

    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let dec = JSONDecoder()
        dec.dateDecodingStrategy = .custom { d in
            let c = try d.singleValueContainer()
            if let n = try? c.decode(Double.self) { return Date(timeIntervalSince1970: n) }
            let s = try c.decode(String.self)
            guard let date = AWSDate.parse(s) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a timestamp: \(s)")
            }
            return date
        }
        do {
            return try dec.decode(T.self, from: http.body.isEmpty ? Data("{}".utf8) : http.body)
        } catch {
            throw AWSError(service: "", operation: operation, code: "UnexpectedResponse",
                           message: "could not read the response: \(error)", status: http.status, requestId: requestId)
        }
    }
}
