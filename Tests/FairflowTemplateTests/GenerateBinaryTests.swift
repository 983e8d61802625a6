import Foundation
import XCTest
@testable import FairflowTemplate

/// Runs the built `fairflow generate` and checks stdout, stderr and the exit code.
final class GenerateBinaryTests: XCTestCase {
    var packageRoot: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    func binary() throws -> String {
        let env = ProcessInfo.processInfo.environment
        let root = packageRoot.path
        let candidates: [String] = [env["FAIRFLOW_BIN"], root + "/.build/debug/fairflow", root + "/.build/release/fairflow"].compactMap { $0 }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        if env["FAIRFLOW_REQUIRE_PEERS"] == "1" { XCTFail("the fairflow binary is not built (swift build)") }
        throw XCTSkip("the fairflow binary is not built (swift build)")
    }

    func runSplit(_ exe: String, _ args: [String], env extra: [String: String] = [:]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for k in TemplateOptions.EnvKey.all { env[k] = nil }
        env["FAIRFLOW_ENV_FILE"] = nil
        env.merge(extra) { $1 }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func envFile(_ overrides: [String: String] = [:]) throws -> URL {
        var values = [
            "AIRFLOW_FERNET_KEY_SECRET_ARN": Modes.secret("fernet-key"),
            "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN": Modes.secret("admin-password"),
            "AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN": Modes.secret("flower-credentials"),
            "GIT_READ_ONLY_SECRET_ARN": "", "DAG_REPOSITORY": TemplateOptions.defaultDagRepository, "IP_WHITELIST": "",
        ]
        values.merge(overrides) { $1 }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ff-gen-\(UUID().uuidString).env")
        try values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testStdoutIsTheTemplateAndByteIdentical() throws {
        let exe = try binary()
        let env = try envFile()
        let (rc, out, err) = try runSplit(exe, ["generate", "--env", env.path, "--ha", "--autoscaling"])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(err, "")
        var o = Modes.base(); o.ha = true; o.autoscaling = true
        XCTAssertEqual(out, try TemplateGenerator.render(o), "the CLI prints exactly the library's template")
        let (_, again, _) = try runSplit(exe, ["generate", "--env", env.path, "--ha", "--autoscaling"])
        XCTAssertEqual(out, again)
    }

    func testWritesFileAndYaml() throws {
        let exe = try binary()
        let env = try envFile(["IP_WHITELIST": "203.0.113.10"])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ff-gen-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        let (rc, out, err) = try runSplit(exe, ["generate", "--env", env.path, "--format", "yaml", "--no-bastion",
                                                "--airflow-version", "2", "-o", file.path])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(out, "")
        XCTAssertTrue(err.contains("wrote \(file.path)"), err)
        let text = try String(contentsOf: file, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("AWSTemplateFormatVersion: \"2010-09-09\""))
        XCTAssertTrue(text.contains("apache/airflow:2.11.2"))
        XCTAssertTrue(text.contains("203.0.113.10/32"))
        XCTAssertFalse(text.contains("BastionInstance"))
    }

    func testProcessEnvironmentWithoutEnvFile() throws {
        let exe = try binary()
        let (rc, out, err) = try runSplit(exe, ["generate"], env: [
            "AIRFLOW_FERNET_KEY_SECRET_ARN": Modes.secret("fernet-key"),
            "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN": Modes.secret("admin-password"),
            "AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN": Modes.secret("flower-credentials"),
        ])
        XCTAssertEqual(rc, 0, err)
        XCTAssertEqual(out, try TemplateGenerator.render(Modes.base()))
    }

    func testBadInputExits64NamingTheKey() throws {
        let exe = try binary()
        let cases: [([String], [String: String], String)] = [
            ([], ["AIRFLOW_ADMIN_PASSWORD_SECRET_ARN": ""], "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN"),
            ([], ["AIRFLOW_FERNET_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:x"], "AIRFLOW_FERNET_KEY_SECRET_ARN"),
            ([], ["IP_WHITELIST": "203.0.113.10,not-an-ip"], "IP_WHITELIST"),
            (["--airflow-version", "1.10.15"], [:], "--airflow-version"),
            (["--certificate-arn", "nope"], [:], "--certificate-arn"),
            (["--ssh-ingress-cidr", "300.1.1.1"], [:], "--ssh-ingress-cidr"),
        ]
        for (args, overrides, key) in cases {
            let env = try envFile(overrides)
            let (rc, out, err) = try runSplit(exe, ["generate", "--env", env.path] + args)
            XCTAssertEqual(rc, 64, "\(key): \(err)")
            XCTAssertEqual(out, "", key)
            XCTAssertTrue(err.contains(key) && err.contains(" — "), err)
            XCTAssertEqual(err.split(separator: "\n").count, 1, "one message: \(err)")
        }
    }
}
