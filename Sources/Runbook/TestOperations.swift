// TEST-ONLY operations. They exist so runbook tests (and SIGKILL tests of the built binary) can prove
// retries, timeouts, idempotent resume and redaction before the real operations land. The CLI registers
// them only when FAIRFLOW_TEST_OPERATIONS=1; their ids all start with `test.`. They touch nothing but
// the secret names a test passes them and `.fairflow/test-state/` in the working directory.
import AWSCore
import AWSServices
import Crypto
import FairflowCore
import Foundation

public enum TestOperations {
    public static let all: [any FairflowOperation.Type] = [TestSecretCreate.self, TestSecretRead.self, TestEcho.self, TestFlaky.self, TestSleep.self]

    /// Registered only with FAIRFLOW_TEST_OPERATIONS=1.
    public static func enabled(_ environment: [String: String]) -> [any FairflowOperation.Type] {
        environment["FAIRFLOW_TEST_OPERATIONS"] == "1" ? all : []
    }
}

extension TestOperations {
    /// FAIRFLOW_TEST_KILL_AT=<event>:<step> (with FAIRFLOW_TEST_OPERATIONS=1): the process SIGKILLs itself right
    /// after journaling that event, so tests can cut a run at an exact step boundary.
    public static func killHook(_ environment: [String: String]) -> (@Sendable (JournalEvent) -> Void)? {
        guard environment["FAIRFLOW_TEST_OPERATIONS"] == "1", let at = environment["FAIRFLOW_TEST_KILL_AT"] else { return nil }
        return { e in if "\(e.event):\(e.step ?? "")" == at { kill(getpid(), SIGKILL) } }
    }
}

public struct TestOutput: OperationOutput {
    public var values: [String: JSONValue]
    public init(_ v: [String: JSONValue]) { values = v }
    public func encode(to encoder: Encoder) throws { try JSONValue.object(values).encode(to: encoder) }
    public func renderText(_ t: Terminal) -> String {
        values.keys.sorted().filter { !Redactor.isSecretKey($0) }.map { "\($0)\t\(values[$0]!.description)\n" }.joined()
    }
}

/// Creates a secret with a ClientRequestToken from `context.idempotencyToken`: a resumed step sends the
/// same token and the same value, so AWS returns the first attempt's secret instead of making another.
public enum TestSecretCreate: FairflowOperation {
    public static let id = "test.secret.create"
    public static let summary = "TEST ONLY: create a secret idempotently."
    public struct Input: Codable, Sendable {
        public var name: String
        public var pauseBeforeSeconds: Double?
        public init(name: String, pauseBeforeSeconds: Double? = nil) { self.name = name; self.pauseBeforeSeconds = pauseBeforeSeconds }
    }
    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        _ = try? await SecretsManager(try context.aws()).describe(input.name)  // a read the dry run may make
        return [PlannedAction("SecretsManager DescribeSecret", detail: input.name),
                PlannedAction("SecretsManager CreateSecret", mutating: true, detail: input.name)]
    }
    public static func run(_ input: Input, context: Context) async throws -> TestOutput {
        if let p = input.pauseBeforeSeconds { try await Task.sleep(nanoseconds: UInt64(p * 1e9)) }
        let sm = SecretsManager(try context.aws())
        let token = context.idempotencyToken("create \(input.name)")
        // The value follows the token, so a replay carries the same value (AWS then answers idempotently).
        let value = Data(SHA256.hash(data: Data("value|\(token)".utf8))).base64EncodedString()
        let arn = try await sm.create(name: input.name, value: value, tags: ["fairflow-test": "runbook"], token: token)
        return TestOutput(["name": .string(input.name), "arn": .string(arn)])
    }
}

/// Reads a secret's value into an output field whose name marks it secret.
public enum TestSecretRead: FairflowOperation {
    public static let id = "test.secret.read"
    public static let summary = "TEST ONLY: read a secret's value."
    public struct Input: Codable, Sendable { public var name: String }
    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("SecretsManager GetSecretValue", detail: input.name)]
    }
    public static func run(_ input: Input, context: Context) async throws -> TestOutput {
        let v = try await SecretsManager(try context.aws()).value(input.name)
        return TestOutput(["name": .string(input.name), "secretValue": .string(v), "length": .int(Int64(v.count))])
    }
}

public enum TestEcho: FairflowOperation {
    public static let id = "test.echo"
    public static let summary = "TEST ONLY: return its input."
    public struct Input: Codable, Sendable {
        public var message: String
        public var count: Int?
        public var nested: Nested?
        public struct Nested: Codable, Sendable { public var value: String }
    }
    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("echo", detail: input.message)]
    }
    public static func run(_ input: Input, context: Context) async throws -> TestOutput {
        var o: [String: JSONValue] = ["message": .string(input.message), "count": .int(Int64(input.count ?? 0)),
                                      "info": .object(["length": .int(Int64(input.message.count)), "words": .array(input.message.split(separator: " ").map { .string(String($0)) })])]
        if let n = input.nested { o["nested"] = .string(n.value) }
        return TestOutput(o)
    }
}

/// Fails its first `failures` runs (counted in FAIRFLOW_TEST_STATE_DIR, else `.fairflow/test-state/`), then succeeds.
public enum TestFlaky: FairflowOperation {
    public static let id = "test.flaky"
    public static let summary = "TEST ONLY: fail N times, then succeed."
    public struct Input: Codable, Sendable { public var name: String; public var failures: Int }
    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] { [PlannedAction("flaky", detail: input.name)] }
    public static func run(_ input: Input, context: Context) async throws -> TestOutput {
        let dir = context.environment["FAIRFLOW_TEST_STATE_DIR"] ?? FileManager.default.currentDirectoryPath + "/.fairflow/test-state"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = "\(dir)/\(input.name)"
        let n = (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0) } ?? 0
        try "\(n + 1)".write(toFile: path, atomically: true, encoding: .utf8)
        if n < input.failures {
            throw FairflowError("test.flaky \(input.name) failed", why: "attempt \(n + 1) of the \(input.failures) planned failures")
        }
        return TestOutput(["name": .string(input.name), "calls": .int(Int64(n + 1))])
    }
}

public enum TestSleep: FairflowOperation {
    public static let id = "test.sleep"
    public static let summary = "TEST ONLY: sleep."
    public struct Input: Codable, Sendable { public var seconds: Double }
    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] { [PlannedAction("sleep", detail: "\(input.seconds)s")] }
    public static func run(_ input: Input, context: Context) async throws -> TestOutput {
        try await Task.sleep(nanoseconds: UInt64(input.seconds * 1e9))
        return TestOutput(["slept": .double(input.seconds)])
    }
}
