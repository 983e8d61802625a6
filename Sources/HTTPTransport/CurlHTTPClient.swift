import CCurl
import CShims
import Foundation

/// Settings that apply to every request of one client.
public struct HTTPSettings: Sendable {
    public var connectTimeout: TimeInterval = 10
    public var totalTimeout: TimeInterval = 60
    /// A PEM bundle to trust instead of the system's (AWS_CA_BUNDLE).
    public var caBundle: String?
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                connectTimeout: TimeInterval = 10, totalTimeout: TimeInterval = 60) {
        self.environment = environment
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.caBundle = environment["AWS_CA_BUNDLE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The proxy for a URL, as the aws CLI reads it: HTTPS_PROXY / HTTP_PROXY (either case), minus NO_PROXY.
    public func proxy(for url: URL) -> String? {
        let scheme = url.scheme?.lowercased() ?? "http"
        let key = scheme == "https" ? "https_proxy" : "http_proxy"
        guard let proxy = env(key), !proxy.isEmpty else { return nil }
        if let host = url.host, Self.bypasses(host: host, noProxy: env("no_proxy") ?? "") { return nil }
        return proxy
    }

    private func env(_ lower: String) -> String? { environment[lower.uppercased()] ?? environment[lower] }

    static func bypasses(host: String, noProxy: String) -> Bool {
        let h = host.lowercased()
        for raw in noProxy.split(separator: ",") {
            var entry = raw.trimmingCharacters(in: .whitespaces).lowercased()
            if entry == "*" { return true }
            if entry.hasPrefix(".") { entry.removeFirst() }
            if entry.isEmpty { continue }
            if h == entry || h.hasSuffix("." + entry) { return true }
        }
        return false
    }
}

private final class Exchange {
    var body = Data()
    var headerLines: [String] = []
    let upload: Data
    var uploadOffset = 0
    init(upload: Data) { self.upload = upload }
}

/// The libcurl implementation: one easy handle per request, run on its own thread so a slow peer
/// never blocks Swift's cooperative pool. TLS peer and host verification are always on.
public final class CurlHTTPClient: HTTPClient, @unchecked Sendable {
    public let settings: HTTPSettings
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public init(settings: HTTPSettings = HTTPSettings()) {
        _ = Self.globalInit
        self.settings = settings
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<HTTPResponse, Error>) in
            let thread = Thread { [settings] in
                cont.resume(with: Result { try Self.perform(request, settings: settings) })
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    static func perform(_ request: HTTPRequest, settings: HTTPSettings) throws -> HTTPResponse {
        guard let h = curl_easy_init() else {
            throw TransportError(kind: .other, host: request.host, detail: "curl_easy_init failed")
        }
        defer { curl_easy_cleanup(h) }
        let exchange = Exchange(upload: request.body)
        let box = Unmanaged.passRetained(exchange)
        defer { box.release() }
        var errbuf = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }

        let result: CURLcode = errbuf.withUnsafeMutableBufferPointer { eb -> CURLcode in
            var rc = CURLE_OK
            func set(_ code: CURLcode) { if rc == CURLE_OK { rc = code } }
            set(fs_curl_setopt_str(h, CURLOPT_URL, request.url.absoluteString))
            set(fs_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1))
            set(fs_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1))
            set(fs_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2))
            if let ca = settings.caBundle { set(fs_curl_setopt_str(h, CURLOPT_CAINFO, ca)) }
            set(fs_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeout * 1000)))
            set(fs_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(settings.totalTimeout * 1000)))
            set(fs_curl_setopt_str(h, CURLOPT_PROXY, settings.proxy(for: request.url) ?? ""))
            set(fs_curl_setopt_ptr(h, CURLOPT_ERRORBUFFER, eb.baseAddress))
            // Let the server's encoding through untouched; AWS signs what we send, not what curl adds.
            set(fs_curl_setopt_str(h, CURLOPT_ACCEPT_ENCODING, nil))
            switch request.method {
            case "GET": set(fs_curl_setopt_long(h, CURLOPT_HTTPGET, 1))
            case "HEAD": set(fs_curl_setopt_long(h, CURLOPT_NOBODY, 1))
            default: set(fs_curl_setopt_str(h, CURLOPT_CUSTOMREQUEST, request.method))
            }
            if request.method != "GET" && request.method != "HEAD" {
                set(fs_curl_setopt_long(h, CURLOPT_UPLOAD, 1))
                set(fs_curl_setopt_off(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.count)))
                set(fs_curl_setopt_read(h, { ptr, size, nmemb, user in
                    let ex = Unmanaged<Exchange>.fromOpaque(user!).takeUnretainedValue()
                    let n = min(size * nmemb, ex.upload.count - ex.uploadOffset)
                    if n > 0 {
                        ex.upload.withUnsafeBytes { raw in
                            let src = raw.baseAddress!.advanced(by: ex.uploadOffset)
                            ptr!.withMemoryRebound(to: UInt8.self, capacity: n) { dst in
                                dst.update(from: src.assumingMemoryBound(to: UInt8.self), count: n)
                            }
                        }
                        ex.uploadOffset += n
                    }
                    return n
                }, box.toOpaque()))
            }
            var headers = request.headers
            // curl adds these on its own unless told not to; AWS signatures must see exactly ours.
            if request.header("Expect") == nil { headers.append(("Expect", "")) }
            if request.header("Content-Type") == nil && request.method != "GET" { headers.append(("Content-Type", "")) }
            if request.header("Accept") == nil { headers.append(("Accept", "*/*")) }
            for (name, value) in headers {
                let line = value.isEmpty ? "\(name):" : "\(name): \(value)"
                list = curl_slist_append(list, line)
            }
            set(fs_curl_setopt_ptr(h, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list)))
            set(fs_curl_setopt_write(h, { ptr, size, nmemb, user in
                let n = size * nmemb
                let ex = Unmanaged<Exchange>.fromOpaque(user!).takeUnretainedValue()
                ptr!.withMemoryRebound(to: UInt8.self, capacity: n) { ex.body.append($0, count: n) }
                return n
            }, box.toOpaque()))
            set(fs_curl_setopt_header(h, { ptr, size, nmemb, user in
                let n = size * nmemb
                let ex = Unmanaged<Exchange>.fromOpaque(user!).takeUnretainedValue()
                let line = ptr!.withMemoryRebound(to: UInt8.self, capacity: n) {
                    String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
                }
                ex.headerLines.append(line)
                return n
            }, box.toOpaque()))
            if rc != CURLE_OK { return rc }
            return curl_easy_perform(h)
        }
        guard result == CURLE_OK else {
            let detail = String(cString: errbuf).isEmpty ? String(cString: curl_easy_strerror(result)) : String(cString: errbuf)
            throw TransportError(kind: kind(of: result), host: hostPort(request.url), detail: detail)
        }
        var status = 0
        fs_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: parseHeaders(exchange.headerLines), body: exchange.body)
    }

    static func hostPort(_ url: URL) -> String {
        guard let host = url.host else { return url.absoluteString }
        return url.port.map { "\(host):\($0)" } ?? host
    }

    /// Keeps the headers of the last response only (a proxy CONNECT or 100-continue comes first).
    static func parseHeaders(_ lines: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for line in lines {
            if line.hasPrefix("HTTP/") { out = [:]; continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            out[name] = value
        }
        return out
    }

    static func kind(of code: CURLcode) -> TransportError.Kind {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST: return .dns
        case CURLE_COULDNT_RESOLVE_PROXY, CURLE_PROXY: return .proxy
        case CURLE_COULDNT_CONNECT: return .connectionRefused
        case CURLE_OPERATION_TIMEDOUT: return .timeout
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE: return .connectionReset
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CACERT_BADFILE,
             CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return .tls
        case CURLE_ABORTED_BY_CALLBACK: return .cancelled
        default: return .other
        }
    }
}
