import Foundation
import XCTest
import Yams
@testable import FairflowTemplate

/// Reads the rendered JSON back (as CloudFormation would) and checks what matters per mode.
struct Parsed {
    let root: [String: Any]
    var resources: [String: [String: Any]] { root["Resources"] as! [String: [String: Any]] }
    var outputs: [String: Any] { root["Outputs"] as? [String: Any] ?? [:] }

    init(_ o: TemplateOptions) throws {
        let text = try TemplateGenerator.render(o)
        root = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }
    func ofType(_ type: String) -> [(String, [String: Any])] {
        resources.filter { $0.value["Type"] as? String == type }.sorted { $0.key < $1.key }
    }
    func count(_ type: String) -> Int { ofType(type).count }
    func props(_ id: String) -> [String: Any] { resources[id]?["Properties"] as? [String: Any] ?? [:] }
    var typeCounts: [String: Int] { resources.values.reduce(into: [:]) { $0[$1["Type"] as! String, default: 0] += 1 } }
}

func refName(_ v: Any?) -> String? {
    if let d = v as? [String: Any] {
        if let r = d["Ref"] as? String { return r }
        if let g = d["Fn::GetAtt"] as? [Any] { return g.first as? String }
    }
    return nil
}

final class StructureTests: XCTestCase {
    func testResourceCountsByTypePerMode() throws {
        // Expected counts that differ between modes; everything else is checked as a common base.
        let common: [String: Int] = [
            "AWS::EC2::VPC": 1, "AWS::EC2::Subnet": 4, "AWS::EC2::RouteTable": 3, "AWS::EC2::Route": 3,
            "AWS::EC2::SubnetRouteTableAssociation": 4, "AWS::EC2::InternetGateway": 1, "AWS::EC2::VPCGatewayAttachment": 1,
            "AWS::EC2::EIP": 2, "AWS::EC2::NatGateway": 2, "AWS::ECS::Cluster": 1, "AWS::EFS::FileSystem": 1,
            "AWS::EFS::MountTarget": 2, "AWS::EFS::AccessPoint": 2, "AWS::RDS::DBSubnetGroup": 1, "AWS::RDS::DBInstance": 1,
            "AWS::SecretsManager::Secret": 2, "AWS::SecretsManager::SecretTargetAttachment": 1, "AWS::S3::Bucket": 1,
            "AWS::S3::BucketPolicy": 1, "AWS::ElasticLoadBalancingV2::LoadBalancer": 1, "AWS::ElasticLoadBalancingV2::Listener": 2,
            "AWS::ElasticLoadBalancingV2::TargetGroup": 2, "AWS::KMS::Key": 1, "AWS::ServiceDiscovery::PrivateDnsNamespace": 1,
            "AWS::EC2::Instance": 1, "AWS::IAM::InstanceProfile": 1, "AWS::IAM::Role": 7, "AWS::EC2::SecurityGroup": 7,
        ]
        struct Expect { let services, taskDefs, logGroups, discovery, cache, scaling, ingress: Int }
        let expected: [String: Expect] = [
            // A3 non-HA: api-server, scheduler, dag-processor, triggerer, worker, flower, dag-sync, redis.
            "default": Expect(services: 8, taskDefs: 10, logGroups: 9, discovery: 2, cache: 0, scaling: 0, ingress: 10),
            "ha": Expect(services: 7, taskDefs: 9, logGroups: 8, discovery: 1, cache: 1, scaling: 0, ingress: 10),
            "ha-autoscaling": Expect(services: 7, taskDefs: 9, logGroups: 8, discovery: 1, cache: 1, scaling: 1, ingress: 10),
            "autoscaling": Expect(services: 8, taskDefs: 10, logGroups: 9, discovery: 2, cache: 0, scaling: 1, ingress: 10),
            "allowlist": Expect(services: 8, taskDefs: 10, logGroups: 9, discovery: 2, cache: 0, scaling: 0, ingress: 10),
            "certificate": Expect(services: 8, taskDefs: 10, logGroups: 9, discovery: 2, cache: 0, scaling: 0, ingress: 10),
            // A2: webserver instead of api-server, no dag-processor, no execution-API rule, no api-server discovery.
            "airflow2": Expect(services: 7, taskDefs: 9, logGroups: 8, discovery: 1, cache: 0, scaling: 0, ingress: 9),
            "airflow2-ha-autoscaling": Expect(services: 6, taskDefs: 8, logGroups: 7, discovery: 0, cache: 1, scaling: 1, ingress: 9),
            "no-bastion": Expect(services: 8, taskDefs: 10, logGroups: 9, discovery: 2, cache: 0, scaling: 0, ingress: 8),
            "ssh-git": Expect(services: 8, taskDefs: 10, logGroups: 9, discovery: 2, cache: 0, scaling: 0, ingress: 10),
        ]
        for (mode, o) in Modes.all {
            let t = try Parsed(o)
            let e = try XCTUnwrap(expected[mode], mode)
            var want = common
            if !o.bastion {
                want["AWS::EC2::Instance"] = 0; want["AWS::IAM::InstanceProfile"] = 0
                want["AWS::IAM::Role"] = 6; want["AWS::EC2::SecurityGroup"] = 6
            }
            want["AWS::ECS::Service"] = e.services
            want["AWS::ECS::TaskDefinition"] = e.taskDefs
            want["AWS::Logs::LogGroup"] = e.logGroups
            want["AWS::ServiceDiscovery::Service"] = e.discovery
            want["AWS::ElastiCache::ReplicationGroup"] = e.cache
            want["AWS::ElastiCache::SubnetGroup"] = e.cache
            want["AWS::ApplicationAutoScaling::ScalableTarget"] = e.scaling
            want["AWS::ApplicationAutoScaling::ScalingPolicy"] = 3 * e.scaling  // CPU, memory, the queue
            want["AWS::EC2::SecurityGroupIngress"] = e.ingress
            let got = t.typeCounts
            for (type, n) in want { XCTAssertEqual(got[type] ?? 0, n, "\(mode): \(type)") }
            XCTAssertEqual(Set(got.keys).subtracting(want.keys), [], "\(mode): unexpected types")
            // Nothing the seed got wrong comes back.
            XCTAssertEqual(t.count("AWS::Lambda::Function"), 0)
            XCTAssertEqual(t.count("Custom::S3AutoDeleteObjects"), 0)
        }
    }

    func testDesiredCountsMultiAzAndFailover() throws {
        for (mode, o) in Modes.all {
            let t = try Parsed(o)
            let web = o.airflowMajor >= 3 ? "ApiServerService" : "WebserverService"
            for id in [web, "SchedulerService", "TriggererService", "WorkerService"] {
                XCTAssertEqual(t.props(id)["DesiredCount"] as? Int, o.ha ? 2 : 1, "\(mode) \(id)")
            }
            XCTAssertEqual(t.props("FlowerService")["DesiredCount"] as? Int, 1)
            XCTAssertEqual(t.props("Database")["MultiAZ"] as? Bool, o.ha, mode)
            XCTAssertEqual(t.props("Database")["EngineVersion"] as? String, "8.4.7")
            XCTAssertTrue((t.props("Database")["DBInstanceClass"] as? String ?? "").hasPrefix("db.t4g"))
            if o.ha {
                let rg = t.props("RedisReplicationGroup")
                XCTAssertEqual(rg["AutomaticFailoverEnabled"] as? Bool, true)
                XCTAssertEqual(rg["MultiAZEnabled"] as? Bool, true)
                XCTAssertEqual(rg["NumNodeGroups"] as? Int, 1, "cluster mode off")
                XCTAssertEqual(rg["ReplicasPerNodeGroup"] as? Int, 1)
                XCTAssertNil(t.resources["RedisService"])
                XCTAssertNil(t.props("RedisSubnetGroup")["CacheSubnetGroupName"], "no fixed name")
            } else {
                XCTAssertNotNil(t.resources["RedisService"])
                XCTAssertNotNil(t.resources["RedisDiscoveryService"])
            }
            if o.autoscaling {
                let st = t.props("WorkerScalableTarget")
                XCTAssertEqual(st["MinCapacity"] as? Int, 2); XCTAssertEqual(st["MaxCapacity"] as? Int, 4)
                // The queue policy (CustomizedMetricSpecification) is WorkerScalingTests'.
                let metrics = t.ofType("AWS::ApplicationAutoScaling::ScalingPolicy").compactMap {
                    (($0.1["Properties"] as? [String: Any])?["TargetTrackingScalingPolicyConfiguration"] as? [String: Any])
                        .flatMap { ($0["PredefinedMetricSpecification"] as? [String: Any])?["PredefinedMetricType"] as? String }
                }
                XCTAssertEqual(Set(metrics), ["ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"])
            }
        }
    }

    /// The ALB may not kill a task before its app could pass the health check, nor make every deploy wait
    /// out a 300 s deregistration delay.
    func testGracePeriodCoversStartupAndDeregistrationIsShort() throws {
        for (mode, o) in Modes.all {
            let t = try Parsed(o)
            var behindALB = 0
            for (id, r) in t.ofType("AWS::ECS::Service") {
                let p = r["Properties"] as! [String: Any]
                guard let lb = (p["LoadBalancers"] as? [[String: Any]])?.first else { continue }
                behindALB += 1
                let grace = try XCTUnwrap(p["HealthCheckGracePeriodSeconds"] as? Int, "\(mode) \(id)")
                let tg = t.props(refName(lb["TargetGroupArn"])!)
                let containers = t.props(refName(p["TaskDefinition"])!)["ContainerDefinitions"] as! [[String: Any]]
                let c = try XCTUnwrap(containers.first { $0["Name"] as? String == lb["ContainerName"] as? String }, "\(mode) \(id)")
                let start = (c["HealthCheck"] as? [String: Any])?["StartPeriod"] as? Int ?? 0
                let albToHealthy = (tg["HealthCheckIntervalSeconds"] as! Int) * (tg["HealthyThresholdCount"] as! Int)
                XCTAssertGreaterThanOrEqual(grace, start + albToHealthy, "\(mode) \(id): grace \(grace) s < start period \(start) s + ALB \(albToHealthy) s")
                XCTAssertLessThanOrEqual(grace, 600, "\(mode) \(id): a crash loop would hide behind the grace period")
            }
            XCTAssertEqual(behindALB, 2, "\(mode): the UI and Flower")
            for (id, r) in t.ofType("AWS::ElasticLoadBalancingV2::TargetGroup") {
                let attrs = ((r["Properties"] as! [String: Any])["TargetGroupAttributes"] as? [[String: String]]) ?? []
                let delay = attrs.first { $0["Key"] == "deregistration_delay.timeout_seconds" }?["Value"].flatMap(Int.init)
                XCTAssertNotNil(delay, "\(mode) \(id): the default is 300 s")
                XCTAssertLessThanOrEqual(delay ?? 300, 60, "\(mode) \(id)")
            }
        }
    }

    func testEveryServiceHasCircuitBreakerAndHealthChecks() throws {
        for (mode, o) in Modes.all {
            let t = try Parsed(o)
            for (id, r) in t.ofType("AWS::ECS::Service") {
                let p = r["Properties"] as! [String: Any]
                let cb = (p["DeploymentConfiguration"] as? [String: Any])?["DeploymentCircuitBreaker"] as? [String: Any]
                XCTAssertEqual(cb?["Enable"] as? Bool, true, "\(mode) \(id)")
                XCTAssertEqual(cb?["Rollback"] as? Bool, true, "\(mode) \(id)")
                let net = (p["NetworkConfiguration"] as? [String: Any])?["AwsvpcConfiguration"] as? [String: Any]
                XCTAssertEqual(net?["AssignPublicIp"] as? String, "DISABLED")
            }
            // Health checks on the scheduler, triggerer, workers (and the rest of the long-running Airflow processes).
            var names = ["SchedulerTaskDefinition", "TriggererTaskDefinition", "WorkerTaskDefinition", "FlowerTaskDefinition"]
            names.append(o.airflowMajor >= 3 ? "ApiServerTaskDefinition" : "WebserverTaskDefinition")
            if o.airflowMajor >= 3 { names.append("DagProcessorTaskDefinition") }
            for id in names {
                let containers = t.props(id)["ContainerDefinitions"] as! [[String: Any]]
                let main = containers.first { $0["Essential"] as? Bool == true }!
                XCTAssertNotNil(main["HealthCheck"], "\(mode) \(id)")
            }
            let sched = (t.props("SchedulerTaskDefinition")["ContainerDefinitions"] as! [[String: Any]]).last!
            let cmd = ((sched["HealthCheck"] as! [String: Any])["Command"] as! [String]).last!
            XCTAssertTrue(cmd.contains("airflow jobs check --job-type SchedulerJob"), cmd)
            // Health checks run outside the entrypoint: they must build the DB URI themselves.
            XCTAssertTrue(cmd.hasPrefix("export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="), cmd)
            let worker = (t.props("WorkerTaskDefinition")["ContainerDefinitions"] as! [[String: Any]]).last!
            let wcmd = ((worker["HealthCheck"] as! [String: Any])["Command"] as! [String]).last!
            XCTAssertTrue(wcmd.contains("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=") && wcmd.contains("inspect ping"), wcmd)
        }
    }

    func testAirflow3ComponentsAndAirflow2Layout() throws {
        let t3 = try Parsed(Modes.base())
        XCTAssertNotNil(t3.resources["ApiServerService"]); XCTAssertNotNil(t3.resources["DagProcessorService"])
        XCTAssertNotNil(t3.resources["TriggererService"]); XCTAssertNil(t3.resources["WebserverService"])
        XCTAssertEqual(t3.props("UiTargetGroup")["HealthCheckPath"] as? String, "/api/v2/monitor/health")
        let api = t3.props("ApiServerTaskDefinition")["ContainerDefinitions"] as! [[String: Any]]
        XCTAssertEqual(api.map { $0["Name"] as! String }, ["db-migrate", "api-server"])
        XCTAssertEqual(api[0]["Image"] as? String, "apache/airflow:\(AirflowVersions.default)")
        let env = Dictionary(uniqueKeysWithValues: (api[1]["Environment"] as! [[String: Any]]).map { ($0["Name"] as! String, $0["Value"]!) })
        let execURL = try XCTUnwrap((env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] as? [String: Any])?["Fn::Sub"] as? String)
        XCTAssertTrue(execURL.hasPrefix("http://api-server.") && execURL.hasSuffix(":8080/execution/"))
        XCTAssertNil(env["AIRFLOW__CORE__DAG_CONCURRENCY"], "renamed in 2.2")
        XCTAssertEqual(env["AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG"] as? String, "4")
        let secrets = (api[1]["Secrets"] as! [[String: Any]]).map { $0["Name"] as! String }
        XCTAssertTrue(secrets.contains("AIRFLOW__API__SECRET_KEY")); XCTAssertTrue(secrets.contains("AIRFLOW__API_AUTH__JWT_SECRET"))
        XCTAssertFalse(secrets.contains("AIRFLOW__CELERY__FLOWER_BASIC_AUTH"), "only flower gets the flower credentials")
        XCTAssertFalse(secrets.contains("_AIRFLOW_WWW_USER_PASSWORD"), "only the migration gets the admin password")

        var o2 = Modes.base(); o2.airflowVersion = "2"
        let t2 = try Parsed(o2)
        XCTAssertNotNil(t2.resources["WebserverService"]); XCTAssertNil(t2.resources["DagProcessorService"])
        XCTAssertEqual(t2.props("UiTargetGroup")["HealthCheckPath"] as? String, "/health")
        let web = t2.props("WebserverTaskDefinition")["ContainerDefinitions"] as! [[String: Any]]
        XCTAssertEqual(web[0]["Image"] as? String, "apache/airflow:2.11.2")
        XCTAssertTrue((web[1]["Secrets"] as! [[String: Any]]).contains { $0["Name"] as? String == "AIRFLOW__WEBSERVER__SECRET_KEY" })

        var custom = Modes.base(); custom.image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow:mine"
        let tc = try Parsed(custom)
        let worker = tc.props("WorkerTaskDefinition")["ContainerDefinitions"] as! [[String: Any]]
        XCTAssertEqual(worker.last?["Image"] as? String, custom.image)
    }

    func testMigrationGatesTheRollout() throws {
        for (mode, o) in Modes.all {
            let t = try Parsed(o)
            let id = o.airflowMajor >= 3 ? "ApiServerTaskDefinition" : "WebserverTaskDefinition"
            let cs = t.props(id)["ContainerDefinitions"] as! [[String: Any]]
            let migrate = cs[0]
            XCTAssertEqual(migrate["Essential"] as? Bool, false)
            let env = (migrate["Environment"] as! [[String: Any]]).map { $0["Name"] as! String }
            XCTAssertTrue(env.contains("_AIRFLOW_DB_MIGRATE"), mode)
            let deps = cs[1]["DependsOn"] as! [[String: Any]]
            XCTAssertEqual(deps.first?["ContainerName"] as? String, "db-migrate")
            XCTAssertEqual(deps.first?["Condition"] as? String, "SUCCESS")
            // No `|| true` anywhere: a failed migration must fail the task.
            XCTAssertFalse(try TemplateGenerator.render(o).contains("|| true"))
            // The other Airflow processes wait for the migrations before starting.
            let sched = t.props("SchedulerTaskDefinition")["ContainerDefinitions"] as! [[String: Any]]
            XCTAssertEqual((sched[0]["Command"] as! [String]).prefix(2), ["db", "check-migrations"])
            // ...and that wait needs the database credentials only, not the Fernet or secret key.
            let waitSecrets = Set((sched[0]["Secrets"] as! [[String: Any]]).map { $0["Name"] as! String })
            XCTAssertEqual(waitSecrets, ["DB_USER", "DB_PASSWORD"], mode)
        }
    }

    func testEfsAccessPointsAndVolumes() throws {
        let t = try Parsed(Modes.base())
        let dags = t.props("DagsAccessPoint")
        XCTAssertEqual((dags["PosixUser"] as? [String: Any])?["Uid"] as? String, "50000")
        XCTAssertEqual((dags["PosixUser"] as? [String: Any])?["Gid"] as? String, "0")
        XCTAssertEqual((dags["RootDirectory"] as? [String: Any])?["Path"] as? String, "/fairflow")
        XCTAssertEqual((t.props("ExternalAccessPoint")["RootDirectory"] as? [String: Any])?["Path"] as? String, "/fairflow-external")
        let text = try TemplateGenerator.render(Modes.base())
        XCTAssertFalse(text.contains("EfsVolumeConfiguration"))
        for (id, r) in t.ofType("AWS::ECS::TaskDefinition") {
            for v in ((r["Properties"] as! [String: Any])["Volumes"] as? [[String: Any]] ?? []) {
                let cfg = try XCTUnwrap(v["EFSVolumeConfiguration"] as? [String: Any], id)
                XCTAssertEqual(cfg["TransitEncryption"] as? String, "ENABLED")
                XCTAssertEqual((cfg["AuthorizationConfig"] as? [String: Any])?["IAM"] as? String, "ENABLED")
            }
        }
        // git-sync writes the repository into the DAGs access point.
        let sync = (t.props("DagSyncTaskDefinition")["ContainerDefinitions"] as! [[String: Any]])[0]
        let env = Dictionary(uniqueKeysWithValues: (sync["Environment"] as! [[String: Any]]).map { ($0["Name"] as! String, $0["Value"] as! String) })
        XCTAssertEqual(env["GITSYNC_REPO"], TemplateOptions.defaultDagRepository)
        XCTAssertEqual(env["GITSYNC_ROOT"], "/shared-dags")
    }

    /// Only the ALB reaches 8080/5555; only the tasks (and the bastion) reach 3306/6379/2049.
    func testSecurityGroupRules() throws {
        for (mode, o) in Modes.all {
            let t = try Parsed(o)
            var sources: [Int: Set<String>] = [:]
            var groups: [Int: Set<String>] = [:]
            for (_, r) in t.ofType("AWS::EC2::SecurityGroupIngress") {
                let p = r["Properties"] as! [String: Any]
                let port = p["FromPort"] as! Int
                XCTAssertEqual(p["ToPort"] as? Int, port)
                XCTAssertNil(p["CidrIp"], "\(mode): SG-to-SG rules only")
                sources[port, default: []].insert(refName(p["SourceSecurityGroupId"])!)
                groups[port, default: []].insert(refName(p["GroupId"])!)
            }
            XCTAssertEqual(sources[5555], ["AlbSecurityGroup"], mode)
            XCTAssertEqual(sources[8080], o.airflowMajor >= 3 ? ["AlbSecurityGroup", "TasksSecurityGroup"] : ["AlbSecurityGroup"], mode)
            XCTAssertEqual(sources[3306], o.bastion ? ["TasksSecurityGroup", "BastionSecurityGroup"] : ["TasksSecurityGroup"], mode)
            XCTAssertEqual(sources[6379], ["TasksSecurityGroup"], mode)
            XCTAssertEqual(sources[2049], o.bastion ? ["TasksSecurityGroup", "ExternalTasksSecurityGroup", "BastionSecurityGroup"]
                                                    : ["TasksSecurityGroup", "ExternalTasksSecurityGroup"], mode)
            XCTAssertEqual(groups[3306], ["DatabaseSecurityGroup"]); XCTAssertEqual(groups[6379], ["RedisSecurityGroup"])
            XCTAssertEqual(groups[2049], ["EfsSecurityGroup"])
            // Inline rules: only the ALB has CIDR ingress (and the bastion's optional SSH).
            for (id, r) in t.ofType("AWS::EC2::SecurityGroup") {
                let ingress = (r["Properties"] as! [String: Any])["SecurityGroupIngress"] as? [[String: Any]] ?? []
                switch id {
                case "AlbSecurityGroup":
                    let want = o.certificateArn == nil ? 80 : 443
                    let cidrs = Set(ingress.map { $0["CidrIp"] as! String })
                    XCTAssertEqual(Set(ingress.map { $0["FromPort"] as! Int }), [want, 5555], mode)
                    XCTAssertEqual(cidrs, o.ipWhitelist.isEmpty ? ["0.0.0.0/0"] : ["203.0.113.10/32", "198.51.100.0/24"], mode)
                case "BastionSecurityGroup":
                    XCTAssertEqual(ingress.map { $0["CidrIp"] as! String }, o.sshIngressCidr.map { ["\($0)/32"] } ?? [], mode)
                    XCTAssertEqual(ingress.map { $0["FromPort"] as! Int }, o.sshIngressCidr == nil ? [] : [22])
                default:
                    XCTAssertTrue(ingress.isEmpty, "\(mode) \(id)")
                }
            }
        }
    }

    func testListenersHttpOrHttps() throws {
        let plain = try Parsed(Modes.base())
        XCTAssertEqual(plain.props("UiListener")["Port"] as? Int, 80)
        XCTAssertEqual(plain.props("UiListener")["Protocol"] as? String, "HTTP")
        var o = Modes.base(); o.certificateArn = Modes.certificate
        let tls = try Parsed(o)
        for id in ["UiListener", "FlowerListener"] {
            XCTAssertEqual(tls.props(id)["Protocol"] as? String, "HTTPS")
            XCTAssertEqual((tls.props(id)["Certificates"] as? [[String: Any]])?.first?["CertificateArn"] as? String, Modes.certificate)
        }
        XCTAssertEqual(tls.props("UiListener")["Port"] as? Int, 443)
        XCTAssertTrue(((tls.outputs["AirflowUrl"] as? [String: Any])?["Value"] as? [String: Any])?["Fn::Sub"].map { "\($0)".hasPrefix("https://") } ?? false)
    }

    func testStackTagOnEverythingTaggableAndNoFixedNames() throws {
        let tagKeyFor: [String: String] = ["AWS::EFS::FileSystem": "FileSystemTags", "AWS::EFS::AccessPoint": "AccessPointTags"]
        let untaggable: Set<String> = [
            "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::Route", "AWS::EC2::SubnetRouteTableAssociation",
            "AWS::EC2::SecurityGroupIngress", "AWS::EFS::MountTarget", "AWS::SecretsManager::SecretTargetAttachment",
            "AWS::S3::BucketPolicy", "AWS::ElasticLoadBalancingV2::Listener", "AWS::IAM::InstanceProfile",
            "AWS::ApplicationAutoScaling::ScalableTarget", "AWS::ApplicationAutoScaling::ScalingPolicy",
        ]
        // Properties that would pin a physical name (and collide between two stacks in a region).
        let fixedNames = ["BucketName", "ClusterName", "ServiceName", "LogGroupName", "DBInstanceIdentifier", "CacheSubnetGroupName",
                          "DBSubnetGroupName", "RoleName", "GroupName", "Name", "ReplicationGroupId", "FileSystemName"]
        for (mode, o) in Modes.all {
            let t = try Parsed(o)
            for (id, r) in t.resources {
                let type = r["Type"] as! String
                let p = r["Properties"] as? [String: Any] ?? [:]
                if !untaggable.contains(type) {
                    let tags = p[tagKeyFor[type] ?? "Tags"] as? [[String: Any]] ?? []
                    let stack = tags.first { $0["Key"] as? String == "Stack" }
                    XCTAssertEqual(refName(stack?["Value"]), "AWS::StackName", "\(mode): \(id) (\(type)) lacks Stack tag")
                }
                for key in fixedNames {
                    guard let v = p[key] else { continue }
                    if refName(v) != nil { continue } // a reference to a generated name
                    if type == "AWS::ServiceDiscovery::Service" { continue } // a name inside the stack's own namespace
                    // Allowed only when it embeds the stack name.
                    let s = ((v as? [String: Any])?["Fn::Sub"] as? String) ?? ""
                    XCTAssertTrue(s.contains("${AWS::StackName}"), "\(mode): \(id).\(key) is a fixed name")
                }
            }
        }
    }

    func testEveryOutputPresent() throws {
        for (mode, o) in Modes.all {
            let t = try Parsed(o)
            XCTAssertEqual(Set(t.outputs.keys), Set(StackOutputs.names(for: o)), mode)
            XCTAssertEqual(t.outputs.count, StackOutputs.names(for: o).count)
            for name in [StackOutputs.airflowUrl, StackOutputs.mySqlEndpoint, StackOutputs.dbSecretArn, StackOutputs.efsFileSystemId,
                         StackOutputs.dagsAccessPointId, StackOutputs.externalAccessPointId, StackOutputs.clusterName,
                         StackOutputs.logsBucketName, StackOutputs.serviceName(.worker), StackOutputs.logGroup(.scheduler)] {
                XCTAssertNotNil(t.outputs[name], "\(mode): \(name)")
            }
            XCTAssertEqual(t.outputs[StackOutputs.bastionInstanceId] != nil, o.bastion)
            // Every Ref / GetAtt in the template points at a resource or parameter that exists.
            let known = Set(t.resources.keys).union((t.root["Parameters"] as? [String: Any])?.keys ?? [:].keys)
            var missing: [String] = []
            func walk(_ v: Any) {
                if let d = v as? [String: Any] {
                    if let r = d["Ref"] as? String, !r.hasPrefix("AWS::"), !known.contains(r) { missing.append(r) }
                    if let g = d["Fn::GetAtt"] as? [Any], let r = g.first as? String, !known.contains(r) { missing.append(r) }
                    d.values.forEach(walk)
                } else if let a = v as? [Any] { a.forEach(walk) }
            }
            walk(t.root)
            XCTAssertEqual(missing, [], mode)
        }
    }

    func testLeastPrivilegeIam() throws {
        let t = try Parsed(Modes.base())
        var statements: [(String, [String: Any])] = []
        for (id, r) in t.ofType("AWS::IAM::Role") {
            for pol in ((r["Properties"] as! [String: Any])["Policies"] as? [[String: Any]] ?? []) {
                for s in (pol["PolicyDocument"] as! [String: Any])["Statement"] as! [[String: Any]] { statements.append((id, s)) }
            }
        }
        XCTAssertFalse(statements.isEmpty)
        for (role, s) in statements {
            let actions = (s["Action"] as? [String]) ?? [s["Action"] as! String]
            XCTAssertFalse(actions.contains { $0.hasSuffix(":*") || $0 == "*" }, "\(role): wildcard action \(actions)")
            if (s["Resource"] as? String) == "*" {
                // Only actions that have no resource-level permissions may use "*".
                XCTAssertTrue(Set(actions).isSubset(of: ["ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition"]), "\(role): \(actions) on *")
            }
        }
        let text = try TemplateGenerator.render(Modes.base())
        XCTAssertFalse(text.contains("secret:airflow-*"), "no wildcard over every airflow-* secret")
        XCTAssertFalse(text.contains("ssmmessages:*"))
    }

    func testDeterministicOutput() throws {
        for (_, var o) in Modes.all {
            for f in TemplateOptions.Format.allCases {
                o.format = f
                let a = try TemplateGenerator.render(o)
                let b = try TemplateGenerator.render(o)
                XCTAssertEqual(a, b)
            }
        }
        // Different modes differ.
        var ha = Modes.base(); ha.ha = true
        XCTAssertNotEqual(try TemplateGenerator.render(Modes.base()), try TemplateGenerator.render(ha))
    }

    func testYamlMatchesJson() throws {
        for (mode, var o) in Modes.all {
            o.format = .json
            let json = try JSONSerialization.jsonObject(with: Data(TemplateGenerator.render(o).utf8))
            o.format = .yaml
            let yaml = try XCTUnwrap(try Yams.load(yaml: TemplateGenerator.render(o)))
            // Round-trip both through JSONSerialization to compare as plain values.
            let a = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
            let b = try JSONSerialization.data(withJSONObject: yaml, options: [.sortedKeys])
            XCTAssertEqual(String(decoding: a, as: UTF8.self), String(decoding: b, as: UTF8.self), mode)
        }
    }

    func testSecretsNeverInlined() throws {
        // Only ARNs reach the template; values are injected by ECS from Secrets Manager.
        let t = try Parsed(Modes.base())
        for (id, r) in t.ofType("AWS::ECS::TaskDefinition") {
            for c in (r["Properties"] as! [String: Any])["ContainerDefinitions"] as! [[String: Any]] {
                let env = (c["Environment"] as? [[String: Any]] ?? []).map { $0["Name"] as! String }
                for bad in ["AIRFLOW__CORE__FERNET_KEY", "DB_PASSWORD", "_AIRFLOW_WWW_USER_PASSWORD", "AIRFLOW__CELERY__FLOWER_BASIC_AUTH"] {
                    XCTAssertFalse(env.contains(bad), "\(id): \(bad) in plain environment")
                }
            }
        }
    }
}
