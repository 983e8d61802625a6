import Foundation
import XCTest
@testable import FairflowTemplate

/// Deploys every mode into the local AWS (scripts/local-aws) with CreateStack, using the aws CLI
/// as the oracle, and lists the resource types the local AWS skipped.
final class MotoDeployTests: XCTestCase {
    /// Types the local AWS is allowed to skip today. The localaws branch extends moto to create them;
    /// shrink this list as it lands (it must end empty).
    static let allowedSkips: Set<String> = Set(
        (ProcessInfo.processInfo.environment["FAIRFLOW_MOTO_ALLOWED_SKIPS"] ?? "")
            .split(separator: ",").map { String($0) })

    func requirePeer(_ name: String) throws -> String {
        if let v = ProcessInfo.processInfo.environment[name], !v.isEmpty { return v }
        if ProcessInfo.processInfo.environment["FAIRFLOW_REQUIRE_PEERS"] == "1" {
            XCTFail("\(name) is not set: start scripts/local-aws (scripts/test does)")
        }
        throw XCTSkip("\(name) is not set (start scripts/local-aws)")
    }

    func aws(_ cli: String, _ endpoint: String, _ args: [String]) throws -> (Int32, String) {
        try runTool(cli, ["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"] + args)
    }

    func testEveryModeDeploysIntoLocalAws() throws {
        let endpoint = try requirePeer("LOCAL_AWS_ENDPOINT")
        let cli = try requireTool("aws")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fairflow-moto-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        var skippedAll: [String: Set<String>] = [:]
        // The bastion AMI parameter is an SSM parameter name; give the local AWS one to resolve.
        let amiParameter = "/fairflow-test/bastion-ami-\(getpid())"
        _ = try aws(cli, endpoint, ["ssm", "put-parameter", "--name", amiParameter, "--type", "String",
                                    "--value", "ami-0123456789abcdef0", "--overwrite"])
        for (mode, url) in try Modes.write(to: dir) {
            let stack = "ffgen-\(mode)-\(getpid())"
            var params: [String] = []
            if mode != "no-bastion" {
                params = ["--parameters", "ParameterKey=BastionAmi,ParameterValue=\(amiParameter)"]
            }
            let (rc, out) = try aws(cli, endpoint, ["cloudformation", "create-stack", "--stack-name", stack,
                "--template-body", "file://\(url.path)", "--capabilities", "CAPABILITY_IAM"] + params)
            XCTAssertEqual(rc, 0, "\(mode): create-stack: \(out.prefix(600))")
            guard rc == 0 else { continue }
            defer { _ = try? aws(cli, endpoint, ["cloudformation", "delete-stack", "--stack-name", stack]) }
            var status = ""
            var outputs: [[String: Any]] = []
            for _ in 0..<60 {
                let (_, d) = try aws(cli, endpoint, ["cloudformation", "describe-stacks", "--stack-name", stack])
                let s = ((try? JSONSerialization.jsonObject(with: Data(d.utf8))) as? [String: Any])?["Stacks"] as? [[String: Any]]
                status = s?.first?["StackStatus"] as? String ?? d
                outputs = s?.first?["Outputs"] as? [[String: Any]] ?? []
                if !status.hasSuffix("_IN_PROGRESS") { break }
                Thread.sleep(forTimeInterval: 0.5)
            }
            XCTAssertEqual(status, "CREATE_COMPLETE", mode)
            let template = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            let resources = template["Resources"] as! [String: [String: Any]]
            let (_, listed) = try aws(cli, endpoint, ["cloudformation", "list-stack-resources", "--stack-name", stack])
            let summaries = ((try? JSONSerialization.jsonObject(with: Data(listed.utf8))) as? [String: Any])?["StackResourceSummaries"] as? [[String: Any]] ?? []
            let created = Set(summaries.compactMap { s -> String? in
                guard let id = s["LogicalResourceId"] as? String, !id.isEmpty,
                      s["ResourceStatus"] as? String == "CREATE_COMPLETE" else { return nil }
                return id
            })
            let skipped = Set(resources.filter { !created.contains($0.key) }.map { $0.value["Type"] as! String })
            skippedAll[mode] = skipped
            print("local-aws \(mode): \(status), \(created.count)/\(resources.count) resources, \(outputs.count) outputs, skipped types: \(skipped.sorted())")
            XCTAssertEqual(skipped.subtracting(Self.allowedSkips), [], "\(mode): local AWS skipped these types")
            let expected = Set(StackOutputs.names(for: Modes.all.first { $0.0 == mode }!.1))
            XCTAssertEqual(Set(outputs.compactMap { $0["OutputKey"] as? String }), expected, "\(mode): outputs")
        }
    }
}
