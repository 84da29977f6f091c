import SeqcastWire

/// Single-writer counters of one role (Aeron's system counters): hot code increments them,
/// nothing logs per message. Drops are counted by reason.
public struct RoleCounters: Sendable, Equatable {
    public var datagramsReceived: UInt64 = 0
    public var droppedMalformed: UInt64 = 0
    public var droppedWrongGroup: UInt64 = 0
    public var droppedUnexpectedKind: UInt64 = 0
    public var droppedStaleEpoch: UInt64 = 0
    public var droppedStoreFull: UInt64 = 0
    public var droppedInconsistent: UInt64 = 0
    public var idQueriesSent: UInt64 = 0
    public var fetchesSent: UInt64 = 0
    public var repairsServed: UInt64 = 0
    public var retransmissions: UInt64 = 0
    public var checkpointFetches: UInt64 = 0
    /// The last decode failure's reason, for a person reading a counter dump.
    public var lastMalformedReason = ""
    public init() {}
}
