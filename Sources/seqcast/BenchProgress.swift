import Glibc
import SeqcastNode
import SeqcastRuntime

/// The live progress line of `seqcast bench` and `seqcast demo`: once a second, what the group's
/// processes' counters files say (`CountersFile`): commits/s at the sequencer, what the slowest
/// member delivered, repairs served, retransmissions, and the members' p99 latency so far.
/// On a terminal it rewrites one line; otherwise it prints a line per second (to stderr).
struct BenchProgress {
    let phase: String
    /// Counters files of this group instance only (another group may run on the host).
    let prefix: String
    let folder = CountersFile.directory
    let terminal = isatty(2) != 0
    let began = monotonicNanos()
    var nextAt: UInt64
    var lastFrontier: UInt64 = 0
    var lastAt: UInt64 = 0
    var printed = false

    init(phase: String, layout: GroupLayout) {
        self.phase = phase
        prefix = "\(folder)/\(layout.name)-\(String(layout.instance, radix: 16))-"
        nextAt = began + 1_000_000_000
    }

    /// Prints the line when a second has passed since the last one.
    mutating func tick() {
        let now = monotonicNanos()
        guard now >= nextAt else { return }
        nextAt = now + 1_000_000_000
        let nodes = CountersSnapshot.all(in: folder).filter { $0.path.hasPrefix(prefix) && $0.alive }
        guard let frontier = nodes.filter({ $0.role == NodeRole.sequencer.rawValue }).compactMap({ $0.value("frontier") }).max()
        else { return }
        let members = nodes.filter { $0.role == NodeRole.member.rawValue }
        let delivered = members.compactMap { $0.value("frontier") }.min() ?? 0
        let repairs = nodes.reduce(0) { $0 &+ ($1.value("repairs_served") ?? 0) }
        let retransmissions = members.reduce(0) { $0 &+ ($1.value("retransmissions") ?? 0) }
        let p99 = members.compactMap { $0.value("latency_p99_us") }.max() ?? 0
        let rate = lastAt > 0 && frontier >= lastFrontier ? Double(frontier - lastFrontier) / (Double(now - lastAt) / 1e9) : 0
        (lastFrontier, lastAt) = (frontier, now)
        let seconds = (Double(now - began) / 1e8).rounded() / 10
        let line = "[\(phase) \(seconds) s] \(Int(rate)) commits/s, delivered \(delivered) at the slowest member, "
            + "\(repairs) repairs served, \(retransmissions) retransmissions, p99 \(p99 > 0 ? "\(p99) µs" : "-")"
        emit(terminal ? "\r\u{1B}[K" + line : line + "\n")
        printed = true
    }

    /// Ends the line (on a terminal), before the summary.
    func finish() { if printed, terminal { emit("\n") } }

    func emit(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
