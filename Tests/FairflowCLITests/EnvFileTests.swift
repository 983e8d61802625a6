@testable import FairflowCore
import XCTest

final class EnvFileTests: XCTestCase {
    let seed = """
    AIRFLOW_FERNET_KEY_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123:secret:airflow-fernet-key-75whQU
    AIRFLOW_ADMIN_PASSWORD_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123:secret:airflow-admin-password-aQg8w8
    GIT_READ_ONLY_SECRET_ARN= # Empty Because The Repo Is Public
    # a comment line

    DAG_REPOSITORY=https://github.com/example/dags.git
    IP_WHITELIST=86.158.93.148 # If you want IP based restriction on the ALB
    """

    func testSeedFormatParses() throws {
        let e = try EnvFile.parse(seed)
        XCTAssertEqual(e["IP_WHITELIST"], "86.158.93.148")
        XCTAssertNil(e["GIT_READ_ONLY_SECRET_ARN"], "a blank value reads as unset")
        XCTAssertEqual(e.values["GIT_READ_ONLY_SECRET_ARN"], "")
        XCTAssertEqual(e["DAG_REPOSITORY"], "https://github.com/example/dags.git")
        XCTAssertEqual(e[EnvKey.fernetKeySecretArn], "arn:aws:secretsmanager:us-east-1:123:secret:airflow-fernet-key-75whQU")
    }

    func testRoundTripKeepsEveryLineAndSetChangesOnlyItsKey() throws {
        var e = try EnvFile.parse(seed)
        XCTAssertEqual(e.render(), seed + "\n")
        e.set("GIT_READ_ONLY_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123:secret:k")
        e.set("NEW_KEY", "v")
        let out = e.render()
        XCTAssertTrue(out.contains("GIT_READ_ONLY_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123:secret:k # Empty Because The Repo Is Public"))
        XCTAssertTrue(out.contains("# a comment line\n\nDAG_REPOSITORY="))
        XCTAssertTrue(out.hasSuffix("NEW_KEY=v\n"))
    }

    func testQuotedValuesAndHashInsideValue() throws {
        let e = try EnvFile.parse("A=\"x # not a comment\" # comment\nB='y'\nC=http://h/#frag\nexport D=1\n")
        XCTAssertEqual(e["A"], "x # not a comment")
        XCTAssertEqual(e["B"], "y")
        XCTAssertEqual(e["C"], "http://h/#frag")
        XCTAssertEqual(e["D"], "1")
    }

    func testMalformedLinesNameTheLine() {
        let cases: [(String, Int, String)] = [
            ("A=1\nthis is not a pair\n", 2, "expected KEY=VALUE"),
            ("A=1\n1BAD=2\n", 2, "not a valid name"),
            ("A=1\nA=2\n", 2, "set twice"),
            ("A=\"open\n", 1, "never closed"),
            ("A=two words\n", 1, "contains a space"),
        ]
        for (text, line, fragment) in cases {
            XCTAssertThrowsError(try EnvFile.parse(text, path: "envs/x.env")) { err in
                let e = err as! EnvFileError
                XCTAssertEqual(e.line, line, text)
                XCTAssertTrue(e.description.contains(fragment), e.description)
                XCTAssertTrue(e.description.contains("envs/x.env:line \(line)"), e.description)
            }
        }
    }

    func testAtomicWriteReplacesTheFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ff-env-\(UUID().uuidString).env").path
        var e = try EnvFile.parse(seed)
        e.set("X", "1")
        try e.write(to: path)
        let back = try EnvFile.load(path)
        XCTAssertEqual(back["X"], "1")
        XCTAssertEqual(back.render(), e.render())
        try FileManager.default.removeItem(atPath: path)
    }
}
