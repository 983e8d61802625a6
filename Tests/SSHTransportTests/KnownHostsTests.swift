import Crypto
import Foundation
@testable import SSHTransport
import XCTest

final class KnownHostsTests: XCTestCase {
    private let blob = SSHWire.string("ssh-ed25519") + SSHWire.string([UInt8](repeating: 7, count: 32))
    private let otherBlob = SSHWire.string("ssh-ed25519") + SSHWire.string([UInt8](repeating: 9, count: 32))
    private var b64: String { Data(blob).base64EncodedString() }
    private var otherB64: String { Data(otherBlob).base64EncodedString() }

    func testPortedPlainCommaAndCRLFLinesMatch() {
        let text = "# comment\r\n\r\nother,[10.0.0.5]:2222,10.0.0.1 ssh-ed25519 \(b64) c\r\n"
        let entries = KnownHosts.parse(text, file: "kh")
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual(entries[0].location, "kh:3")
        XCTAssertEqual(KnownHosts.check(host: "10.0.0.5", port: 2222, keyType: "ssh-ed25519", keyBlob: blob, in: entries), .match(entries[0]))
        XCTAssertEqual(KnownHosts.check(host: "10.0.0.1", port: 22, keyType: "ssh-ed25519", keyBlob: blob, in: entries), .match(entries[0]))
        XCTAssertEqual(KnownHosts.check(host: "OTHER", port: 22, keyType: "ssh-ed25519", keyBlob: blob, in: entries), .match(entries[0]))
    }

    func testPortLessEntryDoesNotMatchAnotherPortAsOpenSSHDoes() {
        let entries = KnownHosts.parse("10.0.0.5 ssh-ed25519 \(b64)\n", file: "kh")
        XCTAssertEqual(KnownHosts.check(host: "10.0.0.5", port: 2222, keyType: "ssh-ed25519", keyBlob: blob, in: entries), .unknown)
    }

    func testHashedEntryMatchesOnlyItsHost() {
        let salt = [UInt8](repeating: 3, count: 20)
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Array("[bastion.example]:2200".utf8), using: SymmetricKey(data: salt))
        let line = "|1|\(Data(salt).base64EncodedString())|\(Data(mac).base64EncodedString()) ssh-ed25519 \(b64)"
        let entries = KnownHosts.parse(line, file: "kh")
        XCTAssertEqual(KnownHosts.check(host: "bastion.example", port: 2200, keyType: "ssh-ed25519", keyBlob: blob, in: entries), .match(entries[0]))
        XCTAssertEqual(KnownHosts.check(host: "bastion.example", port: 22, keyType: "ssh-ed25519", keyBlob: blob, in: entries), .unknown)
    }

    func testChangedKeyOfSameTypeIsReportedWithItsLine() {
        let entries = KnownHosts.parse("x\n[h]:2 ssh-ed25519 \(otherB64)\n", file: "/k")
        XCTAssertEqual(KnownHosts.check(host: "h", port: 2, keyType: "ssh-ed25519", keyBlob: blob, in: entries), .changed(entries[0]))
        XCTAssertEqual(entries[0].location, "/k:2")
    }

    func testRevokedWildcardAndNegation() {
        let text = """
        @revoked [h]:2 ssh-ed25519 \(b64)
        @cert-authority *.example ssh-ed25519 \(otherB64)
        *.corp,!bad.corp ssh-ed25519 \(otherB64)
        """
        let entries = KnownHosts.parse(text, file: "kh")
        XCTAssertEqual(entries.count, 3)
        guard case .revoked = KnownHosts.check(host: "h", port: 2, keyType: "ssh-ed25519", keyBlob: blob, in: entries) else {
            return XCTFail("a revoked key must be refused")
        }
        XCTAssertEqual(KnownHosts.check(host: "a.corp", port: 22, keyType: "ssh-ed25519", keyBlob: otherBlob, in: entries), .match(entries[2]))
        XCTAssertEqual(KnownHosts.check(host: "bad.corp", port: 22, keyType: "ssh-ed25519", keyBlob: otherBlob, in: entries), .unknown)
        XCTAssertEqual(KnownHosts.check(host: "a.example", port: 22, keyType: "ssh-ed25519", keyBlob: otherBlob, in: entries), .unknown)
    }

    func testKnownKeyTypesFollowTheFile() {
        let ecdsa = Data(SSHWire.string("ecdsa-sha2-nistp256") + [1, 2]).base64EncodedString()
        let entries = KnownHosts.parse("[h]:2 ecdsa-sha2-nistp256 \(ecdsa)\n[h]:2 ssh-ed25519 \(b64)\n[h]:2 ssh-rsa \(b64)\n", file: "kh")
        XCTAssertEqual(KnownHosts.knownKeyTypes(host: "h", port: 2, in: entries), ["ecdsa-sha2-nistp256", "ssh-ed25519", "ssh-rsa"])
    }

    func testRecordAppendsOnItsOwnLineAndCreatesThePrivateFile() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/sub/known_hosts"
        try KnownHosts.record(host: "h", port: 2, keyType: "ssh-ed25519", keyBlob: blob, to: path)
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        try "[x]:1 ssh-ed25519 \(otherB64)".write(toFile: path, atomically: false, encoding: .utf8)  // no final newline
        try KnownHosts.record(host: "h", port: 2, keyType: "ssh-ed25519", keyBlob: blob, to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "[x]:1 ssh-ed25519 \(otherB64)\n[h]:2 ssh-ed25519 \(b64)\n")
    }
}

final class KeyFileTests: XCTestCase {
    func testInspectTellsRSAEncryptedAndEd25519Apart() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try sshKeygen(["-t", "rsa", "-b", "2048", "-N", "", "-f", dir + "/rsa"])
        try sshKeygen(["-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", dir + "/rsa_pem"])
        try sshKeygen(["-t", "ed25519", "-N", "", "-f", dir + "/ed"])
        try sshKeygen(["-t", "ed25519", "-N", "pass phrase", "-f", dir + "/ed_enc"])
        try sshKeygen(["-t", "ecdsa", "-N", "", "-f", dir + "/ec"])
        func info(_ name: String) throws -> PrivateKeyFileInfo? {
            PrivateKeyFileInfo.inspect(try String(contentsOfFile: dir + "/" + name, encoding: .utf8))
        }
        XCTAssertEqual(try info("rsa"), .init(keyType: "ssh-rsa", encrypted: false))
        XCTAssertEqual(try info("rsa_pem"), .init(keyType: "ssh-rsa", encrypted: false))
        XCTAssertEqual(try info("ed"), .init(keyType: "ssh-ed25519", encrypted: false))
        XCTAssertEqual(try info("ed_enc"), .init(keyType: "ssh-ed25519", encrypted: true))
        XCTAssertEqual(try info("ec"), .init(keyType: "ecdsa-sha2-nistp256", encrypted: false))
        XCTAssertNil(PrivateKeyFileInfo.inspect("ssh-ed25519 AAAA not a private key"))
    }

    func testEphemeralKeyIsAValidOpenSSHKeyAndIsRemovedWithTheObject() throws {
        var key: EphemeralKey? = try EphemeralKey(comment: "eph")
        let path = key!.privateKeyPath
        let (status, derived, err) = try runTool("/usr/bin/ssh-keygen", ["-y", "-f", path])
        XCTAssertEqual(status, 0, err)
        // ssh-keygen re-derives the public key from the private file: it must equal ours.
        XCTAssertEqual(derived.trimmingCharacters(in: .whitespacesAndNewlines), key!.publicKeyLine)
        let attrs = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        key = nil
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
