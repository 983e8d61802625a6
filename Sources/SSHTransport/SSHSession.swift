import CSSH2
import CShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where host keys are looked up and where a newly accepted one is recorded.
public struct SSHHostKeyPolicy: Sendable {
    public var knownHostsFiles: [String]
    public var recordFile: String
    public var acceptNewHostKey: Bool

    public init(knownHostsFiles: [String], recordFile: String, acceptNewHostKey: Bool = false) {
        self.knownHostsFiles = knownHostsFiles
        self.recordFile = recordFile
        self.acceptNewHostKey = acceptNewHostKey
    }

    /// `~/.ssh/known_hosts` and fairflow's own `~/.config/fairflow/known_hosts`, recording into the latter;
    /// with an explicit file, only that file is read and written.
    public static func standard(knownHostsFile: String? = nil, acceptNewHostKey: Bool = false,
                                home: String = NSHomeDirectory()) -> SSHHostKeyPolicy {
        if let file = knownHostsFile {
            return .init(knownHostsFiles: [file], recordFile: file, acceptNewHostKey: acceptNewHostKey)
        }
        let own = home + "/.config/fairflow/known_hosts"
        return .init(knownHostsFiles: [home + "/.ssh/known_hosts", own], recordFile: own, acceptNewHostKey: acceptNewHostKey)
    }
}

/// How to log in.
public enum SSHAuth {
    case agent
    case keyFile(path: String, passphrase: String?)
    /// A key made for this session (EC2 Instance Connect pushes its public half first).
    case ephemeral(EphemeralKey)
}

public struct SSHConnectOptions {
    public var host: String
    public var port: Int
    public var user: String
    public var auth: SSHAuth
    public var hostKeys: SSHHostKeyPolicy
    /// Seconds an operation may go without progress; libssh2 blocks forever without one.
    public var timeout: Double

    public init(host: String, port: Int = 22, user: String, auth: SSHAuth, hostKeys: SSHHostKeyPolicy, timeout: Double = 15) {
        self.host = host; self.port = port; self.user = user; self.auth = auth; self.hostKeys = hostKeys; self.timeout = timeout
    }
}

public struct ExecResult: Sendable {
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var exitStatus: Int32
    public var exitSignal: String?
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

private let libssh2Initialized: Int32 = libssh2_init(0)

/// One SSH connection (owns the socket and the libssh2 session). Not thread-safe, like libssh2 itself:
/// use it from one thread at a time; a running `LocalForward` owns it until stopped.
/// The session is non-blocking; every call waits on the socket with `timeout` as the deadline.
public final class SSHSession {
    let raw: OpaquePointer
    let socket: Int32
    public let host: String
    public let port: Int
    public let timeout: Double
    /// SHA256 fingerprint of the host key the server presented (verified).
    public private(set) var hostKeyFingerprint = ""
    /// Set when a new host key was accepted and written to the record file.
    public private(set) var recordedHostKey = false
    private let busy = NSLock()
    private var forwarding = false

    public init(_ options: SSHConnectOptions) throws {
        _ = libssh2Initialized
        host = options.host
        port = options.port
        timeout = options.timeout
        socket = try Self.connectTCP(host: options.host, port: options.port, timeout: options.timeout)
        guard let session = fs_ssh_session_init() else {
            close(socket)
            throw SSHError.handshake(reason: "libssh2 could not allocate a session")
        }
        raw = session
        libssh2_session_set_timeout(raw, Int(options.timeout * 1000))
        libssh2_session_set_blocking(raw, 0)
        try handshakeAndVerify(options.hostKeys)
        try authenticate(user: options.user, auth: options.auth)
    }

    deinit {
        _ = try? retry("disconnect") { fs_ssh_disconnect(raw, "fairflow done") }
        libssh2_session_free(raw)
        close(socket)
    }

    // MARK: exec

    /// Runs `command` on the remote side and collects stdout, stderr and the exit status.
    public func exec(_ command: String, stdin: [UInt8]? = nil) throws -> ExecResult {
        try claim(); defer { release() }
        let channel = try openChannel("exec channel") {
            libssh2_channel_open_ex(self.raw, "session", 7, 2 * 1024 * 1024, 32768, nil, 0)
        }
        let rc = try retry("exec") {
            libssh2_channel_process_startup(channel.raw, "exec", 4, command, UInt32(command.utf8.count))
        }
        guard rc == 0 else { throw SSHError.channel(operation: "exec", reason: lastError) }
        if let stdin {
            try channel.writeAll(stdin)
            try channel.sendEOF()
        }
        var out: [UInt8] = [], err: [UInt8] = []
        var buffer = [CChar](repeating: 0, count: 32768)
        var deadline = Date() + timeout
        while true {
            var progressed = false
            for (stream, sink) in [(Int32(0), 0), (Int32(SSH_EXTENDED_DATA_STDERR), 1)] {
                let n = libssh2_channel_read_ex(channel.raw, stream, &buffer, buffer.count)
                if n > 0 {
                    let bytes = buffer[0 ..< n].map { UInt8(bitPattern: $0) }
                    if sink == 0 { out += bytes } else { err += bytes }
                    progressed = true
                } else if n < 0 && n != Int(LIBSSH2_ERROR_EAGAIN) {
                    throw SSHError.channel(operation: "exec read", reason: lastError)
                }
            }
            if progressed { deadline = Date() + timeout; continue }
            if libssh2_channel_eof(channel.raw) != 0 { break }
            try waitSocket(deadline: deadline, operation: "exec of remote command")
        }
        _ = try retry("channel close") { libssh2_channel_close(channel.raw) }
        _ = try retry("channel close") { libssh2_channel_wait_closed(channel.raw) }
        let status = libssh2_channel_get_exit_status(channel.raw)
        var signal: UnsafeMutablePointer<CChar>?
        var signalLength = 0
        _ = libssh2_channel_get_exit_signal(channel.raw, &signal, &signalLength, nil, nil, nil, nil)
        var signalName: String?
        if let signal {
            signalName = String(cString: signal)
            libssh2_free(raw, signal)
        }
        return ExecResult(stdout: out, stderr: err, exitStatus: status, exitSignal: signalName)
    }

    // MARK: direct-tcpip

    /// A channel to `host:port` as seen from the SSH server (a tunnel to RDS from the bastion).
    public func openDirectTCPIP(host: String, port: Int) throws -> SSHChannel {
        try claim(); defer { release() }
        return try openChannel("direct-tcpip to \(host):\(port)") {
            libssh2_channel_direct_tcpip_ex(self.raw, host, Int32(port), "127.0.0.1", 22)
        }
    }

    // MARK: internals shared with SSHChannel and LocalForward

    func claim() throws {
        busy.lock(); defer { busy.unlock() }
        if forwarding { throw SSHError.sessionBusy }
    }

    func release() {}

    func setForwarding(_ on: Bool) throws {
        busy.lock(); defer { busy.unlock() }
        if on && forwarding { throw SSHError.sessionBusy }
        forwarding = on
    }

    var lastError: String {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(raw, &message, &length, 0)
        let text = message.map { String(cString: $0) } ?? "unknown error"
        return "\(text) (libssh2 \(code))"
    }

    var lastErrno: Int32 { libssh2_session_last_errno(raw) }

    /// Waits until the socket is ready in the direction libssh2 is blocked on, or the deadline passes.
    func waitSocket(deadline: Date, operation: String) throws {
        let remaining = deadline.timeIntervalSinceNow
        if remaining <= 0 { throw SSHError.timeout(operation: operation, seconds: timeout) }
        let directions = libssh2_session_block_directions(raw)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        var pfd = pollfd(fd: socket, events: events, revents: 0)
        _ = poll(&pfd, 1, Int32(min(remaining, 0.5) * 1000) + 1)
    }

    /// Repeats a libssh2 call while it answers EAGAIN, waiting on the socket in between.
    func retry<T: BinaryInteger>(_ operation: String, _ body: () -> T) throws -> T {
        let deadline = Date() + timeout
        while true {
            let rc = body()
            if rc != T(LIBSSH2_ERROR_EAGAIN) { return rc }
            try waitSocket(deadline: deadline, operation: operation)
        }
    }

    func openChannel(_ operation: String, _ body: () -> OpaquePointer?) throws -> SSHChannel {
        let deadline = Date() + timeout
        while true {
            if let channel = body() { return SSHChannel(raw: channel, session: self) }
            guard lastErrno == LIBSSH2_ERROR_EAGAIN else {
                throw SSHError.channel(operation: operation, reason: lastError)
            }
            try waitSocket(deadline: deadline, operation: operation)
        }
    }

    // MARK: connect, host key, auth

    private static func connectTCP(host: String, port: Int, timeout: Double) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let gai = getaddrinfo(host, String(port), &hints, &list)
        guard gai == 0, let first = list else {
            throw SSHError.connect(host: host, port: port, reason: "cannot resolve the name: \(String(cString: gai_strerror(gai)))")
        }
        defer { freeaddrinfo(list) }
        var reason = "no address"
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            cursor = ai.pointee.ai_next
            let fd = Glibc.socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd < 0 { reason = String(cString: strerror(errno)); continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return fd }
            if errno == EINPROGRESS {
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&pfd, 1, Int32(timeout * 1000))
                var soError: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
                if ready == 1 && soError == 0 { return fd }
                reason = ready == 0 ? "no answer within \(Int(timeout)) s" : String(cString: strerror(soError))
            } else {
                reason = String(cString: strerror(errno))
            }
            close(fd)
        }
        throw SSHError.connect(host: host, port: port, reason: reason)
    }

    private func handshakeAndVerify(_ policy: SSHHostKeyPolicy) throws {
        let entries = KnownHosts.load(files: policy.knownHostsFiles)
        let known = KnownHosts.knownKeyTypes(host: host, port: port, in: entries)
        let verifiable = KnownHosts.verifiableKeyTypes.filter { known.contains($0) }
        if !known.isEmpty && verifiable.isEmpty {
            throw SSHError.hostKeyTypeUnsupported(host: host, knownTypes: known)
        }
        // Ask for a key type we hold, or libssh2 picks ECDSA and a file with only ed25519 looks "unknown".
        let preference = (verifiable.isEmpty ? KnownHosts.verifiableKeyTypes : verifiable).joined(separator: ",")
        _ = libssh2_session_method_pref(raw, LIBSSH2_METHOD_HOSTKEY, preference)
        let rc = try retry("handshake") { libssh2_session_handshake(raw, socket) }
        guard rc == 0 else { throw SSHError.handshake(reason: lastError) }

        var length = 0
        var type: Int32 = 0
        guard let key = libssh2_session_hostkey(raw, &length, &type) else {
            throw SSHError.handshake(reason: "the server sent no host key")
        }
        let blob = Array(UnsafeRawBufferPointer(start: key, count: length))
        let keyType = SSHWire.keyType(ofBlob: blob) ?? "unknown"
        hostKeyFingerprint = KnownHosts.fingerprint(blob)
        let name = KnownHosts.hostName(host: host, port: port)
        switch KnownHosts.check(host: host, port: port, keyType: keyType, keyBlob: blob, in: entries) {
        case .match:
            return
        case let .changed(entry):
            throw SSHError.hostKeyChanged(host: name, fingerprint: hostKeyFingerprint, knownHostsLine: entry.location)
        case let .revoked(entry):
            throw SSHError.hostKeyRevoked(host: name, fingerprint: hostKeyFingerprint, knownHostsLine: entry.location)
        case .unknown:
            guard policy.acceptNewHostKey else {
                throw SSHError.hostKeyUnknown(host: name, fingerprint: hostKeyFingerprint, knownHostsFiles: policy.knownHostsFiles)
            }
            try KnownHosts.record(host: host, port: port, keyType: keyType, keyBlob: blob, to: policy.recordFile)
            recordedHostKey = true
        }
    }

    private func authenticate(user: String, auth: SSHAuth) throws {
        switch auth {
        case let .keyFile(path, passphrase):
            try authenticate(user: user, keyFile: path, passphrase: passphrase, method: "key \(path)")
        case let .ephemeral(key):
            try authenticate(user: user, keyFile: key.privateKeyPath, passphrase: nil, method: "ephemeral key")
        case .agent:
            try authenticateWithAgent(user: user)
        }
    }

    private func authenticate(user: String, keyFile path: String, passphrase: String?, method: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SSHError.keyFile(path: path, reason: "cannot read it")
        }
        if let info = PrivateKeyFileInfo.inspect(String(decoding: data, as: UTF8.self)) {
            if info.keyType == "ssh-rsa" { throw SSHError.rsaKeyUnsupported(source: path) }
            if info.encrypted && passphrase == nil { throw SSHError.passphraseRequired(path: path) }
        } else {
            throw SSHError.keyFile(path: path, reason: "it is not a private key file")
        }
        let rc = try retry("authentication") {
            libssh2_userauth_publickey_fromfile_ex(raw, user, UInt32(user.utf8.count), nil, path, passphrase)
        }
        if rc == 0 { return }
        if rc == LIBSSH2_ERROR_FILE {
            throw SSHError.keyFile(path: path, reason: "libssh2 cannot decode it (wrong passphrase or unsupported format)")
        }
        throw SSHError.authFailed(user: user, method: method, reason: "the server refused the key (\(lastError))")
    }

    private func authenticateWithAgent(user: String) throws {
        guard let agent = libssh2_agent_init(raw) else { throw SSHError.agent(reason: "libssh2 could not start an agent client") }
        defer { libssh2_agent_free(agent) }
        guard libssh2_agent_connect(agent) == 0 else {
            throw SSHError.agent(reason: "cannot reach the agent at SSH_AUTH_SOCK (\(lastError))")
        }
        defer { _ = libssh2_agent_disconnect(agent) }
        guard libssh2_agent_list_identities(agent) == 0 else { throw SSHError.agent(reason: "cannot list its keys (\(lastError))") }
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>?
        var identity: UnsafeMutablePointer<libssh2_agent_publickey>?
        var tried = 0, skippedRSA = 0
        while libssh2_agent_get_identity(agent, &identity, previous) == 0, let id = identity {
            previous = id
            let blob = Array(UnsafeBufferPointer(start: id.pointee.blob, count: Int(id.pointee.blob_len)))
            if SSHWire.keyType(ofBlob: blob) == "ssh-rsa" { skippedRSA += 1; continue }
            tried += 1
            let rc = try retry("agent authentication") { libssh2_agent_userauth(agent, user, id) }
            if rc == 0 { return }
        }
        if tried == 0 && skippedRSA > 0 { throw SSHError.rsaKeyUnsupported(source: "in ssh-agent (it holds only RSA keys)") }
        if tried == 0 { throw SSHError.agent(reason: "the agent holds no keys") }
        throw SSHError.authFailed(user: user, method: "ssh-agent", reason: "the server refused all \(tried) usable agent keys")
    }
}
