@testable import FairflowCore
import FairflowTemplate
import Foundation
import XCTest

/// The upgrade's rules that need no AWS: the version path, snapshot names, the mode read back from a
/// deployed template, the migration watch's verdict. (Against the running stack: test_stack_runs.py.)
final class UpgradeRulesTests: XCTestCase {
    func testTheVersionPath() {
        XCTAssertNil(UpgradePath.check(from: "3.2.2", to: "3.3.2").refusal)
        XCTAssertEqual(UpgradePath.check(from: "3.2.2", to: "3.3.2").warnings, [])
        let down = UpgradePath.check(from: "3.3.2", to: "3.2.2")
        XCTAssertTrue(down.refusal?.contains("forward only") ?? false, "\(down)")
        XCTAssertTrue(down.fix?.contains("--rollback") ?? false)
        XCTAssertTrue(UpgradePath.check(from: "3.3.2", to: "3.3.2").refusal?.contains("already") ?? false)
        // a skipped minor is named
        let skip = UpgradePath.check(from: "3.1.8", to: "3.3.2")
        XCTAssertNil(skip.refusal)
        XCTAssertTrue(skip.warnings.first?.contains("skips Airflow 3.2") ?? false, "\(skip)")
        // 2 → 3 only from the newest 2.x minor
        let old2 = UpgradePath.check(from: "2.10.5", to: "3.3.2")
        XCTAssertTrue(old2.refusal?.contains("newest 2.x") ?? false, "\(old2)")
        XCTAssertTrue(old2.fix?.contains("2.11.2") ?? false)
        let from211 = UpgradePath.check(from: "2.11.1", to: "3.3.2")
        XCTAssertNil(from211.refusal)
        XCTAssertTrue(from211.warnings.first?.contains("Airflow 2 → 3") ?? false)
        XCTAssertTrue(UpgradePath.check(from: "3.2.2", to: "3.9.0").refusal?.contains("not a release") ?? false)
    }

    func testSnapshotIdentifiersAreValidRDSNames() {
        XCTAssertEqual(UpgradeSnapshot.identifier("fairflow-upgrade-20261206T215500Z-ab12cd"), "fairflow-upgrade-20261206t215500z-ab12cd")
        XCTAssertEqual(UpgradeSnapshot.identifier("1--x__y-"), "s1-x-y")
    }

    func testTheModeIsReadBackFromTheTemplateItWasDeployedWith() throws {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-x-AbCdEf"
        var o = TemplateOptions(fernetKeySecretArn: arn, adminPasswordSecretArn: arn, flowerCredentialsSecretArn: arn)
        o.ha = true
        o.autoscaling = true
        o.airflowVersion = "3.2.2"
        o.workerDrainTimeout = 90
        o.tasksPerWorker = 6
        o.dagRepository = "https://github.com/example/dags.git"
        let json = try TemplateGenerator.render(o)
        let m = try DeployedMode.detect(template: json, airflowVersion: "3.2.2")
        XCTAssertTrue(m.ha)
        XCTAssertTrue(m.autoscaling)
        XCTAssertFalse(m.noBastion)
        XCTAssertNil(m.image, "the stock image is no custom image")
        XCTAssertEqual(m.workerDrainTimeout, 90)
        XCTAssertEqual(m.tasksPerWorker, 6)
        o.ha = false; o.bastion = false; o.image = "example.com/airflow:mine"
        let m2 = try DeployedMode.detect(template: try TemplateGenerator.render(o), airflowVersion: "3.2.2")
        XCTAssertFalse(m2.ha)
        XCTAssertTrue(m2.noBastion)
        XCTAssertEqual(m2.image, "example.com/airflow:mine")
        XCTAssertThrowsError(try DeployedMode.detect(template: "Resources: {}", airflowVersion: "3.2.2"))
    }

    func testTheMigrationWatchNamesTheBlockingSession() {
        let rows: [[String?]] = [
            ["41", "airflow", "95", "Waiting for table metadata lock", "ALTER TABLE dag_run ADD COLUMN x INT", nil],
            ["17", "admin", "1200", "", "", "2026-12-06 21:00:00"],
        ]
        let s = MigrationWatch.sessions(rows)
        XCTAssertEqual(s.count, 2)
        let w = MigrationWatch.blocked(s, after: 60)
        XCTAssertTrue(w?.contains("session 41") ?? false, w ?? "nil")
        XCTAssertTrue(w?.contains("session 17 (admin, 1200 s, idle in a transaction)") ?? false, w ?? "nil")
        XCTAssertNil(MigrationWatch.blocked(s, after: 120), "waiting less than the threshold is no verdict")
        XCTAssertNil(MigrationWatch.blocked(MigrationWatch.sessions([["41", "airflow", "300", "altering table", "ALTER ...", nil]]), after: 60))
    }
}
