import Testing
@testable import SeqcastCore
import SeqcastWire

extension TestGroup {
    func checkpointsTaken(_ n: Int) -> [(terminalSeq: SequenceNumber, byteCount: Int, digest: UInt64, stateDigest: UInt64)] {
        events[n].compactMap {
            if case .checkpointTaken(let t, let b, let d, let s, _) = $0 { return (t, b, d, s) }
            return nil
        }
    }

    func collected(_ n: Int) -> [(id: MessageId, seq: SequenceNumber?, checkpointSeq: SequenceNumber)] {
        events[n].compactMap {
            if case .collected(let id, let seq, let c) = $0 { return (id, seq, c) }
            return nil
        }
    }

    func controlsApplied(_ n: Int) -> [(seq: SequenceNumber, run: SequenceRun)] {
        events[n].compactMap {
            if case .controlApplied(let seq, let run) = $0 { return (seq, run) }
            return nil
        }
    }

    /// Publishes `count` messages from member `m` in one instant; returns their ids.
    mutating func publishMany(_ m: Int, _ count: Int, tag: Int = 0) throws -> [MessageId] {
        try (0..<count).map { try publishAccepted(m, TestGroup.body(tag + $0)) }
    }
}

@Suite("Checkpoints, garbage collection and joining")
struct CheckpointTests {
    @Test("claims 13/14: checkpoint servers checkpoint at every multiple of N, report it, and heartbeats carry it")
    func checkpointsReportedAndAnnounced() throws {
        var g = TestGroup(checkpointServers: 2, members: 1) { $0.checkpointInterval = 4 }
        _ = try g.publishMany(0, 9)
        try g.run(until: { $0.allDelivered(through: 9) })

        let stateAt = Dictionary(uniqueKeysWithValues: g.memberDeliveries(0).map { ($0.seq, $0.stateDigest) })
        let first = g.checkpointsTaken(g.checkpointIndex(0))
        let second = g.checkpointsTaken(g.checkpointIndex(1))
        #expect(first.map(\.terminalSeq.rawValue) == [4, 8])
        #expect(second.map(\.terminalSeq.rawValue) == [4, 8])
        for (a, b) in zip(first, second) {
            #expect(a.digest == b.digest, "both servers cut the same checkpoint")
            #expect(a.byteCount == b.byteCount)
            #expect(a.stateDigest == stateAt[a.terminalSeq], "the state right after the terminal message")
        }
        #expect(g.checkpointsTaken(g.memberIndex(0)).isEmpty, "a plain member takes no checkpoints")

        try g.run(until: { $0.sequencer.checkpointSeq == SequenceNumber(8) })
        let reports = g.sentPackets(kind: .checkpointReport).filter { $0.to == g.config.sequencer }
        #expect(Set(reports.map(\.from)).isSubset(of: Set(g.config.checkpointServers)))
        if case .checkpointReport(let r)? = reports.last?.decoded {
            #expect(r.terminalSeq == SequenceNumber(8))
            #expect(r.digest == second.last?.digest)
            #expect(r.byteCount == UInt64(second.last?.byteCount ?? 0))
        } else {
            Issue.record("no checkpoint report")
        }

        let reportedAt = g.now
        g.run(for: g.config.timing.heartbeatInterval)
        let heartbeats = g.sentPackets(kind: .heartbeat).filter { $0.sentAt >= reportedAt }.compactMap(\.heartbeat)
        #expect(!heartbeats.isEmpty)
        for hb in heartbeats {
            #expect(hb.checkpointSeq == SequenceNumber(8))
            #expect(hb.checkpointBytes == UInt64(first.last?.byteCount ?? 0))
            #expect(hb.committedThrough == SequenceNumber(9))
        }
    }

    @Test("with two checkpoint servers, garbage collection waits for a checkpoint both reported")
    func collectionWaitsForTwoCheckpointServers() throws {
        var g = TestGroup(checkpointServers: 2, members: 1) { $0.checkpointInterval = 4 }
        _ = try g.publishMany(0, 5)
        try g.run(until: { $0.allDelivered(through: 5) && $0.sequencer.checkpointSeq == SequenceNumber(4) })
        // One checkpoint server goes down: the other alone checkpoints 8 and 12 and reports them.
        g.crash(g.checkpointIndex(1))
        _ = try g.publishMany(0, 8)
        try g.run(until: { $0.receiver($0.checkpointIndex(0)).deliveredThrough == SequenceNumber(13) })
        g.run(for: .millis(100))
        #expect(g.checkpointsTaken(g.checkpointIndex(0)).map(\.terminalSeq.rawValue) == [4, 8, 12])
        #expect(g.sequencer.checkpointSeq == SequenceNumber(4), "one server's checkpoint is not enough to collect behind")
        let heartbeats = g.sentPackets(kind: .heartbeat).suffix(3).compactMap(\.heartbeat)
        #expect(!heartbeats.isEmpty && heartbeats.allSatisfy { $0.checkpointSeq == SequenceNumber(4) })
    }

    @Test("claim 16: a late joiner installs the latest checkpoint, then delivers the rest and reaches the same state")
    func lateJoiner() throws {
        var g = TestGroup(checkpointServers: 2, members: 1) { $0.checkpointInterval = 4 }
        _ = try g.publishMany(0, 10)
        try g.run(until: { g in
            g.allDelivered(through: 10) && g.dataServers.allSatisfy { $0.checkpointSeq == SequenceNumber(8) }
        })

        let j = g.addMember(joining: true)
        #expect(g.members[j].isJoining)
        g.advance(by: .micros(10))
        _ = try g.publishMany(0, 2, tag: 100)
        try g.run(until: { $0.allDelivered(through: 12) })

        let stateAt8 = try #require(g.memberDeliveries(0).first { $0.seq == SequenceNumber(8) }?.stateDigest)
        let installs = g.events[g.memberIndex(j)].compactMap { e -> (SequenceNumber, UInt64)? in
            if case .checkpointInstalled(let t, let s) = e { return (t, s) }
            return nil
        }
        #expect(installs.count == 1)
        #expect(installs.first?.0 == SequenceNumber(8))
        #expect(installs.first?.1 == stateAt8)
        #expect(g.sentPackets(kind: .checkpointFetch, from: g.memberId(j)).allSatisfy {
            g.config.checkpointServers.contains($0.to)
        })

        let joined = g.memberDeliveries(j)
        #expect(joined.map(\.seq.rawValue) == [9, 10, 11, 12])
        #expect(joined == g.memberDeliveries(0).filter { $0.seq.rawValue > 8 })
        #expect(g.members[j].app.stateDigest == g.members[0].app.stateDigest)
        #expect(g.members[j].app.deliveredCount == 12)
        #expect(g.members[j].startSeq == SequenceNumber(8))
    }

    @Test("claim 20: data servers delete committed messages at or behind the latest checkpoint, and keep the rest")
    func garbageCollectionBehindCheckpoint() throws {
        var g = TestGroup(checkpointServers: 1, members: 1) { $0.checkpointInterval = 4 }
        let ids = try g.publishMany(0, 6)
        #expect(ids.count == 6)
        try g.run(until: { g in
            g.allDelivered(through: 6) && g.dataServers.allSatisfy { $0.checkpointSeq == SequenceNumber(4) }
        })
        // Heard, not yet collected: a member still repairing a loss just behind the checkpoint
        // gets what it asks for during the collection grace.
        #expect(g.dataServers.allSatisfy { $0.storedCount == 6 })
        #expect(g.commitServers.allSatisfy { $0.lowWater == .zero })
        try g.run(until: { g in g.dataServers.allSatisfy { $0.storedCount == 2 } })
        try g.run(until: { g in g.commitServers.allSatisfy { $0.lowWater == SequenceNumber(4) } })
        let sender = try #require(ids.first?.sender)
        for i in 0..<3 {
            let collected = g.collected(g.dataIndex(i))
            #expect(collected.map(\.id) == Array(ids[0..<4]))
            #expect(collected.map(\.seq) == (1...4).map { SequenceNumber($0) })
            #expect(collected.allSatisfy { $0.checkpointSeq == SequenceNumber(4) })
            #expect(g.dataServers[i].storedCount == 2, "5 and 6 lie after the checkpoint")
        }

        // Asking for collected counters gets a miss that says so; the kept ones are served.
        let asker = NodeId(99)
        let ds = g.config.dataServers[0]
        g.inject(to: ds, from: asker, kind: .messageFetch) { w throws(EncodeError) in
            try MessageFetch(sender: sender, firstCounter: 1, count: 2).encode(into: &w)
        }
        g.inject(to: ds, from: asker, kind: .messageFetch) { w throws(EncodeError) in
            try MessageFetch(sender: sender, firstCounter: 5, count: 2).encode(into: &w)
        }
        g.deliverAll()
        let misses = g.sentPackets(kind: .fetchMiss, from: ds, to: asker).compactMap(\.fetchMiss)
        #expect(misses == [FetchMiss(sender: sender, firstCounter: 1, count: 2, reason: .collected,
                                     checkpointSeq: SequenceNumber(4))])
        let replies = g.sentPackets(kind: .messageReply, from: ds, to: asker).compactMap(\.data)
        #expect(replies.map(\.counters) == [5...6])
        #expect(replies.first?.bodies == [TestGroup.body(4), TestGroup.body(5)])
    }

    @Test("sequenced control: a checkpoint interval change takes effect at the same number on every checkpoint server")
    func checkpointIntervalChange() throws {
        var g = TestGroup(checkpointServers: 2, members: 1) { $0.checkpointInterval = 4 }
        _ = try g.publishMany(0, 2)
        try g.run(until: { $0.allDelivered(through: 2) })
        g.requestCheckpointInterval(3)
        g.advance(by: .micros(10))
        _ = try g.publishMany(0, 8, tag: 10)
        try g.run(until: { $0.allDelivered(through: 11) })

        let control = SequenceRun(firstSeq: SequenceNumber(3), count: 1, content: .checkpointInterval(3))
        for r in g.receiverIndices {
            let applied = g.controlsApplied(r)
            #expect(applied.map(\.seq) == [SequenceNumber(3)])
            #expect(applied.map(\.run) == [control])
            #expect(g.receiver(r).checkpointInterval == 3)
        }
        let first = g.checkpointsTaken(g.checkpointIndex(0))
        let second = g.checkpointsTaken(g.checkpointIndex(1))
        #expect(first.map(\.terminalSeq.rawValue) == [3, 6, 9])
        #expect(first.map(\.digest) == second.map(\.digest))
        #expect(g.memberDeliveries(0).map(\.seq.rawValue) == [1, 2] + Array(4...11))
    }

    @Test("claim 16: a joiner that finds no checkpoint yet replays the stream from number 1")
    func joinerWithoutCheckpoint() throws {
        var g = TestGroup(checkpointServers: 1, members: 1)
        _ = try g.publishMany(0, 3)
        try g.run(until: { $0.allDelivered(through: 3) })
        let j = g.addMember(joining: true)
        _ = try g.publishMany(0, 2, tag: 50)
        try g.run(until: { $0.allDelivered(through: 5) })
        #expect(!g.members[j].isJoining)
        #expect(g.events[g.memberIndex(j)].allSatisfy { if case .checkpointInstalled = $0 { false } else { true } })
        #expect(g.memberDeliveries(j) == g.memberDeliveries(0))
        #expect(g.members[j].startSeq == .zero)
        #expect(g.members[j].output.counters.idQueriesSent >= 1, "bindings committed before it came were asked for")
    }

    @Test("claims 15/16: a member cut off past garbage collection resynchronises from a checkpoint")
    func memberBehindGarbageCollection() throws {
        var g = TestGroup(checkpointServers: 1, members: 2) { $0.checkpointInterval = 4 }
        let m1 = g.memberId(1)
        let cutOff: (Packet) -> Bool = { $0.to == m1 || $0.from == m1 }
        _ = try g.publishMany(0, 10)
        try g.run(until: { g in
            g.receiverIndices.allSatisfy { g.receiver($0).deliveredThrough == SequenceNumber(10) || g.nodes[$0].id == m1 }
                && g.dataServers.allSatisfy { $0.checkpointSeq == SequenceNumber(8) }
                && g.commitServers.allSatisfy { $0.lowWater == SequenceNumber(8) }
        }, drop: cutOff)
        #expect(g.members[1].deliveredThrough == .zero)
        #expect(g.dataServers.allSatisfy { $0.storedCount == 2 }, "1...8 are gone from every data server")

        // Reconnected: the numbers it needs are gone, so it must install the checkpoint.
        try g.run(until: { $0.allDelivered(through: 10) })
        let installs = g.events[g.memberIndex(1)].compactMap { e -> SequenceNumber? in
            if case .checkpointInstalled(let t, _) = e { return t }
            return nil
        }
        #expect(installs == [SequenceNumber(8)])
        #expect(g.memberDeliveries(1) == g.memberDeliveries(0).filter { $0.seq.rawValue > 8 })
        #expect(g.members[1].app.stateDigest == g.members[0].app.stateDigest)
        #expect(g.members[1].app.deliveredCount == 10)
    }

    @Test("claim 16: a checkpoint larger than a chunk is transferred in pieces, resumed after a lost chunk, and verified")
    func chunkedCheckpointTransfer() throws {
        var g = TestGroup(checkpointServers: 2, members: 1) {
            $0.checkpointInterval = 4
            $0.limits.checkpointChunkBytes = 8
        }
        _ = try g.publishMany(0, 9)
        try g.run(until: { g in g.allDelivered(through: 9) && g.sequencer.checkpointSeq == SequenceNumber(8) })
        let size = try #require(g.checkpointsTaken(g.checkpointIndex(0)).last?.byteCount)
        let chunks = (size + 7) / 8
        #expect(chunks > 8, "more chunks than one fetch returns")

        let j = g.addMember(joining: true)
        let joiner = g.memberId(j)
        var lost = 0
        let loseChunk3Once: (Packet) -> Bool = { p in
            guard p.kind == .checkpointChunk, p.to == joiner, lost == 0,
                  case .checkpointChunk(_, 3, _) = p.decoded else { return false }
            lost += 1
            return true
        }
        try g.run(until: { $0.allDelivered(through: 9) }, drop: loseChunk3Once)
        #expect(lost == 1)
        let fetches = g.sentPackets(kind: .checkpointFetch, from: joiner).compactMap { p -> CheckpointFetch? in
            if case .checkpointFetch(let f) = p.decoded { return f }
            return nil
        }
        #expect(fetches.first == CheckpointFetch(terminalSeq: .zero, firstChunk: 0), "first: the latest, from the start")
        #expect(fetches.dropFirst().first == CheckpointFetch(terminalSeq: SequenceNumber(8), firstChunk: 3),
                "then: the same checkpoint, from the first missing chunk")
        let received = g.deliveredPackets(kind: .checkpointChunk, to: joiner).compactMap { p -> UInt32? in
            if case .checkpointChunk(_, let index, _) = p.decoded { return index }
            return nil
        }
        #expect(Set(received) == Set((0..<UInt32(chunks))))
        #expect(g.events[g.memberIndex(j)].contains(.checkpointInstalled(
            terminalSeq: SequenceNumber(8), stateDigest: g.memberDeliveries(0)[7].stateDigest)))
        #expect(g.memberDeliveries(j) == g.memberDeliveries(0).filter { $0.seq.rawValue == 9 })
        #expect(g.members[j].app.stateDigest == g.members[0].app.stateDigest)
    }
}
