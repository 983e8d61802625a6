import ArgumentParser
import FairflowCore

/// How to reach the bastion over SSH (db check, db tunnel, efs ls --via ssh).
struct SSHOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The bastion's address (else the stack's bastion).", valueName: "host"))
    var bastionHost: String?
    @Option(help: "The bastion's SSH port.")
    var bastionPort: Int = 22
    @Option(help: "SSH user on the bastion.")
    var sshUser: String = "ec2-user"
    @Option(help: ArgumentHelp("Private key file, ed25519 or ECDSA (else ssh-agent, else an EC2 Instance Connect key).", valueName: "file"))
    var sshKey: String?
    @Option(help: ArgumentHelp("Environment variable holding the key's passphrase.", valueName: "var"))
    var sshKeyPassphraseEnv: String?
    @Option(help: ArgumentHelp("Known-hosts file (else ~/.ssh/known_hosts and ~/.config/fairflow/known_hosts).", valueName: "file"))
    var knownHosts: String?
    @Flag(help: "Trust and record the bastion's host key if it is not known yet (never a changed one).")
    var acceptNewHostKey = false
    @Option(help: ArgumentHelp("Seconds an SSH step may stall.", valueName: "seconds"))
    var sshTimeout: Double = 15

    var input: SSHTargetInput {
        var t = SSHTargetInput()
        t.bastionHost = bastionHost
        t.bastionPort = bastionPort
        t.sshUser = sshUser
        t.sshKey = sshKey
        t.sshKeyPassphraseEnv = sshKeyPassphraseEnv
        t.knownHosts = knownHosts
        t.acceptNewHostKey = acceptNewHostKey
        t.timeoutSeconds = sshTimeout
        return t
    }
}

/// A database other than the stack's (its password from an environment variable).
struct DatabaseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Database host as seen from the bastion (else the stack's RDS endpoint).", valueName: "host"))
    var dbHost: String?
    @Option(help: "Database port.")
    var dbPort: Int = 3306
    @Option(help: "Database user (with --db-host).")
    var dbUser: String?
    @Option(help: "Database name.")
    var dbName: String = "airflow"
    @Option(help: ArgumentHelp("Environment variable holding the password (with --db-host).", valueName: "var"))
    var dbPasswordEnv: String = "FAIRFLOW_DB_PASSWORD"
    @Flag(help: "Require TLS to the database.")
    var dbTLS = false

    var input: DatabaseInput {
        var d = DatabaseInput()
        d.dbHost = dbHost
        d.dbPort = dbPort
        d.dbUser = dbUser
        d.dbName = dbName
        d.dbPasswordEnv = dbPasswordEnv
        d.requireTLS = dbTLS
        return d
    }
}

struct DbCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "The Airflow metadata database.",
                                                    subcommands: [DbCheckCommand.self, DbTunnelCommand.self])
}

struct DbCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: DbCheck.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var ssh: SSHOptions
    @OptionGroup var db: DatabaseOptions
    @Option(help: "How to reach the database: ssm (the bastion's mysql client through Run Command) or ssh (a tunnel). Default: ssm for the stack's bastion, ssh with --bastion-host or --db-host.")
    var via: String?
    @Option(help: ArgumentHelp("The deployed Airflow version (else the stack's).", valueName: "version"))
    var airflowVersion: String?
    @Option(help: ArgumentHelp("Seconds after which a queued task instance counts as stuck.", valueName: "seconds"))
    var stuckQueuedAfter: Int = 1800
    @Option(help: ArgumentHelp("Seconds after which a running task instance counts as stuck.", valueName: "seconds"))
    var stuckRunningAfter: Int = 43200
    @Option(help: ArgumentHelp("Oldest acceptable scheduler heartbeat, in seconds.", valueName: "seconds"))
    var heartbeatMaxAge: Int = 300

    func run() async throws {
        var input = DbCheck.Input()
        input.ssh = ssh.input
        input.db = db.input
        input.via = via
        input.airflowVersion = airflowVersion
        input.stuckQueuedAfter = stuckQueuedAfter
        input.stuckRunningAfter = stuckRunningAfter
        input.schedulerHeartbeatMaxAge = heartbeatMaxAge
        try await CommandRunner.run(DbCheck.self, input, globals: globals)
    }
}

struct DbTunnelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tunnel", abstract: DbTunnel.summary)
    @OptionGroup var globals: GlobalOptions
    @OptionGroup var ssh: SSHOptions
    @OptionGroup var db: DatabaseOptions
    @Option(help: ArgumentHelp("Local port on 127.0.0.1 (0: a free one).", valueName: "port"))
    var localPort: Int = 0
    @Flag(help: "Print the database password too.")
    var showPassword = false

    func run() async throws {
        var input = DbTunnel.Input()
        input.ssh = ssh.input
        input.db = db.input
        input.localPort = localPort
        input.showPassword = showPassword
        try await CommandRunner.run(DbTunnel.self, input, globals: globals)
    }
}
