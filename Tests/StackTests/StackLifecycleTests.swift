import FairflowTestSupport
import Foundation
import XCTest

/// deploy → diff → update → teardown against the local AWS, run as a user would (the built binary),
/// with the aws CLI as the oracle. One local AWS per test: each test owns its stack from start to end.
final class StackLifecycleTests: XCTestCase {
    var local: LocalAWS!
    var env: [String: String] = [:]
    var envFile = ""

    override func setUpWithError() throws {
        local = try LocalAWS()
        env = local.environment
        env["FAIRFLOW_POLL_SECONDS"] = "0.3"
        try setUpSecrets()
    }

    func setUpSecrets() throws {
        var arns: [String] = []
        for name in ["airflow-fernet-key", "airflow-admin-password", "airflow-flower-credentials"] {
            let r = try awsCLI(["secretsmanager", "create-secret", "--name", name, "--secret-string", "test-value-\(name)"], environment: env) as! [String: Any]
            arns.append(r["ARN"] as! String)
        }
        envFile = FileManager.default.temporaryDirectory.appendingPathComponent("ff-stack-\(UUID().uuidString).env").path
        try """
        # test env
        AIRFLOW_FERNET_KEY_SECRET_ARN=\(arns[0])
        AIRFLOW_ADMIN_PASSWORD_SECRET_ARN=\(arns[1])
        AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN=\(arns[2])
        GIT_READ_ONLY_SECRET_ARN= # public
        DAG_REPOSITORY=https://github.com/example/dags.git

        """.write(toFile: envFile, atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        local?.stop()
        try? FileManager.default.removeItem(atPath: envFile)
    }

    func ff(_ args: [String]) throws -> ProcessResult { try fairflow(args + ["--env", envFile], environment: env, timeout: 300) }

    func stackStatus() throws -> String? {
        let r = try runProcess(which("aws")!, ["cloudformation", "describe-stacks", "--stack-name", "FairflowStack", "--output", "json"], environment: env)
        guard r.status == 0 else { return nil }
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        return ((obj["Stacks"] as! [[String: Any]]).first)?["StackStatus"] as? String
    }

    func testDeployDiffUpdateTeardownLeavesNothing() throws {
        // diff of a stack that does not exist: everything is an Add; --exit-code says 2.
        let diff0 = try ff(["diff", "--exit-code"])
        XCTAssertEqual(diff0.status, 2, diff0.stderr)
        XCTAssertTrue(diff0.stdout.contains("to add, 0 to modify, 0 to remove"))
        XCTAssertNil(try stackStatus(), "diff leaves no stack behind")

        // deploy without --yes and without a TTY: refused, nothing created.
        let refused = try ff(["deploy"])
        XCTAssertEqual(refused.status, 64)
        XCTAssertTrue(refused.stderr.contains("pass --yes"), refused.stderr)
        XCTAssertNil(try stackStatus())

        let deploy = try ff(["deploy", "--yes", "--output", "json"])
        XCTAssertEqual(deploy.status, 0, deploy.stderr)
        let out = try JSONSerialization.jsonObject(with: Data(deploy.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(out["status"] as? String, "CREATE_COMPLETE")
        XCTAssertEqual(out["action"] as? String, "create")
        let outputs = out["outputs"] as! [String: String]
        XCTAssertTrue(outputs["AirflowUrl"]?.hasPrefix("http") ?? false)
        XCTAssertEqual(try stackStatus(), "CREATE_COMPLETE")
        // Progress as JSON lines on stderr, one per event, per resource.
        let events = deploy.stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertTrue(events.contains { $0["logicalId"] as? String == "Database" && $0["status"] as? String == "CREATE_COMPLETE" })
        XCTAssertEqual(events.last?["status"] as? String, "CREATE_COMPLETE")
        // The oracle: the services hold what the stack says.
        let cluster = outputs["ClusterName"]!
        let services = try awsCLI(["ecs", "list-services", "--cluster", cluster], environment: env) as! [String: Any]
        XCTAssertGreaterThanOrEqual((services["serviceArns"] as! [Any]).count, 5)
        let secrets = (try awsCLI(["secretsmanager", "list-secrets"], environment: env) as! [String: Any])["SecretList"] as! [[String: Any]]
        XCTAssertTrue(secrets.contains { ($0["ARN"] as? String) == outputs["DbSecretArn"] })

        let same = try ff(["deploy", "--yes"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.contains("no changes"), same.stdout)
        let diffSame = try ff(["diff", "--exit-code"])
        XCTAssertEqual(diffSame.status, 0)

        // One change (autoscaling): the worker's scaling resources added; the queue-metrics and task-protection
        // sidecars and their permissions modify only the scheduler's and workers' task definitions, their
        // services and the task role.
        let diff = try ff(["diff", "--autoscaling", "--exit-code", "--output", "json"])
        XCTAssertEqual(diff.status, 2, diff.stderr)
        let changes = (try JSONSerialization.jsonObject(with: Data(diff.stdout.utf8)) as! [String: Any])["changes"] as! [[String: Any]]
        let added = changes.filter { $0["action"] as? String == "Add" }.map { $0["logicalId"] as! String }
        XCTAssertEqual(Set(added), ["WorkerScalableTarget", "WorkerCpuScaling", "WorkerMemoryScaling", "WorkerQueueScaling"])
        let others = changes.filter { $0["action"] as? String != "Add" }
        XCTAssertTrue(others.allSatisfy { $0["action"] as? String == "Modify" }, "\(others)")
        XCTAssertTrue(Set(others.map { $0["logicalId"] as! String }).isSubset(of: [
            "SchedulerTaskDefinition", "WorkerTaskDefinition", "SchedulerService", "WorkerService", "AirflowTaskRole"]), "\(others)")
        let update = try ff(["deploy", "--autoscaling", "--yes"])
        XCTAssertEqual(update.status, 0, update.stderr)
        XCTAssertEqual(try stackStatus(), "UPDATE_COMPLETE")
        let targets = try awsCLI(["application-autoscaling", "describe-scalable-targets", "--service-namespace", "ecs"], environment: env) as! [String: Any]
        XCTAssertEqual((targets["ScalableTargets"] as! [Any]).count, 1)

        // Task logs in the bucket: teardown must empty it (all versions) before the bucket can go.
        let bucket = outputs["LogsBucketName"]!
        _ = try runProcess(which("aws")!, ["s3api", "delete-bucket-policy", "--bucket", bucket], environment: env)
        for i in 0..<3 {
            let put = try runProcess(which("aws")!, ["s3api", "put-object", "--bucket", bucket, "--key", "dag_id=x/run/\(i).log", "--body", "/etc/hostname"], environment: env)
            XCTAssertEqual(put.status, 0, put.stderr)
        }
        let teardownRefused = try ff(["teardown"])
        XCTAssertEqual(teardownRefused.status, 64, "no TTY and no --yes")
        XCTAssertEqual(try stackStatus(), "UPDATE_COMPLETE")

        let teardown = try ff(["teardown", "--yes", "--output", "json"])
        XCTAssertEqual(teardown.status, 0, teardown.stdout + teardown.stderr)
        let td = try JSONSerialization.jsonObject(with: Data(teardown.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((td["leftovers"] as! [Any]).count, 0)
        XCTAssertTrue((td["actions"] as! [String]).contains { $0.contains("emptied bucket \(bucket) (3 object versions)") }, "\(td["actions"]!)")
        XCTAssertNil(try stackStatus())
        // The census, again through the services: nothing tagged with the stack is left.
        let tagged = try awsCLI(["resourcegroupstaggingapi", "get-resources", "--tag-filters", "Key=Stack,Values=FairflowStack"], environment: env) as! [String: Any]
        let arns = (tagged["ResourceTagMappingList"] as! [[String: Any]]).compactMap { $0["ResourceARN"] as? String }
        // The tagging API still lists what is deregistered, terminated, inactive or pending deletion: ask each service.
        for arn in arns {
            if arn.contains(":cluster/") {
                let c = try awsCLI(["ecs", "describe-clusters", "--clusters", arn], environment: env) as! [String: Any]
                XCTAssertEqual(((c["clusters"] as? [[String: Any]])?.first?["status"] as? String) ?? "INACTIVE", "INACTIVE", arn)
            } else if arn.contains(":task-definition/") {
                let t = try awsCLI(["ecs", "describe-task-definition", "--task-definition", arn], environment: env) as! [String: Any]
                XCTAssertEqual((t["taskDefinition"] as? [String: Any])?["status"] as? String, "INACTIVE", arn)
            } else if arn.contains(":key/") {
                let k = try awsCLI(["kms", "describe-key", "--key-id", arn], environment: env) as! [String: Any]
                XCTAssertEqual((k["KeyMetadata"] as? [String: Any])?["KeyState"] as? String, "PendingDeletion", arn)
            } else if arn.contains(":instance/") {
                let i = try awsCLI(["ec2", "describe-instances", "--instance-ids", String(arn.split(separator: "/").last!)], environment: env) as! [String: Any]
                let state = (((i["Reservations"] as? [[String: Any]])?.first?["Instances"] as? [[String: Any]])?.first?["State"] as? [String: Any])?["Name"] as? String
                XCTAssertEqual(state, "terminated", arn)
            } else if arn.contains(":natgateway/") {
                let n = try awsCLI(["ec2", "describe-nat-gateways", "--nat-gateway-ids", String(arn.split(separator: "/").last!)], environment: env) as! [String: Any]
                XCTAssertEqual((n["NatGateways"] as? [[String: Any]])?.first?["State"] as? String, "deleted", arn)
            } else {
                XCTFail("still tagged Stack=FairflowStack after teardown: \(arn)")
            }
        }
        let groups = try awsCLI(["logs", "describe-log-groups"], environment: env) as! [String: Any]
        XCTAssertEqual((groups["logGroups"] as! [Any]).count, 0)
        let buckets = try awsCLI(["s3api", "list-buckets"], environment: env) as! [String: Any]
        XCTAssertEqual((buckets["Buckets"] as? [Any] ?? []).count, 0, "logs and staging buckets are gone")
        XCTAssertFalse(teardown.stdout.contains("test-value-"), "no secret value printed")
        XCTAssertFalse(deploy.stdout.contains("test-value-") || deploy.stderr.contains("test-value-"))
    }

    func testFailedCreateRollsBackAndBlocksTheNextDeploy() throws {
        let bad = try ff(["deploy", "--yes", "--certificate-arn", "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("UiListener (AWS::ElasticLoadBalancingV2::Listener) failed: CertificateNotFound"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("ROLLBACK_COMPLETE"))
        XCTAssertEqual(try stackStatus(), "ROLLBACK_COMPLETE")
        let again = try ff(["deploy", "--yes"])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("is in ROLLBACK_COMPLETE"), again.stderr)
        XCTAssertTrue(again.stderr.contains("fairflow teardown"))
        let td = try ff(["teardown", "--yes"])
        XCTAssertEqual(td.status, 0, td.stdout + td.stderr)
        XCTAssertTrue(td.stdout.contains("nothing left"))
        let groups = try awsCLI(["logs", "describe-log-groups"], environment: env) as! [String: Any]
        XCTAssertEqual((groups["logGroups"] as! [Any]).count, 0, "log groups the rollback retained are deleted too")
    }

    /// DescribeStackEvents throttled three times through the fault proxy: deploy slows its polling and
    /// still finishes; the proxy's log shows the throttled calls were retried.
    func testThrottledStackEventsAreRetried() throws {
        local.stop()
        local = try LocalAWS(arguments: ["--fault-proxy"])
        let proxy = local.peer["FAULT_PROXY_ENDPOINT"]!
        env = local.environment
        env["AWS_ENDPOINT_URL"] = proxy
        env["FAIRFLOW_POLL_SECONDS"] = "0.3"
        try setUpSecrets()
        let rule = try runProcess(which("curl")!, ["-s", "-XPOST", "\(proxy)/_fault/rules", "-d",
                                                   #"{"operation":"DescribeStackEvents","kind":"throttle","count":3}"#])
        XCTAssertEqual(rule.status, 0)
        let deploy = try ff(["deploy", "--yes", "--no-bastion"])
        XCTAssertEqual(deploy.status, 0, deploy.stderr)
        XCTAssertEqual(try stackStatus(), "CREATE_COMPLETE")
        let log = try runProcess(which("curl")!, ["-s", "\(proxy)/_fault/requests"])
        let entries = try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as! [[String: Any]]
        let events = entries.filter { $0["operation"] as? String == "DescribeStackEvents" }
        XCTAssertEqual(events.filter { $0["fault"] as? String == "throttle" }.count, 3)
        XCTAssertTrue(events.contains { $0["status"] as? Int == 200 })
        // Idempotency tokens: CreateChangeSet and ExecuteChangeSet each sent one, once.
        let creates = entries.filter { $0["operation"] as? String == "CreateChangeSet" }
        XCTAssertEqual(creates.count, 1)
        XCTAssertNotNil(creates.first?["client_request_token"] as? String)
    }
}

/// `dags sync` against a stack in the local AWS (its dag-sync service is redeployed) and the real
/// Airflow 3 peer (the DAG processor's view of the DAGs and import errors).
final class DagsSyncTests: XCTestCase {
    func testSyncRedeploysGitSyncAndWaitsForTheParse() throws {
        let airflow = try requirePeer("FAIRFLOW_TEST_AIRFLOW3_URL")
        let user = try requirePeer("FAIRFLOW_TEST_AIRFLOW_USER")
        let password = try requirePeer("FAIRFLOW_TEST_AIRFLOW_PASSWORD")
        let local = try LocalAWS(arguments: ["--fault-proxy"])
        defer { local.stop() }
        var env = local.environment
        env["AWS_ENDPOINT_URL"] = local.peer["FAULT_PROXY_ENDPOINT"]!
        env["FAIRFLOW_POLL_SECONDS"] = "0.3"
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-x-AbCdEf"
        env["AIRFLOW_FERNET_KEY_SECRET_ARN"] = arn
        env["AIRFLOW_ADMIN_PASSWORD_SECRET_ARN"] = arn
        env["AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN"] = arn
        let deploy = try fairflow(["deploy", "--yes", "--no-bastion"], environment: env, timeout: 300)
        XCTAssertEqual(deploy.status, 0, deploy.stderr)
        env["FAIRFLOW_AIRFLOW_PASSWORD"] = password
        let sync = try fairflow(["dags", "sync", "--airflow-url", airflow, "--airflow-user", user, "--settle", "2", "--output", "json"],
                                environment: env, timeout: 300)
        XCTAssertEqual(sync.status, 0, sync.stderr)
        let out = try JSONSerialization.jsonObject(with: Data(sync.stdout.utf8)) as! [String: Any]
        XCTAssertGreaterThanOrEqual(out["dags"] as? Int ?? 0, 3, "the peer's test DAGs are parsed")
        XCTAssertGreaterThanOrEqual(out["importErrors"] as? Int ?? 0, 1, "the broken test DAG stays an import error")
        XCTAssertEqual((out["newImportErrors"] as? [Any])?.count, 0, "nothing new broke")
        XCTAssertFalse(sync.stdout.contains(password) || sync.stderr.contains(password))
        // The sync was a new deployment of the stack's dag-sync service, and nothing else changed.
        let log = try runProcess(which("curl")!, ["-s", "\(local.peer["FAULT_PROXY_ENDPOINT"]!)/_fault/requests"])
        let entries = try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as! [[String: Any]]
        let after = entries.drop { $0["operation"] as? String != "UpdateService" }
        XCTAssertEqual(after.filter { $0["operation"] as? String == "UpdateService" }.count, 1)
        XCTAssertEqual(after.filter { $0["mutating"] as? Bool == true }.count, 1, "a sync changes nothing but the dag-sync deployment")
    }
}

/// The bastion commands' AWS side against the local AWS: the stack's outputs, SSM Run Command's API
/// sequence (the local AWS runs nothing, so the listing is honestly reported as empty), and no SSH
/// to a bastion that has only a private address.
final class BastionAWSTests: XCTestCase {
    func testEfsLsViaSSMAndNoDialToAPrivateBastion() throws {
        let local = try LocalAWS(arguments: ["--fault-proxy"])
        defer { local.stop() }
        let proxy = local.peer["FAULT_PROXY_ENDPOINT"]!
        var env = local.environment
        env["AWS_ENDPOINT_URL"] = proxy
        env["FAIRFLOW_POLL_SECONDS"] = "0.3"
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-x-AbCdEf"
        for k in ["AIRFLOW_FERNET_KEY_SECRET_ARN", "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN", "AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN"] { env[k] = arn }
        XCTAssertEqual(try fairflow(["deploy", "--yes"], environment: env, timeout: 300).status, 0)
        _ = try runProcess(which("curl")!, ["-s", "-XDELETE", "\(proxy)/_fault/requests"])

        let ls = try fairflow(["efs", "ls", "--recursive"], environment: env)
        XCTAssertEqual(ls.status, 1)
        XCTAssertTrue(ls.stderr.contains("SSM reports Success but the command printed nothing"), ls.stderr)
        let log = try runProcess(which("curl")!, ["-s", "\(proxy)/_fault/requests"])
        let ops = (try JSONSerialization.jsonObject(with: Data(log.stdout.utf8)) as! [[String: Any]]).compactMap { $0["operation"] as? String }
        XCTAssertEqual(ops.filter { ["SendCommand", "GetCommandInvocation"].contains($0) }.first, "SendCommand")
        XCTAssertTrue(ops.contains("GetCommandInvocation"))
        let commands = try awsCLI(["ssm", "list-commands"], environment: local.environment) as! [String: Any]
        let cmd = (commands["Commands"] as! [[String: Any]]).first
        XCTAssertEqual(cmd?["DocumentName"] as? String, "AWS-RunShellScript")
        let script = ((cmd?["Parameters"] as? [String: Any])?["commands"] as? [String])?.first ?? ""
        XCTAssertTrue(script.contains("mount -t efs") && script.contains("umount"), script)

        // The stack's bastion has a private address only: db check over SSH refuses before any connection.
        let db = try fairflow(["db", "check", "--via", "ssh"], environment: env)
        XCTAssertEqual(db.status, 1)
        XCTAssertTrue(db.stderr.contains("has no public address"), db.stderr)
    }
}

/// `status` on a deployed stack: every service, the database, EFS and the bastion, from the services'
/// own APIs; healthy → exit 0, services short of their desired count → exit 3 naming them.
final class StatusTests: XCTestCase {
    func deployed(tasksRun: Bool) throws -> (LocalAWS, [String: String]) {
        let local = try LocalAWS(serverEnvironment: ["LOCAL_AWS_TASKS_RUN": tasksRun ? "1" : "0"])
        var env = local.environment
        env["FAIRFLOW_POLL_SECONDS"] = "0.3"
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-x-AbCdEf"
        for k in ["AIRFLOW_FERNET_KEY_SECRET_ARN", "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN", "AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN"] { env[k] = arn }
        let d = try fairflow(["deploy", "--yes", "--ha"], environment: env, timeout: 300)
        XCTAssertEqual(d.status, 0, d.stderr)
        return (local, env)
    }

    /// The local AWS registers a new service's tasks in its target groups, as ECS does; `register: false`
    /// takes them out again (what ECS does with tasks that fail the ALB's health check).
    func setTargets(_ env: [String: String], register: Bool, only: String? = nil) throws {
        let res = try awsCLI(["cloudformation", "describe-stack-resources", "--stack-name", "FairflowStack"], environment: env) as! [String: Any]
        for r in res["StackResources"] as! [[String: Any]] where r["ResourceType"] as? String == "AWS::ElasticLoadBalancingV2::TargetGroup" {
            let arn = r["PhysicalResourceId"] as! String
            if let o = only, r["LogicalResourceId"] as? String != o { continue }
            if register {
                _ = try awsCLI(["elbv2", "register-targets", "--target-group-arn", arn, "--targets", "Id=10.0.9.10"], environment: env)
                continue
            }
            let health = try awsCLI(["elbv2", "describe-target-health", "--target-group-arn", arn], environment: env) as! [String: Any]
            let ids = (health["TargetHealthDescriptions"] as! [[String: Any]]).map { ($0["Target"] as! [String: Any])["Id"] as! String }
            if !ids.isEmpty {
                _ = try awsCLI(["elbv2", "deregister-targets", "--target-group-arn", arn, "--targets"] + ids.map { "Id=\($0)" }, environment: env)
            }
        }
    }

    func testHealthyStackReportsEveryPart() throws {
        let (local, env) = try deployed(tasksRun: true)
        defer { local.stop() }
        let r = try fairflow(["status", "--output", "json"], environment: env)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let s = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(s["healthy"] as? Bool, true)
        XCTAssertEqual(s["stackStatus"] as? String, "CREATE_COMPLETE")
        let services = s["services"] as! [[String: Any]]
        XCTAssertEqual(Set(services.map { $0["component"] as! String }),
                       ["api-server", "scheduler", "dag-processor", "triggerer", "worker", "flower", "dag-sync"])
        XCTAssertTrue(services.allSatisfy { ($0["desired"] as? Int) == 2 || $0["component"] as? String == "flower" || $0["component"] as? String == "dag-sync" })
        let db = s["database"] as! [String: Any]
        XCTAssertEqual(db["multiAZ"] as? Bool, true, "HA: Multi-AZ, as RDS itself says")
        let oracle = try awsCLI(["rds", "describe-db-instances", "--endpoint-url", local.endpoint], environment: env) as! [String: Any]
        XCTAssertEqual((oracle["DBInstances"] as! [[String: Any]]).first?["MultiAZ"] as? Bool, true)
        XCTAssertTrue((s["redis"] as? String ?? "").contains("automatic failover enabled"), "\(s["redis"] ?? "")")
        XCTAssertEqual(s["efs"] as? String, "available")
        XCTAssertEqual(s["bastion"] as? String, "Online")
        let targets = s["targets"] as! [String: [[String: Any]]]
        XCTAssertEqual(targets["UiTargetGroup"]?.map { $0["state"] as? String }, ["healthy", "healthy"])
    }

    /// Every service at its desired count, yet nothing registered behind the ALB: not healthy.
    func testServicesWithoutARegisteredTargetExit3NamingServiceAndEvidence() throws {
        let (local, env) = try deployed(tasksRun: true)
        defer { local.stop() }
        try setTargets(env, register: false)
        let r = try fairflow(["status"], environment: env)
        XCTAssertEqual(r.status, 3, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("UNHEALTHY\tapi-server: no healthy target in UiTargetGroup — target health: none registered"), r.stdout)
        XCTAssertTrue(r.stdout.contains("UNHEALTHY\tflower: no healthy target in FlowerTargetGroup — target health: none registered"), r.stdout)
        try setTargets(env, register: true, only: "FlowerTargetGroup")
        let j = try fairflow(["status", "--output", "json"], environment: env)
        XCTAssertEqual(j.status, 3, j.stderr)
        let s = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        let problems = s["problems"] as! [[String: String]]
        XCTAssertEqual(problems, [["component": "api-server", "problem": "no healthy target in UiTargetGroup", "evidence": "target health: none registered"]])
        XCTAssertEqual(s["healthy"] as? Bool, false)
    }

    /// `--watch` gives up at its timeout with exit 3 and the problems; once healthy it returns 0 at once.
    func testWatchEndsAtTheTimeoutOrWhenHealthy() throws {
        let (local, env) = try deployed(tasksRun: true)
        defer { local.stop() }
        try setTargets(env, register: false)
        let started = Date()
        let r = try fairflow(["status", "--watch", "--timeout", "10s", "--interval", "1s", "--output", "json"], environment: env)
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 40)
        let s = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(s["timedOut"] as? Bool, true)
        XCTAssertGreaterThanOrEqual(s["polls"] as? Int ?? 0, 2, "it checked again before giving up")
        XCTAssertTrue(r.stderr.contains("\"event\":\"status\""), "progress on stderr: \(r.stderr)")
        try setTargets(env, register: true)
        let ok = try fairflow(["status", "--watch", "--timeout", "30s", "--interval", "1s"], environment: env)
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        XCTAssertTrue(ok.stdout.hasSuffix("healthy\n"), ok.stdout)
        let bad = try fairflow(["status", "--watch", "--timeout", "soon"], environment: env)
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("--timeout: 'soon' is not a duration like 90s, 10m or 1h"), bad.stderr)
    }

    func testServicesShortOfTheirCountExit3NamingThem() throws {
        let (local, env) = try deployed(tasksRun: false)
        defer { local.stop() }
        let r = try fairflow(["status"], environment: env)
        XCTAssertEqual(r.status, 3, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("UNHEALTHY\tscheduler: 0 of 2 tasks running"), r.stdout)
        XCTAssertTrue(r.stdout.contains("UNHEALTHY\tworker: 0 of 2 tasks running"), r.stdout)
    }
}

/// `timeline` on a deployed stack: one time-ordered view from the services' own APIs; a source the
/// endpoint cannot answer is named and the rest is shown.
final class TimelineTests: XCTestCase {
    func testTimelineOrdersStackAndDatabaseEventsAndFilters() throws {
        let local = try LocalAWS()
        defer { local.stop() }
        var env = local.environment
        env["FAIRFLOW_POLL_SECONDS"] = "0.3"
        env["AWS_MAX_ATTEMPTS"] = "1"
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-x-AbCdEf"
        for k in ["AIRFLOW_FERNET_KEY_SECRET_ARN", "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN", "AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN"] { env[k] = arn }
        XCTAssertEqual(try fairflow(["deploy", "--yes"], environment: env, timeout: 300).status, 0)

        let r = try fairflow(["timeline", "--since", "1h"], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertTrue(lines.allSatisfy { $0.count == 4 }, "time, component, source, message on a pipe: \(r.stdout)")
        let times = lines.map { $0[0] }
        XCTAssertEqual(times, times.sorted(), "time-ordered")
        // (runbook journals under ./.fairflow/runs are part of the timeline too: a demo run from this directory shows up)
        XCTAssertEqual(lines.first { $0[2] == "cloudformation" }?[3], "FairflowStack REVIEW_IN_PROGRESS: User Initiated")
        // Same-second events keep CloudFormation's order: each resource starts before it completes.
        let cfnLines = lines.filter { $0[2] == "cloudformation" }.map { $0[3] }
        for (i, l) in cfnLines.enumerated() where l.hasSuffix(" CREATE_COMPLETE") {
            let id = l.dropLast(" CREATE_COMPLETE".count)
            XCTAssertTrue(cfnLines[..<i].contains { $0.hasPrefix("\(id) CREATE_IN_PROGRESS") }, "\(id) completed before it started")
        }
        XCTAssertTrue(cfnLines.contains("Database CREATE_COMPLETE"), r.stdout)
        XCTAssertTrue(lines.contains { $0[1] == "database" && $0[2] == "rds" && $0[3].hasSuffix(": DB instance created") }, r.stdout)
        XCTAssertTrue(lines.contains { $0[1] == "api-server" && $0[2] == "target-health" && $0[3] == "UiTargetGroup: 1 healthy (state now)" }, r.stdout)
        // The local AWS has no DescribeScalingActivities: named, not fatal.
        XCTAssertTrue(r.stderr.contains("timeline: autoscaling unavailable:"), r.stderr)

        let j = try fairflow(["timeline", "--since", "1h", "--component", "database", "--output", "json"], environment: env)
        XCTAssertEqual(j.status, 0, j.stderr)
        let doc = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        let entries = doc["entries"] as! [[String: Any]]
        XCTAssertFalse(entries.isEmpty)
        XCTAssertEqual(Set(entries.map { $0["component"] as! String }), ["database"])
        XCTAssertEqual(Set(entries.map { $0["source"] as! String }), ["cloudformation", "rds"])
        XCTAssertEqual(Set((doc["unavailable"] as! [[String: Any]]).map { $0["source"] as! String }), ["autoscaling"], "not HA: Redis is a service, no ElastiCache to ask")

        let bad = try fairflow(["timeline", "--component", "wroker"], environment: env)
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("unknown component 'wroker' (did you mean worker?)"), bad.stderr)
        let none = try fairflow(["timeline", "--since", "2026-01-01T00:00:00Z", "--component", "bastion"], environment: env)
        XCTAssertEqual(none.status, 0)
    }
}
