import AWSSigV4
import Foundation
import HTTPTransport

/// What the client saw for one logical call: for journals, `-v` and tests.
public struct AWSCallRecord: Sendable {
    public var service: String
    public var operation: String
    public var mutating: Bool
    public var attempts: Int
    public var status: Int?
    public var requestId: String?
    public var duration: TimeInterval
    public var errorCode: String?
}

/// A mutating call refused because the client is read-only (a runbook's dry run).
public struct MutationRefused: Error, CustomStringConvertible {
    public let service: String
    public let operation: String
    public var description: String { "dry run: \(service) \(operation) would change something and was not sent" }
}

/// Signs, sends, decodes errors and retries. One per region and credential set; cheap to copy settings.
public final class AWSClient: @unchecked Sendable {
    public let http: HTTPClient
    public let region: Region
    public let endpoints: EndpointResolver
    public let credentialProvider: CredentialProvider
    public var retry: RetryPolicy
    /// When set, mutating operations throw `MutationRefused` before anything is sent.
    public var readOnly = false
    public var observer: (@Sendable (AWSCallRecord) -> Void)?
    /// Test hook: the clock used for signing.
    public var now: @Sendable () -> Date = { Date() }
    public var sleep: @Sendable (TimeInterval) async throws -> Void = { try await Task.sleep(nanoseconds: UInt64($0 * 1e9)) }

    public init(http: HTTPClient, region: Region, endpoints: EndpointResolver, credentials: CredentialProvider,
                retry: RetryPolicy = RetryPolicy()) {
        self.http = http
        self.region = region
        self.endpoints = endpoints
        self.credentialProvider = credentials
        self.retry = retry
    }

    public func credentials() async throws -> AWSCredentials {
        guard let c = try await credentialProvider.credentials() else {
            throw CredentialsError.notFound(tried: [credentialProvider.name])
        }
        return c
    }

    /// The endpoint a service's calls go to.
    public func endpoint(for service: AWSService) -> URL { endpoints.endpoint(for: service, region: region).url }

    public func send(_ op: AWSOperation) async throws -> AWSResponse {
        if readOnly && op.mutating { throw MutationRefused(service: op.service.serviceId, operation: op.name) }
        let started = Date()
        var attempt = 0
        var record = AWSCallRecord(service: op.service.serviceId, operation: op.name, mutating: op.mutating, attempts: 0,
                                   duration: 0)
        defer {
            record.duration = Date().timeIntervalSince(started)
            observer?(record)
        }
        while true {
            attempt += 1
            record.attempts = attempt
            var retryAfter: TimeInterval?
            do {
                let creds = try await credentials()
                let request = try sign(op, credentials: creds)
                let response = try await http.send(request)
                record.status = response.status
                if (200..<300).contains(response.status) {
                    let r = AWSResponse(http: response, operation: op.name, wire: op.service.wire)
                    record.requestId = r.requestId
                    return r
                }
                var err = ErrorDecoder.decode(response, protocol: op.service.wire, service: op.service.serviceId, operation: op.name)
                err.service = op.service.serviceId
                record.errorCode = err.code
                record.requestId = err.requestId
                retryAfter = response.header("retry-after").flatMap(TimeInterval.init)
                throw err
            } catch {
                guard retry.shouldRetry(error) else { throw error }
                guard attempt < retry.maxAttempts else { throw RetriesExhausted(attempts: attempt, last: error) }
                try await sleep(retry.delay(afterAttempt: attempt, retryAfter: retryAfter))
            }
        }
    }

    /// Builds the signed HTTP request for one attempt.
    public func sign(_ op: AWSOperation, credentials: AWSCredentials) throws -> HTTPRequest {
        let (base, custom) = endpoints.endpoint(for: op.service, region: region)
        let signingRegion = op.service.global && !custom ? (region.partition == .aws ? "us-east-1" : region.name) : region.name
        var basePath = base.path
        if basePath.hasSuffix("/") { basePath.removeLast() }
        var host = base.host ?? ""
        var opPath = op.path
        if let bucket = op.bucket {
            // Virtual-host style on AWS for DNS-safe names; path style for endpoint overrides (moto, MinIO).
            if !custom && !bucket.contains(".") { host = "\(bucket).\(host)" } else {
                opPath = "/\(SigV4.uriEncode(bucket))" + (op.path == "/" ? "" : op.path)
                if opPath.isEmpty { opPath = "/" }
            }
        }
        var path = basePath + opPath
        if path.isEmpty { path = "/" }
        let query = op.query.map { "\(SigV4.uriEncode($0.0))=\(SigV4.uriEncode($0.1))" }.joined(separator: "&")
        var comps = "\(base.scheme ?? "https")://\(host)"
        if let port = base.port { comps += ":\(port)" }
        comps += path
        if !query.isEmpty { comps += "?\(query)" }
        guard let url = URL(string: comps) else {
            throw AWSError(service: op.service.serviceId, operation: op.name, code: "InvalidEndpoint", message: comps, status: 0)
        }
        var headers = op.headers
        var hostHeader = host
        if let port = base.port, !((base.scheme == "http" && port == 80) || (base.scheme == "https" && port == 443)) {
            hostHeader += ":\(port)"
        }
        headers.append(("Host", hostHeader))
        var options = SigningOptions(region: signingRegion, service: op.service.signingName, date: now())
        if case .restXML = op.service.wire {
            options.normalizePath = false
            options.encodePath = false
            options.signBody = true
        }
        let signable = SignableRequest(method: op.method, path: path, query: query, headers: headers, body: op.body)
        let result = SigV4.signHeaders(signable, credentials: credentials.signing, options: options)
        var request = HTTPRequest(method: op.method, url: url, headers: headers, body: op.body)
        for (n, v) in result.headersToAdd { request.setHeader(n, v) }
        request.setHeader("User-Agent", "fairflow/\(FairflowVersion.current)")
        return request
    }
}

public enum FairflowVersion {
    public static let current = "0.1.0"
}
