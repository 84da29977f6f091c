/// Rows of cells as lines whose columns line up (each cell padded to its column's widest, two
/// spaces between columns): the text tables of bench, capacity and stats.
func alignedLines(_ rows: [[String]]) -> [String] {
    guard let first = rows.first else { return [] }
    let widths = first.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
    return rows.map { r in
        r.indices.map { r[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
}
