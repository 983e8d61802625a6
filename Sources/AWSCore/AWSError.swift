import Foundation
import HTTPTransport

/// Every AWS error, whatever the wire protocol said it in.
public struct AWSError: Error, CustomStringConvertible, Sendable {
    public var service: String
    public var operation: String
    public var code: String
    public var message: String
    public var status: Int
    public var requestId: String?

    public init(service: String, operation: String, code: String, message: String, status: Int, requestId: String? = nil) {
        self.service = service
        self.operation = operation
        self.code = code
        self.message = message
        self.status = status
        self.requestId = requestId
    }

    public var description: String {
        var s = "\(service) \(operation) failed: \(code)"
        if !message.isEmpty { s += ": \(message)" }
        if let r = requestId, r != "request-id" { s += " (request id \(r))" }
        return s
    }

    static let throttlingCodes: Set<String> = [
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
        "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
        "SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
    ]
    static let transientCodes: Set<String> = ["RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable"]

    public var isThrottling: Bool { Self.throttlingCodes.contains(code) || status == 429 }
    public var isRetryable: Bool {
        isThrottling || Self.transientCodes.contains(code) || [500, 502, 503, 504].contains(status)
    }
    /// Credentials were refused (as opposed to a missing permission on one call).
    public var isAuthFailure: Bool {
        ["SignatureDoesNotMatch", "InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId",
         "ExpiredToken", "ExpiredTokenException", "AuthFailure", "InvalidSignatureException", "IncompleteSignature",
         "MissingAuthenticationToken"].contains(code)
    }
    public var isAccessDenied: Bool { ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation"].contains(code) }
}

/// Decodes an error response in the given protocol. Keys on `__type` / `Code`, never on the status alone.
public enum ErrorDecoder {
    public static func decode(_ response: HTTPResponse, protocol proto: AWSProtocol, service: String, operation: String) -> AWSError {
        let requestId = response.header("x-amzn-requestid") ?? response.header("x-amz-request-id")
        var code: String?
        var message = ""
        var rid = requestId
        let body = response.body
        switch proto {
        case .json, .restJSON:
            if let h = response.header("x-amzn-errortype") { code = sanitize(h) }
            if let obj = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] {
                if code == nil, let t = (obj["__type"] ?? obj["code"] ?? obj["Code"]) as? String { code = sanitize(t) }
                message = (obj["message"] ?? obj["Message"] ?? obj["errorMessage"]) as? String ?? ""
            }
        case .query, .ec2, .restXML:
            if let root = XMLElement.parse(body) {
                let err = root.find("Error")
                code = err?.string("Code")
                message = err?.string("Message") ?? err?.string("message") ?? ""
                rid = rid ?? root.string("RequestId") ?? root.string("RequestID") ?? err?.string("RequestId")
            }
        }
        if code == nil {
            // No parsable error: a HEAD response, or a server bug answering HTML.
            let looksHTML = response.text.lowercased().contains("<html") || (response.header("content-type") ?? "").contains("text/html")
            switch response.status {
            case 404: code = "NotFound"
            case 403: code = "Forbidden"
            case 400: code = "BadRequest"
            default: code = looksHTML ? "UnexpectedResponse" : "HTTP\(response.status)"
            }
            if looksHTML {
                message = "the endpoint answered HTTP \(response.status) with an HTML page instead of an AWS response"
            }
        }
        return AWSError(service: service, operation: operation, code: code!, message: message,
                        status: response.status, requestId: rid)
    }

    /// `aws.protocoltests#FooError:http://...` → `FooError`.
    static func sanitize(_ raw: String) -> String {
        var s = Substring(raw)
        if let colon = s.firstIndex(of: ":") { s = s[..<colon] }
        if let hash = s.lastIndex(of: "#") { s = s[s.index(after: hash)...] }
        return s.trimmingCharacters(in: .whitespaces)
    }
}
