@testable import AWSCore
import XCTest

final class RegionEndpointTests: XCTestCase {
    func testKnownAndPatternRegionsAccepted() throws {
        for r in ["us-east-1", "eu-west-3", "ap-southeast-7", "us-gov-west-1", "cn-north-1", "eu-central-9"] {
            XCTAssertNoThrow(try Region(validating: r), r)
        }
    }

    func testNonRegionsRejectedWithSuggestion() {
        for bad in ["us-eats-1", "useast1", "us-east", "mars-north-1", "", "US-EAST-1", "us-east-1a"] {
            XCTAssertThrowsError(try Region(validating: bad), bad)
        }
        XCTAssertEqual((try? Region(validating: "us-eats-1")).map { $0.name }, nil)
        do { _ = try Region(validating: "us-eats-1") } catch let e as RegionError { XCTAssertEqual(e.suggestion, "us-east-1") } catch { XCTFail() }
    }

    func testEndpointPrecedence() throws {
        let r = try Region(validating: "eu-west-1")
        var res = EndpointResolver(override: nil, environment: [:])
        XCTAssertEqual(res.endpoint(for: .secretsManager, region: r).url.absoluteString, "https://secretsmanager.eu-west-1.amazonaws.com")
        XCTAssertEqual(res.endpoint(for: .iam, region: r).url.absoluteString, "https://iam.amazonaws.com")
        XCTAssertEqual(res.endpoint(for: .elbv2, region: r).url.absoluteString, "https://elasticloadbalancing.eu-west-1.amazonaws.com")
        XCTAssertEqual(res.endpoint(for: .ecs, region: try Region(validating: "cn-north-1")).url.absoluteString, "https://ecs.cn-north-1.amazonaws.com.cn")
        res.environment = ["AWS_ENDPOINT_URL": "http://127.0.0.1:1111", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:2222"]
        XCTAssertEqual(res.endpoint(for: .secretsManager, region: r).url.absoluteString, "http://127.0.0.1:2222")
        XCTAssertEqual(res.endpoint(for: .sts, region: r).url.absoluteString, "http://127.0.0.1:1111")
        XCTAssertEqual(AWSService.logs.endpointEnvName, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
        XCTAssertEqual(AWSService.elbv2.endpointEnvName, "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2")
        res.override = URL(string: "http://127.0.0.1:3333")
        XCTAssertEqual(res.endpoint(for: .secretsManager, region: r).url.absoluteString, "http://127.0.0.1:3333")
    }

    func testRetryPolicyBackoffIsBoundedFullJitterAndHonoursRetryAfter() {
        var p = RetryPolicy(maxAttempts: 5)
        p.jitter = { $0 }  // the upper bound of the jitter range
        XCTAssertEqual(p.delay(afterAttempt: 1, retryAfter: nil), 0.1, accuracy: 1e-9)
        XCTAssertEqual(p.delay(afterAttempt: 3, retryAfter: nil), 0.4, accuracy: 1e-9)
        XCTAssertEqual(p.delay(afterAttempt: 30, retryAfter: nil), 20)
        XCTAssertEqual(p.delay(afterAttempt: 1, retryAfter: 2), 2)
        XCTAssertEqual(RetryPolicy.standard(environment: ["AWS_MAX_ATTEMPTS": "7"]).maxAttempts, 7)
        XCTAssertEqual(RetryPolicy.standard(environment: [:]).maxAttempts, 3)
    }
}
