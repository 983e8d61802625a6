import Foundation
import XCTest

/// Reads a peer's variable (set by scripts/test from scripts/lib/*-peer.sh): skips the test when it is
/// missing, unless FAIRFLOW_REQUIRE_PEERS=1, where a missing peer is a failure.
func requirePeer(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    if let value = ProcessInfo.processInfo.environment[name], !value.isEmpty { return value }
    if ProcessInfo.processInfo.environment["FAIRFLOW_REQUIRE_PEERS"] == "1" {
        XCTFail("peer variable \(name) is not set: start the peer (scripts/lib/sshd-peer.sh / mariadb-peer.sh) — scripts/test does this", file: file, line: line)
        throw XCTSkip("missing \(name)")
    }
    throw XCTSkip("\(name) not set: start scripts/lib/sshd-peer.sh or mariadb-peer.sh and export its variables")
}

struct SSHDPeer {
    let host: String, port: Int, user: String, key: String, knownHosts: String, knownHostsHashed: String, dir: String

    static func fromEnvironment() throws -> SSHDPeer {
        SSHDPeer(host: try requirePeer("SSHD_HOST"), port: Int(try requirePeer("SSHD_PORT"))!, user: try requirePeer("SSHD_USER"),
                 key: try requirePeer("SSHD_KEY"), knownHosts: try requirePeer("SSHD_KNOWN_HOSTS"),
                 knownHostsHashed: try requirePeer("SSHD_KNOWN_HOSTS_HASHED"), dir: try requirePeer("SSHD_HOST_KEY_DIR"))
    }
}

struct MariaDBPeer {
    let port: Int, user: String, password: String, database: String

    static func fromEnvironment() throws -> MariaDBPeer {
        MariaDBPeer(port: Int(try requirePeer("MARIADB_PORT"))!, user: try requirePeer("MARIADB_USER"),
                    password: try requirePeer("MARIADB_PASSWORD"), database: try requirePeer("MARIADB_DATABASE"))
    }
}

/// Runs a local program and returns (status, stdout, stderr).
@discardableResult
func runTool(_ path: String, _ args: [String], environment: [String: String]? = nil) throws -> (Int32, String, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    if let environment { p.environment = environment }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

func makeTempDir() throws -> String {
    let dir = NSTemporaryDirectory() + "fairflow-ssh-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func sshKeygen(_ args: [String]) throws {
    let (status, _, err) = try runTool("/usr/bin/ssh-keygen", ["-q"] + args)
    XCTAssertEqual(status, 0, err)
}
