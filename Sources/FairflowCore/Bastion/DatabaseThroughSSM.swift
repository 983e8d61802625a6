import Foundation
import MetadataDB

/// `db check --via ssm`: the same read-only checks, run by the bastion's MySQL client through SSM Run Command —
/// for a bastion with no public address and no SSH key (the template's: SSM only). The bastion reads the
/// database credentials from the stack's secret with its own role, so no password travels in the command
/// (SSM keeps a command's parameters in its history). All queries go in one command: the checks' SQL is
/// fixed, so a first pass records it, the bastion runs it, and a second pass reads the answers.
public enum DatabaseThroughSSM {
    /// Records each statement and answers nothing.
    final class Recorder: SQLQuerying {
        var statements: [String] = []
        func query(_ sql: String) throws -> [[String?]] {
            statements.append(sql)
            return []
        }
    }

    /// Answers each statement with what the bastion returned for it.
    final class Replay: SQLQuerying {
        let answers: [String: Answer]
        init(_ answers: [String: Answer]) { self.answers = answers }
        func query(_ sql: String) throws -> [[String?]] {
            guard let a = answers[sql] else { throw MetadataDBError.query(statement: sql, code: 0, message: "not run on the bastion") }
            if a.status != 0 { throw MetadataDBError.query(statement: sql, code: UInt32(a.status), message: a.error) }
            return a.rows
        }
    }

    public struct Answer: Equatable, Sendable {
        public var rows: [[String?]]
        public var status: Int
        public var error: String
    }

    public struct Location: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var database: String
        public var secretArn: String
        public var region: String
    }

    static let mark = "@@fairflow-sql"

    /// The bash script the bastion runs. Nothing secret is in it: the password is read there, into MYSQL_PWD.
    public static func script(_ statements: [String], at l: Location) -> String {
        let q = EFSListing.shellQuote
        var s = """
        set -u
        command -v mysql >/dev/null 2>&1 || { echo "no MySQL client (mysql) on the bastion" >&2; exit 93; }
        command -v aws >/dev/null 2>&1 || { echo "no aws CLI on the bastion" >&2; exit 94; }
        secret=$(aws secretsmanager get-secret-value --region \(q(l.region)) --secret-id \(q(l.secretArn)) --query SecretString --output text) || exit 91
        creds=$(printf '%s' "$secret" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["username"]); print(d["password"])') || exit 92
        user=$(printf '%s\\n' "$creds" | sed -n 1p)
        MYSQL_PWD=$(printf '%s\\n' "$creds" | sed -n 2p)
        export MYSQL_PWD
        unset secret creds
        run() {
          echo "\(mark) $1"
          mysql --batch --skip-column-names --connect-timeout=10 -h \(q(l.host)) -P \(l.port) -u "$user" \(q(l.database)) -e "$2" 2>&1
          echo "\(mark)-status $?"
        }

        """
        for (i, sql) in statements.enumerated() { s += "run \(i) \(q(sql))\n" }
        s += "echo \"\(mark)-end\"\n"
        return s
    }

    public enum ParseError: Error, Equatable { case incomplete }

    /// The bastion's output back into one answer per statement (mysql --batch: tab-separated, \\t \\n \\\\ escaped, NULL).
    public static func parse(_ output: String, statements: [String]) throws -> [String: Answer] {
        var answers: [String: Answer] = [:]
        var current: Int?
        var lines: [String] = []
        var ended = false
        for line in output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix(mark + "-status "), let i = current {
                let status = Int(line.dropFirst(mark.count + 8)) ?? -1
                let sql = statements[i]
                answers[sql] = status == 0
                    ? Answer(rows: lines.map { $0.split(separator: "\t", omittingEmptySubsequences: false).map { unescape(String($0)) } }, status: 0, error: "")
                    : Answer(rows: [], status: status, error: lines.joined(separator: " ").trimmingCharacters(in: .whitespaces))
                current = nil
                lines = []
            } else if line == mark + "-end" {
                ended = true
            } else if line.hasPrefix(mark + " "), let i = Int(line.dropFirst(mark.count + 1)), i < statements.count {
                current = i
                lines = []
            } else if current != nil {
                lines.append(line)
            }
        }
        guard ended, answers.count == statements.count else { throw ParseError.incomplete }
        return answers
    }

    static func unescape(_ field: String) -> String? {
        if field == "NULL" { return nil }
        guard field.contains("\\") else { return field }
        var out = ""
        var escaped = false
        for ch in field {
            if escaped {
                switch ch {
                case "t": out.append("\t")
                case "n": out.append("\n")
                case "0": out.append("\0")
                default: out.append(ch)
                }
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else {
                out.append(ch)
            }
        }
        return out
    }

    /// Runs `checks` against the stack's database through the bastion's SSM agent.
    static func run(context: Context, timeoutSeconds: Int, checks: (SQLQuerying) -> [DBCheckResult]) async throws -> (MetadataDatabaseTarget, [DBCheckResult]) {
        let recorder = Recorder()
        _ = checks(recorder)
        let (target, answers) = try await answers(context: context, timeoutSeconds: timeoutSeconds, statements: recorder.statements)
        return (target, checks(Replay(answers)))
    }

    /// Fixed read-only statements run by the bastion's mysql client; one answer per statement.
    public static func answers(context: Context, timeoutSeconds: Int, statements: [String], what: String = "db check") async throws -> (MetadataDatabaseTarget, [String: Answer]) {
        let aws = try BastionServices.aws(context, for: what)
        guard let instance = try await aws.bastion(stack: context.stackName) else {
            throw FairflowError("\(what): stack \(context.stackName) has no bastion", why: "the template was generated without one",
                                fix: "generate with a bastion, or use --via ssh with --bastion-host")
        }
        let target = try await aws.metadataDatabase(stack: context.stackName)
        guard let secretArn = target.secretArn else {
            throw FairflowError("\(what) through SSM needs the stack's database secret", why: "the stack has no DbSecretArn output",
                                fix: "use --via ssh")
        }
        let location = Location(host: target.host, port: target.port, database: target.database, secretArn: secretArn, region: try context.region().name)
        let commandId = try await aws.runShellScript(instance: instance, script: script(statements, at: location),
                                                     timeoutSeconds: timeoutSeconds)
        let deadline = Date().addingTimeInterval(Double(timeoutSeconds))
        var delay = 0.5
        while true {
            let inv = try await aws.commandInvocation(commandId: commandId, instance: instance)
            if inv.isFinished {
                guard inv.status == "Success" else { throw failure(inv) }
                guard let answers = try? parse(inv.standardOutputContent, statements: statements) else {
                    throw FairflowError("\(what) on the bastion gave no answer", why: "its output ended early: \(inv.standardOutputContent.suffix(200))",
                                        fix: "check the bastion's SSM agent log, or use --via ssh")
                }
                return (target, answers)
            }
            guard Date() < deadline else {
                throw FairflowError("\(what) on the bastion did not finish in \(timeoutSeconds) s", why: "SSM reports \(inv.status)",
                                    fix: "check the bastion's load and its SSM agent")
            }
            try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            delay = min(delay * 2, 3)
        }
    }

    static func failure(_ inv: CommandInvocation) -> FairflowError {
        let stderr = inv.standardErrorContent.trimmingCharacters(in: .whitespacesAndNewlines)
        let why = "\(inv.status), exit \(inv.responseCode)\(stderr.isEmpty ? "" : ": \(stderr.suffix(400))")"
        switch inv.responseCode {
        case 91: return FairflowError("the bastion could not read the database secret", why: why,
                                      fix: "let the bastion's role call secretsmanager:GetSecretValue on it (the generated template does)")
        case 93: return FairflowError("the bastion has no MySQL client", why: why,
                                      fix: "install one there (the template's user data installs mariadb105)")
        case 94: return FairflowError("the bastion has no aws CLI", why: why, fix: "install the aws CLI v2 on the bastion")
        default: return FairflowError("db check on the bastion failed", why: why, fix: "check the bastion's SSM agent log, or use --via ssh")
        }
    }
}
