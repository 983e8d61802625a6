import AWSServices
@testable import FairflowCore
import XCTest

final class StackLogicTests: XCTestCase {
    func summary(_ status: String) -> StackSummary {
        StackSummary(name: "S", id: "id", status: status, statusReason: nil, outputs: [:], tags: [:], lastUpdated: nil)
    }

    func testStatesThatCannotTakeAChangeSetAreRefusedWithTheFix() {
        let cases: [(String, String)] = [
            ("CREATE_IN_PROGRESS", "wait for it to finish"), ("UPDATE_IN_PROGRESS", "wait for it to finish"),
            ("DELETE_IN_PROGRESS", "wait for it to finish"), ("UPDATE_ROLLBACK_IN_PROGRESS", "wait for it to finish"),
            ("ROLLBACK_COMPLETE", "delete it first"), ("UPDATE_ROLLBACK_FAILED", "continue-update-rollback"),
            ("DELETE_FAILED", "--retain-failed"),
        ]
        for (status, fix) in cases {
            XCTAssertThrowsError(try ChangeSetPlan.checkState(summary(status)), status) { e in
                XCTAssertTrue(String(describing: e).contains(fix), "\(status): \(e)")
                XCTAssertEqual(ErrorReport.status(for: e), .failed)
            }
        }
        for ok in ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"] {
            XCTAssertNoThrow(try ChangeSetPlan.checkState(summary(ok)), ok)
        }
    }

    func event(_ id: String, _ t: TimeInterval, _ lid: String, _ status: String, _ reason: String? = nil) -> StackEvent {
        StackEvent(eventId: id, timestamp: Date(timeIntervalSince1970: t), logicalId: lid, physicalId: nil,
                   resourceType: lid == "S" ? "AWS::CloudFormation::Stack" : "AWS::EC2::VPC", status: status, reason: reason)
    }

    /// A recorded sequence as the API pages it (newest first, repeated across polls).
    var recorded: [[StackEvent]] {
        let e1 = event("1", 100, "S", "CREATE_IN_PROGRESS", "User Initiated")
        let e2 = event("2", 101, "Vpc", "CREATE_IN_PROGRESS")
        let e3 = event("3", 101, "Vpc", "CREATE_FAILED", "The maximum number of VPCs has been reached.")
        let e4 = event("4", 102, "S", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Vpc].")
        let e5 = event("5", 103, "Vpc", "DELETE_COMPLETE")
        let e6 = event("6", 104, "S", "ROLLBACK_COMPLETE")
        return [[e2, e1], [e4, e3, e2, e1], [e6, e5, e4, e3]]
    }

    func testEventsAreDeduplicatedAndOrdered() {
        var stream = StackEventStream()
        var seen: [String] = []
        for poll in recorded { seen += stream.accept(poll).map(\.eventId) }
        XCTAssertEqual(seen, ["1", "2", "3", "4", "5", "6"])
        XCTAssertEqual(StackWatch.firstFailure(recorded.flatMap { $0 })?.logicalId, "Vpc")
    }

    func testPipeRenderingIsOnePlainLinePerEvent() {
        let (t, cap) = Terminal.capture(isTTY: false)
        let r = StackProgressRenderer(mode: .plain, terminal: t, stackName: "S")
        var stream = StackEventStream()
        for poll in recorded { r.render(stream.accept(poll)) }
        let lines = cap.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 6)
        XCTAssertEqual(lines[2], "1970-01-01T00:01:41Z\tnetwork\tVpc\tAWS::EC2::VPC\tCREATE_FAILED\tThe maximum number of VPCs has been reached.")
        XCTAssertFalse(cap.stderr.contains("\u{1B}"))
        XCTAssertEqual(cap.stdout, "", "progress never goes to stdout")
    }

    func testJSONRenderingIsOneObjectPerLine() throws {
        let (t, cap) = Terminal.capture()
        let r = StackProgressRenderer(mode: .json, terminal: t, stackName: "S")
        var stream = StackEventStream()
        for poll in recorded { r.render(stream.accept(poll)) }
        let objs = try cap.stderr.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(objs.count, 6)
        XCTAssertEqual(objs[2]["status"] as? String, "CREATE_FAILED")
        XCTAssertEqual(objs[2]["component"] as? String, "network")
        XCTAssertEqual(objs[2]["reason"] as? String, "The maximum number of VPCs has been reached.")
    }

    func testTTYRenderingRedrawsOneLinePerResource() {
        let (t, cap) = Terminal.capture(isTTY: true, color: true)
        let r = StackProgressRenderer(mode: .tty, terminal: t, stackName: "S")
        var stream = StackEventStream()
        for poll in recorded { r.render(stream.accept(poll)) }
        let frame = r.frame(now: Date(timeIntervalSince1970: 110))
        XCTAssertEqual(frame.count, 2, "one line per resource, not per event")
        XCTAssertTrue(frame[0].contains("ROLLBACK_COMPLETE"))
        XCTAssertTrue(frame[1].contains("DELETE_COMPLETE"))
        XCTAssertTrue(cap.stderr.contains("\u{1B}[2A"), "later frames move the cursor up over the previous one")
    }

    func testChangeSetTableGroupsByComponent() {
        let changes = [
            ChangeSetChange(action: "Modify", logicalId: "WorkerService", physicalId: nil, resourceType: "AWS::ECS::Service", replacement: "False"),
            ChangeSetChange(action: "Add", logicalId: "Database", physicalId: nil, resourceType: "AWS::RDS::DBInstance", replacement: nil),
            ChangeSetChange(action: "Modify", logicalId: "WorkerTaskDefinition", physicalId: nil, resourceType: "AWS::ECS::TaskDefinition", replacement: "True"),
        ]
        let (t, _) = Terminal.capture()
        let text = ChangeSetPlan.table(changes, terminal: t)
        XCTAssertEqual(text, """
        database\t+ Add\tDatabase\tAWS::RDS::DBInstance\t
        worker\t~ Modify\tWorkerService\tAWS::ECS::Service\tno
        worker\t~ Modify\tWorkerTaskDefinition\tAWS::ECS::TaskDefinition\treplace

        """)
        XCTAssertEqual(ChangeSetPlan.summary(changes), "1 to add, 2 to modify, 0 to remove")
    }
}
