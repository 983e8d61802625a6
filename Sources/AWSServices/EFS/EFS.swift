import AWSCore
import Foundation

public struct FileSystemSummary: Decodable, Sendable {
    public var FileSystemId: String
    public var LifeCycleState: String
    public var Name: String?
    public var Tags: [Tag]?
    public struct Tag: Decodable, Sendable { public var Key: String; public var Value: String }
}

public enum EFSError: Error, CustomStringConvertible {
    case fileSystemNotFound(String)
    public var description: String {
        switch self { case .fileSystemNotFound(let id): return "EFS file system \(id) does not exist" }
    }
}

public struct EFS: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    public func fileSystems(id: String? = nil) async throws -> [FileSystemSummary] {
        struct Page: Decodable { var FileSystems: [FileSystemSummary]?; var NextMarker: String? }
        var all: [FileSystemSummary] = []
        var marker: String?
        repeat {
            var q: [(String, String)] = []
            if let id = id { q.append(("FileSystemId", id)) }
            if let m = marker { q.append(("Marker", m)) }
            do {
                let page = try await client.send(.rest(.efs, "DescribeFileSystems", method: "GET",
                                                       path: "/2015-02-01/file-systems", query: q)).decode(Page.self)
                all += page.FileSystems ?? []
                marker = page.NextMarker
            } catch let e as AWSError where e.code == "FileSystemNotFound" {
                throw EFSError.fileSystemNotFound(id ?? "?")
            }
        } while marker != nil
        return all
    }
}
