import AWSSigV4
import Foundation
import XCTest

/// The public SigV4 conformance suite (aws-c-auth's v4 cases), every case, both forms, each stage.
final class SigningSuiteTests: XCTestCase {
    struct Context: Decodable {
        struct Creds: Decodable {
            let access_key_id: String
            let secret_access_key: String
            let token: String?
        }
        let credentials: Creds
        let expiration_in_seconds: Int?
        let normalize: Bool
        let region: String
        let service: String
        let sign_body: Bool
        let timestamp: String
        let omit_session_token: Bool?
    }

    static var suiteDir: URL {
        if let env = ProcessInfo.processInfo.environment["FAIRFLOW_SIGV4_SUITE"] { return URL(fileURLWithPath: env) }
        // Tests/AWSSigV4Tests/ -> repo -> ../shared/testdata
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared/testdata/aws-signing-test-suite/v4")
    }

    /// Parses request.txt: request line, headers (with folded continuation lines), blank line, body.
    static func parseRequest(_ text: String) -> SignableRequest {
        var lines = text.components(separatedBy: "\n")
        let requestLine = lines.removeFirst()
        let method = String(requestLine.prefix { $0 != " " })
        let rest = requestLine.dropFirst(method.count + 1)
        guard let httpRange = rest.range(of: " HTTP/", options: .backwards) else { fatalError("bad request line") }
        let target = String(rest[..<httpRange.lowerBound])
        let path: String
        let query: String
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            query = String(target[target.index(after: q)...])
        } else {
            path = target
            query = ""
        }
        var headers: [(name: String, value: String)] = []
        var bodyLines: [String] = []
        var inBody = false
        for line in lines {
            if inBody { bodyLines.append(line); continue }
            if line.isEmpty { inBody = true; continue }
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
                continue
            }
            let colon = line.firstIndex(of: ":")!
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        return SignableRequest(method: method, path: path, query: query, headers: headers,
                               body: Data(bodyLines.joined(separator: "\n").utf8))
    }

    func cases() throws -> [URL] {
        let dirs = try FileManager.default.contentsOfDirectory(at: Self.suiteDir, includingPropertiesForKeys: nil)
            .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("context.json").path) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        return dirs
    }

    func load(_ dir: URL) throws -> (SignableRequest, SigningCredentials, SigningOptions) {
        let ctx = try JSONDecoder().decode(Context.self, from: Data(contentsOf: dir.appendingPathComponent("context.json")))
        let req = Self.parseRequest(try String(contentsOf: dir.appendingPathComponent("request.txt"), encoding: .utf8))
        let creds = SigningCredentials(accessKeyId: ctx.credentials.access_key_id,
                                       secretAccessKey: ctx.credentials.secret_access_key,
                                       sessionToken: ctx.credentials.token)
        let date = ISO8601DateFormatter().date(from: ctx.timestamp)!
        var opts = SigningOptions(region: ctx.region, service: ctx.service, date: date)
        opts.normalizePath = ctx.normalize
        opts.signBody = ctx.sign_body
        opts.omitSessionToken = ctx.omit_session_token ?? false
        opts.expires = ctx.expiration_in_seconds ?? 3600
        return (req, creds, opts)
    }

    func expected(_ dir: URL, _ name: String) throws -> String {
        try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
    }

    func testEveryCaseHeaderForm() throws {
        let all = try cases()
        XCTAssertEqual(all.count, 38, "the suite has 38 cases")
        var passed = 0
        for dir in all {
            let (req, creds, opts) = try load(dir)
            let r = SigV4.signHeaders(req, credentials: creds, options: opts)
            let name = dir.lastPathComponent
            XCTAssertEqual(r.canonicalRequest, try expected(dir, "header-canonical-request.txt"), "\(name): canonical request")
            XCTAssertEqual(r.stringToSign, try expected(dir, "header-string-to-sign.txt"), "\(name): string to sign")
            XCTAssertEqual(r.signature, try expected(dir, "header-signature.txt"), "\(name): signature")
            if r.canonicalRequest == (try expected(dir, "header-canonical-request.txt")),
               r.stringToSign == (try expected(dir, "header-string-to-sign.txt")),
               r.signature == (try expected(dir, "header-signature.txt")) { passed += 1 }
        }
        print("SigV4 conformance (header form): \(passed)/\(all.count) cases passed at every stage")
    }

    func testEveryCaseQueryForm() throws {
        let all = try cases()
        XCTAssertEqual(all.count, 38)
        var passed = 0
        for dir in all {
            let (req, creds, opts) = try load(dir)
            let r = SigV4.presign(req, credentials: creds, options: opts)
            let name = dir.lastPathComponent
            XCTAssertEqual(r.canonicalRequest, try expected(dir, "query-canonical-request.txt"), "\(name): canonical request")
            XCTAssertEqual(r.stringToSign, try expected(dir, "query-string-to-sign.txt"), "\(name): string to sign")
            XCTAssertEqual(r.signature, try expected(dir, "query-signature.txt"), "\(name): signature")
            if r.canonicalRequest == (try expected(dir, "query-canonical-request.txt")),
               r.stringToSign == (try expected(dir, "query-string-to-sign.txt")),
               r.signature == (try expected(dir, "query-signature.txt")) { passed += 1 }
        }
        print("SigV4 conformance (query form): \(passed)/\(all.count) cases passed at every stage")
    }

    func testSigningKeyMatchesAWSDocumentedExample() {
        // From AWS's "Examples of how to derive a signing key for Signature Version 4".
        let key = SigV4.signingKey(secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date: "20120215",
                                   region: "us-east-1", service: "iam")
        let hex = key.withUnsafeBytes { Data($0) }.map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }
}
