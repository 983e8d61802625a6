import ArgumentParser
import FairflowCore

extension OnStall: ExpressibleByArgument {}

struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy", abstract: Deploy.summary,
        discussion: """
        While CloudFormation waits on ECS services, fairflow watches their events, rollouts and stopped tasks.
        A slow deploy shows what it waits for (tasks provisioning, image pulls, health check start periods).
        The same failure twice, or the circuit breaker tripping, is a stall: one verdict (component, ECS's
        reason, exit code, the failing container's last 10 log lines, what to do), then --on-stall decides:
        rollback (cancel the update / delete the new stack, exit 1), wait (keep waiting), fail (the same
        clean-up as Ctrl-C, exit 1; the default without a terminal). On a terminal, fairflow asks.
        """)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var modeOptions: ModeOptions
    @Flag(name: .customLong("no-wait"), help: "Start the change set and return without following it.")
    var noWait = false
    @Option(name: .customLong("on-stall"), help: "When a deploy stalls: rollback, wait or fail (default: ask on a terminal, else fail).")
    var onStall: OnStall?

    func run() async throws {
        var input = Deploy.Input()
        input.mode = modeOptions.mode
        input.noWait = noWait
        input.onStall = onStall
        try await CommandRunner.run(Deploy.self, input, globals: globals)
    }
}

struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "diff", abstract: Diff.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var modeOptions: ModeOptions
    @Flag(name: .customLong("exit-code"), help: "Exit 2 when there are changes, 0 when none (Terraform's convention).")
    var exitCode = false

    func run() async throws {
        var input = Diff.Input()
        input.mode = modeOptions.mode
        input.exitCode = exitCode
        try await CommandRunner.run(Diff.self, input, globals: globals)
    }
}

struct TeardownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "teardown", abstract: Teardown.summary)
    @OptionGroup var globals: GlobalOptions
    @Flag(name: .customLong("keep-logs"), help: "Keep the log groups and the task-logs bucket.")
    var keepLogs = false
    @Flag(name: .customLong("delete-secrets"), help: "Schedule the airflow-* secrets for deletion (7-day recovery window).")
    var deleteSecrets = false
    @Flag(name: .customLong("keep-snapshot"), help: "Keep the database's final snapshot.")
    var keepSnapshot = false
    @Flag(name: .customLong("retain-failed"), help: "After DELETE_FAILED, delete the stack again keeping the resources that failed.")
    var retainFailed = false

    func run() async throws {
        var input = Teardown.Input()
        input.keepLogs = keepLogs
        input.deleteSecrets = deleteSecrets
        input.keepSnapshot = keepSnapshot
        input.retainFailed = retainFailed
        try await CommandRunner.run(Teardown.self, input, globals: globals)
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: Status.summary,
        discussion: """
        Unhealthy (exit 3), each naming the component and the evidence: the stack not in a complete state;
        a service short of its desired count, its deployment FAILED or IN_PROGRESS past its expected time
        (10 min plus the health-check grace period); a container whose health check fails; a service behind
        the ALB with no registered, healthy target; the database or Redis not available; EFS not available.
        --watch redraws (on stderr) until healthy or --timeout, then prints the final state.
        """)
    @OptionGroup var globals: GlobalOptions
    @Flag(help: "Check again every --interval until healthy (exit 0) or --timeout (exit 3).")
    var watch = false
    @Option(help: ArgumentHelp("With --watch: give up after this long (90s, 10m, 1h).", valueName: "duration"))
    var timeout = "10m"
    @Option(help: ArgumentHelp("With --watch: time between checks.", valueName: "duration"))
    var interval = "10s"

    func validate() throws {
        guard let t = parseDuration(timeout), t > 0 else { throw ValidationError("--timeout: '\(timeout)' is not a duration like 90s, 10m or 1h") }
        guard let i = parseDuration(interval), i > 0 else { throw ValidationError("--interval: '\(interval)' is not a duration like 5s or 1m") }
        _ = (t, i)
    }

    func run() async throws {
        var input = Status.Input(watch: watch, timeoutSeconds: Int(parseDuration(timeout) ?? 600))
        input.intervalSeconds = parseDuration(interval) ?? 10
        try await CommandRunner.run(Status.self, input, globals: globals)
    }
}

struct TimelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline", abstract: Timeline.summary,
        discussion: """
        Sources: CloudFormation stack events, ECS service events and stopped tasks (with reasons and exit codes),
        target health (its state now: the API keeps no history), RDS and ElastiCache events, Application Auto
        Scaling activities, and the runbook journals under ./.fairflow/runs. A source that cannot be read is
        named on stderr and the rest is shown. A table on a terminal, tab-separated lines on a pipe.
        """)
    @OptionGroup var globals: GlobalOptions
    @Option(help: "Start this long ago (30m, 2h, 3d) or at an ISO-8601 time.")
    var since = "2h"
    @Option(help: "Only this component (api-server, scheduler, worker, database, redis, alb, stack, runbook, ...).")
    var component: String?

    func validate() throws {
        do { try Timeline.validate(Timeline.Input(since: since, component: component)) } catch let e as FairflowError {
            throw ValidationError(e.description)
        }
    }

    func run() async throws {
        try await CommandRunner.run(Timeline.self, Timeline.Input(since: since, component: component), globals: globals)
    }
}
