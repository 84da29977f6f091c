import SeqcastWire

/// A data server (claims 1-3, 6, 9, 10, 19, 20): stores every data message, reports what it
/// holds to the sequencer in cumulative batches, serves bodies to whoever NAKs, fetches what it
/// missed from peer data servers, and collects garbage behind checkpoints (and orphans past
/// their lifetime).
///
/// Inputs: data messages (data group), commits and heartbeats (commit group), message fetches,
/// message replies and fetch misses from peers, id replies; `tick`.
/// Outputs: data reports, message replies and fetch misses, fetches to peers, id queries.
///
/// Owned by one thread. Invariant (S14): a committed message is only deleted at or behind a
/// checkpoint: the latest the sequencer announced, or the one a peer data server names when it
/// answers that it collected those counters.
public struct DataServer: ProtocolRole {
    public let config: GroupConfig
    public let node: NodeId
    /// Counters one message fetch (a NAK for bodies) is served for, at most: a request may name
    /// up to 2^32 (the wire allows it); replies are bounded by `repairDatagramsMax` as well.
    public static let fetchCountersMax: UInt32 = 4_096
    /// Counters a data report's scan for the lowest one held beyond a gap looks at, at most.
    public static let aheadScanCountersMax: UInt64 = 4_096
    /// Counters one fetch from a peer data server asks for, at most.
    public static let peerFetchCountersMax: UInt64 = 512
    /// Rises on every start: reports name it so the sequencer forgets an earlier life's holdings.
    public let incarnation: UInt32
    /// The newest checkpoint heard: what fetch misses and the forgetting rules name.
    public private(set) var checkpointSeq = SequenceNumber.zero
    /// The checkpoint collection goes behind: the newest one heard a grace time ago.
    var collection: CollectionGrace
    /// The highest low water a commit server answered with. Commit servers truncate only at or
    /// behind an agreed checkpoint, so it is at or behind one, though not always one itself (a
    /// lagging commit server truncates lower). The ledger skips to it, since those bindings are
    /// gone, and what the lifetime rule then deletes at or behind it is behind a checkpoint.
    /// It only labels those deletions; `checkpointSeq` stays the agreed checkpoint that
    /// collection and fetch misses use (seed 393702).
    var truncatedBehind = SequenceNumber.zero
    /// The highest epoch heard from a sequencer: reports go to the candidate that owns it.
    var sequencerEpoch = Epoch.none
    public var output: RoleOutput
    public private(set) var ledger: CommitLedger
    var store = CounterTable<StoredMessage>()
    var bodies: BodyStore
    var senders = HashTable<SenderId, SenderHoldings>()
    /// Per sender in `senders`, the numbers seen bound to it (per commit run, not per message).
    var bound = HashTable<SenderId, BoundNumbers>()
    /// Senders in first-seen order: every iteration that reaches an output uses it, never a
    /// dictionary's order (hash seeds differ per process).
    var senderOrder: [SenderId] = []
    var reassembly: Reassembly
    var prng: Prng
    var reportAt: Instant?
    /// When the last batched report left: the next one waits `reportDelay` after it.
    var lastReportAt: Instant?
    var refreshAt: Instant
    var peerCursor = 0
    var reportScratch: [DataReport.Entry] = []
    /// Per node, the highest incarnation `forgetRetired` forgot: a fetch for it or an earlier
    /// one is answered "collected", as it was before it was forgotten (all of its numbers lie
    /// behind the checkpoint), so a member lagging behind the checkpoint resynchronises from
    /// it instead of asking for ever (seed 1245443, once collection began to wait its grace).
    /// One entry per publishing node. Rests on a node's incarnations rising across its starts
    /// (its incarnation file): a start that lost its folder and took a lower, unused number
    /// would be answered "collected" here for live counters (a member resynchronises for
    /// nothing; a peer data server stops holding them), as a reused sender id breaks other
    /// rules (THREAT.md, "Unique identities").
    var retiredIncarnation: [UInt32: UInt32] = [:]
    /// `forgetRetired`'s list of bindings per incarnation, kept between calls (its capacity).
    var retireScratch: [(node: UInt32, first: UInt64, last: UInt64)] = []
    /// The disk store's bookkeeping (`config.dataStore == .disk`; empty otherwise).
    var disk = DiskHoldings()
    /// `config.dataStore == .disk`, read once (the memory store's hot path pays one test of it).
    let onDisk: Bool

    /// `recovering`: this server's log after a restart (disk store: its bodies come back).
    public init(config: GroupConfig, node: NodeId, incarnation: UInt32, seed: UInt64, now: Instant,
                recovering records: [[UInt8]] = []) {
        precondition((try? config.validate()) != nil, "invalid group configuration")
        self.config = config
        ledger = CommitLedger(timing: config.timing)
        self.node = node
        self.incarnation = incarnation
        output = RoleOutput(config: config)
        bodies = BodyStore(slotBytes: config.datagramBytesMax, slotCountMax: config.limits.bodySlotsMax)
        reassembly = Reassembly(config: config)
        // A lane spans the whole store (small bodies count twice): messages stay until a
        // checkpoint passes them, and none should spill into the slower overflow table.
        store = CounterTable(laneCapacity: 2 * config.limits.bodySlotsMax)
        prng = Prng(seed: seed)
        collection = CollectionGrace(grace: config.timing.collectionGrace)
        refreshAt = now + config.timing.reportRefresh
        onDisk = config.dataStore == .disk
        if onDisk { recoverBodies(records) }
    }

    public var storedCount: Int { store.count }
    /// Sender incarnations this server keeps holdings of (`forgetRetired` bounds them).
    public var senderCount: Int { senderOrder.count }

    public var nextDeadline: Instant? {
        earliest(earliest(earliest(reportAt, refreshAt), ledger.deadline), collection.deadline)
    }

    public mutating func receive(_ bytes: UnsafeRawBufferPointer, from: PeerAddress, now: Instant) {
        guard let d = output.decode(bytes, groupId: config.groupId, fingerprint: config.fingerprint) else { return }
        switch d.message {
        case .data(let m), .messageReply(let m):
            onData(m, now: now)
        case .commit(let batch):
            guard d.header.source == config.sequencer(of: d.header.epoch) else { return dropUnexpected() }
            followSequencer(d.header.epoch)
            for run in batch.runs { onCommitted(run) }
            ledger.announce(batch.committedThrough)
            afterLedgerChange()
        case .idReply(let reply):
            guard config.commitServerIndex(d.header.source) != nil else { return dropUnexpected() }
            for run in reply.batch.runs { onCommitted(run) }
            ledger.announce(reply.batch.committedThrough)
            if reply.lowWater > ledger.knownThrough { ledger.skip(through: reply.lowWater) }
            if reply.lowWater > truncatedBehind { truncatedBehind = reply.lowWater }
            afterLedgerChange()
        case .heartbeat(let hb):
            guard d.header.source == config.sequencer(of: d.header.epoch) else { return dropUnexpected() }
            followSequencer(d.header.epoch)
            ledger.announce(hb.committedThrough)
            if hb.checkpointSeq > checkpointSeq {
                checkpointSeq = hb.checkpointSeq
                if collection.heard(hb.checkpointSeq, now: now) { collectEligible() }
            }
            // A store a quarter free or less does not wait for the grace.
            if bodies.largeSlotsFree <= bodies.slotCountMax / 4, collection.hurry() { collectEligible() }
            if collection.advance(now: now) { collectEligible() }
            collectExpiredOrphans()
        case .messageFetch(let f):
            onMessageFetch(f, from: from)
        case .fetchMiss(let miss):
            guard config.dataServerIndex(d.header.source) != nil else { return dropUnexpected() }
            // "Not held": the next repair round asks another peer. "Collected": those counters
            // were committed at or behind a checkpoint, which a restarted (empty) server cannot
            // learn from commit servers that truncated their logs.
            if miss.reason == .collected { onCollectedByPeer(miss, now: now) }
        default:
            dropUnexpected()
        }
    }

    public mutating func tick(now: Instant) {
        if collection.advance(now: now) { collectEligible() }
        if let at = reportAt, at <= now {
            sendReports()
            reportAt = nil
            lastReportAt = now
        }
        if refreshAt <= now {
            // Reports may be lost and are cumulative: re-send every uncommitted holding.
            // Also a sender whose counters above a gap are held: those reports carry the bound
            // (`aheadTs`) with which the sequencer ends a stream at a gap nobody can fill.
            for s in senderOrder where senders[s]!.endedAt == nil
                && (senders[s]!.heldThrough > senders[s]!.committedThrough
                    || senders[s]!.highestStored > senders[s]!.heldThrough) {
                senders.update(s) { $0.dirty = true }
            }
            sendReports()
            fetchFromPeers(now: now)
            if onDisk { truncateDisk() }
            refreshAt = now + config.timing.reportRefresh
        }
        if let (query, server) = ledger.pollIdQuery(now: now, config: config, prng: &prng) {
            output.counters.idQueriesSent &+= 1
            output.outbox.send(to: .node(server), header: header(.idQuery)) { w throws(EncodeError) in
                try query.encode(into: &w)
            }
        }
    }

    public mutating func persisted(_ ticket: WriteTicket, now: Instant) {
        if onDisk { bodiesPersisted(through: ticket, now: now) }
    }

    // MARK: storing

    mutating func onData(_ m: DataMessage, now: Instant) {
        var counter = m.firstCounter
        // The highest counter of this datagram kept in memory (0: none).
        var storedThrough: UInt64 = 0
        for body in m.bodies {
            let id = MessageId(sender: m.sender, counter: counter)
            if m.fragmentCount > 1 {
                guard !isHeldOrObsolete(id) else { return }
                switch reassembly.add(id: id, index: Int(m.fragmentIndex), count: Int(m.fragmentCount), bytes: body) {
                case .whole(let whole): _ = whole.withUnsafeBytes { store(id, logicalTs: m.logicalTs, body: $0) }
                case .partial: break
                case .oversize: output.counters.droppedOversize &+= 1
                }
            } else {
                if store(id, logicalTs: m.logicalTs, body: body, advancing: false) { storedThrough = counter }
            }
            counter += 1
        }
        // The held prefixes move once per datagram, over all its bodies: per body it was a
        // table move and a failed probe each (a fifth of a data server's time, by profile).
        if storedThrough > 0 { advancePrefixes(m.sender, stored: storedThrough) }
        if reportAt == nil, senders[m.sender]?.dirty == true {
            // Adaptive batching (Nagle's rule, inverted): after a quiet spell the report goes at
            // the next tick, which a driver runs after the whole batch of datagrams it received;
            // under load reports leave at most once per `reportDelay`, each covering many ids.
            let earliestNext = lastReportAt.map { $0 + config.timing.reportDelay } ?? now
            reportAt = max(now, earliestNext)
        }
    }

    func isHeldOrObsolete(_ id: MessageId) -> Bool {
        guard let h = senders[id.sender] else { return false }
        if case .new = known(id, in: h) { return false }
        return true
    }

    /// What this server knows of `id` already, given its sender's holdings `h`.
    enum Known {
        /// Never seen (or seen and dropped): a body for it may be kept.
        case new
        /// Held: a body arriving is compared with this one.
        case held(BodyStore.Handle)
        /// Past the sender's end, collected, or waiting for its write to be durable.
        case obsolete
    }

    func known(_ id: MessageId, in h: SenderHoldings) -> Known {
        if let end = h.endedAt, id.counter > end { return .obsolete }
        guard id.counter > h.collectedThrough else { return .obsolete }
        if let held = store[id] { return .held(held.body) }
        return onDisk && disk.awaitingBodies[id] != nil ? .obsolete : .new
    }

    /// Keeps a body; on disk also writes it, and holds it once durable (`recoveredKey`: read
    /// back from this server's log, durable already). `advancing` false leaves the sender's
    /// prefixes to the caller (`advancePrefixes` once for a datagram's bodies); until then the
    /// far-ahead bound below counts from the prefix before the datagram, at most its body
    /// count stricter.
    @discardableResult
    mutating func store(_ id: MessageId, logicalTs: SequenceNumber, body: UnsafeRawBufferPointer,
                        recoveredKey: UInt64? = nil, advancing: Bool = true) -> Bool {
        let h: SenderHoldings  // read once: the checks below and the store bound
        if let known = senders[id.sender] {
            h = known
        } else {
            if recoveredKey == nil, isLateCopyOfAnEarlierIncarnation(id.sender, logicalTs: logicalTs) {
                output.counters.droppedExpired &+= 1
                return false
            }
            h = SenderHoldings()
            senders[id.sender] = h
            senderOrder.append(id.sender)
        }
        switch known(id, in: h) {
        case .new: break
        case .held(let first):
            output.compare(first, in: bodies, with: body, id: id)
            return false
        case .obsolete: return false
        }
        // A counter far beyond what this server holds is refused: every loop over a sender's
        // counters is then bounded by the store, whatever a datagram claims.
        let held = h.heldThrough
        guard id.counter <= held || id.counter - held <= UInt64(config.limits.bodySlotsMax) else {
            output.counters.droppedFarAhead &+= 1
            return false
        }
        var stored = bodies.store(body)
        if stored == nil, collection.hurry() {
            // Full while a checkpoint waits out its grace: collect behind it now and try again,
            // unless that collection covered this very counter (a late copy of a committed
            // message behind the checkpoint). Forgetting incarnations waits for the next
            // heartbeat or tick: it could remove this sender while its body is being stored.
            collectBehindCheckpoint()
            guard let again = senders[id.sender], case .new = known(id, in: again) else { return false }
            stored = bodies.store(body)
        }
        guard let handle = stored else {
            output.counters.droppedStoreFull &+= 1
            return false
        }
        if onDisk, recoveredKey == nil {
            // The disk store: in `store` (held, reported) only once its record is durable.
            writeBody(id, StoredMessage(logicalTs: logicalTs, body: handle), body: body)
            senders.update(id.sender) { $0.highestStored = max($0.highestStored, id.counter) }
            return false
        }
        store[id] = StoredMessage(logicalTs: logicalTs, body: handle)
        if let key = recoveredKey { noteOnDisk(id, key: key) }
        if advancing { advancePrefixes(id.sender, stored: id.counter) }
        return true
    }

    /// Whether a body of `sender`, which this server holds nothing of, is a late copy of an
    /// incarnation that ended before a later one of its node published, and could only be
    /// numbered behind the checkpoint; it would only hold a table entry again (a copy of one
    /// `forgetRetired` forgot). Any number it could get lies within L of its timestamp (S9),
    /// so behind the checkpoint. And another incarnation Y of the node was bound more than L
    /// after `logicalTs`: were this sender the later one, its timestamps would be frontiers
    /// heard after Y ended, at or above Y's timestamps, and Y's bindings lie within L of those
    /// (S9); so this sender is the earlier one and its process is gone. (That takes the frontier
    /// a new incarnation first hears to be one sent after its predecessor ended; a heartbeat
    /// delayed across a restart could break it: that stream, which could never be numbered
    /// anyway, might then not be ended for its publisher; a liveness cost, never a safety one.) A live publisher partitioned so long that its
    /// stream expired is not dropped so: its bodies are reported, and the sequencer ends its
    /// stream, as before. Rare: first bodies of senders only, and only expired ones walk the
    /// table.
    func isLateCopyOfAnEarlierIncarnation(_ sender: SenderId, logicalTs: SequenceNumber) -> Bool {
        let lifetime = config.lifetime
        let cp = checkpointSeq.rawValue
        guard cp > lifetime, logicalTs.rawValue < cp - lifetime else { return false }
        let bar = logicalTs.rawValue + lifetime  // below cp, so no overflow
        for s in senderOrder where s.node == sender.node {
            if let b = bound[s], b.lastMessage > bar { return true }
        }
        return false
    }

    /// Moves `heldThrough` over stored and committed counters and `repairedThrough` over
    /// stored and collected ones.
    /// `stored`: the highest counter just stored in memory (0: none).
    mutating func advancePrefixes(_ s: SenderId, stored: UInt64 = 0) {
        // In place: per datagram stored (and per commit run), so no copy of the holdings (and
        // their runs) each time.
        // Destructured, so no second copy (the tuple) keeps the holdings' arrays shared.
        guard case (let slot, var h)? = senders.moveOut(s) else { preconditionFailure("unknown sender") }
        defer { senders.moveIn(slot: slot, h) }
        h.highestStored = max(h.highestStored, stored)
        let before = h.heldThrough
        h.heldThrough = max(h.heldThrough, h.committedThrough)
        while store[MessageId(sender: s, counter: h.heldThrough + 1)] != nil { h.heldThrough += 1 }
        h.repairedThrough = max(h.repairedThrough, h.collectedThrough)
        while store[MessageId(sender: s, counter: h.repairedThrough + 1)] != nil { h.repairedThrough += 1 }
        if h.heldThrough > before, h.heldThrough > h.committedThrough, h.endedAt == nil { h.dirty = true }
        if h.repairedThrough >= h.knownThrough { h.gapSince = nil }
    }

    // MARK: commits and garbage collection

    mutating func onCommitted(_ run: SequenceRun) {
        ledger.record(run)
        switch run.content {
        case .messages(let s, let c):
            if senders[s] == nil {
                senders[s] = SenderHoldings()
                senderOrder.append(s)
            }
            // In place: a copy here would also copy the holdings' commit runs, once per commit run.
            senders.update(s) { $0.noteCommitted(counter: c, seq: run.firstSeq.rawValue, count: UInt64(run.count)) }
            var b = bound[s] ?? BoundNumbers()
            b.message(from: run.firstSeq.rawValue, through: run.lastSeq.rawValue)
            bound[s] = b
            advancePrefixes(s)
        case .endOfStream(let s, let last):
            guard var h = senders[s], h.endedAt == nil else { return }
            var b = bound[s] ?? BoundNumbers()
            b.lastBound = max(b.lastBound, run.firstSeq.rawValue)
            bound[s] = b
            h.endedAt = last
            h.dirty = false
            senders[s] = h
            // Counters past the end are orphans: they will never be numbered.
            if h.highestStored > last { collect(s, from: last + 1, through: h.highestStored) { _ in nil } }
        case .noop, .checkpointInterval:
            break
        }
    }

    mutating func afterLedgerChange() {
        ledger.consume(through: ledger.knownThrough)
    }

    /// Collects the held counters of `s` in `from...through` (`seq` gives each one's number):
    /// counter by counter when the range is about as wide as the store, else only what is held,
    /// so a run of 2^32 counters costs what the store holds, not 2^32 lookups.
    mutating func collect(_ s: SenderId, from: UInt64, through: UInt64, seq: (UInt64) -> SequenceNumber?) {
        guard from <= through else { return }
        if through - from < UInt64(store.count) + 64 {
            for c in from...through { collect(MessageId(sender: s, counter: c), seq: seq(c)) }
        } else {
            for c in store.heldCounters(of: s, from: from, through: through) {
                collect(MessageId(sender: s, counter: c), seq: seq(c))
            }
        }
    }

    mutating func collect(_ id: MessageId, seq: SequenceNumber?) {
        guard let m = store.removeValue(forKey: id) else { return }
        bodies.free(m.body)
        if onDisk { forgetOnDisk(id) }
        reassembly.discard(id)
        output.events.append(.collected(id: id, seq: seq,
                                        checkpointSeq: seq == nil ? max(checkpointSeq, truncatedBehind) : checkpointSeq))
    }

    /// Checkpoint rule (claim 20): committed messages at or behind the checkpoint go.
    /// Collects behind the checkpoint that became eligible, then forgets what that allows.
    mutating func collectEligible() {
        collectBehindCheckpoint()
        forgetRetired()
    }

    mutating func collectBehindCheckpoint() {
        for s in senderOrder {
            // Destructured, so no second copy of the holdings (the tuple) keeps their arrays shared.
            guard case (let slot, var h)? = senders.moveOut(s) else { continue }
            let before = h.collectedThrough
            var dropRuns = 0
            // By index: a `for … in` iterator would hold a second reference to the array, and
            // the `removeFirst` below would then copy it (one allocation per collection round,
            // found by the performance gate).
            while dropRuns < h.commitRuns.count {
                let run = h.commitRuns[dropRuns]
                let lastSeq = run.seq + run.count - 1
                let through = min(lastSeq, collection.eligible.rawValue)
                guard through >= run.seq else { break }
                let counters = through - run.seq + 1
                collect(s, from: max(run.counter, h.collectedThrough + 1), through: run.counter + counters - 1) { c in
                    SequenceNumber(run.seq + (c - run.counter))
                }
                h.collectedThrough = max(h.collectedThrough, run.counter + counters - 1)
                if through == lastSeq { dropRuns += 1 } else { break }
            }
            h.commitRuns.removeFirst(dropRuns)
            let collectedNow = h.collectedThrough > before
            senders.moveIn(slot: slot, h)
            if onDisk, collectedNow { writeCollected(s, through: senders[s]!.collectedThrough) }
            advancePrefixes(s)
        }
    }

    /// Forgets the holdings of sender incarnations that can never matter here again, so the
    /// table and every loop over senders (reports, repair, collection) are bounded by the
    /// nodes that publish, not by every incarnation ever seen. Incarnation X of node N goes
    /// when this server holds nothing of it and nothing of it may still need reporting, and
    /// another incarnation Y of N:
    /// - has a message bound more than L after X's last binding this server saw. By S9, an
    ///   older Y's bindings lie within L of timestamps below X's bindings, so Y is the later
    ///   one, and X's process is gone (one incarnation of a node is alive at a time);
    /// - has its first binding seen here at least L behind the checkpoint. X's timestamps are
    ///   below it (X ended before Y published), so any late copy of X's bodies could only be
    ///   numbered behind the checkpoint: `store` drops it, and nothing of X needs holding.
    /// Checked when the checkpoint moves.
    mutating func forgetRetired() {
        let lifetime = config.lifetime
        let cp = checkpointSeq.rawValue
        guard senderOrder.count > 1, cp > lifetime else { return }
        // Every incarnation's first and last message binding seen, by node then first binding.
        var seen = retireScratch
        retireScratch = []  // so `seen` is the only reference, reused in place
        seen.removeAll(keepingCapacity: true)
        for s in senderOrder {
            if let b = bound[s], b.lastMessage > 0 { seen.append((s.node.rawValue, b.firstMessage, b.lastMessage)) }
        }
        seen.sort { ($0.node, $0.first) < ($1.node, $1.first) }
        var forgotten = 0
        for s in senderOrder {
            guard let b = bound[s], b.lastBound > 0, b.lastBound <= UInt64.max - lifetime else { continue }
            // Another incarnation of the node (its own message bindings are at or below its
            // last binding) proven later, and first bound at least L behind the checkpoint.
            var lo = 0
            var hi = seen.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if seen[mid].node < s.node.rawValue { lo = mid + 1 } else { hi = mid }
            }
            var later = false
            while lo < seen.count, seen[lo].node == s.node.rawValue, seen[lo].first <= cp - lifetime {
                if seen[lo].last > b.lastBound + lifetime { later = true }
                lo += 1
            }
            guard later, let h = senders[s] else { continue }
            // Nothing held, waiting, or still to report (an expired gap may yet end the stream).
            guard !h.dirty, h.commitRuns.isEmpty, !store.holdsAny(of: s),
                  !(onDisk && disk.awaitingBodies.holdsAny(of: s)),
                  h.endedAt != nil || h.highestStored <= h.committedThrough else { continue }
            senders.removeValue(forKey: s)
            bound.removeValue(forKey: s)
            retiredIncarnation[s.node.rawValue] = max(retiredIncarnation[s.node.rawValue] ?? 0, s.incarnation)
            forgotten += 1
        }
        if forgotten > 0 {
            let table = senders
            senderOrder.removeAll { table[$0] == nil }
            output.counters.incarnationsRetired &+= UInt64(forgotten)
        }
        retireScratch = seen
    }

    /// A peer collected these counters behind its checkpoint: they are committed, and need
    /// neither holding nor repair here any more.
    mutating func onCollectedByPeer(_ miss: FetchMiss, now: Instant) {
        if senders[miss.sender] == nil {
            senders[miss.sender] = SenderHoldings()
            senderOrder.append(miss.sender)
        }
        let heardNewer = miss.checkpointSeq > checkpointSeq
        if heardNewer { checkpointSeq = miss.checkpointSeq }
        // Collection behind a checkpoint this made eligible runs last: it may forget this sender.
        defer { if heardNewer, collection.heard(miss.checkpointSeq, now: now) { collectEligible() } }
        let h = senders[miss.sender]!
        // Only what this server has seen of the stream, so the loop is bounded by its store.
        let last = min(miss.firstCounter + UInt64(miss.count) - 1, h.knownThrough)
        guard last > h.collectedThrough else { return }
        collect(miss.sender, from: h.collectedThrough + 1, through: last) { h.seq(of: $0) }
        senders.update(miss.sender) {
            $0.collectedThrough = last
            $0.committedThrough = max(h.committedThrough, last)
        }
        if onDisk { writeCollected(miss.sender, through: last) }
        advancePrefixes(miss.sender)
    }

    /// Lifetime rule (claim 19), for never-committed messages only (protocol.md 4.11's safe
    /// combination): once every binding up to `logicalTs + L` is known and none is this
    /// message, nothing can number it any more.
    mutating func collectExpiredOrphans() {
        let known = ledger.knownThrough.rawValue
        guard known > config.lifetime else { return }
        for s in senderOrder {
            let h = senders[s]!
            guard h.highestStored > h.committedThrough else { continue }
            for c in (h.committedThrough + 1)...h.highestStored {
                let id = MessageId(sender: s, counter: c)
                if let m = store[id], m.logicalTs.rawValue.addingReportingOverflow(config.lifetime).partialValue < known,
                   m.logicalTs.rawValue < UInt64.max - config.lifetime {
                    if c < (senders[s]!.expired?.counter ?? .max) { senders[s]!.expired = (c, m.logicalTs) }
                    collect(id, seq: nil)
                }
            }
        }
    }

    // MARK: reports

    mutating func sendReports() {
        let perDatagram = DataReport.entriesMax(datagramBytes: config.datagramBytesMax)
        reportScratch.removeAll(keepingCapacity: true)
        for s in senderOrder where senders[s]!.dirty {
            senders.update(s) { $0.dirty = false }
            reportScratch.append(reportEntry(s))
            if reportScratch.count == perDatagram {
                sendReport()
                reportScratch.removeAll(keepingCapacity: true)
            }
        }
        if !reportScratch.isEmpty { sendReport() }
    }

    mutating func sendReport() {
        let entries = reportScratch
        let life = incarnation
        output.outbox.send(to: .node(config.sequencer(of: sequencerEpoch) ?? config.sequencer), header: header(.dataReport)) {
            w throws(EncodeError) in
            try DataReport.encode(entries, incarnation: life, into: &w)
        }
    }

    func reportEntry(_ s: SenderId) -> DataReport.Entry {
        let h = senders[s]!
        var pendingCounter: UInt64 = 0
        var pendingTs = SequenceNumber.zero
        let next = h.committedThrough + 1
        if h.committedThrough < h.heldThrough {
            if let m = store[MessageId(sender: s, counter: next)] {
                pendingCounter = next
                pendingTs = m.logicalTs
            } else if let e = h.expired, e.counter == next {
                // Deleted as expired, but its timestamp still bounds where the stream can end.
                pendingCounter = next
                pendingTs = e.logicalTs
            }
        }
        var aheadTs = SequenceNumber.zero
        if h.highestStored > h.heldThrough + 1 {
            // The lowest counter held beyond the gap; bounded scan.
            var c = h.heldThrough + 2
            while c <= h.highestStored, c < h.heldThrough + Self.aheadScanCountersMax {
                if let m = store[MessageId(sender: s, counter: c)] {
                    aheadTs = m.logicalTs
                    break
                }
                c += 1
            }
        }
        if let e = h.expired, e.counter > h.heldThrough + 1, aheadTs == .zero || e.logicalTs < aheadTs {
            aheadTs = e.logicalTs
        }
        return DataReport.Entry(sender: s, heldThrough: h.heldThrough, pendingCounter: pendingCounter,
                                pendingTs: pendingTs, aheadTs: aheadTs, committedThrough: h.committedThrough)
    }

    // MARK: repair

    /// Serves a NAK for bodies: consecutive stored counters with one timestamp share a reply
    /// datagram; what is missing is named in a fetch miss. Bounded per request.
    mutating func onMessageFetch(_ f: MessageFetch, from: PeerAddress) {
        output.counters.repairsServed &+= 1
        let writer = DataRunWriter(header: header(.messageReply, flags: Header.flagRepair),
                                   destination: .address(from), datagramBytes: config.datagramBytesMax)
        let last = f.firstCounter + UInt64(min(f.count, Self.fetchCountersMax)) - 1
        var c = f.firstCounter
        var budget = config.limits.repairDatagramsMax
        while c <= last, budget > 0 {
            guard let m = store[MessageId(sender: f.sender, counter: c)] else {
                var end = c
                while end < last, store[MessageId(sender: f.sender, counter: end + 1)] == nil { end += 1 }
                sendFetchMiss(f.sender, from: c, through: end, to: from)
                budget -= 1
                c = end + 1
                continue
            }
            var n = 1
            while c + UInt64(n) <= last, n < Int(Self.fetchCountersMax),
                  let next = store[MessageId(sender: f.sender, counter: c + UInt64(n))], next.logicalTs == m.logicalTs {
                n += 1
            }
            let first = c
            let sent = writer.send(
                outbox: &output.outbox, sender: f.sender, firstCounter: first, logicalTs: m.logicalTs, count: n,
                datagramsMax: budget,
                length: { bodies.byteCount(store[MessageId(sender: f.sender, counter: first + UInt64($0))]!.body) },
                write: { (i: Int, range: Range<Int>, w: inout WireWriter) throws(EncodeError) in
                    try bodies.write(store[MessageId(sender: f.sender, counter: first + UInt64(i))]!.body,
                                     range: range, into: &w)
                })
            budget -= max(sent.datagrams, 1)
            guard sent.bodies == n else { return }  // the outbox refused: the requester asks again
            c += UInt64(n)
        }
    }

    mutating func sendFetchMiss(_ sender: SenderId, from: UInt64, through: UInt64, to: PeerAddress) {
        let h = senders[sender]
        let collected = h.map { through <= $0.collectedThrough }
            ?? (retiredIncarnation[sender.node.rawValue].map { sender.incarnation <= $0 } ?? false)
        let miss = FetchMiss(sender: sender, firstCounter: from, count: UInt32(clamping: through - from + 1),
                             reason: collected ? .collected : .notHeld, checkpointSeq: checkpointSeq)
        output.outbox.send(to: .address(to), header: header(.fetchMiss)) { w throws(EncodeError) in
            try miss.encode(into: &w)
        }
    }

    /// Asks a peer data server (rotating) for counters this server knows exist but missed.
    mutating func fetchFromPeers(now: Instant) {
        guard config.dataServers.count > 1 else { return }
        for s in senderOrder {
            let h = senders[s]!
            guard h.repairedThrough < h.knownThrough, h.endedAt.map({ h.repairedThrough < $0 }) ?? true else { continue }
            guard let since = h.gapSince else {
                senders.update(s) { $0.gapSince = now }
                continue
            }
            guard now.since(since) >= config.timing.nakGrace else { continue }
            var end = h.repairedThrough + 1
            while end < h.knownThrough, end - h.repairedThrough < Self.peerFetchCountersMax,
                  store[MessageId(sender: s, counter: end + 1)] == nil { end += 1 }
            peerCursor += 1
            var peer = config.dataServers[peerCursor % config.dataServers.count]
            if peer == node { peerCursor += 1; peer = config.dataServers[peerCursor % config.dataServers.count] }
            let fetch = MessageFetch(sender: s, firstCounter: h.repairedThrough + 1,
                                     count: UInt32(end - h.repairedThrough))
            output.counters.fetchesSent &+= 1
            output.outbox.send(to: .node(peer), header: header(.messageFetch)) { w throws(EncodeError) in
                try fetch.encode(into: &w)
            }
        }
    }

    // MARK: helpers

    mutating func dropUnexpected() { output.counters.droppedUnexpectedKind &+= 1 }

    /// A newer epoch's sequencer was heard: report to it from now on, at once (it numbers
    /// nothing it has no reports for).
    mutating func followSequencer(_ epoch: Epoch) {
        guard epoch > sequencerEpoch else { return }
        let moved = sequencerEpoch != .none
        sequencerEpoch = epoch
        if moved { refreshAt = .zero }
    }

    func header(_ kind: MessageKind, flags: UInt16 = 0) -> Header {
        Header(kind: kind, flags: flags, groupId: config.groupId, fingerprint: config.fingerprint, epoch: Epoch(1),
               source: node)
    }
}

extension DataServer {
    /// A one-line account of what this server holds of `sender`, for failure reports.
    public func diagnosis(_ id: MessageId) -> String {
        guard let h = senders[id.sender] else { return "\(node): nothing of \(id.sender)" }
        return "\(node): \(id) \(store[id] != nil ? "stored" : "absent"), held through \(h.heldThrough), "
            + "repaired through \(h.repairedThrough), committed through \(h.committedThrough), "
            + "collected through \(h.collectedThrough), highest \(h.highestStored); ledger known through "
            + "\(ledger.knownThrough), announced \(ledger.announcedThrough), id queries \(output.counters.idQueriesSent)"
    }
}
