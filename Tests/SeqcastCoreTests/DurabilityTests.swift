import Testing
@testable import SeqcastCore
import SeqcastWire

@Suite("Durability: sequencer and commit server storage")
struct DurabilityTests {
    @Test("claims 21/22: the sequencer sends no commit submit before its assignment record is persisted")
    func submitOnlyAfterPersisted() throws {
        var g = TestGroup(members: 1)
        let x = try g.publishAccepted(0, TestGroup.body(1))
        g.tickDue()
        g.deliverAll()
        g.advance(by: g.config.timing.reportDelay)
        let report = try #require(g.queue.first { $0.kind == .dataReport })
        g.queue.removeAll()

        // Drive the sequencer by hand to look at its outputs before the driver drains them.
        let t = g.now
        report.bytes.withUnsafeBytes {
            g.sequencer.receive($0, from: PeerAddress(UInt64(report.from.rawValue)), now: t)
        }
        #expect(g.sequencer.nextSeq == SequenceNumber(2))
        #expect(g.sequencer.output.storage.writes.count == 1)
        let ticket = try #require(g.sequencer.output.storage.writes.first?.ticket)
        #expect(g.sequencer.output.outbox.entries.allSatisfy { $0.kind != .commitSubmit })
        #expect(g.sequencer.persistedThrough == .zero)
        g.drain(g.sequencerIndex)
        g.advance(by: g.config.timing.submitRetransmit * 4)
        #expect(g.sentPackets(kind: .commitSubmit).isEmpty, "nothing is revealed while the record is not durable")

        g.sync(g.sequencerIndex, notify: false)
        g.sequencer.persisted(ticket, now: g.now)
        let kinds = g.sequencer.output.outbox.entries.map(\.kind)
        #expect(kinds == [.commitSubmit, .commitSubmit, .commitSubmit])
        #expect(g.sequencer.persistedThrough == SequenceNumber(1))
        g.drain(g.sequencerIndex)
        for s in g.sentPackets(kind: .commitSubmit) {
            #expect(s.batch?.runs == [messagesRun(1, 1, x.sender, 1)])
        }
        try g.run(until: { $0.allDelivered(through: 1) })
    }

    @Test("claims 21/22: a restarted sequencer resumes above every persisted number and re-submits the same bindings")
    func sequencerRestart() throws {
        var g = TestGroup(members: 2)
        let a = try g.publishMany(0, 2)
        try g.run(until: { $0.allDelivered(through: 2) })

        // Number 3 is persisted and submitted, but no ack comes back: it is not committed.
        let sequencer = g.config.sequencer
        let loseAcks: (Packet) -> Bool = { $0.kind == .commitAck && $0.to == sequencer }
        let x3 = try g.publishAccepted(0, TestGroup.body(3))
        try g.run(until: { $0.sequencer.persistedThrough == SequenceNumber(3) }, drop: loseAcks)
        #expect(g.sequencer.committedThrough == SequenceNumber(2))
        #expect(g.commitServers.allSatisfy { $0.storedThrough == SequenceNumber(3) })

        g.crash(g.sequencerIndex)
        let crashedAt = g.now
        g.restartSequencer()
        #expect(g.sequencer.nextSeq == SequenceNumber(4), "resumes above every persisted number")
        // Its start sealed the commit servers; what they hold (1…3) is proposed again in the new epoch.
        #expect(g.sequencer.recordedThrough == SequenceNumber(3))
        #expect(g.sequencer.epoch > Epoch(round: 1, candidate: 0))

        try g.run(until: { $0.allDelivered(through: 3) })
        let resubmitted = g.sentPackets(kind: .commitSubmit).filter { $0.sentAt >= crashedAt }.compactMap(\.batch)
        #expect(!resubmitted.isEmpty)
        let bindings = resubmitted.flatMap(\.runs).filter { $0.lastSeq >= SequenceNumber(3) }
        #expect(bindings.allSatisfy { $0.slice(from: SequenceNumber(3), through: SequenceNumber(3)) == messagesRun(3, 1, x3.sender, 3) })
        #expect(!bindings.isEmpty)

        let x4 = try g.publishAccepted(0, TestGroup.body(4))
        try g.run(until: { $0.allDelivered(through: 4) })
        for r in g.receiverIndices {
            #expect(g.deliveries(r).map(\.id) == a + [x3, x4])
            #expect(g.deliveries(r).map(\.seq.rawValue) == [1, 2, 3, 4])
            #expect(g.receiver(r).ledger.conflicts == 0)
        }
        #expect(g.commitServers.allSatisfy { $0.output.counters.droppedInconsistent == 0 })
    }

    @Test("claims 21/22: an assignment made durable but never submitted before a crash becomes a no-op, its message numbered again")
    func durableButUnrevealedAssignment() throws {
        var g = TestGroup(members: 2)
        _ = try g.publishMany(0, 1)
        try g.run(until: { $0.allDelivered(through: 1) })

        let y = try g.publishAccepted(1, TestGroup.body(9))
        g.tickDue()
        g.deliverAll()
        g.advance(by: g.config.timing.reportDelay)
        g.deliverAll()
        #expect(g.sequencer.nextSeq == SequenceNumber(3))
        // The disk made the record durable, but the sequencer crashed before hearing so.
        g.sync(g.sequencerIndex, notify: false)
        g.crash(g.sequencerIndex)
        let crashedAt = g.now
        #expect(g.sentPackets(kind: .commitSubmit).allSatisfy { $0.batch?.seqs == [1] })

        g.restartSequencer()
        #expect(g.sequencer.nextSeq == SequenceNumber(3), "resumes above every number it persisted")
        // No commit server holds 2: it was never committed, so the recovery binds it to nothing
        // (a no-op) and numbers y again above it (protocol.md Part 2 §5.3-4).
        try g.run(until: { $0.allDelivered(through: 3) })
        let submits = g.sentPackets(kind: .commitSubmit).filter { $0.sentAt >= crashedAt }.compactMap(\.batch)
        #expect(submits.contains { $0.runs.contains(SequenceRun(firstSeq: SequenceNumber(2), count: 1, content: .noop)) })
        #expect(submits.contains { $0.runs.contains(messagesRun(3, 1, y.sender, 1)) })
        #expect(g.memberDeliveries(0).last?.id == y)
        #expect(g.memberDeliveries(0).last?.seq == SequenceNumber(3))
        #expect(g.memberDeliveries(1) == g.memberDeliveries(0))
    }

    @Test("commit server: acknowledges only after its record is persisted")
    func commitServerAcksAfterPersist() throws {
        var g = TestGroup(members: 1)
        _ = try g.publishAccepted(0, TestGroup.body(1))
        g.tickDue()
        g.deliverAll()
        g.advance(by: g.config.timing.reportDelay)
        g.deliverAll()
        g.sync(g.sequencerIndex)
        g.deliverAll()  // the submits arrive

        let cs = g.commitIndex(0)
        #expect(g.commitServers[0].appendedThrough == SequenceNumber(1))
        #expect(g.commitServers[0].storedThrough == .zero)
        #expect(g.disks[cs].count == 1 && !g.disks[cs][0].synced)
        #expect(g.sentPackets(kind: .commitAck).isEmpty)
        // A retransmitted submit does not make it ack either.
        g.advance(by: g.config.timing.submitRetransmit)
        g.deliverAll()
        #expect(g.sentPackets(kind: .commitAck).isEmpty)

        g.sync(cs)
        let acks = g.sentPackets(kind: .commitAck)
        #expect(acks.map(\.from) == [g.config.commitServers[0]])
        #expect(acks.first?.commitAck == CommitAck(storedThrough: SequenceNumber(1)))
        g.deliverAll()
        #expect(g.sequencer.committedThrough == .zero, "one ack is below Q = 2")
        g.sync(g.commitIndex(1))
        g.deliverAll()
        #expect(g.sequencer.committedThrough == SequenceNumber(1))
    }

    @Test("commit server: answers id queries only with committed bindings")
    func commitServerAnswersOnlyCommitted() throws {
        var g = TestGroup(members: 1)
        let sequencer = g.config.sequencer
        let loseAcks: (Packet) -> Bool = { $0.kind == .commitAck && $0.to == sequencer }
        let x = try g.publishAccepted(0, TestGroup.body(1))
        try g.run(until: { g in g.commitServers.allSatisfy { $0.storedThrough == SequenceNumber(1) } }, drop: loseAcks)
        #expect(g.sequencer.committedThrough == .zero)

        let asker = NodeId(99)
        let cs = g.config.commitServers[0]
        let query: (inout WireWriter) throws(EncodeError) -> Void = { w throws(EncodeError) in
            try IdQuery(firstSeq: SequenceNumber(1), count: 4).encode(into: &w)
        }
        g.inject(to: cs, from: asker, kind: .idQuery, query)
        g.deliverAll(drop: loseAcks)
        let early = try #require(g.sentPackets(kind: .idReply, from: cs, to: asker).last?.batch)
        #expect(early.runs.isEmpty, "stored but not committed: not revealed")
        #expect(early.committedThrough == .zero)

        try g.run(until: { g in g.allDelivered(through: 1) && g.commitServers[0].committedThrough == SequenceNumber(1) })
        g.inject(to: cs, from: asker, kind: .idQuery, query)
        g.deliverAll()
        let late = try #require(g.sentPackets(kind: .idReply, from: cs, to: asker).last?.batch)
        #expect(late.runs == [messagesRun(1, 1, x.sender, 1)])
        #expect(late.committedThrough == SequenceNumber(1))
    }

    @Test("claims 21/22: a sequencer restarted after truncating its log behind a checkpoint reuses no number")
    func sequencerRestartAfterTruncation() throws {
        var g = TestGroup(checkpointServers: 1, members: 2) { $0.checkpointInterval = 4 }
        _ = try g.publishMany(0, 4)
        try g.run(until: { $0.allDelivered(through: 4) })
        _ = try g.publishMany(0, 2, tag: 10)
        try g.run(until: { g in g.allDelivered(through: 6) && g.sequencer.checkpointSeq == SequenceNumber(4) })
        try g.run(until: { g in !g.disks[g.sequencerIndex].contains { $0.key <= 4 } })
        _ = try g.publishMany(1, 2, tag: 20)
        try g.run(until: { $0.allDelivered(through: 8) })

        g.crash(g.sequencerIndex)
        g.restartSequencer()
        #expect(g.sequencer.nextSeq == SequenceNumber(9))
        let x = try g.publishAccepted(1, TestGroup.body(30))
        try g.run(until: { $0.allDelivered(through: 9) })
        #expect(g.sequencer.committedThrough == SequenceNumber(9))
        for r in g.receiverIndices {
            #expect(g.deliveries(r).map(\.seq.rawValue) == Array(1...9))
            #expect(g.deliveries(r).last?.id == x)
            #expect(Set(g.deliveries(r).map(\.id)).count == 9)
            #expect(g.receiver(r).ledger.conflicts == 0)
        }
        #expect(g.commitServers.allSatisfy { $0.output.counters.droppedInconsistent == 0 })
    }

    @Test("commit server: a restarted commit server keeps what it persisted and re-stores what it lost")
    func commitServerRestart() throws {
        var g = TestGroup(members: 1)
        let x = try g.publishAccepted(0, TestGroup.body(1))
        g.tickDue()
        g.deliverAll()
        g.advance(by: g.config.timing.reportDelay)
        g.deliverAll()
        g.sync(g.sequencerIndex)
        g.deliverAll()  // every commit server appended 1, none has persisted it
        let (cs1, cs2) = (g.commitIndex(0), g.commitIndex(1))
        g.sync(cs2)  // commit server 22 persisted and acked ...
        g.queue.removeAll { $0.kind == .commitAck }  // ... but its ack is lost
        g.crash(cs1)  // 21 loses its unsynced record
        g.crash(cs2)
        g.crash(g.commitIndex(2))
        #expect(g.sequencer.committedThrough == .zero)

        g.restartCommitServer(0)
        g.restartCommitServer(1)
        #expect(g.commitServers[0].storedThrough == .zero)
        #expect(g.commitServers[1].storedThrough == SequenceNumber(1))
        // The third stays down: the two restarted ones must make the quorum.
        try g.run(until: { $0.allDelivered(through: 1) })
        #expect(g.commitServers[0].storedThrough == SequenceNumber(1), "re-stored from a retransmitted submit")
        #expect(g.sequencer.committedThrough == SequenceNumber(1))
        #expect(g.memberDeliveries(0).map(\.id) == [x])
        #expect(g.sequencer.output.counters.retransmissions >= 1)
    }
}

@Suite("Data servers' disk store")
struct DiskStoreTests {
    static func config() -> GroupConfig {
        var c = GroupConfig(groupId: 0x5351, sequencer: NodeId(1), dataServers: [NodeId(11)],
                            commitServers: [NodeId(21)], checkpointServers: [])
        c.dataStore = .disk
        return c
    }

    /// One data datagram of `sender`'s counter `counter`.
    static func data(_ sender: SenderId, counter: UInt64, body: [UInt8]) -> [UInt8] {
        TestGroup.encode(Header(kind: .data, groupId: 0x5351, epoch: Epoch(1), source: NodeId(41))) { w throws(EncodeError) in
            _ = try DataMessage.encodeFixed(sender: sender, firstCounter: counter, logicalTs: .zero, count: 1, into: &w)
            try w.writeU32(UInt32(body.count))
            for byte in body { try w.writeU8(byte) }
        }
    }

    /// The highest `heldThrough` any report the server queued gives for `sender`.
    static func reportedHeld(_ server: inout DataServer, _ sender: SenderId) -> UInt64? {
        let outbox = server.output.outbox
        var held: UInt64?
        for i in 0..<outbox.entries.count {
            outbox.withBytes(of: i) { b in
                guard let d = try? Datagram.decode(b), case .dataReport(let r) = d.message else { return }
                for e in r.entries where e.sender == sender { held = max(held ?? 0, e.heldThrough) }
            }
        }
        server.output.outbox.removeAll()
        return held
    }

    @Test("a body is reported held only once its record is durable")
    func reportAfterDurable() {
        var server = DataServer(config: Self.config(), node: NodeId(11), incarnation: 1, seed: 1, now: .zero)
        let sender = SenderId(node: NodeId(41), incarnation: 1)
        Self.data(sender, counter: 1, body: [1, 2, 3]).withUnsafeBytes {
            server.receive($0, from: PeerAddress(41), now: Instant(nanoseconds: 1))
        }
        let writes = server.output.storage.writes
        #expect(writes.count == 1, "the body went to the log")
        server.output.storage.removeAll()
        server.tick(now: Instant(nanoseconds: 50_000_000))
        #expect((Self.reportedHeld(&server, sender) ?? 0) == 0, "not durable yet: not reported held")
        server.persisted(writes[0].ticket, now: Instant(nanoseconds: 50_000_001))
        server.tick(now: Instant(nanoseconds: 100_000_000))
        #expect(Self.reportedHeld(&server, sender) == 1, "durable: reported")
    }

    /// Feeds one datagram and makes every record it wrote durable; returns those records.
    static func feed(_ bytes: [UInt8], to server: inout DataServer, at t: UInt64) -> [[UInt8]] {
        bytes.withUnsafeBytes { server.receive($0, from: PeerAddress(41), now: Instant(nanoseconds: t)) }
        return drain(&server, at: t)
    }

    /// A tick at `t` (timers due), with what it wrote.
    static func tick(_ server: inout DataServer, at t: UInt64) -> [[UInt8]] {
        server.tick(now: Instant(nanoseconds: t))
        return drain(&server, at: t)
    }

    /// The records the server wrote, made durable at `t`.
    static func drain(_ server: inout DataServer, at t: UInt64) -> [[UInt8]] {
        let q = server.output.storage
        let records = (0..<q.writes.count).map { i in q.withBytes(of: i) { Array($0) } }
        if let last = q.writes.last { server.persisted(last.ticket, now: Instant(nanoseconds: t)) }
        server.output.storage.removeAll()
        server.output.outbox.removeAll()
        return records
    }

    @Test("collected bodies stay collected across a restart, even while an older body holds the log's truncation back")
    func collectedStayCollected() {
        let x = SenderId(node: NodeId(41), incarnation: 1)
        let y = SenderId(node: NodeId(42), incarnation: 1)
        var server = DataServer(config: Self.config(), node: NodeId(11), incarnation: 1, seed: 1, now: .zero)
        var log: [[UInt8]] = []
        // y's body first (the oldest record; never committed here), then x's three.
        log += Self.feed(Self.data(y, counter: 1, body: [9]), to: &server, at: 1)
        for c in UInt64(1)...3 { log += Self.feed(Self.data(x, counter: c, body: [UInt8(c)]), to: &server, at: 1 + c) }
        #expect(server.storedCount == 4)
        // x's three are committed at 1...3 and a checkpoint at 3 lets them go.
        let commit = TestGroup.encode(Header(kind: .commit, groupId: 0x5351, epoch: Epoch(1), source: NodeId(1))) {
            w throws(EncodeError) in
            try RunBatch.encode(committedThrough: SequenceNumber(3),
                                runs: [SequenceRun(firstSeq: SequenceNumber(1), count: 3,
                                                   content: .messages(sender: x, firstCounter: 1))], into: &w)
        }
        let heartbeat = TestGroup.encode(Header(kind: .heartbeat, groupId: 0x5351, epoch: Epoch(1), source: NodeId(1))) {
            w throws(EncodeError) in
            try Heartbeat(committedThrough: SequenceNumber(3), checkpointSeq: SequenceNumber(3), checkpointBytes: 0)
                .encode(into: &w)
        }
        log += Self.feed(commit, to: &server, at: 10)
        log += Self.feed(heartbeat, to: &server, at: 11)
        #expect(server.storedCount == 4, "kept for the collection grace")
        log += Self.tick(&server, at: 11 + Self.config().timing.collectionGrace.value)
        #expect(server.storedCount == 1, "x's bodies were collected behind the checkpoint")
        // The restart reads every record (y's body holds truncation back, so x's are still there).
        let restarted = DataServer(config: Self.config(), node: NodeId(11), incarnation: 2, seed: 1, now: .zero,
                                   recovering: log)
        #expect(restarted.storedCount == 1, "only y's body came back; x's stay collected")
    }

    @Test("a restarted data server comes back with the bodies its disk kept, and its log is truncated behind collection")
    func restartAndTruncate() throws {
        var g = TestGroup(checkpointServers: 1, members: 2) {
            $0.dataStore = .disk
            $0.checkpointInterval = 4
        }
        _ = try g.publishMany(0, 6)
        try g.run(until: { $0.allDelivered(through: 6) })
        let stored = g.dataServers[0].storedCount
        #expect(stored > 0)
        let records = g.syncedRecords(g.dataIndex(0)).count
        g.crash(g.dataIndex(0))
        g.restartDataServer(0, incarnation: 2)
        #expect(g.dataServers[0].storedCount == stored, "every body it held came back from its disk")

        // More traffic: checkpoints pass, bodies behind them go, and so do their records.
        _ = try g.publishMany(1, 10)
        try g.run(until: { $0.allDelivered(through: 16) && $0.sequencer.checkpointSeq >= SequenceNumber(12) })
        g.run(for: .millis(50))
        #expect(g.dataServers[0].storedCount < stored + 10, "collected behind the checkpoint")
        #expect(g.syncedRecords(g.dataIndex(0)).count < records + 10, "the log was truncated behind collection")
        #expect(g.dataServers.allSatisfy { $0.output.counters.droppedStoreFull == 0 })
    }
}
