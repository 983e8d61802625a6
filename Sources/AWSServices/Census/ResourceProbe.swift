import AWSCore
import Foundation

/// Does a resource still exist? One describe/list call per CloudFormation type, asked of the
/// resource's own service: the census after a teardown trusts the services, not the stack record.
public struct ResourceProbe: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    /// The types this probe can check.
    public static let checkable: Set<String> = [
        "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup", "AWS::EC2::InternetGateway", "AWS::EC2::NatGateway",
        "AWS::EC2::EIP", "AWS::EC2::RouteTable", "AWS::EC2::Instance", "AWS::ECS::Cluster", "AWS::ECS::Service",
        "AWS::ECS::TaskDefinition", "AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::RDS::DBInstance", "AWS::RDS::DBSubnetGroup", "AWS::ElastiCache::ReplicationGroup", "AWS::ElastiCache::SubnetGroup",
        "AWS::EFS::FileSystem", "AWS::EFS::AccessPoint", "AWS::SecretsManager::Secret", "AWS::Logs::LogGroup", "AWS::S3::Bucket",
        "AWS::IAM::Role", "AWS::IAM::InstanceProfile", "AWS::ServiceDiscovery::PrivateDnsNamespace", "AWS::ServiceDiscovery::Service",
        "AWS::ApplicationAutoScaling::ScalableTarget", "AWS::KMS::Key",
    ]

    /// nil: this type cannot be checked here.
    public func exists(type: String, physicalId id: String) async throws -> Bool? {
        do {
            switch type {
            case "AWS::EC2::VPC": return try await ec2Count("DescribeVpcs", [("VpcId.1", id)], "vpcSet") > 0
            case "AWS::EC2::Subnet": return try await ec2Count("DescribeSubnets", [("SubnetId.1", id)], "subnetSet") > 0
            case "AWS::EC2::SecurityGroup": return try await ec2Count("DescribeSecurityGroups", [("GroupId.1", id)], "securityGroupInfo") > 0
            case "AWS::EC2::InternetGateway": return try await ec2Count("DescribeInternetGateways", [("InternetGatewayId.1", id)], "internetGatewaySet") > 0
            case "AWS::EC2::RouteTable": return try await ec2Count("DescribeRouteTables", [("RouteTableId.1", id)], "routeTableSet") > 0
            case "AWS::EC2::NatGateway":
                let r = try await client.send(.query(.ec2, "DescribeNatGateways", [("NatGatewayId.1", id)]))
                return (r.xml?.list("natGatewaySet", item: "item") ?? []).contains { !["deleted", "deleting", "failed"].contains($0.string("state") ?? "") }
            case "AWS::EC2::EIP":
                let key = id.hasPrefix("eipalloc-") ? "AllocationId.1" : "PublicIp.1"
                return try await ec2Count("DescribeAddresses", [(key, id)], "addressesSet") > 0
            case "AWS::EC2::Instance":
                let r = try await client.send(.query(.ec2, "DescribeInstances", [("InstanceId.1", id)]))
                let states = (r.xml?.list("reservationSet", item: "item") ?? []).flatMap { $0.list("instancesSet", item: "item") }
                    .compactMap { $0["instanceState"]?.string("name") }
                return states.contains { $0 != "terminated" }
            case "AWS::ECS::Cluster":
                let r = try await client.send(.json(.ecs, "DescribeClusters", ["clusters": [id]]))
                return ((r.json["clusters"] as? [[String: Any]]) ?? []).contains { ($0["status"] as? String) == "ACTIVE" }
            case "AWS::ECS::Service":
                // Physical id is the service ARN: arn:aws:ecs:region:acct:service/cluster/name
                let parts = id.split(separator: "/")
                guard parts.count >= 3 else { return nil }
                let r = try await client.send(.json(.ecs, "DescribeServices", ["cluster": String(parts[parts.count - 2]), "services": [id]]))
                return ((r.json["services"] as? [[String: Any]]) ?? []).contains { ($0["status"] as? String) == "ACTIVE" }
            case "AWS::ECS::TaskDefinition":
                let r = try await client.send(.json(.ecs, "DescribeTaskDefinition", ["taskDefinition": id]))
                return ((r.json["taskDefinition"] as? [String: Any])?["status"] as? String) == "ACTIVE"
            case "AWS::ElasticLoadBalancingV2::LoadBalancer":
                let r = try await client.send(.query(.elbv2, "DescribeLoadBalancers", [("LoadBalancerArns.member.1", id)]))
                return !(r.xml?.list("LoadBalancers").isEmpty ?? true)
            case "AWS::ElasticLoadBalancingV2::TargetGroup":
                let r = try await client.send(.query(.elbv2, "DescribeTargetGroups", [("TargetGroupArns.member.1", id)]))
                return !(r.xml?.list("TargetGroups").isEmpty ?? true)
            case "AWS::RDS::DBInstance":
                let r = try await client.send(.query(.rds, "DescribeDBInstances", [("DBInstanceIdentifier", id)]))
                return !(r.xml?.list("DBInstances", item: "DBInstance").isEmpty ?? true)
            case "AWS::RDS::DBSubnetGroup":
                let r = try await client.send(.query(.rds, "DescribeDBSubnetGroups", [("DBSubnetGroupName", id)]))
                return !(r.xml?.list("DBSubnetGroups", item: "DBSubnetGroup").isEmpty ?? true)
            case "AWS::ElastiCache::ReplicationGroup":
                let r = try await client.send(.query(.elastiCache, "DescribeReplicationGroups", [("ReplicationGroupId", id)]))
                return !(r.xml?.list("ReplicationGroups", item: "ReplicationGroup").isEmpty ?? true)
            case "AWS::ElastiCache::SubnetGroup":
                let r = try await client.send(.query(.elastiCache, "DescribeCacheSubnetGroups", [("CacheSubnetGroupName", id)]))
                return !(r.xml?.list("CacheSubnetGroups", item: "CacheSubnetGroup").isEmpty ?? true)
            case "AWS::EFS::FileSystem":
                let r = try await client.send(.rest(.efs, "DescribeFileSystems", method: "GET", path: "/2015-02-01/file-systems", query: [("FileSystemId", id)]))
                return !((r.json["FileSystems"] as? [Any]) ?? []).isEmpty
            case "AWS::EFS::AccessPoint":
                let r = try await client.send(.rest(.efs, "DescribeAccessPoints", method: "GET", path: "/2015-02-01/access-points", query: [("AccessPointId", id)]))
                return !((r.json["AccessPoints"] as? [Any]) ?? []).isEmpty
            case "AWS::SecretsManager::Secret":
                let r = try await client.send(.json(.secretsManager, "DescribeSecret", ["SecretId": id]))
                return r.json["DeletedDate"] == nil
            case "AWS::Logs::LogGroup":
                let r = try await client.send(.json(.logs, "DescribeLogGroups", ["logGroupNamePrefix": id]))
                return ((r.json["logGroups"] as? [[String: Any]]) ?? []).contains { ($0["logGroupName"] as? String) == id }
            case "AWS::S3::Bucket":
                _ = try await client.send(.rest(.s3, "HeadBucket", method: "HEAD", path: "/", bucket: id))
                return true
            case "AWS::IAM::Role":
                _ = try await client.send(.query(.iam, "GetRole", [("RoleName", id)]))
                return true
            case "AWS::IAM::InstanceProfile":
                _ = try await client.send(.query(.iam, "GetInstanceProfile", [("InstanceProfileName", id)]))
                return true
            case "AWS::ServiceDiscovery::PrivateDnsNamespace":
                _ = try await client.send(.json(.serviceDiscovery, "GetNamespace", ["Id": id]))
                return true
            case "AWS::ServiceDiscovery::Service":
                _ = try await client.send(.json(.serviceDiscovery, "GetService", ["Id": id]))
                return true
            case "AWS::ApplicationAutoScaling::ScalableTarget":
                // Ref is resource-id|scalable-dimension|namespace.
                let parts = id.split(separator: "|").map(String.init)
                guard parts.count == 3 else { return nil }
                let r = try await client.send(.json(.applicationAutoScaling, "DescribeScalableTargets",
                                                    ["ServiceNamespace": parts[2], "ResourceIds": [parts[0]]]))
                return !((r.json["ScalableTargets"] as? [Any]) ?? []).isEmpty
            case "AWS::KMS::Key":
                let r = try await client.send(.json(.kms, "DescribeKey", ["KeyId": id]))
                let state = (r.json["KeyMetadata"] as? [String: Any])?["KeyState"] as? String ?? ""
                return !["PendingDeletion", "PendingReplicaDeletion"].contains(state)
            default:
                return nil
            }
        } catch let e as AWSError where Self.notFoundCodes.contains(e.code) || e.status == 404 {
            return false
        }
    }

    /// The CloudFormation type and id of an ARN the tagging API returned, when the probe can check it.
    public static func typeAndId(arn: String) -> (String, String)? {
        let parts = arn.split(separator: ":", maxSplits: 5).map(String.init)
        guard parts.count == 6 else { return nil }
        let service = parts[2], resource = parts[5]
        func after(_ prefix: String) -> String? { resource.hasPrefix(prefix) ? String(resource.dropFirst(prefix.count)) : nil }
        switch service {
        case "ec2":
            let map = [("instance/", "AWS::EC2::Instance"), ("natgateway/", "AWS::EC2::NatGateway"), ("vpc/", "AWS::EC2::VPC"),
                       ("subnet/", "AWS::EC2::Subnet"), ("security-group/", "AWS::EC2::SecurityGroup"),
                       ("internet-gateway/", "AWS::EC2::InternetGateway"), ("route-table/", "AWS::EC2::RouteTable"),
                       ("elastic-ip/", "AWS::EC2::EIP")]
            for (prefix, type) in map { if let id = after(prefix) { return (type, id) } }
        case "ecs":
            if after("cluster/") != nil { return ("AWS::ECS::Cluster", arn) }
            if after("service/") != nil { return ("AWS::ECS::Service", arn) }
            if after("task-definition/") != nil { return ("AWS::ECS::TaskDefinition", arn) }
            // A task (tagged through its service) outlives nothing: stopped ones stay listed for a while at no
            // cost, and none can run without its cluster. So it is left behind exactly when its cluster is.
            if let rest = after("task/"), let cluster = rest.split(separator: "/").first, rest.contains("/") {
                return ("AWS::ECS::Cluster", parts[0...4].joined(separator: ":") + ":cluster/" + cluster)
            }
        case "kms": if let id = after("key/") { return ("AWS::KMS::Key", id) }
        case "elasticloadbalancing":
            if after("loadbalancer/") != nil { return ("AWS::ElasticLoadBalancingV2::LoadBalancer", arn) }
            if after("targetgroup/") != nil { return ("AWS::ElasticLoadBalancingV2::TargetGroup", arn) }
        case "rds": if let id = after("db:") { return ("AWS::RDS::DBInstance", id) }
        case "elasticfilesystem":
            if let id = after("file-system/") { return ("AWS::EFS::FileSystem", id) }
            if let id = after("access-point/") { return ("AWS::EFS::AccessPoint", id) }
        case "secretsmanager": return ("AWS::SecretsManager::Secret", arn)
        case "logs": if let name = after("log-group:") { return ("AWS::Logs::LogGroup", name.hasSuffix(":*") ? String(name.dropLast(2)) : name) }
        case "s3": return ("AWS::S3::Bucket", resource)
        case "elasticache": if let id = after("replicationgroup:") { return ("AWS::ElastiCache::ReplicationGroup", id) }
        default: break
        }
        return nil
    }

    static let notFoundCodes: Set<String> = [
        "InvalidVpcID.NotFound", "InvalidSubnetID.NotFound", "InvalidGroup.NotFound", "InvalidInternetGatewayID.NotFound",
        "InvalidRouteTableID.NotFound", "NatGatewayNotFound", "InvalidAllocationID.NotFound", "InvalidAddress.NotFound",
        "InvalidInstanceID.NotFound", "ClusterNotFoundException", "ServiceNotFoundException", "LoadBalancerNotFound",
        "TargetGroupNotFound", "DBInstanceNotFound", "DBInstanceNotFoundFault", "DBSubnetGroupNotFoundFault",
        "ReplicationGroupNotFoundFault", "CacheSubnetGroupNotFoundFault", "FileSystemNotFound", "AccessPointNotFound",
        "ResourceNotFoundException", "NoSuchBucket", "NotFound", "NoSuchEntity", "NamespaceNotFound", "ServiceNotFound",
        "ClientException", "InvalidParameterException", "NotFoundException",
    ]

    func ec2Count(_ action: String, _ params: [(String, String)], _ set: String) async throws -> Int {
        let r = try await client.send(.query(.ec2, action, params))
        return r.xml?.list(set, item: "item").count ?? 0
    }

    /// Every resource ARN still tagged `key=value` (Resource Groups Tagging API).
    public func tagged(key: String, value: String) async throws -> [String] {
        var out: [String] = []
        var token: String?
        repeat {
            var p: [String: Any] = ["TagFilters": [["Key": key, "Values": [value]]], "ResourcesPerPage": 100]
            if let t = token, !t.isEmpty { p["PaginationToken"] = t }
            let r = try await client.send(.json(.tagging, "GetResources", p))
            out += ((r.json["ResourceTagMappingList"] as? [[String: Any]]) ?? []).compactMap { $0["ResourceARN"] as? String }
            token = r.json["PaginationToken"] as? String
        } while !(token ?? "").isEmpty
        return out
    }
}
