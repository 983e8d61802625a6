import Foundation

/// One file or directory as `efs ls` shows it.
public struct EFSEntry: Codable, Equatable, Sendable {
    public var mode: String      // "drwxr-xr-x"
    public var uid: Int
    public var gid: Int
    public var size: Int64
    public var mtime: Date
    public var path: String      // relative to the listed directory; may hold spaces, quotes, newlines
}

/// The listing script run on the bastion (by SSM Run Command or SSH exec) and the parser of its output.
/// The script mounts the file system read-only through the access point with TLS (or uses a directory
/// already mounted), lists with `find -printf` into NUL-terminated records, and prints them base64-framed,
/// so names with newlines or quotes survive SSM's text output. It always unmounts, also on failure.
public enum EFSListing {
    public static let begin = "FAIRFLOW-LS-BEGIN"
    public static let end = "FAIRFLOW-LS-END"
    public static let commitPrefix = "FAIRFLOW-LS-COMMIT "

    public struct Target: Sendable, Equatable {
        public var fileSystemId: String?
        public var accessPointId: String?
        /// A directory where the access point is already mounted (tests, or a bastion that mounts it).
        public var mountedAt: String?
        public init(fileSystemId: String? = nil, accessPointId: String? = nil, mountedAt: String? = nil) {
            self.fileSystemId = fileSystemId; self.accessPointId = accessPointId; self.mountedAt = mountedAt
        }
    }

    /// Rejects absolute escapes and `..`: PATH is relative to the access point's root.
    public static func normalize(_ path: String) throws -> String {
        let parts = path.split(separator: "/").filter { $0 != "." && !$0.isEmpty }
        if parts.contains("..") {
            throw FairflowError.usage("efs ls \(path)", why: "the path leaves the access point's root (..)", fix: "give a path inside it, e.g. dags/")
        }
        return parts.joined(separator: "/")
    }

    /// Single-quotes a value for sh.
    public static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    public static func script(target: Target, path: String, recursive: Bool) throws -> String {
        let rel = try normalize(path)
        let depth = recursive ? "" : " -maxdepth 1"
        var lines = ["set -eu"]
        if let dir = target.mountedAt {
            lines.append("root=\(shellQuote(dir))")
        } else {
            guard let fs = target.fileSystemId, let ap = target.accessPointId else {
                throw FairflowError("efs ls", why: "the file system or access point id is unknown", fix: "check that the stack has the EFS outputs")
            }
            lines += [
                "command -v mount.efs >/dev/null || { echo 'amazon-efs-utils is not installed on the bastion' >&2; exit 90; }",
                "root=$(mktemp -d /tmp/fairflow-efs.XXXXXX)",
                // Always unmount and remove the mount point, also when find fails.
                "trap 'umount \"$root\" 2>/dev/null || umount -l \"$root\" 2>/dev/null; rmdir \"$root\" 2>/dev/null' EXIT",
                "mount -t efs -o tls,iam,ro,accesspoint=\(shellQuote(ap)) \(shellQuote(fs + ":/")) \"$root\"",
            ]
        }
        lines += [
            "dir=\"$root\"/\(shellQuote(rel))",
            "[ -e \"$dir\" ] || { echo \"no such path on EFS: \(rel.isEmpty ? "/" : rel)\" >&2; exit 2; }",
            "head=\"$dir/.git/HEAD\"",
            "if [ -f \"$head\" ]; then ref=$(cat \"$head\"); case \"$ref\" in 'ref: '*) r=${ref#ref: }; "
                + "if [ -f \"$dir/.git/$r\" ]; then ref=$(cat \"$dir/.git/$r\"); else ref=$(grep \" $r\\$\" \"$dir/.git/packed-refs\" 2>/dev/null | cut -d' ' -f1); fi;; esac; "
                + "echo \"\(commitPrefix)$ref\"; "
                // git-sync's layout: the DAGs folder is a link to .worktrees/<commit>.
                + "elif [ -L \"$dir\" ]; then ref=$(basename \"$(readlink \"$dir\")\"); "
                + "case \"$ref\" in *[!0-9a-f]*) ;; *) [ ${#ref} -eq 40 ] && echo \"\(commitPrefix)$ref\";; esac; fi",
            "echo \(begin)",
            // -H: a path that is a link (git-sync's DAGs folder) is listed as the directory it points to.
            "find -H \"$dir\" -mindepth 1\(depth) -name .git -prune -o -printf '%M\\t%U\\t%G\\t%s\\t%T@\\t%P\\0' | base64 -w 0",
            "echo",
            "echo \(end)",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    public struct Parsed: Equatable, Sendable {
        public var entries: [EFSEntry]
        public var commit: String?
    }

    public enum ParseError: Error, Equatable { case incomplete, badRecord(String) }

    /// Parses the script's stdout; `.incomplete` when the END marker is missing (truncated output).
    public static func parse(_ output: String) throws -> Parsed {
        var commit: String?
        var payload: String?
        var inside = false
        var sawEnd = false
        for line in output.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(commitPrefix) { commit = String(line.dropFirst(commitPrefix.count)).trimmingCharacters(in: .whitespaces) }
            else if line == begin { inside = true; payload = "" }
            else if line == end { sawEnd = inside; inside = false }
            else if inside { payload! += line }
        }
        guard sawEnd, let b64 = payload, let data = Data(base64Encoded: b64) else { throw ParseError.incomplete }
        var entries: [EFSEntry] = []
        for record in Array(data).split(separator: 0, omittingEmptySubsequences: true) {
            let fields = record.split(separator: UInt8(ascii: "\t"), maxSplits: 5, omittingEmptySubsequences: false)
            let text = fields.map { String(decoding: $0, as: UTF8.self) }
            guard text.count == 6, let uid = Int(text[1]), let gid = Int(text[2]), let size = Int64(text[3]),
                  let mtime = Double(text[4]) else {
                throw ParseError.badRecord(String(decoding: record, as: UTF8.self))
            }
            entries.append(EFSEntry(mode: text[0], uid: uid, gid: gid, size: size,
                                    mtime: Date(timeIntervalSince1970: mtime.rounded(.down)), path: text[5]))
        }
        entries.sort { $0.path < $1.path }
        return Parsed(entries: entries, commit: commit.flatMap { $0.isEmpty ? nil : $0 })
    }
}

/// What SSM's GetCommandInvocation answered, in the fields `efs ls` reads.
public struct CommandInvocation: Codable, Equatable, Sendable {
    public var status: String                  // Pending, InProgress, Delayed, Success, Failed, TimedOut, Cancelled...
    public var responseCode: Int
    public var standardOutputContent: String
    public var standardErrorContent: String
    public var standardOutputUrl: String?
    public var statusDetails: String?

    enum CodingKeys: String, CodingKey {
        case status = "Status", responseCode = "ResponseCode", standardOutputContent = "StandardOutputContent"
        case standardErrorContent = "StandardErrorContent", standardOutputUrl = "StandardOutputUrl", statusDetails = "StatusDetails"
    }

    public init(status: String, responseCode: Int = -1, standardOutputContent: String = "", standardErrorContent: String = "",
                standardOutputUrl: String? = nil, statusDetails: String? = nil) {
        self.status = status; self.responseCode = responseCode; self.standardOutputContent = standardOutputContent
        self.standardErrorContent = standardErrorContent; self.standardOutputUrl = standardOutputUrl; self.statusDetails = statusDetails
    }

    /// GetCommandInvocation returns at most 24,000 characters of output.
    public static let outputLimit = 24_000

    public var isFinished: Bool { !["Pending", "InProgress", "Delayed"].contains(status) }

    public enum Outcome {
        case wait
        case listing(EFSListing.Parsed)
        /// The output was cut at 24,000 characters: read the full one from S3 (`standardOutputUrl`).
        case readFromS3(String?)
        case failed(FairflowError)
    }

    /// What to do with this answer.
    public func outcome() -> Outcome {
        guard isFinished else { return .wait }
        if status != "Success" {
            let stderr = standardErrorContent.trimmingCharacters(in: .whitespacesAndNewlines)
            let why = "\(status)\(responseCode >= 0 ? ", exit \(responseCode)" : "")\(stderr.isEmpty ? "" : ": \(stderr)")"
            let fix: String
            switch responseCode {
            case 90: fix = "install amazon-efs-utils on the bastion (the template's user data does this)"
            case 2: fix = "check the path with `fairflow efs ls` on its parent"
            case 32: fix = "check the bastion's security group reaches the EFS mount targets and its role may mount"
            default: fix = status == "TimedOut" ? "retry; check the bastion's load" : "check the bastion's SSM agent log"
            }
            return .failed(FairflowError("listing EFS on the bastion failed", why: why, fix: fix))
        }
        do {
            return .listing(try EFSListing.parse(standardOutputContent))
        } catch {
            // Only output near the limit was cut; anything shorter is a listing that never ran or broke off.
            if !(standardOutputUrl ?? "").isEmpty || standardOutputContent.count >= CommandInvocation.outputLimit - 1_000 {
                return .readFromS3(standardOutputUrl)
            }
            let shown = standardOutputContent.isEmpty ? "the command printed nothing" : "its output ended early: \(standardOutputContent.suffix(200))"
            return .failed(FairflowError("listing EFS on the bastion gave no listing", why: "SSM reports Success but \(shown)",
                                         fix: "check the bastion's SSM agent log, or use --via ssh"))
        }
    }
}
