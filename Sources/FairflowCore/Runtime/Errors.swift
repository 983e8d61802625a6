import AWSCore
import AWSServices
import Foundation
import HTTPTransport

/// The exit codes, one mapping in one place.
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    case failed = 1
    /// `diff --exit-code`: there are changes (Terraform's convention).
    case changes = 2
    case checkFailed = 3
    case authFailed = 4
    case usage = 64
    case interrupted = 130
}

/// An error fairflow raised on purpose: what failed, why, how to fix, and its exit status.
public struct FairflowError: Error, CustomStringConvertible, Sendable {
    public var what: String
    public var why: String
    public var fix: String?
    public var status: ExitStatus

    public init(_ what: String, why: String, fix: String? = nil, status: ExitStatus = .failed) {
        self.what = what
        self.why = why
        self.fix = fix
        self.status = status
    }

    public static func usage(_ what: String, why: String, fix: String? = nil) -> FairflowError {
        FairflowError(what, why: why, fix: fix, status: .usage)
    }

    public var description: String { fix.map { "\(what): \(why) — \($0)" } ?? "\(what): \(why)" }
}

/// A check ran and found a problem (doctor, status, db check): exit 3.
public struct CheckFailed: Error, CustomStringConvertible, Sendable {
    public var failed: [String]
    public init(_ failed: [String]) { self.failed = failed }
    public var description: String { "\(failed.count) check\(failed.count == 1 ? "" : "s") failed: \(failed.joined(separator: "; "))" }
}

public struct Interrupted: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "interrupted" }
}

public enum ErrorReport {
    /// The exit status for any error.
    public static func status(for error: Error) -> ExitStatus {
        switch error {
        case let e as FairflowError: return e.status
        case is CheckFailed: return .checkFailed
        case is Interrupted, is CancellationError: return .interrupted
        case is EnvFileError, is RegionError: return .usage
        case is CredentialsError: return .authFailed
        case let e as AWSError: return e.isAuthFailure ? .authFailed : .failed
        case let e as RetriesExhausted: return status(for: e.last)
        default: return .failed
        }
    }

    /// One line (or a few) for stderr: "what failed: why — how to fix".
    public static func message(for error: Error, endpoint: String? = nil) -> String {
        switch error {
        case let e as AWSError where e.isAuthFailure:
            return "\(e) — check the credentials in use (`fairflow whoami`), or pass --profile"
        case let e as AWSError where e.isAccessDenied:
            return "\(e) — the credentials in use lack this permission; check their IAM policy"
        case let e as AWSError where e.code == "UnexpectedResponse":
            return "\(e)\(endpoint.map { " (endpoint \($0))" } ?? "") — check --endpoint-url / AWS_ENDPOINT_URL points at an AWS API"
        case let e as TransportError:
            var s = "cannot reach AWS: \(e)"
            switch e.kind {
            case .dns: s += " — check the endpoint URL and your network or proxy settings"
            case .connectionRefused: s += " — nothing listens there; check --endpoint-url / AWS_ENDPOINT_URL"
            case .tls: s += " — the server's certificate is not trusted; set AWS_CA_BUNDLE to its CA bundle"
            case .timeout: s += " — retry later, or check the network and HTTPS_PROXY"
            default: break
            }
            return s
        case let e as RetriesExhausted:
            if let t = e.last as? TransportError { return message(for: t, endpoint: endpoint) + " (after \(e.attempts) attempts)" }
            return e.description
        default:
            return String(describing: error)
        }
    }
}
