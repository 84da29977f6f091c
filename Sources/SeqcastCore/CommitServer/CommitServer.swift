import SeqcastWire

/// A commit server (claims 1, 7, 9): stores the sequencer's assignments durably, acknowledges
/// cumulatively only after its record is persisted, and answers id queries with bindings it
/// knows are committed (Part 1 §5), never with one it merely acknowledged.
///
/// Inputs: commit submits, commits and heartbeats (commit group), id queries; `persisted`.
/// Outputs: commit acks (to the sequencer), id replies (to the requester), storage records.
///
/// Owned by one thread. Invariants:
/// - `log` holds runs of `lowWater+1 ... appendedThrough` in order; a hole only where every
///   number in it was committed while this server was away;
/// - `storedThrough <= appendedThrough`; an ack never names more than `storedThrough` (S5);
/// - an id reply never names a number above `min(committedThrough, storedThrough)`.
public struct CommitServer: ProtocolRole {
    public let config: GroupConfig
    public let node: NodeId
    public private(set) var epoch = Epoch(1)
    public private(set) var lowWater = SequenceNumber.zero
    public private(set) var appendedThrough = SequenceNumber.zero
    public private(set) var storedThrough = SequenceNumber.zero
    /// The first number a submit bound differently from this server's log (an alarm: acks
    /// stay below it for good, and the runtime says so in the log).
    public private(set) var conflictAt: SequenceNumber?
    /// Highest number known committed (commits, heartbeats, submits' frontier).
    public private(set) var committedThrough = SequenceNumber.zero
    public var output: RoleOutput
    var log = RunQueue(capacity: 4096)
    var writes: [(ticket: WriteTicket, through: SequenceNumber)] = []
    var runScratch: [SequenceRun] = []
    /// A low-water record being made durable; its truncation waits for it.
    var truncation: (ticket: WriteTicket, through: SequenceNumber)?

    public init(config: GroupConfig, node: NodeId, recovering records: [[UInt8]] = [], now: Instant) {
        precondition((try? config.validate()) != nil, "invalid group configuration")
        self.config = config
        self.node = node
        output = RoleOutput(config: config)
        writes.reserveCapacity(64)
        recover(records)
    }

    public var nextDeadline: Instant? { nil }

    public mutating func receive(_ bytes: UnsafeRawBufferPointer, from: PeerAddress, now: Instant) {
        guard let d = output.decode(bytes, groupId: config.groupId, fingerprint: config.fingerprint) else { return }
        switch d.message {
        case .commitSubmit(let batch):
            guard d.header.source == config.sequencer else { return dropUnexpected() }
            onCommitSubmit(batch, epoch: d.header.epoch)
        case .commit(let batch):
            guard d.header.source == config.sequencer, d.header.epoch == epoch else { return dropUnexpected() }
            learnCommitted(batch.committedThrough)
        case .heartbeat(let hb):
            guard d.header.source == config.sequencer, d.header.epoch == epoch else { return dropUnexpected() }
            learnCommitted(hb.committedThrough)
            truncate(behind: hb.checkpointSeq)
        case .idQuery(let q):
            onIdQuery(q, from: from)
        default:
            dropUnexpected()
        }
    }

    public mutating func tick(now: Instant) {}

    public mutating func persisted(_ ticket: WriteTicket, now: Instant) {
        var through = storedThrough
        while let w = writes.first, w.ticket <= ticket {
            through = w.through
            writes.removeFirst()
        }
        if let t = truncation, t.ticket <= ticket {
            truncation = nil
            output.storage.truncate(through: t.through.rawValue)
        }
        guard through > storedThrough else { return }
        storedThrough = through
        sendAck()
    }

    // MARK: handlers

    mutating func onCommitSubmit(_ batch: RunBatch, epoch: Epoch) {
        guard epoch >= self.epoch else {
            output.counters.droppedStaleEpoch &+= 1
            return
        }
        let before = appendedThrough
        for run in batch.runs {
            if run.lastSeq <= appendedThrough {
                checkConsistent(run)
                continue
            }
            // A run that continues the log is taken. A gap is taken only where everything
            // before the run is already committed (this server was down while Q others stored
            // those numbers); otherwise it waits for the retransmission.
            guard run.firstSeq <= appendedThrough.next
                || SequenceNumber(run.firstSeq.rawValue - 1) <= max(batch.committedThrough, committedThrough)
            else { break }
            if run.firstSeq <= appendedThrough { checkConsistent(run.slice(from: run.firstSeq, through: appendedThrough)) }
            log.append(run.firstSeq > appendedThrough ? run : run.slice(from: appendedThrough.next, through: run.lastSeq))
            appendedThrough = run.lastSeq
        }
        learnCommitted(batch.committedThrough)
        if appendedThrough > before {
            writeRecord(from: before.next)
        } else if storedThrough > .zero, writes.isEmpty {
            // A retransmitted submit: the earlier ack may have been lost.
            sendAck()
        }
    }

    mutating func checkConsistent(_ run: SequenceRun) {
        // The same number bound differently (a sequencer bug, protocol.md 4.4-2, or a restart
        // from a copied or stale folder): refuse it, count the alarm, and never again ack
        // through the conflict: an ack there would let the sequencer credit a binding this
        // server does not hold and commit a number twice.
        guard run.firstSeq > lowWater else { return }
        var conflict: SequenceNumber?
        log.forEachSlice(from: run.firstSeq, through: run.lastSeq) { held in
            if held != run.slice(from: held.firstSeq, through: held.lastSeq) { conflict = held.firstSeq }
            return conflict == nil
        }
        guard let at = conflict else { return }
        output.counters.droppedInconsistent &+= 1
        conflictAt = min(conflictAt ?? at, at)
    }

    mutating func learnCommitted(_ seq: SequenceNumber) {
        if seq > committedThrough { committedThrough = seq }
    }

    mutating func onIdQuery(_ q: IdQuery, from: PeerAddress) {
        output.counters.repairsServed &+= 1
        let answerable = min(committedThrough, storedThrough)
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
        // The low water is recorded (under the newest key, so it survives) before older records
        // go: a restart must tell "truncated behind a checkpoint" from a hole it never stored.
        output.storage.begin(key: storedThrough.rawValue)
        output.storage.put(AssignmentRecord.tagLowWater)
        output.storage.put(through.rawValue)
        truncation = (output.storage.close(), through)
    }

    // MARK: helpers

    mutating func dropUnexpected() { output.counters.droppedUnexpectedKind &+= 1 }

    func header(_ kind: MessageKind) -> Header {
        Header(kind: kind, groupId: config.groupId, fingerprint: config.fingerprint, epoch: epoch, source: node)
    }

    mutating func sendAck() {
        // Below a conflict only (see `checkConsistent`).
        let through = conflictAt.map { min(storedThrough, SequenceNumber($0.rawValue - 1)) } ?? storedThrough
        let ack = CommitAck(storedThrough: through)
        output.outbox.send(to: .node(config.sequencer), header: header(.commitAck)) { w throws(EncodeError) in
            try ack.encode(into: &w)
        }
    }

    mutating func writeRecord(from: SequenceNumber) {
        let ticket = AssignmentRecord.write(log, from: from, through: appendedThrough, into: &output.storage)
        writes.append((ticket, appendedThrough))
    }

    mutating func recover(_ records: [[UInt8]]) {
        for bytes in records {
            var r = RecordReader(bytes)
            if r.next() == AssignmentRecord.tagLowWater, let through = r.next() {
                lowWater = max(lowWater, SequenceNumber(through))
                continue
            }
            // A torn or unknown record ends recovery at the last whole one.
            guard let runs = AssignmentRecord.runs(in: bytes) else { break }
            for run in runs where run.lastSeq > appendedThrough {
                log.append(run.firstSeq > appendedThrough ? run : run.slice(from: appendedThrough.next, through: run.lastSeq))
                appendedThrough = run.lastSeq
            }
        }
        storedThrough = appendedThrough
        log.removeThrough(lowWater)
    }
}

extension CommitServer {
    /// A one-line account of this server's log around `seq`, for failure reports.
    public func diagnosis(_ seq: SequenceNumber) -> String {
        "\(node): low water \(lowWater), stored \(storedThrough), committed \(committedThrough), "
            + "holds \(seq): \(log.run(containing: seq).map { "\($0)" } ?? "no")"
    }
}
