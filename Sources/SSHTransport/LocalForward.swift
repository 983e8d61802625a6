import CSSH2
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Listens on 127.0.0.1 and carries each accepted connection through its own direct-tcpip channel
/// to `remoteHost:remotePort`. One thread owns the session while the forward runs (libssh2 is not
/// thread-safe), pumping all connections with poll(2) over non-blocking sockets and channels.
public final class LocalForward {
    public let localPort: Int
    public let remoteHost: String
    public let remotePort: Int
    private let session: SSHSession
    private let listener: Int32
    private let wake: (read: Int32, write: Int32)
    private let state = NSLock()
    private var stopping = false
    private var finished = false
    private var failureMessage: String?
    private var acceptedCount = 0
    private let done = DispatchSemaphore(value: 0)

    /// Binds 127.0.0.1:`localPort` (0 picks a free port) and starts forwarding.
    public init(session: SSHSession, remoteHost: String, remotePort: Int, localPort: Int = 0) throws {
        self.session = session
        self.remoteHost = remoteHost
        self.remotePort = remotePort
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SSHError.channel(operation: "local forward", reason: String(cString: strerror(errno))) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(localPort).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            throw SSHError.channel(operation: "listening on 127.0.0.1:\(localPort)", reason: "\(why) — choose another --local-port")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.localPort = Int(UInt16(bigEndian: addr.sin_port))
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        listener = fd
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            close(fd)
            throw SSHError.channel(operation: "local forward", reason: String(cString: strerror(errno)))
        }
        wake = (pipeFDs[0], pipeFDs[1])
        _ = fcntl(wake.read, F_SETFL, O_NONBLOCK)
        do { try session.setForwarding(true) } catch {
            close(fd); close(wake.read); close(wake.write)
            throw error
        }
        libssh2_keepalive_config(session.raw, 0, 30)
        // A joinable pthread, so stop() returns only once the pump has let go of the session: a
        // libssh2 free racing process exit (OpenSSL's atexit cleanup) would crash.
        let me = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let forward = Unmanaged<LocalForward>.fromOpaque(arg!).takeRetainedValue()
            forward.pump()
            return nil
        }, me)
        guard rc == 0 else {
            Unmanaged<LocalForward>.fromOpaque(me).release()
            try? session.setForwarding(false)
            close(fd); close(wake.read); close(wake.write)
            throw SSHError.channel(operation: "local forward", reason: "cannot start its thread (\(rc))")
        }
        thread = tid
    }

    private var thread: pthread_t?
    private var joined = false

    /// Call stop() when done: the pump thread keeps the forward alive until then.

    /// Connections accepted so far.
    public var connections: Int { state.lock(); defer { state.unlock() }; return acceptedCount }

    /// Why forwarding ended on its own (the SSH session died), if it did.
    public var failure: String? { state.lock(); defer { state.unlock() }; return failureMessage }

    /// Stops listening, closes every channel and connection, and returns the session to its owner.
    public func stop() {
        state.lock()
        let already = stopping
        stopping = true
        state.unlock()
        if !already {
            var byte: UInt8 = 1
            _ = write(wake.write, &byte, 1)
        }
        state.lock()
        let tid = joined ? nil : thread
        joined = true
        state.unlock()
        if let tid { pthread_join(tid, nil) }
    }

    /// Blocks until the forward ends (stop() from another thread, or the session failing).
    public func wait() { done.wait(); done.signal() }

    // MARK: the pump

    private final class Link {
        let fd: Int32
        var channel: OpaquePointer?
        var toRemote: [UInt8] = []
        var toLocal: [UInt8] = []
        var localEOF = false, remoteEOF = false, sentEOF = false, shutLocal = false
        init(fd: Int32) { self.fd = fd }
    }

    private func pump() {
        var links: [Link] = []
        var buffer = [CChar](repeating: 0, count: 32768)
        var failure: String?
        let eagain = Int(LIBSSH2_ERROR_EAGAIN)
        loop: while true {
            state.lock(); let stop = stopping; state.unlock()
            if stop { break }
            var progressed = false
            // Accept.
            while true {
                let fd = accept(listener, nil, nil)
                if fd < 0 { break }
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                links.append(Link(fd: fd))
                state.lock(); acceptedCount += 1; state.unlock()
                progressed = true
            }
            for link in links {
                if link.channel == nil {
                    if let ch = libssh2_channel_direct_tcpip_ex(session.raw, remoteHost, Int32(remotePort), "127.0.0.1", 22) {
                        link.channel = ch
                        progressed = true
                    } else if session.lastErrno != LIBSSH2_ERROR_EAGAIN {
                        // The remote side refused: drop this client, keep forwarding for others.
                        FileHandle.standardError.write(Data("fairflow: tunnel to \(remoteHost):\(remotePort) refused: \(session.lastError)\n".utf8))
                        link.localEOF = true; link.remoteEOF = true
                    }
                    if link.channel == nil { continue }
                }
                guard let ch = link.channel else { continue }
                // local → buffer
                if !link.localEOF && link.toRemote.count < 256 * 1024 {
                    let n = Glibc.recv(link.fd, &buffer, buffer.count, 0)
                    if n > 0 { link.toRemote += buffer[0 ..< n].map { UInt8(bitPattern: $0) }; progressed = true }
                    else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { link.localEOF = true; progressed = true }
                }
                // buffer → channel
                if !link.toRemote.isEmpty {
                    let n = link.toRemote.withUnsafeBufferPointer { p in
                        p.withMemoryRebound(to: CChar.self) { libssh2_channel_write_ex(ch, 0, $0.baseAddress, $0.count) }
                    }
                    if n > 0 { link.toRemote.removeFirst(n); progressed = true }
                    else if n < 0 && n != eagain { failure = "channel write: \(session.lastError)"; link.remoteEOF = true; link.localEOF = true }
                }
                if link.localEOF && link.toRemote.isEmpty && !link.sentEOF {
                    let rc = libssh2_channel_send_eof(ch)
                    if rc != LIBSSH2_ERROR_EAGAIN { link.sentEOF = true; progressed = true }
                }
                // channel → buffer
                if !link.remoteEOF && link.toLocal.count < 256 * 1024 {
                    let n = libssh2_channel_read_ex(ch, 0, &buffer, buffer.count)
                    if n > 0 { link.toLocal += buffer[0 ..< n].map { UInt8(bitPattern: $0) }; progressed = true }
                    else if n == 0 && libssh2_channel_eof(ch) != 0 { link.remoteEOF = true; progressed = true }
                    else if n < 0 && n != eagain { link.remoteEOF = true; progressed = true }
                }
                // buffer → local
                if !link.toLocal.isEmpty {
                    let n = link.toLocal.withUnsafeBufferPointer { Glibc.send(link.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if n > 0 { link.toLocal.removeFirst(n); progressed = true }
                    else if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK { link.toLocal = []; link.remoteEOF = true; link.localEOF = true }
                }
                if link.remoteEOF && link.toLocal.isEmpty && !link.shutLocal {
                    shutdown(link.fd, Int32(SHUT_WR)); link.shutLocal = true
                }
            }
            // Retire finished links.
            links.removeAll { link in
                guard link.localEOF && link.remoteEOF && link.toLocal.isEmpty && (link.toRemote.isEmpty || link.channel == nil) else { return false }
                close(link.fd)
                if let ch = link.channel { Self.freeChannel(ch, session: session) }
                return true
            }
            if let failure, [LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_RECV].contains(session.lastErrno) {
                state.lock(); failureMessage = failure; state.unlock()
                break loop
            }
            var next: Int32 = 0
            _ = libssh2_keepalive_send(session.raw, &next)
            if progressed { continue }
            // Sleep until something can move.
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: session.socket, events: Int16(POLLIN), revents: 0)]
            if libssh2_session_block_directions(session.raw) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { fds[2].events |= Int16(POLLOUT) }
            for link in links {
                var events: Int16 = 0
                if !link.localEOF && link.toRemote.count < 256 * 1024 && link.channel != nil { events |= Int16(POLLIN) }
                if !link.toLocal.isEmpty { events |= Int16(POLLOUT) }
                fds.append(pollfd(fd: link.fd, events: events, revents: 0))
            }
            _ = poll(&fds, nfds_t(fds.count), 200)
            if fds[2].revents & Int16(POLLHUP | POLLERR) != 0 {
                state.lock(); failureMessage = "the SSH connection to the bastion was closed"; state.unlock()
                break loop
            }
        }
        for link in links {
            close(link.fd)
            if let ch = link.channel { Self.freeChannel(ch, session: session) }
        }
        close(listener)
        close(wake.read)
        close(wake.write)
        try? session.setForwarding(false)
        state.lock(); finished = true; state.unlock()
        done.signal()
    }

    private static func freeChannel(_ ch: OpaquePointer, session: SSHSession) {
        _ = try? session.retry("channel close") { libssh2_channel_close(ch) }
        _ = try? session.retry("channel free") { libssh2_channel_free(ch) }
    }
}
