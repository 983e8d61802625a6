import Foundation

/// A tiny HTTP/1.1 server on 127.0.0.1 for tests that need a scripted peer (metadata endpoints,
/// flaky servers). One connection at a time; `Connection: close` after each response.
public final class StubHTTPServer: @unchecked Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var headers: [String: String]
        public var body: Data
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data
        public init(status: Int = 200, headers: [String: String] = [:], body: String = "") {
            self.status = status
            self.headers = headers
            self.body = Data(body.utf8)
        }
        /// Close the connection without answering (a dropped connection).
        public static let drop = Response(status: -1)
    }

    public let port: Int
    private let fd: Int32
    private let handler: @Sendable (Request) -> Response
    private let lock = NSLock()
    private var _requests: [Request] = []
    private var stopped = false

    public var requests: [Request] { lock.withLock { _requests } }
    public var url: String { "http://127.0.0.1:\(port)" }

    public init(handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = handler
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(s, 16) == 0 else { close(s); throw NSError(domain: "StubHTTPServer", code: 1) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        fd = s
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread.detachNewThread { [weak self] in self?.serve() }
    }

    deinit { stop() }

    public func stop() {
        let already = lock.withLock { () -> Bool in defer { stopped = true }; return stopped }
        if !already { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    }

    private func serve() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            handle(c)
        }
    }

    private func handle(_ c: Int32) {
        defer { close(c) }
        var data = Data()
        var buf = [UInt8](repeating: 0, count: 65536)
        var headerEnd: Range<Data.Index>?
        while headerEnd == nil {
            let n = read(c, &buf, buf.count)
            if n <= 0 { return }
            data.append(buf, count: n)
            headerEnd = data.range(of: Data("\r\n\r\n".utf8))
        }
        let head = String(decoding: data[..<headerEnd!.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = head[0].split(separator: " ")
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        var body = Data(data[headerEnd!.upperBound...])
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while body.count < length {
            let n = read(c, &buf, buf.count)
            if n <= 0 { break }
            body.append(buf, count: n)
        }
        let req = Request(method: parts.count > 0 ? String(parts[0]) : "", path: parts.count > 1 ? String(parts[1]) : "/",
                          headers: headers, body: body)
        lock.withLock { _requests.append(req) }
        let resp = handler(req)
        if resp.status < 0 { return }
        var out = "HTTP/1.1 \(resp.status) \(resp.status < 400 ? "OK" : "Error")\r\nContent-Length: \(resp.body.count)\r\nConnection: close\r\n"
        for (k, v) in resp.headers { out += "\(k): \(v)\r\n" }
        out += "\r\n"
        var bytes = Data(out.utf8)
        bytes.append(resp.body)
        bytes.withUnsafeBytes { p in _ = write(c, p.baseAddress, p.count) }
    }
}
