import Foundation

/// One HTTP request as every client in fairflow builds it.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    /// Header names keep their case for the wire; look-ups are case-insensitive.
    public var headers: [(name: String, value: String)]
    public var body: Data

    public init(method: String, url: URL, headers: [(name: String, value: String)] = [], body: Data = Data()) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    public mutating func setHeader(_ name: String, _ value: String) {
        headers.removeAll { $0.name.caseInsensitiveCompare(name) == .orderedSame }
        headers.append((name, value))
    }

    public var host: String { url.host ?? "?" }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Names lower-cased.
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String] = [:], body: Data = Data()) {
        self.status = status
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { _, b in b })
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// What went wrong below HTTP: the one transport error every client sees.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case dns = "could not resolve host"
        case connectionRefused = "connection refused"
        case connectionReset = "connection reset"
        case tls = "TLS verification failed"
        case timeout = "timed out"
        case proxy = "proxy failed"
        case cancelled = "cancelled"
        case other = "request failed"
    }
    public let kind: Kind
    public let host: String
    public let detail: String

    public init(kind: Kind, host: String, detail: String) {
        self.kind = kind
        self.host = host
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue) for \(host): \(detail)" }

    /// Worth another attempt: the peer may answer next time.
    public var isTransient: Bool {
        switch kind {
        case .connectionReset, .timeout, .connectionRefused: return true
        default: return false
        }
    }
}

/// The one effect every HTTP client depends on. Tests inject doubles or point the real one at loopback.
public protocol HTTPClient: Sendable {
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}
