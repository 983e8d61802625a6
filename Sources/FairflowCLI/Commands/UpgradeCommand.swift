import ArgumentParser
import FairflowCore
import Foundation
import Runbook

extension UpgradeRollback.Restore: ExpressibleByArgument {}

/// `fairflow upgrade --airflow-version V`: runs runbooks/upgrade.yaml (journal, resume, dry run);
/// `fairflow upgrade --rollback RUN_ID`: the rollback step alone, from that run's journal.
struct UpgradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade", abstract: "Upgrade Airflow with a preflight, an import test, a snapshot, a watched migration and a rollback.",
        discussion: """
        Steps (the upgrade runbook's; `fairflow runbook show upgrade`): preflight (version path, database size,
        health), import test (the DAGs parsed by the new version in a one-off task; nothing changes before it
        passes), snapshot (RDS, named after the run), quiesce (scheduler, DAG processor, triggerer to 0; running
        tasks finish), migrate (a one-off task with the new image; its log and the database's locks watched),
        roll (a stack update with the stall detector), verify (status, db check at the new head, --canary DAG).
        A failure in quiesce, migrate, roll or verify rolls back: a schema downgrade by Airflow's migrations, or
        the snapshot restored in place when a downgrade is not possible, then the old images, then verify.
        The run is journaled under .fairflow/runs/RUN_ID: `fairflow runbook resume RUN_ID` goes on after an
        interruption; `fairflow upgrade --rollback RUN_ID` rolls a finished run back.
        Exit codes: 0 upgraded, 1 failed (and rolled back, if it got that far), 64 refused before any change.
        """)
    @OptionGroup var globals: GlobalOptions
    @Option(name: .customLong("airflow-version"), help: ArgumentHelp("The Airflow release to upgrade to.", valueName: "version"))
    var airflowVersion: String?
    @Option(help: ArgumentHelp("The new image, for a stack that runs its own.", valueName: "image")) var image: String?
    @Option(help: ArgumentHelp("A DAG that must run to success on the new version (repeatable: each, in order).", valueName: "dag-id")) var canary: [String] = []
    @Flag(help: "Go on past an unhealthy stack or a metadata database above 50 GB.") var force = false
    @Option(name: .customLong("drain-timeout"), help: "Seconds to let running tasks finish once scheduling is paused.") var drainTimeout: Int = 600
    @Option(help: "How a rollback restores the schema: auto (a downgrade, else the snapshot), downgrade, snapshot.") var restore: UpgradeRollback.Restore = .auto
    @Option(help: ArgumentHelp("Roll back the upgrade run RUN_ID (see .fairflow/runs).", valueName: "run-id")) var rollback: String?
    @Flag(name: .customLong("dry-run"), help: "Print each step's plan; change nothing.") var dryRun = false

    func run() async throws {
        let context = globals.makeContext()
        if let runId = rollback {
            let input: UpgradeRollback.Input
            do { input = try Self.rollbackInput(runId: runId, restore: restore) } catch { throw ExitCode(CommandRunner.report(error, context: context).rawValue) }
            if !dryRun {
                do { try context.confirm("Roll stack \(context.stackName) back to Airflow \(input.fromVersion)? Scheduling pauses while the schema is restored.") } catch {
                    throw ExitCode(CommandRunner.report(error, context: context).rawValue)
                }
            }
            try await CommandRunner.run(UpgradeRollback.self, input, globals: globals) { $0.confirmed = true; $0.readOnly = dryRun }
            return
        }
        guard let version = airflowVersion else {
            throw RunbookCommand.fail(FairflowError.usage("which version?", why: "--airflow-version is missing", fix: "e.g. `fairflow upgrade --airflow-version 3.3.2`, or --rollback RUN_ID"), context)
        }
        var settings = context.settings
        do {
            let path = Catalog.resolve("upgrade", environment: context.environment)
            guard FileManager.default.fileExists(atPath: path) else {
                throw FairflowError("the upgrade runbook is missing", why: "no runbooks/upgrade.yaml beside the fairflow binary or in ./runbooks",
                                    fix: "reinstall fairflow with its runbooks, or set FAIRFLOW_RUNBOOKS_DIR")
            }
            let runbook = try Runbook.load(path)
            var options = RunOptions()
            options.inputs = ["airflow-version": version, "image": image ?? "", "canary": canary.joined(separator: ","), "force": force ? "true" : "false",
                              "drain-timeout": "\(drainTimeout)", "restore": restore.rawValue]
            if dryRun {
                let plan = try await RunbookCommand.runner(globals, context).dryRun(runbook, options: options)
                try DryRunPrinter.print(runbook, plan, context)
                if plan.contains(where: { $0.error != nil }) { throw ExitCode(ExitStatus.failed.rawValue) }
                return
            }
            try context.confirm("Upgrade stack \(context.stackName) to Airflow \(version)? Scheduling pauses, the database is migrated and every service rolls.")
            settings.yes = true
            let runner = RunbookRunner(settings: settings, terminal: context.terminal, operations: RunbookCommand.operations(context.environment))
            runner.afterEvent = TestOperations.killHook(context.environment)
            let summary = try await runner.run(runbook, options: options)
            if summary.status != "succeeded" {
                let rolledBack = summary.steps.first { $0.id == "rollback" }?.outcome == "succeeded"
                context.terminal.note(rolledBack ? "upgrade failed and was rolled back (run \(summary.runId)); see the rollback step's output above"
                                                 : "upgrade failed (run \(summary.runId)): fix the cause, then `fairflow runbook resume \(summary.runId)` — or roll back with `fairflow upgrade --rollback \(summary.runId)`")
            }
            if let code = try RunbookCommand.render(summary, context) { throw code }
        } catch let e as ExitCode { throw e } catch {
            throw RunbookCommand.fail(error, context)
        }
    }

    /// The rollback's inputs from an upgrade run's journal: the preflight's versions and mode, the snapshot.
    static func rollbackInput(runId: String, restore: UpgradeRollback.Restore, directory: String = FileManager.default.currentDirectoryPath) throws -> UpgradeRollback.Input {
        let events = try Journal.read("\(directory)/.fairflow/runs/\(runId)/journal.jsonl")
        func outputs(_ step: String) -> JSONValue? { events.last { $0.step == step && $0.event == "step-succeeded" }?.outputs }
        guard let pre = outputs("preflight"), let body = try? pre.data(),
              let p = try? JSONDecoder().decode(Preflight.self, from: body) else {
            throw FairflowError.usage("run \(runId) cannot be rolled back", why: "its journal has no successful preflight step (is it an upgrade run?)",
                                      fix: "pass the id of a `fairflow upgrade` run (ls .fairflow/runs)")
        }
        var input = UpgradeRollback.Input(mode: p.mode, fromVersion: p.fromVersion, toImage: p.toImage)
        input.fromImage = p.fromImage
        if case .object(let s)? = outputs("snapshot"), case .string(let id)? = s["snapshotId"] { input.snapshot = id }
        input.restore = restore
        return input
    }

    struct Preflight: Decodable { var fromVersion: String; var fromImage: String; var toImage: String; var mode: StackMode }
}
