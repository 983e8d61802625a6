import AWSCore
import AWSServices
import Foundation

/// Preflight: is everything in place for a deploy?
public enum Doctor: FairflowOperation {
    public static let id = "doctor"
    public static let summary = "Check credentials, region, the env file's secrets, quotas and the stack's state before a deploy."

    public struct Input: Codable, Sendable { public init() {} }

    public struct Check: Codable, Sendable, Equatable {
        public enum Status: String, Codable, Sendable { case ok, warn, fail }
        public var name: String
        public var status: Status
        public var detail: String
        public var fix: String?
    }

    public struct Output: OperationOutput {
        public var checks: [Check]
        public var ok: Bool { !checks.contains { $0.status == .fail } }
        public var exitStatus: ExitStatus { ok ? .ok : .checkFailed }

        enum CodingKeys: String, CodingKey { case checks, ok }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(checks, forKey: .checks)
            try c.encode(ok, forKey: .ok)
        }

        public func renderText(_ t: Terminal) -> String {
            let rows = checks.map { c -> [String] in
                let mark: String
                switch c.status {
                case .ok: mark = t.paint("ok", .green)
                case .warn: mark = t.paint("warn", .yellow)
                case .fail: mark = t.paint("FAIL", .red)
                }
                return [mark, c.name, c.detail + (c.fix.map { " — \($0)" } ?? "")]
            }
            return Table(headers: ["STATUS", "CHECK", "DETAIL"], rows: rows).render(tty: t.isTTY)
        }
    }

    /// What a deploy of the generated stack needs: one VPC and an Elastic IP per NAT gateway (one per AZ).
    public static let vpcsNeeded = 1
    public static let eipsNeeded = 2

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        ["STS GetCallerIdentity", "SecretsManager DescribeSecret/GetSecretValue (per env-file ARN)", "ServiceQuotas GetServiceQuota",
         "EC2 DescribeAddresses", "EC2 DescribeVpcs", "CloudFormation DescribeStacks"].map { PlannedAction($0) }
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let aws = try context.aws()
        var checks: [Check] = [Check(name: "region", status: .ok, detail: aws.region.name)]
        let env = try context.envFile()
        async let identity = credentialsCheck(aws)
        async let secrets = secretChecks(aws, env: env, region: aws.region.name)
        async let eip = eipCheck(aws)
        async let vpc = vpcCheck(aws)
        async let stack = stackCheck(aws, name: context.stackName)
        checks.append(await identity)
        checks += await secrets
        checks.append(await eip)
        checks.append(await vpc)
        checks.append(await stack)
        return Output(checks: checks)
    }

    static func credentialsCheck(_ aws: AWSClient) async -> Check {
        do {
            let c = try await aws.credentials()
            let id = try await STS(aws).callerIdentity()
            return Check(name: "credentials", status: .ok, detail: "\(id.arn) (from \(c.source))")
        } catch {
            return Check(name: "credentials", status: .fail, detail: ErrorReport.message(for: error))
        }
    }

    static let requiredSecrets = [EnvKey.fernetKeySecretArn, EnvKey.adminPasswordSecretArn, EnvKey.flowerCredentialsSecretArn]

    static func secretChecks(_ aws: AWSClient, env: EnvFile?, region: String) async -> [Check] {
        guard let env = env else {
            return [Check(name: "env file", status: .warn, detail: "none given", fix: "pass --env envs/\(region).env to check its secrets")]
        }
        var out = [Check(name: "env file", status: .ok, detail: env.path ?? "")]
        let sm = SecretsManager(aws)
        for key in EnvKey.secretArnKeys {
            guard let arn = env[key] else {
                if requiredSecrets.contains(key) {
                    out.append(Check(name: key, status: .fail, detail: "not set", fix: "run `fairflow secrets init --env \(env.path ?? "FILE")`"))
                }
                continue
            }
            guard arn.hasPrefix("arn:") && arn.contains(":secretsmanager:") else {
                out.append(Check(name: key, status: .fail, detail: "`\(arn.prefix(60))` is not a Secrets Manager ARN",
                                 fix: "use the ARN that `aws secretsmanager describe-secret` prints"))
                continue
            }
            do {
                let s = try await sm.describe(arn)
                if s.DeletedDate != nil {
                    out.append(Check(name: key, status: .fail, detail: "\(s.Name) is scheduled for deletion",
                                     fix: "aws secretsmanager restore-secret --secret-id \(s.Name)"))
                    continue
                }
                _ = try await sm.value(arn)  // readable; the value is dropped at once
                out.append(Check(name: key, status: .ok, detail: "\(s.Name) exists and is readable"))
            } catch SecretsManagerError.notFound {
                out.append(Check(name: key, status: .fail, detail: "no such secret: \(arn)", fix: "run `fairflow secrets init` or fix the ARN"))
            } catch {
                out.append(Check(name: key, status: .fail, detail: ErrorReport.message(for: error)))
            }
        }
        return out
    }

    static func eipCheck(_ aws: AWSClient) async -> Check {
        do {
            let used = try await EC2(aws).addresses().count
            var limit = try? await ServiceQuotas(aws).quota(service: "ec2", code: "L-0263D0A3")
            var source = "service quota"
            if limit == nil, let v = try? await EC2(aws).accountAttributes(["vpc-max-elastic-ips"])["vpc-max-elastic-ips"], let d = Double(v) {
                limit = d
                source = "account attribute"
            }
            let max = Int(limit ?? 5)
            if limit == nil { source = "AWS default, quota not readable" }
            let free = max - used
            let detail = "\(used) of \(max) in use (\(source)); a deploy needs \(eipsNeeded)"
            return free >= eipsNeeded ? Check(name: "Elastic IP headroom", status: .ok, detail: detail)
                : Check(name: "Elastic IP headroom", status: .fail, detail: detail,
                        fix: "release unused Elastic IPs or request a quota increase (Service Quotas, ec2 L-0263D0A3)")
        } catch {
            return Check(name: "Elastic IP headroom", status: .warn, detail: ErrorReport.message(for: error))
        }
    }

    static func vpcCheck(_ aws: AWSClient) async -> Check {
        do {
            let used = try await EC2(aws).vpcs().count
            let limit = try? await ServiceQuotas(aws).quota(service: "vpc", code: "L-F678F1CE")
            let max = Int(limit ?? 5)
            let detail = "\(used) of \(max) in use\(limit == nil ? " (AWS default, quota not readable)" : ""); a deploy needs \(vpcsNeeded)"
            return max - used >= vpcsNeeded ? Check(name: "VPC headroom", status: .ok, detail: detail)
                : Check(name: "VPC headroom", status: .fail, detail: detail,
                        fix: "delete unused VPCs or request a quota increase (Service Quotas, vpc L-F678F1CE)")
        } catch {
            return Check(name: "VPC headroom", status: .warn, detail: ErrorReport.message(for: error))
        }
    }

    static func stackCheck(_ aws: AWSClient, name: String) async -> Check {
        do {
            guard let s = try await CloudFormation(aws).stackIfExists(name) else {
                return Check(name: "stack \(name)", status: .ok, detail: "not deployed yet")
            }
            switch s.status {
            case "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED":
                return Check(name: "stack \(name)", status: .fail, detail: s.status + (s.statusReason.map { ": \($0)" } ?? ""),
                             fix: "delete it first: `fairflow teardown --stack \(name)`")
            case "UPDATE_ROLLBACK_FAILED":
                return Check(name: "stack \(name)", status: .fail, detail: s.status,
                             fix: "aws cloudformation continue-update-rollback --stack-name \(name)")
            case let st where st.hasSuffix("_IN_PROGRESS"):
                return Check(name: "stack \(name)", status: .warn, detail: "\(st): an operation is running", fix: "wait for it to finish")
            default:
                return Check(name: "stack \(name)", status: .ok, detail: s.status)
            }
        } catch {
            return Check(name: "stack \(name)", status: .warn, detail: ErrorReport.message(for: error))
        }
    }
}
