import SeqcastWire

/// Everything a role produced in response to its inputs, drained by the driver after each call
/// in a fixed order: storage writes first (and their tickets awaited), then datagrams, then
/// events. Allocated once per role.
public struct RoleOutput {
    public var outbox: Outbox
    public var storage: StorageQueue
    public var events: [RoleEvent]
    public var counters = RoleCounters()

    public init(config: GroupConfig) {
        outbox = Outbox(slotBytes: config.memberDataBytesMax, slotCountMax: config.limits.outboxSlotsMax,
                        datagramBytes: config.datagramBytesMax)
        storage = StorageQueue()
        events = []
        events.reserveCapacity(1024)
    }

    /// Decodes a received datagram, counting and dropping what is malformed, for another group,
    /// or from a process of this group whose configuration differs (another fingerprint).
    @inlinable mutating func decode(_ bytes: UnsafeRawBufferPointer, groupId: UInt32, fingerprint: UInt32) -> Datagram? {
        counters.datagramsReceived &+= 1
        let d: Datagram
        do {
            d = try Datagram.decode(bytes)
        } catch {
            counters.droppedMalformed &+= 1
            counters.lastMalformedReason = error.reason
            return nil
        }
        guard d.header.groupId == groupId else {
            counters.droppedWrongGroup &+= 1
            return nil
        }
        guard d.header.fingerprint == fingerprint else {
            if counters.droppedWrongFingerprint == 0 {
                counters.firstForeignFingerprint = ForeignFingerprint(
                    source: d.header.source, groupId: d.header.groupId, fingerprint: d.header.fingerprint)
            }
            counters.droppedWrongFingerprint &+= 1
            return nil
        }
        return d
    }
}

/// The calling convention every role follows (quinn-proto's `Connection` contract):
/// - inputs: `receive(_:from:now:)` for a datagram, `tick(now:)` when `nextDeadline` passes,
///   `persisted(_:now:)` when a storage write is durable, plus role-specific commands;
/// - outputs: `output` (writes, datagrams, events), drained by the driver after every input;
/// - `nextDeadline`: when to call `tick` next (nil: only on input).
/// No role reads a clock, a socket, a file or system randomness.
public protocol ProtocolRole {
    var output: RoleOutput { get set }
    var nextDeadline: Instant? { get }
    mutating func receive(_ bytes: UnsafeRawBufferPointer, from: PeerAddress, now: Instant)
    mutating func tick(now: Instant)
    mutating func persisted(_ ticket: WriteTicket, now: Instant)
}

@inlinable func earliest(_ a: Instant?, _ b: Instant?) -> Instant? {
    switch (a, b) {
    case (nil, let x), (let x, nil): x
    case (let x?, let y?): min(x, y)
    }
}

/// The Q-th highest of a few cumulative positions (Q distinct servers are at or past it),
/// without sorting a copy: selection over a fixed inline buffer, so it allocates nothing.
@inlinable func qthHighest(_ values: [SequenceNumber], q: Int) -> SequenceNumber {
    precondition(q >= 1 && q <= values.count && values.count <= 8, "quorum out of range")
    var best: InlineArray<8, SequenceNumber> = .init(repeating: .zero)
    for i in values.indices { best[i] = values[i] }
    for round in 0..<q {
        var m = round
        for j in (round + 1)..<values.count where best[j] > best[m] { m = j }
        let t = best[round]
        best[round] = best[m]
        best[m] = t
    }
    return best[q - 1]
}
