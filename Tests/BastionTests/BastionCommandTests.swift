import FairflowCore
import FairflowTestSupport
import Foundation
import MetadataDB
import XCTest

/// The built `fairflow` binary against the sshd and MariaDB peers (scripts/lib/sshd-peer.sh, mariadb-peer.sh).
final class BastionCommandTests: XCTestCase {
    private var env: [String: String] = [:]
    private var sshArgs: [String] = []
    private var dbArgs: [String] = []
    private var database = ""
    private var admin: MetadataDBConnection!
    nonisolated(unsafe) private static var shared: (name: String, admin: DBEndpoint)?
    private var tmp = ""

    override func setUpWithError() throws {
        let sshPort = try requirePeer("SSHD_PORT"), user = try requirePeer("SSHD_USER")
        let key = try requirePeer("SSHD_KEY"), knownHosts = try requirePeer("SSHD_KNOWN_HOSTS")
        let dbPort = try requirePeer("MARIADB_PORT"), dbUser = try requirePeer("MARIADB_USER")
        let password = try requirePeer("MARIADB_PASSWORD")
        tmp = NSTemporaryDirectory() + "fairflow-bastion-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let adminEndpoint = DBEndpoint(host: "127.0.0.1", port: Int(dbPort)!, user: dbUser, password: password,
                                       database: try requirePeer("MARIADB_DATABASE"))
        admin = try MetadataDBConnection(adminEndpoint)
        // The real schema once per class (about 2 s); every test starts from the healthy seed.
        if Self.shared == nil {
            let name = "b_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
            _ = try admin.query("CREATE DATABASE \(name)")
            _ = try admin.query("USE \(name)")
            for statement in Self.fixture("airflow-3.3.2-schema.sql") { _ = try admin.query(statement) }
            _ = try admin.query("USE \(adminEndpoint.database)")
            Self.shared = (name, adminEndpoint)
        }
        database = Self.shared!.name
        let db = try MetadataDBConnection(DBEndpoint(host: "127.0.0.1", port: Int(dbPort)!, user: dbUser, password: password, database: database))
        _ = try db.query("SET FOREIGN_KEY_CHECKS=0")
        for table in ["alembic_version", "dag", "dag_run", "task_instance", "job"] { _ = try db.query("DELETE FROM \(table)") }
        for statement in Self.fixture("seed-3.3.2-healthy.sql") { _ = try db.query(statement) }
        env = ProcessInfo.processInfo.environment
        env["FAIRFLOW_DB_PASSWORD"] = password
        env["HOME"] = tmp  // no ~/.ssh or fairflow known_hosts of the machine leak in
        env.removeValue(forKey: "SSH_AUTH_SOCK")
        sshArgs = ["--bastion-host", "127.0.0.1", "--bastion-port", sshPort, "--ssh-user", user, "--ssh-key", key, "--known-hosts", knownHosts]
        dbArgs = ["--db-host", "127.0.0.1", "--db-port", dbPort, "--db-user", dbUser, "--db-name", database]
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: tmp)
    }

    override class func tearDown() {
        if let shared { _ = try? MetadataDBConnection(shared.admin).query("DROP DATABASE \(shared.name)") }
        shared = nil
    }

    /// The real Airflow 3.3.2 schema and a healthy seed, shared with MetadataDBTests.
    static func fixture(_ name: String) -> [String] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("MetadataDBTests/Fixtures/\(name)")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { !$0.hasPrefix("--") }.joined(separator: "\n")
            .components(separatedBy: ";\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    private func dbCheck(_ extra: [String] = []) throws -> ProcessResult {
        try fairflow(["db", "check"] + sshArgs + dbArgs + ["--airflow-version", "3.3.2"] + extra, environment: env, timeout: 60)
    }

    func testHealthyDatabaseExitsZeroAndReportsEveryCheck() throws {
        let started = Date()
        let r = try dbCheck(["--output", "json"])
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(json["ok"] as? Bool, true)
        let names = (json["checks"] as! [[String: Any]]).map { $0["name"] as! String }
        XCTAssertEqual(names, ["server-version", "login", "schema", "schema-revision", "row-counts", "stuck-task-instances",
                               "scheduler-heartbeat", "connections"])
        print("db check through the sshd tunnel: \(String(format: "%.3f", elapsed)) s wall (binary), \(json["elapsedSeconds"]!) s in the operation")
        let text = try dbCheck()
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("ok\tschema-revision\td2f4e1b3c5a7, as Airflow 3.3.2 expects"), text.stdout)
        XCTAssertFalse(text.stdout.contains(env["FAIRFLOW_DB_PASSWORD"]!) || text.stderr.contains(env["FAIRFLOW_DB_PASSWORD"]!))
    }

    func testWrongRevisionExitsThreeNamingTheCheck() throws {
        _ = try admin.query("UPDATE \(database).alembic_version SET version_num = '5f2621c13b39'")
        let r = try dbCheck()
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stdout.contains("FAIL\tschema-revision\t5f2621c13b39, but Airflow 3.3.2 expects d2f4e1b3c5a7"), r.stdout)
        XCTAssertTrue(r.stderr.contains("db check failed: schema-revision"), r.stderr)
    }

    func testStuckTaskInstancesExitThree() throws {
        _ = try admin.query("""
            INSERT INTO \(database).task_instance (id, task_id, dag_id, run_id, try_number, pool, pool_slots, state, queued_dttm) VALUES
            (UUID(), 'stuck', 'etl', 'manual__1', 1, 'default_pool', 1, 'queued', UTC_TIMESTAMP(6) - INTERVAL 2 HOUR)
            """)
        let r = try dbCheck()
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("db check failed: stuck-task-instances"), r.stderr)
        XCTAssertEqual(try dbCheck(["--stuck-queued-after", "86400"]).status, 0, "a longer limit tolerates it")
    }

    func testWrongPasswordExitsFour() throws {
        env["FAIRFLOW_DB_PASSWORD"] = "wrong-password"
        let r = try dbCheck()
        XCTAssertEqual(r.status, 4, r.stderr)
        XCTAssertTrue(r.stderr.contains("database login as"), r.stderr)
        XCTAssertFalse(r.stderr.contains("wrong-password"))
    }

    func testRefusedSSHKeysExitFourWithTheReason() throws {
        var args = sshArgs
        let keyIndex = args.firstIndex(of: "--ssh-key")! + 1
        for (type, expected) in [("ed25519", "SSH login as"), ("rsa", "libssh2 1.10 (Debian 12) cannot sign with rsa-sha2")] {
            XCTAssertEqual(try runProcess("/usr/bin/ssh-keygen", ["-q", "-t", type, "-N", "", "-f", "\(tmp)/\(type)"]).status, 0)
            args[keyIndex] = "\(tmp)/\(type)"
            let r = try fairflow(["db", "check"] + args + dbArgs + ["--airflow-version", "3.3.2"], environment: env)
            XCTAssertEqual(r.status, 4, r.stderr)
            XCTAssertTrue(r.stderr.contains(expected), r.stderr)
        }
    }

    func testUnknownHostRefusedUnlessAcceptedAndChangedKeyAlwaysRefused() throws {
        let ownKnownHosts = tmp + "/known_hosts"
        var args = sshArgs
        args[args.firstIndex(of: "--known-hosts")! + 1] = ownKnownHosts
        let unknown = try fairflow(["db", "check"] + args + dbArgs + ["--airflow-version", "3.3.2"], environment: env)
        XCTAssertEqual(unknown.status, 1, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("is not known") && unknown.stderr.contains("SHA256:") && unknown.stderr.contains("--accept-new-host-key"), unknown.stderr)
        let accepted = try fairflow(["db", "check"] + args + dbArgs + ["--airflow-version", "3.3.2", "--accept-new-host-key"], environment: env)
        XCTAssertEqual(accepted.status, 0, accepted.stderr)
        XCTAssertTrue(accepted.stderr.contains("recorded host key SHA256:"), accepted.stderr)
        // Replace the recorded key with another ed25519 key: a changed key is refused even with --accept-new-host-key.
        let other = try runProcess("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", tmp + "/other"])
        XCTAssertEqual(other.status, 0)
        let otherKey = try String(contentsOfFile: tmp + "/other.pub", encoding: .utf8).split(separator: " ")
        let recorded = try String(contentsOfFile: ownKnownHosts, encoding: .utf8).split(separator: " ")
        try "\(recorded[0]) \(otherKey[0]) \(otherKey[1])\n".write(toFile: ownKnownHosts, atomically: true, encoding: .utf8)
        let changed = try fairflow(["db", "check"] + args + dbArgs + ["--airflow-version", "3.3.2", "--accept-new-host-key"], environment: env)
        XCTAssertEqual(changed.status, 1, changed.stderr)
        XCTAssertTrue(changed.stderr.contains("CHANGED") && changed.stderr.contains("\(ownKnownHosts):1"), changed.stderr)
    }

    func testTunnelCarriesTheMariaDBClientAndClosesOnCtrlC() throws {
        let p = Process()
        p.executableURL = Repo.binary
        p.arguments = ["db", "tunnel"] + sshArgs + dbArgs
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        var text = ""
        let deadline = Date() + 20
        while !text.contains("password:") && Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let portText = text.components(separatedBy: "tunnel: 127.0.0.1:").dropFirst().first?.prefix(while: { $0.isNumber }),
              let port = Int(portText) else {
            p.terminate()
            return XCTFail("no tunnel line in: \(text)")
        }
        XCTAssertTrue(text.contains("password: (hidden"), text)
        XCTAssertFalse(text.contains(env["FAIRFLOW_DB_PASSWORD"]!))
        let client = try runProcess("/usr/bin/mariadb", ["--no-defaults", "--protocol=tcp", "-h127.0.0.1", "-P\(port)",
                                                         "-u\(try requirePeer("MARIADB_USER"))", "-p\(env["FAIRFLOW_DB_PASSWORD"]!)",
                                                         "-N", "-B", "-e", "SELECT COUNT(*) FROM dag", database])
        XCTAssertEqual(client.status, 0, client.stderr)
        XCTAssertEqual(client.stdout, "2\n")
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertTrue(stderr.contains("tunnel closed after 1 connection"), stderr)
    }
}
