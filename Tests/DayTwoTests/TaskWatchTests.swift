import AWSCore
import AWSServices
@testable import FairflowCore
import Foundation
import HTTPTransport
import XCTest

/// Answers AWS JSON calls from fixture files by X-Amz-Target, in order; records what was asked.
final class RecordedAWS: HTTPClient, @unchecked Sendable {
    private let lock = NSLock()
    private var queues: [String: [String]]
    private(set) var calls: [(op: String, body: [String: Any])] = []

    init(_ queues: [String: [String]]) { self.queues = queues }

    static func fixture(_ name: String) -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Recorded/\(name).json")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? "{}"
    }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let target = request.headers.first { $0.name.lowercased() == "x-amz-target" }?.value ?? ""
        let op = String(target.split(separator: ".").last ?? "")
        let body = (try? JSONSerialization.jsonObject(with: request.body)) as? [String: Any] ?? [:]
        let answer: String = lock.withLock {
            calls.append((op, body))
            guard var q = queues[op], !q.isEmpty else { return "" }
            // The last answer repeats: a poll after the end sees the same state.
            let next = q.count > 1 ? q.removeFirst() : q[0]
            queues[op] = q
            return next
        }
        guard !answer.isEmpty else {
            return HTTPResponse(status: 400, headers: ["x-amzn-requestid": "test"], body: Data("{\"__type\":\"UnknownOperationException\"}".utf8))
        }
        return HTTPResponse(status: 200, headers: ["x-amzn-requestid": "test"], body: Data(answer.utf8))
    }

    func client() throws -> AWSClient {
        AWSClient(http: self, region: try Region(validating: "us-east-1"),
                  endpoints: EndpointResolver(override: URL(string: "http://127.0.0.1:9"), environment: [:]),
                  credentials: StaticCredentialProvider(AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "test", source: "test")))
    }
}

final class TaskWatchTests: XCTestCase {
    let arn = "arn:aws:ecs:us-east-1:123456789012:task/FairflowStack-Cluster-4WGX8JJ84ORU/0f3c9d5e8a7b4c2d9e1f0a3b5c7d9e1f"
    let stream = "FairflowExternalTask/LittleTaskContainer/0f3c9d5e8a7b4c2d9e1f0a3b5c7d9e1f"

    func watch(_ aws: RecordedAWS) throws -> TaskWatch {
        let c = try aws.client()
        return TaskWatch(ecs: ECS(c), logs: CloudWatchLogs(c), cluster: "FairflowStack-Cluster-4WGX8JJ84ORU", container: "LittleTaskContainer",
                         logGroup: "FairflowStack-ExternalTaskLogGroup-RIMBPLSWMY3Y", pollSeconds: 0, timeoutSeconds: 60)
    }

    func testFollowsToStoppedPrintsEachLogLineOnceAndGivesTheContainerExitCode() async throws {
        let f = RecordedAWS.fixture
        // The log is read after each DescribeTasks; later polls see the same events again (and must not repeat them).
        let aws = RecordedAWS([
            "DescribeTasks": [f("describe-tasks-provisioning"), f("describe-tasks-running"), f("describe-tasks-running"), f("describe-tasks-stopped-exit-3")],
            "FilterLogEvents": ["{\"events\":[]}", f("filter-log-events-page-1"), f("filter-log-events-page-2"),
                                f("filter-log-events-page-1"), f("filter-log-events-page-2"), f("filter-log-events-page-1"), f("filter-log-events-page-2")],
        ])
        let (term, cap) = Terminal.capture()
        let task = try await watch(aws).follow(arn, stream: stream, terminal: term, json: false, sleep: { _ in })
        XCTAssertEqual(task.lastStatus, "STOPPED")
        XCTAssertEqual(task.stopCode, "EssentialContainerExited")
        XCTAssertEqual(try TaskWatch.exitCode(task, container: "LittleTaskContainer"), 3)
        XCTAssertEqual(cap.stdout, "working\nTraceback (most recent call last):\nSystemExit: 3\n")
        XCTAssertEqual(cap.stderr, "task 0f3c9d5e: PROVISIONING\ntask 0f3c9d5e: RUNNING\ntask 0f3c9d5e: STOPPED\n")
        let describes = aws.calls.filter { $0.op == "DescribeTasks" }
        XCTAssertEqual(describes.count, 4)
        XCTAssertEqual(describes.first?.body["tasks"] as? [String], [arn])
        let filters = aws.calls.filter { $0.op == "FilterLogEvents" }
        XCTAssertEqual(filters.first?.body["logStreamNames"] as? [String], [stream])
        XCTAssertTrue(filters.contains { $0.body["nextToken"] as? String == "Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCrI7cozEgzRVMd-1" }, "pages are followed")
    }

    func testATaskThatNeverStartedIsAnErrorSayingWhy() async throws {
        let aws = RecordedAWS(["DescribeTasks": [RecordedAWS.fixture("describe-tasks-stopped-failed-to-start")], "FilterLogEvents": ["{\"events\":[]}"]])
        let (term, _) = Terminal.capture()
        let task = try await watch(aws).follow(arn, stream: stream, terminal: term, json: false, sleep: { _ in })
        XCTAssertThrowsError(try TaskWatch.exitCode(task, container: "LittleTaskContainer")) { e in
            let text = String(describing: e)
            XCTAssertTrue(text.contains("stopped without an exit code: TaskFailedToStart: CannotPullContainerError"), text)
            XCTAssertTrue(text.contains("check the image, the subnets' route to ECR"), text)
            XCTAssertEqual(ErrorReport.status(for: e), .failed)
        }
    }

    func testJSONLinesCarryTaskAndContainer() async throws {
        let f = RecordedAWS.fixture
        let aws = RecordedAWS(["DescribeTasks": [f("describe-tasks-stopped-exit-3")], "FilterLogEvents": [f("filter-log-events-page-1"), f("filter-log-events-page-2")]])
        let (term, cap) = Terminal.capture()
        _ = try await watch(aws).follow(arn, stream: stream, terminal: term, json: true, sleep: { _ in })
        let lines = try cap.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(lines.map { $0["message"] as? String }, ["working", "Traceback (most recent call last):", "SystemExit: 3"])
        XCTAssertEqual(lines.first?["container"] as? String, "LittleTaskContainer")
        XCTAssertEqual(lines.first?["task"] as? String, "0f3c9d5e8a7b4c2d9e1f0a3b5c7d9e1f")
    }

    func testServiceStabilityFollowsBotocoresAcceptor() throws {
        func service(_ json: String) throws -> ECSService { try JSONDecoder().decode(ECSService.self, from: Data(json.utf8)) }
        XCTAssertTrue(try service(#"{"serviceName":"w","desiredCount":2,"runningCount":2,"pendingCount":0,"deployments":[{"id":"a"}]}"#).isStable)
        XCTAssertFalse(try service(#"{"serviceName":"w","desiredCount":2,"runningCount":2,"pendingCount":0,"deployments":[{"id":"a"},{"id":"b"}]}"#).isStable,
                       "two deployments: still rolling")
        XCTAssertFalse(try service(#"{"serviceName":"w","desiredCount":2,"runningCount":1,"pendingCount":1,"deployments":[{"id":"a"}]}"#).isStable)
    }
}

final class LogMergerTests: XCTestCase {
    func ev(_ id: String, _ t: Int64) -> LogEvent { LogEvent(logStreamName: "s/c/t", timestamp: t, message: id, ingestionTime: nil, eventId: id) }

    func testOverlappingPollsShowEachEventOnceAndLateEventsWithinTheOverlap() {
        var m = LogMerger(start: ["a": 0, "b": 0], overlapMillis: 1000)
        let first = m.accept([("a", [ev("a1", 100), ev("a2", 300)]), ("b", [ev("b1", 200)])])
        XCTAssertEqual(first.map(\.event.eventId), ["a1", "b1", "a2"], "interleaved by time")
        XCTAssertEqual(m.startTime("a"), 0, "cursor stays an overlap behind the newest")
        // The next poll returns the old events again plus a late one older than the newest shown.
        let second = m.accept([("a", [ev("a1", 100), ev("a2", 300), ev("late", 250), ev("a3", 5000)]), ("b", [])])
        XCTAssertEqual(second.map(\.event.eventId), ["late", "a3"])
        XCTAssertEqual(m.startTime("a"), 4000)
        XCTAssertEqual(m.accept([("a", [ev("a3", 5000)])]).count, 0)
    }

    func testSinceForms() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        XCTAssertEqual(try SinceParser.parse("10m", now: now), now.addingTimeInterval(-600))
        XCTAssertEqual(try SinceParser.parse("2h", now: now), now.addingTimeInterval(-7200))
        XCTAssertEqual(try SinceParser.parse("1.5d", now: now), now.addingTimeInterval(-129_600))
        XCTAssertEqual(try SinceParser.parse("2026-11-25T01:00:00Z", now: now).timeIntervalSince1970, 1_795_568_400)
        XCTAssertEqual(try SinceParser.parse("2026-11-25", now: now).timeIntervalSince1970, 1_795_564_800)
        for bad in ["yesterday", "10", "-5m", "10x", "", "2026-13-01"] {
            XCTAssertThrowsError(try SinceParser.parse(bad, now: now), bad) { XCTAssertEqual(ErrorReport.status(for: $0), .usage) }
        }
    }
}
