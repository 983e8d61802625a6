import Foundation
import XCTest
import HTTPTransport
@testable import AirflowAPI

/// A peer's env var: skip the test when it is missing, unless FAIRFLOW_REQUIRE_PEERS=1 (then fail).
func requirePeer(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let env = ProcessInfo.processInfo.environment
    if let v = env[name], !v.isEmpty { return v }
    if env["FAIRFLOW_REQUIRE_PEERS"] == "1" {
        XCTFail("\(name) is not set but FAIRFLOW_REQUIRE_PEERS=1: start the peer with scripts/lib/airflow-peer.sh or flower-peer.sh",
                file: file, line: line)
        throw XCTSkip("\(name) missing")
    }
    throw XCTSkip("\(name) not set: start scripts/lib/airflow-peer.sh / flower-peer.sh and export its values")
}

/// One running Airflow from scripts/lib/airflow-peer.sh.
struct AirflowPeer {
    let major: Int
    let url: URL
    let user: String
    let password: String

    static func get(_ major: Int) throws -> AirflowPeer {
        let url = try requirePeer("FAIRFLOW_TEST_AIRFLOW\(major)_URL")
        let user = try requirePeer("FAIRFLOW_TEST_AIRFLOW_USER")
        let password = try requirePeer("FAIRFLOW_TEST_AIRFLOW_PASSWORD")
        return AirflowPeer(major: major, url: URL(string: url)!, user: user, password: password)
    }

    var label: String { "Airflow \(major)" }

    func connect(password: String? = nil, url: URL? = nil, retry: AirflowRetryPolicy = .standard) async throws -> any AirflowClient {
        try await AirflowAPI.connect(baseURL: url ?? self.url, user: user, password: password ?? self.password,
                                     passwordSource: "FAIRFLOW_TEST_AIRFLOW_PASSWORD", http: CurlHTTPClient(), retry: retry)
    }
}

/// Thread-safe list for collecting progress reports from a @Sendable callback.
final class Collected<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ t: T) { lock.lock(); items.append(t); lock.unlock() }
    var all: [T] { lock.lock(); defer { lock.unlock() }; return items }
}
