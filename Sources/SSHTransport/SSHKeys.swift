import Crypto
import Foundation

/// SSH wire encoding: uint32 big-endian lengths before strings.
enum SSHWire {
    static func string(_ bytes: [UInt8]) -> [UInt8] { uint32(UInt32(bytes.count)) + bytes }
    static func string(_ text: String) -> [UInt8] { string(Array(text.utf8)) }
    static func uint32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    /// Reads consecutive SSH strings from `bytes`; stops at the first that does not fit.
    static func strings(_ bytes: [UInt8], from start: Int = 0, count: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = start
        while out.count < count, i + 4 <= bytes.count {
            let n = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            guard i + 4 + n <= bytes.count else { break }
            out.append(Array(bytes[i + 4 ..< i + 4 + n]))
            i += 4 + n
        }
        return out
    }

    /// The algorithm name a public key blob starts with, e.g. "ssh-ed25519".
    static func keyType(ofBlob blob: [UInt8]) -> String? {
        strings(blob, count: 1).first.map { String(decoding: $0, as: UTF8.self) }
    }
}

/// What a private key file holds, read without decrypting it.
public struct PrivateKeyFileInfo: Equatable, Sendable {
    public var keyType: String?   // nil when the format does not say (PKCS#8, encrypted PEM)
    public var encrypted: Bool

    public static func inspect(_ text: String) -> PrivateKeyFileInfo? {
        if text.contains("BEGIN RSA PRIVATE KEY") { return .init(keyType: "ssh-rsa", encrypted: text.contains("ENCRYPTED")) }
        if text.contains("BEGIN EC PRIVATE KEY") { return .init(keyType: "ecdsa", encrypted: text.contains("ENCRYPTED")) }
        if text.contains("BEGIN DSA PRIVATE KEY") { return .init(keyType: "ssh-dss", encrypted: text.contains("ENCRYPTED")) }
        guard let begin = text.range(of: "-----BEGIN OPENSSH PRIVATE KEY-----"),
              let end = text.range(of: "-----END OPENSSH PRIVATE KEY-----") else {
            return text.contains("PRIVATE KEY-----") ? .init(keyType: nil, encrypted: text.contains("ENCRYPTED")) : nil
        }
        let body = text[begin.upperBound ..< end.lowerBound].filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: String(body)) else { return nil }
        let bytes = Array(data), magic = Array("openssh-key-v1\0".utf8)
        guard bytes.starts(with: magic) else { return nil }
        // cipher, kdf, kdf options, then uint32 key count, then the first public key blob.
        let head = SSHWire.strings(bytes, from: magic.count, count: 3)
        guard head.count == 3 else { return nil }
        let cipher = String(decoding: head[0], as: UTF8.self)
        let afterHead = magic.count + head.reduce(0) { $0 + 4 + $1.count } + 4
        let blob = SSHWire.strings(bytes, from: afterHead, count: 1).first ?? []
        return .init(keyType: SSHWire.keyType(ofBlob: blob), encrypted: cipher != "none")
    }
}

/// A throw-away ed25519 key pair held in memory, for EC2 Instance Connect: the public half is pushed
/// to the instance, the private half is written (0600, in a private temp dir) only because libssh2 1.10
/// reads ed25519 keys from files. The files go when the key is released.
public final class EphemeralKey {
    public let publicKeyLine: String
    /// Path of the private key in OpenSSH format; valid while this object lives.
    public let privateKeyPath: String
    private let directory: String

    public init(comment: String = "fairflow-ephemeral") throws {
        let key = Curve25519.Signing.PrivateKey()
        let pub = Array(key.publicKey.rawRepresentation)
        let seed = Array(key.rawRepresentation)
        let blob = SSHWire.string("ssh-ed25519") + SSHWire.string(pub)
        publicKeyLine = "ssh-ed25519 \(Data(blob).base64EncodedString()) \(comment)"

        let check = UInt32.random(in: .min ... .max)
        var secret = SSHWire.uint32(check) + SSHWire.uint32(check)
        secret += SSHWire.string("ssh-ed25519") + SSHWire.string(pub) + SSHWire.string(seed + pub) + SSHWire.string(comment)
        var pad: UInt8 = 1
        while secret.count % 8 != 0 { secret.append(pad); pad += 1 }
        var file = Array("openssh-key-v1\0".utf8)
        file += SSHWire.string("none") + SSHWire.string("none") + SSHWire.string([UInt8]()) + SSHWire.uint32(1)
        file += SSHWire.string(blob) + SSHWire.string(secret)
        let b64 = Data(file).base64EncodedString()
        var pem = "-----BEGIN OPENSSH PRIVATE KEY-----\n"
        var i = b64.startIndex
        while i < b64.endIndex {
            let j = b64.index(i, offsetBy: 70, limitedBy: b64.endIndex) ?? b64.endIndex
            pem += b64[i ..< j] + "\n"
            i = j
        }
        pem += "-----END OPENSSH PRIVATE KEY-----\n"

        var template = Array((NSTemporaryDirectory() + "/fairflow-key.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw SSHError.keyFile(path: NSTemporaryDirectory(), reason: "cannot make a private temp dir: \(String(cString: strerror(errno)))")
        }
        directory = String(cString: made)
        privateKeyPath = directory + "/id_ed25519"
        guard FileManager.default.createFile(atPath: privateKeyPath, contents: Data(pem.utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            try? FileManager.default.removeItem(atPath: directory)
            throw SSHError.keyFile(path: privateKeyPath, reason: "cannot write the ephemeral key")
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}
