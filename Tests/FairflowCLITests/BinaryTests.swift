import FairflowTestSupport
import Foundation
import XCTest

/// The built binary run as a user would: stdout, stderr and exit code, without a TTY.
final class BinaryTests: XCTestCase {
    nonisolated(unsafe) static var local: LocalAWS?

    override class func setUp() {
        super.setUp()
        local = try? LocalAWS()
    }

    override class func tearDown() {
        local?.stop()
        super.tearDown()
    }

    func env() throws -> [String: String] {
        guard let l = Self.local else { throw XCTSkip("local AWS did not start") }
        return l.environment
    }

    func testWhoamiTextAndJSON() throws {
        let l = Self.local!
        var e = try env()
        e.removeValue(forKey: "AWS_ENDPOINT_URL")
        let text = try fairflow(["whoami", "--endpoint-url", l.endpoint], environment: e)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("account\t123456789012"), text.stdout)
        XCTAssertTrue(text.stdout.contains("endpoint\t\(l.endpoint)"))
        XCTAssertFalse(text.stdout.contains("\u{1B}["), "no ANSI on a pipe")
        XCTAssertEqual(text.stderr, "")
        let json = try fairflow(["whoami", "--endpoint-url", l.endpoint, "--output", "json"], environment: e)
        XCTAssertEqual(json.status, 0)
        let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        let oracle = try awsCLI(["sts", "get-caller-identity"], environment: try env()) as! [String: Any]
        XCTAssertEqual(obj["account"] as? String, oracle["Account"] as? String)
        XCTAssertEqual(obj["arn"] as? String, oracle["Arn"] as? String)
        XCTAssertEqual(obj["region"] as? String, "us-east-1")
        XCTAssertEqual(obj["credentialSource"] as? String, "environment")
        XCTAssertFalse(json.stdout.contains(l.secretAccessKey), "the secret key is never printed")
    }

    func testWrongSecretExits4() throws {
        var e = try env()
        e["AWS_SECRET_ACCESS_KEY"] = "wrong"
        let r = try fairflow(["whoami"], environment: e)
        XCTAssertEqual(r.status, 4)
        XCTAssertTrue(r.stderr.contains("SignatureDoesNotMatch"), r.stderr)
        XCTAssertEqual(r.stdout, "")
    }

    func testNoCredentialsExits4NamingTheFixes() throws {
        var e = try env()
        e.removeValue(forKey: "AWS_ACCESS_KEY_ID")
        e.removeValue(forKey: "AWS_SECRET_ACCESS_KEY")
        e["HOME"] = "/nonexistent-home"
        let r = try fairflow(["whoami"], environment: e)
        XCTAssertEqual(r.status, 4)
        XCTAssertTrue(r.stderr.contains("no AWS credentials found"))
        XCTAssertTrue(r.stderr.contains("aws configure"))
    }

    func testUnknownRegionExits64() throws {
        let r = try fairflow(["whoami", "--region", "us-eats-1"], environment: try env())
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("unknown region 'us-eats-1'"), r.stderr)
        XCTAssertTrue(r.stderr.contains("us-east-1"))
        var e = try env()
        e["AWS_REGION"] = "moon-1"
        let fromEnv = try fairflow(["whoami"], environment: e)
        XCTAssertEqual(fromEnv.status, 64)
        XCTAssertTrue(fromEnv.stderr.contains("from AWS_REGION"), fromEnv.stderr)
    }

    func testUnreachableEndpointExits1() throws {
        var e = try env()
        e["AWS_MAX_ATTEMPTS"] = "2"
        let r = try fairflow(["whoami", "--endpoint-url", "http://127.0.0.1:1"], environment: e)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("connection refused for 127.0.0.1:1"), r.stderr)
        XCTAssertTrue(r.stderr.contains("after 2 attempts"), r.stderr)
    }

    func testMalformedEnvFileExits64WithLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ff-bad-\(UUID().uuidString).env").path
        FileManager.default.createFile(atPath: path, contents: Data("DAG_REPOSITORY=x\nnot a pair\n".utf8))
        let r = try fairflow(["doctor", "--env", path], environment: try env())
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("\(path):line 2"), r.stderr)
        let missing = try fairflow(["doctor", "--env", "/nonexistent/envs/us-east-1.env"], environment: try env())
        XCTAssertEqual(missing.status, 64)
        XCTAssertTrue(missing.stderr.contains("file not found"))
    }

    func testDoctorChecksTheEnvFileSecrets() throws {
        let e = try env()
        let created = try awsCLI(["secretsmanager", "create-secret", "--name", "airflow-fernet-key-doc", "--secret-string", "k"], environment: e) as! [String: Any]
        let arn = created["ARN"] as! String
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ff-doc-\(UUID().uuidString).env").path
        FileManager.default.createFile(atPath: path, contents: Data("""
        AIRFLOW_FERNET_KEY_SECRET_ARN=\(arn)
        AIRFLOW_ADMIN_PASSWORD_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-admin-password-zzzzzz
        AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN=not-an-arn
        GIT_READ_ONLY_SECRET_ARN= # public repo

        """.utf8))
        let r = try fairflow(["doctor", "--env", path, "--output", "json"], environment: e)
        XCTAssertEqual(r.status, 3, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let checks = obj["checks"] as! [[String: Any]]
        func status(_ name: String) -> String? { checks.first { $0["name"] as? String == name }?["status"] as? String }
        XCTAssertEqual(status("AIRFLOW_FERNET_KEY_SECRET_ARN"), "ok")
        XCTAssertEqual(status("AIRFLOW_ADMIN_PASSWORD_SECRET_ARN"), "fail")
        XCTAssertEqual(status("AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN"), "fail")
        XCTAssertNil(status("GIT_READ_ONLY_SECRET_ARN"), "an optional blank key is not checked")
        XCTAssertEqual(status("credentials"), "ok")
        XCTAssertEqual(status("Elastic IP headroom"), "ok")
        XCTAssertEqual(obj["ok"] as? Bool, false)
        XCTAssertFalse(r.stdout.contains("\"k\""), "secret values are never printed")
        let text = try fairflow(["doctor", "--env", path], environment: e)
        XCTAssertEqual(text.status, 3)
        XCTAssertTrue(text.stdout.contains("FAIL\tAIRFLOW_ADMIN_PASSWORD_SECRET_ARN"), text.stdout)
    }

    func testUsageErrorExits64() throws {
        let r = try fairflow(["whoami", "--output", "yaml"], environment: try env())
        XCTAssertEqual(r.status, 64)
        let unknown = try fairflow(["no-such-command"], environment: try env())
        XCTAssertEqual(unknown.status, 64)
    }
}
