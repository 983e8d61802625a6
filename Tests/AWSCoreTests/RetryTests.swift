@testable import AWSCore
import AWSServices
import FairflowTestSupport
import Foundation
import HTTPTransport
import XCTest

/// Retries against a scripted server on loopback: the attempts are counted and the idempotency token
/// is the same on every attempt.
final class RetryTests: XCTestCase {
    func client(_ url: String, attempts: Int = 3) throws -> AWSClient {
        var retry = RetryPolicy(maxAttempts: attempts)
        retry.jitter = { $0 / 10 }
        let c = AWSClient(http: CurlHTTPClient(), region: try Region(validating: "us-east-1"),
                          endpoints: EndpointResolver(override: URL(string: url), environment: [:]),
                          credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: "AKID", secretAccessKey: "s", source: "test")),
                          retry: retry)
        return c
    }

    final class Counter: @unchecked Sendable {
        let lock = NSLock()
        var n = 0
        func next() -> Int { lock.withLock { n += 1; return n } }
    }

    func tokens(_ s: StubHTTPServer) -> [String] {
        s.requests.compactMap { (try? JSONSerialization.jsonObject(with: $0.body)) as? [String: Any] }.compactMap { $0["ClientRequestToken"] as? String }
    }

    func testThrottlingThen503ThenSuccessReusesTheToken() async throws {
        let count = Counter()
        let server = try StubHTTPServer { _ in
            switch count.next() {
            case 1: return .init(status: 400, body: #"{"__type":"ThrottlingException","message":"Rate exceeded"}"#)
            case 2: return .init(status: 503, body: "")
            default: return .init(body: #"{"ARN":"arn:aws:secretsmanager:us-east-1:1:secret:airflow-x-abc","Name":"airflow-x"}"#)
            }
        }
        defer { server.stop() }
        let arn = try await SecretsManager(try client(server.url)).create(name: "airflow-x", value: "v")
        XCTAssertEqual(arn, "arn:aws:secretsmanager:us-east-1:1:secret:airflow-x-abc")
        XCTAssertEqual(server.requests.count, 3)
        let toks = tokens(server)
        XCTAssertEqual(toks.count, 3)
        XCTAssertEqual(Set(toks).count, 1, "the same ClientRequestToken on every attempt")
        // Each attempt is signed anew.
        XCTAssertEqual(server.requests.compactMap { $0.headers["authorization"] }.count, 3)
    }

    func testDroppedConnectionIsRetried() async throws {
        let count = Counter()
        let server = try StubHTTPServer { _ in
            count.next() == 1 ? .drop : .init(body: "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>1</Account><Arn>a</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>")
        }
        defer { server.stop() }
        let id = try await STS(try client(server.url)).callerIdentity()
        XCTAssertEqual(id.account, "1")
        XCTAssertEqual(server.requests.count, 2)
    }

    func testRetryAfterIsHonoured() async throws {
        let count = Counter()
        let server = try StubHTTPServer { _ in
            count.next() == 1 ? .init(status: 503, headers: ["Retry-After": "1"]) :
                .init(body: "<R><GetCallerIdentityResult><Account>1</Account><Arn>a</Arn></GetCallerIdentityResult></R>")
        }
        defer { server.stop() }
        let start = Date()
        _ = try await STS(try client(server.url)).callerIdentity()
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.9)
    }

    func testExhaustedRetriesSayHowManyAndNonRetryableErrorsAreNotRetried() async throws {
        let server = try StubHTTPServer { req in
            req.path == "/" && String(decoding: req.body, as: UTF8.self).contains("GetCallerIdentity")
                ? .init(status: 500, headers: ["Content-Type": "text/html"], body: "<html>boom</html>")
                : .init(status: 400, body: #"{"__type":"ResourceNotFoundException","message":"no"}"#)
        }
        defer { server.stop() }
        do {
            _ = try await STS(try client(server.url, attempts: 4)).callerIdentity()
            XCTFail()
        } catch let e as RetriesExhausted {
            XCTAssertEqual(e.attempts, 4)
            XCTAssertTrue(e.description.contains("gave up after 4 attempts"))
            XCTAssertEqual((e.last as? AWSError)?.code, "UnexpectedResponse")
        }
        XCTAssertEqual(server.requests.count, 4)
        do {
            _ = try await SecretsManager(try client(server.url)).describe("x")
            XCTFail()
        } catch SecretsManagerError.notFound {}
        XCTAssertEqual(server.requests.count, 5, "a not-found is not retried")
    }
}
