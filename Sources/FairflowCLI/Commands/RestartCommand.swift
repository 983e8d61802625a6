import ArgumentParser
import FairflowCore

struct RestartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart", abstract: Restart.summary)
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "Components to restart (default: every Airflow service of the stack).")
    var components: [String] = []
    @Flag(name: .customLong("no-wait"), help: "Start the deployments and return.")
    var noWait = false

    func run() async throws {
        try await DayTwoRunner.run(Restart.self, globals: globals) {
            Restart.Input(components: try components.map { try AirflowComponent.parse($0) }, wait: !noWait)
        }
    }
}

struct SecretsPruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: SecretsPrune.summary)
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "The secret (airflow-fernet-key).")
    var name: String = AirflowSecret.fernetKey.rawValue

    func run() async throws {
        try await DayTwoRunner.run(SecretsPrune.self, globals: globals) { SecretsPrune.Input(secret: try AirflowSecret.parse(name)) }
    }
}
