import AWSCore
import FairflowCore
import Foundation


/// Runs, resumes and dry-runs runbooks over a set of operations.
public final class RunbookRunner: @unchecked Sendable {
    /// The run's global options; `resume` takes the stack, region, endpoint and env file the run started with.
    public private(set) var settings: GlobalSettings
    public let terminal: Terminal
    public let operations: [String: any FairflowOperation.Type]
    /// Builds each step's context (tests inject an HTTP client here).
    public var makeContext: @Sendable (GlobalSettings, Terminal) -> Context = { Context(settings: $0, terminal: $1) }
    /// The caller identity recorded in the journal; nil to skip (unit tests without AWS).
    public var identity: (@Sendable (Context) async -> JSONValue?)? = RunbookRunner.whoami
    public var sleep: @Sendable (TimeInterval) async throws -> Void = { try await Task.sleep(nanoseconds: UInt64($0 * 1e9)) }
    /// Called after each step event is journaled (tests use it to kill at boundaries).
    public var afterEvent: (@Sendable (JournalEvent) -> Void)?

    public init(settings: GlobalSettings, terminal: Terminal, operations: [String: any FairflowOperation.Type]) {
        self.settings = settings
        self.terminal = terminal
        self.operations = operations
    }

    // MARK: run

    public func run(_ runbook: Runbook, options: RunOptions) async throws -> RunSummary {
        try check(runbook)
        var redactor = Redactor()
        let inputs = try resolveInputs(runbook, given: options.inputs, stored: nil, redactor: &redactor)
        try preflightConfirm(runbook)
        let runId = RunbookRunner.newRunId()
        let lock = StackLock(directory: fairflowDir(options), stack: settings.stack)
        try lock.acquire(runId: runId, wait: options.waitLock) { self.terminal.note("waiting for \($0) to release the stack lock…") }
        defer { lock.release() }
        let dir = runDir(options, runId)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(runbook.source.utf8).write(to: URL(fileURLWithPath: "\(dir)/runbook.yaml"))
        let record = RunRecord(runId: runId, file: runbook.file, name: runbook.name, stack: settings.stack, region: settings.region,
                               endpointURL: settings.endpointURL, envFile: settings.envFile,
                               inputs: Dictionary(uniqueKeysWithValues: inputs.map { k, v in
                                   (k, runbook.inputs.first { $0.name == k }?.secret == true || Redactor.isSecretKey(k) ? .string(Redactor.mark) : v)
                               }), created: Date())
        try writeJSON(record, to: "\(dir)/run.json")
        let journal = try Journal(path: "\(dir)/journal.jsonl")
        var start = JournalEvent(event: "run-started", runId: runId)
        start.runbook = runbook.name
        start.stack = settings.stack
        start.inputs = redactor.redact(.object(inputs)).0
        start.identity = await callerIdentity()
        try journal.append(start)
        terminal.note("run \(runId): \(runbook.name), \(runbook.steps.count) steps (journal \(dir)/journal.jsonl)")
        return try await execute(runbook, runId: runId, inputs: inputs, journal: journal, redactor: redactor, done: [:])
    }

    // MARK: resume

    public func resume(runId: String, options: RunOptions) async throws -> RunSummary {
        let dir = runDir(options, runId)
        guard let recData = FileManager.default.contents(atPath: "\(dir)/run.json") else {
            throw FairflowError.usage("no run \(runId)", why: "\(dir)/run.json does not exist",
                                      fix: "list runs with `ls .fairflow/runs` in the directory the run started in")
        }
        let dec = JSONDecoder(); dec.dateDecodingStrategy = .iso8601
        let record = try dec.decode(RunRecord.self, from: recData)
        if settings.stack != record.stack {
            terminal.note("resuming on stack \(record.stack), the stack run \(runId) started on")
        }
        settings.stack = record.stack
        settings.region = settings.region ?? record.region
        settings.endpointURL = settings.endpointURL ?? record.endpointURL
        settings.envFile = settings.envFile ?? record.envFile
        let source = try String(contentsOfFile: "\(dir)/runbook.yaml", encoding: .utf8)
        let (parsed, diags) = Runbook.parse(source, file: record.file)
        guard let runbook = parsed, diags.isEmpty else { throw RunbookInvalid(diagnostics: diags) }
        try check(runbook)
        let events = try Journal.read("\(dir)/journal.jsonl")
        if let last = events.last(where: { $0.event == "run-finished" }), last.outcome == "succeeded",
           !events.contains(where: { $0.event == "run-resumed" && $0.time > last.time }) {
            terminal.note("run \(runId) already succeeded; nothing to resume")
            return summary(runbook, runId: runId, journal: "\(dir)/journal.jsonl", results: finalResults(runbook, events), failed: false)
        }
        var redactor = Redactor()
        var given = options.inputs
        for (k, v) in record.inputs where given[k] == nil {
            if v == .string(Redactor.mark) { continue }
            given[k] = v.description
        }
        let inputs = try resolveInputs(runbook, given: given, stored: record.inputs, redactor: &redactor)
        let lock = StackLock(directory: fairflowDir(options), stack: record.stack)
        try lock.acquire(runId: runId, wait: options.waitLock) { self.terminal.note("waiting for \($0) to release the stack lock…") }
        defer { lock.release() }
        // What already happened, step by step (the last word on each step wins).
        var done: [String: JournalEvent] = [:]
        for e in events {
            guard let s = e.step else { continue }
            switch e.event {
            case "step-succeeded", "step-skipped": done[s] = e
            case "step-failed" where e.outcome == "failed": done[s] = e
            case "step-started": done[s] = nil
            default: break
            }
        }
        // A step whose stop-failure ended the run runs again; so does one whose secret outputs a pending step needs.
        for (s, e) in done where e.event == "step-failed" {
            if runbook.step(s)?.onFailure == .stop { done[s] = nil }
        }
        let pendingRefs = Set(runbook.steps.filter { done[$0.id] == nil }.flatMap { references(of: $0) }.compactMap(\.step))
        for (s, e) in done where e.event == "step-succeeded" && !(e.redacted ?? []).isEmpty && pendingRefs.contains(s) {
            terminal.note("step \(s): its secret outputs are not journaled and a later step needs them; running it again (same idempotency tokens)")
            done[s] = nil
        }
        let journal = try Journal(path: "\(dir)/journal.jsonl")
        var ev = JournalEvent(event: "run-resumed", runId: runId)
        ev.runbook = runbook.name
        ev.stack = record.stack
        ev.identity = await callerIdentity()
        try journal.append(ev)
        terminal.note("resuming run \(runId): \(done.count) of \(runbook.steps.count) steps already done")
        return try await execute(runbook, runId: runId, inputs: inputs, journal: journal, redactor: redactor, done: done)
    }

    // MARK: the loop

    func execute(_ runbook: Runbook, runId: String, inputs: [String: JSONValue], journal: Journal, redactor initial: Redactor,
                 done: [String: JournalEvent]) async throws -> RunSummary {
        var redactor = initial
        var scope = Scope()
        scope.inputs = inputs
        scope.runId = runId
        scope.stack = settings.stack
        var results: [String: StepResult] = [:]
        var stopped = false
        var failed = false
        var i = 0
        while i < runbook.steps.count {
            let step = runbook.steps[i]
            let label = "[\(i + 1)/\(runbook.steps.count)] \(step.id) (\(step.uses))"
            if let prior = done[step.id] {
                let outcome = prior.event == "step-succeeded" ? "succeeded" : prior.event == "step-skipped" ? "skipped" : "failed"
                scope.outcomes[step.id] = outcome
                if let o = prior.outputs { scope.outputs[step.id] = o }
                results[step.id] = StepResult(id: step.id, uses: step.uses, outcome: outcome, attempts: prior.attempt ?? 0, outputs: prior.outputs,
                                              error: prior.error, durationSeconds: prior.durationSeconds, reused: true)
                terminal.note("\(label): \(outcome) earlier — not run again")
                if outcome == "failed" {
                    failed = failed || step.onFailure != .continue
                    scope.runFailed = failed
                    if case .goto(let t) = step.onFailure, let j = runbook.index(of: t) { i = j; continue }
                }
                i += 1
                continue
            }
            // when:
            if let w = step.when {
                let go: Bool
                do { go = try whenExpression(w).evaluate(scope).isTruthy } catch {
                    throw FairflowError("step \(step.id): `when:` cannot be evaluated", why: "\(error)", fix: "fix the expression in \(runbook.file)")
                }
                if !go {
                    var e = JournalEvent(event: "step-skipped", runId: runId, step: step.id)
                    e.uses = step.uses
                    try journal.append(e)
                    afterEvent?(e)
                    scope.outcomes[step.id] = "skipped"
                    results[step.id] = StepResult(id: step.id, uses: step.uses, outcome: "skipped", attempts: 0)
                    terminal.note("\(label): skipped (when: \(w))")
                    i += 1
                    continue
                }
            }
            var raw: JSONValue?
            let result = try await runStep(step, label: label, runId: runId, scope: scope, journal: journal, redactor: &redactor, scopeOutputs: &raw)
            results[step.id] = result
            scope.outcomes[step.id] = result.outcome
            if let o = raw { scope.outputs[step.id] = o }
            if result.outcome == "failed" {
                switch step.onFailure {
                case .stop: failed = true; stopped = true
                case .continue: terminal.note("\(label): failure ignored (on-failure: continue)")
                case .goto(let t):
                    failed = true
                    scope.runFailed = true
                    terminal.note("\(label): on-failure → \(t)")
                    i = runbook.index(of: t) ?? runbook.steps.count
                    continue
                }
                scope.runFailed = failed
                if stopped { break }
            }
            i += 1
        }
        var fin = JournalEvent(event: "run-finished", runId: runId)
        fin.outcome = failed ? "failed" : "succeeded"
        try journal.append(fin)
        let ordered = runbook.steps.map { results[$0.id] ?? StepResult(id: $0.id, uses: $0.uses, outcome: "not-run", attempts: 0) }
        let s = summary(runbook, runId: runId, journal: journal.path, results: ordered, failed: failed)
        if failed && stopped {
            terminal.note("run \(runId) stopped at a failed step — fix the cause, then `fairflow runbook resume \(runId)`")
        }
        return s
    }

    func summary(_ runbook: Runbook, runId: String, journal: String, results: [StepResult], failed: Bool) -> RunSummary {
        RunSummary(runId: runId, runbook: runbook.name, status: failed ? "failed" : "succeeded", journal: journal, steps: results,
                   exitStatus: failed ? ExitStatus.failed.rawValue : 0)
    }

    func finalResults(_ runbook: Runbook, _ events: [JournalEvent]) -> [StepResult] {
        runbook.steps.map { step in
            let last = events.last { $0.step == step.id && $0.event != "step-started" }
            let outcome = last.map { $0.event == "step-succeeded" ? "succeeded" : $0.event == "step-skipped" ? "skipped" : "failed" } ?? "not-run"
            return StepResult(id: step.id, uses: step.uses, outcome: outcome, attempts: last?.attempt ?? 0, outputs: last?.outputs,
                              error: last?.error, durationSeconds: last?.durationSeconds, reused: true)
        }
    }

    /// One step: substitute, confirm, attempt with retries and backoff, journal every attempt.
    func runStep(_ step: Step, label: String, runId: String, scope: Scope, journal: Journal, redactor: inout Redactor,
                 scopeOutputs: inout JSONValue?) async throws -> StepResult {
        let op = operations[step.uses]!
        let seed = "\(runId)/\(step.id)"
        let with: JSONValue
        do { with = try (step.with?.json ?? .object([:])).substituting(scope) } catch {
            var e = JournalEvent(event: "step-failed", runId: runId, step: step.id)
            e.uses = step.uses; e.outcome = "failed"; e.error = "bad reference: \(error)"; e.attempt = 0
            try journal.append(e); afterEvent?(e)
            terminal.note("\(label): failed — \(error)")
            return StepResult(id: step.id, uses: step.uses, outcome: "failed", attempts: 0, error: e.error)
        }
        redactor.learn(with)
        var timeout = step.timeout
        if let te = step.timeoutExpression {
            let v = try? Template.parse(te).evaluate(scope)
            guard let d = v.flatMap(Duration.parse) else {
                throw FairflowError.usage("step \(step.id): `timeout:` is not a duration", why: "\(te) gives '\(v?.description ?? "?")'", fix: "pass a duration like 30m")
            }
            timeout = d
        }
        var stepSettings = settings
        if step.confirm {
            let ctx = makeContext(settings, terminal)
            try ctx.confirm("Step '\(step.id)' runs `fairflow \(step.uses.replacingOccurrences(of: ".", with: " "))` on stack \(settings.stack). Go on?")
            stepSettings.yes = true  // confirmed once for the step; the operation does not ask again
        }
        let attempts = step.retries + 1
        var lastError = ""
        var lastOutputs: JSONValue?
        for attempt in 1...attempts {
            let records = CallLog()
            let context = makeContext(stepSettings, terminal)
            context.idempotencySeed = seed
            context.callObserver = { records.add($0) }
            var started = JournalEvent(event: "step-started", runId: runId, step: step.id)
            started.uses = step.uses
            started.attempt = attempt
            started.inputs = redactor.redact(with).0
            started.idempotencySeed = seed
            try journal.append(started)
            afterEvent?(started)
            terminal.note("\(label): running\(attempt > 1 ? " (attempt \(attempt) of \(attempts))" : "")…")
            let t0 = Date()
            var retriable = true
            do {
                let box = OpBox(op)
                let r = try await withTimeout(timeout, step: step.id) { try await StepAdapter.run(box.op, with: with, context: context) }
                redactor.learn(r.output)
                let (outJ, redactedPaths) = redactor.redact(r.output)
                let duration = Date().timeIntervalSince(t0)
                if r.exitStatus == .ok {
                    var e = JournalEvent(event: "step-succeeded", runId: runId, step: step.id)
                    e.uses = step.uses; e.attempt = attempt; e.outputs = outJ; e.redacted = redactedPaths.isEmpty ? nil : redactedPaths
                    e.requestIds = records.requests; e.idempotencySeed = seed; e.durationSeconds = duration; e.outcome = "succeeded"
                    try journal.append(e)  // fsynced before the effect is reported
                    afterEvent?(e)
                    terminal.note("\(label): ok in \(Duration.format(duration))")
                    show(r.text, redactor)
                    scopeOutputs = r.output
                    return StepResult(id: step.id, uses: step.uses, outcome: "succeeded", attempts: attempt, outputs: outJ, durationSeconds: duration)
                }
                lastOutputs = r.output
                scopeOutputs = r.output
                lastError = "\(step.uses) exited \(r.exitStatus.rawValue)"
                show(r.text, redactor)
            } catch {
                lastError = ErrorReport.message(for: error)
                let status = ErrorReport.status(for: error)
                retriable = !(status == .usage || status == .interrupted || error is MutationRefused)
            }
            let final = attempt == attempts || !retriable
            var e = JournalEvent(event: "step-failed", runId: runId, step: step.id)
            e.uses = step.uses; e.attempt = attempt; e.error = redactor.mask(lastError); e.requestIds = records.requests
            e.idempotencySeed = seed; e.durationSeconds = Date().timeIntervalSince(t0); e.outcome = final ? "failed" : "retrying"
            if let o = lastOutputs { let (r, p) = redactor.redact(o); e.outputs = r; e.redacted = p.isEmpty ? nil : p }
            try journal.append(e)
            afterEvent?(e)
            if final {
                terminal.note("\(label): failed — \(redactor.mask(lastError))")
                return StepResult(id: step.id, uses: step.uses, outcome: "failed", attempts: attempt, outputs: e.outputs, error: redactor.mask(lastError),
                                  durationSeconds: e.durationSeconds)
            }
            let delay = step.backoff * pow(2, Double(attempt - 1))
            terminal.note("\(label): failed — \(redactor.mask(lastError)); retrying in \(Duration.format(delay))")
            try await sleep(delay)
        }
        fatalError("unreachable")
    }

    /// A step's text output, as its command would print it, with known secrets masked.
    func show(_ text: String, _ redactor: Redactor) {
        guard settings.output == .text, !text.isEmpty else { return }
        let t = redactor.mask(text)
        terminal.write(t.hasSuffix("\n") ? t : t + "\n")
    }

}

/// The AWS calls of one attempt, from the context's observer.
final class CallLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [AWSRequest] = []
    func add(_ r: AWSCallRecord) {
        lock.withLock { list.append(AWSRequest(call: "\(r.service) \(r.operation)", requestId: r.requestId, status: r.status, mutating: r.mutating)) }
    }
    var requests: [AWSRequest]? { lock.withLock { list.isEmpty ? nil : list } }
}

public struct StepTimedOut: Error, CustomStringConvertible {
    public var step: String
    public var after: TimeInterval
    public var description: String { "step \(step) timed out after \(Duration.format(after)) — raise its `timeout:` or check why it hangs" }
}

/// Races the work against a deadline; on timeout the work is cancelled and we move on without waiting for it.
func withTimeout<T: Sendable>(_ seconds: TimeInterval?, step: String, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    guard let seconds else { return try await work() }
    let once = Once()
    let task = Task { try await work() }
    return try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, Error>) in
        Task {
            do { let v = try await task.value; if once.claim() { cont.resume(returning: v) } } catch { if once.claim() { cont.resume(throwing: error) } }
        }
        Task {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            if once.claim() { task.cancel(); cont.resume(throwing: StepTimedOut(step: step, after: seconds)) }
        }
    }
}

/// Whoever claims first resumes the continuation.
final class Once: @unchecked Sendable {
    let lock = NSLock()
    var done = false
    func claim() -> Bool { lock.withLock { if done { return false }; done = true; return true } }
}

/// Operation types are plain metatypes with no state.
struct OpBox: @unchecked Sendable {
    let op: any FairflowOperation.Type
    init(_ op: any FairflowOperation.Type) { self.op = op }
}
