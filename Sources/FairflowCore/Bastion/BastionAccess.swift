import Foundation
import MetadataDB
import SSHTransport

/// The SSH flags `db check`, `db tunnel` and `efs ls --via ssh` share.
public struct SSHTargetInput: Codable, Sendable, Equatable {
    /// The bastion's address; nil: the stack's bastion (public DNS) through `BastionAWS`.
    public var bastionHost: String?
    public var bastionPort: Int = 22
    public var sshUser: String = "ec2-user"
    /// A private key file; nil: ssh-agent when SSH_AUTH_SOCK is set, else an EC2 Instance Connect key.
    public var sshKey: String?
    /// Environment variable holding the key's passphrase (never a flag: it would show in `ps`).
    public var sshKeyPassphraseEnv: String?
    /// Known-hosts file to read and record into; nil: ~/.ssh/known_hosts plus ~/.config/fairflow/known_hosts.
    public var knownHosts: String?
    public var acceptNewHostKey: Bool = false
    public var timeoutSeconds: Double = 15

    public init() {}
}

/// The stack's bastion as the AWS side reports it.
public struct BastionInstance: Sendable, Equatable {
    public var instanceId: String
    public var address: String
    public var availabilityZone: String
    public init(instanceId: String, address: String, availabilityZone: String) {
        self.instanceId = instanceId; self.address = address; self.availabilityZone = availabilityZone
    }
}

/// The metadata database as seen from the bastion, with the credentials from the RDS secret (memory only).
public struct MetadataDatabaseTarget: Sendable {
    public var host: String
    public var port: Int
    public var database: String
    public var user: String
    public var password: String
    public var requireTLS: Bool
    /// From RDS DescribeDBInstances / DescribePendingMaintenanceActions; nil when not asked (local targets).
    public var multiAZ: Bool?
    public var pendingMaintenance: [String]?
    /// The Secrets Manager secret the credentials came from (nil for local targets): `db check --via ssm`
    /// has the bastion read it itself.
    public var secretArn: String?

    public init(host: String, port: Int, database: String, user: String, password: String, requireTLS: Bool = false,
                multiAZ: Bool? = nil, pendingMaintenance: [String]? = nil) {
        self.host = host; self.port = port; self.database = database; self.user = user; self.password = password
        self.requireTLS = requireTLS; self.multiAZ = multiAZ; self.pendingMaintenance = pendingMaintenance
    }
}

/// The AWS calls the bastion commands need. The lead's AWS services implement it; tests and local
/// targets (explicit --bastion-host and --db-host) never call it.
public protocol BastionAWS: Sendable {
    /// CloudFormation outputs/resources → EC2 DescribeInstances: the stack's bastion, nil if it has none.
    func bastion(stack: String) async throws -> BastionInstance?
    /// The RDS endpoint and the credentials from its Secrets Manager secret, plus Multi-AZ and pending maintenance.
    func metadataDatabase(stack: String) async throws -> MetadataDatabaseTarget
    /// The Airflow version the stack deploys (for the schema-revision check).
    func airflowVersion(stack: String) async throws -> String
    /// EC2 Instance Connect SendSSHPublicKey (the key is valid for 60 s).
    func sendSSHPublicKey(instance: BastionInstance, user: String, publicKey: String) async throws
    /// The EFS file system id and the access point ids ("dags", "external").
    func efsTarget(stack: String, accessPoint: String) async throws -> EFSListing.Target
    /// SSM SendCommand with AWS-RunShellScript; returns the command id. Throws a FairflowError naming
    /// the fix when the instance is not SSM-managed (InvalidInstanceId).
    func runShellScript(instance: BastionInstance, script: String, timeoutSeconds: Int) async throws -> String
    /// SSM GetCommandInvocation.
    func commandInvocation(commandId: String, instance: BastionInstance) async throws -> CommandInvocation
    /// The full output when GetCommandInvocation cut it (S3 output location of SendCommand).
    func readCommandOutput(url: String) async throws -> String
}

/// The AWS implementation the bastion commands use (tests replace it with a double).
public enum BastionServices {
    nonisolated(unsafe) public static var make: ((Context) throws -> BastionAWS)? = { StackBastionAWS($0) }

    static func aws(_ context: Context, for what: String) throws -> BastionAWS {
        guard let make else {
            throw FairflowError("\(what) needs the stack's AWS resources", why: "this build has no AWS lookup for the bastion wired in",
                                fix: "pass --bastion-host (and for db commands --db-host, --db-user with FAIRFLOW_DB_PASSWORD)")
        }
        return try make(context)
    }
}

enum BastionSSH {
    /// Opens the SSH session to the bastion as the flags say.
    static func connect(_ t: SSHTargetInput, context: Context, what: String) async throws -> SSHSession {
        var host = t.bastionHost
        var instance: BastionInstance?
        if host == nil {
            let aws = try BastionServices.aws(context, for: what)
            guard let found = try await aws.bastion(stack: context.stackName) else {
                throw FairflowError("\(what): stack \(context.stackName) has no bastion", why: "the template was generated without one",
                                    fix: "generate with a bastion, or pass --bastion-host")
            }
            guard !found.address.isEmpty else {
                throw FairflowError("\(what): the bastion \(found.instanceId) has no public address", why: "SSH from here cannot reach a private-only instance",
                                    fix: "pass --bastion-host (an address that reaches it, e.g. a VPN or an SSM port forward)")
            }
            instance = found
            host = found.address
        }
        let auth: SSHAuth
        if let key = t.sshKey {
            let pass = t.sshKeyPassphraseEnv.flatMap { context.environment[$0] }
            auth = .keyFile(path: (key as NSString).expandingTildeInPath, passphrase: pass)
        } else if context.environment["SSH_AUTH_SOCK"] != nil {
            auth = .agent
        } else if let instance {
            let key = try EphemeralKey()
            try await BastionServices.aws(context, for: what).sendSSHPublicKey(instance: instance, user: t.sshUser, publicKey: key.publicKeyLine)
            auth = .ephemeral(key)
        } else {
            throw FairflowError.usage("\(what): no SSH key", why: "neither --ssh-key nor an ssh-agent (SSH_AUTH_SOCK) is available",
                                      fix: "pass --ssh-key ~/.ssh/id_ed25519")
        }
        let policy = SSHHostKeyPolicy.standard(knownHostsFile: t.knownHosts.map { ($0 as NSString).expandingTildeInPath },
                                               acceptNewHostKey: t.acceptNewHostKey, home: context.environment["HOME"] ?? NSHomeDirectory())
        let options = SSHConnectOptions(host: host!, port: t.bastionPort, user: t.sshUser, auth: auth, hostKeys: policy,
                                        timeout: t.timeoutSeconds)
        do {
            let session = try SSHSession(options)
            if session.recordedHostKey {
                context.terminal.note("recorded host key \(session.hostKeyFingerprint) of \(host!) in \(policy.recordFile)")
            }
            return session
        } catch let e as SSHError {
            throw BastionErrors.map(e)
        }
    }
}

enum BastionErrors {
    static func map(_ e: SSHError) -> FairflowError {
        let text = e.description
        let (what, rest) = split(text)
        switch e {
        case .authFailed, .rsaKeyUnsupported, .passphraseRequired, .agent, .keyFile:
            return FairflowError(what, why: rest.why, fix: rest.fix, status: .authFailed)
        default:
            return FairflowError(what, why: rest.why, fix: rest.fix, status: .failed)
        }
    }

    static func map(_ e: MetadataDBError) -> FairflowError {
        let (what, rest) = split(e.description)
        if case .accessDenied = e { return FairflowError(what, why: rest.why, fix: rest.fix, status: .authFailed) }
        return FairflowError(what, why: rest.why, fix: rest.fix)
    }

    /// "what: why — fix" into its parts.
    private static func split(_ s: String) -> (String, (why: String, fix: String?)) {
        guard let colon = s.range(of: ": ") else { return (s, ("", nil)) }
        let what = String(s[..<colon.lowerBound])
        let tail = String(s[colon.upperBound...])
        if let dash = tail.range(of: " — ") {
            return (what, (String(tail[..<dash.lowerBound]), String(tail[dash.upperBound...])))
        }
        return (what, (tail, nil))
    }
}
