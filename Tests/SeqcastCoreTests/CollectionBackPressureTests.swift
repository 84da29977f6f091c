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
        let resumed = try Self.publishRounds(&g, 100, drop: { _ in false })
        #expect(g.sequencer.checkpointSeq > .zero)
        #expect(resumed < 100)
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

    @Test("without checkpoint servers nothing is gated (nothing is collected by checkpoints)")
    func noCheckpointServersNoGate() {
        let g = TestGroup(members: 1)
        #expect(g.config.collectionLagMax(interval: 1_000) == nil)
    }
}
