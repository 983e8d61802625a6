import Foundation
import HTTPTransport
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 proxy on 127.0.0.1 for tests: answers the first `failFirst` requests with `status`
/// (503 by default), then forwards everything to the real upstream peer. One request per connection.
final class FaultProxy: @unchecked Sendable {
    let port: UInt16
    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }
    private let listener: Int32
    private let upstream: String
    private let status: Int
    private let lock = NSLock()
    private var faultsLeft: Int
    private var _faulted = 0
    private var _forwarded = 0
    private var stopped = false
    private let http = CurlHTTPClient()

    var faulted: Int { lock.lock(); defer { lock.unlock() }; return _faulted }
    var forwarded: Int { lock.lock(); defer { lock.unlock() }; return _forwarded }

    init(upstream: URL, failFirst: Int, status: Int = 503) throws {
        var u = upstream.absoluteString
        while u.hasSuffix("/") { u.removeLast() }
        self.upstream = u
        self.faultsLeft = failFirst
        self.status = status
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.listener = fd
        self.port = UInt16(bigEndian: addr.sin_port)
        let t = Thread { [weak self] in self?.acceptLoop() }
        t.start()
    }

    func stop() {
        lock.lock(); stopped = true; lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }

    private func acceptLoop() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 { return }
            let t = Thread { [weak self] in self?.handle(c); close(c) }
            t.start()
        }
    }

    private func handle(_ c: Int32) {
        guard let (head, body) = readRequest(c) else { return }
        let lines = head.components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2 else { return }
        lock.lock()
        let fault = faultsLeft > 0
        if fault { faultsLeft -= 1; _faulted += 1 } else { _forwarded += 1 }
        lock.unlock()
        if fault {
            write(c, status: status, headers: [("Content-Type", "text/html")], body: Data("<html>\(status) fault proxy</html>".utf8))
            return
        }
        var req = HTTPRequest(method: String(parts[0]), url: URL(string: upstream + parts[1])!, body: body)
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            if ["host", "connection", "content-length", "expect"].contains(name.lowercased()) { continue }
            req.headers.append((name, line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox()
        Task { [http] in
            do { box.result = .success(try await http.send(req)) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        switch box.result {
        case .success(let r)?:
            let skip: Set<String> = ["content-length", "transfer-encoding", "connection"]
            write(c, status: r.status, headers: r.headers.filter { !skip.contains($0.key) }.map { ($0.key, $0.value) }, body: r.body)
        default:
            write(c, status: 502, headers: [], body: Data("upstream failed".utf8))
        }
    }

    private final class ResultBox: @unchecked Sendable { var result: Result<HTTPResponse, Error>? }

    private func readRequest(_ c: Int32) -> (String, Data)? {
        var data = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        let sep = Data("\r\n\r\n".utf8)
        while data.range(of: sep) == nil {
            let n = read(c, &buf, buf.count)
            if n <= 0 { return nil }
            data.append(buf, count: n)
        }
        let r = data.range(of: sep)!
        let head = String(decoding: data[..<r.lowerBound], as: UTF8.self)
        var body = Data(data[r.upperBound...])
        let length = head.components(separatedBy: "\r\n").compactMap { line -> Int? in
            let p = line.split(separator: ":", maxSplits: 1)
            guard p.count == 2, p[0].lowercased() == "content-length" else { return nil }
            return Int(p[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        while body.count < length {
            let n = read(c, &buf, min(buf.count, length - body.count))
            if n <= 0 { break }
            body.append(buf, count: n)
        }
        return (head, body)
    }

    private func write(_ c: Int32, status: Int, headers: [(String, String)], body: Data) {
        var head = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Status")\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let all = Data(head.utf8) + body
        all.withUnsafeBytes { raw in
            var off = 0
            while off < all.count {
                let n = Glibc.write(c, raw.baseAddress!.advanced(by: off), all.count - off)
                if n <= 0 { return }
                off += n
            }
        }
    }
}
