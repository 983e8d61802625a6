import Foundation
import XCTest
import HTTPTransport
import FairflowTestSupport
@testable import AirflowAPI

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
