import SeqcastWire

/// A commit server (claims 1, 7, 9), and an acceptor of the sequencer's epochs (protocol.md
/// Part 2 §5.3): stores the sequencer's assignments durably, acknowledges cumulatively only
/// after its record is persisted, promises an epoch to a sealing sequencer (durably, refusing
/// lower epochs from then on) and lists what it holds with the epoch that wrote it; answers id
/// queries with bindings it knows are committed (Part 1 §5), never with one it merely
/// acknowledged.
///
/// Inputs: commit submits, seals, commits and heartbeats (commit group), id queries;
/// `persisted`. Outputs: commit acks (to the sequencer), seal replies, id replies (to the
/// requester), storage records.
///
/// Owned by one thread. Invariants:
/// - `log` holds runs of `lowWater+1 ... appendedThrough` in order; a hole only where every
///   number in it was committed while this server was away;
/// - `marks` split the log into stretches by the epoch that wrote each: a submit of a higher
///   epoch rebinds exactly the numbers it covers, and keeps every other one (an interrupted
///   re-proposal must not lose what it did not reach);
/// - `storedThrough <= appendedThrough`; an ack never names more than `storedThrough` (S5),
///   nor, in an epoch, a number above that epoch's floor held from an older epoch;
/// - an id reply never names a number that the epoch that wrote it has not committed (S5b).
public struct CommitServer: ProtocolRole {
    /// Where a stretch of the log written by one epoch begins (it ends where the next begins).
    struct EpochMark {
        var from: SequenceNumber
        var epoch: Epoch
    }

    public let config: GroupConfig
    public let node: NodeId
    /// The epoch promised (and acked in): submits of lower epochs are refused.
    public private(set) var epoch = Epoch.none
    public private(set) var lowWater = SequenceNumber.zero
    public private(set) var appendedThrough = SequenceNumber.zero
    public private(set) var storedThrough = SequenceNumber.zero
    /// The first number a submit bound differently from this server's log in the same epoch (an
    /// alarm: acks stay below it for good, and the runtime says so in the log).
    public private(set) var conflictAt: SequenceNumber?
    /// Highest number known committed (commits, heartbeats, submits' frontier, of any epoch).
    public private(set) var committedThrough = SequenceNumber.zero
    /// Highest number the promised epoch's sequencer said is committed: numbers at or below it
    /// need no ack in this epoch.
    var epochFloor = SequenceNumber.zero
    public var output: RoleOutput
    var log = RunQueue(capacity: 4096)
    var marks: [EpochMark] = []
    /// Per epoch in the log, the committed frontier its own sequencer announced (only it can
    /// vouch for what it wrote).
    var frontiers: [Epoch: SequenceNumber] = [:]
    /// What this input wrote, for its one record (exactly that: a record's epoch labels what
    /// it lists): the runs it rebound, and where its appends began.
    var rebound: [SequenceRun] = []
    var appendedFrom: SequenceNumber?
    var writes: [(ticket: WriteTicket, through: SequenceNumber)] = []
    var runScratch: [SequenceRun] = []
    /// A low-water record being made durable; its truncation waits for it.
    var truncation: (ticket: WriteTicket, through: SequenceNumber)?
    /// The checkpoint the log may be truncated behind: the newest heard a grace time ago, so a
    /// member repairing a loss just behind a new checkpoint still gets its ids.
    var truncationGrace: CollectionGrace
    /// A promise being made durable: no ack and no seal reply leaves before it is.
    var promiseWrite: WriteTicket?
    /// The seal to answer once the promise is durable: who asked, from which number.
    var sealAsked: (source: NodeId, fromSeq: SequenceNumber)?
    /// The nonce of the start the promise was made to (0: promised through a submit, whose
    /// start is unknown; the first seal of that epoch names it).
    var promiseNonce: UInt64 = 0

    public init(config: GroupConfig, node: NodeId, recovering records: [[UInt8]] = [], now: Instant) {
        precondition((try? config.validate()) != nil, "invalid group configuration")
        self.config = config
        self.node = node
        output = RoleOutput(config: config)
        truncationGrace = CollectionGrace(grace: config.timing.collectionGrace)
        writes.reserveCapacity(64)
        recover(records)
    }

    /// When a checkpoint heard waits out its grace (`CollectionGrace`) before truncation.
    public var nextDeadline: Instant? { truncationGrace.deadline }

    public mutating func receive(_ bytes: UnsafeRawBufferPointer, from: PeerAddress, now: Instant) {
        guard let d = output.decode(bytes, groupId: config.groupId, fingerprint: config.fingerprint) else { return }
        switch d.message {
        // Only the candidate an epoch names may speak in it.
        case .commitSubmit(let batch):
            guard d.header.source == config.sequencer(of: d.header.epoch) else { return dropUnexpected() }
            onCommitSubmit(batch, epoch: d.header.epoch, source: d.header.source)
        case .seal(let seal):
            guard d.header.source == config.sequencer(of: d.header.epoch) else { return dropUnexpected() }
            onSeal(seal, epoch: d.header.epoch, source: d.header.source)
        case .commit(let batch):
            // A late commit of an older epoch is still true: it was sent after Q acks, and every
            // later seal majority kept its bindings (Part 2 §5.3-10).
            guard d.header.source == config.sequencer(of: d.header.epoch) else { return dropUnexpected() }
            learnCommitted(batch.committedThrough, epoch: d.header.epoch)
        case .heartbeat(let hb):
            guard d.header.source == config.sequencer(of: d.header.epoch) else { return dropUnexpected() }
            learnCommitted(hb.committedThrough, epoch: d.header.epoch)
            truncationGrace.heard(hb.checkpointSeq, now: now)
            _ = truncationGrace.advance(now: now)
            truncate(behind: truncationGrace.eligible)
        case .idQuery(let q):
            onIdQuery(q, from: from)
        default:
            dropUnexpected()
        }
    }

    public mutating func tick(now: Instant) {
        if truncationGrace.advance(now: now) { truncate(behind: truncationGrace.eligible) }
    }

    public mutating func persisted(_ ticket: WriteTicket, now: Instant) {
        var through = storedThrough
        while let w = writes.first, w.ticket <= ticket {
            through = max(through, w.through)
            writes.removeFirst()
        }
        if let t = truncation, t.ticket <= ticket {
            truncation = nil
            output.storage.truncate(through: t.through.rawValue)
            // A checkpoint that became eligible while this truncation was under way goes now.
            truncate(behind: truncationGrace.eligible)
        }
        var promised = false
        if let p = promiseWrite, p <= ticket {
            promiseWrite = nil
            promised = true
        }
        let advanced = through > storedThrough
        if advanced { storedThrough = min(through, appendedThrough) }
        if promised, let asked = sealAsked {
            // The seal's answer says what an ack would; ack only what became durable besides.
            sealAsked = nil
            promised = false
            sendSealPage(from: asked.fromSeq, to: asked.source)
        }
        // A promise made by a submit that brought nothing new still owes that submit its ack.
        if promiseWrite == nil, advanced || (promised && writes.isEmpty) { sendAck() }
    }

    // MARK: handlers

    mutating func onCommitSubmit(_ batch: RunBatch, epoch e: Epoch, source: NodeId) {
        guard e >= epoch else {
            // A deposed sequencer: tell it (an ack of the promised epoch) so it steps down,
            // since the candidate it lost to may be gone and nobody else would.
            output.counters.droppedStaleEpoch &+= 1
            if promiseWrite == nil { sendAck(to: source) }
            return
        }
        if e > epoch { promise(e, nonce: 0) }  // a submit of a new epoch whose seal never reached this server
        learnCommitted(batch.committedThrough, epoch: e)
        rebound.removeAll(keepingCapacity: true)
        appendedFrom = nil
        for whole in batch.runs where whole.lastSeq > lowWater {
            if whole.firstSeq == appendedThrough.next, whole.firstSeq > lowWater {
                append(whole, epoch: e)  // the steady state: the run continues the log
                continue
            }
            let run = whole.firstSeq > lowWater ? whole : whole.slice(from: lowWater.next, through: whole.lastSeq)
            if run.firstSeq <= appendedThrough {
                let heldEnd = min(run.lastSeq, appendedThrough)
                // A run that binds this epoch's own numbers differently rebinds nothing (a rebind
                // must not paper over the alarm); what lies beyond the log is still appended.
                let conflicting = checkConsistent(run.slice(from: run.firstSeq, through: heldEnd), epoch: e)
                if !conflicting, olderEpochHeld(from: run.firstSeq, through: heldEnd, than: e) {
                    // Held from an older epoch, never committed by it as far as this epoch's
                    // sequencer knows: the newer proposal wins (Paxos' rule), for exactly the
                    // numbers it covers.
                    rebind(run, epoch: e)
                    continue
                }
                if run.lastSeq > appendedThrough {
                    append(run.slice(from: appendedThrough.next, through: run.lastSeq), epoch: e)
                }
                continue
            }
            // A run after a gap is taken only where everything before it is committed in this
            // epoch (this server was away while Q others stored those numbers in it); otherwise
            // it waits for the retransmission. An older epoch's frontier does not do: this
            // epoch proposes those numbers again above its floor (seed 2047935084).
            guard SequenceNumber(run.firstSeq.rawValue - 1) <= epochFloor else { break }
            append(run, epoch: e)
        }
        if !rebound.isEmpty || appendedFrom != nil {
            let ticket = AssignmentRecord.write(rebound: rebound, appended: appendedFrom.map { $0...appendedThrough }, of: log,
                                                epoch: epoch, into: &output.storage)
            writes.append((ticket, appendedThrough))
        } else if storedThrough > .zero, writes.isEmpty, promiseWrite == nil {
            // A retransmitted submit: the earlier ack may have been lost.
            sendAck()
        }
    }

    /// A sequencer starts epoch `e`: promise it (durably) unless a higher one was promised,
    /// then answer with a page of what this server holds.
    mutating func onSeal(_ seal: Seal, epoch e: Epoch, source: NodeId) {
        if e == epoch, promiseNonce == 0, promiseWrite == nil { promiseNonce = seal.nonce }
        if e < epoch || (e == epoch && seal.nonce != promiseNonce) {
            // Tell the loser which epoch (and start) it must beat; an empty page carries it. The
            // same epoch with another nonce is a start that reused a ballot (its log was lost).
            output.counters.droppedStaleEpoch &+= 1
            sendSealPage(from: SequenceNumber(UInt64.max), to: source)
            return
        }
        if e > epoch { promise(e, nonce: seal.nonce) }
        if promiseWrite != nil {
            sealAsked = (source, seal.fromSeq)
        } else {
            sendSealPage(from: seal.fromSeq, to: source)
        }
    }

    mutating func promise(_ e: Epoch, nonce: UInt64) {
        epoch = e
        promiseNonce = nonce
        epochFloor = .zero
        // Keyed above the low water: a truncation under way must not take it with it.
        promiseWrite = AssignmentRecord.writeEpoch(e, nonce: nonce, key: max(storedThrough, lowWater.next),
                                                   into: &output.storage)
    }

    @discardableResult
    mutating func checkConsistent(_ run: SequenceRun, epoch e: Epoch) -> Bool {
        // The same number bound differently within one epoch (a sequencer bug, protocol.md
        // 4.4-2, or a restart from a copied or stale folder): refuse it, count the alarm, and
        // never again ack through the conflict: an ack there would let the sequencer credit a
        // binding this server does not hold and commit a number twice. (An older epoch's
        // binding is no conflict: the newer one replaces it.)
        guard run.firstSeq > lowWater else { return false }
        var conflict: SequenceNumber?
        // Compared stretch by stretch: a held run may span two epochs' stretches (runs merge).
        for (i, m) in marks.enumerated() where m.epoch == e && conflict == nil {
            let from = max(m.from, run.firstSeq), through = min(end(ofMark: i), run.lastSeq)
            guard from <= through else { continue }
            log.forEachSlice(from: from, through: through) { held in
                if held != run.slice(from: held.firstSeq, through: held.lastSeq) { conflict = held.firstSeq }
                return conflict == nil
            }
        }
        guard let at = conflict else { return false }
        output.counters.droppedInconsistent &+= 1
        conflictAt = min(conflictAt ?? at, at)
        return true
    }

    mutating func learnCommitted(_ seq: SequenceNumber, epoch e: Epoch) {
        if seq > committedThrough { committedThrough = seq }
        if e == epoch, seq > epochFloor { epochFloor = seq }
        if let f = frontiers[e], seq > f { frontiers[e] = seq }
    }

    mutating func onIdQuery(_ q: IdQuery, from: PeerAddress) {
        output.counters.repairsServed &+= 1
        let answerable = answerableThrough
        let first = max(q.firstSeq, lowWater.next)
        let last = min(SequenceNumber(q.firstSeq.rawValue + UInt64(q.count) - 1), answerable)
        // IdReply carries 8 bytes more than a RunBatch: one run less than a batch's capacity.
        let perDatagram = RunBatch.runsMax(datagramBytes: config.datagramBytesMax) - 1
        runScratch.removeAll(keepingCapacity: true)
        log.forEachSlice(from: first, through: last) { run in
            runScratch.append(run)
            return runScratch.count < perDatagram
        }
        let lw = lowWater
        let runs = runScratch
        output.outbox.send(to: .address(from), header: header(.idReply)) { w throws(EncodeError) in
            try IdReply.encode(lowWater: lw, committedThrough: answerable, runs: runs, into: &w)
        }
    }

    /// Drops log entries at or behind the latest checkpoint (protocol.md 4.11), keeping the
    /// newest record so a restart knows how far it had stored.
    mutating func truncate(behind checkpoint: SequenceNumber) {
        let through = min(checkpoint, committedThrough, SequenceNumber(storedThrough.rawValue &- 1))
        guard storedThrough > .zero, through > lowWater, truncation == nil else { return }
        lowWater = through
        log.removeThrough(through)
        pruneMarks()
        // The low water is recorded (under the newest key, so it survives) before older records
        // go: a restart must tell "truncated behind a checkpoint" from a hole it never stored.
        // It carries the promise too, whose own record may be among those that go.
        output.storage.begin(key: storedThrough.rawValue)
        output.storage.put(AssignmentRecord.tagLowWater)
        output.storage.put(through.rawValue)
        output.storage.put(epoch.rawValue)
        output.storage.put(promiseNonce)
        truncation = (output.storage.close(), through)
    }

    // MARK: the log by epoch

    /// The epoch that wrote the held number `seq` (nil below the first mark).
    func epochAt(_ seq: SequenceNumber) -> Epoch? {
        var found: Epoch?
        for m in marks {
            if m.from > seq { break }
            found = m.epoch
        }
        return found
    }

    /// Where mark `i`'s stretch ends.
    func end(ofMark i: Int) -> SequenceNumber {
        i + 1 < marks.count ? SequenceNumber(marks[i + 1].from.rawValue - 1) : appendedThrough
    }

    /// Whether the log holds every number of `from...through` (no hole).
    func holdsAll(from: SequenceNumber, through: SequenceNumber) -> Bool {
        var n: UInt64 = 0
        log.forEachSlice(from: from, through: through) { n += UInt64($0.count); return true }
        return n == through.rawValue - from.rawValue + 1
    }

    /// Whether an epoch older than `e` wrote any held number of `from...through`.
    func olderEpochHeld(from: SequenceNumber, through: SequenceNumber, than e: Epoch) -> Bool {
        for (i, m) in marks.enumerated() where m.epoch < e && m.from <= through && end(ofMark: i) >= from { return true }
        return false
    }

    /// Labels `from...through` as written by `e`, keeping the labels on either side.
    mutating func label(from: SequenceNumber, through: SequenceNumber, epoch e: Epoch) {
        let after = through < appendedThrough ? epochAt(through.next) : nil
        marks.removeAll { $0.from >= from && $0.from <= through.next }
        let at = marks.firstIndex { $0.from > from } ?? marks.count
        marks.insert(EpochMark(from: from, epoch: e), at: at)
        if let a = after { marks.insert(EpochMark(from: through.next, epoch: a), at: at + 1) }
        // Neighbours of one epoch are one stretch.
        var k = 1
        while k < marks.count {
            if marks[k].epoch == marks[k - 1].epoch { marks.remove(at: k) } else { k += 1 }
        }
        if frontiers[e] == nil { frontiers[e] = e == epoch ? epochFloor : .zero }
    }

    @inline(__always) mutating func append(_ run: SequenceRun, epoch e: Epoch) {
        if marks.isEmpty || marks[marks.count - 1].epoch != e {
            marks.append(EpochMark(from: run.firstSeq, epoch: e))
            if frontiers[e] == nil { frontiers[e] = e == epoch ? epochFloor : .zero }
        }
        log.append(run)
        appendedThrough = run.lastSeq
        if appendedFrom == nil { appendedFrom = run.firstSeq }
    }

    /// Binds exactly `run`'s numbers anew in epoch `e` (they were an older epoch's); whatever
    /// else the log holds stays, durable or not.
    mutating func rebind(_ run: SequenceRun, epoch e: Epoch) {
        let last = SequenceNumber(run.firstSeq.rawValue - 1)
        log.remove(from: run.firstSeq, through: run.lastSeq)
        _ = log.insert(run)
        appendedThrough = max(appendedThrough, run.lastSeq)
        label(from: run.firstSeq, through: run.lastSeq, epoch: e)
        storedThrough = min(storedThrough, last)
        for i in writes.indices where writes[i].through > last { writes[i].through = last }
        rebound.append(run)
    }

    /// Drops marks of stretches wholly at or below the low water, and frontiers of epochs that
    /// no longer label anything.
    mutating func pruneMarks() {
        guard marks.count > 1, marks[1].from <= lowWater.next else { return }  // the usual truncation: nothing to do
        while marks.count > 1, marks[1].from <= lowWater.next { marks.removeFirst() }
        let live = Set(marks.map(\.epoch))
        for e in Array(frontiers.keys) where !live.contains(e) && e != epoch { frontiers[e] = nil }
    }

    /// The highest number this server may vouch for in the current epoch's acks: nothing above
    /// the epoch's floor that an older epoch wrote (Part 2 §5.3: an ack in a new epoch covers
    /// only entries re-proposed in it).
    var ackableThrough: SequenceNumber {
        var bound = storedThrough
        for (i, m) in marks.enumerated() where m.epoch < epoch && end(ofMark: i) > epochFloor {
            bound = min(bound, max(epochFloor, SequenceNumber(max(m.from, lowWater.next).rawValue - 1)))
            break
        }
        if let c = conflictAt { bound = min(bound, SequenceNumber(c.rawValue - 1)) }
        return bound
    }

    /// The highest number up to which every held binding is known committed by the epoch that
    /// wrote it (S5b: a binding an older epoch wrote and a newer one may have replaced is never
    /// answered).
    var answerableThrough: SequenceNumber {
        var through = lowWater
        for (i, m) in marks.enumerated() {
            let end = end(ofMark: i)
            guard end > lowWater else { continue }
            let f = frontiers[m.epoch] ?? .zero
            let known = m.epoch == epoch ? max(f, epochFloor) : f
            if known >= end {
                through = max(through, end)
                continue
            }
            through = max(through, min(known, end))
            break
        }
        return min(through, storedThrough, committedThrough)
    }

    // MARK: helpers

    mutating func dropUnexpected() { output.counters.droppedUnexpectedKind &+= 1 }

    func header(_ kind: MessageKind) -> Header {
        Header(kind: kind, groupId: config.groupId, fingerprint: config.fingerprint, epoch: epoch, source: node)
    }

    mutating func sendAck(to destination: NodeId? = nil) {
        let ack = CommitAck(storedThrough: ackableThrough)
        let to = destination ?? config.sequencer(of: epoch) ?? config.sequencer
        output.outbox.send(to: .node(to), header: header(.commitAck)) {
            w throws(EncodeError) in
            try ack.encode(into: &w)
        }
    }

    /// One page of durable holdings from `from`, all of one epoch (a page never spans two).
    mutating func sendSealPage(from: SequenceNumber, to source: NodeId) {
        let first = max(from, lowWater.next)
        var pageThrough = storedThrough
        var runsEpoch = epoch
        runScratch.removeAll(keepingCapacity: true)
        if first <= storedThrough, let i = marks.lastIndex(where: { $0.from <= first }) ?? (marks.isEmpty ? nil : 0) {
            runsEpoch = marks[i].epoch
            pageThrough = min(end(ofMark: i), storedThrough)
            let perDatagram = SealReply.runsMax(datagramBytes: config.datagramBytesMax)
            log.forEachSlice(from: first, through: pageThrough) { run in
                runScratch.append(run)
                return runScratch.count < perDatagram
            }
            if runScratch.count == perDatagram { pageThrough = runScratch[perDatagram - 1].lastSeq }
        }
        let lw = lowWater, stored = storedThrough, committed = committedThrough, page = pageThrough
        let runs = runScratch
        let e = runsEpoch, nonce = promiseNonce
        output.outbox.send(to: .node(source), header: header(.sealReply)) { w throws(EncodeError) in
            try SealReply.encode(lowWater: lw, storedThrough: stored, pageThrough: page, runsEpoch: e, nonce: nonce,
                                 committedThrough: committed, runs: runs, into: &w)
        }
    }

    mutating func recover(_ records: [[UInt8]]) {
        for bytes in records {
            var r = RecordReader(bytes)
            switch r.next() {
            case AssignmentRecord.tagLowWater?:
                // Numbers a group reaches stay far below 2^63; one beyond is damage (its `next`
                // overflowed: FuzzRecords).
                guard let through = r.next(), through < 1 << 63 else { continue }
                lowWater = max(lowWater, SequenceNumber(through))
                if let e = r.next().flatMap(Epoch.init(checked:)) { recoverPromise(e, nonce: r.next() ?? 0) }
                continue
            case AssignmentRecord.tagEpoch?:
                if let e = r.next().flatMap(Epoch.init(checked:)) { recoverPromise(e, nonce: r.next() ?? 0) }
                continue
            default:
                break
            }
            // A torn or unknown record ends recovery at the last whole one.
            guard let (e, runs) = AssignmentRecord.epochRuns(in: bytes) else { break }
            recoverPromise(e, nonce: 0)
            // Each record as it happened: an older epoch's numbers rebound, the rest appended.
            for run in runs {
                if run.firstSeq <= appendedThrough {
                    let heldEnd = min(run.lastSeq, appendedThrough)
                    // What the record lists is what was held then: rebinding it also refills a
                    // hole whose older record a truncation removed.
                    if olderEpochHeld(from: run.firstSeq, through: heldEnd, than: e) || !holdsAll(from: run.firstSeq, through: heldEnd) {
                        rebind(run, epoch: e)
                    } else if run.lastSeq > appendedThrough {
                        append(run.slice(from: appendedThrough.next, through: run.lastSeq), epoch: e)
                    }
                } else {
                    append(run, epoch: e)
                }
            }
        }
        rebound.removeAll()
        appendedFrom = nil
        storedThrough = appendedThrough
        log.removeThrough(lowWater)
        pruneMarks()
    }
}

extension CommitServer {
    /// A promise read back: the highest epoch wins, and its nonce with it (a runs record knows
    /// no nonce: it keeps the one already read for that epoch).
    mutating func recoverPromise(_ e: Epoch, nonce: UInt64) {
        if e > epoch {
            epoch = e
            promiseNonce = nonce
        } else if e == epoch, promiseNonce == 0 {
            promiseNonce = nonce
        }
    }

    /// A one-line account of this server's log around `seq`, for failure reports.
    public func diagnosis(_ seq: SequenceNumber) -> String {
        "\(node): epoch \(epoch), low water \(lowWater), stored \(storedThrough), committed \(committedThrough), "
            + "marks \(marks.map { "\($0.from)@\($0.epoch)/\(frontiers[$0.epoch] ?? .zero)" }), "
            + "holds \(seq): \(log.run(containing: seq).map { "\($0)" } ?? "no")"
    }
}
