import AWSCore
import FairflowTestSupport
import Foundation
import HTTPTransport
import XCTest

/// Starts the project's local AWS once per test class (signature checking on).
class LiveAWSTestCase: XCTestCase {
    nonisolated(unsafe) static var local: LocalAWS?
    nonisolated(unsafe) static var startError: Error?

    override class func setUp() {
        super.setUp()
        do { local = try LocalAWS() } catch { startError = error }
    }

    override class func tearDown() {
        local?.stop()
        local = nil
        super.tearDown()
    }

    var local: LocalAWS {
        get throws {
            if let l = Self.local { return l }
            throw Self.startError ?? XCTSkip("local AWS not started")
        }
    }

    func client(secret: String? = nil, endpoint: String? = nil, retry: RetryPolicy = RetryPolicy()) throws -> AWSClient {
        let l = try local
        let creds = AWSCredentials(accessKeyId: l.accessKeyId, secretAccessKey: secret ?? l.secretAccessKey, source: "test")
        return AWSClient(http: CurlHTTPClient(), region: try Region(validating: "us-east-1"),
                         endpoints: EndpointResolver(override: URL(string: endpoint ?? l.endpoint)!, environment: [:]),
                         credentials: StaticCredentialProvider(creds), retry: retry)
    }
}
