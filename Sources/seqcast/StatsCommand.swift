import ArgumentParser
import Glibc
import Prometheus
import SeqcastRuntime
import Synchronization

/// `seqcast stats`: the live counters of every Seqcast node running on this host, read from the
/// counters files each one keeps in shared memory (`CountersFile`), the way AeronStat reads
/// Aeron's counters: the running processes are not asked anything.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Show the live counters of every Seqcast node on this host.",
        discussion: """
            Every role process (seqcast run, seqcast publish / tail, an application embedding SeqcastClient) \
            keeps its counters in a small file under /dev/shm/seqcast (SEQCAST_COUNTERS_DIR names another \
            folder), updated ten times a second. stats reads them twice, --interval apart, and prints one \
            row per node: its frontier (committed, stored or delivered), the commit rate, NAKs sent and \
            repairs served, retransmissions, drops, store and window occupancy, and the time since the \
            frontier and the checkpoint last moved; a second line names every drop reason counted. \
            --watch refreshes until interrupted; --prometheus prints the same counters in the Prometheus \
            text format.

            Examples:
              seqcast stats
              seqcast stats --watch --interval 0.5   (runs until stopped)
              seqcast stats --prometheus
            """)

    @Flag(help: "Refresh until interrupted.") var watch = false
    @Option(help: "Seconds between the two samples a rate is taken from (and between refreshes).") var interval = 1.0
    @Flag(help: "Print the counters in the Prometheus text exposition format (one sample, no rates).") var prometheus = false
    @Option(help: "The counters folder (default: $SEQCAST_COUNTERS_DIR or /dev/shm/seqcast).") var dir: String?
    @Flag(help: "Also list nodes whose process has exited (their last counters).") var all = false

    func validate() throws {
        guard interval >= 0.05, interval <= 3_600 else { throw ValidationError("--interval must be between 0.05 and 3600 seconds") }
    }

    func run() throws {
        let folder = dir ?? CountersFile.directory
        if prometheus {
            print(Self.prometheusText(visible(CountersSnapshot.all(in: folder))), terminator: "")
            return
        }
        installStopHandlers()
        var before = visible(CountersSnapshot.all(in: folder))
        var beforeAt = monotonicNanos()
        repeat {
            sleepSeconds(interval)
            guard !stopRequested.load(ordering: .relaxed) else { break }
            let now = visible(CountersSnapshot.all(in: folder))
            let nowAt = monotonicNanos()
            let text = Self.table(now, before: before, seconds: Double(nowAt - beforeAt) / 1e9, folder: folder)
            print((watch ? "\u{1B}[H\u{1B}[2J" : "") + text)
            fflush(nil)
            (before, beforeAt) = (now, nowAt)
        } while watch && !stopRequested.load(ordering: .relaxed)
    }

    func visible(_ s: [CountersSnapshot]) -> [CountersSnapshot] { all ? s : s.filter(\.alive) }

    func sleepSeconds(_ s: Double) {
        var left = timespec(tv_sec: Int(s), tv_nsec: Int((s - Double(Int(s))) * 1e9))
        var rest = timespec()
        while nanosleep(&left, &rest) != 0, errno == EINTR, !stopRequested.load(ordering: .relaxed) { left = rest }
    }

    static let dropLabels = ["dropped_malformed", "dropped_wrong_group", "dropped_wrong_fingerprint", "dropped_unexpected_kind",
                             "dropped_stale_epoch", "dropped_store_full", "dropped_far_ahead", "dropped_oversize",
                             "dropped_inconsistent", "conflicting_bodies", "outbox_dropped_full", "auth_dropped"]

    /// One row per node, grouped by group, with rates over `seconds` against `before`.
    static func table(_ nodes: [CountersSnapshot], before: [CountersSnapshot], seconds: Double, folder: String) -> String {
        guard !nodes.isEmpty else { return "no Seqcast node is running on this host (no counters in \(folder))" }
        let now = monotonicNanos()
        var rows = [["group", "node", "role", "pid", "frontier", "commits/s", "rx/s", "naks", "repairs", "retrans",
                     "drops", "store", "window", "since frontier", "since checkpoint"]]
        var notes: [String] = []
        for n in nodes {
            let earlier = before.first { $0.path == n.path }
            func v(_ l: String) -> UInt64 { n.value(l) ?? 0 }
            func rate(_ l: String) -> String {
                guard let e = earlier?.value(l), seconds > 0, v(l) >= e else { return "-" }
                return String(format: "%.0f", Double(v(l) - e) / seconds)
            }
            func since(_ l: String) -> String {
                let at = v(l)
                guard at > 0, now >= at else { return "-" }
                return String(format: "%.1f s", Double(now - at) / 1e9)
            }
            let drops = dropLabels.reduce(0) { $0 &+ v($1) }
            rows.append([n.group, "\(n.node)", n.role + (n.alive ? "" : " (exited)"), "\(n.pid)", "\(v("frontier"))",
                         rate("frontier"), rate("datagrams_received"), "\(v("naks_sent"))", "\(v("repairs_served"))",
                         "\(v("retransmissions"))", "\(drops)", "\(v("store_occupancy"))", "\(v("window_occupancy"))",
                         since("last_frontier_advance_monotonic_ns"), since("last_checkpoint_advance_monotonic_ns")])
            let reasons = dropLabels.filter { v($0) > 0 }.map { "\($0) \(v($0))" }
            if !reasons.isEmpty { notes.append("node \(n.node) drops: " + reasons.joined(separator: ", ")) }
        }
        return (alignedLines(rows) + notes).joined(separator: "\n")
    }

    /// The counters as Prometheus text: gauges for where a node stands, counters (`_total`) for
    /// what only rises, each labelled with its group, node and role.
    static func prometheusText(_ nodes: [CountersSnapshot]) -> String {
        let registry = PrometheusCollectorRegistry()
        let gauges: Set<String> = ["frontier", "committed_known", "checkpoint", "store_occupancy", "window_occupancy"]
        let now = monotonicNanos()
        for n in nodes {
            let labels = [("group", n.group), ("node", "\(n.node)"), ("role", n.role)]
            for (label, value) in n.values {
                if label.hasSuffix("_monotonic_ns") {
                    let name = "seqcast_seconds_since_" + label.replacingOccurrences(of: "_monotonic_ns", with: "")
                        .replacingOccurrences(of: "last_", with: "")
                    if value > 0, now >= value { registry.makeGauge(name: name, labels: labels).set(Double(now - value) / 1e9) }
                } else if gauges.contains(label) {
                    registry.makeGauge(name: "seqcast_" + label, labels: labels).set(Int64(clamping: value))
                } else {
                    registry.makeCounter(name: "seqcast_" + label + "_total", labels: labels).increment(by: Int64(clamping: value))
                }
            }
        }
        return registry.emitToString()
    }
}
