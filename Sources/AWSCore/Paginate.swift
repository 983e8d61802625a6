import Foundation

/// Pages of a list call as an `AsyncSequence`: `next(token)` returns the items and the next token.
public struct Paginator<Item: Sendable>: AsyncSequence, Sendable {
    public typealias Element = [Item]
    let fetch: @Sendable (String?) async throws -> ([Item], String?)
    /// Guards against services that hand back the same token forever.
    public var maxPages = 10_000

    public init(_ fetch: @escaping @Sendable (String?) async throws -> ([Item], String?)) { self.fetch = fetch }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let fetch: @Sendable (String?) async throws -> ([Item], String?)
        var token: String?
        var done = false
        var pages = 0
        let maxPages: Int
        var seen: Set<String> = []

        public mutating func next() async throws -> [Item]? {
            guard !done, pages < maxPages else { return nil }
            let (items, nextToken) = try await fetch(token)
            pages += 1
            if let t = nextToken, !t.isEmpty, !seen.contains(t) {
                seen.insert(t)
                token = t
            } else {
                done = true
            }
            return items
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(fetch: fetch, maxPages: maxPages) }

    /// Every item of every page.
    public func all() async throws -> [Item] {
        var out: [Item] = []
        for try await page in self { out += page }
        return out
    }
}

/// A waiter: poll until an acceptor says success or failure, or the deadline passes.
public struct Waiter<Output: Sendable>: Sendable {
    public enum State: Sendable { case success, failure(String), retry }
    public var minDelay: TimeInterval
    public var maxDelay: TimeInterval
    public var timeout: TimeInterval
    public var acceptors: [@Sendable (Result<Output, Error>) -> State?]

    public init(minDelay: TimeInterval = 2, maxDelay: TimeInterval = 30, timeout: TimeInterval = 600,
                acceptors: [@Sendable (Result<Output, Error>) -> State?]) {
        self.minDelay = minDelay
        self.maxDelay = maxDelay
        self.timeout = timeout
        self.acceptors = acceptors
    }

    public struct Failed: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    public struct TimedOut: Error, CustomStringConvertible {
        public let after: TimeInterval
        public var description: String { "still waiting after \(Int(after)) s — the operation may still finish; check again later" }
    }

    /// Polls `poll`; an error no acceptor matches is thrown at once.
    public func wait(sleep: @Sendable (TimeInterval) async throws -> Void = { try await Task.sleep(nanoseconds: UInt64($0 * 1e9)) },
                     poll: @Sendable () async throws -> Output) async throws -> Output {
        let deadline = Date().addingTimeInterval(timeout)
        var delay = minDelay
        while true {
            let result: Result<Output, Error>
            do { result = .success(try await poll()) } catch { result = .failure(error) }
            var matched: State?
            for a in acceptors { if let s = a(result) { matched = s; break } }
            switch matched {
            case .success?:
                if case .success(let o) = result { return o }
                throw Failed(reason: "the waiter matched success on an error")
            case .failure(let why)?:
                throw Failed(reason: why)
            case .retry?:
                break
            case nil:
                if case .failure(let e) = result { throw e }
            }
            if Date().addingTimeInterval(delay) > deadline { throw TimedOut(after: timeout) }
            try await sleep(delay)
            delay = min(maxDelay, delay * 1.5)
        }
    }
}
