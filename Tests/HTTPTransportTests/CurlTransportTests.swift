import FairflowTestSupport
import Foundation
@testable import HTTPTransport
import XCTest

final class CurlTransportTests: XCTestCase {
    func testGetPostHeadersAndBody() async throws {
        let server = try StubHTTPServer { req in
            .init(status: 201, headers: ["X-Echo": req.headers["x-test"] ?? "", "Content-Type": "text/plain"],
                  body: "\(req.method) \(req.path) \(String(decoding: req.body, as: UTF8.self))")
        }
        defer { server.stop() }
        let c = CurlHTTPClient()
        let r = try await c.send(HTTPRequest(method: "POST", url: URL(string: "\(server.url)/a?b=1")!,
                                             headers: [("X-Test", "yes")], body: Data("payload".utf8)))
        XCTAssertEqual(r.status, 201)
        XCTAssertEqual(r.header("x-echo"), "yes")
        XCTAssertEqual(r.text, "POST /a?b=1 payload")
        // curl adds no Expect or form Content-Type of its own: what we sign is what goes out.
        XCTAssertNil(server.requests[0].headers["expect"])
        XCTAssertNil(server.requests[0].headers["content-type"])
        let g = try await c.send(HTTPRequest(method: "GET", url: URL(string: server.url)!))
        XCTAssertEqual(g.text, "GET / ")
    }

    func testConnectionRefusedNamesTheHost() async throws {
        do {
            _ = try await CurlHTTPClient().send(HTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:1/")!))
            XCTFail()
        } catch let e as TransportError {
            XCTAssertEqual(e.kind, .connectionRefused)
            XCTAssertEqual(e.host, "127.0.0.1:1")
            XCTAssertTrue(e.isTransient)
        }
    }

    func testTotalTimeout() async throws {
        let server = try StubHTTPServer { _ in Thread.sleep(forTimeInterval: 2); return .init() }
        defer { server.stop() }
        var s = HTTPSettings(environment: [:])
        s.totalTimeout = 0.5
        do {
            _ = try await CurlHTTPClient(settings: s).send(HTTPRequest(method: "GET", url: URL(string: server.url)!))
            XCTFail()
        } catch let e as TransportError {
            XCTAssertEqual(e.kind, .timeout)
        }
    }

    func testUnknownHostIsDNSError() async throws {
        do {
            _ = try await CurlHTTPClient().send(HTTPRequest(method: "GET", url: URL(string: "http://no-such-host.invalid/")!))
            XCTFail()
        } catch let e as TransportError {
            XCTAssertEqual(e.kind, .dns)
            XCTAssertEqual(e.host, "no-such-host.invalid")
        }
    }

    /// A TLS server on loopback with a self-signed certificate: refused by default, trusted with AWS_CA_BUNDLE.
    func testTLSIsVerifiedAndCABundleHonoured() async throws {
        let openssl = try requireTool("openssl")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ff-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = dir.appendingPathComponent("key.pem").path, cert = dir.appendingPathComponent("cert.pem").path
        let gen = try runProcess(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                           "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                                           "-addext", "subjectAltName=IP:127.0.0.1"])
        XCTAssertEqual(gen.status, 0, gen.stderr)
        let port = try freePort()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: openssl)
        p.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-key", key, "-cert", cert, "-www", "-quiet"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { p.terminate() }
        let url = URL(string: "https://127.0.0.1:\(port)/")!
        var ready = false
        for _ in 0..<50 {
            do { _ = try await CurlHTTPClient(settings: HTTPSettings(environment: ["AWS_CA_BUNDLE": cert])).send(HTTPRequest(method: "GET", url: url)); ready = true; break }
            catch { try await Task.sleep(nanoseconds: 100_000_000) }
        }
        XCTAssertTrue(ready, "with AWS_CA_BUNDLE naming the server's certificate the request succeeds")
        do {
            _ = try await CurlHTTPClient(settings: HTTPSettings(environment: [:])).send(HTTPRequest(method: "GET", url: url))
            XCTFail("a self-signed certificate must be refused")
        } catch let e as TransportError {
            XCTAssertEqual(e.kind, .tls)
        }
    }

    func testProxySelectionFollowsTheEnvironment() {
        let s = HTTPSettings(environment: ["HTTPS_PROXY": "http://proxy:3128", "http_proxy": "http://p2:8080",
                                           "NO_PROXY": "localhost,.internal.example,127.0.0.1"])
        XCTAssertEqual(s.proxy(for: URL(string: "https://sts.amazonaws.com")!), "http://proxy:3128")
        XCTAssertEqual(s.proxy(for: URL(string: "http://example.com")!), "http://p2:8080")
        XCTAssertNil(s.proxy(for: URL(string: "https://a.internal.example")!))
        XCTAssertNil(s.proxy(for: URL(string: "http://127.0.0.1:5000")!))
        XCTAssertNil(HTTPSettings(environment: [:]).proxy(for: URL(string: "https://x")!))
    }

    func testRequestsGoThroughTheProxy() async throws {
        let proxy = try StubHTTPServer { req in .init(body: "via proxy \(req.path)") }
        defer { proxy.stop() }
        let r = try await CurlHTTPClient(settings: HTTPSettings(environment: ["http_proxy": proxy.url]))
            .send(HTTPRequest(method: "GET", url: URL(string: "http://upstream.example/x")!))
        XCTAssertEqual(r.text, "via proxy http://upstream.example/x")
    }

    func freePort() throws -> Int {
        let s = try StubHTTPServer { _ in .init() }
        let p = s.port
        s.stop()
        return p
    }
}
