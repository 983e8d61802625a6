import Foundation
import XCTest
import HTTPTransport
@testable import AirflowAPI

/// An in-process double for the HTTP transport: answers from a closure and records what was sent.
final class ScriptedHTTP: HTTPClient, @unchecked Sendable {
    private let lock = NSLock()
    private var _sent: [HTTPRequest] = []
    let answer: @Sendable (HTTPRequest, Int) throws -> HTTPResponse
    init(_ answer: @escaping @Sendable (HTTPRequest, Int) throws -> HTTPResponse) { self.answer = answer }
    var sent: [HTTPRequest] { lock.lock(); defer { lock.unlock() }; return _sent }
    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let n = lock.withLock { _sent.append(request); return _sent.count }
        return try answer(request, n)
    }
}

func json(_ status: Int, _ text: String) -> HTTPResponse {
    HTTPResponse(status: status, headers: ["content-type": "application/json"], body: Data(text.utf8))
}

func jwt(exp: Double) -> String {
    func b64(_ s: String) -> String {
        Data(s.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }
    return "\(b64("{\"alg\":\"HS512\"}")).\(b64("{\"sub\":\"admin\",\"exp\":\(exp)}")).sig"
}

final class AirflowUnitTests: XCTestCase {
    let base = URL(string: "http://127.0.0.1:9/")!
    let fast = AirflowRetryPolicy(maxAttempts: 3, baseDelay: 0.01, maxDelay: 0.02)

    func testClosestIds() {
        let ids = ["fairflow_ok", "fairflow_fail", "fairflow_idle", "etl_daily", "etl_hourly"]
        XCTAssertEqual(closestIds(to: "fairflow_okk", among: ids).first, "fairflow_ok")
        XCTAssertEqual(closestIds(to: "etl_dialy", among: ids).first, "etl_daily")
        XCTAssertEqual(closestIds(to: "etl", among: ids), ["etl_daily", "etl_hourly"])
        XCTAssertEqual(closestIds(to: "completely_else", among: ids), [])
        XCTAssertEqual(editDistance("kitten", "sitting"), 3)
    }

    func testErrorDetailsOfBothVersions() {
        XCTAssertEqual(RESTCore.detail(of: json(404, #"{"title":"DAG not found","detail":"The DAG with dag_id: x was not found"}"#)),
                       "The DAG with dag_id: x was not found")
        XCTAssertEqual(RESTCore.detail(of: json(403, #"{"title":"Forbidden","status":403,"detail":null}"#)), "Forbidden")
        XCTAssertEqual(RESTCore.detail(of: json(422, #"{"detail":[{"type":"missing","loc":["body","logical_date"],"msg":"Field required"}]}"#)),
                       "body.logical_date: Field required")
        XCTAssertEqual(RESTCore.detail(of: json(409, #"{"detail":{"reason":"Unique constraint violation","message":"Serious error"}}"#)),
                       "Serious error")
        XCTAssertEqual(RESTCore.detail(of: HTTPResponse(status: 404, body: Data("<html>nope</html>".utf8))), "no details")
    }

    func testRunIdsArePercentEncodedInPaths() {
        XCTAssertEqual(RESTCore.segment("manual__2026-11-25T00:59:49.903306+00:00"), "manual__2026-11-25T00%3A59%3A49.903306%2B00%3A00")
        XCTAssertTrue(newRunId().hasPrefix("manual__"))
        XCTAssertNotEqual(newRunId(), newRunId())
    }

    func testJWTExpiryIsRead() {
        XCTAssertEqual(TokenBox.expiry(ofJWT: jwt(exp: 1_800_000_000)), Date(timeIntervalSince1970: 1_800_000_000))
        XCTAssertNil(TokenBox.expiry(ofJWT: "opaque-token"))
    }

    /// An expired token gets 401 "Token Expired": the client logs in again once and repeats the call.
    func testV2RenewsTheTokenAfter401() async throws {
        let http = ScriptedHTTP { req, _ in
            if req.url.path == "/auth/token" {
                let body = String(decoding: req.body, as: UTF8.self)
                XCTAssertTrue(body.contains("\"username\":\"admin\""), body)
                return json(201, "{\"access_token\":\"\(jwt(exp: Date().timeIntervalSince1970 + 86400))\"}")
            }
            return json(200, #"{"dags":[],"total_entries":0}"#)
        }
        let client = AirflowV2Client(baseURL: base, credentials: AirflowCredentials(user: "admin", password: "pw"), http: http, retry: fast)
        _ = try await client.listDags(DagFilter())
        _ = try await client.listDags(DagFilter())
        let loginsAfterTwoCalls = await client.logins
        XCTAssertEqual(loginsAfterTwoCalls, 1, "the token was not reused")

        let expiring = ScriptedHTTP { req, n in
            if req.url.path == "/auth/token" { return json(201, "{\"access_token\":\"\(jwt(exp: Date().timeIntervalSince1970 + 86400))\"}") }
            return n == 2 ? json(401, #"{"detail":"Token Expired"}"#) : json(200, #"{"dags":[],"total_entries":0}"#)
        }
        let renewing = AirflowV2Client(baseURL: base, credentials: AirflowCredentials(user: "admin", password: "pw"), http: expiring, retry: fast)
        let dags = try await renewing.listDags(DagFilter())
        XCTAssertEqual(dags, [])
        let logins = await renewing.logins
        XCTAssertEqual(logins, 2)
        XCTAssertEqual(expiring.sent.map(\.url.path), ["/auth/token", "/api/v2/dags", "/auth/token", "/api/v2/dags"])
        XCTAssertTrue(expiring.sent[1].header("Authorization")?.hasPrefix("Bearer ") ?? false)

        // A token about to expire is renewed before use.
        let nearExpiry = ScriptedHTTP { req, _ in
            if req.url.path == "/auth/token" { return json(201, "{\"access_token\":\"\(jwt(exp: Date().timeIntervalSince1970 + 5))\"}") }
            return json(200, #"{"dags":[],"total_entries":0}"#)
        }
        let short = AirflowV2Client(baseURL: base, credentials: AirflowCredentials(user: "admin", password: "pw"), http: nearExpiry, retry: fast)
        _ = try await short.listDags(DagFilter())
        _ = try await short.listDags(DagFilter())
        let shortLogins = await short.logins
        XCTAssertEqual(shortLogins, 2)
    }

    func testTransientTransportErrorsAreRetriedAndOthersAreNot() async throws {
        let flaky = ScriptedHTTP { _, n in
            if n == 1 { throw TransportError(kind: .connectionReset, host: "127.0.0.1:9", detail: "reset") }
            return json(200, #"{"version":"2.11.2","git_version":""}"#)
        }
        let (version, v2) = try await AirflowAPI.detect(RESTCore(baseURL: base, http: flaky, retry: fast))
        XCTAssertEqual(version, "2.11.2")
        XCTAssertTrue(v2)  // the double answers the first path it is asked, /api/v2/version

        let tls = ScriptedHTTP { _, _ in throw TransportError(kind: .tls, host: "airflow.example", detail: "certificate expired") }
        do {
            _ = try await AirflowAPI.connect(baseURL: base, user: "a", password: "b", http: tls, retry: fast)
            XCTFail("TLS failure ignored")
        } catch let e as AirflowError {
            guard case .transport = e else { return XCTFail("got \(e)") }
            XCTAssertEqual(tls.sent.count, 1, "a TLS failure must not be retried")
        }
    }

    func testNotAirflow() async throws {
        let nginx = ScriptedHTTP { _, _ in HTTPResponse(status: 404, body: Data("<html>Not Found</html>".utf8)) }
        do {
            _ = try await AirflowAPI.connect(baseURL: base, user: "a", password: "b", http: nginx, retry: fast)
            XCTFail("detected Airflow on a plain web server")
        } catch let e as AirflowError {
            XCTAssertEqual(e, .notAirflow(url: "http://127.0.0.1:9",
                                          detail: "/api/v2/version → HTTP 404, /api/v1/version → HTTP 404"))
        }
    }

    func testWaitForRunTimesOutWithTheLastState() async throws {
        let stuck = ScriptedHTTP { req, _ in
            if req.url.path.hasSuffix("/taskInstances") {
                return json(200, #"{"task_instances":[{"task_id":"t","state":null,"try_number":0}]}"#)
            }
            return json(200, #"{"dag_id":"d","dag_run_id":"r","state":"queued"}"#)
        }
        let client = AirflowV1Client(baseURL: base, credentials: AirflowCredentials(user: "a", password: "b"), http: stuck, retry: fast)
        do {
            _ = try await client.waitForRun("d", runId: "r", pollInterval: 0.05, timeout: 0.2)
            XCTFail("wait did not time out")
        } catch let e as AirflowError {
            XCTAssertEqual(e, .waitTimedOut(dagId: "d", runId: "r", lastState: "queued", seconds: 0))
        }
    }
}
