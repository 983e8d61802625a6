import FairflowTestSupport
import Foundation
import XCTest

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

/// runProcess as a tuple (status, stdout, stderr).
@discardableResult
func runTool(_ path: String, _ args: [String], environment: [String: String]? = nil) throws -> (Int32, String, String) {
    let r = try runProcess(path, args, environment: environment)
    return (r.status, r.stdout, r.stderr)
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
