import Foundation
import XCTest
import FairflowTestSupport

/// The built `fairflow` binary against the real Airflow 2 and 3 peers and Flower: stdout, stderr, exit codes.
final class DagsCommandTests: XCTestCase {
    func env(_ peer: AirflowPeer, password: String? = nil) -> [String: String] {
        var e = ProcessInfo.processInfo.environment
        e["FAIRFLOW_AIRFLOW_URL"] = peer.url.absoluteString
        e["FAIRFLOW_AIRFLOW_USER"] = peer.user
        e["FAIRFLOW_AIRFLOW_PASSWORD"] = password ?? peer.password
        e["NO_COLOR"] = "1"
        return e
    }

    func testTriggerWaitExitCodes_Airflow2() async throws { try triggerWait(try AirflowPeer.get(2)) }
    func testTriggerWaitExitCodes_Airflow3() async throws { try triggerWait(try AirflowPeer.get(3)) }

    func triggerWait(_ peer: AirflowPeer) throws {
        let e = env(peer)
        let nonce = UUID().uuidString
        let started = Date()
        let ok = try fairflow(["dags", "trigger", "fairflow_ok", "--unpause", "--wait", "--timeout", "2m",
                               "--conf", "{\"nonce\": \"\(nonce)\"}"], environment: e)
        print("[measure] \(peer.label): `fairflow dags trigger fairflow_ok --wait` took \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let fields = ok.stdout.split(separator: "\t")
        XCTAssertEqual(fields.count, 3, ok.stdout)
        XCTAssertEqual(fields.dropFirst().first, "success")
        XCTAssertTrue(ok.stderr.contains("hello: success"), ok.stderr)
        guard let first = fields.first else { return }  // already failed above; the rest needs a run id
        let runId = String(first)

        // The run's logs through the binary show the task's marker line with our conf.
        let logs = try fairflow(["dags", "logs", "fairflow_ok", runId], environment: e)
        XCTAssertEqual(logs.status, 0, logs.stderr)
        XCTAssertTrue(logs.stdout.split(separator: "\n").contains { $0.contains("FAIRFLOW_MARKER hello conf=") && $0.contains(nonce) && !$0.contains("echo") },
                      String(logs.stdout.suffix(1500)))
        let state = try fairflow(["dags", "state", "fairflow_ok", runId, "--output", "json"], environment: e)
        XCTAssertEqual(state.status, 0, state.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any]
        XCTAssertEqual((json?["run"] as? [String: Any])?["state"] as? String, "success")
        XCTAssertEqual(((json?["run"] as? [String: Any])?["conf"] as? [String: Any])?["nonce"] as? String, nonce)

        let failed = try fairflow(["dags", "trigger", "fairflow_fail", "--unpause", "--wait"], environment: e)
        XCTAssertEqual(failed.status, 1, failed.stderr)
        XCTAssertTrue(failed.stdout.contains("\tfailed\t"), failed.stdout)
        XCTAssertTrue(failed.stdout.contains("failed: boom"), failed.stdout)
        XCTAssertTrue(failed.stderr.contains("failed task boom"), failed.stderr)
    }

    func testErrorsExitCodes_Airflow2() async throws { try errorsExitCodes(try AirflowPeer.get(2)) }
    func testErrorsExitCodes_Airflow3() async throws { try errorsExitCodes(try AirflowPeer.get(3)) }

    func errorsExitCodes(_ peer: AirflowPeer) throws {
        let wrong = "wrong-\(UUID().uuidString.prefix(8))"
        let denied = try fairflow(["dags", "list"], environment: env(peer, password: wrong))
        XCTAssertEqual(denied.status, 4, denied.stderr)
        XCTAssertTrue(denied.stderr.contains("refused user '\(peer.user)'"), denied.stderr)
        XCTAssertTrue(denied.stderr.contains("FAIRFLOW_AIRFLOW_PASSWORD"), denied.stderr)
        XCTAssertFalse(denied.stderr.contains(wrong) || denied.stdout.contains(wrong))

        // The password can come on stdin instead.
        var noPassword = env(peer)
        noPassword.removeValue(forKey: "FAIRFLOW_AIRFLOW_PASSWORD")
        let stdin = try fairflow(["dags", "list", "--password-stdin"], environment: noPassword, stdin: peer.password + "\n")
        XCTAssertEqual(stdin.status, 0, stdin.stderr)
        XCTAssertTrue(stdin.stdout.contains("fairflow_ok\t"), stdin.stdout)
        let none = try fairflow(["dags", "list"], environment: noPassword)
        XCTAssertEqual(none.status, 64, none.stderr)

        let unknown = try fairflow(["dags", "trigger", "fairflow_okk"], environment: env(peer))
        XCTAssertEqual(unknown.status, 1, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("did you mean 'fairflow_ok'"), unknown.stderr)

        _ = try fairflow(["dags", "pause", "fairflow_idle_cli"], environment: env(peer))
        let paused = try fairflow(["dags", "trigger", "fairflow_idle_cli"], environment: env(peer))
        XCTAssertEqual(paused.status, 1, paused.stderr)
        XCTAssertTrue(paused.stderr.contains("--unpause"), paused.stderr)

        let clear = try fairflow(["dags", "clear", "fairflow_ok", "whatever"], environment: env(peer))
        XCTAssertEqual(clear.status, 64, clear.stderr)
        XCTAssertTrue(clear.stderr.contains("--yes"), clear.stderr)
    }

    func testListErrorsPauseUnpause_Airflow2() async throws { try listing(try AirflowPeer.get(2)) }
    func testListErrorsPauseUnpause_Airflow3() async throws { try listing(try AirflowPeer.get(3)) }

    func listing(_ peer: AirflowPeer) throws {
        let e = env(peer)
        let unpause = try fairflow(["dags", "unpause", "fairflow_idle_list"], environment: e)
        XCTAssertEqual(unpause.status, 0, unpause.stderr)
        XCTAssertEqual(unpause.stdout, "fairflow_idle_list\tno\n")
        let active = try fairflow(["dags", "list", "--active", "--tag", "idle_list", "--owner", "someone_else"], environment: e)
        XCTAssertEqual(active.status, 0, active.stderr)
        XCTAssertTrue(active.stdout.hasPrefix("fairflow_idle_list\tno\tsomeone_else\t-\t-\tno\n"), active.stdout)
        let pause = try fairflow(["dags", "pause", "fairflow_idle_list"], environment: e)
        XCTAssertEqual(pause.stdout, "fairflow_idle_list\tyes\n")
        let none = try fairflow(["dags", "list", "--active", "--tag", "idle_list"], environment: e)
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertEqual(none.stdout, "", "no results is empty output and exit 0")
        let pausedOnly = try fairflow(["dags", "list", "--paused", "--output", "json"], environment: e)
        let json = try JSONSerialization.jsonObject(with: Data(pausedOnly.stdout.utf8)) as? [String: Any]
        let ids = (json?["dags"] as? [[String: Any]])?.compactMap { $0["dagId"] as? String } ?? []
        XCTAssertTrue(ids.contains("fairflow_idle_list"), pausedOnly.stdout)
        XCTAssertEqual(json?["importErrors"] as? Int, 1)

        let errors = try fairflow(["dags", "errors"], environment: e)
        XCTAssertEqual(errors.status, 0, errors.stderr)
        XCTAssertTrue(errors.stdout.contains("fairflow_broken.py\tModuleNotFoundError: No module named 'fairflow_module_that_does_not_exist'"),
                      errors.stdout)
        let runs = try fairflow(["dags", "runs", "fairflow_ok", "--limit", "1"], environment: e)
        XCTAssertEqual(runs.status, 0, runs.stderr)
        XCTAssertLessThanOrEqual(runs.stdout.split(separator: "\n").count, 1)
    }

    func testFlowerWorkersAndTasks() throws {
        var e = ProcessInfo.processInfo.environment
        e["FAIRFLOW_FLOWER_URL"] = try requirePeer("FAIRFLOW_TEST_FLOWER_URL")
        e["FAIRFLOW_FLOWER_USER"] = try requirePeer("FAIRFLOW_TEST_FLOWER_USER")
        e["FAIRFLOW_FLOWER_PASSWORD"] = try requirePeer("FAIRFLOW_TEST_FLOWER_PASSWORD")
        let workers = try fairflow(["flower", "workers"], environment: e)
        XCTAssertEqual(workers.status, 0, workers.stderr)
        XCTAssertTrue(workers.stdout.hasPrefix("w1@"), workers.stdout)
        XCTAssertTrue(workers.stdout.contains("\tyes\t"), workers.stdout)
        let tasks = try fairflow(["flower", "tasks", "--state", "SUCCESS", "--output", "json"], environment: e)
        XCTAssertEqual(tasks.status, 0, tasks.stderr)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(tasks.stdout.utf8)) as? [String: Any])
        e["FAIRFLOW_FLOWER_PASSWORD"] = "wrong"
        let denied = try fairflow(["flower", "workers"], environment: e)
        XCTAssertEqual(denied.status, 4, denied.stderr)
    }
}
