@testable import AWSServices
@testable import FairflowCore
import Foundation
import XCTest

/// An in-process ECS + CloudWatch Logs for the stall detector: answers from what the test set, records what was asked.
final class ProbeDouble: DeployWatchProbe, @unchecked Sendable {
    private let lock = NSLock()
    var services: [ECSService] = []
    var stopped: [String: [ECSTask]] = [:]
    var active: [String: [ECSTask]] = [:]
    var definitions: [String: ECSTaskDefinition] = [:]
    var logs: [String: [String]] = [:]  // "group stream" -> lines
    private(set) var logRequests: [String] = []

    func services(cluster: String, names: [String]) async throws -> [ECSService] {
        lock.withLock { services.filter { names.contains($0.serviceName) } }
    }
    func tasks(cluster: String, service: String, desiredStatus: String) async throws -> [ECSTask] {
        lock.withLock { desiredStatus == "STOPPED" ? stopped[service] ?? [] : active[service] ?? [] }
    }
    func taskDefinition(_ arn: String) async throws -> ECSTaskDefinition {
        guard let d = lock.withLock({ definitions[arn] }) else { throw ECSError.clusterNotFound("no such task definition") }
        return d
    }
    func lastLogLines(group: String, stream: String, count: Int) async throws -> [String] {
        lock.withLock {
            logRequests.append("\(group) \(stream)")
            return Array((logs["\(group) \(stream)"] ?? []).suffix(count))
        }
    }
}

enum Fixture {
    static let cluster = "FairflowStack-Cluster-4WGX8JJ84ORU"
    static let workerService = "FairflowStack-WorkerService-Ab12Cd34"
    static let workerArn = "arn:aws:ecs:us-east-1:123456789012:service/\(cluster)/\(workerService)"
    static let taskDef = "arn:aws:ecs:us-east-1:123456789012:task-definition/FairflowStack-Worker:7"
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func service(_ name: String = workerService, desired: Int = 2, running: Int = 0, pending: Int = 0,
                        rollout: String = "IN_PROGRESS", reason: String? = nil, created: Date = t0, event: String? = nil,
                        grace: Int? = nil, targetGroups: [String] = []) -> ECSService {
        ECSService(serviceArn: nil, serviceName: name, clusterArn: nil, status: "ACTIVE", desiredCount: desired, runningCount: running,
                   pendingCount: pending, launchType: "FARGATE", taskDefinition: taskDef,
                   deployments: [ECSDeployment(id: "ecs-svc/1111", status: "PRIMARY", taskDefinition: taskDef, desiredCount: desired,
                                               pendingCount: pending, runningCount: running, failedTasks: 0, rolloutState: rollout,
                                               rolloutStateReason: reason, createdAt: created, updatedAt: created.addingTimeInterval(60))],
                   events: event.map { [ECSServiceEvent(id: "e1", createdAt: created, message: $0)] },
                   loadBalancers: targetGroups.map { ECSLoadBalancer(targetGroupArn: $0) }, healthCheckGracePeriodSeconds: grace)
    }

    static func crashed(_ id: String, at: Date, exit: Int = 1, reason: String = "Essential container in task exited") -> ECSTask {
        ECSTask(taskArn: "arn:aws:ecs:us-east-1:123456789012:task/\(cluster)/\(id)", taskDefinitionArn: taskDef,
                group: "service:\(workerService)", lastStatus: "STOPPED", stopCode: "EssentialContainerExited", stoppedReason: reason,
                stoppedAt: at, startedBy: "ecs-svc/1111", containers: [ECSContainer(name: "worker", lastStatus: "STOPPED", exitCode: exit)])
    }

    static var workerDefinition: ECSTaskDefinition {
        ECSTaskDefinition(taskDefinitionArn: taskDef, family: "FairflowStack-Worker", revision: 7, containerDefinitions: [
            .init(name: "wait-for-migrations", essential: false,
                  logConfiguration: .init(logDriver: "awslogs", options: ["awslogs-group": "FairflowStack-WorkerLogGroup", "awslogs-stream-prefix": "wait-for-migrations"])),
            .init(name: "worker", essential: true,
                  logConfiguration: .init(logDriver: "awslogs", options: ["awslogs-group": "FairflowStack-WorkerLogGroup", "awslogs-stream-prefix": "worker"])),
        ])
    }

    static let celeryLog = (1...12).map { "line \($0)" } + [
        "[2026-12-04 18:00:01,000: ERROR/MainProcess] consumer: Cannot connect to redis://bad-host:6379/0: Error -2 connecting to bad-host:6379. Name or service not known..",
    ]

    static func inProgressEvent(_ arn: String? = workerArn, status: String = "UPDATE_IN_PROGRESS") -> StackEvent {
        StackEvent(eventId: UUID().uuidString, timestamp: t0, logicalId: "WorkerService", physicalId: arn,
                   resourceType: "AWS::ECS::Service", status: status, reason: nil)
    }
}

final class StallDetectorTests: XCTestCase {
    func watch(_ probe: ProbeDouble, repeats: Int = 2) -> StallWatch {
        let w = StallWatch(probe: probe, since: Fixture.t0, repeats: repeats, pollEvery: 0, componentOf: { StackComponent.of($0) })
        w.observe([Fixture.inProgressEvent()])
        return w
    }

    func testTheSameCrashTwiceIsOneVerdictWithReasonExitCodeAndTheLastTenLogLines() async throws {
        let probe = ProbeDouble()
        probe.services = [Fixture.service(event: "(service worker) has started 1 tasks: (task 0f3c).")]
        probe.definitions[Fixture.taskDef] = Fixture.workerDefinition
        let task2 = "9a8b7c6d5e4f40312a1b2c3d4e5f6a7b"
        probe.logs["FairflowStack-WorkerLogGroup worker/worker/\(task2)"] = Fixture.celeryLog
        probe.stopped[Fixture.workerService] = [Fixture.crashed("0f3c9d5e8a7b4c2d9e1f0a3b5c7d9e1f", at: Fixture.t0.addingTimeInterval(40))]
        let w = watch(probe)

        let first = try await w.check()
        XCTAssertNil(first, "one crash is not yet a stall")
        XCTAssertEqual(w.waitingLines, ["waiting for worker: 0 of 2 running — (service worker) has started 1 tasks: (task 0f3c)."])

        probe.stopped[Fixture.workerService]!.append(Fixture.crashed(task2, at: Fixture.t0.addingTimeInterval(95)))
        let v = try await w.check()
        let verdict = try XCTUnwrap(v, "the same failure twice is a stall")
        XCTAssertEqual(verdict.component, "worker")
        XCTAssertEqual(verdict.reason, "Essential container in task exited")
        XCTAssertEqual(verdict.container, "worker")
        XCTAssertEqual(verdict.exitCode, 1)
        XCTAssertEqual(verdict.occurrences, 2)
        XCTAssertEqual(verdict.task, task2, "the logs of the latest crash")
        XCTAssertEqual(probe.logRequests, ["FairflowStack-WorkerLogGroup worker/worker/\(task2)"], "awslogs stream <prefix>/<container>/<task-id>")
        XCTAssertEqual(verdict.logLines.count, 10)
        XCTAssertEqual(verdict.logLines.last, Fixture.celeryLog.last)
        XCTAssertTrue(verdict.whatToDo.contains("Celery broker"), verdict.whatToDo)
        XCTAssertEqual(verdict.firstFailureAt, Fixture.t0.addingTimeInterval(40))
        let text = verdict.render()
        XCTAssertTrue(text.contains("deploy stalled: worker"), text)
        XCTAssertTrue(text.contains("container: worker, exit code 1"), text)
        XCTAssertTrue(text.contains("| [2026-12-04 18:00:01,000: ERROR/MainProcess] consumer: Cannot connect to redis://bad-host:6379/0"), text)
        XCTAssertFalse(text.contains("line 3\n"), "only the last 10 lines")

        let again = try await w.check()
        XCTAssertNil(again, "a failure is reported once (--on-stall wait keeps waiting without repeating it)")
    }

    func testTwoDifferentFailuresAreNoStallYet() async throws {
        let probe = ProbeDouble()
        probe.services = [Fixture.service()]
        probe.stopped[Fixture.workerService] = [Fixture.crashed("a1a1a1a1a1a1a1a1a1a1", at: Fixture.t0.addingTimeInterval(10), exit: 1),
                                                Fixture.crashed("b2b2b2b2b2b2b2b2b2b2", at: Fixture.t0.addingTimeInterval(20), exit: 137)]
        let v = try await watch(probe).check()
        XCTAssertNil(v)
        let three = try await watch(probe, repeats: 1).check()
        XCTAssertNotNil(three, "--stall-repeats 1 makes one failure a stall")
    }

    func testReplacedTasksOfARollingDeployAndOlderCrashesAreNoFailure() async throws {
        let probe = ProbeDouble()
        probe.services = [Fixture.service(running: 1)]
        var old = Fixture.crashed("c3c3c3c3c3c3c3c3c3c3", at: Fixture.t0.addingTimeInterval(30), exit: 143,
                                  reason: "Scaling activity initiated by (deployment ecs-svc/1111)")
        old.stopCode = "ServiceSchedulerInitiated"
        let before = Fixture.crashed("d4d4d4d4d4d4d4d4d4d4", at: Fixture.t0.addingTimeInterval(-600))
        let before2 = Fixture.crashed("e5e5e5e5e5e5e5e5e5e5", at: Fixture.t0.addingTimeInterval(-300))
        probe.stopped[Fixture.workerService] = [old, old, before, before2]
        let v = try await watch(probe).check()
        XCTAssertNil(v, "stops ECS made on purpose, and crashes from before this deploy, are not this deploy's failure")
    }

    func testTheCircuitBreakerTrippingIsAVerdictAtOnce() async throws {
        let probe = ProbeDouble()
        probe.services = [Fixture.service(rollout: "FAILED", reason: "ECS deployment circuit breaker: tasks failed to start.")]
        probe.definitions[Fixture.taskDef] = Fixture.workerDefinition
        probe.stopped[Fixture.workerService] = [Fixture.crashed("f6f6f6f6f6f6f6f6f6f6", at: Fixture.t0.addingTimeInterval(50), exit: 2)]
        let v = try await watch(probe).check()
        let verdict = try XCTUnwrap(v)
        XCTAssertTrue(verdict.circuitBreakerTripped)
        XCTAssertEqual(verdict.exitCode, 2)
        XCTAssertTrue(verdict.reason.contains("ECS deployment circuit breaker: tasks failed to start."), verdict.reason)
        XCTAssertTrue(verdict.render().contains("the circuit breaker tripped"))
    }

    func testASlowDeploySaysWhatItWaitsFor() async throws {
        let probe = ProbeDouble()
        probe.services = [Fixture.service(running: 1, pending: 2)]
        var pulling = ECSTask(taskArn: "arn:aws:ecs:us-east-1:1:task/c/p1", lastStatus: "PENDING")
        pulling.pullStartedAt = Fixture.t0
        let provisioning = ECSTask(taskArn: "arn:aws:ecs:us-east-1:1:task/c/p2", lastStatus: "PROVISIONING")
        let starting = ECSTask(taskArn: "arn:aws:ecs:us-east-1:1:task/c/r1", lastStatus: "RUNNING", healthStatus: "UNKNOWN")
        probe.active[Fixture.workerService] = [pulling, provisioning, starting]
        let w = watch(probe)
        let v = try await w.check()
        XCTAssertNil(v)
        XCTAssertEqual(w.waitingLines, ["waiting for worker: 1 of 2 running (1 pulling the image, 1 provisioning, 1 in the health check's start period)"])
    }

    func testServicesAreWatchedWhileTheirResourceIsInProgress() async throws {
        let w = StallWatch(probe: ProbeDouble(), since: Fixture.t0, pollEvery: 0, componentOf: { $0 })
        w.observe([Fixture.inProgressEvent(nil, status: "CREATE_IN_PROGRESS")])
        XCTAssertEqual(w.watchedServices, [], "no physical id yet")
        w.observe([Fixture.inProgressEvent()])
        XCTAssertEqual(w.watchedServices, [Fixture.workerService])
        w.observe([Fixture.inProgressEvent(status: "UPDATE_COMPLETE")])
        XCTAssertEqual(w.watchedServices, [])
    }

    /// A new service's first event has no ARN; the stack's resources give it. When the breaker tripped
    /// between two polls, the post-mortem still names the failure (one stopped task is enough then).
    func testServicesWithoutAnARNAreResolvedAndThePostMortemNamesTheFailure() async throws {
        let probe = ProbeDouble()
        probe.services = [Fixture.service(rollout: "FAILED", reason: "ECS deployment circuit breaker: tasks failed to start.")]
        probe.definitions[Fixture.taskDef] = Fixture.workerDefinition
        probe.stopped[Fixture.workerService] = [Fixture.crashed("a7a7a7a7a7a7a7a7a7a7", at: Fixture.t0.addingTimeInterval(5), exit: 3)]
        let w = StallWatch(probe: probe, since: Fixture.t0, pollEvery: 0, componentOf: { StackComponent.of($0) },
                           resolve: { ["WorkerService": Fixture.workerArn, "Vpc": "vpc-1"] })
        w.observe([Fixture.inProgressEvent(nil, status: "CREATE_IN_PROGRESS")])
        XCTAssertEqual(w.watchedServices, [])
        let v = try await w.check()
        XCTAssertEqual(w.watchedServices, [Fixture.workerService], "found through ListStackResources")
        XCTAssertEqual(v?.circuitBreakerTripped, true)

        let late = StallWatch(probe: probe, since: Fixture.t0, componentOf: { StackComponent.of($0) },
                              resolve: { ["WorkerService": Fixture.workerArn] })
        let pm = await late.postMortem(logicalId: "WorkerService")
        XCTAssertEqual(pm?.component, "worker")
        XCTAssertEqual(pm?.exitCode, 3)
        let none = await StallWatch(probe: ProbeDouble(), since: Fixture.t0, componentOf: { $0 }).postMortem(logicalId: "WorkerService")
        XCTAssertNil(none, "no ARN, nothing to read")
    }

    /// As the running local stack showed it: tasks stopped for failed container health checks, the
    /// wait-for-migrations dependency exited 0, the API gave only stoppingAt. Blame the worker, read its log.
    func testAHealthCheckFailureBlamesTheMainContainerNotTheDependency() async throws {
        let probe = ProbeDouble()
        probe.services = [Fixture.service()]
        probe.definitions[Fixture.taskDef] = Fixture.workerDefinition
        func failed(_ id: String, _ at: TimeInterval) -> ECSTask {
            var t = ECSTask(taskArn: "arn:aws:ecs:us-east-1:123456789012:task/\(Fixture.cluster)/\(id)", taskDefinitionArn: Fixture.taskDef,
                            group: "service:\(Fixture.workerService)", lastStatus: "STOPPED", stopCode: "ServiceSchedulerInitiated",
                            stoppedReason: "Task failed container health checks",
                            containers: [ECSContainer(name: "wait-for-migrations", exitCode: 0), ECSContainer(name: "worker", exitCode: 0)])
            t.stoppingAt = Fixture.t0.addingTimeInterval(at)
            return t
        }
        probe.stopped[Fixture.workerService] = [failed("9d5e447b9e8c4c37becdf7360c4f218d", 330), failed("293b85aa9e8c4c37becdf7360c4f218d", 660)]
        probe.logs["FairflowStack-WorkerLogGroup worker/worker/293b85aa9e8c4c37becdf7360c4f218d"] =
            ["[error    ] consumer: Cannot connect to redis://:**@nowhere.invalid:6379/0: Error -2 connecting to nowhere.invalid:6379. Name or service not known..",
             "Trying again in 30.00 seconds... (20/100)", "worker: Warm shutdown (MainProcess)"]
        let v = try await watch(probe).check()
        let verdict = try XCTUnwrap(v)
        XCTAssertEqual(verdict.container, "worker")
        XCTAssertEqual(verdict.task, "293b85aa9e8c4c37becdf7360c4f218d", "the latest failure, by stoppingAt")
        XCTAssertEqual(verdict.firstFailureAt, Fixture.t0.addingTimeInterval(330))
        XCTAssertTrue(verdict.logLines.first?.contains("nowhere.invalid") ?? false)
        XCTAssertTrue(verdict.whatToDo.contains("Celery broker"), verdict.whatToDo)
    }

    func testOnStallDecides() throws {
        let (t, _) = Terminal.capture()
        let ctx = Context(settings: GlobalSettings(), terminal: t)
        let v = StallVerdict(component: "worker", service: "s", reason: "r", occurrences: 2, circuitBreakerTripped: false,
                             logLines: ["boom"], whatToDo: "fix it", detectedAt: Fixture.t0)
        XCTAssertEqual(try Deploy.decide(v, onStall: .wait, isCreate: false, context: ctx), .keepWaiting)
        XCTAssertEqual(try Deploy.decide(v, onStall: .rollback, isCreate: false, context: ctx), .stop)
        XCTAssertEqual(try Deploy.decide(v, onStall: nil, isCreate: true, context: ctx), .stop, "no terminal: fail")
        let e = DeployStalled(verdict: v, stack: "FairflowStack", finalStatus: "UPDATE_ROLLBACK_COMPLETE")
        XCTAssertEqual(ErrorReport.status(for: e), .failed)
        XCTAssertEqual(e.description, "deploy of stack FairflowStack stalled: worker: r — last log line: boom — fix it; the stack is now UPDATE_ROLLBACK_COMPLETE")
    }

    func testAdviceFollowsTheEvidence() {
        XCTAssertTrue(StallAdvice.whatToDo(reason: "CannotPullContainerError: pull image manifest has been retried", exitCode: nil, logLines: [], component: "worker").contains("image"))
        XCTAssertTrue(StallAdvice.whatToDo(reason: "Essential container in task exited", exitCode: 137, logLines: [], component: "worker").contains("memory"))
        // git-sync's own line, as it ended a deploy against the running local stack.
        let gitSync = #"{"msg":"too many failures, aborting","error":"Run(git fetch https://github.com/apache/airflow-example-dags.git HEAD): exit status 128: { stderr: "fatal: unable to access 'https://github.com/apache/airflow-example-dags.git/': Could not resolve host: github.com" }"}"#
        XCTAssertTrue(StallAdvice.whatToDo(reason: "Essential container in task exited", exitCode: 1, logLines: [gitSync], component: "dag-sync").contains("DAG_REPOSITORY"))
        XCTAssertTrue(StallAdvice.whatToDo(reason: "Task failed ELB health checks in (target-group arn:x)", exitCode: nil, logLines: [], component: "api-server").contains("health check path"))
    }
}

final class StatusAssessmentTests: XCTestCase {
    let ui = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/Fairf-UiTar/abc"

    func facts(services: [ECSService], running: [ECSTask] = [], targets: [TargetHealth] = [TargetHealth(target: "10.0.1.5", port: "8080", state: "healthy")],
               db: String = "available", redis: String = "available") -> StatusFacts {
        StatusFacts(stack: "FairflowStack", stackStatus: "UPDATE_COMPLETE", stackStatusReason: nil,
                    serviceComponents: [Fixture.workerService: "worker", "ui": "api-server", "redis-svc": "redis"],
                    services: services, runningTasks: running, stoppedTasks: [],
                    targetGroups: [TargetGroupFacts(logicalId: "UiTargetGroup", arn: ui, targets: targets)],
                    databaseExpected: true,
                    database: DBInstanceStatus(id: "db1", status: db, multiAZ: true, engine: "mysql", engineVersion: "8.4.7", endpoint: nil, pendingMaintenance: false),
                    redisGroupExpected: true,
                    redisGroup: ReplicationGroupStatus(id: "rg1", status: redis, automaticFailover: "enabled", multiAZ: "enabled", primaryEndpoint: nil),
                    efs: "available", bastion: nil)
    }

    func healthyUI() -> ECSService { Fixture.service("ui", desired: 2, running: 2, rollout: "COMPLETED", targetGroups: [ui]) }
    let now = Fixture.t0.addingTimeInterval(3600)

    func testAllGoodIsHealthy() {
        XCTAssertEqual(StatusAssessment.problems(facts(services: [healthyUI()]), now: now), [])
    }

    func testAServiceBehindATargetGroupWithoutAHealthyTargetIsAProblem() {
        let none = StatusAssessment.problems(facts(services: [healthyUI()], targets: []), now: now)
        XCTAssertEqual(none, [Problem("api-server", "no healthy target in UiTargetGroup", evidence: "target health: none registered")])
        let sick = StatusAssessment.problems(facts(services: [healthyUI()], targets: [
            TargetHealth(target: "10.0.1.5", port: "8080", state: "unhealthy", reason: "Health checks failed with these codes: [502]"),
        ]), now: now)
        XCTAssertEqual(sick.map(\.line), ["api-server: no healthy target in UiTargetGroup — target health: 1 unhealthy (Health checks failed with these codes: [502])"])
    }

    func testAnUnhealthyContainerIsAProblemThoughECSCountsItRunning() {
        let sched = Fixture.service(Fixture.workerService, desired: 1, running: 1, rollout: "COMPLETED")
        let task = ECSTask(taskArn: "arn:aws:ecs:us-east-1:1:task/c/0123abcd", group: "service:\(Fixture.workerService)", lastStatus: "RUNNING",
                           containers: [ECSContainer(name: "worker", lastStatus: "RUNNING", healthStatus: "UNHEALTHY")], healthStatus: "UNHEALTHY")
        let p = StatusAssessment.problems(facts(services: [healthyUI(), sched], running: [task]), now: now)
        XCTAssertEqual(p.map(\.line), ["worker: container worker UNHEALTHY — task 0123abcd: its container health check fails"])
    }

    func testADeploymentInProgressPastItsExpectedTimeIsStuck() {
        let stuck = Fixture.service(Fixture.workerService, desired: 2, running: 2, created: now.addingTimeInterval(-40 * 60),
                                    event: "(service worker) has started 2 tasks", grace: 300)
        let p = StatusAssessment.problems(facts(services: [healthyUI(), stuck]), now: now)
        XCTAssertEqual(p.map(\.line), ["worker: deployment ecs-svc/1111 IN_PROGRESS for 40 min (expected within 15 min) — 2 of 2 running; last event: (service worker) has started 2 tasks"])
        let young = Fixture.service(Fixture.workerService, desired: 2, running: 2, created: now.addingTimeInterval(-5 * 60))
        XCTAssertEqual(StatusAssessment.problems(facts(services: [healthyUI(), young]), now: now), [])
    }

    func testDatabaseAndRedisNotAvailableAreProblems() {
        let p = StatusAssessment.problems(facts(services: [healthyUI()], db: "storage-full", redis: "modifying"), now: now)
        XCTAssertEqual(p.map(\.component), ["database", "redis"])
        XCTAssertTrue(p[0].line.contains("database db1 is storage-full"), p[0].line)
        XCTAssertTrue(p[1].line.contains("Redis replication group rg1 is modifying"), p[1].line)
        let redisService = Fixture.service("redis-svc", desired: 1, running: 0, rollout: "COMPLETED", event: "(service redis) was unable to place a task")
        let q = StatusAssessment.problems(facts(services: [healthyUI(), redisService]), now: now)
        XCTAssertEqual(q.map(\.line), ["redis: Redis not available: 0 of 1 tasks running — last event: (service redis) was unable to place a task"])
    }
}

final class TimelineLogicTests: XCTestCase {
    func testJournalsGiveRunsAndStepsWithoutTheirInputsAndTornLinesAreSkipped() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ff-tl-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/.fairflow/runs/r1", withIntermediateDirectories: true)
        try """
        {"event":"run-started","runId":"r1","runbook":"triage","stack":"FairflowStack","time":"2026-12-04T18:00:00Z","inputs":{"password":"hunter22"}}
        {"event":"step-failed","runId":"r1","step":"status","uses":"status","outcome":"failed","error":"2 checks failed","time":"2026-12-04T18:00:05Z"}
        {"event":"step-sta
        """.write(toFile: "\(dir)/.fairflow/runs/r1/journal.jsonl", atomically: true, encoding: .utf8)
        let since = ISO8601DateFormatter().date(from: "2026-12-04T17:00:00Z")!
        let e = TimelineSources.journals(directory: dir, stack: "FairflowStack", since: since)
        XCTAssertEqual(e.map(\.message), ["triage run r1: run-started", "triage run r1: step-failed status (status): failed — 2 checks failed"])
        XCTAssertFalse(e.map(\.message).joined().contains("hunter22"))
        XCTAssertEqual(TimelineSources.journals(directory: dir, stack: "OtherStack", since: since), [], "another stack's runs are not this stack's timeline")
    }

    func testEntriesAreTimeOrderedStableAndFilteredByComponent() {
        let t = Fixture.t0
        let entries = [TimelineEntry(time: t.addingTimeInterval(5), component: "worker", source: "ecs", message: "b"),
                       TimelineEntry(time: t, component: "stack", source: "cloudformation", message: "a1"),
                       TimelineEntry(time: t, component: "worker", source: "cloudformation", message: "a2")]
        XCTAssertEqual(TimelineSources.ordered(entries, component: nil).map(\.message), ["a1", "a2", "b"])
        XCTAssertEqual(TimelineSources.ordered(entries, component: "worker").map(\.message), ["a2", "b"])
    }

    func testStoppedTasksCarryReasonStopCodeAndExitCodes() {
        let task = Fixture.crashed("0f3c9d5e8a7b4c2d9e1f0a3b5c7d9e1f", at: Fixture.t0.addingTimeInterval(1))
        let e = TimelineSources.stoppedTasks([task], components: [Fixture.workerService: "worker"], since: Fixture.t0)
        XCTAssertEqual(e.map(\.message), ["task 0f3c9d5e8a7b4c2d9e1f0a3b5c7d9e1f stopped: Essential container in task exited [EssentialContainerExited]; worker exit 1"])
        XCTAssertEqual(e.first?.component, "worker")
        XCTAssertEqual(TimelineSources.stoppedTasks([task], components: [:], since: Fixture.t0.addingTimeInterval(10)), [], "before --since")
    }

    func testBadComponentOrSinceIsAUsageErrorNamingTheFix() {
        XCTAssertThrowsError(try Timeline.validate(.init(since: "2h", component: "wroker"))) { e in
            XCTAssertEqual(ErrorReport.status(for: e), .usage)
            XCTAssertTrue("\(e)".contains("did you mean worker?"), "\(e)")
        }
        XCTAssertThrowsError(try Timeline.validate(.init(since: "yesterday"))) { e in XCTAssertEqual(ErrorReport.status(for: e), .usage) }
    }
}

import HTTPTransport

/// CloudFormation (query protocol) in-process: an update that stays UPDATE_IN_PROGRESS until
/// CancelUpdateStack, then rolls back. Records the actions called.
final class UpdatingStackDouble: HTTPClient, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var actions: [String] = []
    private var cancelled = false
    let started = Date()

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = String(decoding: request.body, as: UTF8.self)
        let action = body.split(separator: "&").first { $0.hasPrefix("Action=") }.map { String($0.dropFirst(7)) } ?? ""
        let cancelled: Bool = lock.withLock {
            actions.append(action)
            if action == "CancelUpdateStack" { self.cancelled = true }
            return self.cancelled
        }
        let f = ISO8601DateFormatter()
        let xml: String
        switch action {
        case "DescribeStackEvents":
            var events = "<member><EventId>e1</EventId><Timestamp>\(f.string(from: started))</Timestamp><LogicalResourceId>WorkerService</LogicalResourceId><PhysicalResourceId>\(Fixture.workerArn)</PhysicalResourceId><ResourceType>AWS::ECS::Service</ResourceType><ResourceStatus>UPDATE_IN_PROGRESS</ResourceStatus></member>"
            if cancelled {
                events = "<member><EventId>e2</EventId><Timestamp>\(f.string(from: started.addingTimeInterval(1)))</Timestamp><LogicalResourceId>FairflowStack</LogicalResourceId><ResourceType>AWS::CloudFormation::Stack</ResourceType><ResourceStatus>UPDATE_ROLLBACK_COMPLETE</ResourceStatus></member>" + events
            }
            xml = "<DescribeStackEventsResponse><DescribeStackEventsResult><StackEvents>\(events)</StackEvents></DescribeStackEventsResult></DescribeStackEventsResponse>"
        case "DescribeStacks":
            xml = "<DescribeStacksResponse><DescribeStacksResult><Stacks><member><StackName>FairflowStack</StackName><StackId>id</StackId><StackStatus>\(cancelled ? "UPDATE_ROLLBACK_COMPLETE" : "UPDATE_IN_PROGRESS")</StackStatus></member></Stacks></DescribeStacksResult></DescribeStacksResponse>"
        case "CancelUpdateStack":
            xml = "<CancelUpdateStackResponse><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CancelUpdateStackResponse>"
        default:
            return HTTPResponse(status: 400, body: Data("<ErrorResponse><Error><Code>InvalidAction</Code><Message>\(action)</Message></Error></ErrorResponse>".utf8))
        }
        return HTTPResponse(status: 200, headers: ["x-amzn-requestid": "r"], body: Data(xml.utf8))
    }
}

/// The stall detector inside `StackWatch.follow`, as `deploy` uses it: a verdict with `fail` cancels the
/// update (as Ctrl-C does), follows the rollback, and ends with the verdict.
final class StallDuringFollowTests: XCTestCase {
    func testAStallCancelsTheUpdateFollowsTheRollbackAndFailsWithTheVerdict() async throws {
        let cfnDouble = UpdatingStackDouble()
        var settings = GlobalSettings()
        settings.endpointURL = "http://127.0.0.1:9"
        settings.environment = ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
                                "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                                "AWS_EC2_METADATA_DISABLED": "true", "FAIRFLOW_POLL_SECONDS": "0.01"]
        let (t, capture) = Terminal.capture()
        let context = Context(settings: settings, terminal: t, http: cfnDouble)
        let probe = ProbeDouble()
        probe.services = [Fixture.service()]
        probe.definitions[Fixture.taskDef] = Fixture.workerDefinition
        let now = Date()
        probe.stopped[Fixture.workerService] = [Fixture.crashed("1111aaaa2222bbbb3333", at: now), Fixture.crashed("4444cccc5555dddd6666", at: now)]
        let stall = StallWatch(probe: probe, since: now.addingTimeInterval(-60), pollEvery: 0, componentOf: { StackComponent.of($0) })
        let cfn = CloudFormation(try context.aws())
        do {
            _ = try await StackWatch.follow(stack: "FairflowStack", since: now, context: context, onInterrupt: {
                try await cfn.cancelUpdate("FairflowStack", token: "t")
            }, stall: stall, onStall: { v in try Deploy.decide(v, onStall: .fail, isCreate: false, context: context) })
            XCTFail("a stalled deploy must not succeed")
        } catch let e as DeployStalled {
            XCTAssertEqual(e.verdict.component, "worker")
            XCTAssertEqual(e.verdict.exitCode, 1)
            XCTAssertEqual(e.finalStatus, "UPDATE_ROLLBACK_COMPLETE", "the rollback is followed to its end")
        }
        XCTAssertEqual(cfnDouble.actions.filter { $0 == "CancelUpdateStack" }.count, 1)
        XCTAssertTrue(capture.stderr.contains("UPDATE_ROLLBACK_COMPLETE"), capture.stderr)
    }
}

final class TestTemplateOverrideTests: XCTestCase {
    func testTheOverrideSetsOneContainersVariableAndRefusesAnUnknownContainer() throws {
        let json = #"{"Resources":{"WorkerTaskDefinition":{"Type":"AWS::ECS::TaskDefinition","Properties":{"ContainerDefinitions":[{"Name":"worker","Environment":[{"Name":"AIRFLOW__CELERY__BROKER_URL","Value":"redis://good:6379/0"},{"Name":"X","Value":"1"}]},{"Name":"wait-for-migrations"}]}}}}"#
        let out = try TestTemplateOverride.apply("worker:AIRFLOW__CELERY__BROKER_URL=redis://nowhere.invalid:6379/0", to: json)
        let root = try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [String: Any]
        let defs = (((root["Resources"] as! [String: Any])["WorkerTaskDefinition"] as! [String: Any])["Properties"] as! [String: Any])["ContainerDefinitions"] as! [[String: Any]]
        let env = defs[0]["Environment"] as! [[String: String]]
        XCTAssertEqual(env.filter { $0["Name"] == "AIRFLOW__CELERY__BROKER_URL" }.map { $0["Value"] }, ["redis://nowhere.invalid:6379/0"])
        XCTAssertTrue(env.contains { $0["Name"] == "X" })
        XCTAssertNil(defs[1]["Environment"])
        XCTAssertThrowsError(try TestTemplateOverride.apply("wrker:A=b", to: json)) { XCTAssertEqual(ErrorReport.status(for: $0), .usage) }
        XCTAssertThrowsError(try TestTemplateOverride.apply("worker", to: json))
    }
}
