import Foundation
import FairflowTestSupport
import XCTest
@testable import FairflowTemplate

/// Deploys every mode into the local AWS (scripts/local-aws) with CreateStack, using the aws CLI
/// as the oracle, and lists the resource types the local AWS skipped.
final class MotoDeployTests: XCTestCase {
    /// The local AWS (scripts/local-aws, moto extended) must create every type the template uses.
    static let allowedSkips: Set<String> = []

    var environment: [String: String] = ProcessInfo.processInfo.environment
    var local: LocalAWS?

    override func tearDown() { local?.stop(); local = nil }

    /// LOCAL_AWS_ENDPOINT when scripts/test (or you) started one; else our own scripts/local-aws.
    func localEndpoint() throws -> String {
        if let e = environment["LOCAL_AWS_ENDPOINT"], !e.isEmpty { return e }
        do {
            let l = try LocalAWS()
            local = l
            environment = l.environment
            return l.endpoint
        } catch {
            if environment["FAIRFLOW_REQUIRE_PEERS"] == "1" { XCTFail("cannot start scripts/local-aws: \(error)") }
            throw XCTSkip("scripts/local-aws did not start: \(error)")
        }
    }

    func aws(_ cli: String, _ endpoint: String, _ args: [String]) throws -> (Int32, String) {
        let r = try runProcess(cli, ["--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"] + args,
                               environment: environment)
        return (r.status, r.stdout + r.stderr)
    }

    func testEveryModeDeploysIntoLocalAws() throws {
        let endpoint = try localEndpoint()
        let cli = try needTool("aws")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fairflow-moto-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        var skippedAll: [String: Set<String>] = [:]
        // The bastion AMI parameter is an SSM parameter name; give the local AWS one to resolve.
        let amiParameter = "/fairflow-test/bastion-ami-\(getpid())"
        _ = try aws(cli, endpoint, ["ssm", "put-parameter", "--name", amiParameter, "--type", "String",
                                    "--value", "ami-0123456789abcdef0", "--overwrite"])
        // The HTTPS listeners need a certificate that exists: request one from the local ACM.
        let (acmRC, acmOut) = try aws(cli, endpoint, ["acm", "request-certificate", "--domain-name", "airflow.example.com"])
        XCTAssertEqual(acmRC, 0, acmOut)
        let certificate = ((try? JSONSerialization.jsonObject(with: Data(acmOut.utf8))) as? [String: Any])?["CertificateArn"] as? String
        for (mode, url) in try Modes.write(to: dir) {
            if mode == "certificate", let certificate {
                var o = Modes.all.first { $0.0 == mode }!.1
                o.certificateArn = certificate
                try TemplateGenerator.render(o).write(to: url, atomically: true, encoding: .utf8)
            }
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
