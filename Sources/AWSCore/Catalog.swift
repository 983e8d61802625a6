/// The services fairflow calls: names, signing names and protocols as botocore's models give them.
public extension AWSService {
    static let sts = AWSService(serviceId: "STS", signingName: "sts", protocol: .query(apiVersion: "2011-06-15"))
    static let iam = AWSService(serviceId: "IAM", signingName: "iam", protocol: .query(apiVersion: "2010-05-08"), global: true)
    static let secretsManager = AWSService(serviceId: "Secrets Manager", signingName: "secretsmanager",
                                           protocol: .json(version: "1.1", targetPrefix: "secretsmanager"))
    static let ec2 = AWSService(serviceId: "EC2", signingName: "ec2", protocol: .ec2(apiVersion: "2016-11-15"))
    static let efs = AWSService(serviceId: "EFS", signingName: "elasticfilesystem", protocol: .restJSON)
    static let s3 = AWSService(serviceId: "S3", signingName: "s3", protocol: .restXML)
    static let cloudFormation = AWSService(serviceId: "CloudFormation", signingName: "cloudformation",
                                           protocol: .query(apiVersion: "2010-05-15"))
    static let ecs = AWSService(serviceId: "ECS", signingName: "ecs",
                                protocol: .json(version: "1.1", targetPrefix: "AmazonEC2ContainerServiceV20141113"))
    static let logs = AWSService(serviceId: "CloudWatch Logs", signingName: "logs",
                                 protocol: .json(version: "1.1", targetPrefix: "Logs_20140328"))
    static let elbv2 = AWSService(serviceId: "Elastic Load Balancing v2", signingName: "elasticloadbalancing",
                                  protocol: .query(apiVersion: "2015-12-01"))
    static let rds = AWSService(serviceId: "RDS", signingName: "rds", protocol: .query(apiVersion: "2014-10-31"))
    static let elastiCache = AWSService(serviceId: "ElastiCache", signingName: "elasticache",
                                        protocol: .query(apiVersion: "2015-02-02"))
    static let ssm = AWSService(serviceId: "SSM", signingName: "ssm", protocol: .json(version: "1.1", targetPrefix: "AmazonSSM"))
    static let applicationAutoScaling = AWSService(serviceId: "Application Auto Scaling", signingName: "application-autoscaling",
                                                   protocol: .json(version: "1.1", targetPrefix: "AnyScaleFrontendService"))
    static let serviceDiscovery = AWSService(serviceId: "ServiceDiscovery", signingName: "servicediscovery",
                                             protocol: .json(version: "1.1", targetPrefix: "Route53AutoNaming_v20170314"))
    static let serviceQuotas = AWSService(serviceId: "Service Quotas", signingName: "servicequotas",
                                          protocol: .json(version: "1.1", targetPrefix: "ServiceQuotasV20190624"))
    static let tagging = AWSService(serviceId: "Resource Groups Tagging API", signingName: "tagging",
                                    protocol: .json(version: "1.1", targetPrefix: "ResourceGroupsTaggingAPI_20170126"))
    static let kms = AWSService(serviceId: "KMS", signingName: "kms", protocol: .json(version: "1.1", targetPrefix: "TrentService"))
    static let cloudWatch = AWSService(serviceId: "CloudWatch", signingName: "monitoring", protocol: .query(apiVersion: "2010-08-01"))
    static let ec2InstanceConnect = AWSService(serviceId: "EC2 Instance Connect", signingName: "ec2-instance-connect",
                                               protocol: .json(version: "1.1", targetPrefix: "AWSEC2InstanceConnectService"))
}
