import Foundation
import XCTest
@testable import FairflowTemplate

/// The modes every quality bar is measured on (issue 5).
enum Modes {
    static let account = "123456789012"
    static func secret(_ name: String) -> String { "arn:aws:secretsmanager:us-east-1:\(account):secret:airflow-\(name)-AbCdEf" }
    static let certificate = "arn:aws:acm:us-east-1:\(account):certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

    static func base() -> TemplateOptions {
        TemplateOptions(fernetKeySecretArn: secret("fernet-key"), adminPasswordSecretArn: secret("admin-password"),
                        flowerCredentialsSecretArn: secret("flower-credentials"))
    }

    static var all: [(String, TemplateOptions)] {
        var list: [(String, TemplateOptions)] = []
        list.append(("default", base()))
        var o = base(); o.ha = true; list.append(("ha", o))
        o = base(); o.ha = true; o.autoscaling = true; list.append(("ha-autoscaling", o))
        o = base(); o.autoscaling = true; list.append(("autoscaling", o))
        o = base(); o.ipWhitelist = ["203.0.113.10", "198.51.100.0/24"]; list.append(("allowlist", o))
        o = base(); o.certificateArn = certificate; list.append(("certificate", o))
        o = base(); o.airflowVersion = AirflowVersions.latestAirflow2; list.append(("airflow2", o))
        o = base(); o.airflowVersion = AirflowVersions.latestAirflow2; o.ha = true; o.autoscaling = true; list.append(("airflow2-ha-autoscaling", o))
        o = base(); o.bastion = false; list.append(("no-bastion", o))
        o = base(); o.sshIngressCidr = "203.0.113.7"; o.dagRepository = "git@github.com:example/dags.git"
        o.gitReadOnlySecretArn = secret("dag-repo-ro-privatekey"); list.append(("ssh-git", o))
        return list
    }

    /// Writes every mode's template into `dir`; returns the paths.
    static func write(to dir: URL, format: TemplateOptions.Format = .json) throws -> [(String, URL)] {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return try all.map { name, options in
            var o = options; o.format = format
            let url = dir.appendingPathComponent("\(name).template.\(format == .json ? "json" : "yaml")")
            try TemplateGenerator.render(o).write(to: url, atomically: true, encoding: .utf8)
            return (name, url)
        }
    }
}

/// XCTSkip locally when a peer tool is missing, but fail when FAIRFLOW_REQUIRE_PEERS=1.
func needTool(_ name: String) throws -> String {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    if let path { return path }
    if ProcessInfo.processInfo.environment["FAIRFLOW_REQUIRE_PEERS"] == "1" {
        XCTFail("\(name) is not on PATH: the test needs it — run scripts/lib/install-lint.sh")
        throw XCTSkip("\(name) missing")
    }
    throw XCTSkip("\(name) is not on PATH (run scripts/lib/install-lint.sh)")
}

func runTool(_ executable: String, _ args: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
