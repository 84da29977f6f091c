import Testing
@testable import SeqcastCore
import SeqcastWire

/// A sequencer that never heard a sender's commits (a standby, their runs truncated behind a
/// checkpoint) numbers on from what the data servers count committed (`SenderTally.committedBelow`,
/// simulator seed 65867), never from counter 1 and never past what they report.
@Suite("Numbering on from what data servers count committed")
struct CommittedBelowTests {
    /// Every data server reports `sender` held through 72, its lowest uncommitted counter 18.
    /// With `committedThrough`, the first server alone says it saw that much committed.
    static func reportFromEveryServer(_ g: inout TestGroup, _ sender: SenderId, pendingCounter: UInt64,
                                      committedThrough: UInt64 = 0) {
        let ts = g.sequencer.committedThrough
        for (i, ds) in g.config.dataServers.enumerated() {
            let incarnation = g.dataServers[i].incarnation
            let committed = i == 0 ? committedThrough : 0
            g.inject(to: g.config.sequencer, from: ds, kind: .dataReport) { w throws(EncodeError) in
                try DataReport.encode([DataReport.Entry(sender: sender, heldThrough: 72, pendingCounter: pendingCounter,
                                                        pendingTs: ts, aheadTs: .zero, committedThrough: committed)],
                                      incarnation: incarnation, into: &w)
            }
        }
        g.run(for: .millis(5))  // numbered, persisted, submitted
    }

    @Test("counters below every server's lowest uncommitted one are skipped: numbering starts at 18, ends at 72")
    func startsAtTheServersCommittedFrontier() {
        var g = TestGroup(members: 1)
        let sender = SenderId(node: NodeId(4_000), incarnation: 3)
        Self.reportFromEveryServer(&g, sender, pendingCounter: 18)
        // What went to one commit server, each run once (a retransmission repeats it).
        var seen = Set<UInt64>()
        let runs = g.sentPackets(kind: .commitSubmit, to: g.config.commitServers[0]).compactMap(\.batch)
            .flatMap(\.runs).filter { seen.insert($0.firstSeq.rawValue).inserted }.filter {
            if case .messages(let s, _) = $0.content { return s == sender }
            return false
        }
        let first: UInt64? = runs.first.map { if case .messages(_, let c) = $0.content { c } else { 0 } }
        #expect(first == 18)
        #expect(runs.reduce(0) { $0 + Int($1.count) } == 72 - 17)
        #expect(g.sequencer.senders[sender]?.nextCounter == 73)
    }

    @Test("no server knows of a commit (pending counter 0): nothing is skipped")
    func nothingSkippedWithoutACommittedFrontier() {
        var g = TestGroup(members: 1)
        let sender = SenderId(node: NodeId(4_000), incarnation: 3)
        Self.reportFromEveryServer(&g, sender, pendingCounter: 0)
        #expect((g.sequencer.senders[sender]?.nextCounter ?? 1) <= 73)
        let firsts = g.sentPackets(kind: .commitSubmit).compactMap(\.batch).flatMap(\.runs).compactMap { r -> UInt64? in
            if case .messages(let s, let c) = r.content, s == sender { return c }
            return nil
        }
        #expect(firsts.allSatisfy { $0 == 1 } , "numbering, if any, starts at counter 1: \(firsts)")
    }

    /// Simulator seed 1002 with the publish gate at three quarters of a store: no server held
    /// the sender's next counter, so no pending counter said how far it was committed.
    @Test("a server holding nothing uncommitted still says how far the stream is committed: nothing is numbered again")
    func committedThroughWithoutAPendingCounter() {
        var g = TestGroup(members: 1)
        let sender = SenderId(node: NodeId(4_000), incarnation: 3)
        Self.reportFromEveryServer(&g, sender, pendingCounter: 0, committedThrough: 72)
        #expect(g.sequencer.senders[sender]?.nextCounter == 73)
        let numbered = g.sentPackets(kind: .commitSubmit).compactMap(\.batch).flatMap(\.runs).filter {
            if case .messages(let s, _) = $0.content { return s == sender }
            return false
        }
        #expect(numbered.isEmpty, "committed counters numbered again: \(numbered)")
    }

    @Test("a server's committed frontier is a fact: it outlives that server's restart and a lower later report")
    func committedSeenSurvivesForgetting() {
        var t = SenderTally()
        let sender = SenderId(node: NodeId(4_000), incarnation: 3)
        t.update(server: 1, entry: DataReport.Entry(sender: sender, heldThrough: 40, pendingCounter: 0, pendingTs: .zero,
                                                    aheadTs: .zero, committedThrough: 40))
        #expect(t.committedBelow(servers: 3) == 41)
        t.forget(server: 1)
        t.update(server: 1, entry: DataReport.Entry(sender: sender, heldThrough: 0, pendingCounter: 0, pendingTs: .zero,
                                                    aheadTs: .zero, committedThrough: 0))
        #expect(t.committedBelow(servers: 3) == 41)
        // A pending counter above it wins.
        t.update(server: 2, entry: DataReport.Entry(sender: sender, heldThrough: 50, pendingCounter: 45,
                                                    pendingTs: SequenceNumber(9), aheadTs: .zero, committedThrough: 44))
        #expect(t.committedBelow(servers: 3) == 45)
    }
}
