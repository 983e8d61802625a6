/// The ids closest to a mistyped one: small edit distance first, then those that contain it or it contains.
public func closestIds(to wanted: String, among ids: [String], limit: Int = 3) -> [String] {
    let w = wanted.lowercased()
    let threshold = max(2, w.count / 4)
    let scored: [(String, Int)] = ids.compactMap { id in
        let l = id.lowercased()
        let d = editDistance(w, l)
        if d <= threshold { return (id, d) }
        if !w.isEmpty && (l.contains(w) || w.contains(l)) { return (id, threshold + 1) }
        return nil
    }
    return scored.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(limit).map(\.0)
}

/// Levenshtein distance over characters.
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}
