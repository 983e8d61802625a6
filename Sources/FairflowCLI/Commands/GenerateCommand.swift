import ArgumentParser
import FairflowCore
import FairflowTemplate
import Foundation

extension TemplateOptions.Format: ExpressibleByArgument {}

/// `fairflow generate`: the whole stack as one CloudFormation template, written locally (no AWS calls).
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write the CloudFormation template for the Airflow stack.",
        discussion: """
        Reads the secret ARNs, DAG_REPOSITORY, GIT_READ_ONLY_SECRET_ARN and IP_WHITELIST from --env
        (else from the process environment). Defaults as the seed's: not HA, no autoscaling, bastion on.
        The same inputs give byte-identical output. Airflow versions: \(TemplateGenerator.supportedAirflowVersions.joined(separator: ", ")).
        """)

    @OptionGroup var globals: GlobalOptions

    @Flag(help: "Highly available: Multi-AZ MySQL, ElastiCache with a replica, 2 of each Airflow service.")
    var ha = false

    @Flag(help: "Scale the Celery workers on CPU and memory (2..4 tasks).")
    var autoscaling = false

    @Flag(name: .customLong("no-bastion"), help: "Leave out the SSM bastion host.")
    var noBastion = false

    @Option(name: .customLong("airflow-version"), help: ArgumentHelp("Airflow release, or 2 / 3 for the newest of that major.", valueName: "version"))
    var airflowVersion: String = TemplateGenerator.defaultAirflowVersion

    @Option(name: .customLong("certificate-arn"), help: ArgumentHelp("ACM certificate: serve HTTPS on 443 and 5555.", valueName: "arn"))
    var certificateArn: String?

    @Option(help: ArgumentHelp("Airflow image to run instead of apache/airflow:<version>.", valueName: "image"))
    var image: String?

    @Option(name: .customLong("ssh-ingress-cidr"), help: ArgumentHelp("Open SSH (tcp/22) on the bastion to this CIDR.", valueName: "cidr"))
    var sshIngressCidr: String?

    @Option(help: "Template format: json or yaml.")
    var format: TemplateOptions.Format = .json

    @Option(name: [.short, .customLong("out")], help: ArgumentHelp("Write the template to this file (else stdout).", valueName: "file"))
    var outputFile: String?

    func run() async throws {
        let context = globals.makeContext()
        do {
            var o = TemplateOptions.fromEnv(try envValues(context), stackName: globals.settings.stack)
            o.ha = ha
            o.autoscaling = autoscaling
            o.bastion = !noBastion
            o.airflowVersion = airflowVersion
            o.certificateArn = certificateArn
            o.image = image
            o.sshIngressCidr = sshIngressCidr
            o.format = format
            let text: String
            do {
                text = try TemplateGenerator.render(o)
            } catch let e as TemplateInputError {
                let shown = e.value.isEmpty ? "" : " (\"\(e.value)\")"
                throw FairflowError.usage("invalid \(e.key)\(shown)", why: e.problem, fix: e.fix)
            }
            if let path = outputFile {
                do {
                    try text.write(toFile: path, atomically: true, encoding: .utf8)
                } catch {
                    throw FairflowError("cannot write \(path)", why: "\(error.localizedDescription)",
                                        fix: "check that the directory exists and is writable")
                }
                context.terminal.note("wrote \(path): Airflow \(o.resolvedAirflowVersion), \(o.ha ? "HA" : "not HA")\(o.autoscaling ? ", autoscaling" : ""), \(o.bastion ? "bastion" : "no bastion"), \(text.utf8.count) bytes")
            } else {
                context.terminal.write(text)
            }
        } catch {
            let status = CommandRunner.report(error, context: context)
            throw ExitCode(status.rawValue)
        }
    }

    /// The env file's values, or (without one) the same keys from the process environment.
    private func envValues(_ context: Context) throws -> [String: String] {
        if let file = try context.envFile() { return file.values }
        return context.environment.filter { TemplateOptions.EnvKey.all.contains($0.key) }
    }
}
