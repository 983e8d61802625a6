import AWSCore
import AWSServices
@testable import FairflowCore
import Foundation
import XCTest

/// `scale worker N` to fewer workers: whom the wait was for, from the tasks and their protection before and after.
final class WorkerDrainTests: XCTestCase {
    let prefix = "arn:aws:ecs:us-east-1:123456789012:task/C/"

    func testTheDrainNamesTheBusyTasksECSWaitedFor() {
        let d = Scale.Drain(runningBefore: ["a", "b", "c"].map { prefix + $0 }, protectedBefore: ["b", "c"].map { prefix + $0 },
                            runningAfter: [prefix + "c"])
        XCTAssertEqual(d.stopped, ["a", "b"])
        XCTAssertEqual(d.waitedFor, ["b"], "b was busy and stopped: the scale-in waited for it")
        XCTAssertEqual(d.stillBusy, ["c"])
        let idle = Scale.Drain(runningBefore: [prefix + "a", prefix + "b"], protectedBefore: [], runningAfter: [prefix + "b"])
        XCTAssertEqual(idle.stopped, ["a"])
        XCTAssertEqual(idle.waitedFor, [])
    }

    func testTheTextSaysWhatStoppedAndWhatItWaitedFor() {
        let o = Scale.Output(component: "worker", cluster: "C", service: "W", previousDesiredCount: 3, desiredCount: 1, runningCount: 1,
                             pendingCount: 0, steady: true, drain: Scale.Drain(runningBefore: ["a", "b", "c"].map { prefix + $0 }, protectedBefore: [prefix + "b"], runningAfter: [prefix + "c"]))
        func term(_ tty: Bool) -> Terminal { Terminal(isTTY: tty, stderrIsTTY: false, color: false, out: { _ in }, err: { _ in }) }
        let tty = o.renderText(term(true))
        XCTAssertTrue(tty.contains("stopped: a, b; waited for the busy ones to finish: b"), tty)
        XCTAssertFalse(o.renderText(term(false)).contains("stopped:"), "a pipe gets the row only")
    }

    func testTaskProtectionDecodesTheWireShape() async throws {
        let aws = RecordedAWS(["GetTaskProtection": [
            #"{"protectedTasks":[{"taskArn":"\#(prefix)b","protectionEnabled":true,"expirationDate":1795575999.0},{"taskArn":"\#(prefix)c","protectionEnabled":false}],"failures":[]}"#,
        ]])
        let p = try await ECS(try aws.client()).taskProtection(cluster: "C", [prefix + "b", prefix + "c"])
        XCTAssertEqual(p.map(\.protectionEnabled), [true, false])
        XCTAssertEqual(p[0].expirationDate, Date(timeIntervalSince1970: 1795575999))
        XCTAssertNil(p[1].expirationDate)
    }
}
