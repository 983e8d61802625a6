import Foundation

/// The runbooks `runbook list` shows: the shipped ones and the local `./runbooks`.
public enum Catalog {
    public struct Entry: Codable, Sendable {
        public var name: String
        public var description: String
        public var path: String
        public var source: String  // shipped, local
        public var steps: Int
        public var error: String?
    }

    /// Shipped runbooks: FAIRFLOW_RUNBOOKS_DIR, else `runbooks/` next to the binary's checkout or install.
    public static func shippedDirectories(environment: [String: String]) -> [String] {
        if let d = environment["FAIRFLOW_RUNBOOKS_DIR"] { return [d] }
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        var dirs: [String] = []
        var d = exe
        for _ in 0..<5 {  // .build/debug/fairflow → the checkout's runbooks/
            dirs.append(d.appendingPathComponent("runbooks").path)
            d = d.deletingLastPathComponent()
        }
        dirs.append(exe.deletingLastPathComponent().appendingPathComponent("share/fairflow/runbooks").path)
        return dirs
    }

    public static func list(environment: [String: String], cwd: String = FileManager.default.currentDirectoryPath) -> [Entry] {
        let local = URL(fileURLWithPath: cwd).appendingPathComponent("runbooks").standardizedFileURL.path
        var seen = Set<String>()
        var out: [Entry] = []
        let shipped = shippedDirectories(environment: environment).map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let dirs = (shipped.contains(local) ? [] : [(local, "local")]) + shipped.map { ($0, "shipped") }
        for (dir, kind) in dirs where !seen.contains(dir) {
            seen.insert(dir)
            guard let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for f in files.sorted() where f.hasSuffix(".yaml") || f.hasSuffix(".yml") {
                let path = "\(dir)/\(f)"
                let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                let (rb, diags) = Runbook.parse(text, file: path)
                out.append(Entry(name: rb?.name ?? f, description: rb?.description ?? "", path: path, source: kind,
                                 steps: rb?.steps.count ?? 0, error: diags.first.map(\.description)))
            }
            if kind == "shipped" && out.contains(where: { $0.source == "shipped" }) { break }  // the first shipped dir found wins
        }
        return out
    }

    /// `runbook run bootstrap` finds `runbooks/bootstrap.yaml` (local first, then shipped).
    public static func resolve(_ nameOrPath: String, environment: [String: String]) -> String {
        if FileManager.default.fileExists(atPath: nameOrPath) { return nameOrPath }
        let entry = list(environment: environment).first { $0.name == nameOrPath || ($0.path as NSString).lastPathComponent == "\(nameOrPath).yaml" }
        return entry?.path ?? nameOrPath
    }
}
