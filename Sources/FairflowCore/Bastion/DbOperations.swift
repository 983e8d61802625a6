import Foundation
import MetadataDB
import SSHTransport

/// Where the metadata database is when not taken from the stack (a local target, or tests).
public struct DatabaseInput: Codable, Sendable, Equatable {
    public var dbHost: String?
    public var dbPort: Int = 3306
    public var dbUser: String?
    public var dbName: String = "airflow"
    /// Environment variable holding the password (a flag would show in `ps` and shell history).
    public var dbPasswordEnv: String = "FAIRFLOW_DB_PASSWORD"
    public var requireTLS: Bool = false
    public init() {}

    func resolve(context: Context, what: String) async throws -> MetadataDatabaseTarget {
        guard let host = dbHost else { return try await BastionServices.aws(context, for: what).metadataDatabase(stack: context.stackName) }
        guard let user = dbUser else {
            throw FairflowError.usage("\(what): --db-host needs --db-user", why: "no user was given for \(host)", fix: "add --db-user airflow")
        }
        guard let password = context.environment[dbPasswordEnv] else {
            throw FairflowError.usage("\(what): no database password", why: "\(dbPasswordEnv) is not set", fix: "export \(dbPasswordEnv) (never pass it as a flag)")
        }
        return MetadataDatabaseTarget(host: host, port: dbPort, database: dbName, user: user, password: password, requireTLS: requireTLS)
    }
}

/// Opens SSH, forwards a local port to the database, and connects with MariaDB Connector/C.
final class DatabaseThroughBastion {
    let session: SSHSession
    let forward: LocalForward
    let target: MetadataDatabaseTarget

    init(ssh: SSHTargetInput, db: DatabaseInput, localPort: Int = 0, context: Context, what: String) async throws {
        target = try await db.resolve(context: context, what: what)
        session = try await BastionSSH.connect(ssh, context: context, what: what)
        do {
            forward = try LocalForward(session: session, remoteHost: target.host, remotePort: target.port, localPort: localPort)
        } catch let e as SSHError {
            throw BastionErrors.map(e)
        }
    }

    func connect(timeout: Int = 10) throws -> MetadataDBConnection {
        do {
            return try MetadataDBConnection(DBEndpoint(host: "127.0.0.1", port: forward.localPort, user: target.user, password: target.password,
                                                       database: target.database, timeout: timeout, requireTLS: target.requireTLS))
        } catch let e as MetadataDBError {
            throw BastionErrors.map(e)
        }
    }

    func close() { forward.stop() }
}

/// `fairflow db check`: real MySQL-protocol checks of the metadata database through the bastion.
public enum DbCheck: FairflowOperation {
    public static let id = "db.check"
    public static let summary = "Check the Airflow metadata database through the bastion (version, schema revision, stuck tasks, scheduler, connections)."

    public struct Input: Codable, Sendable {
        public var ssh = SSHTargetInput()
        public var db = DatabaseInput()
        /// ssh (a tunnel, MariaDB Connector/C here) or ssm (the bastion's mysql client through Run Command);
        /// nil: ssm for the stack's own bastion and database, ssh when --bastion-host or --db-host is given.
        public var via: String?
        /// The deployed Airflow version; nil: from the stack.
        public var airflowVersion: String?
        public var stuckQueuedAfter: Int = 1800
        public var stuckRunningAfter: Int = 43200
        public var schedulerHeartbeatMaxAge: Int = 300
        public init() {}
    }

    public struct Output: OperationOutput {
        public var checks: [DBCheckResult]
        public var airflowVersion: String
        public var elapsedSeconds: Double
        public var ok: Bool { !checks.contains { $0.status == .fail } }
        public var exitStatus: ExitStatus { ok ? .ok : .checkFailed }

        enum CodingKeys: String, CodingKey { case checks, ok, airflowVersion, elapsedSeconds }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(checks, forKey: .checks)
            try c.encode(ok, forKey: .ok)
            try c.encode(airflowVersion, forKey: .airflowVersion)
            try c.encode((elapsedSeconds * 1000).rounded() / 1000, forKey: .elapsedSeconds)
        }

        public func renderText(_ t: Terminal) -> String {
            let rows = checks.map { c -> [String] in
                let mark: String
                switch c.status {
                case .pass: mark = t.paint("ok", .green)
                case .warn: mark = t.paint("warn", .yellow)
                case .fail: mark = t.paint("FAIL", .red)
                }
                return [mark, c.name, c.detail]
            }
            return Table(headers: ["STATUS", "CHECK", "DETAIL"], rows: rows).render(tty: t.isTTY)
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        var p: [PlannedAction] = []
        if input.ssh.bastionHost == nil { p.append(PlannedAction("EC2 DescribeInstances", detail: "find the stack's bastion")) }
        if input.db.dbHost == nil { p.append(PlannedAction("SecretsManager GetSecretValue", detail: "the RDS credentials, in memory only")) }
        if transport(input) == "ssm" {
            p.append(PlannedAction("SSM SendCommand AWS-RunShellScript", detail: "the bastion reads the RDS secret and runs the queries with its mysql client"))
            p.append(PlannedAction("SSM GetCommandInvocation", detail: "poll until done"))
        } else {
            p.append(PlannedAction("SSH direct-tcpip", detail: "tunnel to the database through the bastion"))
        }
        p.append(PlannedAction("MySQL read-only queries", detail: "version, schema, alembic_version, counts, task_instance, job, status"))
        return p
    }

    static func transport(_ input: Input) -> String {
        input.via ?? (input.ssh.bastionHost == nil && input.db.dbHost == nil ? "ssm" : "ssh")
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let via = transport(input)
        guard via == "ssh" || via == "ssm" else {
            throw FairflowError.usage("db check --via \(via)", why: "unknown transport", fix: "use --via ssm or --via ssh")
        }
        if via == "ssm" && input.db.dbHost != nil {
            throw FairflowError.usage("db check --via ssm reads the stack's database secret on the bastion",
                                      why: "--db-host names another database", fix: "use --via ssh with --db-host")
        }
        let started = Date()
        let version: String
        if let v = input.airflowVersion { version = v } else if input.db.dbHost == nil {
            version = try await BastionServices.aws(context, for: "db check").airflowVersion(stack: context.stackName)
        } else {
            throw FairflowError.usage("db check: which Airflow version?", why: "--db-host was given, so the stack is not read", fix: "add --airflow-version 3.3.2")
        }
        let options = AirflowDBCheckOptions(
            airflowVersion: version, stuckQueuedAfter: input.stuckQueuedAfter, stuckRunningAfter: input.stuckRunningAfter,
            schedulerHeartbeatMaxAge: input.schedulerHeartbeatMaxAge)
        var checks: [DBCheckResult]
        let target: MetadataDatabaseTarget
        if via == "ssm" {
            (target, checks) = try await DatabaseThroughSSM.run(context: context, timeoutSeconds: 120) {
                AirflowDBChecks.run(on: $0, options: options)
            }
        } else {
            let tunnel = try await DatabaseThroughBastion(ssh: input.ssh, db: input.db, context: context, what: "db check")
            defer { tunnel.close() }
            target = tunnel.target
            checks = AirflowDBChecks.run(on: try tunnel.connect(), options: options)
        }
        if let multiAZ = target.multiAZ {
            checks.append(DBCheckResult(name: "multi-az", status: multiAZ ? .pass : .warn,
                                        detail: multiAZ ? "Multi-AZ" : "single-AZ: a zone outage stops Airflow — enable Multi-AZ for production"))
        }
        if let pending = target.pendingMaintenance {
            checks.append(DBCheckResult(name: "pending-maintenance", status: pending.isEmpty ? .pass : .warn,
                                        detail: pending.isEmpty ? "none" : pending.joined(separator: "; ")))
        }
        let output = Output(checks: checks, airflowVersion: version, elapsedSeconds: Date().timeIntervalSince(started))
        let failed = checks.filter { $0.status == .fail }.map(\.name)
        context.terminal.note(failed.isEmpty ? String(format: "db check passed in %.2f s", output.elapsedSeconds)
                                             : "db check failed: \(failed.joined(separator: ", "))")
        return output
    }
}

/// `fairflow db tunnel`: holds 127.0.0.1:N forwarded to the database until Ctrl-C.
public enum DbTunnel: FairflowOperation {
    public static let id = "db.tunnel"
    public static let summary = "Forward a local port on 127.0.0.1 to the metadata database through the bastion, until Ctrl-C."

    public struct Input: Codable, Sendable {
        public var ssh = SSHTargetInput()
        public var db = DatabaseInput()
        public var localPort: Int = 0
        public var showPassword = false
        public init() {}
    }

    public struct Ready: Codable, Sendable {
        public var localHost = "127.0.0.1"
        public var localPort: Int
        public var remote: String
        public var user: String
        public var database: String
        public var password: String?
    }

    public struct Output: OperationOutput {
        public var connections: Int
        public func renderText(_ t: Terminal) -> String { "" }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("SSH direct-tcpip", detail: "listen on 127.0.0.1:\(input.localPort == 0 ? "a free port" : String(input.localPort))")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let tunnel = try await DatabaseThroughBastion(ssh: input.ssh, db: input.db, localPort: input.localPort, context: context, what: "db tunnel")
        defer { tunnel.close() }
        let t = tunnel.target
        let ready = Ready(localPort: tunnel.forward.localPort, remote: "\(t.host):\(t.port)", user: t.user, database: t.database,
                          password: input.showPassword ? t.password : nil)
        if context.settings.output == .json {
            context.terminal.print(try JSON.encode(ready, pretty: false))
        } else {
            context.terminal.write("""
            tunnel: 127.0.0.1:\(ready.localPort) -> \(ready.remote)
            connect: mysql -h 127.0.0.1 -P \(ready.localPort) -u \(t.user) -p \(t.database)
            password: \(input.showPassword ? t.password : "(hidden; --show-password prints it)")

            """)
        }
        context.terminal.note("tunnel open; press Ctrl-C to close")
        InterruptFlag.shared.install()
        while !InterruptFlag.shared.isRaised {
            if let failure = tunnel.forward.failure {
                throw FairflowError("db tunnel closed", why: failure, fix: "run `fairflow db tunnel` again")
            }
            try? await Task.sleep(nanoseconds: 100_000_000)
        }
        let n = tunnel.forward.connections
        context.terminal.note("tunnel closed after \(n) connection\(n == 1 ? "" : "s")")
        return Output(connections: n)
    }
}
