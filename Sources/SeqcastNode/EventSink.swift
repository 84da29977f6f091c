import SeqcastCore

/// Where a node's events go (deliveries, publish outcomes, checkpoints, collection): the
/// application or workload in the runtime, the checker in the simulator.
public protocol EventSink {
    mutating func observe(_ event: RoleEvent, now: Instant)
}

/// Keeps events in order until the driver takes them (the simulator and the scenario tests,
/// whose checks need to see every event of every node).
public struct EventLog: EventSink {
    public var events: [RoleEvent] = []
    public init() {}
    public mutating func observe(_ event: RoleEvent, now: Instant) { events.append(event) }
    /// Hands over the events observed since the last call.
    public mutating func take() -> [RoleEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }
}
