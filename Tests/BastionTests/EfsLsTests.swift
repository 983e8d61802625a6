@testable import FairflowCore
import FairflowTestSupport
import Foundation
import SSHTransport
import XCTest

/// A directory tree whose names need care: spaces, a newline, quotes, a tab, a backslash, UTF-8,
/// plus a git checkout marker so the DAGs root shows its commit.
private func makeTree() throws -> String {
    let root = NSTemporaryDirectory() + "fairflow-efs-" + UUID().uuidString
    let fm = FileManager.default
    for dir in ["sub dir", "sub dir/deeper", ".git/refs/heads"] { try fm.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true) }
    let files = ["plain.py": "x", "with space.py": "12345", "new\nline.py": "", "quote'\"s.py": "q", "tab\there.py": "t",
                 "back\\slash.py": "b", "ünïcode.py": "u", "sub dir/nested.py": "nn", "sub dir/deeper/leaf.py": "l"]
    for (name, body) in files { XCTAssertTrue(fm.createFile(atPath: root + "/" + name, contents: Data(body.utf8))) }
    try "ref: refs/heads/main\n".write(toFile: root + "/.git/HEAD", atomically: true, encoding: .utf8)
    try "0123456789abcdef0123456789abcdef01234567\n".write(toFile: root + "/.git/refs/heads/main", atomically: true, encoding: .utf8)
    return root
}

final class EfsLsSSHTests: XCTestCase {
    private var root = ""
    private var args: [String] = []
    private var env: [String: String] = [:]

    override func setUpWithError() throws {
        args = ["--via", "ssh", "--bastion-host", "127.0.0.1", "--bastion-port", try requirePeer("SSHD_PORT"), "--ssh-user", try requirePeer("SSHD_USER"),
                "--ssh-key", try requirePeer("SSHD_KEY"), "--known-hosts", try requirePeer("SSHD_KNOWN_HOSTS")]
        root = try makeTree()
        env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "SSH_AUTH_SOCK")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: root) }

    func testListingThroughSSHKeepsEveryNameExact() throws {
        let r = try fairflow(["efs", "ls", "--efs-mounted-at", root, "--output", "json"] + args, environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(json["commit"] as? String, "0123456789abcdef0123456789abcdef01234567")
        let entries = json["entries"] as! [[String: Any]]
        XCTAssertEqual(entries.map { $0["path"] as! String }, ["back\\slash.py", "new\nline.py", "plain.py", "quote'\"s.py", "sub dir",
                                                               "tab\there.py", "with space.py", "ünïcode.py"])
        let space = entries.first { $0["path"] as? String == "with space.py" }!
        XCTAssertEqual(space["size"] as? Int, 5)
        XCTAssertEqual(space["mode"] as? String, "-rw-r--r--")
        XCTAssertEqual(entries.first { $0["path"] as? String == "sub dir" }?["mode"] as? String, "drwxr-xr-x")

        let recursive = try fairflow(["efs", "ls", "sub dir", "--recursive", "--efs-mounted-at", root] + args, environment: env)
        XCTAssertEqual(recursive.status, 0, recursive.stderr)
        let names = recursive.stdout.split(separator: "\n").map { String($0.split(separator: "\t").last!) }
        XCTAssertEqual(names, ["deeper", "deeper/leaf.py", "nested.py"])
        XCTAssertNil(recursive.stderr.range(of: "commit"), "no commit line below the DAGs root")

        // On a pipe: one line per entry, control characters escaped like ls -b.
        let plain = try fairflow(["efs", "ls", "--efs-mounted-at", root] + args, environment: env)
        XCTAssertTrue(plain.stdout.contains("\tnew\\nline.py\n"), plain.stdout)
        XCTAssertTrue(plain.stdout.contains("\ttab\\there.py\n"), plain.stdout)
        XCTAssertEqual(plain.stdout.split(separator: "\n").count, 8)
        XCTAssertTrue(plain.stderr.contains("DAG repository commit on EFS: 0123456789abcdef"), plain.stderr)
    }

    func testMissingPathAndEscapesFailClearly() throws {
        let missing = try fairflow(["efs", "ls", "nope", "--efs-mounted-at", root] + args, environment: env)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no such path on EFS: nope"), missing.stderr)
        let escape = try fairflow(["efs", "ls", "../etc", "--efs-mounted-at", root] + args, environment: env)
        XCTAssertEqual(escape.status, 64, escape.stderr)
    }

    /// The mount path of the script, run on sshd with stand-ins for mount/umount/mount.efs first on PATH:
    /// it mounts read-only through the access point with TLS and unmounts on success and on failure.
    func testMountModeAlwaysUnmounts() throws {
        let peer = try SSHSession(SSHConnectOptions(host: "127.0.0.1", port: Int(try requirePeer("SSHD_PORT"))!, user: try requirePeer("SSHD_USER"),
                                                    auth: .keyFile(path: try requirePeer("SSHD_KEY"), passphrase: nil),
                                                    hostKeys: .standard(knownHostsFile: try requirePeer("SSHD_KNOWN_HOSTS"))))
        let bin = root + "-bin", log = root + "-mount.log"
        defer { try? FileManager.default.removeItem(atPath: bin); try? FileManager.default.removeItem(atPath: log) }
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        // mount: log the arguments and fill the mount point from the tree; umount: log it.
        let fakes = ["mount": "echo \"mount $*\" >> '\(log)'; for a; do last=$a; done; cp -R '\(root)'/. \"$last\"/",
                     "umount": "echo \"umount $*\" >> '\(log)'; rm -rf \"$1\"/* \"$1\"/.git", "mount.efs": "exit 0"]
        for (name, body) in fakes {
            XCTAssertTrue(FileManager.default.createFile(atPath: "\(bin)/\(name)", contents: Data("#!/bin/sh\n\(body)\n".utf8),
                                                         attributes: [.posixPermissions: 0o755]))
        }
        let target = EFSListing.Target(fileSystemId: "fs-0abc", accessPointId: "fsap-0def")
        let good = try peer.exec("PATH='\(bin)':$PATH sh -s", stdin: Array(try EFSListing.script(target: target, path: "", recursive: false).utf8))
        XCTAssertEqual(good.exitStatus, 0, good.stderrText)
        XCTAssertEqual(try EFSListing.parse(good.stdoutText).entries.count, 8)
        let bad = try peer.exec("PATH='\(bin)':$PATH sh -s", stdin: Array(try EFSListing.script(target: target, path: "gone", recursive: false).utf8))
        XCTAssertEqual(bad.exitStatus, 2)
        let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(calls.count, 4, calls.joined(separator: "\n"))
        XCTAssertTrue(calls[0].hasPrefix("mount -t efs -o tls,iam,ro,accesspoint=fsap-0def fs-0abc:/ /tmp/fairflow-efs."), String(calls[0]))
        XCTAssertTrue(calls[1].hasPrefix("umount /tmp/fairflow-efs."))
        XCTAssertTrue(calls[3].hasPrefix("umount /tmp/fairflow-efs."), "unmounted after the failure too")
    }
}

/// The SSM path: GetCommandInvocation answers as AWS returns them (JSON), decoded and acted on.
final class EfsLsSSMTests: XCTestCase {
    private func invocation(_ json: String) throws -> CommandInvocation {
        try JSONDecoder().decode(CommandInvocation.self, from: Data(json.utf8))
    }

    /// The real script's output for the tree, run locally by sh (what SSM would carry back).
    private func realOutput() throws -> String {
        let root = try makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let script = try EFSListing.script(target: .init(mountedAt: root), path: "", recursive: true)
        let r = try runProcess("/bin/sh", ["-s"], stdin: script)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout
    }

    private func jsonString(_ s: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [s], options: []), as: UTF8.self).dropFirst().dropLast().description
    }

    func testRecordedInvocationsDecodeAndParse() throws {
        let out = try realOutput()
        let success = try invocation("""
        {"CommandId":"0b1c-2d3e","InstanceId":"i-0123456789abcdef0","Comment":"","DocumentName":"AWS-RunShellScript",
         "DocumentVersion":"$DEFAULT","PluginName":"aws:runShellScript","ResponseCode":0,"ExecutionStartDateTime":"2026-11-25T02:00:01.123Z",
         "ExecutionElapsedTime":"PT0.412S","ExecutionEndDateTime":"2026-11-25T02:00:01.535Z","Status":"Success","StatusDetails":"Success",
         "StandardOutputContent":\(jsonString(out)),"StandardOutputUrl":"","StandardErrorContent":"","StandardErrorUrl":"",
         "CloudWatchOutputConfig":{"CloudWatchLogGroupName":"","CloudWatchOutputEnabled":false}}
        """)
        guard case let .listing(parsed) = success.outcome() else { return XCTFail("\(success.outcome())") }
        XCTAssertEqual(parsed.commit, "0123456789abcdef0123456789abcdef01234567")
        XCTAssertTrue(parsed.entries.contains { $0.path == "sub dir/deeper/leaf.py" && $0.size == 1 })
        XCTAssertTrue(parsed.entries.contains { $0.path == "new\nline.py" })
        XCTAssertFalse(parsed.entries.contains { $0.path.hasPrefix(".git") })

        let pending = try invocation(#"{"CommandId":"c","InstanceId":"i-1","Status":"InProgress","StatusDetails":"InProgress","ResponseCode":-1,"StandardOutputContent":"","StandardErrorContent":""}"#)
        guard case .wait = pending.outcome() else { return XCTFail("InProgress must wait") }

        let noUtils = try invocation(#"{"CommandId":"c","InstanceId":"i-1","Status":"Failed","StatusDetails":"Failed","ResponseCode":90,"StandardOutputContent":"","StandardErrorContent":"amazon-efs-utils is not installed on the bastion\n----------ERROR-------\nfailed to run commands: exit status 90"}"#)
        guard case let .failed(error) = noUtils.outcome() else { return XCTFail("exit 90 must fail") }
        XCTAssertTrue(error.description.contains("Failed, exit 90: amazon-efs-utils is not installed"), error.description)
        XCTAssertTrue(error.description.contains("install amazon-efs-utils"), error.description)

        // Over 24,000 characters, GetCommandInvocation cuts the output: the END marker is gone.
        let head = out.components(separatedBy: "FAIRFLOW-LS-BEGIN\n")[0] + "FAIRFLOW-LS-BEGIN\n"
        let cut = head + String(repeating: "A", count: CommandInvocation.outputLimit - head.count)
        let long = try invocation("""
        {"CommandId":"c","InstanceId":"i-1","Status":"Success","ResponseCode":0,"StandardOutputContent":\(jsonString(cut)),
         "StandardErrorContent":"","StandardOutputUrl":"https://s3.us-east-1.amazonaws.com/bucket/prefix/c/i-1/awsrunShellScript/0.awsrunShellScript/stdout"}
        """)
        guard case let .readFromS3(url) = long.outcome() else { return XCTFail("truncated output must go to S3") }
        XCTAssertEqual(url, "https://s3.us-east-1.amazonaws.com/bucket/prefix/c/i-1/awsrunShellScript/0.awsrunShellScript/stdout")
    }

    func testPollerBacksOffUntilDoneAndReadsS3WhenCut() async throws {
        let out = try realOutput()
        var answers = [CommandInvocation(status: "Pending"), CommandInvocation(status: "InProgress"), CommandInvocation(status: "InProgress"),
                       CommandInvocation(status: "Success", responseCode: 0, standardOutputContent: "FAIRFLOW-LS-BEGIN\nAAAA",
                                         standardOutputUrl: "s3://b/k")]
        var slept: [Double] = []
        var s3Reads: [String] = []
        let parsed = try await SSMPoller.poll(timeoutSeconds: 60, sleep: { slept.append($0) },
                                              invocation: { answers.removeFirst() }, readS3: { s3Reads.append($0); return out })
        XCTAssertEqual(slept, [0.5, 1.0, 2.0])
        XCTAssertEqual(s3Reads, ["s3://b/k"])
        XCTAssertEqual(parsed.entries.count, 11)
    }

    func testPollerGivesUpAtTheDeadline() async throws {
        var clock = Date(timeIntervalSince1970: 0)
        do {
            _ = try await SSMPoller.poll(timeoutSeconds: 10, sleep: { clock += $0 }, now: { clock },
                                         invocation: { CommandInvocation(status: "InProgress") }, readS3: { _ in "" })
            XCTFail("must time out")
        } catch let e as FairflowError {
            XCTAssertTrue(e.description.hasPrefix("efs ls timed out: the command was still InProgress after 10 s"), e.description)
        }
    }
}
