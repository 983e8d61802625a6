import Foundation

extension StackBuilder {
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
        // Every 10 s, 2 passes to healthy: a new task takes traffic 20 s after it answers (the default 30 s made each
        // rollout of the UI and Flower wait a minute more, twice per deploy: the new task in, the old one out).
        for (id, port, path) in [("UiTargetGroup", 8080, uiHealth), ("FlowerTargetGroup", 5555, "/healthcheck")] {
            add(id, "AWS::ElasticLoadBalancingV2::TargetGroup", [
                ("TargetType", "ip"), ("Protocol", "HTTP"), ("Port", .int(port)), ("VpcId", CFN.ref("Vpc")),
                ("HealthCheckPath", .string(path)), ("HealthCheckIntervalSeconds", 10), ("HealthCheckTimeoutSeconds", 5), ("HealthyThresholdCount", 2),
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
        // The work waiting, per worker (the scheduler's queue-metrics sidecar publishes it). Beside CPU and
        // memory, not instead: target tracking scales out when any policy asks and in only when all agree,
        // so a few CPU- or memory-heavy tasks still get room, and the queue keeps a busy fleet from shrinking.
        add("WorkerQueueScaling", "AWS::ApplicationAutoScaling::ScalingPolicy", [
            ("PolicyName", CFN.sub("${AWS::StackName}-WorkerQueueScaling")), ("PolicyType", "TargetTrackingScaling"),
            ("ScalingTargetId", CFN.ref("WorkerScalableTarget")),
            ("TargetTrackingScalingPolicyConfiguration", [
                "CustomizedMetricSpecification": [
                    "Namespace": .string(Self.metricsNamespace), "MetricName": .string(Self.backlogPerWorkerMetric),
                    "Dimensions": keyValues(workerMetricDimensions), "Statistic": "Average",
                ],
                "TargetValue": .int(o.tasksPerWorker), "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
            ]),
        ])
    }

    // MARK: bastion

    static let bastionUserData = """
    #!/bin/bash
    set -euxo pipefail
    dnf install -y amazon-efs-utils mariadb105
    """ + "\n"

    func bastion() {
        guard o.bastion else { return }
        add("BastionRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", trust("ec2.amazonaws.com")),
            ("ManagedPolicyArns", [CFN.sub("arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore")]),
            // `db check --via ssm` reads the database credentials on the bastion itself, so they never
            // travel in a command's parameters (SSM keeps those in its history).
            ("Policies", [policy("bastion", [
                ["Sid": "DatabaseSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": CFN.ref("DbSecret")],
                ["Sid": "DecryptDatabaseSecret", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": CFN.getAtt("StackKey", "Arn"),
                 "Condition": ["StringEquals": ["kms:ViaService": CFN.sub("secretsmanager.${AWS::Region}.amazonaws.com")]]],
            ])]),
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
            // What `efs ls` and `db check --via ssm` use there: the EFS mount helper and a MySQL client
            // (Amazon Linux 2023 ships the aws CLI but neither of these).
            ("UserData", ["Fn::Base64": .string(Self.bastionUserData)]),
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
