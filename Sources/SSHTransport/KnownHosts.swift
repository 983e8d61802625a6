import Crypto
import Foundation

/// One line of an OpenSSH known_hosts file.
public struct KnownHostsEntry: Equatable, Sendable {
    public enum Marker: Equatable, Sendable { case none, revoked, certAuthority }
    public enum Hosts: Equatable, Sendable {
        case patterns([String])
        /// `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, as written by `ssh-keyscan -H`.
        case hashed(salt: [UInt8], hash: [UInt8])
    }
    public var marker: Marker
    public var hosts: Hosts
    public var keyType: String
    public var keyBlob: [UInt8]
    /// "file:line", shown to the user when the key changed.
    public var location: String

    /// Whether this entry names `host` on `port`, by OpenSSH's rules: port 22 is written `host`,
    /// any other port `[host]:port`; a port-less entry does NOT match another port (libssh2's own
    /// check would, which is why known_hosts is parsed here).
    public func matches(host: String, port: Int) -> Bool {
        let name = KnownHosts.hostName(host: host, port: port)
        switch hosts {
        case let .hashed(salt, hash):
            let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Array(name.utf8), using: SymmetricKey(data: salt))
            return Array(mac) == hash
        case let .patterns(patterns):
            var matched = false
            for pattern in patterns {
                if pattern.hasPrefix("!") {
                    if KnownHosts.wildcardMatch(String(pattern.dropFirst()).lowercased(), name) { return false }
                } else if KnownHosts.wildcardMatch(pattern.lowercased(), name) {
                    matched = true
                }
            }
            return matched
        }
    }
}

/// The answer of a host-key check.
public enum HostKeyVerdict: Equatable, Sendable {
    case match(KnownHostsEntry)
    case unknown
    case changed(KnownHostsEntry)
    case revoked(KnownHostsEntry)
}

public enum KnownHosts {
    /// The key types libssh2 1.10 can verify a host key of, in the order we prefer them.
    public static let verifiableKeyTypes = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
    ]

    public static func hostName(host: String, port: Int) -> String {
        port == 22 ? host.lowercased() : "[\(host.lowercased())]:\(port)"
    }

    /// Parses a known_hosts text; CRLF endings, comments, blank and malformed lines are tolerated.
    public static func parse(_ text: String, file: String) -> [KnownHostsEntry] {
        var entries: [KnownHostsEntry] = []
        // "\r\n" is one Character in Swift, so normalise before splitting (CRLF files are common).
        let unix = text.replacingOccurrences(of: "\r\n", with: "\n")
        for (index, rawLine) in unix.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            while let last = line.last, last == "\r" || last == " " || last == "\t" { line = line.dropLast() }
            var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            var marker = KnownHostsEntry.Marker.none
            if first.hasPrefix("@") {
                switch first {
                case "@revoked": marker = .revoked
                case "@cert-authority": marker = .certAuthority
                default: continue
                }
                fields.removeFirst()
            }
            guard fields.count >= 3, let blob = Data(base64Encoded: fields[2]) else { continue }
            let hosts: KnownHostsEntry.Hosts
            if fields[0].hasPrefix("|1|") {
                let parts = fields[0].split(separator: "|", omittingEmptySubsequences: true)
                guard parts.count == 3, let salt = Data(base64Encoded: String(parts[1])),
                      let hash = Data(base64Encoded: String(parts[2])) else { continue }
                hosts = .hashed(salt: Array(salt), hash: Array(hash))
            } else {
                hosts = .patterns(fields[0].split(separator: ",").map(String.init))
            }
            entries.append(KnownHostsEntry(marker: marker, hosts: hosts, keyType: fields[1], keyBlob: Array(blob),
                                           location: "\(file):\(index + 1)"))
        }
        return entries
    }

    /// Reads every file that exists; missing files count as empty.
    public static func load(files: [String]) -> [KnownHostsEntry] {
        files.flatMap { path -> [KnownHostsEntry] in
            guard let data = FileManager.default.contents(atPath: path) else { return [] }
            return parse(String(decoding: data, as: UTF8.self), file: path)
        }
    }

    /// The key types recorded for a host, so the handshake can ask the server for one of them.
    public static func knownKeyTypes(host: String, port: Int, in entries: [KnownHostsEntry]) -> [String] {
        var types: [String] = []
        for e in entries where e.marker == .none && e.matches(host: host, port: port) && !types.contains(e.keyType) {
            types.append(e.keyType)
        }
        return types
    }

    public static func check(host: String, port: Int, keyType: String, keyBlob: [UInt8],
                             in entries: [KnownHostsEntry]) -> HostKeyVerdict {
        let forHost = entries.filter { $0.marker != .certAuthority && $0.matches(host: host, port: port) }
        if let revoked = forHost.first(where: { $0.marker == .revoked && $0.keyBlob == keyBlob }) { return .revoked(revoked) }
        let plain = forHost.filter { $0.marker == .none }
        if let same = plain.first(where: { $0.keyBlob == keyBlob }) { return .match(same) }
        if let other = plain.first(where: { $0.keyType == keyType }) { return .changed(other) }
        return .unknown
    }

    /// OpenSSH's `SHA256:` fingerprint: unpadded base64 of the SHA-256 of the key blob.
    public static func fingerprint(_ keyBlob: [UInt8]) -> String {
        let digest = Data(SHA256.hash(data: keyBlob)).base64EncodedString()
        return "SHA256:" + digest.replacingOccurrences(of: "=", with: "")
    }

    /// Appends `[host]:port type base64` to `path`, creating it (0600, directory 0700) if needed.
    public static func record(host: String, port: Int, keyType: String, keyBlob: [UInt8], to path: String) throws {
        let line = "\(hostName(host: host, port: port)) \(keyType) \(Data(keyBlob).base64EncodedString())\n"
        let fm = FileManager.default
        let dir = (path as NSString).deletingLastPathComponent
        do {
            if !dir.isEmpty, !fm.fileExists(atPath: dir) {
                try fm.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            if !fm.fileExists(atPath: path) {
                guard fm.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                    throw SSHError.knownHostsWrite(path: path, reason: "cannot create the file")
                }
            }
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            let end = try handle.seekToEnd()
            if end > 0 {  // keep the new entry on its own line even if the file lacks a final newline
                try handle.seek(toOffset: end - 1)
                if try handle.read(upToCount: 1) != Data("\n".utf8) { try handle.write(contentsOf: Data("\n".utf8)) }
            }
            try handle.write(contentsOf: Data(line.utf8))
        } catch let error as SSHError {
            throw error
        } catch {
            throw SSHError.knownHostsWrite(path: path, reason: "\(error.localizedDescription)")
        }
    }

    /// `*` and `?` globbing as in OpenSSH host patterns.
    static func wildcardMatch(_ pattern: String, _ name: String) -> Bool {
        let p = Array(pattern.utf8), n = Array(name.utf8)
        var pi = 0, ni = 0, star = -1, mark = 0
        while ni < n.count {
            if pi < p.count, p[pi] == UInt8(ascii: "?") || p[pi] == n[ni] { pi += 1; ni += 1 }
            else if pi < p.count, p[pi] == UInt8(ascii: "*") { star = pi; mark = ni; pi += 1 }
            else if star >= 0 { pi = star + 1; mark += 1; ni = mark }
            else { return false }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
