import Testing
@testable import SeqcastCore
import SeqcastWire

/// Publishers are back-pressured by the group's checkpoint lag (`GroupConfig.collectionLagMax`):
/// data servers free bodies only behind the checkpoint, so publishing past it filled every store
/// and dropped (measured on real processes: `seqcast bench` fell to a fifth of its rate).
@Suite("Back-pressure by the checkpoint lag")
struct CollectionBackPressureTests {
    /// Stores of 256 slots, checkpoints every 16: the lag allowed is 128 committed messages.
    static func group() -> TestGroup {
        TestGroup(checkpointServers: 1, members: 2) {
            $0.checkpointInterval = 16
            $0.limits.bodySlotsMax = 256
            $0.limits.senderWindowMax = 64
        }
    }

    /// Publishes one message per round from member 0 for `rounds` rounds, each round run until
    /// what was accepted is delivered; returns how many were refused as back-pressured.
    static func publishRounds(_ g: inout TestGroup, _ rounds: Int, drop: (Packet) -> Bool) throws -> Int {
        var refused = 0
        for r in 0..<rounds {
            switch g.publish(0, TestGroup.body(1_000 + r)) {
            case .accepted: break
            case .backPressured: refused += 1
            case .tooLarge: Issue.record("a small body was refused as too large")
            }
            let through = g.members[0].ledger.announcedThrough.rawValue + UInt64(g.members[0].unsequencedCount)
            try g.run(until: { $0.allDelivered(through: through) }, drop: drop)
        }
        return refused
    }

    @Test("with the checkpoint server's reports lost, publishing stops at collectionLagMax committed messages, no store drops; once reports flow it resumes")
    func gateClosesAndOpens() throws {
        var g = Self.group()
        let lagMax = try #require(g.config.collectionLagMax(interval: 16))
        #expect(lagMax == 128)
        let noReports: (Packet) -> Bool = { $0.kind == .checkpointReport }
        let refused = try Self.publishRounds(&g, 200, drop: noReports)

        #expect(g.sequencer.checkpointSeq == .zero, "no checkpoint reached the sequencer")
        let committed = g.members[0].ledger.announcedThrough.rawValue
        #expect(committed >= lagMax && committed <= lagMax + 1, "committed \(committed): numbering stopped at the lag")
        #expect(refused == 200 - Int(committed))
        #expect(g.members[0].output.counters.backPressuredByCollection == UInt64(refused))
        #expect(g.dataServers.allSatisfy { $0.output.counters.droppedStoreFull == 0 })

        // The reports flow again: the sequencer heartbeats the new checkpoint at once, data
        // servers collect behind it, and publishing resumes.
        g.run(for: g.config.timing.checkpointReportInterval)  // the checkpoint server reports again
        _ = try Self.publishRounds(&g, 100, drop: { _ in false })
        #expect(g.sequencer.checkpointSeq > .zero)
        #expect(g.members[0].ledger.announcedThrough.rawValue >= committed + 50)
        #expect(g.dataServers.allSatisfy { $0.output.counters.droppedStoreFull == 0 })
        #expect(g.memberDeliveries(1).map(\.seq.rawValue) == Array(1...g.members[0].ledger.announcedThrough.rawValue))
    }

    @Test("a new checkpoint is heartbeated at once, not at the next heartbeat interval")
    func checkpointHeartbeatedAtOnce() throws {
        var g = Self.group()
        _ = try g.publishMany(0, 16)
        try g.run(until: { $0.sequencer.checkpointSeq == SequenceNumber(16) })
        let reportAt = try #require(g.sentPackets(kind: .checkpointReport).filter { $0.to == g.config.sequencer }.last)
        let announced = g.sentPackets(kind: .heartbeat, from: g.config.sequencer).filter {
            $0.heartbeat?.checkpointSeq == SequenceNumber(16)
        }
        let first = try #require(announced.first)
        // The harness delivers without delay: the heartbeat leaves in the report's instant.
        #expect(first.sentAt == reportAt.sentAt, "heartbeat \(first.sentAt) after the report \(reportAt.sentAt)")
    }

    @Test("an interval raised by a control run above half a store raises the gate with it: numbering reaches the next checkpoint")
    func gateFollowsTheIntervalInForce() throws {
        var g = Self.group()
        g.requestCheckpointInterval(200)  // above the 128 that half a store allows
        let refused = try Self.publishRounds(&g, 260, drop: { _ in false })
        #expect(g.checkpointsTaken(g.checkpointIndex(0)).map(\.terminalSeq.rawValue).contains(200),
                "the checkpoint at 200 was reached (a gate of 128 would have stopped numbering short of it)")
        #expect(g.members[0].ledger.announcedThrough.rawValue > 200)
        #expect(refused < 60)
    }

    @Test("an interval lowered by a control run: the gate still lets numbering reach the next checkpoint of the new interval")
    func gateWaitsForTheNextCheckpointOfALoweredInterval() throws {
        // Stores of 256 (half: 128), checkpoints every 128 (the largest the layout allows), then
        // every 7 from the control run on. A gate of 128 past the checkpoint at 128 alone would
        // stop at 256, below the new interval's next checkpoint at 259: for good.
        var g = TestGroup(checkpointServers: 1, members: 2) {
            $0.checkpointInterval = 128
            $0.limits.bodySlotsMax = 256
            $0.limits.senderWindowMax = 64
        }
        _ = try Self.publishRounds(&g, 254, drop: { _ in false })
        try g.run(until: { $0.sequencer.checkpointSeq == SequenceNumber(128) })
        #expect(g.members[0].ledger.announcedThrough == SequenceNumber(254))
        g.requestCheckpointInterval(7)  // numbered 255: checkpoints at 259, 266, …
        let refused = try Self.publishRounds(&g, 40, drop: { _ in false })
        #expect(g.checkpointsTaken(g.checkpointIndex(0)).map(\.terminalSeq.rawValue).contains(259),
                "numbering reached the lowered interval's next checkpoint")
        #expect(g.members[0].ledger.announcedThrough.rawValue >= 259)
        #expect(refused < 40)
        // Once the checkpoint at 259 is reported, publishing goes on past it.
        g.run(for: g.config.timing.checkpointReportInterval)
        _ = try Self.publishRounds(&g, 5, drop: { _ in false })
        #expect(g.members[0].ledger.announcedThrough.rawValue > 259)
    }

    @Test("without checkpoint servers nothing is gated: more than half a store is published and committed")
    func noCheckpointServersNoGate() throws {
        var g = TestGroup(members: 2) {
            $0.limits.bodySlotsMax = 256
            $0.limits.senderWindowMax = 64
        }
        #expect(g.config.collectionLagMax(interval: 1_000) == nil)
        let refused = try Self.publishRounds(&g, 200, drop: { _ in false })
        #expect(refused == 0)
        #expect(g.members[0].output.counters.backPressuredByCollection == 0)
        #expect(g.members[0].ledger.announcedThrough == SequenceNumber(200))
    }
}
