import Foundation

/// One line of the `db check` report.
public struct DBCheckResult: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable { case pass, warn, fail }
    public var name: String
    public var status: Status
    public var detail: String

    public init(name: String, status: Status, detail: String) {
        self.name = name; self.status = status; self.detail = detail
    }
}

/// The schema revision (alembic head) each Airflow release expects, read from the released wheels:
/// `airflow/utils/db.py` `_REVISION_HEADS_MAP` and the heads of `airflow/migrations/versions`
/// (apache-airflow 2.11.2 → 5f2621c13b39, apache-airflow-core 3.3.2 → d2f4e1b3c5a7).
/// A release not listed expects the head of the nearest lower listed one (releases without migrations
/// are left out of Airflow's own map), up to `newestKnown`.
public enum AirflowRevisions {
    static let heads2: [(String, String)] = [
        ("2.7.0", "405de8318b3a"), ("2.8.0", "10b52ebd31f7"), ("2.8.1", "88344c1d9134"), ("2.9.0", "1949afb29106"),
        ("2.9.2", "686269002441"), ("2.10.0", "22ed7efa9da2"), ("2.10.3", "5f2621c13b39"),
    ]
    static let heads3: [(String, String)] = [
        ("3.0.0", "29ce7909c52b"), ("3.0.3", "fe199e1abd77"), ("3.1.0", "cc92b33c6709"), ("3.1.8", "509b94a1042d"),
        ("3.2.0", "1d6611b6ab7c"), ("3.3.0", "d2f4e1b3c5a7"),
    ]
    /// The newest release per major whose migrations were read.
    public static let newestKnown = ["2": "2.11.2", "3": "3.3.2"]

    public static func expectedHead(forAirflow version: String) -> String? {
        let v = parse(version)
        guard let major = v.first, let newest = newestKnown[String(major)], !less(parse(newest), v) else { return nil }
        let table = major == 2 ? heads2 : major == 3 ? heads3 : []
        return table.last { !less(v, parse($0.0)) }?.1
    }

    static func parse(_ version: String) -> [Int] {
        version.split(separator: ".").map { Int($0.prefix { $0.isNumber }) ?? 0 }
    }

    static func less(_ a: [Int], _ b: [Int]) -> Bool {
        for i in 0 ..< max(a.count, b.count) where (i < a.count ? a[i] : 0) != (i < b.count ? b[i] : 0) {
            return (i < a.count ? a[i] : 0) < (i < b.count ? b[i] : 0)
        }
        return false
    }
}

public struct AirflowDBCheckOptions: Sendable {
    public var airflowVersion: String
    /// A task instance queued longer than this is stuck.
    public var stuckQueuedAfter: Int
    /// A task instance running longer than this is stuck.
    public var stuckRunningAfter: Int
    /// The newest scheduler heartbeat may be at most this old.
    public var schedulerHeartbeatMaxAge: Int

    public init(airflowVersion: String, stuckQueuedAfter: Int = 1800, stuckRunningAfter: Int = 43200,
                schedulerHeartbeatMaxAge: Int = 300) {
        self.airflowVersion = airflowVersion
        self.stuckQueuedAfter = stuckQueuedAfter
        self.stuckRunningAfter = stuckRunningAfter
        self.schedulerHeartbeatMaxAge = schedulerHeartbeatMaxAge
    }
}

/// The metadata-database health checks of `fairflow db check`. Each check runs its own queries and
/// turns a failing query into a failed check, so one broken table does not hide the others.
public enum AirflowDBChecks {
    public static let requiredTables = ["alembic_version", "dag", "dag_run", "task_instance", "job"]

    public static func run(on db: SQLQuerying, options: AirflowDBCheckOptions) -> [DBCheckResult] {
        [
            check("server-version") { try serverVersion(db) },
            check("login") { try login(db) },
            check("schema") { try schema(db) },
            check("schema-revision") { try revision(db, airflowVersion: options.airflowVersion) },
            check("row-counts") { try rowCounts(db) },
            check("stuck-task-instances") { try stuck(db, options) },
            check("scheduler-heartbeat") { try heartbeat(db, maxAge: options.schedulerHeartbeatMaxAge) },
            check("connections") { try connections(db) },
        ]
    }

    private static func check(_ name: String, _ body: () throws -> (DBCheckResult.Status, String)) -> DBCheckResult {
        do {
            let (status, detail) = try body()
            return DBCheckResult(name: name, status: status, detail: detail)
        } catch {
            return DBCheckResult(name: name, status: .fail, detail: "\(error)")
        }
    }

    private static func scalar(_ db: SQLQuerying, _ sql: String) throws -> String? {
        try db.query(sql).first?.first ?? nil
    }

    /// MySQL ≥ 8.0 passes. MariaDB is the test stand-in for RDS MySQL (no MySQL 8 server exists on
    /// Debian 12): it is reported honestly, as a warning that does not fail the run.
    static func serverVersion(_ db: SQLQuerying) throws -> (DBCheckResult.Status, String) {
        let version = try scalar(db, "SELECT VERSION()") ?? ""
        let numbers = AirflowRevisions.parse(version.replacingOccurrences(of: "5.5.5-", with: ""))
        if version.lowercased().contains("mariadb") {
            return (.warn, "MariaDB \(version): not MySQL; Airflow on RDS expects MySQL ≥ 8.0 (MariaDB is accepted as a test stand-in)")
        }
        if AirflowRevisions.less(numbers, [8, 0]) { return (.fail, "MySQL \(version) is older than 8.0 — upgrade the RDS engine") }
        return (.pass, "MySQL \(version)")
    }

    static func login(_ db: SQLQuerying) throws -> (DBCheckResult.Status, String) {
        let row = try db.query("SELECT CURRENT_USER(), DATABASE()").first ?? []
        return (.pass, "logged in as \(row.first.flatMap { $0 } ?? "?") to \(row.dropFirst().first.flatMap { $0 } ?? "?")")
    }

    static func schema(_ db: SQLQuerying) throws -> (DBCheckResult.Status, String) {
        let list = requiredTables.map { "'\($0)'" }.joined(separator: ",")
        let present = Set(try db.query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (\(list))")
            .compactMap { $0.first ?? nil })
        let missing = requiredTables.filter { !present.contains($0) }
        if missing.isEmpty { return (.pass, "tables \(requiredTables.joined(separator: ", ")) present") }
        return (.fail, "missing tables: \(missing.joined(separator: ", ")) — run `airflow db migrate` (the init task of the deployment)")
    }

    static func revision(_ db: SQLQuerying, airflowVersion: String) throws -> (DBCheckResult.Status, String) {
        let revisions = try db.query("SELECT version_num FROM alembic_version").compactMap { $0.first ?? nil }
        guard let expected = AirflowRevisions.expectedHead(forAirflow: airflowVersion) else {
            return (.warn, "revision \(revisions.joined(separator: ",")); fairflow does not know the revision of Airflow \(airflowVersion) (it knows up to \(AirflowRevisions.newestKnown.values.sorted().joined(separator: ", ")))")
        }
        if revisions == [expected] { return (.pass, "\(expected), as Airflow \(airflowVersion) expects") }
        let found = revisions.isEmpty ? "no revision" : revisions.joined(separator: ",")
        return (.fail, "\(found), but Airflow \(airflowVersion) expects \(expected) — run `airflow db migrate` with the deployed version, or deploy the version this schema belongs to")
    }

    static func rowCounts(_ db: SQLQuerying) throws -> (DBCheckResult.Status, String) {
        let row = try db.query("SELECT (SELECT COUNT(*) FROM dag), (SELECT COUNT(*) FROM dag_run), (SELECT COUNT(*) FROM task_instance)").first ?? []
        let values = row.map { $0 ?? "?" }
        return (.pass, zip(["dag", "dag_run", "task_instance"], values).map { "\($0)=\($1)" }.joined(separator: " "))
    }

    static func stuck(_ db: SQLQuerying, _ o: AirflowDBCheckOptions) throws -> (DBCheckResult.Status, String) {
        let sql = """
        SELECT state, COUNT(*), MIN(CONCAT(dag_id, '.', task_id)) FROM task_instance
        WHERE (state = 'queued' AND queued_dttm < UTC_TIMESTAMP(6) - INTERVAL \(o.stuckQueuedAfter) SECOND)
           OR (state = 'running' AND start_date < UTC_TIMESTAMP(6) - INTERVAL \(o.stuckRunningAfter) SECOND)
        GROUP BY state ORDER BY state
        """
        let rows = try db.query(sql)
        let limits = "queued > \(duration(o.stuckQueuedAfter)), running > \(duration(o.stuckRunningAfter))"
        if rows.isEmpty { return (.pass, "none (\(limits))") }
        let parts = rows.map { "\($0[1] ?? "?") \($0[0] ?? "?") (e.g. \($0[2] ?? "?"))" }
        return (.fail, "\(parts.joined(separator: ", ")) past the limit (\(limits)) — check the workers and the executor's queue")
    }

    static func heartbeat(_ db: SQLQuerying, maxAge: Int) throws -> (DBCheckResult.Status, String) {
        let rows = try db.query("""
        SELECT hostname, TIMESTAMPDIFF(SECOND, MAX(latest_heartbeat), UTC_TIMESTAMP(6)) AS age FROM job
        WHERE job_type = 'SchedulerJob' GROUP BY hostname ORDER BY age LIMIT 5
        """)
        guard let newest = rows.first, let age = Int(newest[1] ?? "") else {
            return (.fail, "no scheduler has ever heartbeated — check that the scheduler service is running")
        }
        let hosts = rows.map { "\($0[0] ?? "?") \(duration(Int($0[1] ?? "") ?? 0)) ago" }.joined(separator: "; ")
        if age <= maxAge { return (.pass, hosts) }
        return (.fail, "\(hosts) — newest heartbeat is older than \(duration(maxAge)); check the scheduler service and its logs")
    }

    static func connections(_ db: SQLQuerying) throws -> (DBCheckResult.Status, String) {
        let used = Int(try db.query("SHOW GLOBAL STATUS LIKE 'Threads_connected'").first?[1] ?? "") ?? 0
        let max = Int(try scalar(db, "SELECT @@max_connections") ?? "") ?? 0
        let detail = "\(used) of max_connections \(max) in use"
        guard max > 0 else { return (.warn, detail) }
        if used * 10 >= max * 9 { return (.fail, detail + " — raise max_connections (parameter group) or reduce pools") }
        if used * 4 >= max * 3 { return (.warn, detail + " (over 75 %)") }
        return (.pass, detail)
    }

    static func duration(_ seconds: Int) -> String {
        if seconds >= 3600 && seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds >= 60 && seconds % 60 == 0 { return "\(seconds / 60)m" }
        if seconds >= 3600 { return "\(seconds / 3600)h\(seconds % 3600 / 60)m" }
        if seconds >= 60 { return "\(seconds / 60)m\(seconds % 60)s" }
        return "\(seconds)s"
    }
}
