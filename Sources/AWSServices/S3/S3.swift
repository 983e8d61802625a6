import AWSCore
import Foundation

public struct S3Object: Sendable {
    public var key: String
    public var size: Int
    public var versionId: String?
    public var isDeleteMarker: Bool
}

public enum S3Error: Error, CustomStringConvertible {
    case noSuchBucket(String)
    public var description: String {
        switch self { case .noSuchBucket(let b): return "S3 bucket \(b) does not exist" }
    }
}

public struct S3: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    func map(_ error: Error, _ bucket: String) -> Error {
        if let e = error as? AWSError, e.code == "NoSuchBucket" || (e.operation == "HeadBucket" && e.status == 404) {
            return S3Error.noSuchBucket(bucket)
        }
        return error
    }

    public func buckets() async throws -> [String] {
        let r = try await client.send(.rest(.s3, "ListBuckets", method: "GET", path: "/"))
        return (r.xml?.list("Buckets", item: "Bucket") ?? []).compactMap { $0.string("Name") }
    }

    public func bucketExists(_ bucket: String) async throws -> Bool {
        do {
            _ = try await client.send(.rest(.s3, "HeadBucket", method: "HEAD", path: "/", bucket: bucket))
            return true
        } catch {
            if case S3Error.noSuchBucket = map(error, bucket) { return false }
            throw error
        }
    }

    public func objects(_ bucket: String, prefix: String? = nil) -> Paginator<S3Object> {
        let client = self.client
        return Paginator { token in
            var q: [(String, String)] = [("list-type", "2")]
            if let p = prefix { q.append(("prefix", p)) }
            if let t = token { q.append(("continuation-token", t)) }
            do {
                let r = try await client.send(.rest(.s3, "ListObjectsV2", method: "GET", path: "/", query: q, bucket: bucket))
                let x = r.xml
                let items = (x?.all("Contents") ?? []).map {
                    S3Object(key: $0.string("Key") ?? "", size: Int($0.string("Size") ?? "0") ?? 0, versionId: nil, isDeleteMarker: false)
                }
                let next = x?.string("IsTruncated") == "true" ? x?.string("NextContinuationToken") : nil
                return (items, next)
            } catch let e as AWSError where e.code == "NoSuchBucket" {
                throw S3Error.noSuchBucket(bucket)
            }
        }
    }

    public func getObject(_ bucket: String, key: String) async throws -> Data {
        let path = "/" + key.split(separator: "/", omittingEmptySubsequences: false).map { AWSOperation.pathSegment(String($0)) }.joined(separator: "/")
        do {
            return try await client.send(.rest(.s3, "GetObject", method: "GET", path: path, bucket: bucket)).http.body
        } catch { throw map(error, bucket) }
    }

    public func putObject(_ bucket: String, key: String, body: Data, contentType: String = "application/octet-stream") async throws {
        let path = "/" + key.split(separator: "/", omittingEmptySubsequences: false).map { AWSOperation.pathSegment(String($0)) }.joined(separator: "/")
        do {
            _ = try await client.send(.rest(.s3, "PutObject", method: "PUT", path: path,
                                            headers: [("Content-Type", contentType)], body: body, bucket: bucket))
        } catch { throw map(error, bucket) }
    }
}
