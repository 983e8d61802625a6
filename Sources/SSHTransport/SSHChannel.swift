import CSSH2
import Foundation

/// One libssh2 channel (exec or direct-tcpip); freed with the object. Keeps its session alive.
public final class SSHChannel {
    let raw: OpaquePointer
    let session: SSHSession

    init(raw: OpaquePointer, session: SSHSession) {
        self.raw = raw
        self.session = session
    }

    deinit {
        _ = try? session.retry("channel free") { libssh2_channel_free(raw) }
    }

    /// Waits for data; returns an empty array at end of stream.
    public func read(max: Int = 32768) throws -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: max)
        let deadline = Date() + session.timeout
        while true {
            let n = libssh2_channel_read_ex(raw, 0, &buffer, max)
            if n > 0 { return buffer[0 ..< n].map { UInt8(bitPattern: $0) } }
            if n == 0 && libssh2_channel_eof(raw) != 0 { return [] }
            if n < 0 && n != Int(LIBSSH2_ERROR_EAGAIN) {
                throw SSHError.channel(operation: "channel read", reason: session.lastError)
            }
            try session.waitSocket(deadline: deadline, operation: "channel read")
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try bytes[offset...].withUnsafeBufferPointer { chunk in
                try session.retry("channel write") {
                    chunk.withMemoryRebound(to: CChar.self) { libssh2_channel_write_ex(raw, 0, $0.baseAddress, $0.count) }
                }
            }
            if n < 0 { throw SSHError.channel(operation: "channel write", reason: session.lastError) }
            offset += n
        }
    }

    public func sendEOF() throws {
        _ = try session.retry("channel eof") { libssh2_channel_send_eof(raw) }
    }
}
