import AWSCore
import Foundation

public struct ScalableTarget: Codable, Sendable {
    public var ServiceNamespace: String
    public var ResourceId: String
    public var ScalableDimension: String
    public var MinCapacity: Int
    public var MaxCapacity: Int
}

public struct ScalingPolicy: Codable, Sendable {
    public var PolicyName: String
    public var PolicyARN: String?
    public var ResourceId: String
    public var PolicyType: String?
}

public struct ScalingActivity: Codable, Sendable {
    public var ActivityId: String?
    public var ResourceId: String
    public var Description: String?
    public var Cause: String?
    public var StartTime: Date
    public var EndTime: Date?
    public var StatusCode: String?       // Pending, InProgress, Successful, Overridden, Unfulfilled, Failed
    public var StatusMessage: String?
}

/// Application Auto Scaling for ECS services (`service/<cluster>/<service>`, `ecs:service:DesiredCount`).
public struct ApplicationAutoScaling: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    public static let ecsDesiredCount = "ecs:service:DesiredCount"
    public static func ecsResourceId(cluster: String, service: String) -> String { "service/\(cluster)/\(service)" }

    /// Registers or updates (the call is an upsert) the service's min/max task count.
    public func registerECSService(cluster: String, service: String, min: Int, max: Int) async throws {
        _ = try await client.send(.json(.applicationAutoScaling, "RegisterScalableTarget", [
            "ServiceNamespace": "ecs", "ResourceId": Self.ecsResourceId(cluster: cluster, service: service),
            "ScalableDimension": Self.ecsDesiredCount, "MinCapacity": min, "MaxCapacity": max,
        ]))
    }

    /// A target-tracking policy on a predefined ECS metric (`ECSServiceAverageCPUUtilization`, ...Memory...).
    @discardableResult
    public func putTargetTracking(name: String, cluster: String, service: String, metric: String, target: Double,
                                  scaleInCooldown: Int = 300, scaleOutCooldown: Int = 60) async throws -> String {
        try await putTargetTracking(name: name, cluster: cluster, service: service, target: target, scaleInCooldown: scaleInCooldown,
                                    scaleOutCooldown: scaleOutCooldown,
                                    metric: ("PredefinedMetricSpecification", ["PredefinedMetricType": metric]))
    }

    /// A target-tracking policy on a CloudWatch metric the stack publishes (CustomizedMetricSpecification).
    @discardableResult
    public func putTargetTracking(name: String, cluster: String, service: String, namespace: String, metricName: String,
                                  dimensions: [(String, String)], statistic: String = "Average", target: Double,
                                  scaleInCooldown: Int = 300, scaleOutCooldown: Int = 60) async throws -> String {
        try await putTargetTracking(name: name, cluster: cluster, service: service, target: target, scaleInCooldown: scaleInCooldown,
                                    scaleOutCooldown: scaleOutCooldown, metric: ("CustomizedMetricSpecification", [
                                        "Namespace": namespace, "MetricName": metricName, "Statistic": statistic,
                                        "Dimensions": dimensions.map { ["Name": $0.0, "Value": $0.1] },
                                    ]))
    }

    /// PutScalingPolicy (an upsert by name) with the metric under its key.
    func putTargetTracking(name: String, cluster: String, service: String, target: Double, scaleInCooldown: Int, scaleOutCooldown: Int,
                           metric: (key: String, spec: [String: Any])) async throws -> String {
        struct R: Decodable { var PolicyARN: String? }
        let r = try await client.send(.json(.applicationAutoScaling, "PutScalingPolicy", [
            "PolicyName": name, "ServiceNamespace": "ecs", "ResourceId": Self.ecsResourceId(cluster: cluster, service: service),
            "ScalableDimension": Self.ecsDesiredCount, "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": [
                "TargetValue": target, metric.key: metric.spec,
                "ScaleInCooldown": scaleInCooldown, "ScaleOutCooldown": scaleOutCooldown,
            ] as [String: Any],
        ])).decode(R.self)
        return r.PolicyARN ?? ""
    }

    public func scalableTargets(cluster: String, service: String) async throws -> [ScalableTarget] {
        struct R: Decodable { var ScalableTargets: [ScalableTarget]? }
        return try await client.send(.json(.applicationAutoScaling, "DescribeScalableTargets", [
            "ServiceNamespace": "ecs", "ResourceIds": [Self.ecsResourceId(cluster: cluster, service: service)],
        ])).decode(R.self).ScalableTargets ?? []
    }

    public func scalingPolicies(cluster: String, service: String) async throws -> [ScalingPolicy] {
        struct R: Decodable { var ScalingPolicies: [ScalingPolicy]? }
        return try await client.send(.json(.applicationAutoScaling, "DescribeScalingPolicies", [
            "ServiceNamespace": "ecs", "ResourceId": Self.ecsResourceId(cluster: cluster, service: service),
        ])).decode(R.self).ScalingPolicies ?? []
    }

    /// Scaling activities of one ECS service, newest first (DescribeScalingActivities pages by NextToken).
    public func scalingActivities(cluster: String, service: String) -> Paginator<ScalingActivity> {
        let client = self.client
        let resource = Self.ecsResourceId(cluster: cluster, service: service)
        return Paginator { token in
            struct R: Decodable { var ScalingActivities: [ScalingActivity]?; var NextToken: String? }
            var p: [String: Any] = ["ServiceNamespace": "ecs", "ResourceId": resource, "ScalableDimension": Self.ecsDesiredCount]
            if let t = token { p["NextToken"] = t }
            let r = try await client.send(.json(.applicationAutoScaling, "DescribeScalingActivities", p)).decode(R.self)
            return (r.ScalingActivities ?? [], r.NextToken)
        }
    }
}
