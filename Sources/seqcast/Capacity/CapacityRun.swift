import Foundation
import SeqcastNode
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire

/// The load generator's loop: every pass polls the played nodes' sockets (never blocking),
/// hands what the role sent to the load, lets it feed more, and flushes the sends. It spins, so
/// its own CPU time says nothing; the time it spent in passes that received or sent something
/// (`busyNanos`) says whether the role (a generator mostly idle) or the generator (busy all the
/// time) set the pace.
final class CapacityGenerator {
    let load: CapacityLoad
    let nodes: [PlayedNode]
    /// Every played node's socket, tagged with the node's index in `nodes`.
    let receive: ReceivePath
    private(set) var passes: UInt64 = 0
    private(set) var busyNanos: UInt64 = 0
    private(set) var undecodable: UInt64 = 0

    init(load: CapacityLoad, transport: TransportChoice) throws {
        self.load = load
        nodes = load.played
        do {
            receive = try ReceivePath(sockets: nodes.flatMap(\.network.receiveSockets), transport: transport)
        } catch {
            throw CapacityError("the load generator cannot receive: \(error)")
        }
        precondition(nodes.allSatisfy { $0.network.receiveSockets.count == 1 }, "a played node joins no group")
    }

    /// One pass; `feeding` false only hears (a sequencer's seal) and sends nothing new, while
    /// the role process is still starting (what it would miss would be lost).
    func pass(feeding: Bool = true) {
        passes &+= 1
        var busy = false
        let now = monotonicNanos()
        let n = receive.poll(timeoutNanos: 0)
        for i in 0..<n {
            let d = receive[i]
            guard let datagram = try? Datagram.decode(UnsafeRawBufferPointer(start: d.data, count: Int(d.len))) else {
                undecodable &+= 1
                continue
            }
            load.handle(datagram, at: nodes[Int(d.tag)], now: now)
        }
        busy = n > 0
        let sentBefore = sent
        if feeding { load.feed(now: now) }
        for node in nodes { node.network.flush() }  // in the load's order (data before its commit)
        if busy || sent != sentBefore { busyNanos &+= monotonicNanos() &- now }
    }

    /// Datagrams staged by every played node (counted by their networks when flushed).
    var sent: UInt64 { nodes.reduce(0) { $0 + $1.network.datagramsSent } }

    func run(seconds: Double) {
        let end = monotonicNanos() + UInt64(seconds * 1e9)
        while monotonicNanos() < end, !stopRequested.load(ordering: .relaxed) { pass() }
    }
}

/// What the load and the role process had done at one instant.
struct CapacitySample {
    let nanos: UInt64
    let messages: UInt64
    let runs: UInt64
    let roleCPU: Double
    let generatorBusyNanos: UInt64

    init(load: CapacityLoad, pid: Int32, generator: CapacityGenerator) {
        nanos = monotonicNanos()
        messages = load.messages
        runs = load.runs
        roleCPU = cpuSeconds(ofProcess: pid) ?? 0
        generatorBusyNanos = generator.busyNanos
    }
}

/// One role's row: rates over the measured interval, and the checks of its closing report.
struct CapacityResult {
    let role: NodeRole
    let node: NodeId
    let window: UInt64
    var seconds = 0.0
    var messages: UInt64 = 0
    var runs: UInt64 = 0
    var roleCPU = 0.0
    /// The share of the measured time the generator spent sending or receiving.
    var generatorBusy = 0.0
    var resent: UInt64 = 0
    var failure: String?
    var notes: [String] = []
    var reportFields: [String: Any] = [:]
    /// Commit servers of the group (each answers a sequencer's seal).
    var commitServers = 3

    init(role: NodeRole, node: NodeId, window: UInt64) {
        self.role = role
        self.node = node
        self.window = window
    }

    var workName: String {
        switch role {
        case .sequencer: "messages numbered"
        case .dataServer: "messages stored and reported"
        case .commitServer: "messages acknowledged"
        default: "messages delivered"
        }
    }

    var messagesPerSecond: Double { seconds > 0 ? Double(messages) / seconds : 0 }
    var runsPerSecond: Double { seconds > 0 ? Double(runs) / seconds : 0 }
    var roleCPUPerSecond: Double { seconds > 0 ? roleCPU / seconds : 0 }
    var messagesPerCPUSecond: Double { roleCPU > 0 ? Double(messages) / roleCPU : 0 }
    var runsPerCPUSecond: Double { roleCPU > 0 ? Double(runs) / roleCPU : 0 }
    var cpuMicrosPerMessage: Double { messages > 0 ? roleCPU * 1e6 / Double(messages) : 0 }
    var cpuMicrosPerRun: Double { runs > 0 ? roleCPU * 1e6 / Double(runs) : 0 }

    mutating func measured(_ a: CapacitySample, _ b: CapacitySample) {
        seconds = Double(b.nanos - a.nanos) / 1e9
        messages = b.messages - a.messages
        runs = b.runs - a.runs
        roleCPU = b.roleCPU - a.roleCPU
        generatorBusy = b.nanos > a.nanos ? Double(b.generatorBusyNanos - a.generatorBusyNanos) / Double(b.nanos - a.nanos) : 0
        if messages == 0 { failure = "the role made no progress in \(String(format: "%.1f", seconds)) s" }
    }

    /// The role's closing report: any synthetic datagram it dropped or repaired means the load
    /// was not what its group would send, and the figure is not the role's.
    mutating func check(_ report: [String: Any]) {
        reportFields = report
        func value(_ key: String) -> UInt64 { (report[key] as? NSNumber)?.uint64Value ?? 0 }
        let counted = ["dropped_malformed", "dropped_wrong_group", "dropped_wrong_fingerprint", "dropped_unexpected_kind",
                       "dropped_stale_epoch", "dropped_store_full", "dropped_far_ahead", "dropped_oversize",
                       "dropped_inconsistent", "conflicting_bodies", "id_queries_sent", "fetches_sent", "fifo_violations",
                       "foreign_bodies", "outbox_dropped_full", "tx_errors"]
        var bad = counted.filter { value($0) > 0 }
        // A sequencer's seal is answered by every commit server; replies after its quorum are
        // counted stale (as in any group), and are not the load's fault.
        if role == .sequencer, let i = bad.firstIndex(of: "dropped_stale_epoch"),
           value("dropped_stale_epoch") <= UInt64(commitServers) {
            bad.remove(at: i)
            notes.append("\(value("dropped_stale_epoch")) seal replies after the seal's quorum (counted stale)")
        }
        if !bad.isEmpty, failure == nil {
            failure = "the role counted " + bad.map { "\($0) \(value($0))" }.joined(separator: ", ")
        }
        if resent > 0 { notes.append("\(resent) datagrams of input sent again after a \(capacityStallNanos / 1_000_000) ms stall") }
        if value("back_pressured_by_collection") > 0 { notes.append("back-pressured by collection \(value("back_pressured_by_collection")) times") }
    }

    var report: Report {
        var r = Report()
        r.add("role", role.rawValue)
        r.add("node", node.rawValue)
        r.add("work", workName)
        r.add("seconds", seconds)
        r.add("messages", messages)
        r.add("messages_per_second", messagesPerSecond)
        r.add("runs_per_second", runsPerSecond)
        r.add("role_cpu_seconds", roleCPU)
        r.add("role_cpu_per_second", roleCPUPerSecond)
        r.add("messages_per_cpu_second", messagesPerCPUSecond)
        r.add("runs_per_cpu_second", runsPerCPUSecond)
        r.add("cpu_us_per_message", cpuMicrosPerMessage)
        r.add("cpu_us_per_run", cpuMicrosPerRun)
        r.add("generator_busy_fraction", generatorBusy)
        r.add("window", window)
        r.add("transport", reportFields["transport"] as? String ?? "unknown")
        r.add("rss_peak_kib", (reportFields["rss_peak_kib"] as? NSNumber)?.uint64Value ?? 0)
        r.add("ok", failure == nil)
        if let f = failure { r.add("failure", f) }
        return r
    }
}
