@testable import AWSCore
import FairflowTestSupport
import Foundation
import HTTPTransport
import XCTest

/// botocore's protocol test cases (../shared/testdata/aws-protocol-tests): every error case decodes to
/// the expected code and message.
final class ProtocolErrorTests: XCTestCase {
    static var dir: URL {
        Repo.sharedTestdata.appendingPathComponent("aws-protocol-tests/output")
    }

    func wire(for file: String) -> AWSProtocol {
        switch file {
        case "query": return .query(apiVersion: "x")
        case "ec2": return .ec2(apiVersion: "x")
        case "json": return .json(version: "1.1", targetPrefix: "x")
        case "json_1_0": return .json(version: "1.0", targetPrefix: "x")
        case "rest-json": return .restJSON
        default: return .restXML
        }
    }

    func testEveryErrorCaseDecodes() throws {
        var total = 0
        for file in ["query", "ec2", "json", "json_1_0", "rest-json", "rest-xml"] {
            let data = try Data(contentsOf: Self.dir.appendingPathComponent("\(file).json"))
            let suites = try JSONSerialization.jsonObject(with: data) as! [[String: Any]]
            for suite in suites {
                for c in suite["cases"] as! [[String: Any]] {
                    guard let code = c["errorCode"] as? String else { continue }
                    let resp = c["response"] as! [String: Any]
                    let headers = resp["headers"] as? [String: String] ?? [:]
                    let body = Data(((resp["body"] as? String) ?? "").utf8)
                    let http = HTTPResponse(status: resp["status_code"] as! Int, headers: headers, body: body)
                    let err = ErrorDecoder.decode(http, protocol: wire(for: file), service: "Test", operation: "Op")
                    let id = c["id"] as? String ?? "?"
                    XCTAssertEqual(err.code, code, "\(file) \(id)")
                    if let msg = c["errorMessage"] as? String { XCTAssertEqual(err.message, msg, "\(file) \(id)") }
                    XCTAssertEqual(err.status, resp["status_code"] as! Int)
                    total += 1
                }
            }
        }
        XCTAssertEqual(total, 43, "every error case of the six protocol files was checked")
        print("protocol error cases decoded: \(total)")
    }

    func testMotoHTMLPageIsUnexpectedResponseNotAnAWSCode() {
        let http = HTTPResponse(status: 500, headers: ["Content-Type": "text/html"], body: Data("<!doctype html><html><title>500 Internal Server Error</title></html>".utf8))
        let err = ErrorDecoder.decode(http, protocol: .query(apiVersion: "x"), service: "STS", operation: "Op")
        XCTAssertEqual(err.code, "UnexpectedResponse")
        XCTAssertTrue(err.message.contains("HTML"))
    }

    func testQueryResultTimestampsParse() throws {
        // AwsQueryDateTimeWithNegativeOffset / PositiveOffset from the query suite.
        XCTAssertEqual(AWSDate.parse("2019-12-16T22:48:18-01:00")?.timeIntervalSince1970, 1576540098)
        XCTAssertEqual(AWSDate.parse("2019-12-17T00:48:18+01:00")?.timeIntervalSince1970, 1576540098)
        XCTAssertEqual(AWSDate.parse("2019-12-16T23:48:18.123Z")?.timeIntervalSince1970 ?? 0, 1576540098.123, accuracy: 0.001)
    }
}

extension Repo {
    static var sharedTestdata: URL {
        if let env = ProcessInfo.processInfo.environment["FAIRFLOW_SHARED_TESTDATA"] { return URL(fileURLWithPath: env) }
        return root.deletingLastPathComponent().appendingPathComponent("shared/testdata")
    }
}
