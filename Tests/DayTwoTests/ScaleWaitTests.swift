import AWSCore
import AWSServices
@testable import FairflowCore
import Foundation
import XCTest

/// The steady-state wait on recorded DescribeServices answers: progress, rollout failure, stopped-task reasons.
final class ScaleWaitTests: XCTestCase {
    static func services(desired: Int, running: Int, deployments: [String]) -> String {
        let deps = deployments.map { state in
            #"{"id":"ecs-svc/0512","status":"PRIMARY","desiredCount":\#(desired),"runningCount":\#(running),"pendingCount":\#(desired - running),"failedTasks":2,"rolloutState":"\#(state)","rolloutStateReason":"ECS deployment circuit breaker: tasks failed to start.","createdAt":1795575012.3,"updatedAt":1795575099.1}"#
        }.joined(separator: ",")
        return #"{"services":[{"serviceArn":"arn:aws:ecs:us-east-1:123456789012:service/C/W","serviceName":"W","clusterArn":"arn:aws:ecs:us-east-1:123456789012:cluster/C","status":"ACTIVE","desiredCount":\#(desired),"runningCount":\#(running),"pendingCount":\#(desired - running),"launchType":"FARGATE","deployments":[\#(deps)],"events":[{"id":"e1","createdAt":1795575090.0,"message":"(service W) has started 1 tasks: (task 0f3c9d5e)."}]}],"failures":[]}"#
    }

    func testWaitReportsEachChangeAndSucceedsWhenSteady() async throws {
        let aws = RecordedAWS(["DescribeServices": [Self.services(desired: 3, running: 1, deployments: ["IN_PROGRESS", "COMPLETED"]),
                                                    Self.services(desired: 3, running: 2, deployments: ["IN_PROGRESS"]),
                                                    Self.services(desired: 3, running: 3, deployments: ["COMPLETED"])]])
        let client = try aws.client()
        client.sleep = { _ in }
        let seen = LockedStrings()
        let s = try await ECS(client).waitUntilStable(cluster: "C", ["W"], minDelay: 0.001) { seen.add("\($0[0].runningCount)/\($0[0].desiredCount)") }
        XCTAssertEqual(s.first?.runningCount, 3)
        XCTAssertEqual(seen.all, ["1/3", "2/3", "3/3"])
    }

    func testACircuitBreakerRollbackFailsTheWaitWithItsReason() async throws {
        let aws = RecordedAWS(["DescribeServices": [Self.services(desired: 2, running: 0, deployments: ["FAILED"])]])
        let client = try aws.client()
        client.sleep = { _ in }
        do {
            _ = try await ECS(client).waitUntilStable(cluster: "C", ["W"], minDelay: 0.001)
            XCTFail("a FAILED rollout must not wait on")
        } catch let e as Waiter<[ECSService]>.Failed {
            XCTAssertEqual(e.reason, "service W: ECS deployment circuit breaker: tasks failed to start.")
        }
    }

    func testStoppedTaskReasonsNameExitCodesAndPullErrors() async throws {
        let f = RecordedAWS.fixture
        let aws = RecordedAWS([
            "ListTasks": [#"{"taskArns":["arn:aws:ecs:us-east-1:123456789012:task/C/0f3c9d5e8a7b4c2d9e1f0a3b5c7d9e1f"]}"#],
            "DescribeTasks": [#"{"tasks":["# + Self.taskJSON(f("describe-tasks-stopped-exit-3")) + "," + Self.taskJSON(f("describe-tasks-stopped-failed-to-start")) + "]}"],
        ])
        let why = try await Scale.stoppedReasons(ECS(try aws.client()), cluster: "C", service: "W")
        XCTAssertTrue(why.hasPrefix("; stopped tasks: 0f3c9d5e: "), why)
        XCTAssertTrue(why.contains("Essential container in task exited (LittleTaskContainer exit 3)"), why)
        XCTAssertTrue(why.contains("CannotPullContainerError"), why)
        XCTAssertEqual(aws.calls.first { $0.op == "ListTasks" }?.body["desiredStatus"] as? String, "STOPPED")
    }

    static func taskJSON(_ answer: String) -> String {
        let obj = try! JSONSerialization.jsonObject(with: Data(answer.utf8)) as! [String: Any]
        return String(decoding: try! JSONSerialization.data(withJSONObject: (obj["tasks"] as! [Any])[0]), as: UTF8.self)
    }
}

final class LockedStrings: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}
