import ArgumentParser
import FairflowCLI
import Foundation

/// The binary's entry point: the command tree lives in FairflowCLI.
@main
struct Entry {
    static func main() async {
        setvbuf(stdout, nil, _IOLBF, 0)
        await FairflowCommand.main(CommandLine.arguments.dropFirst().map { $0 })
    }
}
