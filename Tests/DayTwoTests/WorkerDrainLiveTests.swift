import FairflowTestSupport
import Foundation
import XCTest

/// `fairflow scale worker 1` against the local AWS with --run: two worker tasks really run, both protected
/// (busy); the scale-in waits until one is released, then says it stopped that one and waited for it.
final class WorkerDrainLiveTests: XCTestCase {
    func testScaleInWaitsForTheProtectedWorkerAndNamesIt() throws {
        let local = try LocalAWS(arguments: ["--run"])
        let env = local.environment
        func aws(_ args: [String]) throws -> [String: Any] { try awsCLI(args, environment: env) as? [String: Any] ?? [:] }
        let vpc = ((try aws(["ec2", "create-vpc", "--cidr-block", "10.7.0.0/16"]))["Vpc"] as! [String: Any])["VpcId"] as! String
        let subnet = ((try aws(["ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.7.1.0/24", "--availability-zone", "us-east-1a"]))["Subnet"] as! [String: Any])["SubnetId"] as! String
        let sg = (try aws(["ec2", "create-security-group", "--group-name", "drain", "--description", "t", "--vpc-id", vpc]))["GroupId"] as! String
        // The stack fairflow reads: only its outputs matter here.
        let template = #"{"Resources":{"Cluster":{"Type":"AWS::ECS::Cluster","Properties":{"ClusterName":"drain"}}},"Outputs":{"ClusterName":{"Value":{"Ref":"Cluster"}},"WorkerServiceName":{"Value":"worker"}}}"#
        _ = try aws(["cloudformation", "create-stack", "--stack-name", "FairflowStack", "--template-body", template])

        var status = ""
        for _ in 0..<120 where status != "CREATE_COMPLETE" {
            let stacks = (try aws(["cloudformation", "describe-stacks", "--stack-name", "FairflowStack"]))["Stacks"] as? [[String: Any]]
            status = stacks?.first?["StackStatus"] as? String ?? ""
            if status != "CREATE_COMPLETE" { Thread.sleep(forTimeInterval: 0.5) }
        }
        if status != "CREATE_COMPLETE" {
            let events = try aws(["cloudformation", "describe-stack-events", "--stack-name", "FairflowStack"])
            return XCTFail("stack \(status): \(events)")
        }

        let container = #"[{"name":"worker","image":"python:3.12-slim","essential":true,"command":["python3","-c","import time\nwhile True: time.sleep(1)"]}]"#
        _ = try aws(["ecs", "register-task-definition", "--family", "drain-worker", "--network-mode", "awsvpc", "--requires-compatibilities", "FARGATE",
                     "--cpu", "256", "--memory", "512", "--container-definitions", container])
        _ = try aws(["ecs", "create-service", "--cluster", "drain", "--service-name", "worker", "--task-definition", "drain-worker",
                     "--desired-count", "2", "--launch-type", "FARGATE", "--network-configuration",
                     #"{"awsvpcConfiguration":{"subnets":["\#(subnet)"],"securityGroups":["\#(sg)"],"assignPublicIp":"DISABLED"}}"#])
        var arns: [String] = []
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            arns = (try aws(["ecs", "list-tasks", "--cluster", "drain", "--service-name", "worker"]))["taskArns"] as? [String] ?? []
            let running = ((try aws(["ecs", "describe-services", "--cluster", "drain", "--services", "worker"]))["services"] as? [[String: Any]])?.first?["runningCount"] as? Int
            if arns.count == 2 && running == 2 { break }
            Thread.sleep(forTimeInterval: 1)
        }
        guard arns.count == 2 else { return XCTFail("two worker tasks running: \(arns)") }
        _ = try aws(["ecs", "update-task-protection", "--cluster", "drain", "--tasks"] + arns + ["--protection-enabled", "--expires-in-minutes", "10"])
        let (released, busy) = (arns[0], arns[1])
        func id(_ arn: String) -> String { String(arn.split(separator: "/").last!) }

        // The busy worker finishes (its task-protection container would release it) a few seconds into the wait.
        let releaser = Thread {
            Thread.sleep(forTimeInterval: 6)
            _ = try? awsCLI(["ecs", "update-task-protection", "--cluster", "drain", "--tasks", released, "--no-protection-enabled"], environment: env)
        }
        releaser.start()
        let started = Date()
        let r = try fairflow(["scale", "worker", "1", "--output", "json", "--timeout", "120"], environment: env, timeout: 180)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 5, "it waited for the release")
        XCTAssertTrue(r.stderr.contains("2 busy worker task(s) protected from scale-in"), r.stderr)
        let out = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let drain = try XCTUnwrap(out["drain"] as? [String: Any], r.stdout)
        XCTAssertEqual(drain["stopped"] as? [String], [id(released)])
        XCTAssertEqual(drain["waitedFor"] as? [String], [id(released)])
        XCTAssertEqual(drain["stillBusy"] as? [String], [id(busy)])
        XCTAssertEqual(out["desiredCount"] as? Int, 1)
        XCTAssertEqual(out["steady"] as? Bool, true)
        _ = try aws(["ecs", "update-task-protection", "--cluster", "drain", "--tasks", busy, "--no-protection-enabled"])
        _ = try aws(["ecs", "delete-service", "--cluster", "drain", "--service", "worker", "--force"])
    }
}
