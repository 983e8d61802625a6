import AWSCore
import Foundation

/// One log event as FilterLogEvents returns it (times in milliseconds since the epoch).
public struct LogEvent: Codable, Sendable, Equatable {
    public var logStreamName: String?
    public var timestamp: Int64
    public var message: String
    public var ingestionTime: Int64?
    public var eventId: String

    public init(logStreamName: String?, timestamp: Int64, message: String, ingestionTime: Int64? = nil, eventId: String) {
        self.logStreamName = logStreamName
        self.timestamp = timestamp
        self.message = message
        self.ingestionTime = ingestionTime
        self.eventId = eventId
    }
}

public struct LogStream: Codable, Sendable {
    public var logStreamName: String
    public var creationTime: Int64?
    public var firstEventTimestamp: Int64?
    public var lastEventTimestamp: Int64?
}

public enum CloudWatchLogsError: Error, CustomStringConvertible {
    case logGroupNotFound(String)
    public var description: String {
        switch self { case .logGroupNotFound(let g): return "log group \(g) does not exist" }
    }
}

/// What to ask FilterLogEvents for.
public struct LogFilter: Sendable {
    public var group: String
    public var startTime: Int64?
    public var endTime: Int64?
    public var pattern: String?
    public var streamNames: [String]?
    public var streamPrefix: String?
    public var limit: Int?

    public init(group: String, startTime: Int64? = nil, endTime: Int64? = nil, pattern: String? = nil,
                streamNames: [String]? = nil, streamPrefix: String? = nil, limit: Int? = nil) {
        self.group = group
        self.startTime = startTime
        self.endTime = endTime
        self.pattern = pattern
        self.streamNames = streamNames
        self.streamPrefix = streamPrefix
        self.limit = limit
    }
}

public struct CloudWatchLogs: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    func map(_ error: Error, _ group: String) -> Error {
        if let e = error as? AWSError, e.code == "ResourceNotFoundException" { return CloudWatchLogsError.logGroupNotFound(group) }
        return error
    }

    /// Every page of FilterLogEvents for one filter.
    public func filterLogEvents(_ f: LogFilter) -> Paginator<LogEvent> {
        let client = self.client
        return Paginator { token in
            struct R: Decodable { var events: [LogEvent]?; var nextToken: String? }
            var p: [String: Any] = ["logGroupName": f.group]
            if let s = f.startTime { p["startTime"] = s }
            if let e = f.endTime { p["endTime"] = e }
            if let pat = f.pattern, !pat.isEmpty { p["filterPattern"] = pat }
            if let names = f.streamNames, !names.isEmpty { p["logStreamNames"] = names } else if let pre = f.streamPrefix { p["logStreamNamePrefix"] = pre }
            if let l = f.limit { p["limit"] = l }
            if let t = token { p["nextToken"] = t }
            do {
                let r = try await client.send(.json(.logs, "FilterLogEvents", p)).decode(R.self)
                return (r.events ?? [], r.nextToken)
            } catch { throw CloudWatchLogs(client).map(error, f.group) }
        }
    }

    /// Streams newest first (by last event time).
    public func latestStreams(_ group: String, prefix: String? = nil, limit: Int = 50) async throws -> [LogStream] {
        struct R: Decodable { var logStreams: [LogStream]? }
        var p: [String: Any] = ["logGroupName": group, "limit": limit]
        if let pre = prefix { p["logStreamNamePrefix"] = pre } else { p["orderBy"] = "LastEventTime"; p["descending"] = true }
        do {
            return try await client.send(.json(.logs, "DescribeLogStreams", p)).decode(R.self).logStreams ?? []
        } catch { throw map(error, group) }
    }

    /// The last `limit` events of one stream, oldest first (GetLogEvents read from the tail).
    public func lastEvents(group: String, stream: String, limit: Int = 10) async throws -> [LogEvent] {
        struct E: Decodable { var timestamp: Int64; var message: String; var ingestionTime: Int64? }
        struct R: Decodable { var events: [E]? }
        do {
            let r = try await client.send(.json(.logs, "GetLogEvents", [
                "logGroupName": group, "logStreamName": stream, "limit": limit, "startFromHead": false,
            ])).decode(R.self)
            return (r.events ?? []).suffix(limit).enumerated().map { i, e in
                LogEvent(logStreamName: stream, timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime,
                         eventId: "\(stream)/\(e.timestamp)/\(i)")
            }
        } catch { throw map(error, group) }
    }

    public func groupExists(_ group: String) async throws -> Bool {
        struct R: Decodable { struct G: Decodable { var logGroupName: String }; var logGroups: [G]? }
        let r = try await client.send(.json(.logs, "DescribeLogGroups", ["logGroupNamePrefix": group])).decode(R.self)
        return (r.logGroups ?? []).contains { $0.logGroupName == group }
    }
}
