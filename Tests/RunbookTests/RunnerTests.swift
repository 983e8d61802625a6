import FairflowCore
import Foundation
import Runbook
import XCTest

/// The runner in-process over the test operations (no AWS): control flow, retries, journal, resume, lock.
final class RunnerTests: XCTestCase {
    func options(_ dir: URL, _ inputs: [String: String] = [:]) -> RunOptions {
        var o = RunOptions()
        o.directory = dir.path
        o.inputs = inputs
        return o
    }

    func flakyName() -> String { "f-\(UUID().uuidString.prefix(8))" }

    func testOutputsFlowIntoLaterStepsAndJournalHasEveryEvent() async throws {
        let dir = try scratch()
        let rb = try Runbook.load(try write("""
        name: flow
        inputs: { msg: "hello big world", n: 2 }
        steps:
          - id: a
            uses: test.echo
            with: { message: "${{ inputs.msg }}", count: "${{ inputs.n }}" }
          - id: b
            uses: test.echo
            with: { message: "second word is ${{ steps.a.outputs.info.words.1 }}", count: "${{ steps.a.outputs.count }}" }
          - id: skipped
            uses: test.echo
            when: ${{ steps.b.outputs.count == 3 }}
            with: { message: never }
        """, dir))
        let (runner, _, _) = inProcessRunner()
        let s = try await runner.run(rb, options: options(dir, ["n": "2"]))
        XCTAssertEqual(s.status, "succeeded")
        XCTAssertEqual(s.steps.map(\.outcome), ["succeeded", "succeeded", "skipped"])
        XCTAssertEqual(s.steps[1].outputs?["message"], .string("second word is big"))
        XCTAssertEqual(s.steps[1].outputs?["count"], .int(2))
        let events = try journalEvents(dir)
        XCTAssertEqual(events.map { "\($0.event):\($0.step ?? "")" }, [
            "run-started:", "step-started:a", "step-succeeded:a", "step-started:b", "step-succeeded:b", "step-skipped:skipped", "run-finished:",
        ])
        XCTAssertEqual(events[1].idempotencySeed, "\(s.runId)/a")
        XCTAssertNotNil(events[2].durationSeconds)
    }

    func testRetriesWithExponentialBackoff() async throws {
        let dir = try scratch()
        let name = flakyName()
        let rb = try Runbook.load(try write("""
        steps:
          - id: flaky
            uses: test.flaky
            retries: 3
            backoff: 2s
            with: { name: \(name), failures: 3 }
        """, dir))
        let (runner, _, delays) = inProcessRunner()
        let s = try await runner.run(rb, options: options(dir))
        XCTAssertEqual(s.status, "succeeded")
        XCTAssertEqual(s.steps[0].attempts, 4)
        XCTAssertEqual(delays.delays, [2, 4, 8])
        let events = try journalEvents(dir).filter { $0.step == "flaky" }
        XCTAssertEqual(events.map { "\($0.event):\($0.outcome ?? "")" }, [
            "step-started:", "step-failed:retrying", "step-started:", "step-failed:retrying", "step-started:", "step-failed:retrying",
            "step-started:", "step-succeeded:succeeded",
        ])
        XCTAssertEqual(Set(events.compactMap(\.idempotencySeed)).count, 1, "every attempt uses the same idempotency seed")
    }

    func testRetriesExhaustedStopTheRun() async throws {
        let dir = try scratch()
        let rb = try Runbook.load(try write("""
        steps:
          - id: flaky
            uses: test.flaky
            retries: 1
            backoff: 1s
            with: { name: \(flakyName()), failures: 5 }
          - id: after
            uses: test.echo
            with: { message: not reached }
        """, dir))
        let (runner, cap, delays) = inProcessRunner()
        let s = try await runner.run(rb, options: options(dir))
        XCTAssertEqual(s.status, "failed")
        XCTAssertEqual(s.exitStatus, 1)
        XCTAssertEqual(s.steps.map(\.outcome), ["failed", "not-run"])
        XCTAssertEqual(delays.delays, [1])
        XCTAssertTrue(cap.stderr.contains("fairflow runbook resume \(s.runId)"), cap.stderr)
    }

    func testOnFailureContinueGoesOn() async throws {
        let dir = try scratch()
        let rb = try Runbook.load(try write("""
        steps:
          - id: bad
            uses: test.flaky
            on-failure: continue
            with: { name: \(flakyName()), failures: 1 }
          - id: next
            uses: test.echo
            with: { message: "bad was ${{ steps.bad.outcome }}" }
        """, dir))
        let (runner, _, _) = inProcessRunner()
        let s = try await runner.run(rb, options: options(dir))
        XCTAssertEqual(s.status, "succeeded", "a failure marked continue does not fail the run")
        XCTAssertEqual(s.steps.map(\.outcome), ["failed", "succeeded"])
        XCTAssertEqual(s.steps[1].outputs?["message"], .string("bad was failed"))
    }

    func testOnFailureHandlerStepRunsAndRunFails() async throws {
        let dir = try scratch()
        let rb = try Runbook.load(try write("""
        steps:
          - id: raise
            uses: test.echo
            with: { message: raised }
          - id: work
            uses: test.flaky
            on-failure: restore
            with: { name: \(flakyName()), failures: 1 }
          - id: more-work
            uses: test.echo
            with: { message: skipped by the jump }
          - id: restore
            uses: test.echo
            with: { message: "restored after ${{ steps.work.outcome }}" }
          - id: notify
            uses: test.echo
            when: ${{ run.failed }}
            with: { message: failed run }
          - id: celebrate
            uses: test.echo
            when: ${{ !run.failed }}
            with: { message: yay }
        """, dir))
        let (runner, _, _) = inProcessRunner()
        let s = try await runner.run(rb, options: options(dir))
        XCTAssertEqual(s.status, "failed")
        XCTAssertEqual(s.steps.map(\.outcome), ["succeeded", "failed", "not-run", "succeeded", "succeeded", "skipped"])
        XCTAssertEqual(s.steps[3].outputs?["message"], .string("restored after failed"))
    }

    func testTimeoutFailsTheStep() async throws {
        let dir = try scratch()
        let rb = try Runbook.load(try write("""
        steps:
          - id: slow
            uses: test.sleep
            timeout: 300ms
            with: { seconds: 30 }
        """, dir))
        let (runner, _, _) = inProcessRunner()
        let t0 = Date()
        let s = try await runner.run(rb, options: options(dir))
        XCTAssertLessThan(Date().timeIntervalSince(t0), 5)
        XCTAssertEqual(s.steps[0].outcome, "failed")
        XCTAssertEqual(s.steps[0].error, "step slow timed out after 300ms — raise its `timeout:` or check why it hangs")
    }

    func testConfirmWithoutYesAndWithoutTTYIsUsageErrorBeforeAnything() async throws {
        let dir = try scratch()
        let rb = try Runbook.load(try write("""
        steps:
          - id: first
            uses: test.echo
            with: { message: hi }
          - id: destroy
            uses: test.echo
            confirm: true
            with: { message: boom }
        """, dir))
        let (runner, _, _) = inProcessRunner()
        do {
            _ = try await runner.run(rb, options: options(dir))
            XCTFail("ran without confirmation")
        } catch {
            XCTAssertEqual(ErrorReport.status(for: error), .usage)
            XCTAssertEqual("\(error)", "confirmation needed: step destroy must be confirmed and there is no terminal to ask on — pass --yes to confirm")
        }
        XCTAssertEqual(runIds(dir), [], "nothing ran, no journal")
        let (yes, _, _) = inProcessRunner(yes: true)
        let s = try await yes.run(rb, options: options(dir))
        XCTAssertEqual(s.status, "succeeded")
    }

    func testSecretInputsAndSecretNamedKeysNeverReachTheJournal() async throws {
        let dir = try scratch()
        let secret = "s3cr3t-\(UUID().uuidString)"
        let rb = try Runbook.load(try write("""
        inputs:
          admin-password: { secret: true }
          note: { default: plain }
        steps:
          - id: a
            uses: test.echo
            with: { message: "pw is ${{ inputs.admin-password }} ok", count: 1 }
          - id: b
            uses: test.echo
            with: { message: "${{ steps.a.outputs.message }}" }
        """, dir))
        let (runner, cap, _) = inProcessRunner()
        let s = try await runner.run(rb, options: options(dir, ["admin-password": secret]))
        XCTAssertEqual(s.status, "succeeded")
        let runDir = dir.appendingPathComponent(".fairflow/runs/\(s.runId)")
        for f in ["journal.jsonl", "run.json"] {
            let text = try String(contentsOf: runDir.appendingPathComponent(f), encoding: .utf8)
            XCTAssertFalse(text.contains(secret), "\(f) holds the secret")
            XCTAssertTrue(text.contains("[redacted]"), f)
        }
        XCTAssertFalse(cap.stdout.contains(secret) || cap.stderr.contains(secret))
        XCTAssertEqual(s.steps[1].outputs?["message"], .string("pw is [redacted] ok"))
        // Resume of a finished run needs nothing; a secret input without a default must be given again otherwise.
        let again = try await runner.resume(runId: s.runId, options: options(dir))
        XCTAssertEqual(again.status, "succeeded")
    }

    func testResumeSkipsSucceededStepsAndRerunsTheFailedOne() async throws {
        let dir = try scratch()
        let name = flakyName()
        let rb = try Runbook.load(try write("""
        steps:
          - id: one
            uses: test.flaky
            with: { name: \(name)-one, failures: 0 }
          - id: two
            uses: test.flaky
            with: { name: \(name)-two, failures: 1 }
          - id: three
            uses: test.echo
            with: { message: "one ran ${{ steps.one.outputs.calls }} time(s)" }
        """, dir))
        let (runner, _, _) = inProcessRunner()
        let first = try await runner.run(rb, options: options(dir))
        XCTAssertEqual(first.steps.map(\.outcome), ["succeeded", "failed", "not-run"])
        let second = try await runner.resume(runId: first.runId, options: options(dir))
        XCTAssertEqual(second.status, "succeeded")
        XCTAssertEqual(second.steps.map(\.outcome), ["succeeded", "succeeded", "succeeded"])
        XCTAssertEqual(second.steps[0].reused, true)
        XCTAssertEqual(second.steps[2].outputs?["message"], .string("one ran 1 time(s)"), "outputs of earlier steps come from the journal")
        let calls = try String(contentsOfFile: "\(testStateDir)/\(name)-one", encoding: .utf8)
        XCTAssertEqual(calls, "1", "the succeeded step did not run again")
        let seeds = try journalEvents(dir).filter { $0.step == "two" && $0.event == "step-started" }.compactMap(\.idempotencySeed)
        XCTAssertEqual(seeds, ["\(first.runId)/two", "\(first.runId)/two"])
    }

    func testSecondRunOnTheSameStackRefusesThenWaits() async throws {
        let dir = try scratch()
        let lock = StackLock(directory: dir.appendingPathComponent(".fairflow").path, stack: "FairflowStack")
        try lock.acquire(runId: "other-run", wait: false)
        let rb = try Runbook.load(try write("steps:\n  - id: a\n    uses: test.echo\n    with: { message: hi }\n", dir))
        let (runner, _, _) = inProcessRunner()
        do {
            _ = try await runner.run(rb, options: options(dir))
            XCTFail("ran while the stack was locked")
        } catch {
            XCTAssertTrue("\(error)".hasPrefix("stack is busy: run other-run (pid \(getpid())) holds "), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix("— wait for it to finish, or pass --wait-lock to queue behind it"), "\(error)")
        }
        // Another stack is not blocked.
        var other = GlobalSettings(); other.stack = "OtherStack"
        let (r2, _, _) = inProcessRunner(settings: other)
        let s2 = try await r2.run(rb, options: options(dir))
        XCTAssertEqual(s2.status, "succeeded")
        lock.release()
    }

    func testResumeRunsOnTheStackTheRunStartedOn() async throws {
        let dir = try scratch()
        let rb = try Runbook.load(try write("""
        steps:
          - id: flaky
            uses: test.flaky
            with: { name: \(flakyName()), failures: 1 }
          - id: where
            uses: test.echo
            with: { message: "${{ run.stack }}" }
        """, dir))
        var blue = GlobalSettings(); blue.stack = "Blue"; blue.region = "eu-west-1"
        let (first, _, _) = inProcessRunner(settings: blue)
        let s1 = try await first.run(rb, options: options(dir))
        XCTAssertEqual(s1.status, "failed")
        let (later, cap, _) = inProcessRunner()  // no --stack given to resume
        let s2 = try await later.resume(runId: s1.runId, options: options(dir))
        XCTAssertEqual(s2.steps[1].outputs?["message"], .string("Blue"))
        XCTAssertEqual(later.settings.region, "eu-west-1")
        XCTAssertTrue(cap.stderr.contains("resuming on stack Blue"), cap.stderr)
    }
}

final class JournalTests: XCTestCase {
    func testATornLastLineIsEndedAndSkipped() throws {
        let dir = try scratch()
        let path = dir.appendingPathComponent("j.jsonl").path
        let j = try Journal(path: path)
        try j.append(JournalEvent(event: "run-started", runId: "r"))
        // A kill in the middle of a write.
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        h.seekToEndOfFile(); h.write(Data(#"{"event":"step-succ"#.utf8)); try h.close()
        let j2 = try Journal(path: path)
        try j2.append(JournalEvent(event: "run-resumed", runId: "r"))
        XCTAssertEqual(try Journal.read(path).map(\.event), ["run-started", "run-resumed"])
    }

    func testRedactionByKeyAndByValue() {
        var r = Redactor()
        r.learn(.object(["fernetKey": .string("abcdefgh"), "name": .string("airflow-fernet-key"), "rotate-key": .bool(true)]))
        let (v, paths) = r.redact(.object(["message": .string("key is abcdefgh!"), "apiToken": .string("zzzz"), "rotate-key": .bool(true),
                                           "list": .array([.string("abcdefgh")])]))
        XCTAssertEqual(v, .object(["message": .string("key is [redacted]!"), "apiToken": .string("[redacted]"), "rotate-key": .bool(true),
                                    "list": .array([.string("[redacted]")])]))
        XCTAssertEqual(Set(paths), ["message", "apiToken", "list.0"])
    }

    func testNamesAndArnsOfSecretsStayReadableTheirValuesDoNot() {
        var r = Redactor()
        let out: JSONValue = .object(["secrets": .array([.object(["name": .string("airflow-fernet-key"), "arn": .string("arn:aws:sm:x"),
                                                                  "envKey": .string("AIRFLOW_FERNET_KEY_SECRET_ARN"), "value": .string("c2VjcmV0dmFsdWU=")])]),
                                      "fernetKeys": .array([.string("k1k1k1k1"), .string("k2k2k2k2")])])
        r.learn(out)
        let (v, paths) = r.redact(out)
        XCTAssertEqual(v["secrets"]?["0"]?["name"], .string("airflow-fernet-key"))
        XCTAssertEqual(v["secrets"]?["0"]?["arn"], .string("arn:aws:sm:x"))
        XCTAssertEqual(v["secrets"]?["0"]?["envKey"], .string("AIRFLOW_FERNET_KEY_SECRET_ARN"))
        XCTAssertEqual(v["secrets"]?["0"]?["value"], .string("[redacted]"))
        XCTAssertEqual(v["fernetKeys"], .array([.string("[redacted]"), .string("[redacted]")]))
        XCTAssertEqual(Set(paths), ["secrets.0.value", "fernetKeys.0", "fernetKeys.1"])
        XCTAssertEqual(r.mask("export K=k2k2k2k2"), "export K=[redacted]")
    }
}
