import ArgumentParser
import FairflowCore

/// `fairflow workers`: why a worker is (not) going away.
struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers", abstract: Workers.summary,
        discussion: """
        Per running worker task: its Celery host and active tasks (from Flower), and whether ECS protects it
        from scale-in (the task-protection container sets it while the worker is busy). Below, the queue depth
        the workers scale on (Fairflow/CeleryBacklog and CeleryBacklogPerWorker, published by the scheduler's
        queue-metrics container in a stack deployed with --autoscaling). What cannot be read is a note, not a failure.
        """)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var flower: FlowerOptions

    func run() async throws {
        try await CommandRunner.run(Workers.self, .init(flower: try flower.target()), globals: globals)
    }
}
