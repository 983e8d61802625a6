@testable import AWSCore
import AWSServices
import FairflowTestSupport
import Foundation
import HTTPTransport
import XCTest

final class CredentialChainTests: LiveAWSTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ff-creds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ name: String, _ text: String) -> String {
        let p = dir.appendingPathComponent(name).path
        FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }

    func chain(profile: String? = nil, env: [String: String]) -> CredentialChain {
        var e = env
        e["HOME"] = dir.path
        e["AWS_EC2_METADATA_DISABLED"] = e["AWS_EC2_METADATA_DISABLED"] ?? "true"
        return CredentialChain.standard(profile: profile, environment: e, http: CurlHTTPClient(),
                                        endpoints: EndpointResolver(override: nil, environment: e))
    }

    func testEnvironmentWinsWhenNoProfileIsNamed() async throws {
        let creds = write("credentials", "[default]\naws_access_key_id = FROMFILE\naws_secret_access_key = s\n")
        let c = try await chain(env: ["AWS_ACCESS_KEY_ID": "FROMENV", "AWS_SECRET_ACCESS_KEY": "x", "AWS_SESSION_TOKEN": "tok",
                                      "AWS_SHARED_CREDENTIALS_FILE": creds]).credentials()
        XCTAssertEqual(c?.accessKeyId, "FROMENV")
        XCTAssertEqual(c?.sessionToken, "tok")
        XCTAssertEqual(c?.source, "environment")
    }

    func testExplicitProfileBeatsEnvironmentAndConfigFileProfilesWork() async throws {
        let creds = write("credentials", "# comment\n[dev]\naws_access_key_id = DEVKEY ; trailing\naws_secret_access_key = devsecret\n")
        let conf = write("config", "[default]\nregion = eu-west-1\n[profile ops]\naws_access_key_id = OPSKEY\naws_secret_access_key = opss\ns3 =\n  max_concurrent_requests = 5\n")
        let env = ["AWS_ACCESS_KEY_ID": "FROMENV", "AWS_SECRET_ACCESS_KEY": "x", "AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_CONFIG_FILE": conf]
        let dev = try await chain(profile: "dev", env: env).credentials()
        XCTAssertEqual(dev?.accessKeyId, "DEVKEY")
        let ops = try await chain(env: ["AWS_PROFILE": "ops", "AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_CONFIG_FILE": conf]).credentials()
        XCTAssertEqual(ops?.accessKeyId, "OPSKEY")
        do {
            _ = try await chain(profile: "nope", env: env).credentials()
            XCTFail("a missing named profile must fail")
        } catch let e as CredentialsError {
            XCTAssertTrue(e.description.contains("'nope' not found"))
        }
    }

    func testCredentialProcess() async throws {
        let script = write("proc.sh", "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"PROCKEY\", \"SecretAccessKey\": \"ps\", \"SessionToken\": \"pt\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'\n")
        chmod(script, 0o755)
        let bad = write("bad.sh", "#!/bin/sh\necho boom >&2\nexit 3\n")
        chmod(bad, 0o755)
        let conf = write("config", "[profile p]\ncredential_process = \(script)\n[profile b]\ncredential_process = \(bad)\n")
        let c = try await chain(profile: "p", env: ["AWS_CONFIG_FILE": conf, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"]).credentials()
        XCTAssertEqual(c?.accessKeyId, "PROCKEY")
        XCTAssertEqual(c?.sessionToken, "pt")
        do {
            _ = try await chain(profile: "b", env: ["AWS_CONFIG_FILE": conf, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"]).credentials()
            XCTFail()
        } catch let e as CredentialsError {
            XCTAssertTrue(e.description.contains("exit 3"), e.description)
            XCTAssertTrue(e.description.contains("boom"))
        }
    }

    func testAssumeRoleWithSourceProfileAgainstLocalSTSIsCached() async throws {
        let l = try local
        let role = try awsCLI(["iam", "create-role", "--role-name", "ff-test-\(UUID().uuidString.prefix(6))",
                               "--assume-role-policy-document", #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#],
                              environment: l.environment) as! [String: Any]
        let roleArn = (role["Role"] as! [String: Any])["Arn"] as! String
        let creds = write("credentials", "[base]\naws_access_key_id = \(l.accessKeyId)\naws_secret_access_key = \(l.secretAccessKey)\n")
        let conf = write("config", "[profile deploy]\nrole_arn = \(roleArn)\nsource_profile = base\nrole_session_name = fairflow-test\nregion = us-east-1\n")
        let env = ["AWS_CONFIG_FILE": conf, "AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_ENDPOINT_URL": l.endpoint,
                   "XDG_CACHE_HOME": dir.appendingPathComponent("cache").path]
        let first = try await chain(profile: "deploy", env: env).credentials()
        XCTAssertNotNil(first?.sessionToken)
        XCTAssertNotEqual(first?.accessKeyId, l.accessKeyId)
        XCTAssertTrue(first?.source.contains("assumed") ?? false)
        let cached = try await chain(profile: "deploy", env: env).credentials()
        XCTAssertEqual(cached?.accessKeyId, first?.accessKeyId, "a second resolution reuses the cached role credentials")
        XCTAssertTrue(cached?.source.contains("cached") ?? false)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache/fairflow/sts").path)
        XCTAssertEqual(files.count, 1)
        let attrs = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("cache/fairflow/sts/\(files[0])").path)
        XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        // The assumed identity is the role's, as the aws CLI's oracle says for the same credentials.
        let client = AWSClient(http: CurlHTTPClient(), region: try Region(validating: "us-east-1"),
                               endpoints: EndpointResolver(override: URL(string: l.endpoint), environment: [:]),
                               credentials: StaticCredentialProvider(first!))
        let who = try await STS(client).callerIdentity()
        XCTAssertTrue(who.arn.contains(":assumed-role/"), who.arn)
    }

    func testContainerCredentialsWithAuthorizationToken() async throws {
        let server = try StubHTTPServer { req in
            guard req.headers["authorization"] == "Bearer abc" else { return .init(status: 401) }
            return .init(body: #"{"AccessKeyId":"ECSKEY","SecretAccessKey":"es","Token":"et","Expiration":"2099-01-01T00:00:00Z"}"#)
        }
        defer { server.stop() }
        let c = try await chain(env: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "\(server.url)/creds",
                                      "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer abc",
                                      "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"]).credentials()
        XCTAssertEqual(c?.accessKeyId, "ECSKEY")
        XCTAssertEqual(server.requests.first?.path, "/creds")
    }

    func testInstanceMetadataV2UsesASessionToken() async throws {
        let server = try StubHTTPServer { req in
            switch (req.method, req.path) {
            case ("PUT", "/latest/api/token"): return .init(body: "imds-token")
            case (_, _) where req.headers["x-aws-ec2-metadata-token"] != "imds-token": return .init(status: 401)
            case ("GET", "/latest/meta-data/iam/security-credentials/"): return .init(body: "my-role\n")
            case ("GET", "/latest/meta-data/iam/security-credentials/my-role"):
                return .init(body: #"{"Code":"Success","AccessKeyId":"IMDSKEY","SecretAccessKey":"is","Token":"it","Expiration":"2099-01-01T00:00:00Z"}"#)
            default: return .init(status: 404)
            }
        }
        defer { server.stop() }
        let c = try await chain(env: ["AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.url,
                                      "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"]).credentials()
        XCTAssertEqual(c?.accessKeyId, "IMDSKEY")
        XCTAssertEqual(c?.source, "EC2 instance role my-role")
        XCTAssertEqual(server.requests.first?.method, "PUT")
        XCTAssertEqual(server.requests.first?.headers["x-aws-ec2-metadata-token-ttl-seconds"], "21600")
    }

    func testNothingFoundNamesTheFixes() async throws {
        do {
            _ = try await chain(env: ["AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"]).credentials()
            XCTFail()
        } catch let e as CredentialsError {
            XCTAssertTrue(e.description.contains("AWS_ACCESS_KEY_ID"))
            XCTAssertTrue(e.description.contains("aws configure"))
            XCTAssertTrue(e.description.contains("--profile"))
        }
    }
}
