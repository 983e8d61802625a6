import Foundation
@testable import SSHTransport
import XCTest

/// Against the real OpenSSH sshd of scripts/lib/sshd-peer.sh (and MariaDB for the tunnels).
final class SSHSessionTests: XCTestCase {
    private var peer: SSHDPeer!
    private var tmp: String!

    override func setUpWithError() throws {
        peer = try SSHDPeer.fromEnvironment()
        tmp = try makeTempDir()
    }

    override func tearDown() {
        if let tmp { try? FileManager.default.removeItem(atPath: tmp) }
    }

    private func connect(knownHosts: String? = nil, accept: Bool = false, auth: SSHAuth? = nil, timeout: Double = 10) throws -> SSHSession {
        try SSHSession(SSHConnectOptions(
            host: peer.host, port: peer.port, user: peer.user, auth: auth ?? .keyFile(path: peer.key, passphrase: nil),
            hostKeys: .standard(knownHostsFile: knownHosts ?? peer.knownHosts, acceptNewHostKey: accept), timeout: timeout))
    }

    private func hostFingerprint(_ type: String) throws -> String {
        let (_, out, _) = try runTool("/usr/bin/ssh-keygen", ["-l", "-E", "sha256", "-f", "\(peer.dir)/host_\(type).pub"])
        return String(out.split(separator: " ")[1])
    }

    private func authorize(_ publicKeyLine: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: peer.dir + "/authorized_keys"))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((publicKeyLine + "\n").utf8))
    }

    func testExecReturnsStdoutStderrAndExitStatus() throws {
        let session = try connect()
        let r = try session.exec("printf 'out\\n'; printf 'err' >&2; exit 3")
        XCTAssertEqual(r.stdoutText, "out\n")
        XCTAssertEqual(r.stderrText, "err")
        XCTAssertEqual(r.exitStatus, 3)
        let big = try session.exec("head -c 3000000 /dev/zero | tr '\\0' a; head -c 500000 /dev/zero | tr '\\0' b >&2")
        XCTAssertEqual(big.stdout.count, 3_000_000)
        XCTAssertEqual(big.stderr.count, 500_000)
        let fed = try session.exec("wc -c", stdin: Array(repeating: 65, count: 100_000))
        XCTAssertEqual(fed.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines), "100000")
        XCTAssertEqual(session.hostKeyFingerprint, try hostFingerprint("ed25519"))
    }

    func testUnknownHostIsRefusedWithTheFingerprint() throws {
        let empty = tmp + "/known_hosts"
        XCTAssertThrowsError(try connect(knownHosts: empty)) { error in
            guard case let SSHError.hostKeyUnknown(host, fingerprint, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(host, "[127.0.0.1]:\(self.peer.port)")
            XCTAssertEqual(fingerprint, try? self.hostFingerprint("ed25519"))
            XCTAssertTrue("\(error)".contains("--accept-new-host-key"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: empty))
    }

    func testAcceptedHostKeyIsRecordedAndTrustedNextTime() throws {
        let file = tmp + "/fairflow/known_hosts"
        let first = try connect(knownHosts: file, accept: true)
        XCTAssertTrue(first.recordedHostKey)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("[127.0.0.1]:\(peer.port) ssh-ed25519 AAAA"), text)
        let second = try connect(knownHosts: file, accept: false)
        XCTAssertFalse(second.recordedHostKey)
        XCTAssertEqual(try second.exec("echo ok").stdoutText, "ok\n")
    }

    func testChangedHostKeyIsAlwaysRefused() throws {
        try sshKeygen(["-t", "ed25519", "-N", "", "-f", tmp + "/impostor"])
        let impostor = try String(contentsOfFile: tmp + "/impostor.pub", encoding: .utf8).split(separator: " ")
        let file = tmp + "/known_hosts"
        try "# first line\n[127.0.0.1]:\(peer.port) \(impostor[0]) \(impostor[1])\n".write(toFile: file, atomically: true, encoding: .utf8)
        for accept in [false, true] {
            XCTAssertThrowsError(try connect(knownHosts: file, accept: accept)) { error in
                guard case let SSHError.hostKeyChanged(_, fingerprint, line) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(fingerprint, try? self.hostFingerprint("ed25519"))
                XCTAssertEqual(line, "\(file):2")
            }
        }
    }

    func testHashedPlainOnlyEd25519CRLFAndEcdsaOnlyKnownHostsWork() throws {
        XCTAssertEqual(try connect(knownHosts: peer.knownHostsHashed).exec("echo h").stdoutText, "h\n")
        let all = try String(contentsOfFile: peer.knownHosts, encoding: .utf8).split(separator: "\n")
        for type in ["ssh-ed25519", "ecdsa-sha2-nistp256"] {
            let file = tmp + "/kh-\(type)"
            try all.filter { $0.contains(" \(type) ") }.map { $0 + "\r\n" }.joined().write(toFile: file, atomically: true, encoding: .utf8)
            let session = try connect(knownHosts: file)
            XCTAssertEqual(session.hostKeyFingerprint, try hostFingerprint(type == "ssh-ed25519" ? "ed25519" : "ecdsa"))
        }
        // Only an RSA line: libssh2 1.10 cannot verify it, and we say so instead of "unknown".
        let rsaOnly = tmp + "/kh-rsa"
        try all.filter { $0.contains(" ssh-rsa ") }.joined(separator: "\n").write(toFile: rsaOnly, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try connect(knownHosts: rsaOnly)) { error in
            guard case SSHError.hostKeyTypeUnsupported = error else { return XCTFail("\(error)") }
        }
        // A port-less entry does not vouch for a non-22 port (OpenSSH's rule, not libssh2's fallback).
        let portless = tmp + "/kh-portless"
        let ed = all.first { $0.contains(" ssh-ed25519 ") }!.split(separator: " ")
        try "127.0.0.1 \(ed[1]) \(ed[2])\n".write(toFile: portless, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try connect(knownHosts: portless)) { error in
            guard case SSHError.hostKeyUnknown = error else { return XCTFail("\(error)") }
        }
    }

    func testWrongKeyRSAKeyAndPassphraseHandling() throws {
        try sshKeygen(["-t", "ed25519", "-N", "", "-f", tmp + "/stranger"])
        XCTAssertThrowsError(try connect(auth: .keyFile(path: tmp + "/stranger", passphrase: nil))) { error in
            guard case SSHError.authFailed = error else { return XCTFail("\(error)") }
        }
        try sshKeygen(["-t", "rsa", "-b", "2048", "-N", "", "-f", tmp + "/rsa"])
        XCTAssertThrowsError(try connect(auth: .keyFile(path: tmp + "/rsa", passphrase: nil))) { error in
            XCTAssertEqual(error as? SSHError, .rsaKeyUnsupported(source: self.tmp + "/rsa"))
            XCTAssertTrue("\(error)".contains("ed25519"))
        }
        try sshKeygen(["-t", "ed25519", "-N", "correct horse", "-f", tmp + "/locked"])
        try authorize(try String(contentsOfFile: tmp + "/locked.pub", encoding: .utf8))
        XCTAssertEqual(try connect(auth: .keyFile(path: tmp + "/locked", passphrase: "correct horse")).exec("echo p").stdoutText, "p\n")
        XCTAssertThrowsError(try connect(auth: .keyFile(path: tmp + "/locked", passphrase: nil))) { error in
            XCTAssertEqual(error as? SSHError, .passphraseRequired(path: self.tmp + "/locked"))
        }
        XCTAssertThrowsError(try connect(auth: .keyFile(path: tmp + "/locked", passphrase: "wrong"))) { error in
            guard case SSHError.keyFile = error else { return XCTFail("\(error)") }
        }
    }

    func testEphemeralKeyAndAgentLogIn() throws {
        let key = try EphemeralKey()
        try authorize(key.publicKeyLine)
        XCTAssertEqual(try connect(auth: .ephemeral(key)).exec("echo e").stdoutText, "e\n")

        let socket = tmp + "/agent.sock"
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-agent")
        agent.arguments = ["-D", "-a", socket]
        agent.standardOutput = FileHandle.nullDevice
        try agent.run()
        defer { agent.terminate(); agent.waitUntilExit() }
        for _ in 0 ..< 100 where !FileManager.default.fileExists(atPath: socket) { usleep(20000) }
        let previous = ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"]
        setenv("SSH_AUTH_SOCK", socket, 1)
        defer { if let previous { setenv("SSH_AUTH_SOCK", previous, 1) } else { unsetenv("SSH_AUTH_SOCK") } }
        XCTAssertThrowsError(try connect(auth: .agent)) { error in
            guard case SSHError.agent = error else { return XCTFail("empty agent: \(error)") }
        }
        try sshKeygen(["-t", "rsa", "-b", "2048", "-N", "", "-f", tmp + "/agent_rsa"])
        XCTAssertEqual(try runTool("/usr/bin/ssh-add", ["-q", tmp + "/agent_rsa"], environment: ["SSH_AUTH_SOCK": socket]).0, 0)
        XCTAssertThrowsError(try connect(auth: .agent)) { error in
            guard case SSHError.rsaKeyUnsupported = error else { return XCTFail("rsa-only agent: \(error)") }
        }
        XCTAssertEqual(try runTool("/usr/bin/ssh-add", ["-q", peer.key], environment: ["SSH_AUTH_SOCK": socket]).0, 0)
        XCTAssertEqual(try connect(auth: .agent).exec("echo a").stdoutText, "a\n")
    }

    func testSilentCommandTimesOut() throws {
        let session = try connect(timeout: 1)
        let started = Date()
        XCTAssertThrowsError(try session.exec("sleep 5")) { error in
            guard case SSHError.timeout = error else { return XCTFail("\(error)") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
    }

    func testClosedPortIsAConnectError() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let freePort = Int(UInt16(bigEndian: addr.sin_port))
        close(fd)
        XCTAssertThrowsError(try SSHSession(SSHConnectOptions(host: "127.0.0.1", port: freePort, user: "x",
                                                             auth: .agent, hostKeys: .standard(knownHostsFile: tmp + "/kh")))) { error in
            guard case SSHError.connect = error else { return XCTFail("\(error)") }
        }
    }
}

/// Tunnels through sshd to the MariaDB peer.
final class TunnelTests: XCTestCase {
    private func session() throws -> SSHSession {
        let peer = try SSHDPeer.fromEnvironment()
        return try SSHSession(SSHConnectOptions(host: peer.host, port: peer.port, user: peer.user,
                                                auth: .keyFile(path: peer.key, passphrase: nil),
                                                hostKeys: .standard(knownHostsFile: peer.knownHosts)))
    }

    func testDirectTCPIPReachesMariaDBGreeting() throws {
        let db = try MariaDBPeer.fromEnvironment()
        let s = try session()
        let channel = try s.openDirectTCPIP(host: "127.0.0.1", port: db.port)
        let greeting = try channel.read()
        XCTAssertEqual(greeting.count > 5 ? greeting[4] : 0, 10, "protocol version 10")
        XCTAssertTrue(String(decoding: greeting, as: UTF8.self).contains("MariaDB"))
        XCTAssertTrue(String(decoding: greeting, as: UTF8.self).contains("mysql_native_password"))
    }

    func testDirectTCPIPToAClosedPortFailsNamingIt() throws {
        let s = try session()
        XCTAssertThrowsError(try s.openDirectTCPIP(host: "127.0.0.1", port: 1)) { error in
            guard case let SSHError.channel(operation, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(operation, "direct-tcpip to 127.0.0.1:1")
        }
    }

    func testLocalForwardCarriesTheMariaDBClientAndStopsCleanly() throws {
        let db = try MariaDBPeer.fromEnvironment()
        let s = try session()
        let forward = try LocalForward(session: s, remoteHost: "127.0.0.1", remotePort: db.port)
        XCTAssertThrowsError(try s.exec("true")) { XCTAssertEqual($0 as? SSHError, .sessionBusy) }
        let client = "/usr/bin/mariadb"
        let args = ["--no-defaults", "--protocol=tcp", "-h127.0.0.1", "-P\(forward.localPort)", "-u\(db.user)",
                    "-p\(db.password)", "-N", "-B", db.database]
        // Three clients at once, each with a result large enough to cross several SSH packets.
        let group = DispatchGroup()
        let results = Collected()
        for i in 0 ..< 3 {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                let r = try? runTool(client, args + ["-e", "SELECT \(i), LENGTH(REPEAT('x', 200000)), REPEAT('y', 100000)"])
                results.append(r?.1 ?? "failed: \(String(describing: r))")
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        let lines = results.items.map { $0.split(separator: "\t").prefix(2).joined(separator: " ") }.sorted()
        XCTAssertEqual(lines, ["0 200000", "1 200000", "2 200000"])
        XCTAssertEqual(forward.connections, 3)
        forward.stop()
        XCTAssertNil(forward.failure)
        let (status, _, _) = try runTool(client, args + ["--connect-timeout=2", "-e", "SELECT 1"])
        XCTAssertNotEqual(status, 0, "the port must be closed after stop()")
        XCTAssertEqual(try s.exec("echo back").stdoutText, "back\n", "the session is usable again")
    }
}

final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String] = []
    func append(_ s: String) { lock.lock(); values.append(s); lock.unlock() }
    var items: [String] { lock.lock(); defer { lock.unlock() }; return values }
}
