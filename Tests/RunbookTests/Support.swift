import AWSCore
import FairflowCore
import FairflowTestSupport
import Foundation
import HTTPTransport
import Runbook
import XCTest

/// A scratch directory per test: runbooks, `.fairflow/` and the binary's working directory.
func scratch(_ name: String = #function) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rb-\(name.filter { $0.isLetter })-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

func write(_ text: String, _ dir: URL, _ name: String = "rb.yaml") throws -> String {
    let p = dir.appendingPathComponent(name).path
    try text.write(toFile: p, atomically: true, encoding: .utf8)
    return p
}

/// Where test.flaky counts its calls in-process (never the package's working directory).
let testStateDir = FileManager.default.temporaryDirectory.appendingPathComponent("rb-test-state-\(getpid())").path

let testOperations: [String: any FairflowOperation.Type] = {
    var d: [String: any FairflowOperation.Type] = [:]
    for op in TestOperations.all + [Whoami.self, Doctor.self] { d[op.id] = op }
    return d
}()

/// An in-process runner over the test operations, its output captured.
func inProcessRunner(yes: Bool = false, settings: GlobalSettings? = nil) -> (RunbookRunner, Terminal.Capture, DelayLog) {
    var s = settings ?? GlobalSettings()
    s.yes = yes
    s.environment["FAIRFLOW_TEST_STATE_DIR"] = testStateDir
    let (t, cap) = Terminal.capture()
    let r = RunbookRunner(settings: s, terminal: t, operations: testOperations)
    r.identity = nil
    let delays = DelayLog()
    r.sleep = { d in delays.add(d) }
    return (r, cap, delays)
}

final class DelayLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [TimeInterval] = []
    func add(_ d: TimeInterval) { lock.withLock { list.append(d) } }
    var delays: [TimeInterval] { lock.withLock { list } }
}

func journalEvents(_ dir: URL) throws -> [JournalEvent] {
    let runs = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(".fairflow/runs").path)
    return try runs.flatMap { try Journal.read(dir.appendingPathComponent(".fairflow/runs/\($0)/journal.jsonl").path) }
}

func runIds(_ dir: URL) -> [String] {
    (try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent(".fairflow/runs").path)) ?? []
}

/// The built binary in a working directory; returns when it ends (or is killed).
struct Binary {
    struct Result { var stdout: String; var stderr: String; var status: Int32 }
    var environment: [String: String]
    var cwd: URL

    @discardableResult
    func run(_ args: [String], stdin: String? = "", timeout: TimeInterval = 120) throws -> Result {
        let p = try start(args)
        let out = p.1, err = p.2
        var o = Data(), e = Data()
        let g = DispatchGroup()
        g.enter(); DispatchQueue.global().async { o = out.fileHandleForReading.readDataToEndOfFile(); g.leave() }
        g.enter(); DispatchQueue.global().async { e = err.fileHandleForReading.readDataToEndOfFile(); g.leave() }
        if g.wait(timeout: .now() + timeout) == .timedOut { p.0.terminate(); XCTFail("fairflow \(args) timed out") }
        p.0.waitUntilExit()
        return Result(stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self), status: p.0.terminationStatus)
    }

    func start(_ args: [String]) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = Repo.binary
        p.arguments = args
        p.environment = environment
        p.currentDirectoryURL = cwd
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out; p.standardError = err; p.standardInput = inp
        try p.run()
        try? inp.fileHandleForWriting.close()
        return (p, out, err)
    }
}

/// The fault proxy (scripts/lib/fault-proxy) in front of a local AWS, with its request log.
final class FaultProxy {
    let peer: PeerProcess
    var endpoint: String { peer["FAULT_PROXY_ENDPOINT"]! }
    init(upstream: String) throws {
        peer = try PeerProcess(Repo.root.appendingPathComponent("scripts/lib/fault-proxy").path, ["--upstream", upstream])
    }
    struct Entry: Decodable { var operation: String?; var mutating: Bool?; var client_request_token: String?; var status: Int?; var fault: String? }
    func requests() throws -> [Entry] {
        let r = try runProcess("/usr/bin/curl", ["-s", "\(endpoint)/_fault/requests"])
        return try JSONDecoder().decode([Entry].self, from: Data(r.stdout.utf8))
    }
    func clear() throws { try runProcess("/usr/bin/curl", ["-s", "-XDELETE", "\(endpoint)/_fault/requests"]) }
    func addRule(_ json: String) throws { try runProcess("/usr/bin/curl", ["-s", "-XPOST", "\(endpoint)/_fault/rules", "-d", json]) }
    func stop() { peer.stop() }
}

func waitUntil(_ timeout: TimeInterval, _ what: String, _ cond: () -> Bool) throws {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end { if cond() { return }; usleep(20_000) }
    throw NSError(domain: "wait", code: 1, userInfo: [NSLocalizedDescriptionKey: "timed out waiting for \(what)"])
}
