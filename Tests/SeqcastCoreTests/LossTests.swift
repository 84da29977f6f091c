import Testing
@testable import SeqcastCore
import SeqcastWire

@Suite("Loss: convergence under a lossy network")
struct LossTests {
    /// Every k-th datagram on the whole network is lost (acks, commits, repairs alike) while
    /// three members publish (some messages fragmented) and one joins late; then the network
    /// heals and the group must converge. Deterministic: no randomness.
    @Test("claims 5/8/9/16: under periodic loss every receiver converges to one stream and one state",
          arguments: [3, 5, 7, 11])
    func periodicLoss(k: Int) throws {
        var g = TestGroup(checkpointServers: 2, members: 3) {
            $0.checkpointInterval = 4
            $0.reportQuorum = 2
        }
        var count = 0
        var lossy = true
        let lose: (Packet) -> Bool = { _ in
            count += 1
            return lossy && count % k == 0
        }
        var published = 0
        for round in 0..<6 {
            for m in 0..<3 {
                for x in 0..<(1 + (round + m) % 3) {
                    try g.publishAccepted(m, TestGroup.body(round * 100 + m * 10 + x, size: x == 2 ? 3_000 : 40))
                    published += 1
                }
                g.advance(by: .micros(50))
            }
            g.run(for: .millis(1), drop: lose)
        }
        _ = g.addMember(joining: true)
        g.run(for: .millis(30), drop: lose)
        lossy = false
        let n = UInt64(published)
        try g.run(until: { g in g.allDelivered(through: n) && g.members.allSatisfy { $0.unsequencedCount == 0 } })

        #expect(g.sequencer.committedThrough == SequenceNumber(n))
        // Agreement: whatever any receiver delivered at a number, every other delivered the same
        // there (a receiver that fell behind garbage collection installed a checkpoint instead).
        var bySeq: [SequenceNumber: Delivery] = [:]
        for r in g.receiverIndices {
            for d in g.deliveries(r) {
                if let other = bySeq[d.seq] {
                    #expect(other == d, "\(g.nodes[r].id) at \(d.seq)")
                } else {
                    bySeq[d.seq] = d
                }
            }
        }
        #expect(bySeq.count == published, "every number was delivered somewhere")
        let final = try #require(bySeq[SequenceNumber(n)]?.stateDigest)
        for r in g.receiverIndices {
            #expect(g.receiver(r).deliveredThrough == SequenceNumber(n))
            #expect(g.receiver(r).app.stateDigest == final, "\(g.nodes[r].id) reached the same state")
            #expect(g.receiver(r).ledger.conflicts == 0)
        }
        g.expectWithinLifetime()
    }
}
