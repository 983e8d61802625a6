import AWSCore
import AWSServices
import Foundation

/// `--since`: `30s`, `10m`, `2h`, `3d`, `1w`, or an ISO-8601 time (`2026-11-25T01:00:00Z`, `2026-11-25`).
public enum SinceParser {
    public static func parse(_ s: String, now: Date = Date()) throws -> Date {
        let t = s.trimmingCharacters(in: .whitespaces)
        if let unit = t.last, let n = Double(t.dropLast()), n >= 0, n.isFinite {
            let mult: Double? = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800][unit]
            if let m = mult { return now.addingTimeInterval(-n * m) }
        }
        let iso = ISO8601DateFormatter()
        for opts: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime],
                                                   [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate],
                                                   [.withFullDate, .withDashSeparatorInDate]] {
            iso.formatOptions = opts
            iso.timeZone = TimeZone(identifier: "UTC")
            if let d = iso.date(from: t) { return d }
        }
        throw FairflowError.usage("bad --since '\(s)'", why: "not a duration (30s, 10m, 2h, 3d, 1w) or an ISO-8601 time",
                                  fix: "use e.g. --since 10m or --since 2026-11-25T01:00:00Z")
    }
}

/// Set by SIGINT/SIGTERM: long loops (logs --follow, waits) stop at the next check and end cleanly.
public final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var sources: [DispatchSourceSignal] = []
    public init() {}

    public var isSet: Bool { lock.withLock { stopped } }
    public func set() { lock.withLock { stopped = true } }

    /// Catches Ctrl-C instead of dying mid-write.
    public func installSignalHandlers() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler { [weak self] in self?.set() }
            src.resume()
            lock.withLock { sources.append(src) }
        }
    }

    /// Sleeps in short steps; returns early (false) once stopped.
    public func sleep(_ seconds: TimeInterval) async -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if isSet { return false }
            try? await Task.sleep(nanoseconds: UInt64(min(0.1, max(0, end.timeIntervalSinceNow)) * 1e9))
        }
        return !isSet
    }
}

/// One line of `logs tail`: which component and task said what, when.
public struct TailLine: Codable, Sendable {
    public var component: String
    public var task: String
    public var container: String?
    public var stream: String
    public var timestamp: Date
    public var message: String
    public var eventId: String
}

/// The de-duplicating, time-ordered merge of several log groups, poll after poll (copilot's streamer idea).
/// Each poll asks for events from a little before the newest seen (late ingestion), and drops event ids
/// already shown, so nothing is lost across pages and polls and nothing is shown twice.
public struct LogMerger: Sendable {
    public var overlapMillis: Int64
    var cursor: [String: Int64] = [:]     // group → next startTime
    var seen: [String: [String: Int64]] = [:] // group → event id → timestamp, for events at or after its cursor

    public init(start: [String: Int64], overlapMillis: Int64 = 60_000) {
        self.overlapMillis = overlapMillis
        cursor = start
    }

    public func startTime(_ group: String) -> Int64? { cursor[group] }

    /// Takes one poll's events per group; returns the new ones in time order.
    public mutating func accept(_ polled: [(group: String, events: [LogEvent])]) -> [(group: String, event: LogEvent)] {
        var fresh: [(group: String, event: LogEvent)] = []
        for (group, events) in polled {
            var ids = seen[group] ?? [:]
            for e in events where ids[e.eventId] == nil {
                ids[e.eventId] = e.timestamp
                fresh.append((group, e))
            }
            if let newest = events.map(\.timestamp).max() {
                let next = max(cursor[group] ?? 0, newest - overlapMillis)
                cursor[group] = next
                // Events before the cursor are never asked for again: forget their ids.
                ids = ids.filter { $0.value >= next }
            }
            seen[group] = ids
        }
        // Stable: same timestamp keeps the order CloudWatch gave within a group.
        return fresh.enumerated().sorted { a, b in
            a.element.event.timestamp != b.element.event.timestamp ? a.element.event.timestamp < b.element.event.timestamp : a.offset < b.offset
        }.map(\.element)
    }
}
