import SeqcastCore
import SeqcastWire

/// Counts of what a node did between its role and the world (single writer).
public struct NodeCounters: Sendable, Equatable {
    /// Datagrams this node sent that came back to it (multicast loopback), dropped unread.
    public var ownLoopback: UInt64 = 0
    /// Repair replies the rate limiter held back.
    public var repairThrottled: UInt64 = 0
    /// Durable-prefix reports handed to the role (`persisted` calls).
    public var writesCompleted: UInt64 = 0
    /// Claims of this node's id by another process, answered "in use" (`NodeIdClaim`).
    public var claimsAnswered: UInt64 = 0
    /// Claims not answered: within 10 ms of the last answer (a flood stays a trickle).
    public var claimAnswersThrottled: UInt64 = 0
    /// Node claims that did not verify or decode.
    public var claimsUnreadable: UInt64 = 0
    public init() {}
}

/// One node: a role between a datagram transport and a log store (style.md §6.1-6.3). The one
/// driver of the role contract, used by the simulator, the scenario tests and the runtime alike.
///
/// After every input the node drains the role in the one documented order:
/// 1. storage writes go to the log store (and truncations);
/// 2. datagrams go to the transport (which resolves destinations from the `GroupLayout`),
///    repair replies through the rate limiter;
/// 3. events go to the sink;
/// 4. whatever the store reports durable is handed to the role (`persisted`), which may
///    release more output: drained again from 1.
/// Roles never reveal a record before its ticket is durable, so the order of 1 and 2 is not what
/// keeps them safe; it keeps every driver the same, and a store that is slower than the network
/// (the simulator's disk, real files) cannot change what is seen first.
///
/// Owned by one thread. Invariants: the role's output is empty after every public call;
/// `reportedDurable` only rises.
public struct Node<Role: ProtocolRole, Transport: DatagramTransport, Store: LogStore, Sink: EventSink> {
    public var role: Role
    public var transport: Transport
    public var store: Store
    public var sink: Sink
    public let id: NodeId
    public var counters = NodeCounters()
    @usableFromInline var limiter: RepairLimiter
    @usableFromInline var truncatedThrough: UInt64 = 0
    public var reportedDurable = WriteTicket(0)
    /// Tags what the node sends and checks what it receives (THREAT.md); nil: the group runs
    /// without authentication, and datagrams pass as the role wrote and received them.
    public let auth: DatagramAuthenticator?
    /// This process's claim of its node id, live: claims of the same id by another process are
    /// answered (nil: claims go to the role, which drops them as unexpected).
    public var claim: NodeIdClaim?
    @usableFromInline var claimAnswerNext = Instant.zero
    @usableFromInline var claimBuffer = [UInt8](repeating: 0, count: 64)

    /// Takes the role as started (whatever it produced while starting is drained at once).
    public init(id: NodeId, role: Role, transport: Transport, store: Store, sink: Sink,
                repairDatagramsPerSecond: Int = RepairLimiter.perSecondDefault, auth: DatagramAuthenticator? = nil,
                now: Instant) {
        self.id = id
        self.auth = auth
        self.role = role
        self.transport = transport
        self.store = store
        self.sink = sink
        limiter = RepairLimiter(perSecond: repairDatagramsPerSecond)
        drain(now: now)
    }

    @inlinable public var nextDeadline: Instant? { role.nextDeadline }

    // MARK: inputs

    /// A datagram from `from`. Our own multicast, looped back, is dropped here: the role has it.
    /// With authentication, the role sees only what verified, without its trailer.
    @inlinable public mutating func receive(_ bytes: UnsafeRawBufferPointer, from: PeerAddress, now: Instant) {
        // Before the own-address filter: a second process with this id may hold this very
        // address on another host. Our own claim answers, looped back, are ignored by content.
        if claim != nil, NodeIdClaim.isClaim(bytes) { return answerClaim(bytes, now: now) }
        guard from != transport.localAddress else {
            counters.ownLoopback &+= 1
            return
        }
        if let a = auth {
            guard let inner = a.open(bytes, now: now) else { return }
            role.receive(inner, from: from, now: now)
        } else {
            role.receive(bytes, from: from, now: now)
        }
        drain(now: now)
    }

    /// A node claim: another process asking whether this id is live gets "in use" back.
    @usableFromInline mutating func answerClaim(_ bytes: UnsafeRawBufferPointer, now: Instant) {
        guard let c = claim else { return }
        guard let verdict = c.consider(bytes, auth: auth, now: now) else {
            counters.claimsUnreadable &+= 1
            return
        }
        guard case .answer(let answer) = verdict else { return }  // a live node never refuses itself
        guard now >= claimAnswerNext else {
            counters.claimAnswersThrottled &+= 1
            return
        }
        claimAnswerNext = now + .millis(10)
        counters.claimsAnswered &+= 1
        // To the commit group, which the asker hears: its unicast address may be the very thing
        // two hosts share (one group file listing a wildcard, or a copied address).
        let to = Destination.commitGroup
        var buffer: [UInt8] = []
        swap(&buffer, &claimBuffer)  // borrowed while the transport is used, without a copy
        defer { swap(&buffer, &claimBuffer) }
        buffer.withUnsafeMutableBytes { b in
            let wire = UnsafeRawBufferPointer(rebasing: b[..<c.encode(answer, into: b)])
            if let a = auth {
                transport.send(a.seal(wire, to: to), kind: .nodeClaim, to: to)
            } else {
                transport.send(wire, kind: .nodeClaim, to: to)
            }
        }
    }

    /// The role's deadline passed.
    @inlinable public mutating func tick(now: Instant) {
        role.tick(now: now)
        drain(now: now)
    }

    /// A command of the role's own (publish, a control request), then a drain.
    @inlinable public mutating func perform<R>(now: Instant, _ command: (inout Role) -> R) -> R {
        let r = command(&role)
        drain(now: now)
        return r
    }

    /// The store made more writes durable (a sync completed): tell the role, drain.
    @inlinable public mutating func storeAdvanced(now: Instant) { drain(now: now) }

    // MARK: the drain

    /// Empties the role's output in the documented order until nothing is left.
    @inlinable public mutating func drain(now: Instant) {
        while true {
            persistWrites()
            sendDatagrams(now: now)
            deliverEvents(now: now)
            guard let t = store.takeDurable() else { break }
            precondition(t > reportedDurable, "a store reported a durable ticket twice")
            reportedDurable = t
            counters.writesCompleted &+= 1
            role.persisted(t, now: now)
        }
        assert(role.output.outbox.isEmpty && role.output.storage.isEmpty && role.output.events.isEmpty,
               "output left after a drain")
    }

    @inlinable mutating func persistWrites() {
        let count = role.output.storage.writes.count
        if count > 0 {
            Self.append(role.output.storage, into: &store)
            role.output.storage.removeAll()
        }
        let through = role.output.storage.truncateThrough
        if through > truncatedThrough {
            truncatedThrough = through
            store.truncate(through: through)
        }
    }

    @inlinable mutating func sendDatagrams(now: Instant) {
        let count = role.output.outbox.entries.count
        guard count > 0 else { return }
        for k in 0..<count {
            let e = role.output.outbox.entries[k]
            if case .address(let peer) = e.destination, RepairLimiter.governs(e.kind),
               !limiter.allow(peer: peer.rawValue, now: now.nanoseconds) {
                counters.repairThrottled &+= 1
                continue
            }
            Self.send(role.output.outbox, entry: k, through: &transport, auth: auth)
        }
        role.output.outbox.removeAll()
    }

    // Static, so the role's output is read while the store or transport is written: two
    // stored properties, no overlapping access to `self`.
    @inlinable static func append(_ queue: borrowing StorageQueue, into store: inout Store) {
        for k in 0..<queue.writes.count {
            let w = queue.writes[k]
            queue.withBytes(of: k) { store.append($0, ticket: w.ticket, key: w.key) }
        }
    }

    @inlinable static func send(_ outbox: borrowing Outbox, entry k: Int, through transport: inout Transport,
                                auth: DatagramAuthenticator?) {
        let e = outbox.entries[k]
        outbox.withBytes(of: k) { bytes in
            if let a = auth {
                transport.send(a.seal(bytes, to: e.destination), kind: e.kind, to: e.destination)
            } else {
                transport.send(bytes, kind: e.kind, to: e.destination)
            }
        }
    }

    @inlinable mutating func deliverEvents(now: Instant) {
        guard !role.output.events.isEmpty else { return }
        for e in role.output.events { sink.observe(e, now: now) }
        role.output.events.removeAll(keepingCapacity: true)
    }
}
