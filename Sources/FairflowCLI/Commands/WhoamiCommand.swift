import ArgumentParser
import FairflowCore

struct WhoamiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: Whoami.summary)
    @OptionGroup var globals: GlobalOptions

    func run() async throws {
        try await CommandRunner.run(Whoami.self, .init(), globals: globals)
    }
}
