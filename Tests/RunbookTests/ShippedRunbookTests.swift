import ArgumentParser
import FairflowCLI
import FairflowCore
import FairflowTestSupport
import Foundation
import Runbook
import XCTest

/// The shipped runbooks and the one-runtime rule: every command is a step, every step a command.
final class ShippedRunbookTests: XCTestCase {
    static var shippedDir: URL { Repo.root.appendingPathComponent("runbooks") }
    static let names = ["bootstrap", "demo", "rotate-fernet", "scale-for-backfill", "teardown", "triage", "upgrade"]

    static var registry: [String: any FairflowOperation.Type] {
        Dictionary(Operations.all.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Unknown step ids, and Input fields without a default when absent from `with:`, are the only problems
    /// allowed while the operations are being written; with FAIRFLOW_REQUIRE_ALL_OPERATIONS=1 (scripts/test sets it
    /// once they are merged) none is.
    func testShippedRunbooksAreValidExceptForOperationsNotYetMerged() throws {
        var missing: Set<String> = []
        var undefaulted: [String] = []
        for name in Self.names {
            let path = Self.shippedDir.appendingPathComponent("\(name).yaml").path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let (rb, parse) = Runbook.parse(text, file: path)
            XCTAssertEqual(parse.map(\.description), [], name)
            guard let rb else { continue }
            XCTAssertEqual(rb.name, name)
            XCTAssertFalse(rb.description.isEmpty, name)
            let diags = Validator.validate(rb, operations: Self.registry)
            for d in diags {
                if d.message.hasPrefix("unknown step '"), let op = d.message.split(separator: "'").dropFirst().first { missing.insert(String(op)) }
                else if d.message.contains("the operation's Input has no default for it") { undefaulted.append(d.description) }
                else { XCTFail("\(d)") }
            }
        }
        print("shipped runbooks: operations not registered yet: \(missing.sorted().joined(separator: ", "))")
        print("shipped runbooks: Input fields without a default:\n  " + undefaulted.joined(separator: "\n  "))
        if ProcessInfo.processInfo.environment["FAIRFLOW_REQUIRE_ALL_OPERATIONS"] == "1" {
            XCTAssertEqual(missing, [], "shipped runbooks use operations that are not in Operations.all")
            XCTAssertEqual(undefaulted, [], "Inputs must decode from a partial `with:` (decodeIfPresent with the flags' defaults)")
        }
    }

    /// Walks the command tree against the registry.
    func testEveryCommandIsAStepAndEveryStepACommand() {
        var commands = Set<String>()
        for sub in FairflowCommand.configuration.subcommands { commands.formUnion(walk(sub, [])) }
        // the runner itself is not a step, nor is `upgrade`, which runs the upgrade runbook
        commands = commands.filter { !$0.hasPrefix("runbook.") && $0 != "upgrade" }
        let steps = Set(Operations.all.map { $0.id })
        // Commands that have no operation yet; when one gets its operation this test says to drop it here.
        let knownGaps: Set<String> = []
        for gap in knownGaps where steps.contains(gap) { XCTFail("\(gap) is an operation now: remove it from knownGaps") }
        XCTAssertEqual(commands.subtracting(steps).subtracting(knownGaps).sorted(), [], "commands without a runbook step")
        // Operations reached through another command's flags: `fairflow scale worker --min N --max M`.
        // The upgrade's steps through `fairflow upgrade` (its runbook; --rollback runs upgrade.rollback alone).
        var viaCommand: [String: String] = ["scale.auto": "scale"]
        for op in UpgradeSteps.all { viaCommand[op.id] = "upgrade" }
        let all = Set(FairflowCommand.configuration.subcommands.flatMap { walk($0, []) })
        for (op, command) in viaCommand { XCTAssertTrue(all.contains(command), "\(op) is reached through `fairflow \(command)`") }
        XCTAssertEqual(steps.subtracting(commands).subtracting(viaCommand.keys).sorted(), [], "steps without a command")
        XCTAssertTrue(commands.contains("whoami") && commands.contains("doctor"))
    }

    func walk(_ c: ParsableCommand.Type, _ prefix: [String]) -> [String] {
        let path = prefix + [c.configuration.commandName ?? ""]
        let subs = c.configuration.subcommands
        return subs.isEmpty ? [path.joined(separator: ".")] : subs.flatMap { walk($0, path) }
    }

    func testTestOperationsAreOffByDefault() {
        XCTAssertTrue(TestOperations.enabled([:]).isEmpty)
        XCTAssertTrue(TestOperations.enabled(["FAIRFLOW_TEST_OPERATIONS": "yes"]).isEmpty)
        XCTAssertEqual(TestOperations.enabled(["FAIRFLOW_TEST_OPERATIONS": "1"]).count, TestOperations.all.count)
        XCTAssertTrue(TestOperations.all.allSatisfy { $0.id.hasPrefix("test.") })
        XCTAssertNil(TestOperations.killHook(["FAIRFLOW_TEST_KILL_AT": "step-started:a"]))
    }

    /// The full example in docs/runbooks.md is a valid runbook (but for Input defaults the operations still owe).
    func testTheDocumentedExampleValidates() throws {
        let doc = try String(contentsOf: Repo.root.appendingPathComponent("docs/runbooks.md"), encoding: .utf8)
        guard let start = doc.range(of: "```yaml\n"), let end = doc.range(of: "\n```", range: start.upperBound..<doc.endIndex) else {
            return XCTFail("docs/runbooks.md has no yaml example")
        }
        let (rb, parse) = Runbook.parse(String(doc[start.upperBound..<end.lowerBound]), file: "docs/runbooks.md")
        XCTAssertEqual(parse.map(\.description), [])
        let diags = rb.map { Validator.validate($0, operations: Self.registry) } ?? []
        let other = diags.filter { !$0.message.contains("the operation's Input has no default for it") }
        XCTAssertEqual(other.map(\.description), [])
        if ProcessInfo.processInfo.environment["FAIRFLOW_REQUIRE_ALL_OPERATIONS"] == "1" { XCTAssertEqual(diags.map(\.description), []) }
        XCTAssertEqual(rb?.steps.count, 5)
    }
}
