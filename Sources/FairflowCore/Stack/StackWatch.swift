import AWSCore
import AWSServices
import Foundation

/// Follows a stack operation to its end: events rendered as they come, throttling answered by slower
/// polling, Ctrl-C answered by `onInterrupt` (cancel or delete) and exit 130.
public enum StackWatch {
    public static let successStatuses: Set<String> = ["CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"]

    public static func isTerminal(_ status: String) -> Bool {
        !status.hasSuffix("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS"
    }

    public struct Result: Sendable {
        public var status: String
        public var events: [StackEvent]
        public var summary: StackSummary?
    }

    /// What to do about a stall verdict: keep following, or clean up as Ctrl-C does and fail.
    public enum StallResponse: Sendable { case keepWaiting, stop }

    /// Polls until the stack reaches a terminal status. `deleting`: "does not exist" means done.
    /// `stall`: watches the ECS services the stack waits on; `onStall` decides what a verdict means.
    public static func follow(stack: String, since: Date, context: Context, deleting: Bool = false,
                              onInterrupt: (@Sendable () async throws -> Void)? = nil,
                              stall: StallWatch? = nil,
                              onStall: (@Sendable (StallVerdict) async throws -> StallResponse)? = nil) async throws -> Result {
        let cfn = CloudFormation(try context.aws())
        let renderer = StackProgressRenderer(mode: StackProgressRenderer.mode(for: context), terminal: context.terminal, stackName: stack)
        var stream = StackEventStream()
        var all: [StackEvent] = []
        let base = Double(context.environment["FAIRFLOW_POLL_SECONDS"] ?? "") ?? 2
        var delay = base
        var interruptHandled = false
        InterruptFlag.shared.install()
        let horizon = since.addingTimeInterval(-5)  // clock skew between us and CloudFormation
        while true {
            if InterruptFlag.shared.isRaised && !interruptHandled {
                interruptHandled = true
                if let handler = onInterrupt {
                    try await handler()
                    // Keep following so the user sees the cancel/rollback finish; then report the interrupt.
                    _ = try? await follow(stack: stack, since: Date(), context: context, deleting: deleting, onInterrupt: nil)
                }
                throw Interrupted()
            }
            do {
                let batch = try await cfn.events(stack, since: horizon)
                let fresh = stream.accept(batch)
                all += fresh
                if let w = stall {
                    w.observe(fresh)
                    var verdict: StallVerdict?
                    do { verdict = try await w.check() } catch {
                        context.terminal.note("stall detector: cannot read ECS: \(ErrorReport.message(for: error))")
                    }
                    renderer.footer = w.waitingLines
                    if verdict != nil { renderer.detach() }
                    if let v = verdict, let decide = onStall, try await decide(v) == .stop {
                        var final: Result?
                        var cleanup: String?
                        if let handler = onInterrupt {
                            // A clean-up that fails must not hide the verdict.
                            do {
                                try await handler()
                                final = try? await follow(stack: stack, since: Date(), context: context, deleting: deleting, onInterrupt: nil)
                            } catch { cleanup = ErrorReport.message(for: error) }
                        }
                        throw DeployStalled(verdict: v, stack: stack, finalStatus: final?.status, cleanupError: cleanup)
                    }
                }
                renderer.render(fresh)
                let summary: StackSummary?
                if deleting {
                    summary = try await cfn.stackIfExists(stack)
                    if summary == nil || summary?.status == "DELETE_COMPLETE" {
                        return Result(status: "DELETE_COMPLETE", events: all, summary: summary)
                    }
                } else {
                    summary = try await cfn.stack(stack)
                }
                if let s = summary, isTerminal(s.status) {
                    // One last read: the final events often land after the status flips.
                    let tail = stream.accept(try await cfn.events(stack, since: horizon))
                    all += tail
                    renderer.render(tail)
                    return Result(status: s.status, events: all, summary: s)
                }
                delay = max(base, delay * 0.8)
            } catch let e as RetriesExhausted where (e.last as? AWSError)?.isThrottling ?? false {
                delay = min(30, delay * 2)
                context.terminal.note("CloudFormation is throttling; polling every \(Int(delay)) s")
            } catch let e as AWSError where e.isThrottling {
                delay = min(30, delay * 2)
            } catch CloudFormationError.stackNotFound where deleting {
                return Result(status: "DELETE_COMPLETE", events: all, summary: nil)
            }
            try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
        }
    }

    /// The first resource that failed, and why (skipping the cascade of "cancelled" failures).
    public static func firstFailure(_ events: [StackEvent]) -> StackEvent? {
        let failed = events.filter { $0.status.hasSuffix("_FAILED") && $0.resourceType != "AWS::CloudFormation::Stack" }
        return failed.first { !($0.reason ?? "").contains("cancelled") } ?? failed.first
    }
}

/// A deploy stopped by the stall detector: the verdict, and where the clean-up left the stack.
public struct DeployStalled: Error, CustomStringConvertible {
    public let verdict: StallVerdict
    public let stack: String
    public let finalStatus: String?
    public var cleanupError: String?

    public init(verdict: StallVerdict, stack: String, finalStatus: String?, cleanupError: String? = nil) {
        self.verdict = verdict
        self.stack = stack
        self.finalStatus = finalStatus
        self.cleanupError = cleanupError
    }

    public var description: String {
        var after = finalStatus.map { "the stack is now \($0)" } ?? "the clean-up was started"
        if let e = cleanupError { after = "the clean-up failed (\(e)): cancel the update or delete the stack yourself" }
        return "deploy of stack \(stack) stalled: \(verdict.summary) — \(verdict.whatToDo); \(after)"
    }
}
