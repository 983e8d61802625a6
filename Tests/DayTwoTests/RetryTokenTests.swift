import FairflowTestSupport
import Foundation
import XCTest

/// Its own local AWS (no stack needed): the secrets must not exist before, whatever other tests did.
final class RetryTokenTests: XCTestCase {
    /// A throttled CreateSecret is retried with the same ClientRequestToken, and makes one secret.
    func testRetriedCreateSecretSendsTheSameTokenAndMakesOneSecret() throws {
        let st: LocalAWS
        do { st = try LocalAWS() } catch {
            if ProcessInfo.processInfo.environment["FAIRFLOW_REQUIRE_PEERS"] == "1" { XCTFail("local AWS: \(error)") }
            throw XCTSkip("local AWS did not start: \(error)")
        }
        defer { st.stop() }
        let proxy = try PeerProcess(Repo.root.appendingPathComponent("scripts/lib/fault-proxy").path, ["--upstream", st.endpoint])
        defer { proxy.stop() }
        let control = try XCTUnwrap(proxy["FAULT_PROXY_ENDPOINT"])
        func call(_ method: String, _ path: String, _ body: String? = nil) throws -> Any {
            let r = try runProcess("/usr/bin/env", ["curl", "-sf", "-X", method, control + path] + (body.map { ["-d", $0] } ?? []))
            XCTAssertEqual(r.status, 0, r.stderr)
            return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
        }
        _ = try call("POST", "/_fault/rules", #"{"operation": "CreateSecret", "kind": "throttle", "count": 2}"#)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ff-retry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = dir.appendingPathComponent("id_ed25519")
        try "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA-test-only\n-----END OPENSSH PRIVATE KEY-----\n".write(to: key, atomically: true, encoding: .utf8)
        var env = st.environment
        env["AWS_ENDPOINT_URL"] = control
        let r = try fairflow(["secrets", "init", "--env", dir.appendingPathComponent("k.env").path, "--deploy-key", key.path, "--output", "json"], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let creates = (try call("GET", "/_fault/requests") as! [[String: Any]]).filter { $0["operation"] as? String == "CreateSecret" }
        // Whichever secret this run had to create first met the throttling: its attempts share one token.
        let attempts = Dictionary(grouping: creates) { $0["client_request_token"] as? String ?? "" }
        XCTAssertFalse(attempts.keys.contains(""), "every CreateSecret carries a ClientRequestToken")
        XCTAssertTrue(attempts.values.contains { $0.map { $0["fault"] as? String ?? "none" } == ["throttle", "throttle", "none"] },
                      "two throttled attempts, then the real one, all with the same token: \(creates)")
        XCTAssertTrue(attempts.values.allSatisfy { $0.filter { $0["fault"] is NSNull || $0["fault"] == nil }.count == 1 }, "one real create per token")
        let listed = (try awsCLI(["secretsmanager", "list-secrets"], environment: st.environment) as! [String: Any])["SecretList"] as! [[String: Any]]
        for name in ["airflow-fernet-key", "airflow-admin-password", "airflow-flower-credentials", "airflow-dag-repo-ro-privatekey"] {
            XCTAssertEqual(listed.filter { $0["Name"] as? String == name }.count, 1, name)
        }
        XCTAssertTrue(try String(contentsOf: dir.appendingPathComponent("k.env"), encoding: .utf8).contains("GIT_READ_ONLY_SECRET_ARN=arn:aws:secretsmanager:"))
        XCTAssertFalse(r.stdout.contains("test-only") || r.stderr.contains("test-only"), "the key is never printed")
    }
}
