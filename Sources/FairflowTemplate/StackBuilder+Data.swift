import Foundation

extension StackBuilder {
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
}
