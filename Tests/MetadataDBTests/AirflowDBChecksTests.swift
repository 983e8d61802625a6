import FairflowTestSupport
import Foundation
@testable import MetadataDB
import XCTest

/// The real Airflow schemas (`airflow db migrate` of 2.11.2 and 3.3.2 on MariaDB, dumped by
/// scripts/lib/airflow-schema-dump.sh) and healthy seeds, from Fixtures/.
enum MetadataDBFixture {
    static let checkedTables = ["alembic_version", "dag", "dag_run", "task_instance", "job"]

    static func statements(_ file: String) -> [String] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(file)")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { !$0.hasPrefix("--") }.joined(separator: "\n")
            .components(separatedBy: ";\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// Loads the real schema of an Airflow version into `db` (about 2 s: 50-60 CREATE TABLEs).
    static func loadSchema(airflow version: String, into db: SQLQuerying) throws {
        let all = statements("airflow-\(version)-schema.sql")
        XCTAssertGreaterThan(all.count, 40, "schema fixture for \(version) missing")
        for statement in all { _ = try db.query(statement) }
    }

    /// Empties the tables the checks read and puts the healthy seed back.
    static func reseed(airflow version: String, into db: SQLQuerying) throws {
        _ = try db.query("SET FOREIGN_KEY_CHECKS=0")
        for table in checkedTables { _ = try db.query("DELETE FROM \(table)") }
        for statement in statements("seed-\(version)-healthy.sql") { _ = try db.query(statement) }
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

/// Against the MariaDB of scripts/lib/mariadb-peer.sh: one database per Airflow version for the class
/// (the real schema), reseeded before each test.
final class AirflowDBChecksPeerTests: XCTestCase {
    nonisolated(unsafe) private static var databases: [String: DBEndpoint] = [:]
    private var admin: DBEndpoint!

    override func setUpWithError() throws {
        let port = Int(try requirePeer("MARIADB_PORT"))!
        admin = DBEndpoint(host: "127.0.0.1", port: port, user: try requirePeer("MARIADB_USER"),
                           password: try requirePeer("MARIADB_PASSWORD"), database: try requirePeer("MARIADB_DATABASE"))
    }

    override class func tearDown() {
        for (_, endpoint) in databases {
            var a = endpoint
            a.database = "mysql"
            _ = try? MetadataDBConnection(a).query("DROP DATABASE \(endpoint.database)")
        }
        databases = [:]
    }

    /// A connection to the database holding the real schema of `version`, freshly seeded as healthy.
    private func healthy(_ version: String = "3.3.2") throws -> MetadataDBConnection {
        if Self.databases[version] == nil {
            let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
            _ = try MetadataDBConnection(admin).query("CREATE DATABASE \(name)")
            var endpoint = admin!
            endpoint.database = name
            try MetadataDBFixture.loadSchema(airflow: version, into: try MetadataDBConnection(endpoint))
            Self.databases[version] = endpoint
        }
        let db = try MetadataDBConnection(Self.databases[version]!)
        try MetadataDBFixture.reseed(airflow: version, into: db)
        return db
    }

    private func results(_ db: MetadataDBConnection, version: String = "3.3.2") -> [String: DBCheckResult] {
        Dictionary(uniqueKeysWithValues: AirflowDBChecks.run(on: db, options: .init(airflowVersion: version)).map { ($0.name, $0) })
    }

    func testHealthyDatabasePassesEveryCheck() throws {
        let db = try healthy()
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
        let db = try healthy("2.11.2")  // the real Airflow 2.11.2 schema, checked as if 3.3.2 were deployed
        let failed = AirflowDBChecks.run(on: db, options: .init(airflowVersion: "3.3.2")).filter { $0.status == .fail }
        XCTAssertEqual(failed.map(\.name), ["schema-revision"])
        XCTAssertTrue(failed[0].detail.hasPrefix("5f2621c13b39, but Airflow 3.3.2 expects d2f4e1b3c5a7"))
        let as211 = results(db, version: "2.11.2")
        XCTAssertEqual(as211.values.filter { $0.status == .fail }, [], "the 2.11.2 schema is healthy for 2.11.2")
        XCTAssertEqual(as211["row-counts"]?.detail, "dag=2 dag_run=1 task_instance=3")
    }

    func testStuckTaskInstancesAndStaleSchedulerFail() throws {
        let db = try healthy()
        _ = try db.query("""
            INSERT INTO task_instance (id, task_id, dag_id, run_id, try_number, pool, pool_slots, state, queued_dttm, start_date) VALUES
            (UUID(), 'stuck', 'etl', 'manual__1', 1, 'default_pool', 1, 'queued', UTC_TIMESTAMP(6) - INTERVAL 2 HOUR, NULL),
            (UUID(), 'hung', 'etl', 'manual__1', 1, 'default_pool', 1, 'running', UTC_TIMESTAMP(6) - INTERVAL 1 DAY, UTC_TIMESTAMP(6) - INTERVAL 1 DAY)
            """)
        _ = try db.query("UPDATE job SET latest_heartbeat = UTC_TIMESTAMP(6) - INTERVAL 20 MINUTE WHERE job_type = 'SchedulerJob' AND state = 'running'")
        let r = results(db)
        XCTAssertEqual(r.values.filter { $0.status == .fail }.map(\.name).sorted(), ["scheduler-heartbeat", "stuck-task-instances"])
        XCTAssertTrue(r["stuck-task-instances"]!.detail.hasPrefix("1 queued (e.g. etl.stuck), 1 running (e.g. etl.hung) past the limit"), r["stuck-task-instances"]!.detail)
        XCTAssertTrue(r["scheduler-heartbeat"]!.detail.contains("ip-10-0-1-5 19m59s ago") || r["scheduler-heartbeat"]!.detail.contains("ip-10-0-1-5 20m ago"), r["scheduler-heartbeat"]!.detail)
    }

    func testMissingTableFailsTheSchemaCheck() throws {
        let db = try healthy()
        _ = try db.query("RENAME TABLE job TO job_gone")
        defer { _ = try? db.query("RENAME TABLE job_gone TO job") }
        let r = results(db)
        XCTAssertEqual(r["schema"]?.status, .fail)
        XCTAssertTrue(r["schema"]!.detail.hasPrefix("missing tables: job"))
        XCTAssertEqual(r["scheduler-heartbeat"]?.status, .fail)
    }

    func testWrongPasswordIsAccessDeniedAndUnknownDatabaseIsNamed() throws {
        _ = try healthy()
        let endpoint = Self.databases["3.3.2"]!
        var wrong = endpoint
        wrong.password = "not-the-password"
        XCTAssertThrowsError(try MetadataDBConnection(wrong)) { error in
            guard case let MetadataDBError.accessDenied(user, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(user, endpoint.user)
            XCTAssertFalse("\(error)".contains("not-the-password"))
        }
        var missing = endpoint
        missing.database = "no_such_db"
        XCTAssertThrowsError(try MetadataDBConnection(missing)) { XCTAssertEqual($0 as? MetadataDBError, .unknownDatabase(name: "no_such_db")) }
    }
}
