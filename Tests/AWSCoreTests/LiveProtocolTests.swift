import AWSCore
import AWSServices
import FairflowTestSupport
import Foundation
import XCTest

/// One real call per protocol family against the local AWS, with the aws CLI as the oracle, and the
/// error each family gives for an unknown resource.
final class LiveProtocolTests: LiveAWSTestCase {
    func testQuerySTSMatchesTheAWSCLI() async throws {
        let id = try await STS(try client()).callerIdentity()
        let oracle = try awsCLI(["sts", "get-caller-identity"], environment: try local.environment) as! [String: Any]
        XCTAssertEqual(id.account, oracle["Account"] as? String)
        XCTAssertEqual(id.arn, oracle["Arn"] as? String)
    }

    func testWrongSecretIsRejectedBySignatureCheck() async throws {
        do {
            _ = try await STS(try client(secret: "not-the-secret")).callerIdentity()
            XCTFail("a wrong secret must be rejected")
        } catch let e as AWSError {
            XCTAssertEqual(e.code, "SignatureDoesNotMatch")
            XCTAssertTrue(e.isAuthFailure)
        }
    }

    func testJSONSecretsManagerCreateDescribeAndNotFound() async throws {
        let sm = SecretsManager(try client())
        let name = "airflow-test-\(UUID().uuidString.prefix(8))"
        let arn = try await sm.create(name: name, value: "s3cr3t-value", tags: ["Stack": "T"])
        let d = try await sm.describe(name)
        XCTAssertEqual(d.ARN, arn)
        let oracle = try awsCLI(["secretsmanager", "describe-secret", "--secret-id", name], environment: try local.environment) as! [String: Any]
        XCTAssertEqual(oracle["ARN"] as? String, arn)
        let listed = try await sm.list(prefix: "airflow-test-").all().map(\.Name)
        XCTAssertTrue(listed.contains(name))
        do {
            _ = try await sm.describe("airflow-does-not-exist")
            XCTFail("expected not found")
        } catch SecretsManagerError.notFound(let id) {
            XCTAssertEqual(id, "airflow-does-not-exist")
        }
        do {
            _ = try await try client().send(.json(.secretsManager, "DescribeSecret", ["SecretId": "nope"]))
        } catch let e as AWSError {
            XCTAssertEqual(e.code, "ResourceNotFoundException")
            XCTAssertEqual(e.service, "Secrets Manager")
            XCTAssertEqual(e.operation, "DescribeSecret")
        }
    }

    func testEC2DescribeVpcsMatchesTheAWSCLIAndUnknownIdErrors() async throws {
        let vpcs = try await EC2(try client()).vpcs()
        let oracle = try awsCLI(["ec2", "describe-vpcs"], environment: try local.environment) as! [String: Any]
        let ids = (oracle["Vpcs"] as! [[String: Any]]).map { $0["VpcId"] as! String }.sorted()
        XCTAssertEqual(vpcs.map(\.id).sorted(), ids)
        XCTAssertFalse(ids.isEmpty)
        do {
            _ = try await EC2(try client()).vpcs(ids: ["vpc-00000000deadbeef0"])
            XCTFail("expected an error")
        } catch let e as AWSError {
            XCTAssertEqual(e.code, "InvalidVpcID.NotFound")
            XCTAssertEqual(e.status, 400)
        }
    }

    func testRestJSONEFSDescribeAndNotFound() async throws {
        let env = try local.environment
        let created = try awsCLI(["efs", "create-file-system", "--creation-token", "tok-\(UUID().uuidString.prefix(6))"], environment: env) as! [String: Any]
        let fsId = created["FileSystemId"] as! String
        let all = try await EFS(try client()).fileSystems()
        XCTAssertTrue(all.map(\.FileSystemId).contains(fsId))
        let one = try await EFS(try client()).fileSystems(id: fsId)
        XCTAssertEqual(one.first?.FileSystemId, fsId)
        do {
            _ = try await EFS(try client()).fileSystems(id: "fs-00000000")
            XCTFail("expected not found")
        } catch EFSError.fileSystemNotFound(let id) {
            XCTAssertEqual(id, "fs-00000000")
        }
    }

    func testRestXMLS3ListsPutGetAndNoSuchBucket() async throws {
        let env = try local.environment
        let bucket = "fairflow-test-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try awsCLI(["s3api", "create-bucket", "--bucket", bucket], environment: env)
        let s3 = S3(try client())
        let buckets = try await s3.buckets()
        XCTAssertTrue(buckets.contains(bucket))
        try await s3.putObject(bucket, key: "dir/a key+with spaces.txt", body: Data("hello".utf8))
        let got = try await s3.getObject(bucket, key: "dir/a key+with spaces.txt")
        XCTAssertEqual(String(decoding: got, as: UTF8.self), "hello")
        let keys = try await s3.objects(bucket, prefix: "dir/").all().map(\.key)
        let oracle = try awsCLI(["s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "dir/"], environment: env) as! [String: Any]
        XCTAssertEqual(keys, (oracle["Contents"] as! [[String: Any]]).map { $0["Key"] as! String })
        let exists = try await s3.bucketExists(bucket)
        XCTAssertTrue(exists)
        let missing = try await s3.bucketExists("fairflow-no-such-bucket-x")
        XCTAssertFalse(missing)
        do {
            _ = try await s3.objects("fairflow-no-such-bucket-x").all()
            XCTFail("expected NoSuchBucket")
        } catch S3Error.noSuchBucket(let b) {
            XCTAssertEqual(b, "fairflow-no-such-bucket-x")
        }
    }

    func testQueryCloudFormationUnknownStackIsTyped() async throws {
        do {
            _ = try await CloudFormation(try client()).stack("no-such-stack")
            XCTFail("expected stack not found")
        } catch CloudFormationError.stackNotFound(let s) {
            XCTAssertEqual(s, "no-such-stack")
        }
        let none = try await CloudFormation(try client()).stackIfExists("no-such-stack")
        XCTAssertNil(none)
    }

    func testReadOnlyClientRefusesMutatingCallsBeforeSending() async throws {
        let c = try client()
        c.readOnly = true
        do {
            _ = try await SecretsManager(c).create(name: "airflow-never", value: "x")
            XCTFail("expected refusal")
        } catch let e as MutationRefused {
            XCTAssertEqual(e.operation, "CreateSecret")
        }
        let names = try await SecretsManager(try client()).list(prefix: "airflow-never").all()
        XCTAssertTrue(names.isEmpty)
        _ = try await STS(c).callerIdentity()  // reads still work
    }
}
