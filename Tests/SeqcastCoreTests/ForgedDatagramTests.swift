import Testing
@testable import SeqcastCore
import SeqcastNode
import SeqcastWire

/// The four forgeries of issue 14 as scenario tests (THREAT.md; on real processes:
/// scripts/forgery-test). Each runs without authentication, where the forgery must do its
/// damage (so the test can fail), and with it, where every node drops it, counted, and the
/// group delivers what it would have delivered without the forgery.
@Suite("Forged datagrams")
struct ForgedDatagramTests {
    static let far = SequenceNumber(1 << 40)

    static func group(_ authenticate: Bool, members: Int = 2) -> TestGroup {
        TestGroup(config: TestGroup.makeConfig(), members: members, authenticate: authenticate)
    }

    /// Publishes `n` messages from member 0 and runs until every member delivered them.
    static func publishAndDeliver(_ g: inout TestGroup, _ n: Int, from m: Int = 0) throws {
        let before = g.deliveries(g.memberIndex(0)).count
        for k in 0..<n { _ = try g.publishAccepted(m, TestGroup.body(100 + k + before)) }
        try g.run(until: { g in
            (0..<g.memberNodes.count).allSatisfy { g.deliveries(g.memberIndex($0)).count == before + n }
        })
    }

    static func missingCounted(_ g: TestGroup, at nodes: [Int]) -> Bool {
        nodes.allSatisfy { (g.authCounters($0)?.missing ?? 0) > 0 }
    }

    @Test("a heartbeat whose checkpoint is a far frontier: data servers collect committed messages no checkpoint covers",
          arguments: [false, true])
    func farCheckpointHeartbeat(authenticate: Bool) throws {
        var g = Self.group(authenticate)
        try Self.publishAndDeliver(&g, 6)
        #expect(g.dataServers.allSatisfy { $0.storedCount == 6 })
        let targets = g.config.dataServers + g.config.commitServers + [g.memberId(0), g.memberId(1)]
        for to in targets {
            g.inject(to: to, from: g.config.sequencer, kind: .heartbeat, epoch: g.sequencer.epoch) { w throws(EncodeError) in
                try Heartbeat(committedThrough: Self.far, checkpointSeq: Self.far, checkpointBytes: 0).encode(into: &w)
            }
        }
        g.settle()
        // Servers collect and truncate a grace time after hearing of a checkpoint.
        g.advance(by: g.config.timing.collectionGrace)
        g.settle()
        if authenticate {
            #expect(g.dataServers.allSatisfy { $0.storedCount == 6 }, "nothing collected")
            #expect(g.commitServers.allSatisfy { $0.lowWater == .zero }, "no log truncated")
            #expect(Self.missingCounted(g, at: targets.map { g.node($0) }))
            try Self.publishAndDeliver(&g, 2)
        } else {
            #expect(g.dataServers.allSatisfy { $0.storedCount == 0 }, "committed messages no checkpoint covers are gone")
        }
    }

    @Test("a data report from a data server's id: numbers bound to bodies that exist nowhere, members stall",
          arguments: [false, true])
    func forgedDataReport(authenticate: Bool) throws {
        var g = Self.group(authenticate)
        try Self.publishAndDeliver(&g, 2)
        let ghost = SenderId(node: NodeId(4_000), incarnation: 1)
        g.inject(to: g.config.sequencer, from: g.config.dataServers[0], kind: .dataReport) { w throws(EncodeError) in
            // A later incarnation than the real server's: the sequencer takes it for a restart.
            try DataReport.encode([DataReport.Entry(sender: ghost, heldThrough: 5, pendingCounter: 0, pendingTs: .zero,
                                                    aheadTs: .zero)], incarnation: 9, into: &w)
        }
        g.settle()
        g.advance(by: g.config.timing.reportDelay)
        if authenticate {
            #expect(Self.missingCounted(g, at: [g.sequencerIndex]))
            try Self.publishAndDeliver(&g, 2)
            #expect(g.sequencer.committedThrough == SequenceNumber(4), "only the real messages were numbered")
        } else {
            for _ in 0..<3 { _ = try g.publishAccepted(0, TestGroup.body(900)) }
            // Members ask for the ghost's bodies without end (every data server answers "not
            // held" at once here): their requests are dropped, the stall is what is shown.
            g.run(for: .millis(300), drop: { $0.kind == .messageFetch || $0.kind == .idQuery })
            #expect(g.sequencer.committedThrough > SequenceNumber(2 + 3), "the ghost's messages were numbered")
            #expect(g.members.allSatisfy { $0.deliveredThrough == SequenceNumber(2) }, "members wait for bodies nowhere")
        }
    }

    @Test("a commit from the sequencer's id ahead of the real one: the member it reaches delivers another order",
          arguments: [false, true])
    func forgedCommitAhead(authenticate: Bool) throws {
        var g = Self.group(authenticate, members: 3)
        let sender = SenderId(node: g.memberId(0), incarnation: 1)
        // Member 0 publishes counters 1 and 2; the forgery binds number 1 to counter 2 and
        // number 2 to counter 1, and reaches member 2 only, before any real commit.
        _ = try g.publishAccepted(0, TestGroup.body(1))
        _ = try g.publishAccepted(0, TestGroup.body(2))
        g.inject(to: g.memberId(2), from: g.config.sequencer, kind: .commit, epoch: g.sequencer.epoch) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: SequenceNumber(2), runs: [
                SequenceRun(firstSeq: SequenceNumber(1), count: 1, content: .messages(sender: sender, firstCounter: 2)),
                SequenceRun(firstSeq: SequenceNumber(2), count: 1, content: .messages(sender: sender, firstCounter: 1)),
            ], into: &w)
        }
        try g.run(until: { g in (0..<2).allSatisfy { g.deliveries(g.memberIndex($0)).count == 2 } })
        g.run(for: .millis(200))
        let orders = (0..<3).map { g.deliveries(g.memberIndex($0)).map(\.id.counter) }
        #expect(orders[0] == [1, 2] && orders[1] == [1, 2])
        if authenticate {
            #expect(orders[2] == [1, 2], "the forgery was dropped")
            #expect(Self.missingCounted(g, at: [g.memberIndex(2)]))
        } else {
            #expect(orders[2].first == 2, "the forgery won at the member it reached: replicas diverge (\(orders[2]))")
        }
    }

    @Test("a 'collected' fetch miss from a data server's id: a data server drops messages never committed",
          arguments: [false, true])
    func forgedCollectedFetchMiss(authenticate: Bool) throws {
        var g = Self.group(authenticate)
        for k in 0..<4 { _ = try g.publishAccepted(0, TestGroup.body(k)) }
        g.tickDue()
        // The data servers store the bodies; their reports wait (nothing is numbered yet).
        g.deliverAll(hold: { $0.kind == .dataReport })
        let victim = g.config.dataServers[1]
        #expect(g.dataServers[1].storedCount == 4)
        let publisher = SenderId(node: g.memberId(0), incarnation: 1)
        g.inject(to: victim, from: g.config.dataServers[0], kind: .fetchMiss) { w throws(EncodeError) in
            try FetchMiss(sender: publisher, firstCounter: 1, count: 1_000,
                          reason: .collected, checkpointSeq: Self.far).encode(into: &w)
        }
        g.deliverAll(hold: { $0.kind == .dataReport })
        if authenticate {
            #expect(g.dataServers[1].storedCount == 4, "nothing dropped")
            #expect(Self.missingCounted(g, at: [g.node(victim)]))
            g.release()
            try g.run(until: { g in (0..<2).allSatisfy { g.deliveries(g.memberIndex($0)).count == 4 } })
        } else {
            #expect(g.dataServers[1].storedCount == 0, "uncommitted messages deleted at the victim")
        }
    }

    @Test("a rogue member holding the group key still cannot steer servers: server kinds need the server tag")
    func rogueMemberCannotSteerServers() throws {
        var g = Self.group(true)
        try Self.publishAndDeliver(&g, 6)
        let rogue = DatagramAuthenticator(AuthSetup(groupKeys: [TestGroup.groupKey], serverKeys: nil, incarnation: .max / 2,
                                                    datagramBytesMax: g.config.datagramBytesMax))
        for to in g.config.dataServers + g.config.commitServers {
            g.inject(to: to, from: g.config.sequencer, kind: .heartbeat, epoch: g.sequencer.epoch, sealedBy: rogue) {
                w throws(EncodeError) in
                try Heartbeat(committedThrough: Self.far, checkpointSeq: Self.far, checkpointBytes: 0).encode(into: &w)
            }
        }
        g.settle()
        #expect(g.dataServers.allSatisfy { $0.storedCount == 6 })
        #expect((g.config.dataServers + g.config.commitServers).allSatisfy {
            (g.authCounters(g.node($0))?.serverTagRequired ?? 0) == 1
        })
        try Self.publishAndDeliver(&g, 2)
    }
}
