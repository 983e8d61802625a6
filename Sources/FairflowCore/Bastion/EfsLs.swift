import Foundation
import SSHTransport

/// `fairflow efs ls`: list the shared file system from the bastion, read-only, via SSM or SSH.
public enum EfsLs: FairflowOperation {
    public static let id = "efs.ls"
    public static let summary = "List files on the stack's EFS (DAGs or external access point) from the bastion."

    public struct Input: Codable, Sendable {
        public var path: String = ""
        public var accessPoint: String = "dags"
        public var recursive = false
        public var via: String = "ssm"
        public var ssh = SSHTargetInput()
        /// List this directory on the bastion instead of mounting (EFS already mounted there; tests).
        public var mountedAt: String?
        public var timeoutSeconds: Int = 120
        public init() {}
    }

    public struct Output: OperationOutput {
        public var path: String
        public var accessPoint: String
        public var commit: String?
        public var entries: [EFSEntry]

        public func renderText(_ t: Terminal) -> String {
            if let commit { t.note("DAG repository commit on EFS: \(commit)") }
            let rows = entries.map { e -> [String] in
                [e.mode, "\(e.uid):\(e.gid)", String(e.size), Self.time(e.mtime), Self.visible(e.path)]
            }
            if t.isTTY { return Table(headers: ["MODE", "OWNER", "SIZE", "MODIFIED", "NAME"], rows: rows).render(tty: true) }
            return rows.map { $0.joined(separator: "\t") + "\n" }.joined()
        }

        /// Control characters (a newline in a name) are shown escaped, as `ls -b` does; JSON keeps them raw.
        static func visible(_ name: String) -> String {
            var out = ""
            for scalar in name.unicodeScalars {
                switch scalar {
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\\": out += "\\\\"
                default: out += scalar.value < 0x20 || scalar.value == 0x7f ? String(format: "\\x%02x", scalar.value) : String(scalar)
                }
            }
            return out
        }

        static func time(_ d: Date) -> String {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
            return f.string(from: d)
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        input.via == "ssh"
            ? [PlannedAction("SSH exec", detail: "mount read-only, find, unmount")]
            : [PlannedAction("SSM SendCommand AWS-RunShellScript", detail: "mount read-only, find, unmount"),
               PlannedAction("SSM GetCommandInvocation", detail: "poll until done")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        guard ["dags", "external"].contains(input.accessPoint) else {
            throw FairflowError.usage("efs ls --access-point \(input.accessPoint)", why: "unknown access point", fix: "use dags or external")
        }
        let relative = try EFSListing.normalize(input.path)
        let parsed: EFSListing.Parsed
        switch input.via {
        case "ssh": parsed = try await viaSSH(input, context: context)
        case "ssm": parsed = try await viaSSM(input, context: context)
        default: throw FairflowError.usage("efs ls --via \(input.via)", why: "unknown transport", fix: "use ssm or ssh")
        }
        return Output(path: relative.isEmpty ? "/" : relative, accessPoint: input.accessPoint,
                      commit: parsed.commit, entries: parsed.entries)
    }

    static func target(_ input: Input, context: Context) async throws -> EFSListing.Target {
        if let dir = input.mountedAt { return EFSListing.Target(mountedAt: dir) }
        return try await BastionServices.aws(context, for: "efs ls").efsTarget(stack: context.stackName, accessPoint: input.accessPoint)
    }

    static func viaSSH(_ input: Input, context: Context) async throws -> EFSListing.Parsed {
        let script = try EFSListing.script(target: try await target(input, context: context), path: input.path, recursive: input.recursive)
        let session = try await BastionSSH.connect(input.ssh, context: context, what: "efs ls")
        // Mounting needs root; a listing of an existing directory does not.
        let command = input.mountedAt == nil && input.ssh.sshUser != "root" ? "sudo -n sh -s" : "sh -s"
        let result: ExecResult
        do { result = try session.exec(command, stdin: Array(script.utf8)) } catch let e as SSHError { throw BastionErrors.map(e) }
        let outcome = CommandInvocation(status: result.exitStatus == 0 ? "Success" : "Failed", responseCode: Int(result.exitStatus),
                                        standardOutputContent: result.stdoutText, standardErrorContent: result.stderrText).outcome()
        switch outcome {
        case let .listing(parsed): return parsed
        case let .failed(error): throw error
        case .wait, .readFromS3:
            throw FairflowError("efs ls over SSH", why: "the listing output was incomplete", fix: "retry; check the bastion's disk and load")
        }
    }

    static func viaSSM(_ input: Input, context: Context) async throws -> EFSListing.Parsed {
        let aws = try BastionServices.aws(context, for: "efs ls")
        guard let instance = try await aws.bastion(stack: context.stackName) else {
            throw FairflowError("efs ls: stack \(context.stackName) has no bastion", why: "the template was generated without one",
                                fix: "generate with a bastion")
        }
        let script = try EFSListing.script(target: try await target(input, context: context), path: input.path, recursive: input.recursive)
        let commandId = try await aws.runShellScript(instance: instance, script: script, timeoutSeconds: input.timeoutSeconds)
        return try await SSMPoller.poll(timeoutSeconds: input.timeoutSeconds) {
            try await aws.commandInvocation(commandId: commandId, instance: instance)
        } readS3: { url in
            try await aws.readCommandOutput(url: url)
        }
    }
}

/// Polls GetCommandInvocation with backoff (0.5 s doubling to 5 s) until done or the deadline.
public enum SSMPoller {
    public static func poll(timeoutSeconds: Int, sleep: (Double) async -> Void = { try? await Task.sleep(nanoseconds: UInt64($0 * 1e9)) },
                            now: () -> Date = Date.init,
                            invocation: () async throws -> CommandInvocation,
                            readS3: (String) async throws -> String) async throws -> EFSListing.Parsed {
        let deadline = now().addingTimeInterval(Double(timeoutSeconds))
        var delay = 0.5
        while true {
            let answer = try await invocation()
            switch answer.outcome() {
            case let .listing(parsed): return parsed
            case let .failed(error): throw error
            case let .readFromS3(url):
                guard let url, !url.isEmpty else {
                    throw FairflowError("efs ls: the listing is longer than SSM returns (24,000 characters)",
                                        why: "the command has no S3 output location", fix: "list a narrower path, or drop --recursive")
                }
                guard let full = try? EFSListing.parse(try await readS3(url)) else {
                    throw FairflowError("efs ls: the listing in S3 is incomplete", why: url, fix: "retry")
                }
                return full
            case .wait:
                if now() >= deadline {
                    throw FairflowError("efs ls timed out", why: "the command was still \(answer.status) after \(timeoutSeconds) s",
                                        fix: "retry with a longer timeout; check the bastion's SSM agent")
                }
                await sleep(delay)
                delay = min(delay * 2, 5)
            }
        }
    }
}
