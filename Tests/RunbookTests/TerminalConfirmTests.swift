import FairflowTestSupport
import Foundation
import Runbook
import XCTest

/// `confirm: true` on a terminal: the built binary under a pseudo-terminal (`script`) answering y or n.
final class TerminalConfirmTests: XCTestCase {
    func run(_ answer: String, _ dir: URL) throws -> Binary.Result {
        let script = try requireTool("script")
        var env = ProcessInfo.processInfo.environment
        env["FAIRFLOW_TEST_OPERATIONS"] = "1"
        env["NO_COLOR"] = "1"
        let file = try write("steps:\n  - id: boom\n    uses: test.echo\n    confirm: true\n    with: { message: boom }\n", dir)
        let cmd = "printf '\(answer)\\n' | \(script) -qec '\(Repo.binary.path) runbook run \(file)' /dev/null"
        return try Binary(environment: env, cwd: dir).runShell(cmd)
    }

    func testYesOnTheTerminalRunsTheStep() throws {
        let dir = try scratch()
        let r = try run("y", dir)
        XCTAssertEqual(r.status, 0, r.stdout)
        XCTAssertTrue(r.stdout.contains("Step 'boom' runs `fairflow test echo` on stack FairflowStack. Go on? [y/N]"), r.stdout)
        XCTAssertTrue(r.stdout.contains("[1/1] boom (test.echo): ok"), r.stdout)
    }

    func testNoOnTheTerminalStopsBeforeTheStepWith64() throws {
        let dir = try scratch()
        let r = try run("n", dir)
        XCTAssertEqual(r.status, 64, r.stdout)
        XCTAssertTrue(r.stdout.contains("error: cancelled: not confirmed"), r.stdout)
        XCTAssertFalse(try journalEvents(dir).contains { $0.event == "step-started" }, "the step never started")
    }
}

extension Binary {
    func runShell(_ command: String) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        p.environment = environment
        p.currentDirectoryURL = cwd
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(stdout: String(decoding: data, as: UTF8.self), stderr: "", status: p.terminationStatus)
    }
}
