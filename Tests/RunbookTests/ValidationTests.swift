import FairflowCore
import Foundation
import Runbook
import XCTest

final class ValidationTests: XCTestCase {
    func diagnostics(_ text: String) -> [String] {
        let (rb, parse) = Runbook.parse(text, file: "f.yaml")
        return (parse + (rb.map { Validator.validate($0, operations: testOperations) } ?? [])).sorted { $0.position < $1.position }.map(\.description)
    }

    func testEachKindOfProblemHasItsPosition() {
        let d = diagnostics("""
        name: bad
        inputs:
          dag: example
        steps:
          - id: a
            uses: test.echo
            with:
              message: ${{ inputs.dagg }}
              colour: red
          - id: b
            uses: dags.trigger
          - id: c
            uses: test.echo
            with:
              message: ${{ steps.d.outputs.message }}
          - id: d
            uses: test.echo
            with:
              message: ${{ steps.c.outputs.message }}
              count: "three"
              nested: { value: x, extra: 1 }
        """)
        XCTAssertEqual(d, [
            "f.yaml:8:16: bad reference 'inputs.dagg': the runbook declares no input 'dagg' (did you mean 'dag'?)",
            "f.yaml:9:7: unknown field 'colour' in `with:` of step 'a' (test.echo takes: count, message, nested)",
            "f.yaml:11:11: unknown step 'dags.trigger' in step 'b': no such operation in this fairflow (see `fairflow runbook list --operations`)",
            "f.yaml:15:16: bad reference 'steps.d': step 'd' runs after 'c', so its outputs are not known yet",
            "f.yaml:19:16: cycle: c → d → c",
            "f.yaml:20:14: step 'd': field 'count': expected a whole number, got a string",
            "f.yaml:21:27: unknown field 'nested.extra' in `with:` of step 'd' (test.echo takes: count, message, nested)",
        ])
    }

    func testStructuralProblems() {
        let d = diagnostics("""
        name: s
        colour: blue
        steps:
          - id: a
            uses: test.echo
            with: { message: hi }
            retries: many
            timeout: forever
            on-failure: z
            confirm: maybe
            bogus: 1
          - id: a
            uses: test.echo
            with: { message: hi }
        """)
        XCTAssertEqual(d, [
            "f.yaml:2:1: unknown field 'colour' (a runbook has: description, inputs, name, steps)",
            "f.yaml:7:14: `retries:` must be a whole number ≥ 0",
            "f.yaml:8:14: `timeout:` must be a duration like 30s, 5m, 1h or a number of seconds",
            "f.yaml:9:17: on-failure 'z': no step with id 'z' (use stop, continue or a later step's id)",
            "f.yaml:10:14: `confirm:` is true or false",
            "f.yaml:11:5: unknown field 'bogus' in a step (a step has: backoff, confirm, id, name, on-failure, retries, timeout, uses, when, with)",
            "f.yaml:12:9: duplicate step id 'a' (first at line 4)",
        ])
    }

    func testFailureJumpsMustGoForwardToAStep() {
        let d = diagnostics("""
        steps:
          - id: a
            uses: test.echo
            with: { message: hi }
            on-failure: nowhere
          - id: b
            uses: test.echo
            with: { message: hi }
            on-failure: a
        """)
        XCTAssertEqual(d, [
            "f.yaml:5:17: on-failure 'nowhere': no step with id 'nowhere' (use stop, continue or a later step's id)",
            "f.yaml:9:17: on-failure 'a' must name a step after 'b' (a jump back would loop)",
        ])
    }

    func testMissingRequiredFieldAndBadExpression() {
        let d = diagnostics("""
        steps:
          - id: a
            uses: test.flaky
            with: { name: x }
          - id: b
            uses: test.echo
            with: { message: "${{ steps.a.outputs.calls == }}" }
            when: ${{ bogus.thing }}
        """)
        XCTAssertEqual(d.count, 3, "\(d)")
        XCTAssertEqual(d[0], "f.yaml:4:11: step 'a': missing field 'failures' — set it in `with:` (the operation's Input has no default for it)")
        XCTAssertTrue(d[1].hasPrefix("f.yaml:7:22: bad expression:"), d[1])
        XCTAssertTrue(d[2].hasPrefix("f.yaml:8:11: bad expression: unknown reference 'bogus.thing'"), d[2])
    }

    func testKebabCaseFieldsAreTheFlags() {
        XCTAssertEqual(diagnostics("""
        steps:
          - id: a
            uses: test.secret.create
            with: { name: x, pause-before-seconds: 1 }
        """), [])
    }

    func testValidRunbookHasNoProblems() {
        XCTAssertEqual(diagnostics("""
        name: ok
        description: fine
        inputs:
          msg: { default: hello, description: what to say }
          n: 2
        steps:
          - id: a
            uses: test.echo
            with: { message: "${{ inputs.msg }}", count: "${{ inputs.n }}" }
          - id: b
            uses: test.echo
            when: ${{ steps.a.outcome == 'succeeded' && !run.failed }}
            retries: 2
            backoff: 2s
            timeout: 1m30s
            on-failure: c
            with: { message: "${{ steps.a.outputs.info.words.0 }} again" }
          - id: c
            uses: whoami
        """), [])
    }

    func testYAMLSyntaxErrorHasPosition() {
        let d = diagnostics("steps:\n  - id: a\n    uses: [oops\n")
        XCTAssertEqual(d.count, 1)
        XCTAssertTrue(d[0].hasPrefix("f.yaml:4:1: not valid YAML"), d[0])
    }
}

final class ExpressionTests: XCTestCase {
    var scope: Scope {
        var s = Scope()
        s.inputs = ["dag": .string("etl"), "n": .int(3), "wait": .bool(true)]
        s.outputs = ["deploy": .object(["airflowUrl": .string("http://x"), "ids": .array([.string("a"), .string("b")]), "n": .int(2)])]
        s.outcomes = ["deploy": "succeeded"]
        return s
    }

    func eval(_ t: String) throws -> JSONValue { try Template.parse(t).evaluate(scope) }

    func testSubstitution() throws {
        XCTAssertEqual(try eval("${{ inputs.dag }}"), .string("etl"))
        XCTAssertEqual(try eval("${{ inputs.n }}"), .int(3), "a lone expression keeps its type")
        XCTAssertEqual(try eval("dag ${{ inputs.dag }} at ${{ steps.deploy.outputs.airflowUrl }}/x"), .string("dag etl at http://x/x"))
        XCTAssertEqual(try eval("${{ steps.deploy.outputs.ids.1 }}"), .string("b"))
        XCTAssertEqual(try eval("${{ steps.deploy.outputs.ids }}"), .array([.string("a"), .string("b")]))
        XCTAssertEqual(try eval("no holes"), .string("no holes"))
    }

    func testOperators() throws {
        XCTAssertEqual(try eval("${{ steps.deploy.outcome == 'succeeded' }}"), .bool(true))
        XCTAssertEqual(try eval("${{ inputs.n == 3 && inputs.wait }}"), .bool(true))
        XCTAssertEqual(try eval("${{ inputs.n != '3' }}"), .bool(false))
        XCTAssertEqual(try eval("${{ !inputs.wait || steps.deploy.outputs.n == 2 }}"), .bool(true))
        XCTAssertEqual(try eval("${{ !(inputs.wait && run.failed) }}"), .bool(true))
    }

    func testErrorsNameWhatIsMissing() {
        XCTAssertThrowsError(try eval("${{ steps.deploy.outputs.nope.x }}")) { XCTAssertEqual("\($0)", "step 'deploy' output has no 'nope'") }
        XCTAssertThrowsError(try eval("${{ steps.other.outputs.x }}")) { XCTAssertEqual("\($0)", "step 'other' has no outputs (it has not run)") }
        XCTAssertThrowsError(try eval("${{ inputs.dag")) { XCTAssertEqual("\($0)", "'${{' without its closing '}}'") }
    }

    func testDurations() {
        XCTAssertEqual(Duration.parse("30s"), 30)
        XCTAssertEqual(Duration.parse("1h30m"), 5400)
        XCTAssertEqual(Duration.parse("250ms"), 0.25)
        XCTAssertEqual(Duration.parse("12"), 12)
        XCTAssertNil(Duration.parse("soon"))
    }
}
