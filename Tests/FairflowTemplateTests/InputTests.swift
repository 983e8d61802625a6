import XCTest
@testable import FairflowTemplate

final class InputTests: XCTestCase {
    func assertInputError(_ o: TemplateOptions, key: String, contains: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TemplateGenerator.render(o), file: file, line: line) { error in
            guard let e = error as? TemplateInputError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(e.key, key, file: file, line: line)
            XCTAssertTrue(e.description.contains(key), e.description, file: file, line: line)
            XCTAssertTrue(e.description.contains(" — "), "says how to fix: \(e.description)", file: file, line: line)
            XCTAssertTrue(e.description.contains(contains), e.description, file: file, line: line)
        }
    }

    func testMissingRequiredArnFromEnv() {
        var env = [
            "AIRFLOW_FERNET_KEY_SECRET_ARN": Modes.secret("fernet-key"),
            "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN": Modes.secret("admin-password"),
            "AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN": Modes.secret("flower-credentials"),
            "GIT_READ_ONLY_SECRET_ARN": "",
            "IP_WHITELIST": "",
        ]
        XCTAssertNoThrow(try TemplateGenerator.render(TemplateOptions.fromEnv(env)))
        env["AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN"] = nil
        assertInputError(TemplateOptions.fromEnv(env), key: "AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN", contains: "missing")
    }

    func testMalformedArn() {
        var o = Modes.base(); o.fernetKeySecretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow-fernet-key"
        assertInputError(o, key: "AIRFLOW_FERNET_KEY_SECRET_ARN", contains: "full Secrets Manager secret ARN")
        o = Modes.base(); o.adminPasswordSecretArn = "airflow-admin-password"
        assertInputError(o, key: "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN", contains: "describe-secret")
        o = Modes.base(); o.certificateArn = "arn:aws:iam::123456789012:server-certificate/x"
        assertInputError(o, key: "--certificate-arn", contains: "ACM")
    }

    func testAllowListEntries() throws {
        var env = [
            "AIRFLOW_FERNET_KEY_SECRET_ARN": Modes.secret("fernet-key"),
            "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN": Modes.secret("admin-password"),
            "AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN": Modes.secret("flower-credentials"),
            "IP_WHITELIST": " 203.0.113.10, 198.51.100.7/24 ",
        ]
        let ok = TemplateOptions.fromEnv(env)
        XCTAssertEqual(ok.ipWhitelist, ["203.0.113.10", "198.51.100.7/24"])
        let text = try TemplateGenerator.render(ok)
        XCTAssertTrue(text.contains("\"203.0.113.10/32\""))
        XCTAssertTrue(text.contains("\"198.51.100.0/24\""), "host bits cleared, never x/24/32")
        XCTAssertFalse(text.contains("/24/32"))
        for bad in ["203.0.113", "203.0.113.256", "203.0.113.1/33", "example.com", "10.0.0.1/", "::1"] {
            env["IP_WHITELIST"] = "203.0.113.10,\(bad)"
            assertInputError(TemplateOptions.fromEnv(env), key: "IP_WHITELIST", contains: bad)
        }
    }

    func testAirflowVersions() throws {
        var o = Modes.base(); o.airflowVersion = "1.10.15"
        assertInputError(o, key: "--airflow-version", contains: AirflowVersions.default)
        o.airflowVersion = "2"
        XCTAssertEqual(o.resolvedAirflowVersion, "2.11.2")
        XCTAssertNoThrow(try TemplateGenerator.render(o))
        XCTAssertEqual(TemplateGenerator.defaultAirflowVersion, "3.3.2")
        XCTAssertTrue(TemplateGenerator.supportedAirflowVersions.contains("2.11.2"))
        XCTAssertEqual(Modes.base().airflowVersion, TemplateGenerator.defaultAirflowVersion)
    }

    func testOtherInputs() {
        var o = Modes.base(); o.stackName = "1bad name"
        assertInputError(o, key: "--stack", contains: "stack name")
        o = Modes.base(); o.sshIngressCidr = "0.0.0.0/40"
        assertInputError(o, key: "--ssh-ingress-cidr", contains: "CIDR")
        o = Modes.base(); o.sshIngressCidr = "203.0.113.7"; o.bastion = false
        assertInputError(o, key: "--ssh-ingress-cidr", contains: "no bastion")
        o = Modes.base(); o.dagRepository = "git@github.com:me/dags.git"
        assertInputError(o, key: "GIT_READ_ONLY_SECRET_ARN", contains: "deploy key")
        o = Modes.base(); o.dagRepository = "ftp://x"
        assertInputError(o, key: "DAG_REPOSITORY", contains: "git URL")
        o = Modes.base(); o.image = "my image"
        assertInputError(o, key: "--image", contains: "image")
    }

    func testDefaultsAreTheSeeds() {
        let o = Modes.base()
        XCTAssertFalse(o.ha); XCTAssertFalse(o.autoscaling); XCTAssertTrue(o.bastion)
        XCTAssertEqual(o.dagRepository, "https://github.com/bshinnebarger/airflow-example-dags.git")
    }
}
