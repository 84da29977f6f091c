import SeqcastCore
import SeqcastNode
import SeqcastTransport
import SeqcastWire

/// What a role says about where it stands, for its counters file (each role in its own terms).
public struct RoleStanding: Sendable {
    /// The role's own frontier: numbers committed (sequencer), stored (commit server), known
    /// committed (data server), delivered (member, checkpoint server).
    public var frontier: UInt64 = 0
    /// The highest number the role knows committed.
    public var committedKnown: UInt64 = 0
    /// The group's latest checkpoint as the role knows it.
    public var checkpoint: UInt64 = 0
    /// Bodies held (a data server's store, a member's held messages).
    public var storeOccupancy: UInt64 = 0
    /// Own messages not yet committed (a publishing member's window).
    public var windowOccupancy: UInt64 = 0
    /// Publish-to-delivery latency p99 so far, µs (an application that measures it; else 0).
    public var latencyP99Micros: UInt64 = 0
}

/// An application that measures publish-to-delivery latency (the benchmark's): its p99 goes
/// into the member's counters file, for a live progress line.
public protocol LatencyReporting { var latencyP99Micros: UInt64 { get } }

/// A role whose standing its counters file shows.
public protocol StandingReporting { var standing: RoleStanding { get } }

extension Sequencer: StandingReporting {
    public var standing: RoleStanding {
        RoleStanding(frontier: committedThrough.rawValue, committedKnown: committedThrough.rawValue,
                     checkpoint: checkpointSeq.rawValue)
    }
}

extension CommitServer: StandingReporting {
    public var standing: RoleStanding {
        RoleStanding(frontier: storedThrough.rawValue, committedKnown: committedThrough.rawValue)
    }
}

extension DataServer: StandingReporting {
    public var standing: RoleStanding {
        RoleStanding(frontier: ledger.announcedThrough.rawValue, committedKnown: ledger.announcedThrough.rawValue,
                     checkpoint: checkpointSeq.rawValue, storeOccupancy: UInt64(storedCount))
    }
}

extension Member: StandingReporting {
    public var standing: RoleStanding {
        RoleStanding(frontier: deliveredThrough.rawValue, committedKnown: committedThrough.rawValue,
                     checkpoint: groupCheckpoint.rawValue, storeOccupancy: UInt64(heldCount),
                     windowOccupancy: UInt64(unsequencedCount),
                     latencyP99Micros: (app as? any LatencyReporting)?.latencyP99Micros ?? 0)
    }
}

/// The labels of every counters file, in slot order (`seqcast stats` reads them by name).
public enum LiveCounter: Int, CaseIterable, Sendable {
    case frontier, committedKnown, checkpoint, lastFrontierNanos, lastCheckpointNanos
    case datagramsReceived, datagramsSent, naksSent, repairsServed, retransmissions
    case droppedMalformed, droppedWrongGroup, droppedWrongFingerprint, droppedUnexpectedKind, droppedStaleEpoch
    case droppedStoreFull, droppedFarAhead, droppedOversize, droppedInconsistent, conflictingBodies
    case backPressuredByCollection, outboxDroppedFull, repairThrottled, authDropped
    case storeOccupancy, windowOccupancy, latencyP99Micros

    public var label: String {
        switch self {
        case .frontier: "frontier"
        case .committedKnown: "committed_known"
        case .checkpoint: "checkpoint"
        case .lastFrontierNanos: "last_frontier_advance_monotonic_ns"
        case .lastCheckpointNanos: "last_checkpoint_advance_monotonic_ns"
        case .datagramsReceived: "datagrams_received"
        case .datagramsSent: "datagrams_sent"
        case .naksSent: "naks_sent"
        case .repairsServed: "repairs_served"
        case .retransmissions: "retransmissions"
        case .droppedMalformed: "dropped_malformed"
        case .droppedWrongGroup: "dropped_wrong_group"
        case .droppedWrongFingerprint: "dropped_wrong_fingerprint"
        case .droppedUnexpectedKind: "dropped_unexpected_kind"
        case .droppedStaleEpoch: "dropped_stale_epoch"
        case .droppedStoreFull: "dropped_store_full"
        case .droppedFarAhead: "dropped_far_ahead"
        case .droppedOversize: "dropped_oversize"
        case .droppedInconsistent: "dropped_inconsistent"
        case .conflictingBodies: "conflicting_bodies"
        case .backPressuredByCollection: "back_pressured_by_collection"
        case .outboxDroppedFull: "outbox_dropped_full"
        case .repairThrottled: "repair_throttled"
        case .authDropped: "auth_dropped"
        case .storeOccupancy: "store_occupancy"
        case .windowOccupancy: "window_occupancy"
        case .latencyP99Micros: "latency_p99_us"
        }
    }

    public static var labels: [String] { allCases.map(\.label) }
}

/// The loop's side of a counters file: every `interval` it copies the role's counters and
/// standing into the file, and notes when the frontier and the checkpoint last moved.
public struct LiveCountersPublisher {
    public let file: CountersFile
    public var interval = Nanoseconds.millis(100)
    var dueAt = Instant.zero
    var lastFrontier: UInt64 = 0
    var lastCheckpoint: UInt64 = 0
    var frontierMovedAt: UInt64 = 0
    var checkpointMovedAt: UInt64 = 0

    public init(file: CountersFile) { self.file = file }

    /// The counters file of a node about to run (nil, said once through `log`, when the
    /// folder cannot be written: the node runs without live counters).
    public static func open(layout: GroupLayout, node: NodeId, role: NodeRole, log: (String) -> Void)
        -> LiveCountersPublisher? {
        do {
            return LiveCountersPublisher(file: try CountersFile(group: layout.name, instance: layout.instance, node: node,
                                                                role: role.rawValue, labels: LiveCounter.labels))
        } catch {
            log("warning: no live counters for seqcast stats: \(error)")
            return nil
        }
    }

    /// Whether a publication is due at `now` (one comparison per loop pass).
    @inline(__always) public func due(_ now: Instant) -> Bool { now >= dueAt }

    public mutating func publish(output: RoleOutput, standing: RoleStanding, node: NodeCounters, network: NodeNetwork,
                                 auth: DatagramAuthenticator?, now: Instant) {
        dueAt = now + interval
        if standing.frontier != lastFrontier {
            lastFrontier = standing.frontier
            frontierMovedAt = now.nanoseconds
        }
        if standing.checkpoint != lastCheckpoint {
            lastCheckpoint = standing.checkpoint
            checkpointMovedAt = now.nanoseconds
        }
        let c = output.counters
        var authDropped: UInt64 = 0
        if let a = auth {
            for (name, v) in a.counters.named where name.hasPrefix("auth_dropped") { authDropped &+= v }
        }
        let f = file
        func put(_ k: LiveCounter, _ v: UInt64) { f.set(k.rawValue, v) }
        put(.frontier, standing.frontier)
        put(.committedKnown, standing.committedKnown)
        put(.checkpoint, standing.checkpoint)
        put(.lastFrontierNanos, frontierMovedAt)
        put(.lastCheckpointNanos, checkpointMovedAt)
        put(.datagramsReceived, c.datagramsReceived)
        put(.datagramsSent, network.datagramsSent)
        put(.naksSent, c.idQueriesSent &+ c.fetchesSent)
        put(.repairsServed, c.repairsServed)
        put(.retransmissions, c.retransmissions)
        put(.droppedMalformed, c.droppedMalformed)
        put(.droppedWrongGroup, c.droppedWrongGroup)
        put(.droppedWrongFingerprint, c.droppedWrongFingerprint)
        put(.droppedUnexpectedKind, c.droppedUnexpectedKind)
        put(.droppedStaleEpoch, c.droppedStaleEpoch)
        put(.droppedStoreFull, c.droppedStoreFull)
        put(.droppedFarAhead, c.droppedFarAhead)
        put(.droppedOversize, c.droppedOversize)
        put(.droppedInconsistent, c.droppedInconsistent)
        put(.conflictingBodies, c.conflictingBodies)
        put(.backPressuredByCollection, c.backPressuredByCollection)
        put(.outboxDroppedFull, output.outbox.droppedFull)
        put(.repairThrottled, node.repairThrottled)
        put(.authDropped, authDropped)
        put(.storeOccupancy, standing.storeOccupancy)
        put(.windowOccupancy, standing.windowOccupancy)
        put(.latencyP99Micros, standing.latencyP99Micros)
        file.stamp(now.nanoseconds)
    }
}
