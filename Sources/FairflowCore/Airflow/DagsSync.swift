import AirflowAPI
import AWSServices
import FairflowTemplate
import Foundation

/// `fairflow dags sync`: make the DAG repository on EFS current now — a new deployment of the stack's
/// git-sync service, which clones/pulls at start — then wait until the DAG processor has parsed the
/// result (the DAG list and import errors stop changing) and show the import errors that are new.
public enum DagsSync: FairflowOperation {
    public static let id = "dags.sync"
    public static let summary = "Pull the DAG repository onto EFS now, wait for the DAG processor, show new import errors."

    public struct Input: Codable, Sendable {
        public var airflow = AirflowTarget()
        /// How long the DAG list and import errors must stay unchanged to count as parsed.
        public var settleSeconds: Double = 30
        public var timeoutSeconds: Double = 600
        public var pollSeconds: Double = 5
        public init() {}
    }

    public struct Output: OperationOutput {
        public var service: String
        public var dags: Int
        public var newImportErrors: [DagsErrors.Item]
        public var importErrors: Int
        public var exitStatus: ExitStatus { newImportErrors.isEmpty ? .ok : .checkFailed }

        public func renderText(_ t: Terminal) -> String {
            var s = "synced: \(service) redeployed; \(dags) DAGs parsed, \(importErrors) import error\(importErrors == 1 ? "" : "s")\n"
            if !newImportErrors.isEmpty {
                s += Table(headers: ["NEW IMPORT ERROR", "MESSAGE"], rows: newImportErrors.map { [$0.filename, $0.message] }).render(tty: t.isTTY)
            }
            return s
        }
    }

    public static func plan(_ input: Input, context: Context) async throws -> [PlannedAction] {
        [PlannedAction("ECS UpdateService forceNewDeployment (dag-sync)", mutating: true), PlannedAction("ECS DescribeServices (until steady)"),
         PlannedAction("Airflow GET /dags + /importErrors (until settled)")]
    }

    public static func run(_ input: Input, context: Context) async throws -> Output {
        let stack = try await StackResources.load(context)
        let cluster = try stack.cluster
        let service = try stack.output(StackOutputs.serviceName(.dagSync), for: "the dag-sync service")
        let ecs = ECS(try context.aws())
        let started = Date()
        return try await AirflowAccess.withAirflow(input.airflow, context: context) { client in
            let before = Set(try await client.importErrors().map { "\($0.filename)|\($0.stackTrace)" })
            _ = try await ecs.updateService(cluster: cluster, service: service, forceNewDeployment: true)
            context.terminal.note("new deployment of \(service): git-sync pulls the DAG repository onto EFS")
            _ = try await ecs.waitUntilStable(cluster: cluster, [service], timeout: input.timeoutSeconds)
            context.terminal.note("dag-sync is steady; waiting for the DAG processor to parse (settles after \(Int(input.settleSeconds)) s unchanged)")
            var last = ""
            var stableSince = Date()
            var dags: [AirflowDag] = []
            var errors: [AirflowImportError] = []
            while true {
                dags = try await client.listDags(DagFilter())
                errors = try await client.importErrors()
                let fingerprint = dags.map(\.dagId).sorted().joined(separator: ",") + "|" + errors.map { "\($0.filename)|\($0.stackTrace)" }.sorted().joined(separator: ",")
                if fingerprint != last { last = fingerprint; stableSince = Date() }
                if Date().timeIntervalSince(stableSince) >= input.settleSeconds { break }
                if Date().timeIntervalSince(started) > input.timeoutSeconds {
                    throw FairflowError("DAG sync did not settle", why: "the DAG list kept changing for \(Int(input.timeoutSeconds)) s",
                                        fix: "check the dag-processor's logs: `fairflow logs tail dag-processor`")
                }
                try await Task.sleep(nanoseconds: UInt64(input.pollSeconds * 1e9))
            }
            let fresh = errors.filter { !before.contains("\($0.filename)|\($0.stackTrace)") }
            return Output(service: service, dags: dags.count,
                          newImportErrors: fresh.map { DagsErrors.Item(filename: $0.filename, message: $0.message, timestamp: $0.timestamp, stackTrace: $0.stackTrace) },
                          importErrors: errors.count)
        }
    }
}

extension DagsSync: DefaultedInputs { public static let inputDefaults = #"{"airflow":{},"settleSeconds":30,"timeoutSeconds":600,"pollSeconds":5}"# }
