import CMariaDB
import Foundation

/// Where the metadata database is and who logs in. The password stays in memory and out of messages.
public struct DBEndpoint: Sendable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String
    public var database: String
    /// Seconds for connect, and for each read and write.
    public var timeout: Int
    /// Require TLS (RDS with require_secure_transport). The server certificate is not checked against
    /// the host name, because through a tunnel the name is 127.0.0.1; pass `caFile` to pin the CA.
    public var requireTLS: Bool
    public var caFile: String?

    public init(host: String, port: Int, user: String, password: String, database: String, timeout: Int = 10,
                requireTLS: Bool = false, caFile: String? = nil) {
        self.host = host; self.port = port; self.user = user; self.password = password; self.database = database
        self.timeout = timeout; self.requireTLS = requireTLS; self.caFile = caFile
    }
}

public enum MetadataDBError: Error, Equatable, CustomStringConvertible {
    /// The server refused the user or password (MySQL error 1045); the CLI maps this to exit 4.
    case accessDenied(user: String, message: String)
    case unknownDatabase(name: String)
    case connect(host: String, port: Int, message: String)
    case query(statement: String, code: UInt32, message: String)

    public var description: String {
        switch self {
        case let .accessDenied(user, message):
            return "database login as \(user) failed: \(message) — check the password in the RDS secret and that the user exists"
        case let .unknownDatabase(name):
            return "database \(name) does not exist on the server — check the database name in the stack's connection settings"
        case let .connect(host, port, message):
            return "connecting to the database at \(host):\(port) failed: \(message) — check the tunnel, the endpoint and the security group"
        case let .query(statement, code, message):
            return "database query failed (\(statement)): \(message) (error \(code)) — check the schema and the user's grants"
        }
    }
}

/// Anything that answers SQL with rows of optional strings; the checks run against this.
public protocol SQLQuerying {
    func query(_ sql: String) throws -> [[String?]]
}

/// One MariaDB Connector/C connection (owns the MYSQL handle; closed with the object).
public final class MetadataDBConnection: SQLQuerying {
    private let raw: UnsafeMutablePointer<MYSQL>
    public let endpoint: String

    public init(_ ep: DBEndpoint) throws {
        guard let handle = mysql_init(nil) else {
            throw MetadataDBError.connect(host: ep.host, port: ep.port, message: "out of memory")
        }
        raw = handle
        endpoint = "\(ep.host):\(ep.port)"
        var timeout = UInt32(ep.timeout)
        mysql_options(raw, MYSQL_OPT_CONNECT_TIMEOUT, &timeout)
        mysql_options(raw, MYSQL_OPT_READ_TIMEOUT, &timeout)
        mysql_options(raw, MYSQL_OPT_WRITE_TIMEOUT, &timeout)
        var tcp = UInt32(MYSQL_PROTOCOL_TCP.rawValue)
        mysql_options(raw, MYSQL_OPT_PROTOCOL, &tcp)
        if ep.requireTLS {
            var on: CChar = 1
            mysql_options(raw, MYSQL_OPT_SSL_ENFORCE, &on)
            if let ca = ep.caFile { mysql_options(raw, MYSQL_OPT_SSL_CA, ca) }
        }
        guard mysql_real_connect(raw, ep.host, ep.user, ep.password, ep.database, UInt32(ep.port), nil, 0) != nil else {
            let code = mysql_errno(raw)
            let message = String(cString: mysql_error(raw))  // deinit closes the handle
            switch code {
            case 1045, 1698: throw MetadataDBError.accessDenied(user: ep.user, message: message)
            case 1049: throw MetadataDBError.unknownDatabase(name: ep.database)
            default: throw MetadataDBError.connect(host: ep.host, port: ep.port, message: "\(message) (error \(code))")
            }
        }
        // Airflow stores UtcDateTime as TIMESTAMP and talks to MySQL in UTC; do the same so comparisons hold.
        _ = try query("SET time_zone = '+00:00'")
    }

    deinit { mysql_close(raw) }

    public var serverInfo: String { String(cString: mysql_get_server_info(raw)) }

    public func query(_ sql: String) throws -> [[String?]] {
        guard mysql_real_query(raw, sql, UInt(sql.utf8.count)) == 0 else { throw queryError(sql) }
        guard let result = mysql_store_result(raw) else {
            if mysql_field_count(raw) == 0 { return [] }  // a statement without a result set
            throw queryError(sql)
        }
        defer { mysql_free_result(result) }
        let columns = Int(mysql_num_fields(result))
        var rows: [[String?]] = []
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { break }
            rows.append((0 ..< columns).map { i in
                guard let cell = row[i] else { return nil }
                return String(decoding: UnsafeRawBufferPointer(start: cell, count: Int(lengths[i])), as: UTF8.self)
            })
        }
        return rows
    }

    private func queryError(_ sql: String) -> MetadataDBError {
        let summary = sql.split(separator: " ").prefix(4).joined(separator: " ")
        return .query(statement: summary, code: mysql_errno(raw), message: String(cString: mysql_error(raw)))
    }
}
