import Foundation
import XCTest

/// Where the repository is (tests launch its scripts).
public enum Repo {
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// The built `fairflow` binary beside the test bundle.
    public static var binary: URL {
        if let b = ProcessInfo.processInfo.environment["FAIRFLOW_BIN"] { return URL(fileURLWithPath: b) }
        let bundle = Bundle.main.bundleURL
        for dir in [bundle, bundle.deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent("fairflow")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return root.appendingPathComponent(".build/debug/fairflow")
    }
}

/// A peer that scripts/test provides through an environment variable. Missing: skip locally,
/// fail when FAIRFLOW_REQUIRE_PEERS=1 (CI), so a missing peer never passes silently there.
public func requirePeer(_ variable: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let env = ProcessInfo.processInfo.environment
    if let v = env[variable], !v.isEmpty { return v }
    if env["FAIRFLOW_REQUIRE_PEERS"] == "1" {
        XCTFail("\(variable) is not set: scripts/test should have started this peer", file: file, line: line)
        throw XCTSkip("\(variable) missing")
    }
    throw XCTSkip("\(variable) not set (run scripts/test to start the real peer)")
}

/// Requires a program on PATH (installed by scripts/install-deps); same skip/fail rule as `requirePeer`.
public func requireTool(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    if let p = which(name) { return p }
    if ProcessInfo.processInfo.environment["FAIRFLOW_REQUIRE_PEERS"] == "1" {
        XCTFail("\(name) is not installed: scripts/install-deps should install it", file: file, line: line)
    }
    throw XCTSkip("\(name) not on PATH")
}

public func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let p = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

/// A process that prints KEY=VALUE lines and then READY (scripts/local-aws, scripts/lib/*-peer*).
public final class PeerProcess: @unchecked Sendable {
    public let process = Process()
    public private(set) var values: [String: String] = [:]
    public let logURL: URL

    public init(_ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil, timeout: TimeInterval = 60) throws {
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("fairflow-peer-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let e = environment { process.environment = e }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: logURL)
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = Data()
        let handle = out.fileHandleForReading
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            let text = String(decoding: buffer, as: UTF8.self)
            if text.split(separator: "\n").contains("READY") {
                for line in text.split(separator: "\n") {
                    if let eq = line.firstIndex(of: "=") { values[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
                }
                // Keep draining stdout so the peer never blocks on a full pipe.
                Thread.detachNewThread { while !handle.availableData.isEmpty {} }
                return
            }
        }
        stop()
        let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        throw NSError(domain: "PeerProcess", code: 1, userInfo: [NSLocalizedDescriptionKey:
            "\(executable) did not print READY within \(Int(timeout)) s; its log:\n\(log.suffix(2000))"])
    }

    public subscript(_ key: String) -> String? { values[key] }

    public var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit { stop() }
}

/// The project's local AWS (scripts/local-aws): moto on a free loopback port, signatures checked.
public final class LocalAWS: @unchecked Sendable {
    public let peer: PeerProcess
    public var endpoint: String { peer["LOCAL_AWS_ENDPOINT"]! }
    public var accessKeyId: String { peer["AWS_ACCESS_KEY_ID"]! }
    public var secretAccessKey: String { peer["AWS_SECRET_ACCESS_KEY"]! }

    /// `serverEnvironment` adds variables to the server's own environment (e.g. LOCAL_AWS_TASKS_RUN=0).
    public init(arguments: [String] = [], serverEnvironment: [String: String] = [:]) throws {
        var env: [String: String]? = nil
        if !serverEnvironment.isEmpty { env = ProcessInfo.processInfo.environment.merging(serverEnvironment) { _, new in new } }
        peer = try PeerProcess(Repo.root.appendingPathComponent("scripts/local-aws").path, arguments, environment: env)
    }

    /// The environment a user would have: keys, region, endpoint; no instance metadata lookups.
    public var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        for k in env.keys where k.hasPrefix("AWS_") { env.removeValue(forKey: k) }
        env["AWS_ACCESS_KEY_ID"] = accessKeyId
        env["AWS_SECRET_ACCESS_KEY"] = secretAccessKey
        env["AWS_REGION"] = "us-east-1"
        env["AWS_DEFAULT_REGION"] = "us-east-1"
        env["AWS_ENDPOINT_URL"] = endpoint
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        env["AWS_CONFIG_FILE"] = "/nonexistent/fairflow-test-config"
        env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/fairflow-test-credentials"
        env["NO_COLOR"] = "1"
        return env
    }

    public func stop() { peer.stop() }
}

/// Runs a program to completion: stdout, stderr, exit status.
public struct ProcessResult: Sendable {
    public var stdout: String
    public var stderr: String
    public var status: Int32
}

@discardableResult
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                       stdin: String? = nil, timeout: TimeInterval = 120) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let e = environment { p.environment = e }
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    try p.run()
    if let s = stdin { inp.fileHandleForWriting.write(Data(s.utf8)) }
    try? inp.fileHandleForWriting.close()
    var outData = Data(), errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    if group.wait(timeout: .now() + timeout) == .timedOut {
        p.terminate()
        throw NSError(domain: "runProcess", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(executable) \(arguments) timed out"])
    }
    p.waitUntilExit()
    return ProcessResult(stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self),
                         status: p.terminationStatus)
}

/// Runs the built fairflow binary as a user would.
@discardableResult
public func fairflow(_ arguments: [String], environment: [String: String], stdin: String? = nil, timeout: TimeInterval = 120) throws -> ProcessResult {
    try runProcess(Repo.binary.path, arguments, environment: environment, stdin: stdin, timeout: timeout)
}

/// The aws CLI as the oracle: JSON output parsed.
public func awsCLI(_ arguments: [String], environment: [String: String]) throws -> Any {
    guard let aws = which("aws") else { throw XCTSkip("aws CLI not installed") }
    let r = try runProcess(aws, arguments + ["--output", "json"], environment: environment)
    guard r.status == 0 else {
        throw NSError(domain: "aws", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: "aws \(arguments): \(r.stderr)"])
    }
    if r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return [String: Any]() }
    return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
}
