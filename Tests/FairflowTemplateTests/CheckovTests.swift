import Foundation
import XCTest
@testable import FairflowTemplate

/// checkov: at most 10 failed checks in any mode, and every check still failing is documented
/// in docs/generate.md with the option that clears it.
final class CheckovTests: XCTestCase {
    static let maxFailed = 10

    func testCheckovAtMostTenFailuresPerModeAndAllDocumented() throws {
        let checkov = try needTool("checkov")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fairflow-checkov-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try Modes.write(to: dir)
        let result = try runTool(checkov, ["-d", dir.path, "--framework", "cloudformation", "--compact", "--skip-download",
                                           "--quiet", "-o", "json"])
        // checkov exits 1 when any check fails; the JSON is what we judge.
        let start = try XCTUnwrap(result.output.firstIndex(of: "{"), result.output)
        let json = try JSONSerialization.jsonObject(with: Data(result.output[start...].utf8))
        let report = try XCTUnwrap((json as? [String: Any]) ?? (json as? [[String: Any]])?.first)
        let summary = try XCTUnwrap(report["summary"] as? [String: Any])
        XCTAssertEqual(summary["parsing_errors"] as? Int, 0)
        let failed = ((report["results"] as? [String: Any])?["failed_checks"] as? [[String: Any]]) ?? []
        var perFile: [String: [String]] = [:]
        for f in failed {
            let file = URL(fileURLWithPath: f["file_path"] as? String ?? "").lastPathComponent
            perFile[file, default: []].append(f["check_id"] as? String ?? "?")
        }
        let docs = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../docs/generate.md").standardized, encoding: .utf8)
        for (mode, url) in files {
            let ids = perFile[url.lastPathComponent] ?? []
            XCTAssertLessThanOrEqual(ids.count, Self.maxFailed, "\(mode): \(ids)")
            for id in Set(ids) { XCTAssertTrue(docs.contains("| \(id) |"), "\(mode): \(id) fails but docs/generate.md does not list it") }
            print("checkov \(mode): \(ids.count) failed \(ids.sorted())")
        }
        // A certificate clears the HTTPS checks (documented as such).
        let tls = perFile["certificate.template.json"] ?? []
        XCTAssertFalse(tls.contains("CKV_AWS_2") || tls.contains("CKV_AWS_103"), "\(tls)")
    }
}
