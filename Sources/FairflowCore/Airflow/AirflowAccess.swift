import AirflowAPI
import Foundation

/// Where Airflow is and who we are. The password is never encoded: it stays out of JSON, journals and plans.
public struct AirflowTarget: Codable, Sendable, Equatable {
    /// --airflow-url, else FAIRFLOW_AIRFLOW_URL, else (TODO) the stack's outputs.
    public var url: String?
    /// --airflow-user, else FAIRFLOW_AIRFLOW_USER, else "admin".
    public var user: String?
    /// Read from stdin by the CLI (--password-stdin); else FAIRFLOW_AIRFLOW_PASSWORD.
    public var password: String?

    enum CodingKeys: String, CodingKey { case url, user }

    public init(url: String? = nil, user: String? = nil, password: String? = nil) {
        self.url = url
        self.user = user
        self.password = password
    }
}

/// Builds the Airflow and Flower clients for an operation and turns their errors into fairflow's.
public enum AirflowAccess {
    struct Resolved {
        var url: URL
        var user: String
        var password: String
        var passwordSource: String
    }

    static func resolve(url: String?, user: String?, password: String?, context: Context, kind: String,
                        urlVar: String, userVar: String, passwordVar: String, defaultUser: String?) throws -> Resolved {
        let env = context.environment
        guard let raw = url ?? env[urlVar].flatMap({ $0.isEmpty ? nil : $0 }) else {
            // TODO(stack-lookup): read the ALB URL from the stack's outputs (https when it has a certificate)
            // and the admin password from the `airflow-admin-password` secret (Flower: `airflow-flower-credentials`).
            throw FairflowError.usage("no \(kind) URL", why: "--\(kind.lowercased())-url and \(urlVar) are not set",
                                      fix: "pass --\(kind.lowercased())-url https://… (reading it from the stack's outputs is not wired yet)")
        }
        guard let u = URL(string: raw), let scheme = u.scheme?.lowercased(), ["http", "https"].contains(scheme), u.host != nil else {
            throw FairflowError.usage("bad \(kind) URL '\(raw)'", why: "not an http(s) URL", fix: "use a URL like https://airflow.example.com")
        }
        guard let who = user ?? env[userVar].flatMap({ $0.isEmpty ? nil : $0 }) ?? defaultUser else {
            throw FairflowError.usage("no \(kind) user", why: "--\(kind.lowercased())-user and \(userVar) are not set",
                                      fix: "pass --\(kind.lowercased())-user NAME")
        }
        if let p = password { return Resolved(url: u, user: who, password: p, passwordSource: "the password read from stdin") }
        if let p = env[passwordVar], !p.isEmpty { return Resolved(url: u, user: who, password: p, passwordSource: passwordVar) }
        throw FairflowError.usage("no \(kind) password", why: "\(passwordVar) is not set and --password-stdin was not given",
                                  fix: "set \(passwordVar), or pipe the password into --password-stdin")
    }

    /// Connects (detecting the API version once) and runs `body`; Airflow errors become fairflow errors.
    public static func withAirflow<T>(_ target: AirflowTarget, context: Context,
                                      _ body: (any AirflowClient) async throws -> T) async throws -> T {
        let r = try resolve(url: target.url, user: target.user, password: target.password, context: context, kind: "Airflow",
                            urlVar: "FAIRFLOW_AIRFLOW_URL", userVar: "FAIRFLOW_AIRFLOW_USER",
                            passwordVar: "FAIRFLOW_AIRFLOW_PASSWORD", defaultUser: "admin")
        do {
            let client = try await AirflowAPI.connect(baseURL: r.url, user: r.user, password: r.password,
                                                      passwordSource: r.passwordSource, http: context.http)
            if context.settings.verbose {
                context.terminal.note("airflow: \(r.url.absoluteString) is Airflow \(client.serverVersion) (API \(client.apiVersion.rawValue))")
            }
            return try await body(client)
        } catch let e as AirflowError {
            throw fairflowError(e)
        }
    }

    public static func withFlower<T>(_ target: AirflowTarget, context: Context,
                                     _ body: (FlowerClient) async throws -> T) async throws -> T {
        let r = try resolve(url: target.url, user: target.user, password: target.password, context: context, kind: "Flower",
                            urlVar: "FAIRFLOW_FLOWER_URL", userVar: "FAIRFLOW_FLOWER_USER",
                            passwordVar: "FAIRFLOW_FLOWER_PASSWORD", defaultUser: nil)
        do {
            return try await body(FlowerClient(baseURL: r.url, user: r.user, password: r.password, passwordSource: r.passwordSource,
                                               http: context.http))
        } catch let e as AirflowError {
            throw fairflowError(e)
        }
    }

    /// Exit 4 for credentials, 1 for the rest; the words stay Airflow's.
    public static func fairflowError(_ e: AirflowError) -> FairflowError {
        let p = e.parts
        return FairflowError(p.what, why: p.why, fix: p.fix, status: e.exitCode == 4 ? .authFailed : .failed)
    }

    /// "2026-11-25T02:06:24.116175Z" → "2026-11-25 02:06:24" for tables; JSON keeps the original.
    public static func shortDate(_ iso: String?) -> String {
        guard let s = iso, s.count >= 19 else { return iso ?? "-" }
        return String(s.prefix(19)).replacingOccurrences(of: "T", with: " ")
    }
}
