import Foundation
@testable import MetadataDB
import XCTest

func requirePeer(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    if let value = ProcessInfo.processInfo.environment[name], !value.isEmpty { return value }
    if ProcessInfo.processInfo.environment["FAIRFLOW_REQUIRE_PEERS"] == "1" {
        XCTFail("peer variable \(name) is not set: start scripts/lib/mariadb-peer.sh — scripts/test does this", file: file, line: line)
    }
    throw XCTSkip("\(name) not set: start scripts/lib/mariadb-peer.sh and export its variables")
}

/// The tables the checks read, with Airflow's MySQL column types (UtcDateTime is TIMESTAMP(6) there).
/// `MetadataDBFixture.airflowSchema` loads them into a fresh database per test.
enum MetadataDBFixture {
    static let airflowSchema: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/airflow-schema.sql")
        return try! String(contentsOf: url, encoding: .utf8)
    }()

    /// The schema's statements, comments dropped.
    static var statements: [String] {
        airflowSchema.split(separator: "\n").filter { !$0.hasPrefix("--") }.joined(separator: "\n")
            .components(separatedBy: ";\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
}

final class AirflowRevisionsTests: XCTestCase {
    func testHeadsReadFromTheReleasedWheels() {
        XCTAssertEqual(AirflowRevisions.expectedHead(forAirflow: "2.11.2"), "5f2621c13b39")
        XCTAssertEqual(AirflowRevisions.expectedHead(forAirflow: "2.10.3"), "5f2621c13b39")
        XCTAssertEqual(AirflowRevisions.expectedHead(forAirflow: "2.10.2"), "22ed7efa9da2")
        XCTAssertEqual(AirflowRevisions.expectedHead(forAirflow: "3.3.2"), "d2f4e1b3c5a7")
        XCTAssertEqual(AirflowRevisions.expectedHead(forAirflow: "3.0.2"), "29ce7909c52b")
        XCTAssertNil(AirflowRevisions.expectedHead(forAirflow: "3.4.0"), "newer than fairflow knows")
        XCTAssertNil(AirflowRevisions.expectedHead(forAirflow: "1.10.15"))
    }

    func testConnectionThresholdsWithADouble() {
        struct Fake: SQLQuerying {
            let used: Int
            func query(_ sql: String) throws -> [[String?]] {
                sql.contains("Threads_connected") ? [["Threads_connected", "\(used)"]] : [["100"]]
            }
        }
        XCTAssertEqual(try AirflowDBChecks.connections(Fake(used: 10)).0, .pass)
        XCTAssertEqual(try AirflowDBChecks.connections(Fake(used: 80)).0, .warn)
        XCTAssertEqual(try AirflowDBChecks.connections(Fake(used: 90)).0, .fail)
    }
}

/// Against the MariaDB of scripts/lib/mariadb-peer.sh, one fresh database per test.
final class AirflowDBChecksPeerTests: XCTestCase {
    private var endpoint: DBEndpoint!
    private var database = ""

    override func setUpWithError() throws {
        let port = Int(try requirePeer("MARIADB_PORT"))!
        let user = try requirePeer("MARIADB_USER"), password = try requirePeer("MARIADB_PASSWORD")
        let admin = try MetadataDBConnection(DBEndpoint(host: "127.0.0.1", port: port, user: user, password: password,
                                                        database: try requirePeer("MARIADB_DATABASE")))
        database = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        _ = try admin.query("CREATE DATABASE \(database)")
        endpoint = DBEndpoint(host: "127.0.0.1", port: port, user: user, password: password, database: database)
        let db = try MetadataDBConnection(endpoint)
        for statement in MetadataDBFixture.statements { _ = try db.query(statement) }
    }

    override func tearDownWithError() throws {
        guard let endpoint, !database.isEmpty else { return }
        _ = try? MetadataDBConnection(endpoint).query("DROP DATABASE \(database)")
    }

    /// A healthy Airflow 3.3.2 database: the real head, a finished run, a fresh scheduler heartbeat.
    private func seedHealthy(_ db: MetadataDBConnection, revision: String = "d2f4e1b3c5a7") throws {
        _ = try db.query("INSERT INTO alembic_version VALUES ('\(revision)')")
        _ = try db.query("INSERT INTO dag (dag_id, is_paused) VALUES ('etl', 0), ('report', 1)")
        _ = try db.query("INSERT INTO dag_run (dag_id, run_id, state, start_date) VALUES ('etl', 'manual__1', 'success', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR)")
        _ = try db.query("""
            INSERT INTO task_instance (id, task_id, dag_id, run_id, state, queued_dttm, start_date) VALUES
            ('0193a1b2-0000-7000-8000-000000000001', 'extract', 'etl', 'manual__1', 'success', UTC_TIMESTAMP(6) - INTERVAL 2 HOUR, UTC_TIMESTAMP(6) - INTERVAL 2 HOUR),
            ('0193a1b2-0000-7000-8000-000000000002', 'load', 'etl', 'manual__1', 'queued', UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE, NULL),
            ('0193a1b2-0000-7000-8000-000000000003', 'wait', 'etl', 'manual__1', 'running', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR, UTC_TIMESTAMP(6) - INTERVAL 1 HOUR)
            """)
        _ = try db.query("""
            INSERT INTO job (state, job_type, latest_heartbeat, hostname) VALUES
            ('running', 'SchedulerJob', UTC_TIMESTAMP(6) - INTERVAL 5 SECOND, 'ip-10-0-1-5'),
            ('failed', 'SchedulerJob', UTC_TIMESTAMP(6) - INTERVAL 3 DAY, 'ip-10-0-2-9'),
            ('running', 'TriggererJob', UTC_TIMESTAMP(6), 'ip-10-0-1-5')
            """)
    }

    private func results(_ db: MetadataDBConnection, version: String = "3.3.2") -> [String: DBCheckResult] {
        Dictionary(uniqueKeysWithValues: AirflowDBChecks.run(on: db, options: .init(airflowVersion: version)).map { ($0.name, $0) })
    }

    func testHealthyDatabasePassesEveryCheck() throws {
        let db = try MetadataDBConnection(endpoint)
        try seedHealthy(db)
        let r = results(db)
        XCTAssertEqual(r.count, 8)
        XCTAssertEqual(r.values.filter { $0.status == .fail }, [])
        XCTAssertEqual(r["server-version"]?.status, .warn, "MariaDB is reported as the stand-in it is")
        XCTAssertTrue(r["server-version"]!.detail.contains("10.11"))
        XCTAssertEqual(r["schema-revision"]?.detail, "d2f4e1b3c5a7, as Airflow 3.3.2 expects")
        XCTAssertEqual(r["row-counts"]?.detail, "dag=2 dag_run=1 task_instance=3")
        XCTAssertTrue(r["scheduler-heartbeat"]!.detail.hasPrefix("ip-10-0-1-5 "), r["scheduler-heartbeat"]!.detail)
        XCTAssertTrue(r["connections"]!.detail.contains("of max_connections 100"))
    }

    func testWrongRevisionFailsNamingTheCheck() throws {
        let db = try MetadataDBConnection(endpoint)
        try seedHealthy(db, revision: "5f2621c13b39")  // an Airflow 2.11 schema under Airflow 3.3.2
        let failed = AirflowDBChecks.run(on: db, options: .init(airflowVersion: "3.3.2")).filter { $0.status == .fail }
        XCTAssertEqual(failed.map(\.name), ["schema-revision"])
        XCTAssertTrue(failed[0].detail.hasPrefix("5f2621c13b39, but Airflow 3.3.2 expects d2f4e1b3c5a7"))
        XCTAssertEqual(results(db, version: "2.11.2")["schema-revision"]?.status, .pass)
    }

    func testStuckTaskInstancesAndStaleSchedulerFail() throws {
        let db = try MetadataDBConnection(endpoint)
        try seedHealthy(db)
        _ = try db.query("""
            INSERT INTO task_instance (id, task_id, dag_id, run_id, state, queued_dttm, start_date) VALUES
            ('0193a1b2-0000-7000-8000-000000000004', 'stuck', 'etl', 'manual__1', 'queued', UTC_TIMESTAMP(6) - INTERVAL 2 HOUR, NULL),
            ('0193a1b2-0000-7000-8000-000000000005', 'hung', 'etl', 'manual__1', 'running', UTC_TIMESTAMP(6) - INTERVAL 1 DAY, UTC_TIMESTAMP(6) - INTERVAL 1 DAY)
            """)
        _ = try db.query("UPDATE job SET latest_heartbeat = UTC_TIMESTAMP(6) - INTERVAL 20 MINUTE WHERE job_type = 'SchedulerJob' AND state = 'running'")
        let r = results(db)
        XCTAssertEqual(r.values.filter { $0.status == .fail }.map(\.name).sorted(), ["scheduler-heartbeat", "stuck-task-instances"])
        XCTAssertTrue(r["stuck-task-instances"]!.detail.hasPrefix("1 queued (e.g. etl.stuck), 1 running (e.g. etl.hung) past the limit"), r["stuck-task-instances"]!.detail)
        XCTAssertTrue(r["scheduler-heartbeat"]!.detail.contains("ip-10-0-1-5 19m59s ago") || r["scheduler-heartbeat"]!.detail.contains("ip-10-0-1-5 20m ago"), r["scheduler-heartbeat"]!.detail)
    }

    func testMissingTableFailsTheSchemaCheck() throws {
        let db = try MetadataDBConnection(endpoint)
        try seedHealthy(db)
        _ = try db.query("DROP TABLE job")
        let r = results(db)
        XCTAssertEqual(r["schema"]?.status, .fail)
        XCTAssertTrue(r["schema"]!.detail.hasPrefix("missing tables: job"))
        XCTAssertEqual(r["scheduler-heartbeat"]?.status, .fail)
    }

    func testWrongPasswordIsAccessDeniedAndUnknownDatabaseIsNamed() throws {
        var wrong = endpoint!
        wrong.password = "not-the-password"
        XCTAssertThrowsError(try MetadataDBConnection(wrong)) { error in
            guard case let MetadataDBError.accessDenied(user, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(user, self.endpoint.user)
            XCTAssertFalse("\(error)".contains("not-the-password"))
        }
        var missing = endpoint!
        missing.database = "no_such_db"
        XCTAssertThrowsError(try MetadataDBConnection(missing)) { XCTAssertEqual($0 as? MetadataDBError, .unknownDatabase(name: "no_such_db")) }
    }
}
