@testable import FairflowCore
import FairflowTestSupport
import Foundation
import MetadataDB
import XCTest

/// `db check --via ssm`: the script the bastion runs, against the MariaDB peer with the real mysql client.
/// The only stand-in is `aws` on PATH (the bastion's aws CLI reading the stack's secret).
final class DbCheckViaSSMTests: XCTestCase {
    func testTheScriptCarriesNoPasswordAndTheBastionAnswersEveryCheck() throws {
        let port = Int(try requirePeer("MARIADB_PORT"))!
        let user = try requirePeer("MARIADB_USER"), password = try requirePeer("MARIADB_PASSWORD")
        let database = try requirePeer("MARIADB_DATABASE")
        let recorder = DatabaseThroughSSM.Recorder()
        let options = AirflowDBCheckOptions(airflowVersion: "3.3.2", stuckQueuedAfter: 1800, stuckRunningAfter: 43200,
                                            schedulerHeartbeatMaxAge: 300)
        _ = AirflowDBChecks.run(on: recorder, options: options)
        XCTAssertGreaterThan(recorder.statements.count, 5)
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
        let script = DatabaseThroughSSM.script(recorder.statements, at: .init(host: "127.0.0.1", port: port, database: database,
                                                                                secretArn: arn, region: "us-east-1"))
        XCTAssertFalse(script.contains(password), "the password must never be in the command")

        // The bastion: bash with the real mysql client, and an aws CLI that knows the secret.
        let bin = NSTemporaryDirectory() + "fairflow-bastion-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bin) }
        let secret = #"{"username": "\#(user)", "password": "\#(password)"}"#
        try "#!/bin/sh\n[ \"$6\" = '\(arn)' ] || { echo 'ResourceNotFoundException' >&2; exit 254; }\ncat <<'X'\n\(secret)\nX\n"
            .write(toFile: bin + "/aws", atomically: true, encoding: .utf8)
        chmod(bin + "/aws", 0o755)
        let out = try run(["/bin/bash", "-c", script], path: bin)
        XCTAssertEqual(out.status, 0, out.stderr)
        let answers = try DatabaseThroughSSM.parse(out.stdout, statements: recorder.statements)
        let checks = AirflowDBChecks.run(on: DatabaseThroughSSM.Replay(answers), options: options)
        let byName = Dictionary(uniqueKeysWithValues: checks.map { ($0.name, $0) })
        XCTAssertTrue(byName["login"]?.detail.contains(database) ?? false, "\(checks)")
        XCTAssertEqual(byName["server-version"]?.status, .warn)   // MariaDB, reported as such
        XCTAssertTrue(byName["connections"]?.detail.contains("max_connections") ?? false, "\(checks)")

        // A wrong secret: exit 91, mapped to the fix.
        let bad = DatabaseThroughSSM.script(recorder.statements, at: .init(host: "127.0.0.1", port: port, database: database,
                                                                            secretArn: arn + "x", region: "us-east-1"))
        XCTAssertEqual(try run(["/bin/bash", "-c", bad], path: bin).status, 91)
        let e = DatabaseThroughSSM.failure(CommandInvocation(status: "Failed", responseCode: 91, standardErrorContent: "AccessDenied"))
        XCTAssertTrue("\(e)".contains("secretsmanager:GetSecretValue"), "\(e)")
    }

    func testParsingUnescapesBatchOutputAndNulls() throws {
        let out = "@@fairflow-sql 0\na\\tb\tNULL\tx\\\\y\n@@fairflow-sql-status 0\n@@fairflow-sql 1\nERROR 1146: no table\n@@fairflow-sql-status 1\n@@fairflow-sql-end\n"
        let a = try DatabaseThroughSSM.parse(out, statements: ["S0", "S1"])
        XCTAssertEqual(a["S0"]?.rows, [["a\tb", nil, "x\\y"]])
        XCTAssertEqual(a["S1"]?.status, 1)
        XCTAssertThrowsError(try DatabaseThroughSSM.Replay(a).query("S1"))
        XCTAssertThrowsError(try DatabaseThroughSSM.parse("@@fairflow-sql 0\nx\n", statements: ["S0"]))
    }

    private func run(_ argv: [String], path: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        p.environment = env
        let o = Pipe(), e = Pipe()
        p.standardOutput = o
        p.standardError = e
        try p.run()
        let stdout = o.fileHandleForReading.readDataToEndOfFile(), stderr = e.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}
