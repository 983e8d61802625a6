import Foundation

public enum OutputFormat: String, Sendable, CaseIterable, Codable {
    case text, json
}

/// The terminal facts in one value: tests build it with buffers.
public final class Terminal: @unchecked Sendable {
    public let isTTY: Bool
    public let stderrIsTTY: Bool
    public let color: Bool
    private let out: (String) -> Void
    private let err: (String) -> Void
    private let lock = NSLock()

    public init(isTTY: Bool, stderrIsTTY: Bool, color: Bool, out: @escaping (String) -> Void, err: @escaping (String) -> Void) {
        self.isTTY = isTTY
        self.stderrIsTTY = stderrIsTTY
        self.color = color
        self.out = out
        self.err = err
    }

    /// The process's own streams; colour only on a TTY and never with NO_COLOR or --no-color.
    public static func system(noColor: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) -> Terminal {
        let tty = isatty(STDOUT_FILENO) == 1
        let errTTY = isatty(STDERR_FILENO) == 1
        let color = tty && !noColor && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
        return Terminal(isTTY: tty, stderrIsTTY: errTTY, color: color,
                        out: { s in FileHandle.standardOutput.write(Data(s.utf8)) },
                        err: { s in FileHandle.standardError.write(Data(s.utf8)) })
    }

    /// A terminal that records into buffers (tests).
    public static func capture(isTTY: Bool = false, color: Bool = false) -> (Terminal, Capture) {
        let c = Capture()
        let t = Terminal(isTTY: isTTY, stderrIsTTY: isTTY, color: color, out: { c.append(out: $0) }, err: { c.append(err: $0) })
        return (t, c)
    }

    public final class Capture: @unchecked Sendable {
        private let lock = NSLock()
        private var o = "", e = ""
        func append(out s: String) { lock.withLock { o += s } }
        func append(err s: String) { lock.withLock { e += s } }
        public var stdout: String { lock.withLock { o } }
        public var stderr: String { lock.withLock { e } }
    }

    public func print(_ s: String) { lock.withLock { out(s.hasSuffix("\n") ? s : s + "\n") } }
    public func write(_ s: String) { lock.withLock { out(s) } }
    /// Progress, hints and diagnostics.
    public func note(_ s: String) { lock.withLock { err(s.hasSuffix("\n") ? s : s + "\n") } }
    public func writeErr(_ s: String) { lock.withLock { err(s) } }

    public enum Style: String { case bold = "1", dim = "2", red = "31", green = "32", yellow = "33", cyan = "36" }
    public func paint(_ s: String, _ style: Style) -> String { color ? "\u{1B}[\(style.rawValue)m\(s)\u{1B}[0m" : s }
}

/// Rows rendered as an aligned table on a TTY, tab-separated plain lines on a pipe (gh's convention).
public struct Table: Sendable {
    public var headers: [String]
    public var rows: [[String]]

    public init(headers: [String], rows: [[String]]) {
        self.headers = headers
        self.rows = rows
    }

    public func render(tty: Bool) -> String {
        guard tty else {
            return rows.map { $0.map { $0.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ") }
                .joined(separator: "\t") }.map { $0 + "\n" }.joined()
        }
        let all = [headers] + rows
        var widths = Array(repeating: 0, count: headers.count)
        for r in all { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        return all.map { r in
            r.enumerated().map { i, c in i == r.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.map { $0.trimmingCharacters(in: .whitespaces) + "\n" }.joined()
    }
}
