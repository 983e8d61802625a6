import ArgumentParser
import FairflowCore
import Foundation
import Runbook

/// `fairflow runbook …`: YAML chains of fairflow steps with a dry run, a journal and resume.
struct RunbookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runbook",
        abstract: "Run, dry-run, resume, validate and inspect runbooks (YAML chains of fairflow steps).",
        subcommands: [RunbookRun.self, RunbookResume.self, RunbookList.self, RunbookValidate.self, RunbookShow.self]
    )

    /// Every step a runbook may use: the commands' operations (and `test.*` with FAIRFLOW_TEST_OPERATIONS=1).
    static func operations(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> [String: any FairflowOperation.Type] {
        var ops: [String: any FairflowOperation.Type] = [:]
        for op in Operations.all + TestOperations.enabled(environment) { ops[op.id] = op }
        return ops
    }

    static func runner(_ globals: GlobalOptions, _ context: Context) -> RunbookRunner {
        let r = RunbookRunner(settings: context.settings, terminal: context.terminal, operations: operations(context.environment))
        r.afterEvent = TestOperations.killHook(context.environment)
        return r
    }

    /// Maps any error to its exit code after printing it once.
    static func fail(_ error: Error, _ context: Context) -> ExitCode {
        switch error {
        case let e as RunbookInvalid:
            for d in e.diagnostics { context.terminal.note(d.description) }
            let file = e.diagnostics.first?.file ?? "the runbook"
            context.terminal.note("error: \(file) is invalid: \(e.diagnostics.count) problem\(e.diagnostics.count == 1 ? "" : "s") — fix the lines above (`fairflow runbook validate \(file)`)")
            return ExitCode(ExitStatus.usage.rawValue)
        case let d as Diagnostic:
            context.terminal.note("error: \(d)")
            return ExitCode(ExitStatus.usage.rawValue)
        default:
            return ExitCode(CommandRunner.report(error, context: context).rawValue)
        }
    }

    static func parseInputs(_ pairs: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for p in pairs {
            guard let eq = p.firstIndex(of: "="), eq != p.startIndex else {
                throw ValidationError("--input \(p): expected NAME=VALUE")
            }
            out[String(p[..<eq])] = String(p[p.index(after: eq)...])
        }
        return out
    }

    static func render(_ s: RunSummary, _ context: Context) throws -> ExitCode? {
        if context.settings.output == .json {
            context.terminal.print(try JSON.encode(s))
        } else {
            let rows = s.steps.map { [$0.id, $0.uses, $0.outcome + ($0.reused == true ? " (earlier)" : ""), $0.attempts > 1 ? "\($0.attempts)" : "",
                                      $0.durationSeconds.map(Duration.format) ?? "", $0.error ?? ""] }
            context.terminal.write(Table(headers: ["STEP", "USES", "OUTCOME", "ATTEMPTS", "TIME", "ERROR"], rows: rows).render(tty: context.terminal.isTTY))
            context.terminal.note("run \(s.runId) \(s.status) — journal \(s.journal)")
        }
        return s.exitStatus == 0 ? nil : ExitCode(s.exitStatus)
    }
}

struct RunbookRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run a runbook (a file, or the name of a shipped or local one).")
    @Argument(help: "The runbook file or name.") var file: String
    @Option(name: .customLong("input"), help: ArgumentHelp("An input, NAME=VALUE (repeatable).", valueName: "name=value")) var inputs: [String] = []
    @Flag(name: .customLong("dry-run"), help: "Print each step's plan; change nothing (mutating AWS calls are refused).") var dryRun = false
    @Flag(name: .customLong("wait-lock"), help: "If another run holds the stack, wait for it instead of refusing.") var waitLock = false
    @OptionGroup var globals: GlobalOptions

    func run() async throws {
        let context = globals.makeContext()
        let runner = RunbookCommand.runner(globals, context)
        var options = RunOptions()
        options.inputs = try RunbookCommand.parseInputs(inputs)
        options.waitLock = waitLock
        do {
            let runbook = try Runbook.load(Catalog.resolve(file, environment: context.environment))
            if dryRun {
                let plan = try await runner.dryRun(runbook, options: options)
                try DryRunPrinter.print(runbook, plan, context)
                if plan.contains(where: { $0.error != nil }) { throw ExitCode(ExitStatus.failed.rawValue) }
                return
            }
            let summary = try await runner.run(runbook, options: options)
            if let code = try RunbookCommand.render(summary, context) { throw code }
        } catch let e as ExitCode { throw e } catch {
            throw RunbookCommand.fail(error, context)
        }
    }
}

enum DryRunPrinter {
    static func print(_ runbook: Runbook, _ plan: [RunbookRunner.PlannedStep], _ context: Context) throws {
        let t = context.terminal
        if context.settings.output == .json {
            struct Doc: Encodable { var runbook: String; var dryRun = true; var steps: [RunbookRunner.PlannedStep] }
            t.print(try JSON.encode(Doc(runbook: runbook.name, steps: plan)))
            return
        }
        t.print("dry run of \(runbook.name): \(plan.count) steps, nothing will be changed (mutating calls are marked *)")
        for (i, s) in plan.enumerated() {
            var head = "\(i + 1). \(s.id) (\(s.uses))"
            if s.confirm { head += "  [asks to confirm]" }
            t.print(t.paint(head, .bold))
            if let w = s.when { t.print("   when: \(w)") }
            if case .object(let o)? = s.with, !o.isEmpty {
                for k in o.keys.sorted() { t.print("   with \(k) = \(o[k]!.description)") }
            }
            if !s.knownAfter.isEmpty { t.print("   inputs known after \(s.knownAfter.joined(separator: ", "))") }
            for a in s.actions {
                let line = "\(a.mutating ? "*" : " ") \(a.call)\(a.detail.map { " — \($0)" } ?? "")"
                t.print("  \(a.mutating ? t.paint(line, .yellow) : line)")
            }
            if let e = s.error { t.print("   " + t.paint("cannot plan: \(e)", .red)) }
        }
    }
}

struct RunbookResume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a run: skip the steps that succeeded, re-run the interrupted one with the same idempotency tokens, go on.")
    @Argument(help: "The run id (see .fairflow/runs).") var runId: String
    @Option(name: .customLong("input"), help: ArgumentHelp("Secret inputs again, NAME=VALUE (they are not kept).", valueName: "name=value")) var inputs: [String] = []
    @Flag(name: .customLong("wait-lock"), help: "If another run holds the stack, wait for it.") var waitLock = false
    @OptionGroup var globals: GlobalOptions

    func run() async throws {
        let context = globals.makeContext()
        var options = RunOptions()
        options.inputs = try RunbookCommand.parseInputs(inputs)
        options.waitLock = waitLock
        do {
            let summary = try await RunbookCommand.runner(globals, context).resume(runId: runId, options: options)
            if let code = try RunbookCommand.render(summary, context) { throw code }
        } catch let e as ExitCode { throw e } catch {
            throw RunbookCommand.fail(error, context)
        }
    }
}

struct RunbookList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the shipped and local (./runbooks) runbooks.")
    @Flag(help: "List the step ids (operations) instead.") var operations = false
    @OptionGroup var globals: GlobalOptions

    func run() async throws {
        let context = globals.makeContext()
        let t = context.terminal
        if operations {
            let ops = RunbookCommand.operations(context.environment).values.sorted { $0.id < $1.id }
            if context.settings.output == .json {
                struct O: Encodable { var id: String; var summary: String }
                t.print(try JSON.encode(ops.map { O(id: $0.id, summary: $0.summary) }))
            } else {
                t.write(Table(headers: ["STEP", "SUMMARY"], rows: ops.map { [$0.id, $0.summary] }).render(tty: t.isTTY))
            }
            return
        }
        let entries = Catalog.list(environment: context.environment)
        if context.settings.output == .json {
            t.print(try JSON.encode(entries))
        } else {
            t.write(Table(headers: ["NAME", "SOURCE", "STEPS", "DESCRIPTION"],
                          rows: entries.map { [$0.name, $0.source, "\($0.steps)", $0.error ?? $0.description] }).render(tty: t.isTTY))
        }
    }
}

struct RunbookValidate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate", abstract: "Check a runbook: unknown steps and fields, bad references, cycles (file:line:column).")
    @Argument(help: "The runbook file or name.") var file: String
    @OptionGroup var globals: GlobalOptions

    func run() async throws {
        let context = globals.makeContext()
        let path = Catalog.resolve(file, environment: context.environment)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RunbookCommand.fail(FairflowError.usage("cannot read \(path)", why: "no such file", fix: "check the path or `fairflow runbook list`"), context)
        }
        let (rb, parseDiags) = Runbook.parse(String(decoding: data, as: UTF8.self), file: path)
        let diags = (parseDiags + (rb.map { Validator.validate($0, operations: RunbookCommand.operations(context.environment)) } ?? [])).sorted { $0.position < $1.position }
        if context.settings.output == .json {
            struct Doc: Encodable { var file: String; var valid: Bool; var problems: [Diagnostic] }
            context.terminal.print(try JSON.encode(Doc(file: path, valid: diags.isEmpty, problems: diags)))
        } else if diags.isEmpty {
            context.terminal.print("\(path): ok (\(rb?.steps.count ?? 0) steps)")
        } else {
            for d in diags { context.terminal.note(d.description) }
            context.terminal.note("\(diags.count) problem\(diags.count == 1 ? "" : "s") in \(path)")
        }
        if !diags.isEmpty { throw ExitCode(ExitStatus.usage.rawValue) }
    }
}

extension Diagnostic: Encodable {
    enum CodingKeys: String, CodingKey { case file, line, column, message }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(position.line, forKey: .line)
        try c.encode(position.column, forKey: .column)
        try c.encode(message, forKey: .message)
    }
}

struct RunbookShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a run's journal.")
    @Argument(help: "The run id.") var runId: String
    @OptionGroup var globals: GlobalOptions

    func run() async throws {
        let context = globals.makeContext()
        do {
            let path = FileManager.default.currentDirectoryPath + "/.fairflow/runs/\(runId)/journal.jsonl"
            let events = try Journal.read(path)
            let t = context.terminal
            if context.settings.output == .json {
                t.print(try JSON.encode(events))
                return
            }
            let f = ISO8601DateFormatter()
            let rows = events.map { e -> [String] in
                var detail = e.error ?? ""
                if let id = e.identity, case .object(let o) = id { detail = o["arn"]?.description ?? o["error"]?.description ?? "" }
                if let r = e.requestIds { detail += (detail.isEmpty ? "" : "; ") + "\(r.count) AWS call\(r.count == 1 ? "" : "s")" }
                if e.event == "run-finished" { detail = e.outcome ?? "" }
                return [f.string(from: e.time), e.event, e.step ?? "", e.attempt.map(String.init) ?? "", e.durationSeconds.map(Duration.format) ?? "", detail]
            }
            t.write(Table(headers: ["TIME", "EVENT", "STEP", "ATTEMPT", "TIME TAKEN", "DETAIL"], rows: rows).render(tty: t.isTTY))
        } catch {
            throw RunbookCommand.fail(error, context)
        }
    }
}
