import AWSSigV4
import FairflowTemplate
import Foundation

/// `fairflow generate`: the whole stack as one CloudFormation template (no AWS calls).
public enum Generate: FairflowOperation {
    public static let id = "generate"
    public static let summary = "Write the CloudFormation template for the Airflow stack."

    public struct Input: Codable, Sendable {
        public var mode = StackMode()
        public var format: String = "json"
        public var outputFile: String?
        public init() {}
        enum CodingKeys: String, CodingKey { case mode, format, outputFile = "output_file" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            mode = try c.decodeIfPresent(StackMode.self, forKey: .mode) ?? (try StackMode(from: decoder))
            format = try c.decodeIfPresent(String.self, forKey: .format) ?? "json"
            outputFile = try c.decodeIfPresent(String.self, forKey: .outputFile)
        }
    }

    public struct Output: OperationOutput {
        public var file: String?
        public var bytes: Int
        public var sha256: String
        public var airflowVersion: String
        public var description: String
        /// The template itself when no file was named (printed as-is in text mode).
        public var template: String?

        public func renderText(_ t: Terminal) -> String {
            if let tpl = template { return tpl }
            t.note("wrote \(file ?? "-"): \(description), \(bytes) bytes")
            return ""
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("render template", detail: input.outputFile.map { "write \($0)" } ?? "to stdout")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        guard let format = TemplateOptions.Format(rawValue: input.format) else {
            throw FairflowError.usage("unknown template format '\(input.format)'", why: "fairflow writes json or yaml", fix: "pass --format json or --format yaml")
        }
        let o = try StackTemplate.options(input.mode, format: format, context: context)
        let text = try StackTemplate.render(o)
        if let path = input.outputFile {
            do {
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                throw FairflowError("cannot write \(path)", why: error.localizedDescription, fix: "check that the directory exists and is writable")
            }
        }
        return Output(file: input.outputFile, bytes: text.utf8.count, sha256: SigV4.hexSHA256(Data(text.utf8)),
                      airflowVersion: o.resolvedAirflowVersion, description: StackTemplate.describe(o),
                      template: input.outputFile == nil ? text : nil)
    }
}
