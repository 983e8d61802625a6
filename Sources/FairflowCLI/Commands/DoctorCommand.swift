import ArgumentParser
import FairflowCore

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: Doctor.summary)
    @OptionGroup var globals: GlobalOptions

    func run() async throws {
        try await CommandRunner.run(Doctor.self, .init(), globals: globals)
    }
}
