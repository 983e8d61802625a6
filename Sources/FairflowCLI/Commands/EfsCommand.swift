import ArgumentParser
import FairflowCore

struct EfsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "efs", abstract: "The shared file system (DAGs, external files).",
                                                    subcommands: [EfsLsCommand.self])
}

struct EfsLsCommand: AsyncParsableCommand {
    enum AccessPoint: String, ExpressibleByArgument, CaseIterable { case dags, external }
    enum Via: String, ExpressibleByArgument, CaseIterable { case ssm, ssh }

    static let configuration = CommandConfiguration(commandName: "ls", abstract: EfsLs.summary)
    @OptionGroup var globals: GlobalOptions
    @Argument(help: "Path inside the access point.")
    var path: String = ""
    @Option(help: "Which access point.")
    var accessPoint: AccessPoint = .dags
    @Flag(help: "List subdirectories too.")
    var recursive = false
    @Option(help: "How to reach the bastion.")
    var via: Via = .ssm
    @OptionGroup var ssh: SSHOptions
    @Option(help: ArgumentHelp("List this directory on the bastion instead of mounting EFS.", valueName: "dir", visibility: .hidden))
    var efsMountedAt: String?
    @Option(help: ArgumentHelp("Seconds to wait for the listing.", valueName: "seconds"))
    var timeout: Int = 120

    func run() async throws {
        var input = EfsLs.Input()
        input.path = path
        input.accessPoint = accessPoint.rawValue
        input.recursive = recursive
        input.via = via.rawValue
        input.ssh = ssh.input
        input.mountedAt = efsMountedAt
        input.timeoutSeconds = timeout
        try await CommandRunner.run(EfsLs.self, input, globals: globals)
    }
}
