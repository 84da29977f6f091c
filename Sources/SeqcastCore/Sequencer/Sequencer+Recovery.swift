import SeqcastWire

/// Every start of a sequencer runs recovery (protocol.md Part 2 §5.3, decisions in
/// `../shared/spec/protocol.md` and STORAGE.md):
/// 1. its own log is read back (`recover`): numbers it persisted, its sender table, the highest
///    epoch it ever used;
/// 2. a new epoch (the next round, with this candidate's index) is made durable before use;
/// 3. every commit server is sealed: it promises the epoch durably, refuses lower epochs from
///    then on, and lists what it holds above its low water with the epoch that wrote each part;
/// 4. once a majority has answered in full, the merge takes, for every number above the
///    highest low water M, the binding of the highest epoch; a number nobody in the majority
///    holds becomes a no-op (it was never committed: every commit quorum meets the majority),
///    unless this sequencer's own log shows it committed (commit servers that lost their
///    storage); numbering resumes above every number seen, its own included;
/// 5. the merge is proposed again in the new epoch through the normal submit/ack path; the new
///    epoch heartbeats from the start (its frontier is committed and only rises within it, S10).
/// A lost log is refused before this (`seqcast run`), since the sender table that dense FIFO
/// numbering needs lives in it.
extension Sequencer {
    enum Phase {
        /// Following another candidate: nothing numbered, its commits noted, its heartbeats
        /// watched (`suspectAt`).
        case standby
        /// The epoch record is being made durable.
        case starting(WriteTicket)
        /// Seals are out; waiting for a majority of complete answers.
        case sealing
        case active
    }

    /// What the start learned from its own log, and the seal's answers as they come.
    struct Recovery {
        var lastEpoch = Epoch.none
        /// Runs this sequencer persisted and kept (later records of higher epochs rebind).
        var own = RunQueue(capacity: 256)
        var ownCommitted = SequenceNumber.zero
        var ownLast = SequenceNumber.zero
        /// The sender table of the last truncation: counters as of its committed frontier.
        var table: [SenderId: (next: UInt64, ended: Bool)] = [:]
        var seals: [SealProgress] = []
        /// This start's seal nonce (see `Seal`).
        var nonce: UInt64 = 0
        /// Whether the sender table may miss numbering below the low water: this start or an
        /// earlier life of this node began without its log (kept in the epoch and table records).
        var tableInexact = false
        /// The first number the sender table does not cover (1 without a table).
        var tableNext = SequenceNumber(1)
        /// Seals lost to a higher epoch, takeovers started as a standby, step-downs.
        var sealsLost = 0
        var takeovers = 0
        var stepDowns = 0
    }

    /// One commit server's answer to the seal, page by page.
    struct SealProgress {
        var nextFrom = SequenceNumber(1)
        var done = false
        var lowWater = SequenceNumber.zero
        var committed = SequenceNumber.zero
        var held: [(epoch: Epoch, run: SequenceRun)] = []
    }

    // MARK: own log

    mutating func recover(_ records: [[UInt8]]) {
        var r0 = Recovery()
        var next = SequenceNumber(1)
        var tableNext = SequenceNumber(1)
        for bytes in records {
            var r = RecordReader(bytes)
            switch r.next() {
            case AssignmentRecord.tagRuns?, AssignmentRecord.tagEpochRuns?:
                guard let (e, runs) = AssignmentRecord.epochRuns(in: bytes) else { break }
                r0.lastEpoch = max(r0.lastEpoch, e)
                for run in runs {
                    // A later record rebinds what it covers (a recovery's merge proposed again).
                    if run.firstSeq < next { r0.own.removeFrom(run.firstSeq) }
                    r0.own.append(run)
                    next = run.lastSeq.next
                }
                continue
            case AssignmentRecord.tagEpoch?:
                if let e = r.next().flatMap(Epoch.init(checked:)) { r0.lastEpoch = max(r0.lastEpoch, e) }
                _ = r.next()  // the nonce
                if r.next() == AssignmentRecord.flagTableInexact { r0.tableInexact = true }
                continue
            case AssignmentRecord.tagSenders?:
                guard let n0 = r.next(), n0 < 1 << 63, let n = r.next(), n <= UInt64(bytes.count / 24) else { break }
                tableNext = max(tableNext, SequenceNumber(n0))
                for _ in 0..<n {
                    guard let id = r.next(), let counter = r.next(), let ended = r.next() else { break }
                    let old = r0.table[SenderId(rawValue: id)] ?? (1, false)
                    r0.table[SenderId(rawValue: id)] = (max(old.next, counter), old.ended || ended == 1)
                }
                if let e = r.next().flatMap(Epoch.init(checked:)) { r0.lastEpoch = max(r0.lastEpoch, e) }
                if r.next() == AssignmentRecord.flagTableInexact { r0.tableInexact = true }
                continue
            default:
                break
            }
            break  // a torn or unknown record ends recovery at the last whole one
        }
        r0.ownLast = SequenceNumber(max(next, tableNext).rawValue - 1)
        // Started without records (a new node, or one whose log was lost), or any earlier life
        // that did: the table is not exact, now or later (it says so in every record after).
        r0.tableInexact = r0.tableInexact || records.isEmpty
        r0.tableNext = tableNext
        // Runs below the first surviving one were truncated behind a checkpoint: committed.
        r0.ownCommitted = r0.own.first.map { SequenceNumber($0.firstSeq.rawValue - 1) } ?? r0.ownLast
        recovery = r0
        committedThrough = r0.ownCommitted
        recordedThrough = r0.ownCommitted
        persistedThrough = r0.ownCommitted
        recoveredThrough = r0.ownLast
        nextSeq = r0.ownLast.next
    }

    // MARK: epoch and seal

    /// Phase 2 of a start: the next epoch of this candidate above `above`, durable before use.
    mutating func startEpoch(above: Epoch, now: Instant) {
        epoch = above.next(for: candidateIndex)
        // One nonce per start (a restarted process that lost its log must not pass for an
        // earlier life that used the same epoch): from this life's seed, the clock, this node
        // and the epoch.
        var prng = Prng(seed: startSeed ^ now.nanoseconds ^ UInt64(node.rawValue) << 40 ^ epoch.rawValue)
        recovery.nonce = prng.next() | 1
        recovery.seals = Array(repeating: SealProgress(), count: config.commitServers.count)
        sealRetransmitAt = nil
        phase = .starting(AssignmentRecord.writeEpoch(epoch, nonce: recovery.nonce, key: recovery.ownLast,
                                                      tableInexact: recovery.tableInexact, into: &output.storage))
    }

    /// The nonce of this start's seal (tests and rigs answer seals with it).
    public var sealNonce: UInt64 { recovery.nonce }

    /// Where this candidate stands, for failure reports.
    public var phaseDescription: String {
        switch phase {
        case .standby: "standby (suspects at \(suspectAt.map { "\($0)" } ?? "-"), highest epoch \(recovery.lastEpoch))"
        case .starting: "starting \(epoch)"
        case .sealing: "sealing \(epoch): \(recovery.seals.map { $0.done ? "done" : "from \($0.nextFrom)" })"
        case .active: "active \(epoch)"
        }
    }
    /// Takeovers this candidate started as a standby, and times it stepped down.
    public var takeovers: Int { recovery.takeovers }
    public var stepDowns: Int { recovery.stepDowns }
    /// Starts whose seal lost to a higher epoch.
    public var sealsLost: Int { recovery.sealsLost }

    /// Whether the start's recovery is done and the sequencer numbers, commits and heartbeats.
    public var isActive: Bool {
        if case .active = phase { return true }
        return false
    }

    /// This node's index among the sequencer candidates (the low bits of its epochs).
    var candidateIndex: UInt16 { UInt16(config.candidateIndex(node) ?? 0) }

    mutating func beginSeal(now: Instant) {
        phase = .sealing
        for server in config.commitServers.indices { sendSeal(to: server) }
        sealRetransmitAt = now + config.timing.submitRetransmit
    }

    mutating func sendSeal(to server: Int) {
        let seal = Seal(fromSeq: recovery.seals[server].nextFrom, nonce: recovery.nonce)
        output.outbox.send(to: .node(config.commitServers[server]), header: header(.seal)) { w throws(EncodeError) in
            try seal.encode(into: &w)
        }
    }

    mutating func retransmitSeals(now: Instant) {
        guard case .sealing = phase else {
            sealRetransmitAt = nil
            return
        }
        for server in config.commitServers.indices where !recovery.seals[server].done {
            output.counters.retransmissions &+= 1
            sendSeal(to: server)
        }
        sealRetransmitAt = now + config.timing.submitRetransmit
    }

    mutating func onSealReply(_ reply: SealReply, server: Int, epoch e: Epoch, now: Instant) {
        if e > epoch || (e == epoch && reply.nonce != recovery.nonce) {
            // A commit server promised a higher epoch: this start lost. Fencing, not timing,
            // keeps the order: with other candidates the winner goes on and this one follows
            // it; alone, the higher epoch is an earlier life of this one, and it starts above.
            guard case .sealing = phase else { return }
            recovery.sealsLost += 1
            if config.candidates.count > 1, config.sequencer(of: e) != node { return deposed(by: e, now: now) }
            startEpoch(above: e, now: now)
            return
        }
        guard e == epoch, case .sealing = phase, !recovery.seals[server].done else {
            output.counters.droppedStaleEpoch &+= 1
            return
        }
        var p = recovery.seals[server]
        // A page older than the one asked for (a duplicate) is not taken again; an empty last
        // page (nothing stored) speaks for nothing and still ends the seal.
        guard reply.pageThrough >= p.nextFrom || reply.pageThrough >= reply.storedThrough else { return }
        p.lowWater = max(p.lowWater, reply.lowWater)
        p.committed = max(p.committed, reply.batch.committedThrough)
        for run in reply.batch.runs where run.lastSeq >= p.nextFrom {
            p.held.append((reply.runsEpoch, run.firstSeq >= p.nextFrom ? run : run.slice(from: p.nextFrom, through: run.lastSeq)))
        }
        p.nextFrom = max(p.nextFrom, reply.pageThrough.next)
        p.done = reply.pageThrough >= reply.storedThrough
        recovery.seals[server] = p
        if !p.done { return sendSeal(to: server) }
        let majority = config.commitServers.count / 2 + 1
        if recovery.seals.lazy.filter(\.done).count >= majority { finishRecovery() }
    }

    // MARK: merge and re-proposal

    mutating func finishRecovery() {
        let answered = recovery.seals.filter(\.done)
        let m = answered.map(\.lowWater).max() ?? .zero
        let floor = max(recovery.ownCommitted, answered.map(\.committed).max() ?? .zero)
        let merged = EpochMerge(answered.flatMap(\.held), above: m)
        let through = max(merged.highest, recovery.ownLast, m)
        var queue = RunQueue(capacity: 1024)
        merged.merge(above: m, through: through) { run in queue.append(run) } hole: { first, last in
            // No majority member holds these numbers: never committed, unless this sequencer's
            // own log shows them at or below a known committed frontier (commit servers that
            // lost their storage): then its own binding stands.
            var q = first
            while q <= last {
                if q <= floor, config.candidates.count == 1, let own = recovery.own.run(containing: q) {
                    let piece = own.slice(from: q, through: min(own.lastSeq, last))
                    queue.append(piece)
                    q = piece.lastSeq.next
                } else {
                    let end = q <= floor ? min(last, floor, SequenceNumber((recovery.own.firstSeq(after: q)?.rawValue ?? UInt64.max) &- 1)) : last
                    queue.append(SequenceRun(firstSeq: q, count: UInt32(end.rawValue - q.rawValue + 1), content: .noop))
                    q = end.next
                }
            }
        }
        rebuildSenders(below: m, merged: queue)
        if config.candidates.count == 1, !recovery.tableInexact { keepSendersDense(&queue, below: m) }
        assigned = queue
        committedThrough = m
        persistedThrough = m
        recordedThrough = m
        recoveredThrough = through
        nextSeq = through.next
        for i in ackedThrough.indices { ackedThrough[i] = m }
        writes.removeAll()
        phase = .active
        sealRetransmitAt = nil
        recovery.seals = []
        recovery.own = RunQueue(capacity: 0)
        suspectAt = nil
        sendHeartbeat()  // at once: standbys hear the new epoch before their detection runs out
        recordAssignments()
        for s in senders.keys.sorted() { assign(s, at: senders.index(forKey: s)!) }  // in one order, so a seed replays exactly
        for n in pendingIntervals { requestCheckpointInterval(n, now: .zero) }
        pendingIntervals.removeAll()
        recordAssignments()
    }

    /// A merge may keep an older epoch's runs of a sender after a newer epoch bound that
    /// sender's earlier counters to nothing (its re-proposal was interrupted): numbering them
    /// would skip counters (FIFO, L1). Such a run was never committed (commits are a prefix, and
    /// a committed run's predecessors are kept), so it becomes a no-op and its counters are
    /// numbered again. Only with an exact table as of `m` (a lone candidate with its log).
    mutating func keepSendersDense(_ queue: inout RunQueue, below m: SequenceNumber) {
        // The table is as of its own committed frontier (it may lie above m): runs at or below
        // it are committed and kept; the check starts after it.
        let tableNext = recovery.tableNext
        // The own log must reach back to the table's end, or its numbering in between is unknown.
        if m >= tableNext, let first = recovery.own.first, first.firstSeq > tableNext { return }
        if m >= tableNext, recovery.own.isEmpty { return }
        var next: [SenderId: UInt64] = recovery.table.mapValues(\.next)
        recovery.own.forEachSlice(from: tableNext, through: m) { run in
            if case .messages(let s, let c) = run.content { next[s] = max(next[s] ?? 1, c + UInt64(run.count)) }
            return true
        }
        var dense = RunQueue(capacity: queue.count)
        var changed = false
        for k in 0..<queue.count {
            let run = queue[k]
            if run.firstSeq < tableNext {
                // Committed (the table covers it, or it straddles the table's end): counted, kept.
                if case .messages(let s, let c) = run.content { next[s] = max(next[s] ?? 1, c + UInt64(run.count)) }
            } else if case .messages(let s, let c) = run.content {
                if c != next[s] ?? 1 {
                    dense.append(SequenceRun(firstSeq: run.firstSeq, count: run.count, content: .noop))
                    changed = true
                    continue
                }
                next[s] = c + UInt64(run.count)
            }
            dense.append(run)
        }
        guard changed else { return }
        queue = dense
        rebuildSenders(below: m, merged: queue)
    }

    /// Where each sender's numbering stands after the merge: the sender table, this
    /// sequencer's own runs at or below `m` (committed; only a lone candidate's log is sure to
    /// hold no other candidate's later rebinding of them), and the merged runs above it.
    mutating func rebuildSenders(below m: SequenceNumber, merged: RunQueue) {
        var table = recovery.table
        func note(_ run: SequenceRun) {
            switch run.content {
            case .messages(let s, let c):
                let old = table[s] ?? (1, false)
                table[s] = (max(old.next, c + UInt64(run.count)), old.ended)
            case .endOfStream(let s, _):
                table[s] = ((table[s] ?? (1, false)).next, true)
            case .noop, .checkpointInterval:
                break
            }
        }
        if config.candidates.count == 1 {
            recovery.own.forEachSlice(from: SequenceNumber(1), through: m) { note($0); return true }
        }
        merged.forEachSlice(from: m.next, through: SequenceNumber(UInt64.max - 1)) { note($0); return true }
        // Exactly this (a tally that numbered more in an earlier tenure is set back: what it
        // numbered above the merge was never committed and is numbered again).
        for id in senders.keys where table[id] == nil { senders[id]!.nextCounter = 1; senders[id]!.ended = false }
        for (id, t) in table {
            var tally = senders[id] ?? SenderTally()
            tally.nextCounter = t.next
            tally.ended = t.ended
            senders[id] = tally
        }
    }
}

/// The merge of a seal's answers (Part 2 §5.3-4): per number, the binding of the highest epoch
/// that any answering commit server holds.
struct EpochMerge {
    /// Per epoch, highest first: that epoch's runs, sorted, without overlap (servers that hold
    /// the same epoch's numbers hold the same bindings: one proposer per epoch).
    var levels: [(epoch: Epoch, runs: [SequenceRun])] = []
    var highest = SequenceNumber.zero

    init(_ held: [(epoch: Epoch, run: SequenceRun)], above m: SequenceNumber) {
        var byEpoch: [Epoch: [SequenceRun]] = [:]
        for (e, run) in held where run.lastSeq > m {
            byEpoch[e, default: []].append(run.firstSeq > m ? run : run.slice(from: m.next, through: run.lastSeq))
            highest = max(highest, run.lastSeq)
        }
        for e in byEpoch.keys.sorted(by: >) {
            var runs: [SequenceRun] = []
            for run in byEpoch[e]!.sorted(by: { $0.firstSeq < $1.firstSeq }) {
                if let last = runs.last, run.firstSeq <= last.lastSeq {
                    if run.lastSeq > last.lastSeq { runs.append(run.slice(from: last.lastSeq.next, through: run.lastSeq)) }
                } else {
                    runs.append(run)
                }
            }
            levels.append((e, runs))
        }
    }

    /// The run of `runs` covering `seq`, or the first starting after it.
    static func find(_ runs: [SequenceRun], _ seq: SequenceNumber) -> (covering: SequenceRun?, nextStart: SequenceNumber?) {
        var lo = 0, hi = runs.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if runs[mid].lastSeq < seq { lo = mid + 1 } else { hi = mid }
        }
        guard lo < runs.count else { return (nil, nil) }
        return runs[lo].firstSeq <= seq ? (runs[lo], nil) : (nil, runs[lo].firstSeq)
    }

    /// Calls `run` for every merged run of `m+1 ... through` in order, and `hole` for every
    /// stretch that no level covers.
    func merge(above m: SequenceNumber, through: SequenceNumber, run: (SequenceRun) -> Void,
               hole: (SequenceNumber, SequenceNumber) -> Void) {
        var p = m.next
        while p <= through {
            var limit = through
            var chosen: SequenceRun?
            for level in levels {
                let (covering, nextStart) = Self.find(level.runs, p)
                if let c = covering {
                    chosen = c.slice(from: p, through: min(c.lastSeq, limit))
                    break
                }
                // A higher epoch that starts later cuts what a lower one binds.
                if let n = nextStart, n <= limit { limit = SequenceNumber(n.rawValue - 1) }
            }
            if let c = chosen {
                run(c)
                p = c.lastSeq.next
            } else {
                hole(p, limit)
                p = limit.next
            }
        }
    }
}

/// Standbys (Part 2 §5.3-2): a candidate that is not active follows the active one and takes
/// over when it falls silent; an active one that learns of a newer epoch steps down.
extension Sequencer {
    /// This candidate's place in line after the active one (the last epoch heard names it):
    /// the next candidate in order waits the least, whichever one failed; at a group's first
    /// start the first candidate does.
    var rank: Int {
        let n = config.candidates.count
        let me = config.candidateIndex(node) ?? 0
        let active = recovery.lastEpoch == .none ? n - 1 : Int(recovery.lastEpoch.candidate) % n
        return (me - active - 1 + 2 * n) % n
    }

    mutating func becomeStandby(now: Instant) {
        phase = .standby
        sealRetransmitAt = nil
        suspectAt = now + suspectDelay
    }

    /// How long this standby waits for the active sequencer. Before any epoch was heard (a
    /// group's first start, when the first candidate's seal waits for commit servers still
    /// starting) each later candidate waits a whole detection time more, not one stagger.
    var suspectDelay: Nanoseconds {
        let t = config.timing
        let step = recovery.lastEpoch == .none ? t.sequencerSuspectAfter.value + t.standbyStagger.value : t.standbyStagger.value
        return Nanoseconds(t.sequencerSuspectAfter.value + step * UInt64(rank))
    }

    /// A heartbeat or commit of another candidate: a standby notes it (and, for a commit, how
    /// far each sender is numbered); anyone older than it steps down.
    mutating func heardSequencer(epoch e: Epoch, commit: RunBatch?, now: Instant) {
        if case .standby = phase {
            guard e >= recovery.lastEpoch else { return }
            recovery.lastEpoch = e
            if let batch = commit {
                recovery.ownCommitted = max(recovery.ownCommitted, batch.committedThrough)
                for run in batch.runs { noteCommitted(run) }
            }
            suspectAt = now + suspectDelay
            return
        }
        if e > epoch { deposed(by: e, now: now) } else { output.counters.droppedStaleEpoch &+= 1 }
    }

    /// What a commit it saw tells a standby about a sender's numbering (a lost commit is
    /// superseded by the sender's next one: FIFO numbering is dense).
    mutating func noteCommitted(_ run: SequenceRun) {
        switch run.content {
        case .messages(let s, let c):
            let old = recovery.table[s] ?? (1, false)
            recovery.table[s] = (max(old.next, c + UInt64(run.count)), old.ended)
        case .endOfStream(let s, _):
            recovery.table[s] = ((recovery.table[s] ?? (1, false)).next, true)
        case .noop, .checkpointInterval:
            break
        }
    }

    /// A planned hand-over (an operator's command): this standby starts its epoch now, without
    /// waiting for failure detection; its seal deposes the active one. False if not a standby.
    public mutating func takeOver(now: Instant) -> Bool {
        guard case .standby = phase else { return false }
        suspectActive(now: now)
        return true
    }

    /// No heartbeat from the active sequencer in time: start an epoch above every one seen.
    mutating func suspectActive(now: Instant) {
        suspectAt = nil
        guard case .standby = phase else { return }
        recovery.takeovers += 1
        startEpoch(above: max(recovery.lastEpoch, epoch), now: now)
    }

    /// A newer epoch exists (another candidate sealed a majority): stop numbering, keep what
    /// is known committed, and follow it.
    mutating func deposed(by e: Epoch, now: Instant) {
        if case .standby = phase { return }
        recovery.stepDowns += 1
        recovery.table = committedSenderTable()
        recovery.lastEpoch = max(recovery.lastEpoch, e, epoch)
        recovery.ownCommitted = committedThrough
        recovery.ownLast = max(recovery.ownLast, SequenceNumber(nextSeq.rawValue - 1))
        recovery.own = RunQueue(capacity: 0)
        recovery.seals = []
        assigned = RunQueue(capacity: 1024)
        writes.removeAll()
        snapshotWrite = nil
        retransmitAt = nil
        becomeStandby(now: now)
    }
}
