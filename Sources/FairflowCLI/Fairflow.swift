import ArgumentParser
import FairflowCore

/// The command tree. Add a command here and its operation to `Operations.all`.
public struct FairflowCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fairflow",
        abstract: "Deploy and operate a highly available Airflow on AWS.",
        discussion: """
        Exit codes: 0 ok (also "no results"), 1 operation failed, 3 a check found a problem,
        4 credentials or auth failed, 64 usage or bad input, 130 interrupted.
        """,
        version: FairflowCore.version,
        subcommands: [
            WhoamiCommand.self,
            DoctorCommand.self,
            GenerateCommand.self,
            DeployCommand.self,
            DiffCommand.self,
            TeardownCommand.self,
            StatusCommand.self,
            TimelineCommand.self,
            RestartCommand.self,
            SecretsCommand.self,
            LogsCommand.self,
            ScaleCommand.self,
            WorkersCommand.self,
            TasksCommand.self,
            DagsCommand.self,
            FlowerCommand.self,
            DbCommand.self,
            EfsCommand.self,
            UpgradeCommand.self,
            RunbookCommand.self,
        ]
    )

    public init() {}
}

/// Every operation, registered once for runbooks.
public enum Operations {
    public static let all: [any FairflowOperation.Type] = [
        Whoami.self,
        Doctor.self,
        Generate.self,
        Deploy.self,
        Diff.self,
        Teardown.self,
        Status.self,
        Timeline.self,
        SecretsInit.self, SecretsList.self, SecretsRotate.self, SecretsPrune.self, Restart.self,
        LogsTail.self, LogsTask.self,
        Scale.self, ScaleAuto.self, Workers.self,
        TasksRun.self,
        DagsList.self, DagsErrors.self, DagsTrigger.self, DagsRuns.self, DagsState.self, DagsLogs.self,
        DagsPause.self, DagsUnpause.self, DagsClear.self, DagsSync.self, FlowerWorkers.self, FlowerTasks.self,
        DbCheck.self,
        DbTunnel.self,
        EfsLs.self,
    ] + UpgradeSteps.all
}
