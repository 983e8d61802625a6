import AWSServices
import Foundation

/// De-duplicates and orders stack events across polls (the API pages newest first and repeats itself).
public struct StackEventStream: Sendable {
    private var seen: Set<String> = []
    public init() {}

    /// New events from one poll (the API's order: newest first), returned oldest first. Events with the
    /// same timestamp keep the API's relative order.
    public mutating func accept(_ batch: [StackEvent]) -> [StackEvent] {
        var fresh: [StackEvent] = []
        for e in batch.reversed() where !seen.contains(e.eventId) {
            seen.insert(e.eventId)
            fresh.append(e)
        }
        return fresh.enumerated().sorted { a, b in
            a.element.timestamp == b.element.timestamp ? a.offset < b.offset : a.element.timestamp < b.element.timestamp
        }.map(\.element)
    }
}

/// Renders stack progress three ways: a redrawn per-resource table on a TTY, one plain line per event
/// on a pipe, JSON lines with `--output json`.
public final class StackProgressRenderer: @unchecked Sendable {
    public enum Mode: Sendable { case tty, plain, json }

    struct Row {
        var logicalId: String
        var type: String
        var status: String
        var reason: String?
        var started: Date
        var updated: Date
    }

    let mode: Mode
    let terminal: Terminal
    let stackName: String
    private var rows: [String: Row] = [:]
    private var order: [String] = []
    private var linesDrawn = 0
    /// Lines under the table (TTY) or printed when they change (pipe): what a slow deploy waits for.
    public var footer: [String] = [] {
        didSet {
            guard footer != oldValue else { return }
            switch mode {
            case .plain: for l in footer where !oldValue.contains(l) { terminal.note(l) }
            case .json:
                struct Line: Encodable { let event = "waiting"; let message: String }
                for l in footer { if let s = try? JSON.encode(Line(message: l), pretty: false) { terminal.note(s) } }
            case .tty: footerChanged = true
            }
        }
    }
    private var footerChanged = false

    public init(mode: Mode, terminal: Terminal, stackName: String) {
        self.mode = mode
        self.terminal = terminal
        self.stackName = stackName
    }

    public static func mode(for context: Context) -> Mode {
        if context.settings.output == .json { return .json }
        return context.terminal.stderrIsTTY ? .tty : .plain
    }

    public func render(_ events: [StackEvent]) {
        for e in events {
            if var r = rows[e.logicalId] {
                r.status = e.status
                r.reason = e.reason ?? r.reason
                r.updated = e.timestamp
                if e.status.hasSuffix("_IN_PROGRESS") && !r.status.hasSuffix("_IN_PROGRESS") { r.started = e.timestamp }
                rows[e.logicalId] = r
            } else {
                rows[e.logicalId] = Row(logicalId: e.logicalId, type: e.resourceType, status: e.status, reason: e.reason,
                                        started: e.timestamp, updated: e.timestamp)
                order.append(e.logicalId)
            }
            switch mode {
            case .json:
                struct Line: Encodable {
                    let event = "stack_event"
                    let timestamp: Date, logicalId: String, resourceType: String, status: String, reason: String?, component: String
                }
                if let s = try? JSON.encode(Line(timestamp: e.timestamp, logicalId: e.logicalId, resourceType: e.resourceType,
                                                 status: e.status, reason: e.reason, component: StackComponent.of(e.logicalId)), pretty: false) {
                    terminal.note(s)
                }
            case .plain:
                terminal.note(Self.plainLine(e))
            case .tty:
                break
            }
        }
        if mode == .tty && (!events.isEmpty || footerChanged) { redraw() }
    }

    public static func plainLine(_ e: StackEvent) -> String {
        let f = ISO8601DateFormatter()
        var s = "\(f.string(from: e.timestamp))\t\(StackComponent.of(e.logicalId))\t\(e.logicalId)\t\(e.resourceType)\t\(e.status)"
        if let r = e.reason, !r.isEmpty { s += "\t\(r)" }
        return s
    }

    /// The TTY view: one line per resource, rewritten in place.
    public func frame(now: Date = Date()) -> [String] {
        order.compactMap { rows[$0] }.map { r in
            let done = !r.status.hasSuffix("_IN_PROGRESS")
            let elapsed = Int((done ? r.updated : now).timeIntervalSince(r.started))
            var status = r.status
            if r.status.hasSuffix("FAILED") { status = terminal.paint(status, .red) }
            else if r.status.hasSuffix("COMPLETE") && !r.status.contains("ROLLBACK") { status = terminal.paint(status, .green) }
            else if r.status.hasSuffix("_IN_PROGRESS") { status = terminal.paint(status, .yellow) }
            let comp = StackComponent.of(r.logicalId).padding(toLength: 14, withPad: " ", startingAt: 0)
            let id = r.logicalId.padding(toLength: 36, withPad: " ", startingAt: 0)
            let type = r.type.replacingOccurrences(of: "AWS::", with: "").padding(toLength: 34, withPad: " ", startingAt: 0)
            var line = "\(comp) \(id) \(type) \(status) \(elapsed)s"
            if let reason = r.reason, r.status.hasSuffix("FAILED") { line += "  \(reason)" }
            return line
        }
    }

    /// Something else was written under the table (a stall verdict, a question): draw the next frame below it.
    public func detach() { linesDrawn = 0 }

    func redraw() {
        var out = ""
        if linesDrawn > 0 { out += "\u{1B}[\(linesDrawn)A" }
        footerChanged = false
        let lines = frame() + footer
        for l in lines { out += "\u{1B}[2K" + l + "\n" }
        if lines.count < linesDrawn { for _ in lines.count..<linesDrawn { out += "\u{1B}[2K\n" } }
        linesDrawn = max(lines.count, linesDrawn)
        terminal.writeErr(out)
    }
}
