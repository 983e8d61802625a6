import AWSSigV4
import Foundation
import HTTPTransport

public struct AWSCredentials: Sendable, Equatable {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
    public var expiration: Date?
    /// Where they came from, for `whoami` and `doctor` ("environment", "profile dev", ...).
    public var source: String

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil, source: String) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    public var signing: SigningCredentials {
        SigningCredentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
    }

    func expiresSoon(now: Date = Date()) -> Bool {
        guard let e = expiration else { return false }
        return e.timeIntervalSince(now) < 300
    }
}

public enum CredentialsError: Error, CustomStringConvertible {
    case notFound(tried: [String])
    case profileNotFound(String, files: [String])
    case invalidProfile(String, reason: String)
    case processFailed(String, reason: String)
    case fetchFailed(source: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let tried):
            return """
            no AWS credentials found (looked in: \(tried.joined(separator: ", "))) — \
            set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, run `aws configure`, or pass --profile NAME
            """
        case .profileNotFound(let p, let files):
            return "AWS profile '\(p)' not found in \(files.joined(separator: " or ")) — check the name, or run `aws configure --profile \(p)`"
        case .invalidProfile(let p, let reason):
            return "AWS profile '\(p)' cannot be used: \(reason)"
        case .processFailed(let p, let reason):
            return "credential_process of profile '\(p)' failed: \(reason)"
        case .fetchFailed(let source, let reason):
            return "could not get credentials from \(source): \(reason)"
        }
    }
}

public protocol CredentialProvider: Sendable {
    /// nil: this source has nothing (the chain goes on); throws: it has something and it failed.
    func credentials() async throws -> AWSCredentials?
    var name: String { get }
}

public struct StaticCredentialProvider: CredentialProvider {
    public let value: AWSCredentials
    public init(_ value: AWSCredentials) { self.value = value }
    public var name: String { value.source }
    public func credentials() async throws -> AWSCredentials? { value }
}

public struct EnvironmentCredentialProvider: CredentialProvider {
    public let environment: [String: String]
    public init(environment: [String: String]) { self.environment = environment }
    public var name: String { "environment variables" }
    public func credentials() async throws -> AWSCredentials? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty,
              let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else { return nil }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token, source: "environment")
    }
}

/// The credential chain in the aws CLI's order; the first source that has credentials wins.
public final class CredentialChain: CredentialProvider, @unchecked Sendable {
    public let providers: [CredentialProvider]
    private let lock = NSLock()
    private var cached: AWSCredentials?

    public init(_ providers: [CredentialProvider]) { self.providers = providers }
    public var name: String { "credential chain" }

    public func credentials() async throws -> AWSCredentials? {
        if let c = lock.withLock({ cached }), !c.expiresSoon() { return c }
        for p in providers {
            if let c = try await p.credentials() {
                lock.withLock { cached = c }
                return c
            }
        }
        throw CredentialsError.notFound(tried: providers.map(\.name))
    }

    /// The standard chain: environment (unless a profile was named explicitly), the profile, the ECS
    /// container endpoint, EC2 instance metadata (IMDSv2).
    public static func standard(profile explicitProfile: String?, environment env: [String: String],
                                http: HTTPClient, endpoints: EndpointResolver) -> CredentialChain {
        var list: [CredentialProvider] = []
        if explicitProfile == nil { list.append(EnvironmentCredentialProvider(environment: env)) }
        let profileName = explicitProfile ?? env["AWS_PROFILE"] ?? env["AWS_DEFAULT_PROFILE"]
        list.append(ProfileCredentialProvider(profile: profileName ?? "default", explicit: profileName != nil,
                                              config: SharedConfig.load(environment: env), http: http,
                                              endpoints: endpoints, environment: env))
        if profileName == nil || explicitProfile == nil {
            list.append(ContainerCredentialProvider(environment: env, http: http))
            list.append(InstanceMetadataCredentialProvider(environment: env, http: http))
        }
        return CredentialChain(list)
    }
}

/// `~/.aws/credentials` and `~/.aws/config`, merged per profile (the credentials file wins on conflicts).
public struct SharedConfig: Sendable {
    public var profiles: [String: [String: String]]
    public var files: [String]

    public init(profiles: [String: [String: String]], files: [String]) {
        self.profiles = profiles
        self.files = files
    }

    public static func load(environment env: [String: String]) -> SharedConfig {
        let home = env["HOME"] ?? NSHomeDirectory()
        let credPath = env["AWS_SHARED_CREDENTIALS_FILE"] ?? "\(home)/.aws/credentials"
        let confPath = env["AWS_CONFIG_FILE"] ?? "\(home)/.aws/config"
        var profiles: [String: [String: String]] = [:]
        for (name, values) in parseINI(read(confPath)) {
            var n = name
            if n.hasPrefix("profile ") { n = String(n.dropFirst(8)).trimmingCharacters(in: .whitespaces) }
            else if n != "default" { continue }  // [sso-session x], [services x]
            profiles[n, default: [:]].merge(values) { _, new in new }
        }
        for (name, values) in parseINI(read(credPath)) {
            profiles[name, default: [:]].merge(values) { _, new in new }
        }
        return SharedConfig(profiles: profiles, files: [credPath, confPath])
    }

    static func read(_ path: String) -> String {
        (try? String(contentsOfFile: (path as NSString).expandingTildeInPath, encoding: .utf8)) ?? ""
    }

    public static func parseINI(_ text: String) -> [(String, [String: String])] {
        var out: [(String, [String: String])] = []
        var current: String?
        var values: [String: String] = [:]
        for raw in text.components(separatedBy: .newlines) {
            if raw.first == " " || raw.first == "\t" { continue }  // nested sub-section values
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                if let c = current { out.append((c, values)) }
                current = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                values = [:]
                continue
            }
            guard current != nil, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if let hash = value.range(of: " #") ?? value.range(of: " ;") { value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces) }
            values[key] = value
        }
        if let c = current { out.append((c, values)) }
        return out
    }
}

/// A profile's credentials: static keys, `role_arn` + `source_profile` (STS AssumeRole, cached until
/// expiry), or `credential_process`.
public struct ProfileCredentialProvider: CredentialProvider {
    public let profile: String
    public let explicit: Bool
    public let config: SharedConfig
    public let http: HTTPClient
    public let endpoints: EndpointResolver
    public let environment: [String: String]

    public var name: String { "profile '\(profile)' (\(config.files.joined(separator: ", ")))" }

    public func credentials() async throws -> AWSCredentials? {
        guard config.profiles[profile] != nil else {
            if explicit { throw CredentialsError.profileNotFound(profile, files: config.files) }
            return nil
        }
        return try await resolve(profile, visited: [])
    }

    func resolve(_ name: String, visited: Set<String>) async throws -> AWSCredentials {
        guard let p = config.profiles[name] else { throw CredentialsError.profileNotFound(name, files: config.files) }
        if let role = p["role_arn"] {
            guard !visited.contains(name) || p["aws_access_key_id"] != nil else {
                throw CredentialsError.invalidProfile(name, reason: "source_profile forms a cycle")
            }
            var source: AWSCredentials
            if let sp = p["source_profile"] {
                if sp == name, let id = p["aws_access_key_id"], let secret = p["aws_secret_access_key"] {
                    source = AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: p["aws_session_token"], source: "profile \(name)")
                } else {
                    source = try await resolve(sp, visited: visited.union([name]))
                }
            } else if let cs = p["credential_source"] {
                guard cs == "Environment", let env = try await EnvironmentCredentialProvider(environment: environment).credentials() else {
                    throw CredentialsError.invalidProfile(name, reason: "credential_source \(cs) is not supported; use source_profile or Environment")
                }
                source = env
            } else {
                throw CredentialsError.invalidProfile(name, reason: "role_arn needs source_profile or credential_source")
            }
            return try await AssumeRoleCache(environment: environment).credentials(
                roleArn: role, sessionName: p["role_session_name"] ?? "fairflow-\(Int(Date().timeIntervalSince1970))",
                externalId: p["external_id"], duration: p["duration_seconds"].flatMap(Int.init),
                source: source, region: p["region"] ?? environment["AWS_REGION"] ?? "us-east-1",
                http: http, endpoints: endpoints, profile: name)
        }
        if let process = p["credential_process"] {
            return try CredentialProcess.run(process, profile: name)
        }
        if let id = p["aws_access_key_id"], let secret = p["aws_secret_access_key"] {
            return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: p["aws_session_token"], source: "profile \(name)")
        }
        if p["sso_session"] != nil || p["sso_start_url"] != nil {
            throw CredentialsError.invalidProfile(name, reason: "IAM Identity Center (SSO) profiles are not supported yet — run `aws configure export-credentials --profile \(name) --format env` and use the environment variables")
        }
        throw CredentialsError.invalidProfile(name, reason: "it has no aws_access_key_id/aws_secret_access_key, role_arn or credential_process")
    }
}

/// STS AssumeRole with an on-disk cache (0600, under the user's cache dir), reused until 5 minutes before expiry.
struct AssumeRoleCache {
    let environment: [String: String]

    var dir: String {
        let home = environment["HOME"] ?? NSHomeDirectory()
        let base = environment["XDG_CACHE_HOME"] ?? "\(home)/.cache"
        return "\(base)/fairflow/sts"
    }

    struct Entry: Codable {
        var accessKeyId: String
        var secretAccessKey: String
        var sessionToken: String?
        var expiration: Date
    }

    func credentials(roleArn: String, sessionName: String, externalId: String?, duration: Int?, source: AWSCredentials,
                     region: String, http: HTTPClient, endpoints: EndpointResolver, profile: String) async throws -> AWSCredentials {
        let key = SigV4.hexSHA256(Data("\(roleArn)|\(source.accessKeyId)|\(externalId ?? "")".utf8))
        let file = "\(dir)/\(key).json"
        let dec = JSONDecoder()
        dec.dateDecodingStrategy = .secondsSince1970
        if let data = FileManager.default.contents(atPath: file), let e = try? dec.decode(Entry.self, from: data),
           e.expiration.timeIntervalSinceNow > 300 {
            return AWSCredentials(accessKeyId: e.accessKeyId, secretAccessKey: e.secretAccessKey, sessionToken: e.sessionToken,
                                  expiration: e.expiration, source: "profile \(profile) (assumed role, cached)")
        }
        let reg = (try? Region(validating: region)) ?? (try! Region(validating: "us-east-1"))
        let client = AWSClient(http: http, region: reg, endpoints: endpoints, credentials: StaticCredentialProvider(source))
        var params: [(String, String)] = [("RoleArn", roleArn), ("RoleSessionName", sessionName)]
        if let e = externalId { params.append(("ExternalId", e)) }
        if let d = duration { params.append(("DurationSeconds", String(d))) }
        let resp = try await client.send(.query(.sts, "AssumeRole", params))
        guard let c = resp.xml?["Credentials"],
              let id = c.string("AccessKeyId"), let secret = c.string("SecretAccessKey") else {
            throw CredentialsError.fetchFailed(source: "STS AssumeRole", reason: "the response had no credentials")
        }
        let exp = c.string("Expiration").flatMap(AWSDate.parse) ?? Date().addingTimeInterval(900)
        let entry = Entry(accessKeyId: id, secretAccessKey: secret, sessionToken: c.string("SessionToken"), expiration: exp)
        let enc = JSONEncoder()
        enc.dateEncodingStrategy = .secondsSince1970
        if let data = try? enc.encode(entry) {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            FileManager.default.createFile(atPath: file, contents: data, attributes: [.posixPermissions: 0o600])
        }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: entry.sessionToken, expiration: exp,
                              source: "profile \(profile) (assumed \(roleArn))")
    }
}

enum CredentialProcess {
    struct Output: Decodable {
        let Version: Int
        let AccessKeyId: String
        let SecretAccessKey: String
        let SessionToken: String?
        let Expiration: String?
    }

    static func run(_ command: String, profile: String) throws -> AWSCredentials {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { throw CredentialsError.processFailed(profile, reason: "\(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let msg = String(decoding: errData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw CredentialsError.processFailed(profile, reason: "exit \(p.terminationStatus)\(msg.isEmpty ? "" : ": \(msg)")")
        }
        guard let o = try? JSONDecoder().decode(Output.self, from: data), o.Version == 1 else {
            throw CredentialsError.processFailed(profile, reason: "its output is not the Version 1 JSON the aws CLI expects")
        }
        return AWSCredentials(accessKeyId: o.AccessKeyId, secretAccessKey: o.SecretAccessKey, sessionToken: o.SessionToken,
                              expiration: o.Expiration.flatMap(AWSDate.parse), source: "profile \(profile) (credential_process)")
    }
}

/// ECS task role credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI` + token).
public struct ContainerCredentialProvider: CredentialProvider {
    public let environment: [String: String]
    public let http: HTTPClient
    public var name: String { "ECS container credentials" }

    public func credentials() async throws -> AWSCredentials? {
        let url: URL
        if let rel = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !rel.isEmpty {
            url = URL(string: "http://169.254.170.2\(rel)")!
        } else if let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty, let u = URL(string: full) {
            url = u
        } else {
            return nil
        }
        var req = HTTPRequest(method: "GET", url: url)
        if let tokenFile = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"],
           let t = try? String(contentsOfFile: tokenFile, encoding: .utf8) {
            req.setHeader("Authorization", t.trimmingCharacters(in: .whitespacesAndNewlines))
        } else if let t = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] {
            req.setHeader("Authorization", t)
        }
        let resp: HTTPResponse
        do { resp = try await http.send(req) } catch {
            throw CredentialsError.fetchFailed(source: name, reason: "\(error)")
        }
        guard resp.status == 200 else { throw CredentialsError.fetchFailed(source: name, reason: "HTTP \(resp.status)") }
        return try MetadataCredentials.decode(resp.body, source: "ECS container role")
    }
}

enum MetadataCredentials {
    struct Body: Decodable {
        let AccessKeyId: String
        let SecretAccessKey: String
        let Token: String?
        let Expiration: String?
    }

    static func decode(_ data: Data, source: String) throws -> AWSCredentials {
        guard let b = try? JSONDecoder().decode(Body.self, from: data) else {
            throw CredentialsError.fetchFailed(source: source, reason: "the response was not a credentials document")
        }
        return AWSCredentials(accessKeyId: b.AccessKeyId, secretAccessKey: b.SecretAccessKey, sessionToken: b.Token,
                              expiration: b.Expiration.flatMap(AWSDate.parse), source: source)
    }
}

/// EC2 instance role credentials through IMDSv2 (a session token first), with short timeouts so a laptop
/// without metadata answers quickly. `AWS_EC2_METADATA_DISABLED=true` turns it off.
public struct InstanceMetadataCredentialProvider: CredentialProvider {
    public let environment: [String: String]
    public let http: HTTPClient
    public var name: String { "EC2 instance metadata" }

    public func credentials() async throws -> AWSCredentials? {
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" { return nil }
        let base = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://169.254.169.254"
        let client = CurlHTTPClient(settings: HTTPSettings(environment: [:], connectTimeout: 1, totalTimeout: 2))
        let http: HTTPClient = (self.http as? CurlHTTPClient) != nil ? client : self.http
        do {
            var tokReq = HTTPRequest(method: "PUT", url: URL(string: "\(base)/latest/api/token")!)
            tokReq.setHeader("X-aws-ec2-metadata-token-ttl-seconds", "21600")
            let tok = try await http.send(tokReq)
            guard tok.status == 200 else { return nil }
            let token = tok.text
            var roleReq = HTTPRequest(method: "GET", url: URL(string: "\(base)/latest/meta-data/iam/security-credentials/")!)
            roleReq.setHeader("X-aws-ec2-metadata-token", token)
            let role = try await http.send(roleReq)
            guard role.status == 200, let roleName = role.text.split(separator: "\n").first else { return nil }
            var credReq = HTTPRequest(method: "GET", url: URL(string: "\(base)/latest/meta-data/iam/security-credentials/\(roleName)")!)
            credReq.setHeader("X-aws-ec2-metadata-token", token)
            let cred = try await http.send(credReq)
            guard cred.status == 200 else { return nil }
            return try MetadataCredentials.decode(cred.body, source: "EC2 instance role \(roleName)")
        } catch is TransportError {
            return nil  // no metadata service here
        }
    }
}

/// AWS timestamps: ISO 8601 with or without fractional seconds, or epoch seconds.
public enum AWSDate {
    public static func parse(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: s) { return d }
        if let t = Double(s) { return Date(timeIntervalSince1970: t) }
        return nil
    }

    public static func format(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }
}
