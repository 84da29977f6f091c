import Testing
@testable import SeqcastCore
import SeqcastWire

/// The per-incarnation tables a member and a checkpoint carry are bounded by the nodes that
/// publish, not by every incarnation ever seen (`StreamTables`), and forget nothing that could
/// still decide a delivery.
@Suite struct StreamTablesTests {
    let lifetime: UInt64 = 100
    func sender(_ node: UInt32, _ incarnation: UInt32) -> SenderId { SenderId(node: NodeId(node), incarnation: incarnation) }

    @Test("an incarnation goes once a later one of its node has a message bound more than L after its last binding")
    func olderIncarnationRetiresAfterTheLifetime() {
        var t = StreamTables()
        t.messageBound(sender(5, 1), counter: 40, at: 1_000)
        t.messageBound(sender(5, 2), counter: 1, at: 1_010)
        // Within L of incarnation 1's last binding: a duplicate of one of its messages could
        // still be bound, so it stays.
        t.messageBound(sender(5, 2), counter: 2, at: 1_000 + lifetime)
        #expect(t.retireIdle(lifetime: lifetime) == 0)
        #expect(t.counter(of: sender(5, 1)) == 40)
        t.messageBound(sender(5, 2), counter: 3, at: 1_001 + lifetime)
        #expect(t.retireIdle(lifetime: lifetime) == 1)
        #expect(t.counter(of: sender(5, 1)) == 0 && t.delivered[sender(5, 1)] == nil)
        #expect(t.counter(of: sender(5, 2)) == 3)
    }

    @Test("an idle incarnation with no later one of its node is kept, however long it is idle")
    func idleIncarnationWithoutSuccessorIsKept() {
        var t = StreamTables()
        t.messageBound(sender(5, 1), counter: 7, at: 10)
        t.messageBound(sender(6, 1), counter: 1, at: 1_000_000)  // another node
        #expect(t.retireIdle(lifetime: lifetime) == 0)
        #expect(t.counter(of: sender(5, 1)) == 7)
    }

    @Test("an end of stream does not retire its node's other incarnations, and an ended one goes with its entry")
    func endOfStreamIsNotAMessageBinding() {
        var t = StreamTables()
        t.messageBound(sender(5, 2), counter: 9, at: 50)
        // An old incarnation's stream ended long after: ends come whenever the lifetime rule
        // catches up, so they prove nothing about which incarnation is the later one.
        t.endBound(sender(5, 1), lastCounter: 3, at: 50 + 5 * lifetime)
        #expect(t.retireIdle(lifetime: lifetime) == 0)
        #expect(t.ended[sender(5, 1)] == 3 && t.counter(of: sender(5, 2)) == 9)
        // A message of incarnation 2, more than L after incarnation 1's end: 1 goes, ended entry too.
        t.messageBound(sender(5, 2), counter: 10, at: 51 + 6 * lifetime)
        #expect(t.retireIdle(lifetime: lifetime) == 1)
        #expect(t.ended.isEmpty && t.delivered[sender(5, 1)] == nil)
        // Its end, if it is bound again, enters it again (nothing else depends on it).
        t.endBound(sender(5, 1), lastCounter: 3, at: 60 + 6 * lifetime)
        #expect(t.ended[sender(5, 1)] == 3 && t.delivered[sender(5, 1)]?.lastMessageSeq == 0)
    }

    @Test("a thousand incarnations of one publisher leave three entries; sweeping more often ends in the same table")
    func thousandIncarnationsLeaveABoundedTable() {
        var t = StreamTables()
        var seq: UInt64 = 0
        for incarnation in 1...1_000 as ClosedRange<UInt32> {
            for counter in 1...3 as ClosedRange<UInt64> {
                seq += 1
                t.messageBound(sender(5, incarnation), counter: counter, at: seq)
            }
            seq += 40  // other traffic between restarts
            if incarnation % 3 == 0 { t.retireIdle(lifetime: lifetime) }
        }
        t.retireIdle(lifetime: lifetime)
        // The latest incarnation, and the two whose last binding is within L of its latest
        // message (incarnations are 43 numbers apart, L is 100).
        #expect(t.count == 3, "\(t.count) entries")
        #expect(t.counter(of: sender(5, 1_000)) == 3)
        // The same stream swept at other numbers (as a member that joined later, or a table
        // swept more often) ends with the same table once both sweep at the same number.
        var u = StreamTables()
        var v = StreamTables()
        for i in 0..<200 as Range<UInt64> {
            let a = sender(UInt32(1 + i % 7), UInt32(i / 7 + 1))
            u.messageBound(a, counter: 1, at: i * 30 + 1)
            v.messageBound(a, counter: 1, at: i * 30 + 1)
            if i % 5 == 4 { v.retireIdle(lifetime: lifetime) }  // v sweeps more often: later sweeps catch up
        }
        u.retireIdle(lifetime: lifetime)
        v.retireIdle(lifetime: lifetime)
        #expect(u.sortedDelivered.map(\.0) == v.sortedDelivered.map(\.0))
        #expect(u.count == 7, "\(u.count) entries for 7 nodes (each one's previous incarnation is 210 numbers back)")
    }

    @Test("a checkpoint carries the last binding numbers, so a joiner forgets what the others forget")
    func checkpointImageRoundTripsTheTables() throws {
        let image = CheckpointImage(terminalSeq: SequenceNumber(640), interval: 64,
                                    delivered: [(sender(5, 1), DeliveredStream(counter: 4, lastSeq: 300, lastMessageSeq: 290)),
                                                (sender(5, 2), DeliveredStream(counter: 9, lastSeq: 600, lastMessageSeq: 600))],
                                    ended: [(sender(5, 1), 4)], snapshot: [1, 2, 3])
        let decoded = try #require(CheckpointImage.decode(image.encode()))
        #expect(decoded == image)
        var joined = StreamTables()
        joined.install(delivered: decoded.delivered, ended: decoded.ended)
        joined.messageBound(sender(5, 2), counter: 10, at: 401)
        #expect(joined.retireIdle(lifetime: lifetime) == 1 && joined.ended.isEmpty)
        // A last message number above the last binding, or a binding above the terminal
        // number, is refused: no run of a member writes either.
        var bad = image
        bad.delivered[0].1.lastMessageSeq = 301
        #expect(CheckpointImage.decode(bad.encode()) == nil)
        bad = image
        bad.delivered[1].1.lastSeq = 641
        bad.delivered[1].1.lastMessageSeq = 641
        #expect(CheckpointImage.decode(bad.encode()) == nil)
    }
}
