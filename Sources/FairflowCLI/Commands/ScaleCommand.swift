import ArgumentParser
import FairflowCore
import Foundation

/// `fairflow scale COMPONENT COUNT` or `fairflow scale worker --min N --max M`.
struct ScaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale", abstract: "Set a component's task count, or the workers' autoscaling range.",
        discussion: """
        `scale COMPONENT COUNT` updates the ECS service and waits for a steady state (--no-wait to return at once);
        scaling to 0 needs --yes. `scale worker --min N --max M [--cpu PCT] [--memory PCT] [--tasks-per-worker N]`
        registers the Application Auto Scaling target and target-tracking policies; --tasks-per-worker tracks the
        work waiting (the CeleryBacklogPerWorker metric a stack deployed with --autoscaling publishes), so
        workers scale out from --min 0 when a DAG runs.
        """)
    @OptionGroup var globals: GlobalOptions

    @Argument(help: "The component (\(Scale.scalable.map(\.rawValue).joined(separator: ", "))).")
    var component: String

    // Unrecognized words land here too, so `scale worker -1` says "negative" instead of "unknown option".
    @Argument(parsing: .allUnrecognized, help: "The number of tasks.")
    var countWords: [String] = []
    var count: String? { countWords.first }

    @Flag(name: .customLong("no-wait"), help: "Return after UpdateService without waiting for a steady state.")
    var noWait = false

    @Option(help: "Autoscaling: the fewest workers.") var min: Int?
    @Option(help: "Autoscaling: the most workers.") var max: Int?
    @Option(help: "Autoscaling: target average CPU, percent.") var cpu: Double?
    @Option(help: "Autoscaling: target average memory, percent.") var memory: Double?
    @Option(name: .customLong("tasks-per-worker"), help: "Autoscaling: target queued + running Celery tasks per worker (scales out from --min 0).")
    var tasksPerWorker: Int?

    @Option(help: "Seconds to wait for a steady state.")
    var timeout: Double = 600

    func run() async throws {
        if min != nil || max != nil || cpu != nil || memory != nil || tasksPerWorker != nil {
            try await DayTwoRunner.run(ScaleAuto.self, globals: globals) {
                guard count == nil else {
                    throw FairflowError.usage("COUNT with --min/--max", why: "give either a fixed count or an autoscaling range", fix: "drop one of them")
                }
                guard let lo = min, let hi = max else {
                    throw FairflowError.usage("autoscaling needs --min and --max", why: "only one of them was given", fix: "pass both")
                }
                let i = ScaleAuto.Input(component: try AirflowComponent.parse(component, allowed: Scale.scalable), min: lo, max: hi,
                                        cpuPercent: cpu, memoryPercent: memory, tasksPerWorker: tasksPerWorker)
                try ScaleAuto.validate(i)
                return i
            }
        } else {
            try await DayTwoRunner.run(Scale.self, globals: globals) {
                let c = try AirflowComponent.parse(component, allowed: Scale.scalable)
                if countWords.count > 1 {
                    throw FairflowError.usage("unexpected '\(countWords.dropFirst().joined(separator: " "))'", why: "scale takes one component and one count",
                                              fix: "e.g. `fairflow scale \(c.rawValue) 2`")
                }
                guard let text = count else {
                    throw FairflowError.usage("missing COUNT", why: "scale needs a task count or --min/--max", fix: "e.g. `fairflow scale \(c.rawValue) 2`")
                }
                guard let n = Int(text) else {
                    throw FairflowError.usage("bad count '\(text)'", why: "not a whole number", fix: "e.g. `fairflow scale \(c.rawValue) 2`")
                }
                var i = Scale.Input(component: c, count: n, wait: !noWait)
                i.timeoutSeconds = timeout
                try Scale.validate(i)
                return i
            }
        }
    }
}
