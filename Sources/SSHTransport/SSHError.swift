import Foundation

/// Everything that can go wrong talking to a bastion over SSH, each case worded
/// "what failed: why — how to fix".
public enum SSHError: Error, Equatable, CustomStringConvertible {
    case connect(host: String, port: Int, reason: String)
    case timeout(operation: String, seconds: Double)
    case handshake(reason: String)
    /// The host is in no known-hosts file and acceptNewHostKey was not given.
    case hostKeyUnknown(host: String, fingerprint: String, knownHostsFiles: [String])
    /// A known-hosts entry for this host holds a different key of the same type.
    case hostKeyChanged(host: String, fingerprint: String, knownHostsLine: String)
    case hostKeyRevoked(host: String, fingerprint: String, knownHostsLine: String)
    /// The host is known only by key types libssh2 1.10 cannot verify (RSA).
    case hostKeyTypeUnsupported(host: String, knownTypes: [String])
    case authFailed(user: String, method: String, reason: String)
    case rsaKeyUnsupported(source: String)
    case keyFile(path: String, reason: String)
    case passphraseRequired(path: String)
    case agent(reason: String)
    case channel(operation: String, reason: String)
    case knownHostsWrite(path: String, reason: String)
    case sessionBusy
    case closed

    public var description: String {
        switch self {
        case let .connect(host, port, reason):
            return "SSH connection to \(host):\(port) failed: \(reason) — check the bastion address, that it is running and that port \(port) is reachable from here"
        case let .timeout(operation, seconds):
            return "SSH \(operation) timed out: no progress for \(Self.seconds(seconds)) — check the network path to the bastion, or raise the timeout"
        case let .handshake(reason):
            return "SSH handshake failed: \(reason) — the bastion's sshd may offer no algorithm libssh2 1.10 supports"
        case let .hostKeyUnknown(host, fingerprint, files):
            return "SSH host key of \(host) is not known: its key \(fingerprint) is in none of \(files.joined(separator: ", ")) — verify the fingerprint out of band, then pass --accept-new-host-key to record it"
        case let .hostKeyChanged(host, fingerprint, line):
            return "SSH host key of \(host) has CHANGED: the server presented \(fingerprint), which differs from the key recorded at \(line) — this may be an attack; if the bastion was replaced, remove that line and connect again with --accept-new-host-key"
        case let .hostKeyRevoked(host, fingerprint, line):
            return "SSH host key of \(host) is revoked: \(fingerprint) is marked @revoked at \(line) — do not connect; ask who runs the bastion"
        case let .hostKeyTypeUnsupported(host, types):
            return "SSH host key of \(host) cannot be verified: known_hosts holds only \(types.joined(separator: ", ")) keys for it, which libssh2 1.10 cannot check — add its ed25519 key: ssh-keyscan -t ed25519 \(host)"
        case let .authFailed(user, method, reason):
            return "SSH login as \(user) by \(method) failed: \(reason) — check the user name and that the key is authorized on the bastion"
        case let .rsaKeyUnsupported(source):
            return "SSH key \(source) is an RSA key: libssh2 1.10 (Debian 12) cannot sign with rsa-sha2, and current sshd refuses ssh-rsa — use an ed25519 or ECDSA key (ssh-keygen -t ed25519)"
        case let .keyFile(path, reason):
            return "SSH key file \(path) cannot be used: \(reason) — check the path, its format (OpenSSH ed25519/ECDSA) and the passphrase"
        case let .passphraseRequired(path):
            return "SSH key file \(path) is encrypted: no passphrase was given — pass the passphrase, or load the key into ssh-agent"
        case let .agent(reason):
            return "SSH agent authentication failed: \(reason) — start ssh-agent and ssh-add an ed25519 key, or pass --ssh-key"
        case let .channel(operation, reason):
            return "SSH \(operation) failed: \(reason) — check that the bastion allows it (AllowTcpForwarding for tunnels)"
        case let .knownHostsWrite(path, reason):
            return "recording the SSH host key in \(path) failed: \(reason) — check that the directory is writable"
        case .sessionBusy:
            return "SSH session is busy: a port forward owns it — stop the forward first, or open a second session"
        case .closed:
            return "SSH session is closed: it was disconnected — connect again"
        }
    }

    private static func seconds(_ s: Double) -> String { String(format: "%.1f s", s) }
}
