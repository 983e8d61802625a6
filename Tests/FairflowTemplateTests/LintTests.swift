import Foundation
import XCTest
@testable import FairflowTemplate

/// cfn-lint must report nothing (0 errors, 0 warnings) in every mode, JSON and YAML.
final class LintTests: XCTestCase {
    func testCfnLintCleanInEveryMode() throws {
        let cfnLint = try needTool("cfn-lint")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fairflow-lint-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        // JSON for every mode; YAML for one (testYamlMatchesJson proves the two say the same thing).
        var files = try Modes.write(to: dir)
        var ha = Modes.all.first { $0.0 == "ha-autoscaling" }!.1
        ha.format = .yaml
        let yaml = dir.appendingPathComponent("ha-autoscaling.template.yaml")
        try TemplateGenerator.render(ha).write(to: yaml, atomically: true, encoding: .utf8)
        files.append(("ha-autoscaling-yaml", yaml))
        // One cfn-lint run over all files (it starts slowly); its output names each file and rule.
        let result = try runTool(cfnLint, ["--regions", "us-east-1", "--format", "parseable", "--"] + files.map { $0.1.path })
        XCTAssertEqual(result.status, 0, "cfn-lint findings:\n\(result.output)")
        XCTAssertEqual(result.output.trimmingCharacters(in: .whitespacesAndNewlines), "", "cfn-lint findings:\n\(result.output)")
    }

    /// Makes the lint test able to fail: a template with the seed's EfsVolumeConfiguration spelling.
    func testCfnLintCatchesTheSeedSpelling() throws {
        let cfnLint = try needTool("cfn-lint")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fairflow-lint-bad-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let bad = try TemplateGenerator.render(Modes.base()).replacingOccurrences(of: "EFSVolumeConfiguration", with: "EfsVolumeConfiguration")
        let url = dir.appendingPathComponent("bad.json")
        try bad.write(to: url, atomically: true, encoding: .utf8)
        let result = try runTool(cfnLint, ["--regions", "us-east-1", "--format", "parseable", "--", url.path])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("E3002"), result.output)
    }
}
