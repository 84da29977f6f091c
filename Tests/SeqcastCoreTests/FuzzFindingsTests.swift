import Testing
@testable import SeqcastCore
import SeqcastNode
import SeqcastWire

/// What the fuzz targets found (scripts/fuzz), each rebuilt by hand as a test that failed
/// before its fix: a trap or a hang on bytes from a datagram or a damaged record.
@Suite("Fuzz findings")
struct FuzzFindingsTests {
    static let config = TestGroup.makeConfig()

    /// One record of `words` (and a trailing byte string), as roles write them.
    static func record(_ words: [UInt64], bytes: [UInt8]? = nil) -> [UInt8] {
        var q = StorageQueue()
        q.begin(key: 1)
        for w in words { q.put(w) }
        if let b = bytes { q.put(bytes: b) }
        _ = q.close()
        return q.withBytes(of: 0) { Array($0) }
    }

    @Test("FuzzRecords: a data server's body record with a counter near 2^64 is refused and counted, not trapped on")
    func dataServerRecordNearTheTop() {
        var c = Self.config
        c.dataStore = .disk
        let sender = SenderId(node: NodeId(41), incarnation: 1).rawValue
        let records = [
            Self.record([DiskHoldings.collectedTag, 2, sender, UInt64.max]),
            Self.record([DiskHoldings.bodyTag, UInt64.max, sender, UInt64.max - 1, 1], bytes: [1, 2, 3]),
            Self.record([DiskHoldings.bodyTag, 3, sender, 1, 1], bytes: [7]),
        ]
        let s = DataServer(config: c, node: NodeId(11), incarnation: 2, seed: 1, now: .zero, recovering: records)
        #expect(s.output.counters.recordsRefused == 2)
        #expect(s.storedCount == 1, "the valid body is recovered")
    }

    @Test("FuzzRecords: runs records whose numbers or counters overflow are refused as the wire refuses them")
    func runsRecordsHeldToTheWireRules() {
        let sender = SenderId(node: NodeId(41), incarnation: 1).rawValue
        func runs(_ first: UInt64, _ count: UInt64, kind: UInt64, _ a: UInt64, _ b: UInt64) -> [SequenceRun]? {
            AssignmentRecord.runs(in: Self.record([AssignmentRecord.tagEpochRuns, Epoch(round: 1, candidate: 0).rawValue, 1,
                                                   first, kind << 32 | count, a, b]))
        }
        #expect(runs(1, 10, kind: 0, sender, 1)?.count == 1)
        #expect(runs(UInt64.max - 3, 10, kind: 0, sender, 1) == nil, "the last number would overflow")
        #expect(runs(5, 10, kind: 0, sender, UInt64.max - 2) == nil, "the last counter would overflow")
        #expect(runs(5, 1, kind: 1, 3, 0) == nil, "a no-op with an operand")
        #expect(runs(5, 2, kind: 2, 8, 0) == nil, "a control run of two numbers")
        // A commit server recovering such a record (it once trapped slicing it while rebinding).
        let bad = Self.record([AssignmentRecord.tagEpochRuns, Epoch(round: 2, candidate: 0).rawValue, 1,
                               UInt64.max - 3, 10, sender, 1])
        let server = CommitServer(config: Self.config, node: NodeId(21), recovering: [bad], now: .zero)
        #expect(server.storedThrough == .zero)
    }

    @Test("FuzzRecords and the header: an epoch round at 2^47 or more is never taken (its next epoch would trap)")
    func epochRoundsAtTheTop() {
        #expect(Epoch(checked: Epoch.roundLimit << 16) == nil)
        #expect(Epoch(checked: (Epoch.roundLimit - 1) << 16) != nil)
        let top = Self.record([AssignmentRecord.tagEpoch, UInt64.max, 7])
        #expect(AssignmentRecord.epoch(in: top) == nil)
        // A sequencer recovering it starts above its other records instead of trapping.
        let s = Sequencer(config: Self.config, node: Self.config.sequencer, recovering: [top], now: .zero, startSeed: 1)
        #expect(s.epoch.round < Epoch.roundLimit)
        let server = CommitServer(config: Self.config, node: NodeId(21), recovering: [top], now: .zero)
        #expect(server.epoch.round < Epoch.roundLimit)
    }

    @Test("FuzzRoles: a member blocked on a run of 2^32 - 1 messages asks for one bounded round, at once")
    func bodyRepairOverAHugeRun() {
        let c = Self.config
        var m = Member(config: c, node: NodeId(41), incarnation: 1, seed: 1, now: .zero, app: ReferenceApplication())
        let sender = SenderId(node: NodeId(77), incarnation: 1)
        let commit = TestGroup.encode(Header(kind: .commit, groupId: c.groupId, fingerprint: c.fingerprint, epoch: Epoch(1),
                                             source: c.sequencer)) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: SequenceNumber(UInt64(UInt32.max)), runs: [
                SequenceRun(firstSeq: SequenceNumber(1), count: UInt32.max, content: .messages(sender: sender, firstCounter: 1))],
                into: &w)
        }
        let clock = ContinuousClock()
        var fetched: [MessageFetch] = []
        let took = clock.measure {
            commit.withUnsafeBytes { m.receive($0, from: PeerAddress(1), now: .zero) }
            var t = Instant.zero
            for _ in 0..<6 {
                t = t + Nanoseconds(100_000_000)
                m.tick(now: t)
                for k in 0..<m.output.outbox.entries.count where m.output.outbox.entries[k].kind == .messageFetch {
                    m.output.outbox.withBytes(of: k) { b in
                        if case .messageFetch(let f)? = try? Datagram.decode(b).message { fetched.append(f) }
                    }
                }
                m.output.outbox.removeAll()
                m.output.storage.removeAll()
                m.output.events.removeAll()
            }
        }
        #expect(took < .seconds(5), "repair rounds over the huge run must not walk its counters (took \(took))")
        #expect(!fetched.isEmpty, "the member asks for the bodies")
        #expect(fetched.allSatisfy { $0.count <= 1_024 }, "a round asks for at most countersMax bodies")
    }

    @Test("FuzzRoles: data of one sender near 2^64, then far below, no longer overflows the member's counter lane")
    func counterLaneNearTheTop() {
        let c = Self.config
        var m = Member(config: c, node: NodeId(42), incarnation: 1, seed: 1, now: .zero, app: ReferenceApplication())
        var server = DataServer(config: c, node: NodeId(11), incarnation: 1, seed: 1, now: .zero)
        for counter in [UInt64.max - 10, 5] {
            let bytes = BoundedResourcesTests.fragment(index: 0, of: 1, bytes: 8, counter: counter)
            bytes.withUnsafeBytes {
                m.receive($0, from: PeerAddress(1), now: .zero)
                server.receive($0, from: PeerAddress(1), now: .zero)
            }
        }
        // Before the fix the second datagram trapped in CounterTable.slide (base + capacity past 2^64).
        #expect(m.output.counters.datagramsReceived == 2 && server.output.counters.datagramsReceived == 2)
        #expect(server.storedCount >= 1)
    }

    @Test("FuzzRoles: a data server collecting behind a checkpoint a run of 2^32 - 1 numbers visits what it holds only")
    func collectionOverAHugeRun() {
        let c = Self.config
        var server = DataServer(config: c, node: NodeId(11), incarnation: 1, seed: 1, now: .zero)
        let sender = SenderId(node: NodeId(41), incarnation: 1)
        func sequencerSends(_ kind: MessageKind, _ body: (inout WireWriter) throws(EncodeError) -> Void) {
            TestGroup.encode(Header(kind: kind, groupId: c.groupId, fingerprint: c.fingerprint, epoch: Epoch(1),
                                    source: c.sequencer), body).withUnsafeBytes { server.receive($0, from: PeerAddress(1), now: .zero) }
        }
        BoundedResourcesTests.fragment(index: 0, of: 1, bytes: 8, counter: 1).withUnsafeBytes {
            server.receive($0, from: PeerAddress(2), now: .zero)
        }
        #expect(server.storedCount == 1)
        let top = SequenceNumber(UInt64(UInt32.max))
        let clock = ContinuousClock()
        let took = clock.measure {
            sequencerSends(.commit) { w throws(EncodeError) in
                try RunBatch.encode(committedThrough: top, runs: [
                    SequenceRun(firstSeq: SequenceNumber(1), count: UInt32.max, content: .messages(sender: sender, firstCounter: 1))],
                    into: &w)
            }
            sequencerSends(.heartbeat) { w throws(EncodeError) in
                try Heartbeat(committedThrough: top, checkpointSeq: top, checkpointBytes: 0).encode(into: &w)
            }
            // Collection behind it comes a grace time after the heartbeat.
            server.tick(now: Instant.zero + c.timing.collectionGrace)
        }
        #expect(took < .seconds(5), "collection walked the run's counters (took \(took))")
        #expect(server.storedCount == 0, "the one held message is collected")
    }

    @Test("FuzzRecords: a low-water record at 2^64 - 1 is refused (its next number overflowed while pruning)")
    func lowWaterAtTheTop() {
        let top = Self.record([AssignmentRecord.tagLowWater, UInt64.max, Epoch(round: 1, candidate: 0).rawValue, 3])
        let runs = Self.record([AssignmentRecord.tagEpochRuns, Epoch(round: 2, candidate: 0).rawValue, 1,
                                5, 1, SenderId(node: NodeId(41), incarnation: 1).rawValue, 1])
        let server = CommitServer(config: Self.config, node: NodeId(21), recovering: [top, runs, top], now: .zero)
        #expect(server.lowWater == .zero)
    }
}
