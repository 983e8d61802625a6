import FairflowTestSupport
import Foundation
import HTTPTransport

/// A gateway in front of a real peer, like the ALB while Airflow starts: answers the first `failFirst`
/// requests with `status` (503 by default), then forwards everything to the upstream peer.
final class FaultProxy: @unchecked Sendable {
    private let server: StubHTTPServer
    private let counts = Counts()
    var url: URL { URL(string: server.url)! }
    var faulted: Int { counts.get().faulted }
    var forwarded: Int { counts.get().forwarded }

    private final class Counts: @unchecked Sendable {
        private let lock = NSLock()
        private var faultsLeft = 0, faulted = 0, forwarded = 0
        init(_ faults: Int = 0) { faultsLeft = faults }
        func set(_ n: Int) { lock.withLock { faultsLeft = n } }
        /// True when this request gets the fault.
        func next() -> Bool {
            lock.withLock {
                if faultsLeft > 0 { faultsLeft -= 1; faulted += 1; return true }
                forwarded += 1
                return false
            }
        }
        func get() -> (faulted: Int, forwarded: Int) { lock.withLock { (faulted, forwarded) } }
    }

    private final class Box: @unchecked Sendable { var response: HTTPResponse? }

    init(upstream: URL, failFirst: Int, status: Int = 503) throws {
        var base = upstream.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let counts = self.counts
        counts.set(failFirst)
        let http = CurlHTTPClient()
        let upstreamBase = base
        server = try StubHTTPServer { req in
            if counts.next() {
                return StubHTTPServer.Response(status: status, headers: ["Content-Type": "text/html"], body: "<html>\(status) fault proxy</html>")
            }
            var forward = HTTPRequest(method: req.method, url: URL(string: upstreamBase + req.path)!, body: req.body)
            for (name, value) in req.headers where !["host", "connection", "content-length", "expect"].contains(name) {
                forward.headers.append((name, value))
            }
            // The stub's handler is synchronous; the transport is async.
            let done = DispatchSemaphore(value: 0)
            let box = Box()
            Task {
                box.response = try? await http.send(forward)
                done.signal()
            }
            done.wait()
            guard let r = box.response else { return StubHTTPServer.Response(status: 502, body: "upstream failed") }
            let skip: Set<String> = ["content-length", "transfer-encoding", "connection"]
            var out = StubHTTPServer.Response(status: r.status, headers: r.headers.filter { !skip.contains($0.key) })
            out.body = r.body
            return out
        }
    }

    func stop() { server.stop() }
}
