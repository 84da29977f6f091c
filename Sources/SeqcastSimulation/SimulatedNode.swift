import SeqcastCore
import SeqcastNode

/// A node of the simulated world, whatever its role: the simulator keeps hosts of different
/// roles in one array and drives them through this (the node itself is the runtime's `Node`,
/// specialised to the simulated network, disk and event log).
protocol SimulatedNode {
    var store: SimDisk { get set }
    var transport: SimTransport { get set }
    var sink: EventLog { get set }
    var counters: NodeCounters { get }
    var auth: DatagramAuthenticator? { get }
    /// The role's own counters (drops by reason, repairs).
    var roleCounters: RoleCounters { get }
    var nextDeadline: Instant? { get }
    mutating func receive(_ bytes: UnsafeRawBufferPointer, from: PeerAddress, now: Instant)
    mutating func tick(now: Instant)
    mutating func storeAdvanced(now: Instant)
}

extension Node: SimulatedNode where Transport == SimTransport, Store == SimDisk, Sink == EventLog {
    var roleCounters: RoleCounters { role.output.counters }
}
