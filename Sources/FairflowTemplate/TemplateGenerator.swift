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

}
