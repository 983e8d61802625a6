import AWSCore
import AWSServices
import Foundation

/// The secrets the stack reads, by the names the task role's `airflow-*` policy grants.
public enum AirflowSecret: String, CaseIterable, Codable, Sendable {
    case fernetKey = "airflow-fernet-key"
    case adminPassword = "airflow-admin-password"
    case flowerCredentials = "airflow-flower-credentials"
    case deployKey = "airflow-dag-repo-ro-privatekey"

    public var envKey: String {
        switch self {
        case .fernetKey: return EnvKey.fernetKeySecretArn
        case .adminPassword: return EnvKey.adminPasswordSecretArn
        case .flowerCredentials: return EnvKey.flowerCredentialsSecretArn
        case .deployKey: return EnvKey.gitReadOnlySecretArn
        }
    }

    public var about: String {
        switch self {
        case .fernetKey: return "Airflow Fernet key (AIRFLOW__CORE__FERNET_KEY)"
        case .adminPassword: return "Airflow admin user's password"
        case .flowerCredentials: return "Flower basic auth user:password"
        case .deployKey: return "read-only SSH deploy key of the DAG repository"
        }
    }

    public static func parse(_ s: String) throws -> AirflowSecret {
        if let v = AirflowSecret(rawValue: s) ?? AirflowSecret(rawValue: "airflow-" + s) { return v }
        throw FairflowError.usage("unknown secret '\(s)'", why: "fairflow manages \(allCases.map(\.rawValue).joined(separator: ", "))",
                                  fix: "name one of them (the airflow- prefix may be left out)")
    }
}

/// New secret values from the system CSPRNG. Values live in memory only and are never printed.
public enum SecretValues {
    /// A Fernet key as Python's `Fernet.generate_key()` makes it: 32 random bytes, URL-safe base64 with padding.
    public static func fernetKey() -> String {
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    /// Letters and digits only: survives env files, URLs and basic-auth headers unquoted.
    public static func password(length: Int = 32) -> String {
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        var rng = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
    }

    /// Airflow's key rotation: the new key first, every older one after it, comma-separated.
    public static func rotatedFernet(old: String) -> String {
        let previous = old.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return ([fernetKey()] + previous).joined(separator: ",")
    }
}

/// One secret's line in the answer: never its value.
public struct SecretRecord: Codable, Sendable {
    public var name: String
    public var arn: String
    public var action: String   // created, kept, rotated, listed
    public var envKey: String?
    public var lastChanged: Date?
}

func secretsTable(_ rows: [SecretRecord], _ t: Terminal, showDate: Bool = false) -> String {
    Table(headers: showDate ? ["NAME", "ARN", "LAST CHANGED"] : ["NAME", "ACTION", "ARN"], rows: rows.map { r in
        showDate ? [r.name, r.arn, r.lastChanged.map { ISO8601DateFormatter().string(from: $0) } ?? "-"] : [r.name, r.action, r.arn]
    }).render(tty: t.isTTY)
}

/// `fairflow secrets init`: makes the stack's secrets once and writes their ARNs into the env file.
public enum SecretsInit: FairflowOperation {
    public static let id = "secrets.init"
    public static let summary = "Create the Airflow secrets (kept if they exist) and write their ARNs into the env file."

    public struct Input: Codable, Sendable {
        /// Read by the CLI from stdin; a runbook may pass it from its own secret input. Never logged.
        public var adminPassword: String?
        public var flowerUser: String = "admin"
        /// Path of the DAG repository's read-only SSH private key.
        public var deployKeyFile: String?
        public var rotate: [AirflowSecret] = []
        public init(adminPassword: String? = nil, flowerUser: String = "admin", deployKeyFile: String? = nil, rotate: [AirflowSecret] = []) {
            self.adminPassword = adminPassword
            self.flowerUser = flowerUser
            self.deployKeyFile = deployKeyFile
            self.rotate = rotate
        }
    }

    public struct Output: OperationOutput {
        public var envFile: String
        public var secrets: [SecretRecord]
        public func renderText(_ t: Terminal) -> String { secretsTable(secrets, t) }
    }

    static func wanted(_ input: Input) -> [AirflowSecret] {
        [.fernetKey, .adminPassword, .flowerCredentials] + (input.deployKeyFile == nil ? [] : [.deployKey])
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("Secrets Manager ListSecrets", detail: "airflow-*")] + wanted(input).map {
            PlannedAction("Secrets Manager CreateSecret", mutating: true, detail: "\($0.rawValue) (if absent)")
        } + [PlannedAction("write env file", mutating: true, detail: try envPath(context))]
    }

    /// --env, FAIRFLOW_ENV_FILE, else envs/<region>.env as the seed lays it out.
    static func envPath(_ context: Context) throws -> String {
        if let p = context.settings.envFile ?? context.environment["FAIRFLOW_ENV_FILE"] { return p }
        return "envs/\(try context.region().name).env"
    }

    static func validate(_ input: Input) throws {
        if let p = input.adminPassword {
            if p.isEmpty { throw FairflowError.usage("empty admin password", why: "stdin gave no password", fix: "pipe one in, or leave out --admin-password-stdin") }
            if p.count < 8 { throw FairflowError.usage("admin password too short", why: "it has fewer than 8 characters", fix: "use a longer one") }
        }
        if input.flowerUser.isEmpty || input.flowerUser.contains(":") || input.flowerUser.contains(where: \.isWhitespace) {
            throw FairflowError.usage("bad --flower-user '\(input.flowerUser)'", why: "it must be a non-empty name without ':' or spaces", fix: "use a name like admin")
        }
        if let f = input.deployKeyFile, !FileManager.default.isReadableFile(atPath: f) {
            throw FairflowError.usage("cannot read --deploy-key \(f)", why: "no readable file there", fix: "give the path of the read-only SSH private key")
        }
        if input.rotate.contains(.deployKey) && input.deployKeyFile == nil {
            throw FairflowError.usage("cannot rotate \(AirflowSecret.deployKey.rawValue)", why: "its new value is a key file", fix: "pass --deploy-key FILE")
        }
    }

    static func newValue(_ s: AirflowSecret, input: Input, old: String?) throws -> String {
        switch s {
        case .fernetKey: return old.map(SecretValues.rotatedFernet) ?? SecretValues.fernetKey()
        case .adminPassword: return input.adminPassword ?? SecretValues.password()
        case .flowerCredentials: return "\(input.flowerUser):\(SecretValues.password())"
        case .deployKey:
            guard let f = input.deployKeyFile, let d = FileManager.default.contents(atPath: f), let text = String(data: d, encoding: .utf8) else {
                throw FairflowError.usage("cannot read --deploy-key", why: "not a readable UTF-8 file", fix: "give the path of the SSH private key")
            }
            return text
        }
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        try validate(input)
        let path = try envPath(context)
        // Read the env file first: a malformed one stops us before anything is created.
        var env = FileManager.default.fileExists(atPath: path) ? try EnvFile.load(path) : EnvFile(path: path)
        let sm = SecretsManager(try context.aws())
        let existing = try await sm.list(prefix: "airflow-").all().filter { $0.DeletedDate == nil }
        var records: [SecretRecord] = []
        for s in wanted(input) {
            var record: SecretRecord
            if let have = existing.first(where: { $0.Name == s.rawValue }) {
                if input.rotate.contains(s) {
                    record = try await SecretsRotate.rotate(s, arn: have.ARN, input: input, context: context, sm: sm)
                } else {
                    record = SecretRecord(name: s.rawValue, arn: have.ARN, action: "kept")
                    if s == .adminPassword && input.adminPassword != nil {
                        context.terminal.note("note: \(s.rawValue) exists and was kept; the password on stdin was not used (pass --rotate \(s.rawValue) to set it)")
                    }
                }
            } else {
                let value = try newValue(s, input: input, old: nil)
                let arn: String
                do {
                    arn = try await sm.create(name: s.rawValue, value: value, description: s.about, tags: ["fairflow:managed": "true"],
                                              token: context.idempotencyToken("secrets.init/\(s.rawValue)"))
                } catch let e as AWSError where e.code == "ResourceExistsException" {
                    // Made by a concurrent run (or a retry that did land): use it.
                    arn = try await sm.describe(s.rawValue).ARN
                }
                record = SecretRecord(name: s.rawValue, arn: arn, action: "created")
            }
            record.envKey = s.envKey
            env.set(s.envKey, record.arn)
            records.append(record)
        }
        try env.write(to: path)
        context.terminal.note("wrote \(records.count) secret ARNs to \(path)")
        return Output(envFile: path, secrets: records)
    }
}

/// `fairflow secrets list`: the `airflow-*` secrets with ARN and last change.
public enum SecretsList: FairflowOperation {
    public static let id = "secrets.list"
    public static let summary = "List the airflow-* secrets with their ARN and last-changed date."
    public struct Input: Codable, Sendable { public init() {} }
    public struct Output: OperationOutput {
        public var secrets: [SecretRecord]
        public func renderText(_ t: Terminal) -> String { secretsTable(secrets, t, showDate: true) }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("Secrets Manager ListSecrets", detail: "airflow-*")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let list = try await SecretsManager(try context.aws()).list(prefix: "airflow-").all()
            .filter { $0.DeletedDate == nil && $0.Name.hasPrefix("airflow-") }.sorted { $0.Name < $1.Name }
        return Output(secrets: list.map {
            SecretRecord(name: $0.Name, arn: $0.ARN, action: "listed", envKey: AirflowSecret(rawValue: $0.Name)?.envKey,
                         lastChanged: $0.LastChangedDate ?? $0.CreatedDate)
        })
    }
}

/// `fairflow secrets rotate NAME`: a new value (the Fernet key keeps its old keys after the new one).
public enum SecretsRotate: FairflowOperation {
    public static let id = "secrets.rotate"
    public static let summary = "Give one airflow-* secret a new value."

    public struct Input: Codable, Sendable {
        public var secret: AirflowSecret
        public var adminPassword: String?
        public var flowerUser: String?
        public var deployKeyFile: String?
        public init(secret: AirflowSecret, adminPassword: String? = nil, flowerUser: String? = nil, deployKeyFile: String? = nil) {
            self.secret = secret
            self.adminPassword = adminPassword
            self.flowerUser = flowerUser
            self.deployKeyFile = deployKeyFile
        }
    }

    public struct Output: OperationOutput {
        public var secret: SecretRecord
        public var hint: String
        public func renderText(_ t: Terminal) -> String {
            t.note(hint)
            return secretsTable([secret], t)
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("Secrets Manager GetSecretValue", detail: input.secret.rawValue),
         PlannedAction("Secrets Manager PutSecretValue", mutating: true, detail: input.secret.rawValue)]
    }

    static func rotate(_ s: AirflowSecret, arn: String, input: SecretsInit.Input, context: Context, sm: SecretsManager) async throws -> SecretRecord {
        var flower = input
        if s == .flowerCredentials, input.flowerUser == "admin" {
            // Keep the user name the secret already has unless one was given.
            let old = try await sm.value(arn)
            if let user = old.split(separator: ":").first, !user.isEmpty { flower.flowerUser = String(user) }
        }
        let old = s == .fernetKey ? try await sm.value(arn) : nil
        let value = try SecretsInit.newValue(s, input: flower, old: old)
        try await sm.putValue(arn, value: value, token: context.idempotencyToken("secrets.rotate/\(s.rawValue)"))
        return SecretRecord(name: s.rawValue, arn: arn, action: "rotated", envKey: s.envKey)
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let initInput = SecretsInit.Input(adminPassword: input.adminPassword, flowerUser: input.flowerUser ?? "admin",
                                          deployKeyFile: input.deployKeyFile, rotate: [input.secret])
        try SecretsInit.validate(initInput)
        let sm = SecretsManager(try context.aws())
        let arn: String
        do { arn = try await sm.describe(input.secret.rawValue).ARN } catch SecretsManagerError.notFound {
            throw FairflowError("cannot rotate \(input.secret.rawValue)", why: "the secret does not exist", fix: "create it with `fairflow secrets init`")
        }
        let record = try await rotate(input.secret, arn: arn, input: initInput, context: context, sm: sm)
        let hint: String
        switch input.secret {
        case .fernetKey: hint = "the old key is kept after the new one; redeploy, run `airflow rotate-fernet-key`, then the old key may be dropped"
        case .adminPassword: hint = "redeploy (or restart the webserver/api-server) so Airflow reads the new password"
        case .flowerCredentials: hint = "redeploy (or restart flower) so it reads the new credentials"
        case .deployKey: hint = "add the new public key to the repository's deploy keys, then restart dag-sync"
        }
        return Output(secret: record, hint: hint)
    }
}
