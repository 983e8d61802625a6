import AWSCore
import Foundation

/// One value of a CloudWatch metric at one time.
public struct MetricDatapoint: Codable, Sendable, Equatable {
    public var timestamp: Date
    public var value: Double
}

/// CloudWatch metrics (the query protocol), only what fairflow reads: the stack's own custom metrics.
public struct CloudWatch: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    /// The newest one-minute datapoint of a metric in the last `window` seconds, or nil when there is none.
    public func latest(namespace: String, metric: String, dimensions: [(String, String)], statistic: String = "Maximum",
                       window: TimeInterval = 600, now: Date = Date()) async throws -> MetricDatapoint? {
        let iso = ISO8601DateFormatter()
        var p: [(String, String)] = [
            ("Namespace", namespace), ("MetricName", metric),
            ("StartTime", iso.string(from: now.addingTimeInterval(-window))), ("EndTime", iso.string(from: now.addingTimeInterval(60))),
            ("Period", "60"), ("Statistics.member.1", statistic),
        ]
        for (i, d) in dimensions.enumerated() {
            p += [("Dimensions.member.\(i + 1).Name", d.0), ("Dimensions.member.\(i + 1).Value", d.1)]
        }
        let r = try await client.send(.query(.cloudWatch, "GetMetricStatistics", p))
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let points = (r.xml?.list("Datapoints") ?? []).compactMap { m -> MetricDatapoint? in
            guard let t = m.string("Timestamp"), let date = iso.date(from: t) ?? fractional.date(from: t),
                  let v = m.string(statistic).flatMap(Double.init) else { return nil }
            return MetricDatapoint(timestamp: date, value: v)
        }
        return points.max { $0.timestamp < $1.timestamp }
    }
}
