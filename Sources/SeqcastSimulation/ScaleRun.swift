import SeqcastCore
import SeqcastNode
import SeqcastWire

/// A group of many members under steady random loss and nothing else (issue 13, "scale by
/// simulation"): how the servers' repair load and commit-to-delivery latency grow with the
/// number of receivers, which is the NAK design's claim to scale. No crashes, partitions or
/// duplicates; the invariants are checked after every step as in every run.
public struct ScaleOptions: Sendable {
    public var members: Int
    /// Members that publish (the first ones); the rest only receive.
    public var publishers = 2
    /// Every datagram to every receiver is lost with this chance, independently.
    public var lossPercent: UInt64 = 1
    /// Each publisher's mean gap between messages (drawn between half and one and a half of it).
    public var publishGapMicros: UInt64 = 500
    public var bodyBytes = 64
    /// Simulated time the publishers publish; counters are read at its end, then the group must
    /// converge (still under the same loss) within the simulator's grace time.
    public var publishMillis: UInt64 = 200
    /// The servers' `Timing.collectionGrace` (nil: the default); 0 collects at once.
    public var collectionGrace: Nanoseconds?
    public init(members: Int) { self.members = members }
}

/// What a scale run measured over its publishing window (`ScaleOptions.publishMillis`).
public struct ScaleReport: Sendable {
    public var members = 0
    public var windowMicros: UInt64 = 0
    /// Numbers committed in the window, and deliveries at members (not checkpoint servers) in
    /// the whole run.
    public var committed: UInt64 = 0
    public var deliveries = 0
    /// Repair requests received per server, summed per role: id queries at commit servers
    /// (members' and the data servers' own), body fetches at data servers (members' and peer
    /// data servers'), checkpoint fetches at checkpoint servers.
    public var dataServerRepairs: UInt64 = 0
    public var dataServers = 0
    public var commitServerRepairs: UInt64 = 0
    public var commitServers = 0
    public var checkpointServerRepairs: UInt64 = 0
    public var checkpointServers = 0
    /// Repair requests members sent (id queries and body fetches).
    public var memberIdQueries: UInt64 = 0
    public var memberFetches: UInt64 = 0
    /// Checkpoints members fetched to resynchronise (numbers they needed were collected behind a
    /// checkpoint before their repair got them), over the whole run: what they skipped was
    /// installed from the checkpoint's state, so it has no delivery and no latency sample.
    public var memberResyncs: UInt64 = 0
    /// Replies held back by the servers' per-requester rate limiters.
    public var repairThrottled: UInt64 = 0
    /// Commit-to-delivery latency in simulated microseconds, from the first commit datagram
    /// the sequencer sent for a number to each member's delivery of it (sorted).
    public var latencyMicros: [UInt32] = []

    public func perServerPerSecond(_ total: UInt64, servers: Int) -> Double {
        servers == 0 || windowMicros == 0 ? 0 : Double(total) / Double(servers) / (Double(windowMicros) / 1e6)
    }
    public func perMemberPerSecond(_ total: UInt64) -> Double {
        members == 0 || windowMicros == 0 ? 0 : Double(total) / Double(members) / (Double(windowMicros) / 1e6)
    }
    /// The latency at fraction `p` (0…1) of deliveries, in microseconds (0 without any).
    public func latency(_ p: Double) -> UInt32 {
        latencyMicros.isEmpty ? 0 : latencyMicros[min(latencyMicros.count - 1, Int(Double(latencyMicros.count) * p))]
    }
}

extension Simulator {
    /// The scale run's group: one sequencer, three data servers (K = 2), three commit servers,
    /// two checkpoint servers and `members` members, everything fixed but the loss draws.
    static func scaleLayout(_ s: ScaleOptions) -> GroupLayout {
        var layout = GroupLayout.standard(sequencers: 1, dataServers: 3, commitServers: 3, checkpointServers: 2,
                                          members: s.members)
        layout.reportQuorum = 2
        layout.lifetime = 5_000
        layout.checkpointInterval = 256
        layout.bodySlots = 4_096
        layout.senderWindow = 128
        if let g = s.collectionGrace { layout.timing.collectionGrace = g }
        return layout
    }

    /// Reads the servers' and members' counters at the end of the publishing window.
    mutating func takeScaleSnapshot() {
        guard let s = options.scale else { return }
        var r = ScaleReport()
        r.members = s.members
        r.windowMicros = now.nanoseconds / 1_000
        r.committed = checker.frontier
        r.repairThrottled = nodeCounters.repairThrottled
        for h in nodes {
            guard let c = h.node?.roleCounters else { continue }
            switch h.kind {
            case .dataServer: r.dataServerRepairs += c.repairsServed; r.dataServers += 1
            case .commitServer: r.commitServerRepairs += c.repairsServed; r.commitServers += 1
            case .checkpointServer:
                r.checkpointServerRepairs += c.repairsServed
                r.checkpointServers += 1
            case .member:
                r.memberIdQueries += c.idQueriesSent
                r.memberFetches += c.fetchesSent
            case .sequencer: break
            }
        }
        report.scale = r
    }

    /// What only the end of a scale run can say (after convergence).
    mutating func finishScaleReport() {
        guard report.scale != nil else { return }
        report.scale!.deliveries = scaleDeliveries.count
        report.scale!.latencyMicros = scaleDeliveries.sorted()
        report.scale!.memberResyncs = nodes.filter { $0.kind == .member }
            .reduce(0) { $0 + ($1.node?.roleCounters.checkpointFetches ?? 0) }
    }
}
