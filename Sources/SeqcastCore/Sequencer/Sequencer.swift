import SeqcastWire

/// The sequencer (claims 1, 7, 21, 22): numbers what K data servers hold, persists the
/// assignment before any submit reveals it, commits after Q commit servers stored it, and
/// multicasts commits and heartbeats. It never sees a payload.
///
/// Inputs: data reports, commit acks, checkpoint reports; `persisted`; `tick`;
/// `requestCheckpointInterval`. Outputs: commit submits (unicast), commits and heartbeats
/// (commit group), storage records of assignment runs.
///
/// Owned by one thread. Invariants:
/// - `committedThrough <= persistedThrough <= recordedThrough < nextSeq`;
/// - `assigned` holds exactly the runs of `committedThrough+1 ..< nextSeq`, dense;
/// - nothing above `persistedThrough` has left in any datagram (S5).
public struct Sequencer: ProtocolRole {
    public let config: GroupConfig
    public let node: NodeId
    public internal(set) var epoch = Epoch(1)
    public internal(set) var nextSeq = SequenceNumber(1)
    /// Highest number placed in a storage record.
    public internal(set) var recordedThrough = SequenceNumber.zero
    /// Highest number whose record is durable.
    public internal(set) var persistedThrough = SequenceNumber.zero
    public internal(set) var committedThrough = SequenceNumber.zero
    /// After a restart, heartbeats wait until everything recovered is committed again, so the
    /// advertised frontier never falls (S10).
    public internal(set) var recoveredThrough = SequenceNumber.zero
    public internal(set) var checkpointSeq = SequenceNumber.zero
    public internal(set) var checkpointBytes: UInt64 = 0
    /// Each checkpoint server's latest report (number, bytes), by its index in the config.
    var checkpointReports: [(seq: SequenceNumber, bytes: UInt64)] = []
    public var output: RoleOutput

    var senders: [SenderId: SenderTally] = [:]
    var assigned = RunQueue(capacity: 1024)
    var writes: [(ticket: WriteTicket, through: SequenceNumber)] = []
    public internal(set) var ackedThrough: [SequenceNumber]
    var truncatedThrough = SequenceNumber.zero
    var snapshotWrite: (ticket: WriteTicket, through: SequenceNumber)?
    var heartbeatAt: Instant?
    var retransmitAt: Instant?
    var runScratch: [SequenceRun] = []
    var dataServerIncarnation: [UInt32]
    /// Where the start's recovery stands (`Sequencer+Recovery`): nothing is numbered, acked or
    /// checkpointed before it is `.active`.
    var phase = Phase.starting(WriteTicket(0))
    var recovery = Recovery()
    var sealRetransmitAt: Instant?
    /// A standby's failure detector: when it starts recovery unless it hears the active one.
    var suspectAt: Instant?
    var pendingIntervals: [UInt64] = []
    /// Mixed into every seal nonce of this life (see `init`).
    var startSeed: UInt64 = 0

    /// A fresh sequencer, or one restarted from the records its stable storage kept (claims
    /// 21-22). Every start runs recovery (protocol.md Part 2 §5.3-7, `Sequencer+Recovery`): a
    /// new epoch, durable before use, seals a majority of commit servers; what they hold is
    /// merged by highest epoch, holes become no-ops, and the merge is proposed again in the new
    /// epoch before anything new is numbered, above every number this sequencer ever persisted.
    /// `startSeed` makes this start's seal nonces unique among the node's lives: a process
    /// passes a random number; the default derives one from `now`.
    public init(config: GroupConfig, node: NodeId, recovering records: [[UInt8]] = [], now: Instant,
                startSeed: UInt64? = nil) {
        precondition((try? config.validate()) != nil, "invalid group configuration")
        self.config = config
        self.node = node
        output = RoleOutput(config: config)
        ackedThrough = Array(repeating: .zero, count: config.commitServers.count)
        dataServerIncarnation = Array(repeating: 0, count: config.dataServers.count)
        senders.reserveCapacity(1024)
        runScratch.reserveCapacity(RunBatch.runsMax(datagramBytes: config.datagramBytesMax))
        writes.reserveCapacity(64)
        recover(records)
        self.startSeed = startSeed ?? now.nanoseconds
        heartbeatAt = now
        if config.candidates.count == 1 {
            startEpoch(above: recovery.lastEpoch, now: now)
        } else {
            // With other candidates, every start listens first: a live active sequencer keeps
            // this one a standby (Part 2 §5.3-2).
            becomeStandby(now: now)
        }
    }

    public var nextDeadline: Instant? {
        earliest(earliest(earliest(heartbeatAt, retransmitAt), sealRetransmitAt), suspectAt)
    }

    // MARK: inputs

    public mutating func receive(_ bytes: UnsafeRawBufferPointer, from: PeerAddress, now: Instant) {
        guard let d = output.decode(bytes, groupId: config.groupId, fingerprint: config.fingerprint) else { return }
        switch d.message {
        case .dataReport(let report):
            guard let server = config.dataServerIndex(d.header.source) else { return dropUnexpected() }
            onDataReport(report, server: server)
        case .commitAck(let ack):
            guard let server = config.commitServerIndex(d.header.source) else { return dropUnexpected() }
            // A commit server promised a newer epoch: another candidate took over.
            if d.header.epoch > epoch, config.sequencer(of: d.header.epoch) != node { return deposed(by: d.header.epoch, now: now) }
            onCommitAck(ack, server: server, epoch: d.header.epoch)
        case .checkpointReport(let report):
            // Data servers delete what a checkpoint covers: only a configured checkpoint server
            // may announce one.
            guard let server = config.checkpointServers.firstIndex(of: d.header.source) else { return dropUnexpected() }
            onCheckpointReport(report, server: server)
        case .sealReply(let reply):
            guard let server = config.commitServerIndex(d.header.source) else { return dropUnexpected() }
            onSealReply(reply, server: server, epoch: d.header.epoch, now: now)
        case .heartbeat:
            guard d.header.source != node, d.header.source == config.sequencer(of: d.header.epoch) else {
                return dropUnexpected()
            }
            heardSequencer(epoch: d.header.epoch, commit: nil, now: now)
        case .commit(let batch):
            guard d.header.source != node, d.header.source == config.sequencer(of: d.header.epoch) else {
                return dropUnexpected()
            }
            heardSequencer(epoch: d.header.epoch, commit: batch, now: now)
        default:
            dropUnexpected()
        }
        recordAssignments()
    }

    public mutating func persisted(_ ticket: WriteTicket, now: Instant) {
        if case .starting(let t) = phase, t <= ticket { beginSeal(now: now) }
        var through = persistedThrough
        while let w = writes.first, w.ticket <= ticket {
            through = w.through
            writes.removeFirst()
        }
        if let s = snapshotWrite, s.ticket <= ticket {
            // The sender table is durable: records behind the checkpoint are no longer needed
            // to resume without reusing a number or renumbering a counter.
            snapshotWrite = nil
            truncatedThrough = s.through
            output.storage.truncate(through: s.through.rawValue)
        }
        guard through > persistedThrough else { return }
        let from = persistedThrough.next
        persistedThrough = through
        for server in config.commitServers.indices {
            sendSubmits(from: from, through: through, to: server, datagramsMax: Int.max)
        }
        if retransmitAt == nil { retransmitAt = now + config.timing.submitRetransmit }
    }

    public mutating func tick(now: Instant) {
        if let at = suspectAt, at <= now { suspectActive(now: now) }
        if let at = sealRetransmitAt, at <= now { retransmitSeals(now: now) }
        if let at = heartbeatAt, at <= now {
            // Also while the merge is proposed again: its frontier is true (committed) and only
            // rises within the epoch (S10), and a standby that hears nothing would suspect this
            // new sequencer too (failover-test once saw a second, needless take-over so).
            if case .active = phase { sendHeartbeat() }
            heartbeatAt = now + config.timing.heartbeatInterval
        }
        if let at = retransmitAt, at <= now {
            retransmitSubmits()
            retransmitAt = persistedThrough > committedThrough ? now + config.timing.submitRetransmit : nil
        }
    }

    /// Sequences a change of the checkpoint interval: every checkpoint server switches at the
    /// same number because the change is itself in the total order.
    public mutating func requestCheckpointInterval(_ interval: UInt64, now: Instant) {
        precondition(interval >= 1, "checkpoint interval must be positive")
        guard case .active = phase else {
            pendingIntervals.append(interval)  // sequenced once recovery is done
            return
        }
        assigned.append(SequenceRun(firstSeq: nextSeq, count: 1, content: .checkpointInterval(interval)))
        nextSeq = nextSeq.next
        recordAssignments()
    }

    // MARK: handlers

    mutating func onDataReport(_ report: DataReport, server: Int) {
        if report.incarnation != dataServerIncarnation[server] {
            // The server restarted with an empty memory store: what it reported before no longer
            // counts toward K. (A report from an older life arriving late is ignored.)
            guard report.incarnation > dataServerIncarnation[server] else { return }
            dataServerIncarnation[server] = report.incarnation
            for i in senders.values.indices { senders.values[i].forget(server: server) }
        }
        for entry in report.entries {
            // One hash lookup per entry, and the tally (about 280 bytes) updated where it lies:
            // a write through the key subscript moves the value out and back, and `seqcast
            // capacity`'s profile of a sequencer found those copies and the repeated hashing at
            // a quarter of its time.
            let i: [SenderId: SenderTally].Index
            if let found = senders.index(forKey: entry.sender) {
                i = found
            } else {
                senders[entry.sender] = SenderTally()
                i = senders.index(forKey: entry.sender)!
            }
            senders.values[i].update(server: server, entry: entry)
            assign(entry.sender, at: i)
        }
    }

    /// Numbers what the quorum holds of one sender's stream (its tally at `i`), in counter
    /// order, within the lifetime window; ends the stream when its next counter can never be
    /// numbered.
    mutating func assign(_ sender: SenderId, at i: [SenderId: SenderTally].Index) {
        guard case .active = phase else { return }
        // In place (a mutating call): a non-mutating one through `values[i]` copies the tally.
        guard let (c, quorum, bounds) = senders.values[i].nextNumbering(k: config.reportQuorum,
                                                                        servers: config.dataServers.count)
        else { return }
        if quorum >= c {
            let allowedThrough = bounds.lower &+ config.lifetime
            if nextSeq.rawValue <= allowedThrough {
                let n = min(quorum - c + 1, allowedThrough - nextSeq.rawValue + 1, UInt64(UInt32.max))
                assigned.append(SequenceRun(firstSeq: nextSeq, count: UInt32(n),
                                            content: .messages(sender: sender, firstCounter: c)))
                nextSeq = nextSeq.advanced(by: n)
                senders.values[i].nextCounter = c + n
                return
            }
        }
        if let upper = bounds.upper, nextSeq.rawValue > upper &+ config.lifetime {
            // Lifetime rule with FIFO (Part 1 §2): counter c can never be numbered within
            // L of its timestamp, so the stream ends before it, in the total order.
            assigned.append(SequenceRun(firstSeq: nextSeq, count: 1,
                                        content: .endOfStream(sender: sender, lastCounter: c - 1)))
            nextSeq = nextSeq.next
            senders.values[i].ended = true
        }
    }

    mutating func onCommitAck(_ ack: CommitAck, server: Int, epoch: Epoch) {
        guard case .active = phase else { return }
        guard epoch == self.epoch else {
            output.counters.droppedStaleEpoch &+= 1
            return
        }
        let stored = min(ack.storedThrough, persistedThrough)
        if stored > ackedThrough[server] { ackedThrough[server] = stored }
        advanceCommit()
    }

    /// Commits through the Q-th highest acknowledged number (S5: Q distinct servers stored it).
    mutating func advanceCommit() {
        let quorum = qthHighest(ackedThrough, q: config.commitQuorum)
        guard quorum > committedThrough else { return }
        precondition(quorum <= persistedThrough, "commit above the persisted frontier")
        let from = committedThrough.next
        committedThrough = quorum
        sendRuns(kind: .commit, from: from, through: quorum, to: .commitGroup, datagramsMax: Int.max)
        assigned.removeThrough(quorum)
    }

    /// The checkpoint every data server may collect behind is one that two checkpoint servers
    /// reported (one, if only one is configured): a single lost disk must not take the history
    /// that joiners need. The second-highest report: two servers hold that checkpoint or a newer
    /// one (checkpoints fall on the same multiples of N everywhere). The price: with exactly two
    /// checkpoint servers, one down stops garbage collection until it is back (stores fill,
    /// publishers see back-pressure); three survive the loss of one.
    mutating func onCheckpointReport(_ report: CheckpointReport, server: Int) {
        guard case .active = phase, report.terminalSeq <= committedThrough else { return }
        if checkpointReports.isEmpty {
            checkpointReports = Array(repeating: (.zero, 0), count: config.checkpointServers.count)
        }
        guard report.terminalSeq > checkpointReports[server].seq else { return }
        checkpointReports[server] = (report.terminalSeq, report.byteCount)
        let needed = min(2, checkpointReports.count)
        let agreed = checkpointReports.sorted { $0.seq > $1.seq }[needed - 1]
        guard agreed.seq > checkpointSeq else { return }
        checkpointSeq = agreed.seq
        checkpointBytes = agreed.bytes
        // At once, not at the next heartbeat: data servers collect behind it and publishers'
        // back-pressure (`collectionLagMax`) waits for it; 20 ms of a fast group is a fifth of
        // a default store.
        sendHeartbeat()
        // Truncate the log behind the checkpoint (Part 1 §8), keeping the newest record so a
        // restart still knows where numbering stands.
        if snapshotWrite == nil, checkpointSeq > truncatedThrough, persistedThrough > checkpointSeq {
            recordAssignments()
            snapshotWrite = (writeSenderTable(), checkpointSeq)
        }
    }

    // MARK: output helpers

    mutating func dropUnexpected() { output.counters.droppedUnexpectedKind &+= 1 }

    func header(_ kind: MessageKind) -> Header {
        Header(kind: kind, groupId: config.groupId, fingerprint: config.fingerprint, epoch: epoch, source: node)
    }

    /// Group commit: every assignment made while handling one input goes into one record.
    mutating func recordAssignments() {
        let through = SequenceNumber(nextSeq.rawValue - 1)
        guard case .active = phase, through > recordedThrough else { return }
        let ticket = AssignmentRecord.write(assigned, from: recordedThrough.next, through: through, epoch: epoch,
                                            into: &output.storage)
        writes.append((ticket, through))
        recordedThrough = through
    }

    /// Each sender's next counter and end as of the committed frontier (what is numbered above
    /// it is not counted).
    func committedSenderTable() -> [SenderId: (next: UInt64, ended: Bool)] {
        var table: [SenderId: (next: UInt64, ended: Bool)] = [:]
        for (id, t) in senders { table[id] = (t.nextCounter, t.ended) }
        assigned.forEachSlice(from: committedThrough.next, through: SequenceNumber(nextSeq.rawValue - 1)) { run in
            switch run.content {
            case .messages(let s, let c): table[s]!.next = min(table[s]!.next, c)
            case .endOfStream(let s, _): table[s]!.ended = false
            case .noop, .checkpointInterval: break
            }
            return true
        }
        return table
    }

    /// The sender table as of the committed frontier (what is numbered above it may still be
    /// replaced by a recovery's merge), with the epoch: the records it lets go may hold the
    /// only other copy of either.
    mutating func writeSenderTable() -> WriteTicket {
        let table = committedSenderTable()
        let ids = table.keys.sorted()
        output.storage.begin(key: recordedThrough.rawValue)
        output.storage.put(AssignmentRecord.tagSenders)
        output.storage.put(committedThrough.next.rawValue)
        output.storage.put(UInt64(ids.count))
        for id in ids {
            output.storage.put(id.rawValue)
            output.storage.put(table[id]!.next)
            output.storage.put(table[id]!.ended ? 1 : 0)
        }
        output.storage.put(epoch.rawValue)
        if recovery.tableInexact { output.storage.put(AssignmentRecord.flagTableInexact) }
        return output.storage.close()
    }

    mutating func sendSubmits(from: SequenceNumber, through: SequenceNumber, to server: Int, datagramsMax: Int) {
        sendRuns(kind: .commitSubmit, from: from, through: through, to: .node(config.commitServers[server]),
                 datagramsMax: datagramsMax)
    }

    /// Sends the held runs of `from...through` as `kind` datagrams, packed to the datagram size.
    mutating func sendRuns(kind: MessageKind, from: SequenceNumber, through: SequenceNumber,
                           to destination: Destination, datagramsMax: Int) {
        let perDatagram = RunBatch.runsMax(datagramBytes: config.datagramBytesMax)
        var cursor = from
        var sent = 0
        while cursor <= through, sent < datagramsMax {
            // A scratch array kept across calls: filling it allocates nothing in steady state.
            runScratch.removeAll(keepingCapacity: true)
            assigned.forEachSlice(from: cursor, through: through) { run in
                runScratch.append(run)
                return runScratch.count < perDatagram
            }
            precondition(!runScratch.isEmpty, "no held run covers \(cursor)")
            cursor = runScratch[runScratch.count - 1].lastSeq.next
            let committed = committedThrough
            let runs = runScratch
            let ok = output.outbox.send(to: destination, header: header(kind)) { w throws(EncodeError) in
                try RunBatch.encode(committedThrough: committed, runs: runs, into: &w)
            }
            if !ok { return }
            sent += 1
        }
    }

    mutating func retransmitSubmits() {
        for server in config.commitServers.indices where ackedThrough[server] < persistedThrough {
            output.counters.retransmissions &+= 1
            sendSubmits(from: max(ackedThrough[server], committedThrough).next, through: persistedThrough,
                        to: server, datagramsMax: config.limits.repairDatagramsMax)
        }
    }

    mutating func sendHeartbeat() {
        let hb = Heartbeat(committedThrough: committedThrough, checkpointSeq: checkpointSeq,
                           checkpointBytes: checkpointBytes)
        output.outbox.send(to: .commitGroup, header: header(.heartbeat)) { w throws(EncodeError) in
            try hb.encode(into: &w)
        }
    }
}

extension Sequencer {
    /// A one-line account of one sender's numbering, for failure reports.
    /// Sender incarnations in the sequencer's table (never forgotten: FAILOVER.md, "Not done yet").
    public var senderCount: Int { senders.count }

    public func diagnosis(_ sender: SenderId) -> String {
        guard let t = senders[sender] else { return "sequencer: no report of \(sender)" }
        let servers = config.dataServers.count
        let held = (0..<servers).map { "\(t.held[$0])/p\(t.pendingCounter[$0])@\(t.pendingTs[$0])/a\(t.aheadTs[$0])" }
        let bounds = t.timestampBounds(of: t.nextCounter, servers: servers)
        return "sequencer: \(sender) next counter \(t.nextCounter), ended \(t.ended), held \(held), "
            + "bounds \(bounds), next seq \(nextSeq), L \(config.lifetime)"
    }
}
