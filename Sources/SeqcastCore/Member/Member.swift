import SeqcastWire

/// A member (claims 5, 8-11, 15-17): receives data and commits, delivers to its application
/// strictly in sequence order, repairs gaps by NAK (ids from commit servers, bodies from data
/// servers), learns the tail from heartbeats, joins late from a checkpoint, and publishes.
/// A checkpoint server is a member with `checkpointing` on (see `CheckpointServer`).
///
/// Inputs: data, commits, heartbeats, id replies, message replies, fetch misses, checkpoint
/// chunks (and, when checkpointing, checkpoint fetches); `tick`; `publish`.
/// Outputs: data (as a publisher), id queries, message fetches, checkpoint fetches and chunks,
/// checkpoint reports, events (deliveries, sequenced, checkpoints).
///
/// Owned by one thread. Invariants:
/// - `deliveredThrough == ledger.consumedThrough`; deliveries are exactly
///   `start+1, start+2, …` with no skip (S3);
/// - a message is delivered at most once: `streams.counter(of: s)` only rises while `s` can
///   still be bound again (S4, S15; `StreamTables` says when it is forgotten).
public struct Member<App: ReplicatedApplication>: ProtocolRole {
    public let config: GroupConfig
    public let node: NodeId
    public internal(set) var app: App
    public internal(set) var deliveredThrough = SequenceNumber.zero
    /// Where this member's delivered stream starts (0, or an installed checkpoint).
    public internal(set) var startSeq = SequenceNumber.zero
    public internal(set) var checkpointInterval: UInt64
    /// Where `checkpointInterval` took effect (checkpoints fall on its multiples from there).
    var checkpointIntervalFrom = SequenceNumber.zero
    public internal(set) var ledger: CommitLedger
    public var output: RoleOutput
    var pending = CounterTable<StoredMessage>()
    var bodies: BodyStore
    /// Delivered counters and ended streams per sender incarnation (kept in checkpoints).
    var streams = StreamTables()
    /// Where delivery stood when an eviction scan last found nothing far ahead (nil: none).
    var evictScanFutileAt: SequenceNumber?
    var reassembly: Reassembly
    var prng: Prng
    var publisher: Publisher
    var repair: BodyRepair
    var join: JoinState?
    var checkpoints: CheckpointStore?
    var latestCheckpointSeq = SequenceNumber.zero
    /// The highest epoch heard from a sequencer: a checkpoint server reports to its candidate.
    var sequencerEpoch = Epoch.none
    /// Whether `.delivered` events carry the body's digest (what the simulator's checker
    /// compares). A driver that does not read it turns it off: one pass less over every body.
    public var digestsDeliveredBodies = true
    /// Where the last scan for expired orphans ran (`dropExpiredOrphans`).
    var orphanScanAt = SequenceNumber.zero
    /// Messages `deliver` may still hand to the application; it stops at 0 and the rest waits,
    /// held, until the owner raises it and calls `deliverHeld` (an embedding application's
    /// bounded poll). Unbounded unless an owner bounds it.
    public var deliveryAllowance = Int.max

    /// - Parameters:
    ///   - incarnation: this start's incarnation (Part 1 §1): higher than any earlier one.
    ///   - app: the application, constructed by the owner, in its initial state.
    ///   - joining: start from the latest checkpoint instead of sequence number 1 (claim 16).
    ///   - checkpointing: take, store, report and serve checkpoints (a checkpoint server).
    public init(config: GroupConfig, node: NodeId, incarnation: UInt32, seed: UInt64, now: Instant, app: App,
                joining: Bool = false, checkpointing: Bool = false) {
        precondition((try? config.validate()) != nil, "invalid group configuration")
        self.app = app
        self.config = config
        self.node = node
        checkpointInterval = config.checkpointInterval
        output = RoleOutput(config: config)
        bodies = BodyStore(slotBytes: config.datagramBytesMax, slotCountMax: config.limits.bodySlotsMax)
        reassembly = Reassembly(config: config)
        // A lane spans as many counters as the store can hold bodies (small ones count twice), so
        // a member that falls behind never spills into the overflow table (which would slow it
        // further); lanes are kept and reused, so this is allocated once per active sender.
        pending = CounterTable(laneCapacity: 2 * config.limits.bodySlotsMax)
        prng = Prng(seed: seed)
        repair = BodyRepair(timing: config.timing)
        ledger = CommitLedger(timing: config.timing)
        publisher = Publisher(sender: SenderId(node: node, incarnation: incarnation),
                              windowMax: config.limits.senderWindowMax, timing: config.timing)
        if checkpointing { checkpoints = CheckpointStore(reportAt: now) }
        if joining { join = JoinState(deadline: now, minimumTerminal: .zero, timing: config.timing) }
    }

    public var sender: SenderId { publisher.sender }

    /// Whether the group committed `collectionLagMax` messages that no checkpoint covers yet
    /// (data servers could not store many more). With the interval in force (a control run may
    /// change it), and never before the next checkpoint's number is committed, so the gate can
    /// never keep numbering from reaching the checkpoint that opens it.
    var collectionLagged: Bool {
        let n = checkpointInterval
        guard let lagMax = config.collectionLagMax(interval: n) else { return false }
        let committed = ledger.announcedThrough.rawValue
        let latest = latestCheckpointSeq.rawValue
        let (limit, past) = latest.addingReportingOverflow(lagMax)
        guard !past, committed > limit else { return false }
        // The next checkpoint: the first multiple of the interval after the latest one and at
        // or after the number where the interval took effect.
        let from = max(latest + 1, checkpointIntervalFrom.rawValue)
        let (next, beyond) = ((from - 1) / n + 1).multipliedReportingOverflow(by: n)
        return !beyond && committed >= next
    }

    /// How large a data datagram this member packs bodies into: a member's trailer has one tag,
    /// which leaves it `memberDataExtraBytes` more room; a checkpoint server holds the server
    /// key and tags like a server, so it keeps to `datagramBytesMax`.
    var dataPackingBytes: Int {
        checkpoints == nil ? config.memberDataBytesMax : config.datagramBytesMax
    }

    /// Lets the owner change the application's local, non-replicated state (a measurement
    /// clock, a handle): what `apply` computes from deliveries must not depend on it.
    public mutating func withApplication<R>(_ body: (inout App) -> R) -> R { body(&app) }
    /// Pending bodies held outside their sender's lane, and lanes in use (diagnosis).
    public var pendingLayout: (overflow: Int, lanes: Int, total: Int) { (pending.overflowCount, pending.laneCount, pending.count) }
    /// Sender incarnations in the delivered and ended tables.
    public var streamTableSizes: (delivered: Int, ended: Int) { (streams.delivered.count, streams.ended.count) }
    /// The size of the latest checkpoint this checkpoint server took (0: none, or not one).
    public var latestCheckpointBytes: Int { checkpoints?.latest?.bytes.count ?? 0 }
    public var unsequencedCount: Int { publisher.count }
    public var isJoining: Bool { join != nil }
    /// Whether a heartbeat or commit of a sequencer reached this member yet.
    public var hasHeardSequencer: Bool { sequencerEpoch != .none }
    /// The highest number this member knows committed.
    public var committedThrough: SequenceNumber { ledger.announcedThrough }
    /// The group's latest checkpoint this member heard of (or installed).
    public var groupCheckpoint: SequenceNumber { latestCheckpointSeq }
    /// Bodies held for delivery (own and others', not yet delivered).
    public var heldCount: Int { pending.count }

    public var nextDeadline: Instant? {
        var d = earliest(ledger.deadline, repair.due)
        d = earliest(d, publisher.deadline)
        d = earliest(d, join?.deadline)
        return earliest(d, checkpoints?.reportAt)
    }

    // MARK: inputs

    public mutating func receive(_ bytes: UnsafeRawBufferPointer, from: PeerAddress, now: Instant) {
        guard let d = output.decode(bytes, groupId: config.groupId, fingerprint: config.fingerprint) else { return }
        switch d.message {
        case .data(let m), .messageReply(let m):
            onData(m)
        case .commit(let batch):
            // A late commit of an older epoch is still true (Part 2 §5.3-10).
            guard d.header.source == config.sequencer(of: d.header.epoch) else { return dropUnexpected() }
            sequencerEpoch = max(sequencerEpoch, d.header.epoch)
            for run in batch.runs { ledger.record(run) }
            ledger.announce(batch.committedThrough)
        case .heartbeat(let hb):
            guard d.header.source == config.sequencer(of: d.header.epoch) else { return dropUnexpected() }
            sequencerEpoch = max(sequencerEpoch, d.header.epoch)
            ledger.announce(hb.committedThrough)
            latestCheckpointSeq = max(latestCheckpointSeq, hb.checkpointSeq)
            dropExpiredOrphans()
        case .idReply(let reply):
            guard config.commitServerIndex(d.header.source) != nil else { return dropUnexpected() }
            for run in reply.batch.runs { ledger.record(run) }
            ledger.announce(reply.batch.committedThrough)
            if reply.lowWater > deliveredThrough, latestCheckpointSeq > deliveredThrough,
               ledger.runs.run(containing: deliveredThrough.next) == nil {
                // The numbers we need were truncated behind a checkpoint: resynchronise (4.10).
                startJoin(now: now)
            }
        case .fetchMiss(let miss):
            guard config.dataServerIndex(d.header.source) != nil else { return dropUnexpected() }
            // Collected behind a checkpoint we have not reached: only that checkpoint can help.
            // A miss for numbers we are already past (a late answer) changes nothing.
            if miss.reason == .collected, miss.checkpointSeq > deliveredThrough,
               miss.firstCounter + UInt64(miss.count) - 1 > streams.counter(of: miss.sender) {
                startJoin(now: now)
            } else if miss.reason == .notHeld {
                repair.rotateSoon(now: now)
            }
        case .checkpointChunk(let chunk):
            guard config.checkpointServers.contains(d.header.source) else { return dropUnexpected() }
            onCheckpointChunk(chunk, now: now)
        case .checkpointFetch(let f):
            guard checkpoints != nil else { return dropUnexpected() }
            serveCheckpoint(f, to: from)
        default:
            dropUnexpected()
        }
        deliver(now: now)
    }

    public mutating func tick(now: Instant) {
        if let (query, server) = ledger.pollIdQuery(now: now, config: config, prng: &prng) {
            output.counters.idQueriesSent &+= 1
            output.outbox.send(to: .node(server), header: header(.idQuery)) { w throws(EncodeError) in
                try query.encode(into: &w)
            }
        }
        pollBodyRepair(now: now)
        flushPublisher(now: now)
        pollJoin(now: now)
        pollCheckpointReport(now: now)
        deliver(now: now)
    }

    public mutating func persisted(_ ticket: WriteTicket, now: Instant) {
        checkpoints?.persisted(through: ticket, storage: &output.storage)
    }

    /// Publishes one message (claim 1, L6): returns at once; the message leaves on the next
    /// `tick` together with any others published at the same instant (one batched datagram).
    /// Back-pressured when the window is full, when the store has no room, and when the group
    /// has committed `collectionLagMax` messages no checkpoint covers yet (data servers could
    /// not store more).
    public mutating func publish(_ body: UnsafeRawBufferPointer, now: Instant) -> PublishResult {
        guard body.count <= config.limits.messageBytesMax else { return .tooLarge }
        guard publisher.count < config.limits.senderWindowMax else { return .backPressured }
        if collectionLagged {
            output.counters.backPressuredByCollection &+= 1
            return .backPressured
        }
        // Our own unsequenced messages may take at most half of the large slots: the rest keeps
        // room for what others publish, without which nothing (ours included) gets delivered.
        if body.count > BodyStore.smallSlotBytes, bodies.largeSlotsFree < config.limits.bodySlotsMax / 2 {
            return .backPressured
        }
        guard let windowCopy = bodies.store(body) else { return .backPressured }
        let id = publisher.add(body: windowCopy, logicalTs: ledger.announcedThrough)
        // Our own multicast does not loop back to us: keep a copy to deliver.
        if let own = bodies.store(body) {
            pending[id] = StoredMessage(logicalTs: ledger.announcedThrough, body: own)
        }
        return .accepted(id)
    }

    // MARK: data

    mutating func onData(_ m: DataMessage) {
        var counter = m.firstCounter
        for body in m.bodies {
            let id = MessageId(sender: m.sender, counter: counter)
            counter += 1
            guard id.counter > streams.counter(of: id.sender) else { continue }
            if let held = pending[id] {
                // A duplicate (the network's, a retransmission, a repair) or another body for
                // the same id: where two bodies meet, they are compared (fragments are not).
                if m.fragmentCount == 1 { output.compare(held.body, in: bodies, with: body, id: id) }
                continue
            }
            if m.fragmentCount > 1 {
                switch reassembly.add(id: id, index: Int(m.fragmentIndex), count: Int(m.fragmentCount), bytes: body) {
                case .whole(let whole): whole.withUnsafeBytes { keep(id, logicalTs: m.logicalTs, body: $0) }
                case .partial: continue
                case .oversize: output.counters.droppedOversize &+= 1
                }
            } else {
                keep(id, logicalTs: m.logicalTs, body: body)
            }
        }
    }

    mutating func keep(_ id: MessageId, logicalTs: SequenceNumber, body: UnsafeRawBufferPointer) {
        if let h = bodies.store(body) {
            pending[id] = StoredMessage(logicalTs: logicalTs, body: h)
            return
        }
        // Full. A member far behind (a restarted checkpoint server replaying from its
        // checkpoint) fills its store with the live stream far ahead of what it delivers, and
        // could then never keep the bodies it fetches for its next numbers: measured as a group
        // stalled for good (the checkpoint server stuck, data servers' stores full behind it).
        // A body due soon makes room by evicting every body far ahead (fetched again when due).
        // A scan that freed nothing is not repeated until delivery moves (it would cost the
        // whole table per message while the store holds only bodies due soon).
        if isDueSoon(id), evictScanFutileAt != deliveredThrough, evictFarAhead() > 0, let h = bodies.store(body) {
            pending[id] = StoredMessage(logicalTs: logicalTs, body: h)
            return
        }
        output.counters.droppedStoreFull &+= 1
    }

    /// Counters per sender counted as due soon: a quarter of the store shared by the senders.
    var dueSoonCounters: UInt64 { UInt64(max(16, config.limits.bodySlotsMax / 4 / max(1, streams.count))) }

    func isDueSoon(_ id: MessageId) -> Bool {
        id.counter <= streams.counter(of: id.sender) + dueSoonCounters
    }

    /// Frees the kept bodies of other senders that are not due soon; returns how many.
    mutating func evictFarAhead() -> Int {
        let far = pending.entries.map(\.key).filter { $0.sender != publisher.sender && !isDueSoon($0) }
        for id in far { bodies.free(pending.removeValue(forKey: id)!.body) }
        output.counters.bodiesEvicted &+= UInt64(far.count)
        evictScanFutileAt = far.isEmpty ? deliveredThrough : nil
        return far.count
    }

    /// Lifetime rule at a member: a kept body whose timestamp is more than L behind what we
    /// delivered can no longer be numbered (any number it could get is already delivered), so
    /// it is an orphan of a stream that broke; its slot goes back to the store.
    ///
    /// The scan visits every pending body, so it runs once per L/8 delivered numbers (or when
    /// the store runs low), not on every heartbeat: an orphan waits at most L/8 longer.
    mutating func dropExpiredOrphans() {
        let horizon = deliveredThrough.rawValue
        guard horizon > config.lifetime else { return }
        let storeLow = bodies.largeSlotsFree < config.limits.bodySlotsMax / 8
        guard storeLow || horizon >= orphanScanAt.rawValue + max(1, config.lifetime / 8) else { return }
        orphanScanAt = deliveredThrough
        let expired = pending.entries.filter {
            $0.value.logicalTs.rawValue < UInt64.max - config.lifetime && $0.value.logicalTs.rawValue + config.lifetime < horizon
        }.map(\.key)
        for id in expired where id.sender != publisher.sender {
            bodies.free(pending.removeValue(forKey: id)!.body)
        }
    }

    // MARK: delivery

    /// Delivers what is deliverable now, within `deliveryAllowance` (bodies a bounded poll
    /// left held).
    public mutating func deliverHeld(now: Instant) { deliver(now: now) }

    /// Hands every deliverable number to the application, in order (claims 5, 8).
    mutating func deliver(now: Instant) {
        guard join == nil else { return }
        while let run = ledger.nextRun {
            let seq = deliveredThrough.next
            switch run.content {
            case .messages(let sender, _):
                // A segment of the run at once; it stops where the checkpoint check must run.
                guard let through = deliverSegment(of: run, sender: sender, from: seq, now: now) else { return }
                ledger.consume(through: through)
                deliveredThrough = through
                repair.progressed()
                if through.rawValue % checkpointInterval == 0 { checkpointBoundary(at: through) }
                continue
            case .noop:
                break
            case .checkpointInterval(let n):
                checkpointInterval = n
                checkpointIntervalFrom = seq
                output.events.append(.controlApplied(seq: seq, run: run.slice(from: seq, through: seq)))
            case .endOfStream(let s, let last):
                output.events.append(.controlApplied(seq: seq, run: run.slice(from: seq, through: seq)))
                streams.endBound(s, lastCounter: last, at: seq.rawValue)
                endStream(s, lastCounter: last)
            }
            ledger.consume(through: seq)
            deliveredThrough = seq
            repair.progressed()
            if seq.rawValue % checkpointInterval == 0 { checkpointBoundary(at: seq) }
        }
    }

    /// Delivers consecutive numbers of one message run from `first` (the next undelivered
    /// number) while their bodies are here and the allowance lasts, up to the run's end or the
    /// next checkpoint number; returns the last number handled, or nil when nothing could be
    /// (the allowance is spent, or the first body is missing: a repair waits for it). The
    /// sender's stream table moves once per segment, and the caller's ledger and frontier too:
    /// work per run, not per message. A body missing after some were delivered ends the
    /// segment there; the next call finds it missing first.
    mutating func deliverSegment(of run: SequenceRun, sender: SenderId, from first: SequenceNumber,
                                 now: Instant) -> SequenceNumber? {
        var delivered = streams.counter(of: sender)
        var last: SequenceNumber?
        var seq = first
        while deliveryAllowance > 0 {
            let id = run.messageId(at: seq)!
            if id.counter > delivered {
                guard let m = pending.removeValue(forKey: id) else {
                    if last == nil { repair.blocked(at: seq, now: now, grace: config.timing.nakGrace) }
                    break
                }
                let bodyDigest = Self.apply(&app, bodies, m.body, seq: seq, id: id, digest: digestsDeliveredBodies)
                output.events.append(.delivered(seq: seq, id: id, bodyDigest: bodyDigest, stateDigest: app.stateDigest))
                bodies.free(m.body)
                deliveryAllowance &-= 1
                delivered = id.counter
                if sender == publisher.sender {
                    publisher.sequenced(through: id.counter) { counter, h in
                        bodies.free(h)
                        if counter == id.counter { output.events.append(.sequenced(id: id, seq: seq)) }
                    }
                }
            }
            // Otherwise already delivered at a lower number: skipped deterministically (S15);
            // the binding still counts as the incarnation's latest (`StreamTables`).
            last = seq
            if seq == run.lastSeq || seq.rawValue % checkpointInterval == 0 { break }
            seq = seq.next
        }
        guard let through = last else { return nil }
        streams.deliveredMessage(sender, counter: delivered, at: through.rawValue)
        return through
    }

    /// At checkpoint numbers, on every member alike: checkpoints carry the result.
    mutating func checkpointBoundary(at seq: SequenceNumber) {
        output.counters.incarnationsRetired &+= UInt64(streams.retireIdle(lifetime: config.lifetime))
        if checkpoints != nil { takeCheckpoint(at: seq) }
    }

    /// A stream ended (the tables already say so): its later counters are orphans. If it is
    /// ours, the unsequenced rest continues under the next incarnation (Part 1 §2).
    mutating func endStream(_ s: SenderId, lastCounter: UInt64) {
        let orphans = pending.allKeys.filter { $0.sender == s && $0.counter > lastCounter }
        for id in orphans { bodies.free(pending.removeValue(forKey: id)!.body) }
        guard s == publisher.sender else { return }
        // Our own messages up to the end were delivered (or covered by a checkpoint).
        publisher.sequenced(through: lastCounter) { _, h in bodies.free(h) }
        let next = SenderId(node: node, incarnation: s.incarnation &+ 1)
        let moved = publisher.restart(as: next, logicalTs: ledger.announcedThrough)
        for p in publisher.window[publisher.head...] {
            let bytes = bodies.withBody(p.body) { Array($0) }
            if let copy = bytes.withUnsafeBytes({ bodies.store($0) }) {
                pending[MessageId(sender: next, counter: p.counter)] = StoredMessage(logicalTs: p.logicalTs, body: copy)
            }
        }
        output.events.append(.streamEnded(sender: s, lastCounter: lastCounter, next: next, republished: moved,
                                          logicalTs: ledger.announcedThrough))
    }

    /// Hands one stored body to the application; returns the body's digest. Static, with the
    /// application and the store as separate arguments: a closure over `self` here made Swift
    /// copy the whole store (retaining each of its arrays) for every delivered message.
    static func apply(_ app: inout App, _ bodies: BodyStore, _ h: BodyStore.Handle, seq: SequenceNumber,
                      id: MessageId, digest: Bool) -> UInt64 {
        bodies.withBody(h) { body in
            app.apply(seq: seq, id: id, body: body)
            return digest ? Digest.of(body) : 0
        }
    }

    /// A one-line account of why delivery may be waiting, for failure reports.
    public var diagnosis: String {
        let next = deliveredThrough.next
        let binding = ledger.runs.run(containing: next).map { "\($0)" } ?? "unknown"
        let id = ledger.runs.run(containing: next)?.messageId(at: next)
        if let j = join {
            return "joining: minimum terminal \(j.minimumTerminal), adopted \(j.terminalSeq), chunks "
                + "\(j.chunks.filter { $0 != nil }.count)/\(j.chunks.count), attempt \(j.attempt), delivered \(deliveredThrough), "
                + "group checkpoint \(latestCheckpointSeq)"
        }
        return "known through \(ledger.knownThrough), announced \(ledger.announcedThrough), next \(next) bound to "
            + "\(binding), body \(id.map { pending[$0] != nil ? "held" : "missing" } ?? "-"), "
            + "fetches \(output.counters.fetchesSent), id queries \(output.counters.idQueriesSent), "
            + "pending bodies \(pending.count), free slots \(bodies.slotsFree)"
    }

    // MARK: helpers

    mutating func dropUnexpected() { output.counters.droppedUnexpectedKind &+= 1 }

    func header(_ kind: MessageKind, flags: UInt16 = 0) -> Header {
        Header(kind: kind, flags: flags, groupId: config.groupId, fingerprint: config.fingerprint, epoch: Epoch(1),
               source: node)
    }
}
