import AWSCore
import AWSServices
import Foundation
import HTTPTransport

/// The global options every command shares (the CLI fills them; a runbook inherits them).
public struct GlobalSettings: Sendable {
    public var envFile: String?
    public var stack: String = "FairflowStack"
    public var region: String?
    public var profile: String?
    public var endpointURL: String?
    public var output: OutputFormat = .text
    public var noColor = false
    public var yes = false
    public var verbose = false
    public var environment: [String: String] = ProcessInfo.processInfo.environment

    public init() {}
}

/// Everything an operation may need, built lazily: a command that needs no AWS never builds a client.
public final class Context: @unchecked Sendable {
    public let settings: GlobalSettings
    public let terminal: Terminal
    public var http: HTTPClient
    /// Dry run: AWS clients refuse mutating calls.
    public var readOnly = false
    public var callObserver: (@Sendable (AWSCallRecord) -> Void)?
    /// Set by the runbook runner: makes `idempotencyToken(_:)` deterministic per step.
    public var idempotencySeed: String?
    /// Set by a step that was confirmed as part of a larger one (an upgrade's roll): `confirm` asks nothing.
    public var confirmed = false
    private let lock = NSLock()
    private var _env: EnvFile??
    private var _aws: AWSClient?
    private var _region: Region?

    public init(settings: GlobalSettings, terminal: Terminal, http: HTTPClient? = nil) {
        self.settings = settings
        self.terminal = terminal
        self.http = http ?? CurlHTTPClient(settings: HTTPSettings(environment: settings.environment))
    }

    public var environment: [String: String] { settings.environment }
    public var stackName: String { settings.stack }

    /// The env file named by --env (or FAIRFLOW_ENV_FILE); nil when none was given.
    public func envFile() throws -> EnvFile? {
        try lock.withLock {
            if let e = _env { return e }
            let path = settings.envFile ?? environment["FAIRFLOW_ENV_FILE"]
            let loaded = try path.map { try EnvFile.load($0) }
            _env = .some(loaded)
            return loaded
        }
    }

    /// --region, AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region`.
    public func region() throws -> Region {
        if let r = lock.withLock({ _region }) { return r }
        let profileName = settings.profile ?? environment["AWS_PROFILE"] ?? environment["AWS_DEFAULT_PROFILE"] ?? "default"
        let candidates: [(String, String?)] = [
            ("--region", settings.region), ("AWS_REGION", environment["AWS_REGION"]),
            ("AWS_DEFAULT_REGION", environment["AWS_DEFAULT_REGION"]),
            ("profile \(profileName)", SharedConfig.load(environment: environment).profiles[profileName]?["region"]),
        ]
        guard let (source, name) = candidates.first(where: { !($0.1 ?? "").isEmpty }).map({ ($0.0, $0.1!) }) else {
            throw FairflowError.usage("no AWS region set", why: "none of --region, AWS_REGION, AWS_DEFAULT_REGION or the profile's region is set",
                                      fix: "pass --region us-east-1 (or your region), or run `aws configure`")
        }
        do {
            let r = try Region(validating: name)
            lock.withLock { _region = r }
            return r
        } catch let e as RegionError {
            throw FairflowError.usage("unknown region '\(name)' (from \(source))", why: "not an AWS region name",
                                      fix: e.suggestion.map { "did you mean \($0)?" } ?? "use a name like us-east-1")
        }
    }

    public var endpointOverride: URL? {
        guard let s = settings.endpointURL, !s.isEmpty else { return nil }
        return URL(string: s)
    }

    public func endpoints() -> EndpointResolver { EndpointResolver(override: endpointOverride, environment: environment) }

    /// The one AWS client of this run.
    public func aws() throws -> AWSClient {
        if let c = lock.withLock({ _aws }) { return c }
        if let s = settings.endpointURL, URL(string: s)?.scheme == nil || URL(string: s)?.host == nil {
            throw FairflowError.usage("bad --endpoint-url '\(s)'", why: "not an absolute URL", fix: "use a URL like http://127.0.0.1:5000")
        }
        let region = try region()
        let endpoints = endpoints()
        let chain = CredentialChain.standard(profile: settings.profile, environment: environment, http: http, endpoints: endpoints)
        let client = AWSClient(http: http, region: region, endpoints: endpoints, credentials: chain,
                               retry: .standard(environment: environment))
        client.readOnly = readOnly
        let verbose = settings.verbose
        let term = terminal
        let observer = callObserver
        client.observer = { rec in
            if verbose {
                term.note("aws: \(rec.service) \(rec.operation) → \(rec.status.map(String.init) ?? "-")\(rec.errorCode.map { " \($0)" } ?? "") " +
                          "in \(Int(rec.duration * 1000)) ms, \(rec.attempts) attempt\(rec.attempts == 1 ? "" : "s")")
            }
            observer?(rec)
        }
        lock.withLock { _aws = client }
        return client
    }

    /// The endpoint label shown to users ("https://sts.us-east-1.amazonaws.com" or the override).
    public func endpointDescription(for service: AWSService) -> String {
        guard let r = try? region() else { return "?" }
        return endpoints().endpoint(for: service, region: r).url.absoluteString
    }
}

import Crypto

extension Context {
    /// An idempotency token for one logical create. Inside a runbook step the runner sets
    /// `idempotencySeed` (run id + step id), so a resumed step sends the same tokens again and AWS
    /// answers with what the first attempt made instead of making a second one.
    public func idempotencyToken(_ purpose: String) -> String {
        guard let seed = idempotencySeed else { return UUID().uuidString }
        let digest = Array(SHA256.hash(data: Data("\(seed)|\(purpose)".utf8)))
        var b = Array(digest.prefix(16))
        b[6] = (b[6] & 0x0F) | 0x50  // version 5-style, variant RFC 4122
        b[8] = (b[8] & 0x3F) | 0x80
        let hex = b.map { String(format: "%02x", $0) }.joined()
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return parts.joined(separator: "-")
    }

    /// Asks before a destructive step: `--yes` answers; without a TTY it is a usage error (exit 64),
    /// never a hang. `typed` makes the user type that word (teardown types the stack name).
    public func confirm(_ question: String, typed: String? = nil) throws {
        if settings.yes || confirmed { return }
        guard isatty(STDIN_FILENO) == 1, terminal.stderrIsTTY else {
            throw FairflowError.usage("confirmation needed", why: "\(question) — and there is no terminal to ask on",
                                      fix: "pass --yes to confirm")
        }
        if let word = typed {
            terminal.writeErr("\(question)\nType \(word) to confirm: ")
        } else {
            terminal.writeErr("\(question) [y/N] ")
        }
        let answer = (readLine() ?? "").trimmingCharacters(in: .whitespaces)
        let ok = typed.map { answer == $0 } ?? ["y", "yes"].contains(answer.lowercased())
        if !ok { throw FairflowError("cancelled", why: "not confirmed", status: .usage) }
    }
}
