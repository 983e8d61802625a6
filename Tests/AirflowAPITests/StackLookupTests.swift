import Foundation
import XCTest
import FairflowTestSupport

/// Without --airflow-url or a password, fairflow finds Airflow and Flower in the stack's outputs and the
/// credentials in the stack's secrets: the local AWS holds a stack whose outputs point at the real peers.
final class StackLookupTests: XCTestCase {
    func testAirflowAndFlowerFromStackOutputsAndSecrets() throws {
        let peer = try AirflowPeer.get(3)
        let flowerURL = try requirePeer("FAIRFLOW_TEST_FLOWER_URL")
        let flowerUser = try requirePeer("FAIRFLOW_TEST_FLOWER_USER")
        let flowerPassword = try requirePeer("FAIRFLOW_TEST_FLOWER_PASSWORD")
        _ = try requireTool("aws")
        let aws = try LocalAWS()
        defer { aws.stop() }
        var env = aws.environment
        for k in env.keys where k.hasPrefix("FAIRFLOW_AIRFLOW_") || k.hasPrefix("FAIRFLOW_FLOWER_") { env.removeValue(forKey: k) }

        let stack = "FairflowLookup\(UInt32.random(in: 0...UInt32.max))"
        let template = """
        {"Resources": {"Logs": {"Type": "AWS::S3::Bucket"}},
         "Outputs": {"AirflowUrl": {"Value": "\(peer.url.absoluteString)/"}, "FlowerUrl": {"Value": "\(flowerURL)/"}}}
        """
        _ = try awsCLI(["cloudformation", "create-stack", "--stack-name", stack, "--template-body", template], environment: env)
        _ = try awsCLI(["cloudformation", "wait", "stack-create-complete", "--stack-name", stack], environment: env)
        _ = try awsCLI(["secretsmanager", "create-secret", "--name", "airflow-admin-password", "--secret-string", peer.password], environment: env)
        _ = try awsCLI(["secretsmanager", "create-secret", "--name", "airflow-flower-credentials",
                        "--secret-string", "\(flowerUser):\(flowerPassword)"], environment: env)

        let list = try fairflow(["dags", "list", "--stack", stack], environment: env)
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("fairflow_ok\t"), list.stdout)
        let workers = try fairflow(["flower", "workers", "--stack", stack], environment: env)
        XCTAssertEqual(workers.status, 0, workers.stderr)
        XCTAssertTrue(workers.stdout.hasPrefix("w1@"), workers.stdout)

        // The env file names another secret (wrong password): exit 4 naming that secret, never its value.
        let wrong = "wrong-\(UUID().uuidString.prefix(8))"
        let arn = try awsCLI(["secretsmanager", "create-secret", "--name", "stale-admin-password", "--secret-string", wrong],
                             environment: env) as? [String: Any]
        let envFile = FileManager.default.temporaryDirectory.appendingPathComponent("fairflow-lookup-\(UUID().uuidString).env")
        try "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN=\(arn?["ARN"] as? String ?? "")\n".write(to: envFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: envFile) }
        let denied = try fairflow(["dags", "list", "--stack", stack, "--env", envFile.path], environment: env)
        XCTAssertEqual(denied.status, 4, denied.stderr)
        XCTAssertTrue(denied.stderr.contains("airflow-admin-password secret"), denied.stderr)
        XCTAssertFalse(denied.stderr.contains(wrong) || denied.stdout.contains(wrong))

        let missing = try fairflow(["dags", "list", "--stack", "NoSuchStack"], environment: env)
        XCTAssertEqual(missing.status, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("stack 'NoSuchStack' does not exist"), missing.stderr)
        XCTAssertTrue(missing.stderr.contains("--airflow-url"), missing.stderr)
    }
}
