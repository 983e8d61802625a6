import Foundation

/// Writes the whole fairflow stack as one CloudFormation template. Pure: no I/O, no clock,
/// no randomness; the same options give the same bytes.
public enum TemplateGenerator {
    public static let supportedAirflowVersions = AirflowVersions.supported
    public static let defaultAirflowVersion = AirflowVersions.default

    /// Validates the options and renders the template as pretty JSON or YAML.
    public static func render(_ o: TemplateOptions) throws -> String {
        let t = try template(o)
        return o.format == .json ? Render.json(t) : Render.yaml(t)
    }

    /// The template as ordered data (for tests and for callers that inspect it).
    public static func template(_ o: TemplateOptions) throws -> Node {
        try o.validate()
        return StackBuilder(o).build()
    }
}

// Images other than Airflow's, pinned. ECR Public mirrors Docker Hub's official images without its pull limits.
enum Images {
    static let redis = "public.ecr.aws/docker/library/redis:7.2-alpine"
    static let gitSync = "registry.k8s.io/git-sync/git-sync:v4.4.2"
    static let externalTask = "public.ecr.aws/docker/library/python:3.12-slim"
}

/// Sizes and fixed values, in one place.
enum Sizing {
    static let mysqlVersion = "8.4.7"
    static let dbInstanceClass = "db.t4g.small"
    static let cacheNodeType = "cache.t4g.micro"
    static let redisEngineVersion = "7.1"
    static let bastionInstanceType = "t3.nano"
    static let logRetentionDays = 30
    static let dagsPath = "/shared-dags"
    static let dagsFolder = "/shared-dags/repo"
    static let externalPath = "/shared-volume"
    static let migrationWaitSeconds = 900
}

final class StackBuilder {
    let o: TemplateOptions
    let a3: Bool
    var resources: [(String, Node)] = []
    var components: [Component]

    init(_ o: TemplateOptions) {
        self.o = o
        self.a3 = o.airflowMajor >= 3
        self.components = Component.services(airflowMajor: o.airflowMajor, ha: o.ha)
    }

    var web: Component { a3 ? .apiServer : .webserver }
    var https: Bool { o.certificateArn != nil }

    // MARK: helpers

    var stackTag: Node { ["Key": "Stack", "Value": CFN.ref("AWS::StackName")] }
    func tags(_ name: String? = nil) -> Node {
        var t: [Node] = [stackTag]
        if let name { t.append(["Key": "Name", "Value": CFN.sub("${AWS::StackName}-\(name)")]) }
        return .array(t)
    }

    func add(_ id: String, _ type: String, _ props: [(String, Node)], dependsOn: [String] = [],
             deletion: String? = nil, condition: String? = nil) {
        var r: [(String, Node)] = [("Type", .string(type))]
        if let condition { r.append(("Condition", .string(condition))) }
        if !dependsOn.isEmpty { r.append(("DependsOn", .array(dependsOn.map { .string($0) }))) }
        if let deletion {
            r.append(("DeletionPolicy", .string(deletion)))
            r.append(("UpdateReplacePolicy", .string(deletion)))
        }
        r.append(("Properties", .object(props)))
        resources.append((id, .object(r)))
    }

    func arn(_ service: String, _ rest: String) -> Node {
        CFN.sub("arn:${AWS::Partition}:\(service):${AWS::Region}:${AWS::AccountId}:\(rest)")
    }
    var efsArn: Node { arn("elasticfilesystem", "file-system/${FileSystem}") }
    func accessPointArn(_ id: String) -> Node { arn("elasticfilesystem", "access-point/${\(id)}") }
    func logGroupArn(_ id: String) -> Node { CFN.getAtt(id, "Arn") }
    func logGroupId(_ c: Component) -> String { "\(c.rawValue)LogGroup" }
    var namespaceName: Node { CFN.sub("${AWS::StackName}.fairflow.internal") }
    var redisHost: Node {
        o.ha ? CFN.getAtt("RedisReplicationGroup", "PrimaryEndPoint.Address")
             : CFN.sub("redis.${AWS::StackName}.fairflow.internal")
    }
    var brokerUrl: Node {
        // ElastiCache encrypts in transit (rediss); the Fargate Redis is private to the tasks SG.
        o.ha ? CFN.sub("rediss://${RedisReplicationGroup.PrimaryEndPoint.Address}:6379/0?ssl_cert_reqs=required")
             : CFN.sub("redis://redis.${AWS::StackName}.fairflow.internal:6379/0")
    }

    // MARK: build

    func build() -> Node {
        kms()
        network()
        securityGroups()
        logsBucket()
        efs()
        database()
        redis()
        cluster()
        logGroups()
        roles()
        taskDefinitionsAndServices()
        loadBalancer()
        autoscaling()
        bastion()

        var top: [(String, Node)] = [
            ("AWSTemplateFormatVersion", "2010-09-09"),
            ("Description", .string("fairflow: Airflow \(o.resolvedAirflowVersion) on ECS Fargate (\(o.ha ? "HA" : "not HA")\(o.autoscaling ? ", worker autoscaling" : ""))")),
        ]
        if o.bastion {
            top.append(("Parameters", [
                "BastionAmi": [
                    "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                    "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
                    "Description": "Amazon Linux 2023 AMI for the bastion (SSM Session Manager).",
                ],
            ]))
        }
        top.append(("Resources", .object(resources)))
        top.append(("Outputs", .object(outputs())))
        return .object(top)
    }

    // MARK: KMS

    func kms() {
        add("StackKey", "AWS::KMS::Key", [
            ("Description", CFN.sub("fairflow ${AWS::StackName}: log groups and the generated secrets")),
            ("EnableKeyRotation", true),
            ("KeyPolicy", [
                "Version": "2012-10-17",
                "Statement": [
                    [
                        "Sid": "AccountAdministers",
                        "Effect": "Allow",
                        "Principal": ["AWS": CFN.sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")],
                        "Action": "kms:*",
                        "Resource": "*",
                    ],
                    [
                        "Sid": "CloudWatchLogsEncrypt",
                        "Effect": "Allow",
                        "Principal": ["Service": CFN.sub("logs.${AWS::Region}.amazonaws.com")],
                        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                        "Resource": "*",
                        "Condition": ["ArnLike": ["kms:EncryptionContext:aws:logs:arn":
                            CFN.sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*")]],
                    ],
                ],
            ]),
            ("Tags", tags("key")),
        ], deletion: "Retain")
    }

    // MARK: network

    func network() {
        add("Vpc", "AWS::EC2::VPC", [
            ("CidrBlock", "10.0.0.0/16"), ("EnableDnsHostnames", true), ("EnableDnsSupport", true), ("Tags", tags("vpc")),
        ])
        add("InternetGateway", "AWS::EC2::InternetGateway", [("Tags", tags("igw"))])
        add("VpcGatewayAttachment", "AWS::EC2::VPCGatewayAttachment", [
            ("VpcId", CFN.ref("Vpc")), ("InternetGatewayId", CFN.ref("InternetGateway")),
        ])
        let cidrs = ["10.0.0.0/18", "10.0.64.0/18", "10.0.128.0/18", "10.0.192.0/18"]
        for i in 1...2 {
            add("PublicSubnet\(i)", "AWS::EC2::Subnet", [
                ("VpcId", CFN.ref("Vpc")), ("CidrBlock", .string(cidrs[i - 1])), ("AvailabilityZone", CFN.az(i - 1)),
                ("MapPublicIpOnLaunch", false), ("Tags", tags("public-\(i)")),
            ])
        }
        for i in 1...2 {
            add("PrivateSubnet\(i)", "AWS::EC2::Subnet", [
                ("VpcId", CFN.ref("Vpc")), ("CidrBlock", .string(cidrs[i + 1])), ("AvailabilityZone", CFN.az(i - 1)),
                ("Tags", tags("private-\(i)")),
            ])
        }
        add("PublicRouteTable", "AWS::EC2::RouteTable", [("VpcId", CFN.ref("Vpc")), ("Tags", tags("public"))])
        add("PublicDefaultRoute", "AWS::EC2::Route", [
            ("RouteTableId", CFN.ref("PublicRouteTable")), ("DestinationCidrBlock", "0.0.0.0/0"),
            ("GatewayId", CFN.ref("InternetGateway")),
        ], dependsOn: ["VpcGatewayAttachment"])
        for i in 1...2 {
            add("PublicSubnet\(i)RouteTableAssociation", "AWS::EC2::SubnetRouteTableAssociation", [
                ("SubnetId", CFN.ref("PublicSubnet\(i)")), ("RouteTableId", CFN.ref("PublicRouteTable")),
            ])
        }
        for i in 1...2 {
            add("NatEip\(i)", "AWS::EC2::EIP", [("Domain", "vpc"), ("Tags", tags("nat-\(i)"))],
                dependsOn: ["VpcGatewayAttachment"])
            add("NatGateway\(i)", "AWS::EC2::NatGateway", [
                ("AllocationId", CFN.getAtt("NatEip\(i)", "AllocationId")), ("SubnetId", CFN.ref("PublicSubnet\(i)")),
                ("Tags", tags("nat-\(i)")),
            ])
            add("PrivateRouteTable\(i)", "AWS::EC2::RouteTable", [("VpcId", CFN.ref("Vpc")), ("Tags", tags("private-\(i)"))])
            add("PrivateDefaultRoute\(i)", "AWS::EC2::Route", [
                ("RouteTableId", CFN.ref("PrivateRouteTable\(i)")), ("DestinationCidrBlock", "0.0.0.0/0"),
                ("NatGatewayId", CFN.ref("NatGateway\(i)")),
            ])
            add("PrivateSubnet\(i)RouteTableAssociation", "AWS::EC2::SubnetRouteTableAssociation", [
                ("SubnetId", CFN.ref("PrivateSubnet\(i)")), ("RouteTableId", CFN.ref("PrivateRouteTable\(i)")),
            ])
        }
    }

    var privateSubnets: Node { [CFN.ref("PrivateSubnet1"), CFN.ref("PrivateSubnet2")] }

    // MARK: security groups

    /// The ALB's listener ports: HTTP 80 (or HTTPS 443 with a certificate) for the UI, 5555 for Flower.
    var uiPort: Int { https ? 443 : 80 }

    func securityGroups() {
        let sources: [String] = o.ipWhitelist.isEmpty ? ["0.0.0.0/0"] : o.ipWhitelist.compactMap(IPv4.cidr)
        var albIngress: [Node] = []
        for cidr in sources {
            for port in [uiPort, 5555] {
                albIngress.append([
                    "IpProtocol": "tcp", "FromPort": .int(port), "ToPort": .int(port), "CidrIp": .string(cidr),
                    "Description": .string(o.ipWhitelist.isEmpty ? "Airflow \(port == 5555 ? "Flower" : "UI") from anywhere" : "IP allow-list"),
                ])
            }
        }
        add("AlbSecurityGroup", "AWS::EC2::SecurityGroup", [
            ("GroupDescription", "fairflow load balancer"),
            ("VpcId", CFN.ref("Vpc")),
            ("SecurityGroupIngress", .array(albIngress)),
            ("SecurityGroupEgress", [
                ["IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "DestinationSecurityGroupId": CFN.getAtt("TasksSecurityGroup", "GroupId"), "Description": "to the Airflow UI"],
                ["IpProtocol": "tcp", "FromPort": 5555, "ToPort": 5555, "DestinationSecurityGroupId": CFN.getAtt("TasksSecurityGroup", "GroupId"), "Description": "to Flower"],
            ]),
            ("Tags", tags("alb")),
        ])
        let groups: [(String, String)] = [
            ("TasksSecurityGroup", "fairflow Airflow tasks"),
            ("ExternalTasksSecurityGroup", "fairflow on-demand external tasks"),
            ("DatabaseSecurityGroup", "fairflow MySQL"),
            ("RedisSecurityGroup", "fairflow Redis broker"),
            ("EfsSecurityGroup", "fairflow EFS mount targets"),
        ] + (o.bastion ? [("BastionSecurityGroup", "fairflow bastion")] : [])
        for (id, desc) in groups {
            var props: [(String, Node)] = [("GroupDescription", .string(desc)), ("VpcId", CFN.ref("Vpc"))]
            if id == "BastionSecurityGroup", let ssh = o.sshIngressCidr.flatMap(IPv4.cidr) {
                props.append(("SecurityGroupIngress", [[
                    "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": .string(ssh), "Description": "SSH (--ssh-ingress-cidr)",
                ]]))
            }
            props.append(("Tags", tags(String(id.dropLast("SecurityGroup".count)).lowercased())))
            add(id, "AWS::EC2::SecurityGroup", props)
        }
        // Only the ALB reaches 8080/5555; only the tasks (and the bastion) reach 3306/6379/2049.
        var rules: [(String, String, Int, String)] = [
            ("TasksIngressFromAlbUi", "TasksSecurityGroup", 8080, "AlbSecurityGroup"),
            ("TasksIngressFromAlbFlower", "TasksSecurityGroup", 5555, "AlbSecurityGroup"),
            ("TasksIngressLogServer", "TasksSecurityGroup", 8793, "TasksSecurityGroup"),
        ]
        if a3 { rules.append(("TasksIngressExecutionApi", "TasksSecurityGroup", 8080, "TasksSecurityGroup")) }
        rules += [
            ("DatabaseIngressFromTasks", "DatabaseSecurityGroup", 3306, "TasksSecurityGroup"),
            ("RedisIngressFromTasks", "RedisSecurityGroup", 6379, "TasksSecurityGroup"),
            ("EfsIngressFromTasks", "EfsSecurityGroup", 2049, "TasksSecurityGroup"),
            ("EfsIngressFromExternalTasks", "EfsSecurityGroup", 2049, "ExternalTasksSecurityGroup"),
        ]
        if o.bastion {
            rules += [
                ("DatabaseIngressFromBastion", "DatabaseSecurityGroup", 3306, "BastionSecurityGroup"),
                ("EfsIngressFromBastion", "EfsSecurityGroup", 2049, "BastionSecurityGroup"),
            ]
        }
        let what: [Int: String] = [8080: "Airflow UI / API", 5555: "Flower", 8793: "worker log server", 3306: "MySQL", 6379: "Redis", 2049: "NFS"]
        for (id, group, port, source) in rules {
            add(id, "AWS::EC2::SecurityGroupIngress", [
                ("GroupId", CFN.getAtt(group, "GroupId")), ("IpProtocol", "tcp"), ("FromPort", .int(port)), ("ToPort", .int(port)),
                ("SourceSecurityGroupId", CFN.getAtt(source, "GroupId")),
                ("Description", .string("\(what[port] ?? "") from \(source.dropLast("SecurityGroup".count))")),
            ])
        }
    }

    // MARK: S3

    func logsBucket() {
        // No auto-delete Lambda: `fairflow teardown` empties the bucket (all versions) itself.
        add("LogsBucket", "AWS::S3::Bucket", [
            ("BucketEncryption", ["ServerSideEncryptionConfiguration": [["ServerSideEncryptionByDefault": ["SSEAlgorithm": "AES256"], "BucketKeyEnabled": true]]]),
            ("VersioningConfiguration", ["Status": "Enabled"]),
            ("PublicAccessBlockConfiguration", ["BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true]),
            ("OwnershipControls", ["Rules": [["ObjectOwnership": "BucketOwnerEnforced"]]]),
            ("LifecycleConfiguration", ["Rules": [[
                "Id": "ExpireOldVersions", "Status": "Enabled",
                "NoncurrentVersionExpiration": ["NoncurrentDays": 30],
                "AbortIncompleteMultipartUpload": ["DaysAfterInitiation": 7],
            ]]]),
            ("Tags", tags()),
        ], deletion: "Delete")
        add("LogsBucketPolicy", "AWS::S3::BucketPolicy", [
            ("Bucket", CFN.ref("LogsBucket")),
            ("PolicyDocument", ["Version": "2012-10-17", "Statement": [[
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [CFN.getAtt("LogsBucket", "Arn"), CFN.sub("${LogsBucket.Arn}/*")],
                "Condition": ["Bool": ["aws:SecureTransport": "false"]],
            ]]]),
        ])
    }

    // MARK: EFS

    func efs() {
        add("FileSystem", "AWS::EFS::FileSystem", [
            ("Encrypted", true),
            ("BackupPolicy", ["Status": "ENABLED"]),
            ("FileSystemTags", tags("efs")),
        ], deletion: "Delete")
        for i in 1...2 {
            add("MountTarget\(i)", "AWS::EFS::MountTarget", [
                ("FileSystemId", CFN.ref("FileSystem")), ("SubnetId", CFN.ref("PrivateSubnet\(i)")),
                ("SecurityGroups", [CFN.getAtt("EfsSecurityGroup", "GroupId")]),
            ])
        }
        add("DagsAccessPoint", "AWS::EFS::AccessPoint", [
            ("FileSystemId", CFN.ref("FileSystem")),
            ("PosixUser", ["Uid": "50000", "Gid": "0"]),
            ("RootDirectory", ["Path": "/fairflow", "CreationInfo": ["OwnerUid": "50000", "OwnerGid": "0", "Permissions": "755"]]),
            ("AccessPointTags", tags("dags")),
        ])
        add("ExternalAccessPoint", "AWS::EFS::AccessPoint", [
            ("FileSystemId", CFN.ref("FileSystem")),
            ("PosixUser", ["Uid": "0", "Gid": "0"]),
            ("RootDirectory", ["Path": "/fairflow-external", "CreationInfo": ["OwnerUid": "0", "OwnerGid": "0", "Permissions": "755"]]),
            ("AccessPointTags", tags("external")),
        ])
    }

    // MARK: RDS

    func database() {
        add("DbSecret", "AWS::SecretsManager::Secret", [
            ("Description", CFN.sub("fairflow ${AWS::StackName}: MySQL credentials")),
            ("KmsKeyId", CFN.ref("StackKey")),
            ("GenerateSecretString", [
                "SecretStringTemplate": "{\"username\": \"airflow\"}", "GenerateStringKey": "password",
                "PasswordLength": 32, "ExcludePunctuation": true,
            ]),
            ("Tags", tags()),
        ])
        add("DbSubnetGroup", "AWS::RDS::DBSubnetGroup", [
            ("DBSubnetGroupDescription", CFN.sub("fairflow ${AWS::StackName} private subnets")),
            ("SubnetIds", privateSubnets), ("Tags", tags()),
        ])
        add("DbMonitoringRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", trust("monitoring.rds.amazonaws.com")),
            ("ManagedPolicyArns", [CFN.sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")]),
            ("Tags", tags()),
        ])
        add("Database", "AWS::RDS::DBInstance", [
            ("Engine", "mysql"), ("EngineVersion", .string(Sizing.mysqlVersion)),
            ("DBInstanceClass", .string(Sizing.dbInstanceClass)),
            ("DBName", "airflow"), ("Port", "3306"),
            ("AllocatedStorage", "20"), ("MaxAllocatedStorage", 100), ("StorageType", "gp3"), ("StorageEncrypted", true),
            ("MultiAZ", .bool(o.ha)),
            ("MasterUsername", CFN.sub("{{resolve:secretsmanager:${DbSecret}:SecretString:username}}")),
            ("MasterUserPassword", CFN.sub("{{resolve:secretsmanager:${DbSecret}:SecretString:password}}")),
            ("DBSubnetGroupName", CFN.ref("DbSubnetGroup")),
            ("VPCSecurityGroups", [CFN.getAtt("DatabaseSecurityGroup", "GroupId")]),
            ("BackupRetentionPeriod", 7), ("DeleteAutomatedBackups", true), ("CopyTagsToSnapshot", true),
            ("AutoMinorVersionUpgrade", true), ("PubliclyAccessible", false), ("DeletionProtection", false),
            ("EnableIAMDatabaseAuthentication", true),
            ("MonitoringInterval", 60), ("MonitoringRoleArn", CFN.getAtt("DbMonitoringRole", "Arn")),
            ("EnableCloudwatchLogsExports", ["error", "slowquery"]),
            ("Tags", tags("mysql")),
        ], deletion: "Snapshot")
        add("DbSecretAttachment", "AWS::SecretsManager::SecretTargetAttachment", [
            ("SecretId", CFN.ref("DbSecret")), ("TargetId", CFN.ref("Database")), ("TargetType", "AWS::RDS::DBInstance"),
        ])
        // One key for the UI/API session and JWT signing, shared by every Airflow process.
        add("AirflowSecretKey", "AWS::SecretsManager::Secret", [
            ("Description", CFN.sub("fairflow ${AWS::StackName}: Airflow webserver/api-server secret key")),
            ("KmsKeyId", CFN.ref("StackKey")),
            ("GenerateSecretString", ["PasswordLength": 64, "ExcludePunctuation": true]),
            ("Tags", tags()),
        ])
    }

    // MARK: Redis and service discovery

    func redis() {
        add("ServiceDiscoveryNamespace", "AWS::ServiceDiscovery::PrivateDnsNamespace", [
            ("Name", namespaceName), ("Vpc", CFN.ref("Vpc")),
            ("Description", "fairflow service discovery (Redis, api-server)"), ("Tags", tags()),
        ])
        if a3 { discoveryService("ApiServerDiscoveryService", name: "api-server") }
        if o.ha {
            add("RedisSubnetGroup", "AWS::ElastiCache::SubnetGroup", [
                ("Description", CFN.sub("fairflow ${AWS::StackName} Redis subnets")), ("SubnetIds", privateSubnets), ("Tags", tags()),
            ])
            // Cluster mode off (one node group), as Celery needs; a replica in the other AZ with failover.
            add("RedisReplicationGroup", "AWS::ElastiCache::ReplicationGroup", [
                ("ReplicationGroupDescription", CFN.sub("fairflow ${AWS::StackName} Celery broker")),
                ("Engine", "redis"), ("EngineVersion", .string(Sizing.redisEngineVersion)),
                ("CacheNodeType", .string(Sizing.cacheNodeType)),
                ("NumNodeGroups", 1), ("ReplicasPerNodeGroup", 1),
                ("AutomaticFailoverEnabled", true), ("MultiAZEnabled", true), ("AutoMinorVersionUpgrade", true),
                ("AtRestEncryptionEnabled", true), ("TransitEncryptionEnabled", true),
                ("Port", 6379), ("CacheSubnetGroupName", CFN.ref("RedisSubnetGroup")),
                ("SecurityGroupIds", [CFN.getAtt("RedisSecurityGroup", "GroupId")]),
                ("SnapshotRetentionLimit", 1),
                ("Tags", tags("redis")),
            ])
        } else {
            discoveryService("RedisDiscoveryService", name: "redis")
        }
    }

    func discoveryService(_ id: String, name: String) {
        add(id, "AWS::ServiceDiscovery::Service", [
            ("Name", .string(name)),
            ("NamespaceId", CFN.getAtt("ServiceDiscoveryNamespace", "Id")),
            ("DnsConfig", ["DnsRecords": [["Type": "A", "TTL": 10]], "RoutingPolicy": "MULTIVALUE"]),
            ("HealthCheckCustomConfig", ["FailureThreshold": 1]),
            ("Tags", tags()),
        ])
    }

    // MARK: ECS cluster and logs

    func cluster() {
        add("Cluster", "AWS::ECS::Cluster", [
            ("ClusterSettings", [["Name": "containerInsights", "Value": "enabled"]]),
            ("Tags", tags()),
        ])
    }

    func logGroups() {
        for c in components { logGroup(logGroupId(c)) }
        logGroup("ExternalTaskLogGroup")
    }

    func logGroup(_ id: String) {
        add(id, "AWS::Logs::LogGroup", [
            ("RetentionInDays", .int(Sizing.logRetentionDays)),
            ("KmsKeyId", CFN.getAtt("StackKey", "Arn")),
            ("Tags", tags()),
        ], deletion: "Retain")
    }

    // MARK: IAM

    func trust(_ service: String) -> Node {
        ["Version": "2012-10-17", "Statement": [[
            "Effect": "Allow", "Principal": ["Service": .string(service)], "Action": "sts:AssumeRole",
        ]]]
    }

    func ecsTrust() -> Node {
        ["Version": "2012-10-17", "Statement": [[
            "Effect": "Allow", "Principal": ["Service": "ecs-tasks.amazonaws.com"], "Action": "sts:AssumeRole",
            "Condition": ["ArnLike": ["aws:SourceArn": arn("ecs", "*")], "StringEquals": ["aws:SourceAccount": CFN.ref("AWS::AccountId")]],
        ]]]
    }

    func policy(_ name: String, _ statements: [Node]) -> Node {
        ["PolicyName": .string(name), "PolicyDocument": ["Version": "2012-10-17", "Statement": .array(statements)]]
    }

    var userSecretArns: [Node] {
        var arns: [Node] = [.string(o.fernetKeySecretArn), .string(o.adminPasswordSecretArn), .string(o.flowerCredentialsSecretArn)]
        if let git = o.gitReadOnlySecretArn { arns.append(.string(git)) }
        return arns
    }

    func efsStatement(_ accessPoint: String) -> Node {
        [
            "Sid": "MountThroughAccessPoint", "Effect": "Allow",
            "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            "Resource": efsArn,
            "Condition": ["StringEquals": ["elasticfilesystem:AccessPointArn": accessPointArn(accessPoint)]],
        ]
    }

    func roles() {
        // Used by the ECS agent only: pull images, write the component log groups, read the injected secrets.
        add("ExecutionRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", ecsTrust()),
            ("Policies", [policy("execution", [
                ["Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": .array(components.map { CFN.sub("${\(logGroupId($0)).Arn}:*") })],
                ["Sid": "InjectedSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                 "Resource": .array(userSecretArns + [CFN.ref("DbSecret"), CFN.ref("AirflowSecretKey")])],
                ["Sid": "DecryptGeneratedSecrets", "Effect": "Allow", "Action": "kms:Decrypt",
                 "Resource": CFN.getAtt("StackKey", "Arn"),
                 "Condition": ["StringEquals": ["kms:ViaService": CFN.sub("secretsmanager.${AWS::Region}.amazonaws.com")]]],
            ])]),
            ("Tags", tags()),
        ])
        // What Airflow itself does: S3 task logs, EFS through its access point, and the ECS operator.
        add("AirflowTaskRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", ecsTrust()),
            ("Policies", [policy("airflow", [
                efsStatement("DagsAccessPoint"),
                ["Sid": "TaskLogsObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                 "Resource": CFN.sub("${LogsBucket.Arn}/*")],
                ["Sid": "TaskLogsList", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": CFN.getAtt("LogsBucket", "Arn")],
                ["Sid": "RunExternalTasks", "Effect": "Allow", "Action": "ecs:RunTask",
                 "Resource": [arn("ecs", "task-definition/BigGuys-${AWS::StackName}:*"), arn("ecs", "task-definition/LittleGuys-${AWS::StackName}:*")],
                 "Condition": ["ArnEquals": ["ecs:cluster": CFN.getAtt("Cluster", "Arn")]]],
                ["Sid": "WatchExternalTasks", "Effect": "Allow", "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
                 "Resource": arn("ecs", "task/${Cluster}/*")],
                ["Sid": "DescribeTaskDefinitions", "Effect": "Allow", "Action": "ecs:DescribeTaskDefinition", "Resource": "*"],
                ["Sid": "PassExternalTaskRoles", "Effect": "Allow", "Action": "iam:PassRole",
                 "Resource": [CFN.getAtt("ExternalExecutionRole", "Arn"), CFN.getAtt("ExternalTaskRole", "Arn")],
                 "Condition": ["StringEquals": ["iam:PassedToService": "ecs-tasks.amazonaws.com"]]],
                ["Sid": "ReadExternalTaskLogs", "Effect": "Allow", "Action": ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams"],
                 "Resource": CFN.sub("${ExternalTaskLogGroup.Arn}:*")],
            ])]),
            ("Tags", tags()),
        ])
        add("DagSyncTaskRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", ecsTrust()),
            ("Policies", [policy("dag-sync", [efsStatement("DagsAccessPoint")])]),
            ("Tags", tags()),
        ])
        add("ExternalExecutionRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", ecsTrust()),
            ("Policies", [policy("external-execution", [
                ["Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": CFN.sub("${ExternalTaskLogGroup.Arn}:*")],
                ["Sid": "PullPrivateImages", "Effect": "Allow",
                 "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
                 "Resource": arn("ecr", "repository/*")],
                ["Sid": "EcrToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"],
            ])]),
            ("Tags", tags()),
        ])
        add("ExternalTaskRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", ecsTrust()),
            ("Policies", [policy("external", [efsStatement("ExternalAccessPoint")])]),
            ("Tags", tags()),
        ])
    }

    // MARK: task definitions and services

    func logConfig(_ group: String, prefix: String) -> Node {
        ["LogDriver": "awslogs", "Options": [
            "awslogs-group": CFN.ref(group), "awslogs-region": CFN.ref("AWS::Region"), "awslogs-stream-prefix": .string(prefix),
        ]]
    }

    func keyValues(_ pairs: [(String, Node)]) -> Node {
        .array(pairs.map { ["Name": .string($0.0), "Value": $0.1] })
    }

    /// The seed's environment, under the names current Airflow reads.
    var airflowEnvironment: [(String, Node)] {
        var env: [(String, Node)] = [
            ("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor"),
            ("AIRFLOW__DATABASE__SQL_ENGINE_COLLATION_FOR_IDS", "utf8mb3_bin"),
            ("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "true"),
            ("AIRFLOW__CORE__PARALLELISM", "16"),
            ("AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG", "4"),
            ("AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG", "1"),
            ("AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS", "false"),
            ("AIRFLOW__CORE__DAGS_FOLDER", .string(Sizing.dagsFolder)),
            ("AIRFLOW__CORE__LOAD_EXAMPLES", "true"),
            ("AIRFLOW__CELERY__BROKER_URL", brokerUrl),
            ("AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT", "1800"),
            ("AIRFLOW__CELERY__WORKER_CONCURRENCY", "4"),
            ("AIRFLOW__LOGGING__REMOTE_LOGGING", "true"),
            ("AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER", CFN.sub("s3://${LogsBucket}/logs")),
            ("AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID", "aws_default"),
            ("AIRFLOW__LOGGING__ENCRYPT_S3_LOGS", "false"),
            ("AIRFLOW__SCHEDULER__CATCHUP_BY_DEFAULT", "false"),
        ]
        if a3 {
            env += [
                ("AIRFLOW__CORE__AUTH_MANAGER", "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"),
                ("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", CFN.sub("http://api-server.${AWS::StackName}.fairflow.internal:8080/execution/")),
            ]
        } else {
            env += [
                ("AIRFLOW__API__AUTH_BACKENDS", "airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session"),
                ("AIRFLOW__WEBSERVER__DAG_DEFAULT_VIEW", "graph"),
            ]
        }
        env += [
            ("AIRFLOW_CONN_AWS_DEFAULT", "aws://"),
            ("AWS_DEFAULT_REGION", CFN.ref("AWS::Region")),
            ("DAG_REPOSITORY", .string(o.dagRepository)),
            ("RDS_SECRET_ARN", CFN.ref("DbSecret")),
            ("DB_HOST", CFN.getAtt("Database", "Endpoint.Address")),
            ("DB_PORT", CFN.getAtt("Database", "Endpoint.Port")),
            ("DB_NAME", "airflow"),
            ("REDIS_HOST", redisHost),
            ("CLUSTER", CFN.ref("Cluster")),
            ("SECURITY_GROUP", CFN.getAtt("ExternalTasksSecurityGroup", "GroupId")),
            ("SUBNETS", CFN.join(",", [CFN.ref("PrivateSubnet1"), CFN.ref("PrivateSubnet2")])),
        ]
        return env
    }

    var airflowSecrets: [(String, Node)] {
        var s: [(String, Node)] = [
            ("AIRFLOW__CORE__FERNET_KEY", .string(o.fernetKeySecretArn)),
            ("DB_USER", CFN.sub("${DbSecret}:username::")),
            ("DB_PASSWORD", CFN.sub("${DbSecret}:password::")),
        ]
        if a3 {
            s += [("AIRFLOW__API__SECRET_KEY", CFN.ref("AirflowSecretKey")), ("AIRFLOW__API_AUTH__JWT_SECRET", CFN.ref("AirflowSecretKey"))]
        } else {
            s += [("AIRFLOW__WEBSERVER__SECRET_KEY", CFN.ref("AirflowSecretKey"))]
        }
        return s
    }

    /// Builds the DB URIs from the injected credentials (the password stays out of the template).
    static let databaseExports = """
        export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="mysql+mysqldb://${DB_USER}:${DB_PASSWORD}@${DB_HOST}:${DB_PORT}/${DB_NAME}"; \
        export AIRFLOW__CELERY__RESULT_BACKEND="db+${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN}";
        """
    /// Then hands over to the official image's entrypoint.
    static let entrypointScript = databaseExports + "\nexec /entrypoint \"$@\""

    /// Health checks run outside the entrypoint, so commands that read Airflow's config get the same exports.
    static func withDatabase(_ command: String) -> String { databaseExports + " " + command }

    func airflowContainer(_ name: String, command: [String], logGroup: String, port: Int? = nil,
                          health: String? = nil, essential: Bool = true, waitFor: String? = nil,
                          extraEnv: [(String, Node)] = [], extraSecrets: [(String, Node)] = [],
                          databaseOnly: Bool = false) -> Node {
        var c: [(String, Node)] = [
            ("Name", .string(name)),
            ("Image", .string(o.airflowImage)),
            ("Essential", .bool(essential)),
            ("EntryPoint", .array(["/usr/bin/dumb-init", "--", "/bin/bash", "-c", .string(Self.entrypointScript), "fairflow-entrypoint"])),
            ("Command", .array(command.map { .string($0) })),
        ]
        if let port { c.append(("PortMappings", [["ContainerPort": .int(port), "Protocol": "tcp"]])) }
        // A container that only talks to the database gets only the database's settings and credentials.
        let dbKeys: Set<String> = ["AIRFLOW__DATABASE__SQL_ENGINE_COLLATION_FOR_IDS", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"]
        let env = databaseOnly ? airflowEnvironment.filter { dbKeys.contains($0.0) } : airflowEnvironment
        let secrets = databaseOnly ? airflowSecrets.filter { dbKeys.contains($0.0) } : airflowSecrets
        c.append(("Environment", keyValues(env + extraEnv)))
        c.append(("Secrets", .array((secrets + extraSecrets).map { ["Name": .string($0.0), "ValueFrom": $0.1] })))
        if !databaseOnly {
            c.append(("MountPoints", [["SourceVolume": "dags", "ContainerPath": .string(Sizing.dagsPath), "ReadOnly": false]]))
        }
        if let health {
            c.append(("HealthCheck", [
                "Command": ["CMD-SHELL", .string(health)], "Interval": 30, "Timeout": 20, "Retries": 5, "StartPeriod": 180,
            ]))
        }
        if let waitFor { c.append(("DependsOn", [["ContainerName": .string(waitFor), "Condition": "SUCCESS"]])) }
        c.append(("LogConfiguration", logConfig(logGroup, prefix: name)))
        return .object(c)
    }

    func efsVolume(_ name: String, accessPoint: String) -> Node {
        ["Name": .string(name), "EFSVolumeConfiguration": [
            "FilesystemId": CFN.ref("FileSystem"), "TransitEncryption": "ENABLED",
            "AuthorizationConfig": ["AccessPointId": CFN.ref(accessPoint), "IAM": "ENABLED"],
        ]]
    }

    func taskDefinition(_ id: String, family: Node? = nil, cpu: Int, memory: Int, taskRole: String?, executionRole: String,
                        containers: [Node], volumes: [Node]) {
        var p: [(String, Node)] = []
        if let family { p.append(("Family", family)) }
        p += [
            ("RequiresCompatibilities", ["FARGATE"]), ("NetworkMode", "awsvpc"),
            ("Cpu", .string(String(cpu))), ("Memory", .string(String(memory))),
            ("RuntimePlatform", ["OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64"]),
            ("ExecutionRoleArn", CFN.getAtt(executionRole, "Arn")),
        ]
        if let taskRole { p.append(("TaskRoleArn", CFN.getAtt(taskRole, "Arn"))) }
        p.append(("ContainerDefinitions", .array(containers)))
        if !volumes.isEmpty { p.append(("Volumes", .array(volumes))) }
        p.append(("Tags", tags()))
        add(id, "AWS::ECS::TaskDefinition", p)
    }

    func desiredCount(_ c: Component) -> Int {
        switch c {
        case .flower, .dagSync, .redis: return 1
        default: return o.ha ? 2 : 1
        }
    }

    func service(_ c: Component, taskDefinition: String, loadBalancer: (String, String, Int)? = nil,
                 registry: String? = nil, dependsOn: [String]) {
        var p: [(String, Node)] = [
            ("Cluster", CFN.ref("Cluster")),
            ("TaskDefinition", CFN.ref(taskDefinition)),
            ("LaunchType", "FARGATE"), ("PlatformVersion", "LATEST"),
            ("DesiredCount", .int(desiredCount(c))),
            ("DeploymentConfiguration", [
                "DeploymentCircuitBreaker": ["Enable": true, "Rollback": true],
                "MaximumPercent": 200, "MinimumHealthyPercent": c == .redis || c == .dagSync ? 0 : 100,
            ]),
            ("NetworkConfiguration", ["AwsvpcConfiguration": [
                "AssignPublicIp": "DISABLED",
                "SecurityGroups": [CFN.getAtt(c == .redis ? "RedisSecurityGroup" : "TasksSecurityGroup", "GroupId")],
                "Subnets": privateSubnets,
            ]]),
        ]
        if let (tg, container, port) = loadBalancer {
            p.append(("LoadBalancers", [["TargetGroupArn": CFN.ref(tg), "ContainerName": .string(container), "ContainerPort": .int(port)]]))
            p.append(("HealthCheckGracePeriodSeconds", 300))
        }
        if let registry { p.append(("ServiceRegistries", [["RegistryArn": CFN.getAtt(registry, "Arn")]])) }
        p += [("EnableECSManagedTags", true), ("PropagateTags", "SERVICE"), ("Tags", tags(c.rawValue.lowercased()))]
        add("\(c.rawValue)Service", "AWS::ECS::Service", p, dependsOn: dependsOn)
    }

    func taskDefinitionsAndServices() {
        let dagsVolume = efsVolume("dags", accessPoint: "DagsAccessPoint")
        let network = ["PrivateDefaultRoute1", "PrivateDefaultRoute2"]
        let mounts = ["MountTarget1", "MountTarget2"]
        let wait = "wait-for-migrations"
        func waitContainer(_ c: Component) -> Node {
            airflowContainer(wait, command: ["db", "check-migrations", "--migration-wait-timeout", .init(Sizing.migrationWaitSeconds)],
                             logGroup: logGroupId(c), essential: false, databaseOnly: true)
        }
        for c in components {
            let td = "\(c.rawValue)TaskDefinition"
            let lg = logGroupId(c)
            switch c {
            case .apiServer, .webserver:
                // The migration gates the rollout: the UI container starts only if `airflow db migrate`
                // exited 0, and a failed task trips the circuit breaker, which rolls the deployment back.
                let migrate = airflowContainer("db-migrate", command: ["version"], logGroup: lg, essential: false,
                    extraEnv: [("_AIRFLOW_DB_MIGRATE", "true"), ("_AIRFLOW_WWW_USER_CREATE", "true"),
                               ("_AIRFLOW_WWW_USER_USERNAME", "admin"), ("_AIRFLOW_WWW_USER_FIRSTNAME", "Airflow"),
                               ("_AIRFLOW_WWW_USER_LASTNAME", "Admin"), ("_AIRFLOW_WWW_USER_EMAIL", "admin@example.com"),
                               ("_AIRFLOW_WWW_USER_ROLE", "Admin")],
                    extraSecrets: [("_AIRFLOW_WWW_USER_PASSWORD", .string(o.adminPasswordSecretArn))])
                let name = a3 ? "api-server" : "webserver"
                let health = a3 ? "curl --fail --silent http://localhost:8080/api/v2/monitor/health" : "curl --fail --silent http://localhost:8080/health"
                let main = airflowContainer(name, command: [name], logGroup: lg, port: 8080, health: health, waitFor: "db-migrate")
                taskDefinition(td, cpu: 1024, memory: 2048, taskRole: "AirflowTaskRole", executionRole: "ExecutionRole",
                               containers: [migrate, main], volumes: [dagsVolume])
                service(c, taskDefinition: td, loadBalancer: ("UiTargetGroup", name, 8080),
                        registry: a3 ? "ApiServerDiscoveryService" : nil, dependsOn: ["UiListener"] + mounts + network)
            case .scheduler, .triggerer, .dagProcessor:
                let (name, job): (String, String) = c == .scheduler ? ("scheduler", "SchedulerJob")
                    : c == .triggerer ? ("triggerer", "TriggererJob") : ("dag-processor", "DagProcessorJob")
                let main = airflowContainer(name, command: [name], logGroup: lg,
                    health: Self.withDatabase("airflow jobs check --job-type \(job) --local"), waitFor: wait)
                taskDefinition(td, cpu: c == .scheduler ? 1024 : 512, memory: c == .scheduler ? 2048 : 1024,
                               taskRole: "AirflowTaskRole", executionRole: "ExecutionRole",
                               containers: [waitContainer(c), main], volumes: [dagsVolume])
                service(c, taskDefinition: td, dependsOn: mounts + network)
            case .worker:
                let main = airflowContainer("worker", command: ["celery", "worker"], logGroup: lg, port: 8793,
                    health: Self.withDatabase("celery --app airflow.providers.celery.executors.celery_executor.app inspect ping -d \"celery@$(hostname)\""),
                    waitFor: wait)
                taskDefinition(td, cpu: 1024, memory: 8192, taskRole: "AirflowTaskRole", executionRole: "ExecutionRole",
                               containers: [waitContainer(c), main], volumes: [dagsVolume])
                service(c, taskDefinition: td, dependsOn: mounts + network)
            case .flower:
                let main = airflowContainer("flower", command: ["celery", "flower"], logGroup: lg, port: 5555,
                    health: "curl --fail --silent http://localhost:5555/healthcheck",
                    extraSecrets: [("AIRFLOW__CELERY__FLOWER_BASIC_AUTH", .string(o.flowerCredentialsSecretArn))])
                taskDefinition(td, cpu: 512, memory: 1024, taskRole: "AirflowTaskRole", executionRole: "ExecutionRole",
                               containers: [main], volumes: [dagsVolume])
                service(c, taskDefinition: td, loadBalancer: ("FlowerTargetGroup", "flower", 5555), dependsOn: ["FlowerListener"] + mounts + network)
            case .dagSync:
                taskDefinition(td, cpu: 256, memory: 512, taskRole: "DagSyncTaskRole", executionRole: "ExecutionRole",
                               containers: [gitSyncContainer(lg)], volumes: [dagsVolume])
                service(c, taskDefinition: td, dependsOn: mounts + network)
            case .redis:
                let main: Node = [
                    "Name": "redis", "Image": .string(Images.redis), "Essential": true,
                    "Command": ["redis-server", "--save", "", "--appendonly", "no"],
                    "PortMappings": [["ContainerPort": 6379, "Protocol": "tcp"]],
                    "ReadonlyRootFilesystem": true,
                    "HealthCheck": ["Command": ["CMD", "redis-cli", "ping"], "Interval": 10, "Timeout": 5, "Retries": 5, "StartPeriod": 30],
                    "LogConfiguration": logConfig(lg, prefix: "redis"),
                ]
                taskDefinition(td, cpu: 256, memory: 512, taskRole: nil, executionRole: "ExecutionRole", containers: [main], volumes: [])
                service(c, taskDefinition: td, registry: "RedisDiscoveryService", dependsOn: network)
            }
        }
        externalTasks()
    }

    func gitSyncContainer(_ logGroup: String) -> Node {
        var env: [(String, Node)] = [
            ("GITSYNC_REPO", .string(o.dagRepository)), ("GITSYNC_REF", "HEAD"), ("GITSYNC_ROOT", .string(Sizing.dagsPath)),
            ("GITSYNC_LINK", "repo"), ("GITSYNC_PERIOD", "60s"), ("GITSYNC_DEPTH", "1"),
        ]
        var c: [(String, Node)] = [("Name", "git-sync"), ("Image", .string(Images.gitSync)), ("Essential", true)]
        var secrets: [Node] = []
        if let key = o.gitReadOnlySecretArn {
            // git-sync reads the deploy key from a file; Fargate injects it as an env var, so write it first.
            env += [("GITSYNC_SSH_KEY_FILE", "/tmp/git-ssh-key"), ("GITSYNC_SSH_KNOWN_HOSTS", "false")]
            c.append(("EntryPoint", ["/bin/sh", "-c", "umask 077 && printf '%s\\n' \"$GIT_SSH_PRIVATE_KEY\" > /tmp/git-ssh-key && unset GIT_SSH_PRIVATE_KEY && exec /git-sync"]))
            secrets.append(["Name": "GIT_SSH_PRIVATE_KEY", "ValueFrom": .string(key)])
        }
        c.append(("Environment", keyValues(env)))
        if !secrets.isEmpty { c.append(("Secrets", .array(secrets))) }
        c += [
            ("MountPoints", [["SourceVolume": "dags", "ContainerPath": .string(Sizing.dagsPath), "ReadOnly": false]]),
            ("LogConfiguration", logConfig(logGroup, prefix: "git-sync")),
        ]
        return .object(c)
    }

    func externalTasks() {
        let volume = efsVolume("fairflow-external", accessPoint: "ExternalAccessPoint")
        for (id, family, container, cpu, mem) in [("BigTaskDefinition", "BigGuys", "BigTaskContainer", 1024, 2048),
                                                  ("LittleTaskDefinition", "LittleGuys", "LittleTaskContainer", 256, 512)] {
            let c: Node = [
                "Name": .string(container), "Image": .string(Images.externalTask), "Essential": true,
                "MountPoints": [["SourceVolume": "fairflow-external", "ContainerPath": .string(Sizing.externalPath), "ReadOnly": false]],
                "LogConfiguration": logConfig("ExternalTaskLogGroup", prefix: "FairflowExternalTask"),
            ]
            taskDefinition(id, family: CFN.sub("\(family)-${AWS::StackName}"), cpu: cpu, memory: mem, taskRole: "ExternalTaskRole",
                           executionRole: "ExternalExecutionRole", containers: [c], volumes: [volume])
        }
    }

    // MARK: ALB

    func loadBalancer() {
        add("LoadBalancer", "AWS::ElasticLoadBalancingV2::LoadBalancer", [
            ("Type", "application"), ("Scheme", "internet-facing"),
            ("Subnets", [CFN.ref("PublicSubnet1"), CFN.ref("PublicSubnet2")]),
            ("SecurityGroups", [CFN.getAtt("AlbSecurityGroup", "GroupId")]),
            ("LoadBalancerAttributes", [
                ["Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"],
                ["Key": "deletion_protection.enabled", "Value": "false"],
            ]),
            ("Tags", tags("alb")),
        ], dependsOn: ["PublicDefaultRoute"])
        let uiHealth = a3 ? "/api/v2/monitor/health" : "/health"
        for (id, port, path) in [("UiTargetGroup", 8080, uiHealth), ("FlowerTargetGroup", 5555, "/healthcheck")] {
            add(id, "AWS::ElasticLoadBalancingV2::TargetGroup", [
                ("TargetType", "ip"), ("Protocol", "HTTP"), ("Port", .int(port)), ("VpcId", CFN.ref("Vpc")),
                ("HealthCheckPath", .string(path)), ("HealthCheckIntervalSeconds", 30), ("HealthyThresholdCount", 2),
                ("UnhealthyThresholdCount", 3), ("Matcher", ["HttpCode": "200"]),
                ("TargetGroupAttributes", [["Key": "deregistration_delay.timeout_seconds", "Value": "30"]]),
                ("Tags", tags()),
            ])
        }
        for (id, port, tg) in [("UiListener", uiPort, "UiTargetGroup"), ("FlowerListener", 5555, "FlowerTargetGroup")] {
            var p: [(String, Node)] = [("LoadBalancerArn", CFN.ref("LoadBalancer")), ("Port", .int(port))]
            if let cert = o.certificateArn {
                p += [("Protocol", "HTTPS"), ("SslPolicy", "ELBSecurityPolicy-TLS13-1-2-2021-06"),
                      ("Certificates", [["CertificateArn": .string(cert)]])]
            } else {
                p.append(("Protocol", "HTTP"))
            }
            p.append(("DefaultActions", [["Type": "forward", "TargetGroupArn": CFN.ref(tg)]]))
            add(id, "AWS::ElasticLoadBalancingV2::Listener", p)
        }
    }

    // MARK: autoscaling

    func autoscaling() {
        guard o.autoscaling else { return }
        add("WorkerScalableTarget", "AWS::ApplicationAutoScaling::ScalableTarget", [
            ("ServiceNamespace", "ecs"), ("ScalableDimension", "ecs:service:DesiredCount"),
            ("ResourceId", CFN.sub("service/${Cluster}/${WorkerService.Name}")),
            ("MinCapacity", 2), ("MaxCapacity", 4),
        ])
        for (id, metric) in [("WorkerCpuScaling", "ECSServiceAverageCPUUtilization"), ("WorkerMemoryScaling", "ECSServiceAverageMemoryUtilization")] {
            add(id, "AWS::ApplicationAutoScaling::ScalingPolicy", [
                ("PolicyName", CFN.sub("${AWS::StackName}-\(id)")), ("PolicyType", "TargetTrackingScaling"),
                ("ScalingTargetId", CFN.ref("WorkerScalableTarget")),
                ("TargetTrackingScalingPolicyConfiguration", [
                    "PredefinedMetricSpecification": ["PredefinedMetricType": .string(metric)],
                    "TargetValue": 70, "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
                ]),
            ])
        }
    }

    // MARK: bastion

    func bastion() {
        guard o.bastion else { return }
        add("BastionRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", trust("ec2.amazonaws.com")),
            ("ManagedPolicyArns", [CFN.sub("arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore")]),
            ("Tags", tags("bastion")),
        ])
        add("BastionInstanceProfile", "AWS::IAM::InstanceProfile", [("Roles", [CFN.ref("BastionRole")])])
        add("BastionInstance", "AWS::EC2::Instance", [
            ("ImageId", CFN.ref("BastionAmi")), ("InstanceType", .string(Sizing.bastionInstanceType)),
            ("IamInstanceProfile", CFN.ref("BastionInstanceProfile")),
            ("SubnetId", CFN.ref("PrivateSubnet1")),
            ("SecurityGroupIds", [CFN.getAtt("BastionSecurityGroup", "GroupId")]),
            ("MetadataOptions", ["HttpTokens": "required", "HttpEndpoint": "enabled"]),
            ("Monitoring", true), ("EbsOptimized", true),
            ("BlockDeviceMappings", [["DeviceName": "/dev/xvda", "Ebs": ["VolumeSize": 8, "VolumeType": "gp3", "Encrypted": true]]]),
            ("Tags", tags("bastion")),
        ], dependsOn: ["PrivateDefaultRoute1"])
    }

    // MARK: outputs

    func outputs() -> [(String, Node)] {
        let scheme = https ? "https" : "http"
        let uiSuffix = https ? "" : ""
        var out: [(String, Node, String)] = [
            (StackOutputs.airflowUrl, CFN.sub("\(scheme)://${LoadBalancer.DNSName}\(uiSuffix)/"), "Airflow UI and REST API"),
            (StackOutputs.flowerUrl, CFN.sub("\(scheme)://${LoadBalancer.DNSName}:5555/"), "Flower (basic auth)"),
            (StackOutputs.albDnsName, CFN.getAtt("LoadBalancer", "DNSName"), "Load balancer DNS name"),
            (StackOutputs.airflowVersion, .string(o.resolvedAirflowVersion), "Airflow release"),
            (StackOutputs.mySqlEndpoint, CFN.getAtt("Database", "Endpoint.Address"), "MySQL endpoint"),
            (StackOutputs.mySqlPort, CFN.getAtt("Database", "Endpoint.Port"), "MySQL port"),
            (StackOutputs.dbSecretArn, CFN.ref("DbSecret"), "Secret with the MySQL credentials"),
            (StackOutputs.redisEndpoint, redisHost, "Celery broker host"),
            (StackOutputs.efsFileSystemId, CFN.ref("FileSystem"), "Shared EFS file system"),
            (StackOutputs.dagsAccessPointId, CFN.ref("DagsAccessPoint"), "EFS access point for DAGs (uid 50000)"),
            (StackOutputs.externalAccessPointId, CFN.ref("ExternalAccessPoint"), "EFS access point for the external tasks"),
        ]
        if o.bastion {
            out.append((StackOutputs.bastionInstanceId, CFN.ref("BastionInstance"), "Bastion instance (SSM Session Manager)"))
        }
        out += [
            (StackOutputs.clusterName, CFN.ref("Cluster"), "ECS cluster"),
            (StackOutputs.logsBucketName, CFN.ref("LogsBucket"), "S3 bucket for task logs"),
            (StackOutputs.externalTaskLogGroup, CFN.ref("ExternalTaskLogGroup"), "Log group of the external tasks"),
            (StackOutputs.bigTaskDefinitionFamily, CFN.sub("BigGuys-${AWS::StackName}"), "Big external task family"),
            (StackOutputs.littleTaskDefinitionFamily, CFN.sub("LittleGuys-${AWS::StackName}"), "Little external task family"),
            (StackOutputs.privateSubnetIds, CFN.join(",", [CFN.ref("PrivateSubnet1"), CFN.ref("PrivateSubnet2")]), "Private subnets"),
            (StackOutputs.tasksSecurityGroupId, CFN.getAtt("TasksSecurityGroup", "GroupId"), "Security group of the Airflow tasks"),
            (StackOutputs.externalTasksSecurityGroupId, CFN.getAtt("ExternalTasksSecurityGroup", "GroupId"), "Security group of the external tasks"),
            (StackOutputs.vpcId, CFN.ref("Vpc"), "VPC"),
        ]
        for c in components {
            out.append((StackOutputs.serviceName(c), CFN.getAtt("\(c.rawValue)Service", "Name"), "ECS service: \(c.rawValue)"))
        }
        for c in components {
            out.append((StackOutputs.logGroup(c), CFN.ref(logGroupId(c)), "Log group: \(c.rawValue)"))
        }
        return out.map { ($0.0, ["Description": .string($0.2), "Value": $0.1]) }
    }
}
