import FairflowTemplate
import FairflowTestSupport
import Foundation
import XCTest

/// One local AWS and one generated stack (deployed with the aws CLI) shared by a test class.
final class DayTwoStack: @unchecked Sendable {
    let local: LocalAWS
    let stackName: String
    let outputs: [String: String]
    let dir: URL

    var environment: [String: String] { local.environment }

    init() throws {
        local = try LocalAWS()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("fairflow-daytwo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        stackName = "FairflowStack"
        var o = TemplateOptions(fernetKeySecretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-fernet-key-AbCdEf",
                                adminPasswordSecretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-admin-password-AbCdEf",
                                flowerCredentialsSecretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-flower-credentials-AbCdEf")
        o.bastion = false
        o.autoscaling = true
        o.format = .json
        var template = try JSONSerialization.jsonObject(with: Data(try TemplateGenerator.render(o).utf8)) as! [String: Any]
        // moto's KMS model fails on key tags (KeyError 'TagKey'); tags are irrelevant to day-two commands.
        var resources = template["Resources"] as! [String: [String: Any]]
        for (id, r) in resources where r["Type"] as? String == "AWS::KMS::Key" {
            var props = r["Properties"] as? [String: Any] ?? [:]
            props.removeValue(forKey: "Tags")
            resources[id]?["Properties"] = props
        }
        template["Resources"] = resources
        let file = dir.appendingPathComponent("stack.json")
        try JSONSerialization.data(withJSONObject: template).write(to: file)
        let env = local.environment
        _ = try awsCLI(["cloudformation", "create-stack", "--stack-name", stackName, "--template-body", "file://\(file.path)",
                        "--capabilities", "CAPABILITY_IAM"], environment: env)
        var status = "", outs: [String: String] = [:]
        for _ in 0..<120 {
            let d = try awsCLI(["cloudformation", "describe-stacks", "--stack-name", stackName], environment: env) as! [String: Any]
            let s = (d["Stacks"] as! [[String: Any]])[0]
            status = s["StackStatus"] as? String ?? ""
            for out in s["Outputs"] as? [[String: Any]] ?? [] { outs[out["OutputKey"] as! String] = out["OutputValue"] as? String }
            if !status.hasSuffix("_IN_PROGRESS") { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        guard status == "CREATE_COMPLETE" else { throw NSError(domain: "DayTwoStack", code: 1, userInfo: [NSLocalizedDescriptionKey: "stack \(status)"]) }
        outputs = outs
        // moto's RunTask sums container-level memory, which Fargate task definitions leave out: add it in a new revision.
        for family in [outs["BigTaskDefinitionFamily"]!, outs["LittleTaskDefinitionFamily"]!] {
            var td = (try awsCLI(["ecs", "describe-task-definition", "--task-definition", family], environment: env) as! [String: Any])["taskDefinition"] as! [String: Any]
            td = td.filter { ["family", "containerDefinitions", "networkMode", "requiresCompatibilities", "cpu", "memory",
                              "executionRoleArn", "taskRoleArn", "volumes"].contains($0.key) }
            td["containerDefinitions"] = (td["containerDefinitions"] as! [[String: Any]]).map { var c = $0; c["memory"] = 512; return c }
            let f = dir.appendingPathComponent("\(family).json")
            try JSONSerialization.data(withJSONObject: td).write(to: f)
            _ = try awsCLI(["ecs", "register-task-definition", "--cli-input-json", "file://\(f.path)"], environment: env)
        }
    }

    func stop() {
        local.stop()
        try? FileManager.default.removeItem(at: dir)
    }

    /// Puts events with the aws CLI (the oracle writes, fairflow reads).
    func putEvents(group: String, stream: String, _ events: [(Int64, String)]) throws {
        _ = try? awsCLI(["logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", stream], environment: environment)
        for start in stride(from: 0, to: events.count, by: 5000) {
            let chunk = events[start..<min(events.count, start + 5000)].map { ["timestamp": $0.0, "message": $0.1] as [String: Any] }
            let f = dir.appendingPathComponent("events-\(UUID().uuidString).json")
            try JSONSerialization.data(withJSONObject: chunk).write(to: f)
            _ = try awsCLI(["logs", "put-log-events", "--log-group-name", group, "--log-stream-name", stream,
                            "--log-events", "file://\(f.path)"], environment: environment)
        }
    }
}

func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
