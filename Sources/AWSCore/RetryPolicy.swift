import Foundation
import HTTPTransport

/// The SDKs' "standard" retry mode: a few attempts, exponential backoff with full jitter, on throttling,
/// 5xx, transient codes, connection resets and timeouts; `Retry-After` honoured.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: TimeInterval = 0.1
    public var maxBackoff: TimeInterval = 20
    /// Tests replace it to make jitter predictable.
    public var jitter: @Sendable (Double) -> Double = { Double.random(in: 0...$0) }

    public init(maxAttempts: Int = 3) { self.maxAttempts = max(1, maxAttempts) }

    /// `AWS_MAX_ATTEMPTS` (default 3).
    public static func standard(environment: [String: String]) -> RetryPolicy {
        RetryPolicy(maxAttempts: environment["AWS_MAX_ATTEMPTS"].flatMap(Int.init) ?? 3)
    }

    public func shouldRetry(_ error: Error) -> Bool {
        if let e = error as? AWSError { return e.isRetryable }
        if let t = error as? TransportError { return t.isTransient }
        return false
    }

    /// Delay before attempt `attempt + 1` (attempt counts from 1).
    public func delay(afterAttempt attempt: Int, retryAfter: TimeInterval?) -> TimeInterval {
        let exp = min(maxBackoff, baseDelay * pow(2, Double(attempt - 1)))
        let d = jitter(exp)
        if let ra = retryAfter { return min(maxBackoff, max(d, ra)) }
        return d
    }
}

public struct RetriesExhausted: Error, CustomStringConvertible {
    public let attempts: Int
    public let last: Error
    public var description: String { "\(last) — gave up after \(attempts) attempts (raise AWS_MAX_ATTEMPTS to try longer)" }
}
