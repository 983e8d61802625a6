import AWSCore
import Foundation

/// The read-only calls `status` makes outside ECS and CloudFormation, one small struct per service.
public struct TargetHealth: Codable, Sendable, Equatable {
    public var target: String
    public var port: String?
    public var state: String
    public var reason: String?
}

public struct ELBv2: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    public func targetHealth(_ targetGroupArn: String) async throws -> [TargetHealth] {
        let r = try await client.send(.query(.elbv2, "DescribeTargetHealth", [("TargetGroupArn", targetGroupArn)]))
        return (r.xml?.list("TargetHealthDescriptions") ?? []).map { d in
            TargetHealth(target: d["Target"]?.string("Id") ?? "?", port: d["Target"]?.string("Port"),
                         state: d["TargetHealth"]?.string("State") ?? "unknown",
                         reason: d["TargetHealth"]?.string("Description") ?? d["TargetHealth"]?.string("Reason"))
        }
    }
}

public struct DBInstanceStatus: Codable, Sendable, Equatable {
    public var id: String
    public var status: String
    public var multiAZ: Bool
    public var engine: String
    public var engineVersion: String
    public var endpoint: String?
    public var pendingMaintenance: Bool
}

public struct RDS: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    public func instance(_ id: String) async throws -> DBInstanceStatus? {
        do {
            let r = try await client.send(.query(.rds, "DescribeDBInstances", [("DBInstanceIdentifier", id)]))
            guard let i = r.xml?.list("DBInstances", item: "DBInstance").first else { return nil }
            let pending = !(i["PendingModifiedValues"]?.children.isEmpty ?? true)
            return DBInstanceStatus(id: id, status: i.string("DBInstanceStatus") ?? "?", multiAZ: i.string("MultiAZ") == "true",
                                    engine: i.string("Engine") ?? "", engineVersion: i.string("EngineVersion") ?? "",
                                    endpoint: i["Endpoint"]?.string("Address"), pendingMaintenance: pending)
        } catch let e as AWSError where e.code == "DBInstanceNotFound" || e.code == "DBInstanceNotFoundFault" {
            return nil
        }
    }
}

/// One event as RDS and ElastiCache DescribeEvents give it.
public struct ServiceEvent: Codable, Sendable, Equatable {
    public var sourceId: String
    public var sourceType: String
    public var date: Date
    public var message: String
    public init(sourceId: String, sourceType: String, date: Date, message: String) {
        self.sourceId = sourceId
        self.sourceType = sourceType
        self.date = date
        self.message = message
    }
}

/// DescribeEvents for one source since a time; both services page with Marker and share the shape.
func describeEvents(_ client: AWSClient, _ service: AWSService, sourceId: String, sourceType: String, since: Date,
                    item: String = "Event") async throws -> [ServiceEvent] {
    let f = ISO8601DateFormatter()
    var out: [ServiceEvent] = []
    var marker: String?
    var pages = 0
    repeat {
        var p: [(String, String)] = [("SourceIdentifier", sourceId), ("SourceType", sourceType), ("StartTime", f.string(from: since))]
        if let m = marker { p.append(("Marker", m)) }
        let x = try await client.send(.query(service, "DescribeEvents", p)).xml
        for e in x?.list("Events", item: item) ?? [] {
            guard let d = e.string("Date").flatMap(AWSDate.parse) else { continue }
            out.append(ServiceEvent(sourceId: e.string("SourceIdentifier") ?? sourceId, sourceType: e.string("SourceType") ?? sourceType,
                                    date: d, message: e.string("Message") ?? ""))
        }
        marker = x?.string("Marker")
        pages += 1
    } while marker != nil && !(marker ?? "").isEmpty && pages < 100
    return out
}

public extension RDS {
    /// The instance's events since a time (RDS keeps 14 days).
    func events(instance id: String, since: Date) async throws -> [ServiceEvent] {
        try await describeEvents(client, .rds, sourceId: id, sourceType: "db-instance", since: since)
    }
}

public extension ElastiCache {
    /// The replication group's events since a time (ElastiCache keeps 14 days).
    func events(replicationGroup id: String, since: Date) async throws -> [ServiceEvent] {
        try await describeEvents(client, .elastiCache, sourceId: id, sourceType: "replication-group", since: since)
    }
}

public struct ReplicationGroupStatus: Codable, Sendable, Equatable {
    public var id: String
    public var status: String
    public var automaticFailover: String
    public var multiAZ: String
    public var primaryEndpoint: String?
}

public struct ElastiCache: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    public func replicationGroup(_ id: String) async throws -> ReplicationGroupStatus? {
        do {
            let r = try await client.send(.query(.elastiCache, "DescribeReplicationGroups", [("ReplicationGroupId", id)]))
            guard let g = r.xml?.list("ReplicationGroups", item: "ReplicationGroup").first else { return nil }
            let primary = g.list("NodeGroups", item: "NodeGroup").first?["PrimaryEndpoint"]?.string("Address")
            return ReplicationGroupStatus(id: id, status: g.string("Status") ?? "?", automaticFailover: g.string("AutomaticFailover") ?? "?",
                                          multiAZ: g.string("MultiAZ") ?? "?", primaryEndpoint: primary)
        } catch let e as AWSError where e.code == "ReplicationGroupNotFoundFault" {
            return nil
        }
    }
}

public struct SSM: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    /// The SSM agent's ping status for an instance ("Online", "ConnectionLost", ...), nil when not managed.
    public func pingStatus(_ instanceId: String) async throws -> String? {
        let r = try await client.send(.json(.ssm, "DescribeInstanceInformation",
                                            ["Filters": [["Key": "InstanceIds", "Values": [instanceId]]]]))
        let list = r.json["InstanceInformationList"] as? [[String: Any]] ?? []
        return list.first?["PingStatus"] as? String
    }
}

public extension EFS {
    func state(_ id: String) async throws -> String? {
        do { return try await fileSystems(id: id).first?.LifeCycleState } catch EFSError.fileSystemNotFound { return nil }
    }
}
