import Foundation
import XCTest
import HTTPTransport
@testable import AirflowAPI

/// The same test bodies against Airflow 2 (/api/v1) and Airflow 3 (/api/v2), both from scripts/lib/airflow-peer.sh.
final class AirflowPeerTests: XCTestCase {
    // MARK: trigger and wait

    func testTriggerWaitSuccessWithConfAndLogs_Airflow2() async throws { try await triggerWaitSuccess(try AirflowPeer.get(2)) }
    func testTriggerWaitSuccessWithConfAndLogs_Airflow3() async throws { try await triggerWaitSuccess(try AirflowPeer.get(3)) }

    func triggerWaitSuccess(_ peer: AirflowPeer) async throws {
        let client = try await peer.connect()
        XCTAssertEqual(client.apiVersion, peer.major == 2 ? .v1 : .v2)
        XCTAssertTrue(client.serverVersion.hasPrefix("\(peer.major)."), client.serverVersion)
        let nonce = UUID().uuidString
        let conf: [String: JSONValue] = ["nonce": .string(nonce), "n": .number(7)]
        let started = Date()
        let (run, _) = try await client.triggerChecked("fairflow_ok", conf: conf, unpause: true)
        let reports = Collected<RunProgress>()
        let outcome = try await client.waitForRun("fairflow_ok", runId: run.runId, pollInterval: 0.5, timeout: 120) {
            reports.append($0)
        }
        let seconds = Date().timeIntervalSince(started)
        print("[measure] \(peer.label): trigger --wait fairflow_ok took \(String(format: "%.1f", seconds)) s")
        XCTAssertTrue(outcome.succeeded, "run ended \(outcome.run.state), tasks \(outcome.tasks.map { "\($0.taskId)=\($0.state ?? "none")" })")
        XCTAssertEqual(outcome.succeededTasks, ["hello"])
        XCTAssertEqual(outcome.failedTasks, [])
        XCTAssertFalse(reports.all.isEmpty)
        XCTAssertEqual(reports.all.last?.run.state, "success")

        // conf reaches the run ...
        let fetched = try await client.run("fairflow_ok", runId: run.runId)
        XCTAssertEqual(fetched.conf?["nonce"], .string(nonce))
        XCTAssertEqual(fetched.state, "success")
        let state = try await client.runState("fairflow_ok", runId: run.runId)
        XCTAssertEqual(state, "success")
        // ... and the task saw it: the log holds the marker line with the conf.
        let task = try XCTUnwrap(outcome.tasks.first)
        let log = try await client.taskLog("fairflow_ok", runId: run.runId, taskId: "hello", tryNumber: task.tryNumber)
        let marker = log.split(separator: "\n").first { $0.contains("FAIRFLOW_MARKER hello conf=") && !$0.contains("echo") }
        XCTAssertNotNil(marker, "no marker line in log:\n\(log.suffix(2000))")
        XCTAssertTrue(marker?.contains(nonce) ?? false, String(marker ?? ""))

        // The run is listed, and filterable by state.
        let runs = try await client.runs("fairflow_ok", limit: 100, state: "success")
        XCTAssertTrue(runs.contains { $0.runId == run.runId }, "\(runs.map(\.runId))")
        XCTAssertTrue(runs.allSatisfy { $0.state == "success" })
        let failedRuns = try await client.runs("fairflow_ok", limit: 100, state: "failed")
        XCTAssertFalse(failedRuns.contains { $0.runId == run.runId })
    }

    func testTriggerWaitFailureNamesTheTask_Airflow2() async throws { try await triggerWaitFailure(try AirflowPeer.get(2)) }
    func testTriggerWaitFailureNamesTheTask_Airflow3() async throws { try await triggerWaitFailure(try AirflowPeer.get(3)) }

    func triggerWaitFailure(_ peer: AirflowPeer) async throws {
        let client = try await peer.connect()
        let started = Date()
        let (run, _) = try await client.triggerChecked("fairflow_fail", unpause: true)
        let outcome = try await client.waitForRun("fairflow_fail", runId: run.runId, pollInterval: 0.5, timeout: 120)
        print("[measure] \(peer.label): trigger --wait fairflow_fail took \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        XCTAssertFalse(outcome.succeeded)
        XCTAssertEqual(outcome.run.state, "failed")
        XCTAssertEqual(outcome.failedTasks, ["boom"])
        XCTAssertEqual(outcome.succeededTasks, ["prepare"])
        let log = try await client.taskLog("fairflow_fail", runId: run.runId, taskId: "boom", tryNumber: 1)
        XCTAssertTrue(log.contains("FAIRFLOW_MARKER about to fail"), String(log.suffix(1500)))

        // Clearing only the failed task puts the run back to work.
        let cleared = try await client.clearRun("fairflow_fail", runId: run.runId, failedOnly: true)
        XCTAssertEqual(cleared, ["boom"])
        let after = try await client.run("fairflow_fail", runId: run.runId)
        XCTAssertNotEqual(after.state, "failed")
    }

    // MARK: DAGs

    func testPauseUnpauseRoundTripAndPausedTriggerRefused_Airflow2() async throws { try await pauseRoundTrip(try AirflowPeer.get(2)) }
    func testPauseUnpauseRoundTripAndPausedTriggerRefused_Airflow3() async throws { try await pauseRoundTrip(try AirflowPeer.get(3)) }

    func pauseRoundTrip(_ peer: AirflowPeer) async throws {
        let client = try await peer.connect()
        let unpaused = try await client.unpause("fairflow_idle")
        XCTAssertFalse(unpaused.isPaused)
        let readUnpaused = try await client.getDag("fairflow_idle")
        XCTAssertFalse(readUnpaused.isPaused)
        let pausedAgain = try await client.pause("fairflow_idle")
        XCTAssertTrue(pausedAgain.isPaused)
        let readPaused = try await client.getDag("fairflow_idle")
        XCTAssertTrue(readPaused.isPaused)
        let paused = try await client.listDags(DagFilter(paused: true)).map(\.dagId)
        XCTAssertTrue(paused.contains("fairflow_idle"), "\(paused)")
        let before = try await client.runs("fairflow_idle", limit: 100, state: nil).count
        do {
            _ = try await client.triggerChecked("fairflow_idle")
            XCTFail("a paused DAG was triggered")
        } catch let e as AirflowError {
            XCTAssertEqual(e, .dagPaused(dagId: "fairflow_idle"))
            XCTAssertTrue(e.description.contains("--unpause"), e.description)
        }
        let after = try await client.runs("fairflow_idle", limit: 100, state: nil).count
        XCTAssertEqual(after, before, "the refused trigger created a run")
    }

    func testListDagsWithFilters_Airflow2() async throws { try await listDags(try AirflowPeer.get(2)) }
    func testListDagsWithFilters_Airflow3() async throws { try await listDags(try AirflowPeer.get(3)) }

    func listDags(_ peer: AirflowPeer) async throws {
        let client = try await peer.connect()
        let all = try await client.listDags(DagFilter())
        XCTAssertEqual(Set(all.map(\.dagId)), ["fairflow_ok", "fairflow_fail", "fairflow_idle", "fairflow_idle_cli", "fairflow_idle_list"])
        let tagged = try await client.listDags(DagFilter(tag: "fail")).map(\.dagId)
        XCTAssertEqual(tagged, ["fairflow_fail"])
        let owned = try await client.listDags(DagFilter(owner: "someone_else")).map(\.dagId)
        XCTAssertEqual(owned, ["fairflow_idle", "fairflow_idle_cli", "fairflow_idle_list"])
        let ok = try XCTUnwrap(all.first { $0.dagId == "fairflow_ok" })
        XCTAssertEqual(ok.owners, ["fairflow"])
        XCTAssertEqual(Set(ok.tags), ["fairflow", "ok"])
        XCTAssertNil(ok.schedule)
    }

    func testImportErrorsListed_Airflow2() async throws { try await importErrors(try AirflowPeer.get(2)) }
    func testImportErrorsListed_Airflow3() async throws { try await importErrors(try AirflowPeer.get(3)) }

    func importErrors(_ peer: AirflowPeer) async throws {
        let client = try await peer.connect()
        let errors = try await client.importErrors()
        let broken = try XCTUnwrap(errors.first { $0.filename.hasSuffix("fairflow_broken.py") }, "\(errors)")
        XCTAssertTrue(broken.message.contains("fairflow_module_that_does_not_exist"), broken.message)
        XCTAssertTrue(broken.message.hasPrefix("ModuleNotFoundError"), broken.message)
    }

    // MARK: errors

    func testWrongPasswordIsAuthFailed_Airflow2() async throws { try await wrongPassword(try AirflowPeer.get(2)) }
    func testWrongPasswordIsAuthFailed_Airflow3() async throws { try await wrongPassword(try AirflowPeer.get(3)) }

    func wrongPassword(_ peer: AirflowPeer) async throws {
        let wrong = "not-the-password-\(UUID().uuidString.prefix(8))"
        let client = try await peer.connect(password: wrong)  // detection needs no credentials
        do {
            _ = try await client.listDags(DagFilter())
            XCTFail("a wrong password was accepted")
        } catch let e as AirflowError {
            guard case .authFailed(_, let user, let source, _) = e else { return XCTFail("got \(e)") }
            XCTAssertEqual(user, peer.user)
            XCTAssertEqual(source, "FAIRFLOW_TEST_AIRFLOW_PASSWORD")
            XCTAssertEqual(e.exitCode, 4)
            XCTAssertFalse(e.description.contains(wrong), "the password leaked into: \(e.description)")
            XCTAssertFalse(e.description.contains(peer.password))
        }
    }

    func testUnknownDagSuggestsClosestIds_Airflow2() async throws { try await unknownDag(try AirflowPeer.get(2)) }
    func testUnknownDagSuggestsClosestIds_Airflow3() async throws { try await unknownDag(try AirflowPeer.get(3)) }

    func unknownDag(_ peer: AirflowPeer) async throws {
        let client = try await peer.connect()
        for call in ["get", "trigger"] {
            do {
                if call == "get" { _ = try await client.getDag("fairflow_okk") } else { _ = try await client.trigger("fairflow_okk") }
                XCTFail("\(call) of an unknown DAG succeeded")
            } catch let e as AirflowError {
                guard case .dagNotFound(let id, let suggestions) = e else { return XCTFail("\(call): got \(e)") }
                XCTAssertEqual(id, "fairflow_okk")
                XCTAssertEqual(suggestions.first, "fairflow_ok", "\(suggestions)")
                XCTAssertTrue(e.description.contains("did you mean 'fairflow_ok'"), e.description)
                XCTAssertEqual(e.exitCode, 1)
            }
        }
        do {
            _ = try await client.run("fairflow_ok", runId: "no_such_run")
            XCTFail("unknown run found")
        } catch let e as AirflowError {
            XCTAssertEqual(e, .runNotFound(dagId: "fairflow_ok", runId: "no_such_run"))
        }
    }

    // MARK: a gateway answering 503 while Airflow starts

    func testServiceUnavailableTwiceThenSuccess_Airflow2() async throws { try await flakyGateway(try AirflowPeer.get(2)) }
    func testServiceUnavailableTwiceThenSuccess_Airflow3() async throws { try await flakyGateway(try AirflowPeer.get(3)) }

    func flakyGateway(_ peer: AirflowPeer) async throws {
        let proxy = try FaultProxy(upstream: peer.url, failFirst: 2, status: 503)
        defer { proxy.stop() }
        let retry = AirflowRetryPolicy(maxAttempts: 4, baseDelay: 0.1, maxDelay: 1)
        let client = try await peer.connect(url: proxy.url, retry: retry)
        XCTAssertEqual(client.apiVersion, peer.major == 2 ? .v1 : .v2)
        let dags = try await client.listDags(DagFilter(tag: "fairflow"))
        XCTAssertEqual(dags.count, 5)
        XCTAssertEqual(proxy.faulted, 2)
        XCTAssertGreaterThan(proxy.forwarded, 1)

        // A gateway that never recovers ends in a clear error after the attempts.
        let dead = try FaultProxy(upstream: peer.url, failFirst: 1000, status: 502)
        defer { dead.stop() }
        do {
            _ = try await peer.connect(url: dead.url, retry: AirflowRetryPolicy(maxAttempts: 3, baseDelay: 0.05, maxDelay: 0.1))
            XCTFail("connected through a dead gateway")
        } catch let e as AirflowError {
            XCTAssertEqual(e, .unavailable(url: dead.url.absoluteString, reason: "HTTP 502", attempts: 3))
            XCTAssertEqual(dead.faulted, 3)
        }
    }
}
