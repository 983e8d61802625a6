import Foundation
import XCTest
@testable import FairflowTemplate

/// Issue 16: workers scale on the work waiting and drain before they go.
final class WorkerScalingTests: XCTestCase {
    func containers(_ t: Parsed, _ id: String) -> [[String: Any]] { t.props(id)["ContainerDefinitions"] as! [[String: Any]] }
    func container(_ t: Parsed, _ id: String, _ name: String) -> [String: Any]? {
        containers(t, id).first { $0["Name"] as? String == name }
    }
    func env(_ c: [String: Any]) -> [String: Any] {
        Dictionary(uniqueKeysWithValues: (c["Environment"] as! [[String: Any]]).map { ($0["Name"] as! String, $0["Value"]!) })
    }

    func testWorkerStopTimeoutIsTheDrainTimeoutInEveryMode() throws {
        for (mode, o) in Modes.all {
            let t = try Parsed(o)
            let worker = try XCTUnwrap(container(t, "WorkerTaskDefinition", "worker"), mode)
            XCTAssertEqual(worker["StopTimeout"] as? Int, 120, "\(mode): Fargate's most by default")
            XCTAssertEqual(containers(t, "WorkerTaskDefinition").last?["Name"] as? String, "worker", "\(mode): the main container stays last")
            XCTAssertEqual(containers(t, "SchedulerTaskDefinition").last?["Name"] as? String, "scheduler", mode)
            // dumb-init forwards SIGTERM; bash and the image's entrypoint exec, so Celery gets it (warm shutdown).
            let entry = worker["EntryPoint"] as! [String]
            XCTAssertEqual(entry.first, "/usr/bin/dumb-init")
            XCTAssertTrue(entry.contains { $0.contains("exec /entrypoint") }, "\(entry)")
        }
        var o = Modes.base(); o.workerDrainTimeout = 45
        XCTAssertEqual(try container(Parsed(o), "WorkerTaskDefinition", "worker")?["StopTimeout"] as? Int, 45)
    }

    func testDrainTimeoutAndTasksPerWorkerAreValidated() {
        for bad in [0, 1, 121, 600] {
            var o = Modes.base(); o.workerDrainTimeout = bad
            XCTAssertThrowsError(try o.validate(), "\(bad)") { e in
                let err = e as! TemplateInputError
                XCTAssertEqual(err.key, "--worker-drain-timeout")
                XCTAssertTrue(err.problem.contains("2 to 120"), err.problem)
            }
        }
        var o = Modes.base(); o.tasksPerWorker = 0
        XCTAssertThrowsError(try o.validate()) { XCTAssertEqual(($0 as! TemplateInputError).key, "--tasks-per-worker") }
        o = Modes.base(); o.workerDrainTimeout = 2; o.tasksPerWorker = 1
        XCTAssertNoThrow(try o.validate())
    }

    func testQueuePolicyReadsWhatTheSchedulerSidecarPublishes() throws {
        for (mode, o) in Modes.all {
            let t = try Parsed(o)
            guard o.autoscaling else {
                XCTAssertNil(container(t, "SchedulerTaskDefinition", "queue-metrics"), mode)
                XCTAssertNil(container(t, "WorkerTaskDefinition", "task-protection"), mode)
                XCTAssertNil(t.resources["WorkerQueueScaling"], mode)
                continue
            }
            let policy = t.props("WorkerQueueScaling")
            XCTAssertEqual(policy["PolicyType"] as? String, "TargetTrackingScaling")
            let cfg = policy["TargetTrackingScalingPolicyConfiguration"] as! [String: Any]
            XCTAssertEqual(cfg["TargetValue"] as? Int, 4, "\(mode): the worker's concurrency by default")
            let spec = cfg["CustomizedMetricSpecification"] as! [String: Any]
            XCTAssertEqual(spec["Namespace"] as? String, "Fairflow")
            XCTAssertEqual(spec["MetricName"] as? String, "CeleryBacklogPerWorker")
            XCTAssertEqual(spec["Statistic"] as? String, "Average")
            let dims = spec["Dimensions"] as! [[String: Any]]
            XCTAssertEqual(dims.map { $0["Name"] as! String }, ["ClusterName", "ServiceName"])
            XCTAssertEqual(refName(dims[0]["Value"]), "Cluster")
            XCTAssertEqual(refName(dims[1]["Value"]), "WorkerService")

            let sidecar = try XCTUnwrap(container(t, "SchedulerTaskDefinition", "queue-metrics"), mode)
            XCTAssertEqual(sidecar["Essential"] as? Bool, false, "its failure never stops the scheduler")
            let e = env(sidecar)
            XCTAssertEqual(e["METRICS_NAMESPACE"] as? String, "Fairflow")
            XCTAssertEqual(refName(e["WORKER_SERVICE"]), "WorkerService")
            XCTAssertEqual(refName(e["CLUSTER"]), "Cluster")
            XCTAssertEqual(Set((sidecar["Secrets"] as! [[String: Any]]).map { $0["Name"] as! String }), ["DB_USER", "DB_PASSWORD"])
            let script = (sidecar["EntryPoint"] as! [String]).last!
            for needle in ["CeleryBacklogPerWorker", "CeleryBacklog\"", "describe_services", "put_metric_data", "max(1, workers)"] {
                XCTAssertTrue(script.contains(needle), "\(mode): \(needle)")
            }
            let protection = try XCTUnwrap(container(t, "WorkerTaskDefinition", "task-protection"), mode)
            XCTAssertEqual(protection["Essential"] as? Bool, false)
            XCTAssertNotNil(env(protection)["AIRFLOW__CELERY__BROKER_URL"], mode)
            XCTAssertNil(protection["Secrets"], "\(mode): it needs no database credentials")
            let pscript = (protection["EntryPoint"] as! [String]).last!
            XCTAssertTrue(pscript.contains("/task-protection/v1/state") && pscript.contains("ExpiresInMinutes"), mode)
        }
        var o = Modes.base(); o.autoscaling = true; o.tasksPerWorker = 10
        let cfg = try Parsed(o).props("WorkerQueueScaling")["TargetTrackingScalingPolicyConfiguration"] as! [String: Any]
        XCTAssertEqual(cfg["TargetValue"] as? Int, 10)
    }

    /// The scripts are Python the template only carries: at least they must parse.
    func testSidecarScriptsAreValidPython() throws {
        let python = try needTool("python3")
        for script in [StackBuilder.queueMetricsScript, StackBuilder.taskProtectionScript] {
            let r = try runTool(python, ["-c", "import ast, sys; ast.parse(sys.argv[1])", script])
            XCTAssertEqual(r.status, 0, r.output)
        }
    }

    func testScalingPermissionsAreNarrow() throws {
        var o = Modes.base(); o.autoscaling = true
        let t = try Parsed(o)
        let policies = (t.props("AirflowTaskRole")["Policies"] as! [[String: Any]])
        let statements = policies.flatMap { ($0["PolicyDocument"] as! [String: Any])["Statement"] as! [[String: Any]] }
        let bySid = Dictionary(uniqueKeysWithValues: statements.map { ($0["Sid"] as! String, $0) })
        let publish = try XCTUnwrap(bySid["PublishQueueMetrics"])
        XCTAssertEqual(publish["Action"] as? String, "cloudwatch:PutMetricData")
        XCTAssertEqual(((publish["Condition"] as? [String: Any])?["StringEquals"] as? [String: Any])?["cloudwatch:namespace"] as? String, "Fairflow",
                       "PutMetricData has no resource-level permissions: the namespace condition narrows it")
        XCTAssertEqual(bySid["ProtectBusyWorkers"]?["Action"] as? [String], ["ecs:UpdateTaskProtection", "ecs:GetTaskProtection"])
        XCTAssertNotNil(bySid["CountWorkers"])
        let plain = try Parsed(Modes.base())
        let plainSids = ((plain.props("AirflowTaskRole")["Policies"] as! [[String: Any]]).flatMap {
            ($0["PolicyDocument"] as! [String: Any])["Statement"] as! [[String: Any]] }).map { $0["Sid"] as! String }
        XCTAssertFalse(plainSids.contains("PublishQueueMetrics"), "without --autoscaling no scaling permissions")
    }
}
