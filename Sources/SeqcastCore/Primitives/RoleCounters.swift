import SeqcastWire

/// Single-writer counters of one role (Aeron's system counters): hot code increments them,
/// nothing logs per message. Drops are counted by reason.
public struct RoleCounters: Sendable, Equatable {
    public var datagramsReceived: UInt64 = 0
    public var droppedMalformed: UInt64 = 0
    public var droppedWrongGroup: UInt64 = 0
    /// Datagrams of this group from a process whose group-wide configuration differs.
    public var droppedWrongFingerprint: UInt64 = 0
    public var droppedUnexpectedKind: UInt64 = 0
    public var droppedStaleEpoch: UInt64 = 0
    public var droppedStoreFull: UInt64 = 0
    /// Bodies a data server refused because their counter is more than a store's worth beyond
    /// what it holds of that sender (the bound on every loop over a sender's counters).
    public var droppedFarAhead: UInt64 = 0
    /// Publishes refused because the group committed `collectionLagMax` messages no
    /// checkpoint covers yet (`Member.publish`).
    public var backPressuredByCollection: UInt64 = 0
    /// Fragments of a message larger than the group's largest (`limits.messageBytesMax`), by
    /// fragment count or bytes: refused before reassembly reserves anything for it.
    public var droppedOversize: UInt64 = 0
    /// Kept bodies far ahead of delivery a member freed to keep one due soon (a full store).
    public var bodiesEvicted: UInt64 = 0
    /// Sender incarnations a receiver forgot: a later incarnation of the node published more
    /// than a lifetime after their last binding (`StreamTables`, `DataServer.forgetRetired`).
    public var incarnationsRetired: UInt64 = 0
    /// Bodies of a sender a data server holds nothing of, whose timestamp lies more than a
    /// lifetime behind its checkpoint: no number they could get is ahead of it (S9).
    public var droppedExpired: UInt64 = 0
    public var droppedInconsistent: UInt64 = 0
    public var idQueriesSent: UInt64 = 0
    public var fetchesSent: UInt64 = 0
    public var repairsServed: UInt64 = 0
    public var retransmissions: UInt64 = 0
    /// Due window entries a retransmission round left for the next (its budget spent).
    public var retransmitsDeferred: UInt64 = 0
    public var checkpointFetches: UInt64 = 0
    /// Records read back at a restart that no run of the role writes (a counter or key near
    /// 2^64, found by fuzzing the recovery): skipped and counted, never trusted or trapped on.
    public var recordsRefused: UInt64 = 0
    /// A message id arrived again with another body than the one held (THREAT.md "Unique
    /// identities"): two processes publish under one sender id, or a member publishes under
    /// another's. The first body is kept; the driver says once which id (`firstConflict`).
    public var conflictingBodies: UInt64 = 0
    public var firstConflict: MessageId?
    /// The last decode failure's reason, for a person reading a counter dump.
    public var lastMalformedReason = ""
    /// The first datagram refused for its fingerprint (who sent it, with which), so the driver
    /// can say once which process disagrees.
    public var firstForeignFingerprint: ForeignFingerprint?
    public init() {}
}

/// A sender of this group whose configuration fingerprint is not ours.
public struct ForeignFingerprint: Sendable, Equatable {
    public var source: NodeId
    public var groupId: UInt32
    public var fingerprint: UInt32
    public init(source: NodeId, groupId: UInt32, fingerprint: UInt32) {
        self.source = source
        self.groupId = groupId
        self.fingerprint = fingerprint
    }
}
