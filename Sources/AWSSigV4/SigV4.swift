import Crypto
import Foundation

public struct SigningCredentials: Sendable, Equatable {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// The request as the signer sees it: the path and query exactly as they go on the wire.
public struct SignableRequest: Sendable {
    public var method: String
    /// The path as written on the request line (percent-encoded for real requests).
    public var path: String
    /// The raw query string without `?` (may be empty).
    public var query: String
    public var headers: [(name: String, value: String)]
    public var body: Data

    public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)], body: Data = Data()) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }
}

/// The knobs that differ between services: S3 signs its path as sent and its body hash as a header;
/// every other service normalizes and encodes its path once more.
public struct SigningOptions: Sendable {
    public var region: String
    public var service: String
    public var date: Date
    public var normalizePath: Bool = true
    /// Percent-encode the wire path once more (all services but S3).
    public var encodePath: Bool = true
    /// Add `x-amz-content-sha256` (S3; the conformance suite's `sign_body`).
    public var signBody: Bool = false
    /// Leave the session token out of the signature and add it afterwards (the suite's `omit_session_token`).
    public var omitSessionToken: Bool = false
    /// Presigned URLs only.
    public var expires: Int = 3600

    public init(region: String, service: String, date: Date) {
        self.region = region
        self.service = service
        self.date = date
    }
}

/// Every intermediate product of one signature, so each stage can be checked on its own.
public struct SigningResult: Sendable {
    public var canonicalRequest: String
    public var stringToSign: String
    public var signature: String
    /// Headers to add to the request (header form), or query items to append (query form).
    public var headersToAdd: [(name: String, value: String)]
    /// The query string to send (query form: includes the signature).
    public var query: String
    public var authorization: String?
}

public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"

    // MARK: header form

    public static func signHeaders(_ request: SignableRequest, credentials: SigningCredentials, options: SigningOptions) -> SigningResult {
        let amzDate = timestamp(options.date)
        let scope = credentialScope(options)
        let payloadHash = hexSHA256(request.body)
        var headers = request.headers
        headers.append(("X-Amz-Date", amzDate))
        if let token = credentials.sessionToken, !options.omitSessionToken {
            headers.append(("X-Amz-Security-Token", token))
        }
        if options.signBody { headers.append(("X-Amz-Content-Sha256", payloadHash)) }
        let (canonicalHeaders, signedHeaders) = canonicalize(headers: headers)
        let canonical = [
            request.method,
            canonicalPath(request.path, options: options),
            canonicalQuery(parseQuery(request.query)),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let sts = stringToSign(canonical, amzDate: amzDate, scope: scope)
        let sig = signature(sts, secret: credentials.secretAccessKey, options: options)
        let auth = "\(algorithm) Credential=\(credentials.accessKeyId)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(sig)"
        var add: [(name: String, value: String)] = [("X-Amz-Date", amzDate)]
        if options.signBody { add.append(("X-Amz-Content-Sha256", payloadHash)) }
        if let token = credentials.sessionToken { add.append(("X-Amz-Security-Token", token)) }
        add.append(("Authorization", auth))
        return SigningResult(canonicalRequest: canonical, stringToSign: sts, signature: sig,
                             headersToAdd: add, query: request.query, authorization: auth)
    }

    // MARK: query (presigned) form

    public static func presign(_ request: SignableRequest, credentials: SigningCredentials, options: SigningOptions) -> SigningResult {
        let amzDate = timestamp(options.date)
        let scope = credentialScope(options)
        let (canonicalHeaders, signedHeaders) = canonicalize(headers: request.headers)
        var items = parseQuery(request.query)
        items.append(("X-Amz-Algorithm", algorithm))
        items.append(("X-Amz-Credential", "\(credentials.accessKeyId)/\(scope)"))
        items.append(("X-Amz-Date", amzDate))
        items.append(("X-Amz-Expires", String(options.expires)))
        if let token = credentials.sessionToken, !options.omitSessionToken {
            items.append(("X-Amz-Security-Token", token))
        }
        items.append(("X-Amz-SignedHeaders", signedHeaders))
        let query = canonicalQuery(items)
        let canonical = [
            request.method,
            canonicalPath(request.path, options: options),
            query,
            canonicalHeaders,
            signedHeaders,
            hexSHA256(request.body),
        ].joined(separator: "\n")
        let sts = stringToSign(canonical, amzDate: amzDate, scope: scope)
        let sig = signature(sts, secret: credentials.secretAccessKey, options: options)
        var finalQuery = query + "&X-Amz-Signature=\(sig)"
        if let token = credentials.sessionToken, options.omitSessionToken {
            finalQuery += "&X-Amz-Security-Token=\(uriEncode(token))"
        }
        return SigningResult(canonicalRequest: canonical, stringToSign: sts, signature: sig,
                             headersToAdd: [], query: finalQuery, authorization: nil)
    }

    // MARK: stages

    public static func stringToSign(_ canonicalRequest: String, amzDate: String, scope: String) -> String {
        [algorithm, amzDate, scope, hexSHA256(Data(canonicalRequest.utf8))].joined(separator: "\n")
    }

    public static func signingKey(secret: String, date: String, region: String, service: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    static func signature(_ sts: String, secret: String, options: SigningOptions) -> String {
        let key = signingKey(secret: secret, date: String(timestamp(options.date).prefix(8)),
                             region: options.region, service: options.service)
        return hex(HMAC<SHA256>.authenticationCode(for: Data(sts.utf8), using: key))
    }

    static func credentialScope(_ o: SigningOptions) -> String {
        "\(timestamp(o.date).prefix(8))/\(o.region)/\(o.service)/aws4_request"
    }

    public static func timestamp(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: date)
    }

    /// Lower-case names, trimmed values with inner runs of spaces collapsed, duplicates joined by commas.
    static func canonicalize(headers: [(name: String, value: String)]) -> (String, String) {
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            merged[name.lowercased(), default: []].append(normalizeValue(value))
        }
        let names = merged.keys.sorted()
        let lines = names.map { "\($0):\(merged[$0]!.joined(separator: ","))" }
        return (lines.joined(separator: "\n") + "\n", names.joined(separator: ";"))
    }

    static func normalizeValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
            .joined(separator: " ")
    }

    static func canonicalPath(_ path: String, options: SigningOptions) -> String {
        var p = path.isEmpty ? "/" : path
        if options.normalizePath { p = normalize(p) }
        return options.encodePath ? uriEncode(p, keepSlash: true) : p
    }

    /// RFC 3986 dot-segment removal plus collapsing of empty segments, as the SDKs do.
    static func normalize(_ path: String) -> String {
        var out: [Substring] = []
        for seg in path.split(separator: "/", omittingEmptySubsequences: true) {
            if seg == "." { continue }
            if seg == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(seg)
        }
        var result = "/" + out.joined(separator: "/")
        if path.hasSuffix("/") && result != "/" { result += "/" }
        return result
    }

    /// Splits a raw query into decoded pairs (`+` is a literal plus, as AWS reads it).
    public static func parseQuery(_ query: String) -> [(String, String)] {
        guard !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let eq = pair.firstIndex(of: "=") {
                return (percentDecode(String(pair[..<eq])), percentDecode(String(pair[pair.index(after: eq)...])))
            }
            return (percentDecode(String(pair)), "")
        }
    }

    static func canonicalQuery(_ items: [(String, String)]) -> String {
        let encoded: [(key: String, value: String)] = items.map { (uriEncode($0.0), uriEncode($0.1)) }
        let sorted = encoded.sorted { a, b in a.key == b.key ? a.value < b.value : a.key < b.key }
        return sorted.map { pair -> String in pair.key + "=" + pair.value }.joined(separator: "&")
    }

    /// AWS's URI encoding: every byte but the unreserved set is `%XX` (upper-case hex).
    public static func uriEncode(_ s: String, keepSlash: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    public static func percentDecode(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%"), it.count >= 2,
               let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func hexSHA256(_ data: Data) -> String { hex(SHA256.hash(data: data)) }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
