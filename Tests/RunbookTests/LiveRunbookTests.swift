import AWSCore
import AWSServices
import FairflowCore
import FairflowTestSupport
import Foundation
import HTTPTransport
import Runbook
import XCTest

/// The built binary against the local AWS behind the fault proxy (its request log counts what reached AWS).
final class LiveRunbookTests: XCTestCase {
    nonisolated(unsafe) static var local: LocalAWS?
    nonisolated(unsafe) static var proxy: FaultProxy?
    nonisolated(unsafe) static var startError: Error?

    override class func setUp() {
        super.setUp()
        do {
            let l = try LocalAWS()
            local = l
            proxy = try FaultProxy(upstream: l.endpoint)
        } catch { startError = error }
    }

    override class func tearDown() {
        proxy?.stop(); local?.stop()
        proxy = nil; local = nil
        super.tearDown()
    }

    func peers() throws -> (LocalAWS, FaultProxy) {
        guard let l = Self.local, let p = Self.proxy else {
            if ProcessInfo.processInfo.environment["FAIRFLOW_REQUIRE_PEERS"] == "1" { XCTFail("local AWS did not start: \(Self.startError.map { "\($0)" } ?? "?")") }
            throw XCTSkip("local AWS not started: \(Self.startError.map { "\($0)" } ?? "?")")
        }
        return (l, p)
    }

    func binary(_ cwd: URL, _ extra: [String: String] = [:]) throws -> Binary {
        let (l, p) = try peers()
        var env = l.environment
        env["AWS_ENDPOINT_URL"] = p.endpoint
        env["FAIRFLOW_TEST_OPERATIONS"] = "1"
        env["FAIRFLOW_RUNBOOKS_DIR"] = Repo.root.appendingPathComponent("runbooks").path
        for (k, v) in extra { env[k] = v }
        return Binary(environment: env, cwd: cwd)
    }

    func secrets() throws -> SecretsManager {
        let (l, _) = try peers()
        let creds = AWSCredentials(accessKeyId: l.accessKeyId, secretAccessKey: l.secretAccessKey, source: "test")
        return SecretsManager(AWSClient(http: CurlHTTPClient(), region: try Region(validating: "us-east-1"),
                                        endpoints: EndpointResolver(override: URL(string: l.endpoint)!, environment: [:]),
                                        credentials: StaticCredentialProvider(creds)))
    }

    func secretNames(_ prefix: String) async throws -> [String] {
        var names: [String] = []
        for try await page in try secrets().list(prefix: prefix) { names += page.map(\.Name) }
        return names.filter { $0.hasPrefix(prefix) }.sorted()
    }

    // MARK: dry run

    func testDryRunMakesNoMutatingRequestAndSaysWhatIsKnownAfter() async throws {
        let (_, proxy) = try peers()
        let dir = try scratch()
        let prefix = "rbdry-\(UUID().uuidString.prefix(6))"
        let file = try write("""
        name: dry
        steps:
          - id: who
            uses: whoami
          - id: check
            uses: doctor
            on-failure: continue
          - id: create
            uses: test.secret.create
            confirm: true
            with: { name: \(prefix)-one }
          - id: use
            uses: test.echo
            with: { message: "arn ${{ steps.create.outputs.arn }}" }
        """, dir)
        try proxy.clear()
        let r = try binary(dir).run(["runbook", "run", file, "--dry-run"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("3. create (test.secret.create)  [asks to confirm]"), r.stdout)
        XCTAssertTrue(r.stdout.contains("* SecretsManager CreateSecret — \(prefix)-one"), r.stdout)
        XCTAssertTrue(r.stdout.contains("  SecretsManager DescribeSecret — \(prefix)-one"), r.stdout)
        XCTAssertTrue(r.stdout.contains("with message = arn <known after create>"), r.stdout)
        XCTAssertTrue(r.stdout.contains("inputs known after create"), r.stdout)
        let log = try proxy.requests()
        XCTAssertTrue(log.contains { $0.operation == "DescribeSecret" }, "the plan's read reached AWS: \(log.map(\.operation))")
        XCTAssertEqual(log.filter { $0.mutating == true }.map(\.operation), [], "no mutating request in a dry run")
        let names = try await secretNames(prefix)
        XCTAssertEqual(names, [])
        XCTAssertEqual(runIds(dir), [], "a dry run writes no journal")
    }

    func testReadOnlyContextRefusesMutatingCallsBelowTheOperation() async throws {
        let (l, proxy) = try peers()
        var s = GlobalSettings()
        s.environment = l.environment
        s.endpointURL = proxy.endpoint
        let (t, _) = Terminal.capture()
        let ctx = Context(settings: s, terminal: t)
        ctx.readOnly = true
        try proxy.clear()
        do {
            _ = try await TestSecretCreate.run(.init(name: "rbro-\(UUID().uuidString.prefix(6))"), context: ctx)
            XCTFail("a read-only context let a create through")
        } catch let e as MutationRefused {
            XCTAssertEqual(e.description, "dry run: Secrets Manager CreateSecret would change something and was not sent")
        }
        XCTAssertEqual(try proxy.requests().filter { $0.operation == "CreateSecret" }.count, 0)
    }

    // MARK: kill and resume

    static let killRunbook = """
    name: kill-resume
    inputs:
      prefix: { required: true }
    steps:
      - id: one
        uses: test.secret.create
        with: { name: "${{ inputs.prefix }}-one" }
      - id: two
        uses: test.secret.create
        with: { name: "${{ inputs.prefix }}-two" }
      - id: echo
        uses: test.echo
        with: { message: "${{ steps.two.outputs.arn }}" }
      - id: three
        uses: test.secret.create
        with: { name: "${{ inputs.prefix }}-three" }
    """

    struct EndState: Equatable {
        var secrets: [String]
        var outcomes: [String]
        var echoIsArnOfTwo: Bool
    }

    func endState(_ dir: URL, _ prefix: String, _ runId: String) async throws -> EndState {
        let events = try Journal.read(dir.appendingPathComponent(".fairflow/runs/\(runId)/journal.jsonl").path)
        let outcomes = ["one", "two", "echo", "three"].map { id in events.last { $0.step == id && $0.event != "step-started" }?.event ?? "none" }
        let arnTwo = events.last { $0.step == "two" && $0.event == "step-succeeded" }?.outputs?["arn"]
        let echo = events.last { $0.step == "echo" && $0.event == "step-succeeded" }?.outputs?["message"]
        let names = try await secretNames(prefix).map { String($0.dropFirst(prefix.count)) }
        return EndState(secrets: names, outcomes: outcomes, echoIsArnOfTwo: arnTwo != nil && arnTwo == echo)
    }

    func testSigkillAtEveryStepBoundaryAndInsideAStepThenResume() async throws {
        let (_, proxy) = try peers()
        // The uninterrupted run: the end state every interrupted one must reach.
        let base = try scratch()
        let basePrefix = "rbk-base-\(UUID().uuidString.prefix(6))"
        let file = try write(Self.killRunbook, base)
        let r0 = try binary(base).run(["runbook", "run", file, "--input", "prefix=\(basePrefix)"])
        XCTAssertEqual(r0.status, 0, r0.stderr)
        let expected = try await endState(base, basePrefix, runIds(base)[0])
        XCTAssertEqual(expected, EndState(secrets: ["-one", "-three", "-two"], outcomes: Array(repeating: "step-succeeded", count: 4), echoIsArnOfTwo: true))

        let points = ["step-succeeded:one", "step-started:two", "step-succeeded:two", "step-succeeded:echo", "step-started:three",
                      "step-succeeded:three", "inside:two"]
        var report: [String] = []
        for point in points {
            let dir = try scratch()
            let prefix = "rbk-\(UUID().uuidString.prefix(6))"
            let file = try write(Self.killRunbook, dir)
            try proxy.clear()
            let t0 = Date()
            if point == "inside:two" {
                // The create of step two is held 3 s at the proxy; we kill the client while it waits, and the
                // proxy then delivers it: AWS made the secret, the journal never heard back.
                // Rules are taken in order: the first (a token delay) is used up by step one's create.
                try proxy.addRule(#"[{"operation": "CreateSecret", "kind": "delay", "delay_seconds": 0.01, "count": 1},"# +
                                  #"{"operation": "CreateSecret", "kind": "delay", "delay_seconds": 3, "count": 1}]"#)
                let b = try binary(dir)
                let (p, _, _) = try b.start(["runbook", "run", file, "--input", "prefix=\(prefix)"])
                // Step one's create is the first CreateSecret: let it pass the delay, then kill inside two.
                try waitUntil(30, "step two to start") {
                    ((try? journalEvents(dir)) ?? []).contains { $0.step == "two" && $0.event == "step-started" }
                }
                usleep(1_000_000)
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                XCTAssertEqual(p.terminationReason, .uncaughtSignal)
                try waitUntil(10, "the held create to reach AWS") {
                    ((try? proxy.requests()) ?? []).filter { $0.operation == "CreateSecret" }.count >= 2
                }
                let names = try await secretNames(prefix)
                XCTAssertEqual(names, ["\(prefix)-one", "\(prefix)-two"],
                               "two was created although its run died")
            } else {
                let r = try binary(dir, ["FAIRFLOW_TEST_KILL_AT": point]).run(["runbook", "run", file, "--input", "prefix=\(prefix)"])
                XCTAssertEqual(r.status, 9, "\(point): expected SIGKILL, got \(r.status): \(r.stderr)")
            }
            let ids = runIds(dir)
            XCTAssertEqual(ids.count, 1)
            let before = try journalEvents(dir)
            let resumed = try binary(dir).run(["runbook", "resume", ids[0]])
            XCTAssertEqual(resumed.status, 0, "\(point): \(resumed.stderr)")
            let state = try await endState(dir, prefix, ids[0])
            XCTAssertEqual(state, expected, "\(point): end state differs from the uninterrupted run")
            // Nothing created twice: one secret per name, and every CreateSecret of one name carried one token.
            let creates = try proxy.requests().filter { $0.operation == "CreateSecret" }
            XCTAssertEqual(Set(creates.compactMap(\.client_request_token)).count, 3, "\(point): one token per secret")
            XCTAssertTrue(creates.allSatisfy { $0.status == 200 }, "\(point): \(creates.map { $0.status ?? 0 })")
            // Steps that had succeeded before the kill did not start again.
            let after = try journalEvents(dir)
            for id in ["one", "two", "echo", "three"] where before.contains(where: { $0.step == id && $0.event == "step-succeeded" }) {
                XCTAssertEqual(after.filter { $0.step == id && $0.event == "step-started" }.count, 1, "\(point): \(id) ran again")
            }
            report.append("\(point): \(creates.count) CreateSecret requests, 3 secrets, resumed in \(String(format: "%.1f", Date().timeIntervalSince(t0)))s")
        }
        print("runbook kill/resume: " + report.joined(separator: "; "))
    }

    // MARK: secrets, identity, request ids

    func testNoSecretValueInAnyJournalAndRequestIdsAndIdentityAreRecorded() async throws {
        let dir = try scratch()
        let prefix = "rbsec-\(UUID().uuidString.prefix(6))"
        let password = "pw-\(UUID().uuidString)"
        let file = try write("""
        name: secrets
        inputs:
          admin-password: { secret: true }
        steps:
          - id: create
            uses: test.secret.create
            with: { name: \(prefix)-fernet }
          - id: read
            uses: test.secret.read
            with: { name: "${{ steps.create.outputs.name }}" }
          - id: leak
            uses: test.echo
            with: { message: "value=${{ steps.read.outputs.secretValue }} pw=${{ inputs.admin-password }}" }
        """, dir)
        let r = try binary(dir).run(["runbook", "run", file, "--input", "admin-password=\(password)", "--output", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let value = try await secrets().value("\(prefix)-fernet")
        XCTAssertGreaterThan(value.count, 20)
        let runDir = dir.appendingPathComponent(".fairflow/runs/\(runIds(dir)[0])")
        for f in try FileManager.default.contentsOfDirectory(atPath: runDir.path) {
            let text = try String(contentsOf: runDir.appendingPathComponent(f), encoding: .utf8)
            XCTAssertFalse(text.contains(value), "\(f) holds the secret value")
            XCTAssertFalse(text.contains(password), "\(f) holds the password")
        }
        for out in [r.stdout, r.stderr] {
            XCTAssertFalse(out.contains(value) || out.contains(password), "output leaks a secret")
        }
        let events = try journalEvents(dir)
        XCTAssertEqual(events.first { $0.step == "leak" && $0.event == "step-started" }?.inputs?["message"], .string("value=[redacted] pw=[redacted]"))
        XCTAssertEqual(events.first { $0.step == "read" && $0.event == "step-succeeded" }?.redacted, ["secretValue"])
        let create = events.first { $0.step == "create" && $0.event == "step-succeeded" }
        XCTAssertEqual(create?.requestIds?.map(\.call), ["Secrets Manager CreateSecret"])
        XCTAssertNotNil(create?.requestIds?.first?.requestId, "the AWS request id is journaled")
        let arn = events.first?.identity?["arn"]?.description ?? ""
        XCTAssertTrue(arn.hasPrefix("arn:aws:"), "caller identity from whoami: \(String(describing: events.first?.identity))")
        let show = try binary(dir).run(["runbook", "show", runIds(dir)[0]])
        XCTAssertEqual(show.status, 0)
        XCTAssertTrue(show.stdout.contains("step-succeeded\tread"), show.stdout)
        XCTAssertFalse(show.stdout.contains(value))
    }

    // MARK: the lock, across processes

    func testSecondRunRefusesWhileFirstHoldsTheStackAndWaitLockQueues() throws {
        let dir = try scratch()
        let slow = try write("steps:\n  - id: nap\n    uses: test.sleep\n    with: { seconds: 3 }\n", dir, "slow.yaml")
        let quick = try write("steps:\n  - id: hi\n    uses: test.echo\n    with: { message: hi }\n", dir, "quick.yaml")
        let b = try binary(dir)
        let (first, _, _) = try b.start(["runbook", "run", slow])
        try waitUntil(30, "the first run to start its step") { ((try? journalEvents(dir)) ?? []).contains { $0.event == "step-started" } }
        let refused = try b.run(["runbook", "run", quick])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("error: stack is busy: run "), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("— wait for it to finish, or pass --wait-lock to queue behind it"), refused.stderr)
        let t0 = Date()
        let waited = try b.run(["runbook", "run", quick, "--wait-lock"])
        XCTAssertEqual(waited.status, 0, waited.stderr)
        XCTAssertTrue(waited.stderr.contains("waiting for run "), waited.stderr)
        XCTAssertGreaterThan(Date().timeIntervalSince(t0), 1, "it waited for the first run")
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        // The journals never interleave: the queued run started after the first one finished.
        let runs = runIds(dir).map { try? Journal.read(dir.appendingPathComponent(".fairflow/runs/\($0)/journal.jsonl").path) }.compactMap { $0 }
        let slowRun = runs.first { $0.contains { $0.step == "nap" } }!
        let quickRun = runs.first { $0.contains { $0.step == "hi" } }!
        XCTAssertLessThanOrEqual(slowRun.last!.time, quickRun.first!.time)
    }

    // MARK: the binary's contract

    func testConfirmWithoutYesAndWithoutTTYExits64AndYesRuns() throws {
        let dir = try scratch()
        let file = try write("steps:\n  - id: boom\n    uses: test.echo\n    confirm: true\n    with: { message: boom }\n", dir)
        let r = try binary(dir).run(["runbook", "run", file])
        XCTAssertEqual(r.status, 64)
        XCTAssertEqual(r.stderr, "error: confirmation needed: step boom must be confirmed and there is no terminal to ask on — pass --yes to confirm\n")
        XCTAssertEqual(runIds(dir), [])
        let y = try binary(dir).run(["runbook", "run", file, "--yes"])
        XCTAssertEqual(y.status, 0, y.stderr)
    }

    func testValidateOfTheBinaryPrintsPositionsAndExits64() throws {
        let dir = try scratch()
        let file = try write("steps:\n  - id: a\n    uses: test.echo\n    with: { mesage: hi }\n", dir)
        let r = try binary(dir).run(["runbook", "validate", file])
        XCTAssertEqual(r.status, 64)
        XCTAssertEqual(r.stderr, "\(file):4:13: unknown field 'mesage' in `with:` of step 'a' (test.echo takes: count, message, nested)\n1 problem in \(file)\n")
        let ok = try write("steps:\n  - id: a\n    uses: test.echo\n    with: { message: hi }\n", dir, "ok.yaml")
        let r2 = try binary(dir).run(["runbook", "validate", ok])
        XCTAssertEqual(r2.status, 0)
        XCTAssertEqual(r2.stdout, "\(ok): ok (1 steps)\n")
    }

    func testListShowsShippedAndLocalRunbooks() throws {
        let dir = try scratch()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("runbooks"), withIntermediateDirectories: true)
        _ = try write("name: mine\ndescription: my own\nsteps:\n  - id: a\n    uses: whoami\n", dir.appendingPathComponent("runbooks"), "mine.yaml")
        let r = try binary(dir).run(["runbook", "list"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        XCTAssertEqual(lines.first, ["mine", "local", "1", "my own"])
        let shipped = Set(lines.filter { $0.count > 1 && $0[1] == "shipped" }.map { $0[0] })
        XCTAssertEqual(shipped, ["bootstrap", "demo", "rotate-fernet", "scale-for-backfill", "teardown", "triage", "upgrade"])
    }
}

extension LiveRunbookTests {
    /// Every shipped runbook whose operations are all registered: a dry run sends no mutating request.
    func testDryRunOfEveryShippedRunbookMakesNoMutatingRequest() throws {
        let (_, proxy) = try peers()
        let dir = try scratch()
        var ran: [String] = [], waiting: [String] = []
        for name in ShippedRunbookTests.names {
            let path = ShippedRunbookTests.shippedDir.appendingPathComponent("\(name).yaml").path
            let rb = Runbook.parse(try String(contentsOfFile: path, encoding: .utf8), file: path).0!
            // Waiting: an operation not merged yet, or an Input that cannot decode the runbook's `with:` yet.
            guard Validator.validate(rb, operations: ShippedRunbookTests.registry).isEmpty else { waiting.append(name); continue }
            try proxy.clear()
            let r = try binary(dir).run(["runbook", "run", name, "--dry-run", "--stack", "rb-dry-\(name)"] + requiredInputs(rb))
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            XCTAssertEqual(try proxy.requests().filter { $0.mutating == true }.map { $0.operation ?? "?" }, [], name)
            ran.append(name)
        }
        print("shipped dry runs: ran \(ran.joined(separator: ", ")); waiting for operations: \(waiting.joined(separator: ", "))")
        if ProcessInfo.processInfo.environment["FAIRFLOW_REQUIRE_ALL_OPERATIONS"] == "1" { XCTAssertEqual(waiting, []) }
        if ran.isEmpty { throw XCTSkip("no shipped runbook has all its operations yet: \(waiting)") }
    }

    func requiredInputs(_ rb: Runbook) -> [String] {
        rb.inputs.filter { $0.required && $0.defaultValue == nil }.flatMap { ["--input", "\($0.name)=dry-run-value"] }
    }
}

extension LiveRunbookTests {
    /// The stack's life cycle with the real operations (deploy, diff, teardown): the dry run plans every step,
    /// marks the mutating calls and sends none.
    func testDryRunOfTheStackLifeCycleWithRealOperations() throws {
        let (_, proxy) = try peers()
        let dir = try scratch()
        let file = try write("""
        name: life-cycle
        steps:
          - id: who
            uses: whoami
          - id: preview
            uses: diff
          - id: deploy
            uses: deploy
            confirm: true
            with: { no-wait: false }
          - id: teardown
            uses: teardown
            confirm: true
            with: { keep-logs: true, delete-secrets: "${{ steps.deploy.outputs.stack != '' }}" }
        """, dir)
        let v = try binary(dir).run(["runbook", "validate", file])
        XCTAssertEqual(v.status, 0, v.stderr)
        try proxy.clear()
        let r = try binary(dir).run(["runbook", "run", file, "--dry-run", "--stack", "rb-life"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("3. deploy (deploy)  [asks to confirm]"), r.stdout)
        XCTAssertTrue(r.stdout.contains("* CloudFormation ExecuteChangeSet"), r.stdout)
        XCTAssertTrue(r.stdout.contains("with delete-secrets = <known after deploy>"), r.stdout)
        XCTAssertEqual(try proxy.requests().filter { $0.mutating == true }.map { $0.operation ?? "?" }, [])
    }
}

extension LiveRunbookTests {
    /// The real `secrets.init` as a step: SIGKILL while its second CreateSecret is held at the proxy, then resume.
    /// The end state is the three airflow-* secrets, each made once, their ARNs in the env file, and the admin
    /// password (a secret input) in AWS but in no journal.
    func testSecretsInitStepKilledMidwayResumesToTheSameSecrets() async throws {
        let (_, proxy) = try peers()
        let dir = try scratch()
        let envFile = dir.appendingPathComponent("envs/us-east-1.env").path
        try FileManager.default.createDirectory(atPath: dir.appendingPathComponent("envs").path, withIntermediateDirectories: true)
        let password = "admin-\(UUID().uuidString)"
        let file = try write("""
        name: secrets-only
        inputs:
          admin-password: { secret: true }
        steps:
          - id: secrets
            uses: secrets.init
            with: { admin-password: "${{ inputs.admin-password }}", flower-user: ops, rotate: [] }
          - id: again
            uses: secrets.init
            with: { flower-user: ops, rotate: [] }
        """, dir)
        try proxy.clear()
        try proxy.addRule(#"[{"operation": "CreateSecret", "kind": "delay", "delay_seconds": 0.01, "count": 1},"# +
                          #"{"operation": "CreateSecret", "kind": "delay", "delay_seconds": 3, "count": 1}]"#)
        let b = try binary(dir)
        let (p, _, _) = try b.start(["runbook", "run", file, "--env", envFile, "--input", "admin-password=\(password)"])
        try waitUntil(30, "the secrets step to start") { ((try? journalEvents(dir)) ?? []).contains { $0.event == "step-started" } }
        usleep(1_500_000)
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        try waitUntil(10, "the held create to reach AWS") { ((try? proxy.requests()) ?? []).filter { $0.operation == "CreateSecret" }.count >= 2 }
        let runId = runIds(dir)[0]
        // A secret input is not kept: resume asks for it again.
        let noPw = try b.run(["runbook", "resume", runId])
        XCTAssertEqual(noPw.status, 64)
        XCTAssertTrue(noPw.stderr.contains("input 'admin-password' is needed: it is secret, so the run did not keep it — pass --input admin-password=VALUE"), noPw.stderr)
        let r = try b.run(["runbook", "resume", runId, "--input", "admin-password=\(password)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let names = try await secretNames("airflow-")
        XCTAssertEqual(names, ["airflow-admin-password", "airflow-fernet-key", "airflow-flower-credentials"])
        let creates = try proxy.requests().filter { $0.operation == "CreateSecret" }
        XCTAssertEqual(Set(creates.compactMap(\.client_request_token)).count, 3, "one token per secret: \(creates.map { $0.client_request_token ?? "-" })")
        let stored = try await secrets().value("airflow-admin-password")
        XCTAssertEqual(stored, password, "the input reached the secret")
        let env = try String(contentsOfFile: envFile, encoding: .utf8)
        XCTAssertEqual(env.components(separatedBy: "arn:aws:secretsmanager:").count - 1, 3, env)
        let again = try journalEvents(dir).last { $0.step == "again" && $0.event == "step-succeeded" }
        XCTAssertEqual(again?.outputs?["secrets"].map { v -> [String] in
            guard case .array(let a) = v else { return [] }
            return a.compactMap { $0["action"]?.description }
        }, ["kept", "kept", "kept"], "a second secrets.init keeps all three")
        let runDir = dir.appendingPathComponent(".fairflow/runs/\(runId)")
        for f in try FileManager.default.contentsOfDirectory(atPath: runDir.path) {
            XCTAssertFalse(try String(contentsOf: runDir.appendingPathComponent(f), encoding: .utf8).contains(password), f)
        }
    }
}

/// runbooks/demo.yaml needs the stack running (`scripts/local-aws --run`): `scripts/demo` runs it, and
/// scripts/localaws/tests/runtime/test_stack_runs.py runs the same steps against the running stack. Here:
/// against the plain local AWS, its dry run plans every step, and the steps that change things say so.
final class DemoRunbookTests: XCTestCase {
    func testDemoRunbookPlansEveryStep() throws {
        let local: LocalAWS
        do { local = try LocalAWS() } catch {
            if ProcessInfo.processInfo.environment["FAIRFLOW_REQUIRE_PEERS"] == "1" { XCTFail("local AWS did not start: \(error)") }
            throw XCTSkip("local AWS not started: \(error)")
        }
        defer { local.stop() }
        let dir = try scratch()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("envs"), withIntermediateDirectories: true)
        _ = try write("# fairflow demo\nDAG_REPOSITORY=file:///tmp/dags.git\nIP_WHITELIST=\n",
                      dir.appendingPathComponent("envs"), "us-east-1.env")
        var env = local.environment
        env["FAIRFLOW_RUNBOOKS_DIR"] = Repo.root.appendingPathComponent("runbooks").path
        let r = try Binary(environment: env, cwd: dir).run(["runbook", "run", "demo", "--dry-run", "--env", "envs/us-east-1.env"], timeout: 120)
        XCTAssertEqual(r.status, 0, r.stderr)
        let steps = ["whoami", "secrets", "preflight", "deploy", "status", "meaning-of-life", "task-log", "scheduler-logs",
                     "dags-on-efs", "database", "resync", "external-tasks", "scale", "workers", "teardown"]
        for (i, step) in steps.enumerated() { XCTAssertTrue(r.stdout.contains("\(i + 1). \(step) ("), "\(step) not planned: \(r.stdout)") }
        XCTAssertTrue(r.stdout.contains("  * CloudFormation CreateChangeSet"), r.stdout)
        XCTAssertTrue(r.stdout.contains("SSM SendCommand AWS-RunShellScript"), "db check goes through the bastion's SSM agent: \(r.stdout)")
    }
}
