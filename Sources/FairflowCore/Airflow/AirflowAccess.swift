import AirflowAPI
import AWSServices
import FairflowTemplate
import Foundation

/// Where Airflow is and who we are. The password is never encoded: it stays out of JSON, journals and plans.
public struct AirflowTarget: Codable, Sendable, Equatable {
    /// --airflow-url, else FAIRFLOW_AIRFLOW_URL, else the stack's AirflowUrl output.
    public var url: String?
    /// --airflow-user, else FAIRFLOW_AIRFLOW_USER, else "admin".
    public var user: String?
    /// Read from stdin by the CLI (--password-stdin); else FAIRFLOW_AIRFLOW_PASSWORD; else the airflow-admin-password secret.
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

    /// What differs between finding Airflow and finding Flower.
    struct Kind {
        var name: String
        var flag: String
        var urlVar: String
        var userVar: String
        var passwordVar: String
        var output: String
        var secretKey: String
        var secretName: String
        /// Flower's secret is "user:password" (AIRFLOW__CELERY__FLOWER_BASIC_AUTH); Airflow's is the password.
        var secretHoldsUser: Bool
        var defaultUser: String?

        static let airflow = Kind(name: "Airflow", flag: "airflow", urlVar: "FAIRFLOW_AIRFLOW_URL", userVar: "FAIRFLOW_AIRFLOW_USER",
                                  passwordVar: "FAIRFLOW_AIRFLOW_PASSWORD", output: StackOutputs.airflowUrl,
                                  secretKey: EnvKey.adminPasswordSecretArn, secretName: "airflow-admin-password",
                                  secretHoldsUser: false, defaultUser: "admin")
        static let flower = Kind(name: "Flower", flag: "flower", urlVar: "FAIRFLOW_FLOWER_URL", userVar: "FAIRFLOW_FLOWER_USER",
                                 passwordVar: "FAIRFLOW_FLOWER_PASSWORD", output: StackOutputs.flowerUrl,
                                 secretKey: EnvKey.flowerCredentialsSecretArn, secretName: "airflow-flower-credentials",
                                 secretHoldsUser: true, defaultUser: nil)
    }

    /// URL: flag, env var, else the stack's output. Password: stdin, env var, else the stack's secret
    /// (the env file's ARN, else the secret's name). AWS is only called when something is missing.
    static func resolve(_ t: AirflowTarget, _ kind: Kind, context: Context) async throws -> Resolved {
        let env = context.environment
        func given(_ v: String?) -> String? { v.flatMap { $0.isEmpty ? nil : $0 } }
        var raw = given(t.url) ?? given(env[kind.urlVar])
        if raw == nil {
            let stack = try await context.stackForLookup(kind.name, flag: kind.flag, urlVar: kind.urlVar)
            guard let out = given(stack.outputs[kind.output]) else {
                throw FairflowError("no \(kind.name) URL", why: "stack '\(stack.name)' (\(stack.status)) has no output \(kind.output)",
                                    fix: "pass --\(kind.flag)-url, or finish the deploy with `fairflow deploy`")
            }
            raw = out
        }
        guard let text = raw, let u = URL(string: text), let scheme = u.scheme?.lowercased(), ["http", "https"].contains(scheme), u.host != nil else {
            throw FairflowError.usage("bad \(kind.name) URL '\(raw ?? "")'", why: "not an http(s) URL", fix: "use a URL like https://airflow.example.com")
        }
        var user = given(t.user) ?? given(env[kind.userVar])
        if let p = t.password { return try finish(u, user, kind, p, "the password read from stdin") }
        if let p = given(env[kind.passwordVar]) { return try finish(u, user, kind, p, kind.passwordVar) }
        let secretId = given(try context.envFile()?[kind.secretKey]) ?? kind.secretName
        let value: String
        do {
            value = try await SecretsManager(try context.aws()).value(secretId)
        } catch SecretsManagerError.notFound {
            throw FairflowError("no \(kind.name) password", why: "secret \(secretId) does not exist and \(kind.passwordVar) is not set",
                                fix: "set \(kind.passwordVar), pipe it into --password-stdin, or check \(kind.secretKey) in the env file")
        }
        var password = value
        if kind.secretHoldsUser, let colon = value.firstIndex(of: ":") {
            user = user ?? String(value[..<colon])
            password = String(value[value.index(after: colon)...])
        }
        return try finish(u, user, kind, password, "the \(kind.secretName) secret")
    }

    private static func finish(_ url: URL, _ user: String?, _ kind: Kind, _ password: String, _ source: String) throws -> Resolved {
        guard let who = user ?? kind.defaultUser else {
            throw FairflowError.usage("no \(kind.name) user", why: "--\(kind.flag)-user and \(kind.userVar) are not set",
                                      fix: "pass --\(kind.flag)-user NAME")
        }
        return Resolved(url: url, user: who, password: password, passwordSource: source)
    }

    /// Connects (detecting the API version once) and runs `body`; Airflow errors become fairflow errors.
    public static func withAirflow<T>(_ target: AirflowTarget, context: Context,
                                      _ body: (any AirflowClient) async throws -> T) async throws -> T {
        let r = try await resolve(target, .airflow, context: context)
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
        let r = try await resolve(target, .flower, context: context)
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

extension Context {
    /// The stack whose outputs say where Airflow and Flower are.
    func stackForLookup(_ what: String, flag: String, urlVar: String) async throws -> StackSummary {
        do {
            return try await CloudFormation(try aws()).stack(stackName)
        } catch CloudFormationError.stackNotFound {
            throw FairflowError("no \(what) URL", why: "--\(flag)-url and \(urlVar) are not set, and stack '\(stackName)' does not exist",
                                fix: "pass --\(flag)-url, or name the deployed stack with --stack")
        }
    }
}
