import AWSCore
import AWSServices
import FairflowTemplate
import Foundation

/// The AWS side of the bastion commands: the stack's outputs, its RDS secret, EC2 Instance Connect
/// and SSM Run Command, each through the run's one AWS client.
public struct StackBastionAWS: BastionAWS {
    let context: Context
    public init(_ context: Context) { self.context = context }

    var aws: AWSClient { get throws { try context.aws() } }

    func outputs() async throws -> StackResources { try await StackResources.load(context) }

    public func bastion(stack: String) async throws -> BastionInstance? {
        guard let id = try await outputs().outputs[StackOutputs.bastionInstanceId], !id.isEmpty else { return nil }
        let r = try await aws.send(.query(.ec2, "DescribeInstances", [("InstanceId.1", id)]))
        guard let i = (r.xml?.list("reservationSet", item: "item") ?? []).flatMap({ $0.list("instancesSet", item: "item") }).first else {
            throw FairflowError("cannot find the bastion \(id)", why: "EC2 does not know the instance", fix: "redeploy the stack with `fairflow deploy`")
        }
        // Only a public address is reachable from where fairflow runs; a private one is never dialled
        // (SSH refuses an empty address; SSM needs none).
        let address = [i.string("dnsName"), i.string("ipAddress")].compactMap({ $0 }).first(where: { !$0.isEmpty }) ?? ""
        return BastionInstance(instanceId: id, address: address, availabilityZone: i["placement"]?.string("availabilityZone") ?? "")
    }

    public func metadataDatabase(stack: String) async throws -> MetadataDatabaseTarget {
        let s = try await outputs()
        let host = try s.output(StackOutputs.mySqlEndpoint, for: "the MySQL endpoint")
        let secretArn = try s.output(StackOutputs.dbSecretArn, for: "the database secret")
        // The secret's JSON holds username/password (and host/port/dbname once attached); it stays in memory.
        let raw = try await SecretsManager(try aws).value(secretArn)
        let json = (try? JSONSerialization.jsonObject(with: Data(raw.utf8))) as? [String: Any] ?? [:]
        guard let user = json["username"] as? String, let password = json["password"] as? String else {
            throw FairflowError("cannot read the database credentials", why: "secret \(secretArn) holds no username/password",
                                fix: "check the secret in Secrets Manager (it is made by the stack)")
        }
        let port = (json["port"] as? Int) ?? Int(s.outputs[StackOutputs.mySqlPort] ?? "") ?? 3306
        var target = MetadataDatabaseTarget(host: host, port: port, database: (json["dbname"] as? String) ?? "airflow",
                                            user: user, password: password, requireTLS: false)
        target.secretArn = secretArn
        let dbId = try await CloudFormation(try aws).resources(stack).first { $0.resourceType == "AWS::RDS::DBInstance" }?.physicalId
        if let id = dbId, let db = try await RDS(try aws).instance(id) {
            target.multiAZ = db.multiAZ
            target.pendingMaintenance = db.pendingMaintenance ? ["pending modifications"] : []
        }
        return target
    }

    public func airflowVersion(stack: String) async throws -> String {
        try await outputs().output(StackOutputs.airflowVersion, for: "the Airflow version")
    }

    public func sendSSHPublicKey(instance: BastionInstance, user: String, publicKey: String) async throws {
        _ = try await aws.send(.json(.ec2InstanceConnect, "SendSSHPublicKey", [
            "InstanceId": instance.instanceId, "InstanceOSUser": user, "SSHPublicKey": publicKey,
            "AvailabilityZone": instance.availabilityZone,
        ], mutating: true))
    }

    public func efsTarget(stack: String, accessPoint: String) async throws -> EFSListing.Target {
        let s = try await outputs()
        let key = accessPoint == "external" ? StackOutputs.externalAccessPointId : StackOutputs.dagsAccessPointId
        return EFSListing.Target(fileSystemId: try s.output(StackOutputs.efsFileSystemId, for: "the EFS file system"),
                                 accessPointId: try s.output(key, for: "the \(accessPoint) access point"))
    }

    public func runShellScript(instance: BastionInstance, script: String, timeoutSeconds: Int) async throws -> String {
        do {
            let r = try await aws.send(.json(.ssm, "SendCommand", [
                "DocumentName": "AWS-RunShellScript", "InstanceIds": [instance.instanceId],
                "Parameters": ["commands": [script], "executionTimeout": [String(timeoutSeconds)]],
                "TimeoutSeconds": max(30, timeoutSeconds), "Comment": "fairflow (bastion)",
            ]))
            guard let id = (r.json["Command"] as? [String: Any])?["CommandId"] as? String else {
                throw FairflowError("SSM SendCommand gave no command id", why: "unexpected answer", fix: "retry; check the SSM service's health")
            }
            return id
        } catch let e as AWSError where e.code == "InvalidInstanceId" {
            throw FairflowError("the bastion \(instance.instanceId) is not managed by SSM", why: e.message,
                                fix: "check that its SSM agent runs and its role has AmazonSSMManagedInstanceCore, or use --via ssh")
        }
    }

    public func commandInvocation(commandId: String, instance: BastionInstance) async throws -> CommandInvocation {
        try await aws.send(.json(.ssm, "GetCommandInvocation", ["CommandId": commandId, "InstanceId": instance.instanceId]))
            .decode(CommandInvocation.self)
    }

    public func readCommandOutput(url: String) async throws -> String {
        // https://s3.<region>.amazonaws.com/<bucket>/<key> or https://<bucket>.s3.<region>.amazonaws.com/<key>
        guard let u = URL(string: url), let host = u.host else {
            throw FairflowError("cannot read the command output", why: "not an S3 URL: \(url)", fix: "retry with --via ssh")
        }
        var parts = u.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let bucket: String
        if host.hasPrefix("s3.") || host.hasPrefix("s3-") || host == "s3.amazonaws.com" {
            guard !parts.isEmpty else { throw FairflowError("cannot read the command output", why: "no bucket in \(url)", fix: "retry with --via ssh") }
            bucket = parts.removeFirst()
        } else {
            bucket = String(host.split(separator: ".").first ?? "")
        }
        let data = try await S3(try aws).getObject(bucket, key: parts.joined(separator: "/"))
        return String(decoding: data, as: UTF8.self)
    }
}
