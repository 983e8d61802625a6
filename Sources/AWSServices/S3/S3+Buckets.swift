import AWSCore
import Crypto
import Foundation

public extension S3 {
    func createBucket(_ bucket: String, region: String) async throws {
        var body = Data()
        if region != "us-east-1" {
            body = Data("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(region)</LocationConstraint></CreateBucketConfiguration>".utf8)
        }
        do {
            _ = try await client.send(.rest(.s3, "CreateBucket", method: "PUT", path: "/", body: body, bucket: bucket))
        } catch let e as AWSError where e.code == "BucketAlreadyOwnedByYou" {
            return
        }
    }

    /// Private, versioned, encrypted, public access blocked, tagged.
    func harden(_ bucket: String, tags: [String: String]) async throws {
        let ns = "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""
        _ = try await client.send(.rest(.s3, "PutBucketVersioning", method: "PUT", path: "/", query: [("versioning", "")],
                                        body: Data("<VersioningConfiguration \(ns)><Status>Enabled</Status></VersioningConfiguration>".utf8), bucket: bucket))
        _ = try await client.send(.rest(.s3, "PutBucketEncryption", method: "PUT", path: "/", query: [("encryption", "")],
                                        body: Data("<ServerSideEncryptionConfiguration \(ns)><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>".utf8), bucket: bucket))
        _ = try await client.send(.rest(.s3, "PutPublicAccessBlock", method: "PUT", path: "/", query: [("publicAccessBlock", "")],
                                        body: Data("<PublicAccessBlockConfiguration \(ns)><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>".utf8), bucket: bucket))
        let tagXML = tags.sorted { $0.key < $1.key }.map { "<Tag><Key>\(xmlEscape($0.key))</Key><Value>\(xmlEscape($0.value))</Value></Tag>" }.joined()
        _ = try await client.send(.rest(.s3, "PutBucketTagging", method: "PUT", path: "/", query: [("tagging", "")],
                                        body: Data("<Tagging \(ns)><TagSet>\(tagXML)</TagSet></Tagging>".utf8), bucket: bucket))
    }

    func versioningStatus(_ bucket: String) async throws -> String? {
        let r = try await client.send(.rest(.s3, "GetBucketVersioning", method: "GET", path: "/", query: [("versioning", "")], bucket: bucket))
        return r.xml?.string("Status")
    }

    /// Every version and delete marker (a versioned bucket keeps them all).
    func objectVersions(_ bucket: String) -> Paginator<S3Object> {
        let client = self.client
        return Paginator { token in
            var q: [(String, String)] = [("versions", "")]
            var keyMarker: String?
            var versionMarker: String?
            if let t = token {
                let parts = t.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                keyMarker = parts.first
                versionMarker = parts.count > 1 ? parts[1] : nil
            }
            if let k = keyMarker { q.append(("key-marker", k)) }
            if let v = versionMarker, !v.isEmpty { q.append(("version-id-marker", v)) }
            let r: AWSResponse
            do {
                r = try await client.send(.rest(.s3, "ListObjectVersions", method: "GET", path: "/", query: q, bucket: bucket))
            } catch let e as AWSError where e.code == "NoSuchBucket" {
                throw S3Error.noSuchBucket(bucket)
            }
            let x = r.xml
            var items = (x?.all("Version") ?? []).map {
                S3Object(key: $0.string("Key") ?? "", size: Int($0.string("Size") ?? "0") ?? 0, versionId: $0.string("VersionId"), isDeleteMarker: false)
            }
            items += (x?.all("DeleteMarker") ?? []).map {
                S3Object(key: $0.string("Key") ?? "", size: 0, versionId: $0.string("VersionId"), isDeleteMarker: true)
            }
            var next: String?
            if x?.string("IsTruncated") == "true" {
                next = (x?.string("NextKeyMarker") ?? "") + "\n" + (x?.string("NextVersionIdMarker") ?? "")
            }
            return (items, next)
        }
    }

    /// Deletes up to 1000 objects (versions) per call; returns the keys that failed.
    func deleteObjects(_ bucket: String, _ objects: [S3Object]) async throws -> [String] {
        var failed: [String] = []
        var i = 0
        while i < objects.count {
            let batch = objects[i..<min(i + 1000, objects.count)]
            let items = batch.map { o -> String in
                "<Object><Key>\(xmlEscape(o.key))</Key>" + (o.versionId.map { "<VersionId>\(xmlEscape($0))</VersionId>" } ?? "") + "</Object>"
            }.joined()
            let body = Data("<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>\(items)</Delete>".utf8)
            let md5 = Data(Insecure.MD5.hash(data: body)).base64EncodedString()
            let r = try await client.send(.rest(.s3, "DeleteObjects", method: "POST", path: "/", query: [("delete", "")],
                                                headers: [("Content-MD5", md5), ("Content-Type", "application/xml")], body: body, bucket: bucket))
            failed += (r.xml?.all("Error") ?? []).compactMap { $0.string("Key") }
            i += 1000
        }
        return failed
    }

    func deleteBucket(_ bucket: String) async throws {
        do {
            _ = try await client.send(.rest(.s3, "DeleteBucket", method: "DELETE", path: "/", bucket: bucket))
        } catch let e as AWSError where e.code == "NoSuchBucket" {
            return
        }
    }

    func bucketTags(_ bucket: String) async throws -> [String: String] {
        do {
            let r = try await client.send(.rest(.s3, "GetBucketTagging", method: "GET", path: "/", query: [("tagging", "")], bucket: bucket))
            var out: [String: String] = [:]
            for t in r.xml?.list("TagSet", item: "Tag") ?? [] { if let k = t.string("Key") { out[k] = t.string("Value") ?? "" } }
            return out
        } catch let e as AWSError where e.code == "NoSuchTagSet" || e.code == "NoSuchTagSetError" {
            return [:]
        }
    }
}

func xmlEscape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
