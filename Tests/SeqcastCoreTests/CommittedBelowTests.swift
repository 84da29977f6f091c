import Testing
@testable import SeqcastCore
import SeqcastWire

/// A sequencer that never heard a sender's commits (a standby, their runs truncated behind a
/// checkpoint) numbers on from what the data servers count committed (`SenderTally.committedBelow`,
/// simulator seed 65867), never from counter 1 and never past what they report.
@Suite("Numbering on from what data servers count committed")
struct CommittedBelowTests {
    /// Every data server reports `sender` held through 72, its lowest uncommitted counter 18.
    static func reportFromEveryServer(_ g: inout TestGroup, _ sender: SenderId, pendingCounter: UInt64) {
        let ts = g.sequencer.committedThrough
        for (i, ds) in g.config.dataServers.enumerated() {
            let incarnation = g.dataServers[i].incarnation
            g.inject(to: g.config.sequencer, from: ds, kind: .dataReport) { w throws(EncodeError) in
                try DataReport.encode([DataReport.Entry(sender: sender, heldThrough: 72, pendingCounter: pendingCounter,
                                                        pendingTs: ts, aheadTs: .zero)],
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
}
