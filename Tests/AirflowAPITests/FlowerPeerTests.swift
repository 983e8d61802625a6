import Foundation
import XCTest
import HTTPTransport
import FairflowTestSupport
@testable import AirflowAPI

/// Against Redis + a Celery worker + Flower from scripts/lib/flower-peer.sh.
final class FlowerPeerTests: XCTestCase {
    func flower(password: String? = nil) throws -> FlowerClient {
        let url = try requirePeer("FAIRFLOW_TEST_FLOWER_URL")
        let user = try requirePeer("FAIRFLOW_TEST_FLOWER_USER")
        let pass = try requirePeer("FAIRFLOW_TEST_FLOWER_PASSWORD")
        return FlowerClient(baseURL: URL(string: url)!, user: user, password: password ?? pass,
                            passwordSource: "FAIRFLOW_TEST_FLOWER_PASSWORD", http: CurlHTTPClient())
    }

    func testWorkersOnlineAndQueues() async throws {
        let client = try flower()
        let workers = try await client.workers()
        XCTAssertEqual(workers.count, 1, "\(workers)")
        let w = try XCTUnwrap(workers.first)
        XCTAssertTrue(w.name.hasPrefix("w1@"), w.name)
        XCTAssertTrue(w.online)
        XCTAssertEqual(w.queues, ["celery"])
        let queues = try await client.queues()
        XCTAssertEqual(queues.map(\.name), ["celery"])
    }

    func testTasksByStateAndActiveCount() async throws {
        let client = try flower()
        let done = try await client.apply("fftasks.add", args: [.number(40), .number(2)])
        let napping = try await client.apply("fftasks.nap", args: [.number(4)])
        let failed = try await client.apply("fftasks.fail", args: [])
        // The worker runs two at a time: add and fail finish at once, nap stays STARTED for 4 s.
        var success: [FlowerTask] = [], started: [FlowerTask] = [], failures: [FlowerTask] = []
        let deadline = Date().addingTimeInterval(10)
        repeat {
            try await Task.sleep(nanoseconds: 300_000_000)
            success = try await client.tasks(state: "SUCCESS")
            started = try await client.tasks(state: "started")
            failures = try await client.tasks(state: "FAILURE")
        } while Date() < deadline && !(success.contains { $0.id == done } && started.contains { $0.id == napping }
                                       && failures.contains { $0.id == failed })
        XCTAssertTrue(success.contains { $0.id == done && $0.name == "fftasks.add" }, "\(success)")
        XCTAssertTrue(started.contains { $0.id == napping }, "\(started)")
        XCTAssertTrue(failures.contains { $0.id == failed && $0.state == "FAILURE" }, "\(failures)")
        XCTAssertFalse(success.contains { $0.id == napping })
        let busy = try await client.workers()
        XCTAssertEqual(busy.first?.activeTasks, 1, "\(busy)")
        XCTAssertTrue(started.allSatisfy { $0.worker?.hasPrefix("w1@") ?? false })
    }

    func testWrongPasswordIsAuthFailed() async throws {
        let wrong = "wrong-\(UUID().uuidString.prefix(6))"
        do {
            _ = try await flower(password: wrong).workers()
            XCTFail("a wrong Flower password was accepted")
        } catch let e as AirflowError {
            guard case .authFailed = e else { return XCTFail("got \(e)") }
            XCTAssertEqual(e.exitCode, 4)
            XCTAssertFalse(e.description.contains(wrong))
        }
    }
}
