import Testing
@testable import SeqcastCore
import SeqcastWire

/// `CollectionGrace`: a checkpoint becomes what servers collect behind only a grace time after
/// they first heard of it; a store running short takes every heard one at once.
@Suite struct CollectionGraceTests {
    let grace = Nanoseconds.millis(30)
    func at(_ ms: UInt64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }

    @Test func aCheckpointIsEligibleAGraceTimeAfterItWasFirstHeard() {
        var g = CollectionGrace(grace: grace)
        g.heard(SequenceNumber(256), now: at(0))
        g.heard(SequenceNumber(256), now: at(20))  // heard again: the first hearing counts
        #expect(g.eligible == .zero && g.deadline == at(30))
        var rose = g.advance(now: at(29))
        #expect(!rose && g.eligible == .zero)
        g.heard(SequenceNumber(512), now: at(29))
        g.heard(SequenceNumber(100), now: at(29))  // older than one heard: nothing
        rose = g.advance(now: at(30))
        #expect(rose && g.eligible == SequenceNumber(256))
        #expect(g.newest == SequenceNumber(512) && g.deadline == at(59))
        rose = g.advance(now: at(100))
        #expect(rose && g.eligible == SequenceNumber(512) && g.deadline == nil)
        rose = g.advance(now: at(200))
        #expect(!rose)
    }

    @Test func hurryMakesEveryHeardCheckpointEligible() {
        var g = CollectionGrace(grace: grace)
        var rose = g.hurry()
        #expect(!rose)
        g.heard(SequenceNumber(256), now: at(0))
        g.heard(SequenceNumber(512), now: at(1))
        rose = g.hurry()
        #expect(rose && g.eligible == SequenceNumber(512) && g.deadline == nil)
    }

    @Test func noGraceCollectsAtOnceAndTheWaitingListIsBounded() {
        var none = CollectionGrace(grace: Nanoseconds(0))
        let rose = none.heard(SequenceNumber(7), now: at(0))
        #expect(rose, "no grace: eligible at once")
        #expect(none.eligible == SequenceNumber(7) && none.deadline == nil)
        var g = CollectionGrace(grace: grace)
        let rises = (1...(CollectionGrace.pendingMax + 2)).map { g.heard(SequenceNumber(UInt64($0)), now: at(0)) }
        #expect(rises == Array(repeating: false, count: CollectionGrace.pendingMax) + [true, true])
        // Two more than fit: the two oldest went through early.
        #expect(g.eligible == SequenceNumber(2) && g.newest == SequenceNumber(UInt64(CollectionGrace.pendingMax + 2)))
    }

    @Test("a data server whose store fills while a checkpoint waits out its grace collects behind it at once")
    func aFullStoreDoesNotWait() {
        var f = EightSlotServer()
        // Four large bodies of eight slots, committed; a checkpoint at 2 waits out its grace.
        for k in 1...4 as ClosedRange<UInt64> { f.data(k) }
        f.commit(1...4)
        f.heartbeat(checkpoint: 2, committed: 4)
        #expect(f.server.storedCount == 4, "half the store free: collection waits")
        for k in 5...8 as ClosedRange<UInt64> { f.data(k) }
        #expect(f.server.storedCount == 8 && f.server.output.counters.droppedStoreFull == 0)
        // Full: the next body makes the waiting checkpoint collected now instead of a drop.
        f.data(9)
        #expect(f.server.storedCount == 7, "1 and 2 collected, 9 stored")
        #expect(f.server.output.counters.droppedStoreFull == 0)
        // A store a quarter free or less collects at the next heartbeat, without waiting.
        f.heartbeat(checkpoint: 3, committed: 4)
        #expect(f.server.storedCount == 6, "3 collected at once: one slot of eight was free")
    }

    @Test("a full store's hurried collection that covers the body being stored drops it as collected, and keeps the rest")
    func aHurriedCollectionCoveringTheBodyDropsIt() {
        var f = EightSlotServer()
        // Counter 2 missed; 1…5 committed; the checkpoint at 2 waits out its grace.
        for k in [1, 3, 4, 5] as [UInt64] { f.data(k) }
        f.commit(1...5)
        f.heartbeat(checkpoint: 2, committed: 5)
        for k in 6...9 as ClosedRange<UInt64> { f.data(k) }
        #expect(f.server.storedCount == 8)
        // The missed counter 2 arrives (a peer's reply) into a full store: collecting behind
        // the checkpoint makes room and covers 2 itself, which is then not stored (it would
        // sit below what the server collected, never collected again).
        f.data(2)
        #expect(f.server.storedCount == 7, "1 collected; 2 not stored")
        #expect(f.server.output.counters.droppedStoreFull == 0)
        f.data(10)
        #expect(f.server.storedCount == 8, "the freed slot takes the next body")
    }
}

/// A data server with eight body slots, fed one sender's 600-byte bodies (one large slot each),
/// its commits and heartbeats, all at one instant (the grace never runs out by itself).
struct EightSlotServer {
    let config: GroupConfig
    let sender = SenderId(node: NodeId(41), incarnation: 1)
    var server: DataServer
    let now = Instant(nanoseconds: 1_000_000)

    init() {
        var c = TestGroup.makeConfig { $0.lifetime = 1_000 }
        c.limits.bodySlotsMax = 8
        config = c
        server = DataServer(config: c, node: NodeId(11), incarnation: 1, seed: 1, now: .zero)
    }

    mutating func receive(_ kind: MessageKind, from source: NodeId, _ body: (inout WireWriter) throws(EncodeError) -> Void) {
        let t = now
        TestGroup.encode(Header(kind: kind, groupId: config.groupId, fingerprint: config.fingerprint, epoch: Epoch(1),
                                source: source), body)
            .withUnsafeBytes { server.receive($0, from: PeerAddress(UInt64(source.rawValue)), now: t) }
    }

    mutating func data(_ counter: UInt64) {
        let s = sender
        receive(.data, from: s.node) { w throws(EncodeError) in
            _ = try DataMessage.encodeFixed(sender: s, firstCounter: counter, logicalTs: .zero, count: 1, into: &w)
            try TestGroup.appendFilledBody(UInt8(truncatingIfNeeded: counter), 600, into: &w)
        }
    }

    /// Counters `counters` committed at the same numbers.
    mutating func commit(_ counters: ClosedRange<UInt64>) {
        let s = sender
        receive(.commit, from: config.sequencer) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: SequenceNumber(counters.upperBound), runs: [
                SequenceRun(firstSeq: SequenceNumber(counters.lowerBound), count: UInt32(counters.count),
                            content: .messages(sender: s, firstCounter: counters.lowerBound))], into: &w)
        }
    }

    mutating func heartbeat(checkpoint: UInt64, committed: UInt64) {
        receive(.heartbeat, from: config.sequencer) { w throws(EncodeError) in
            try Heartbeat(committedThrough: SequenceNumber(committed), checkpointSeq: SequenceNumber(checkpoint),
                          checkpointBytes: 0).encode(into: &w)
        }
    }
}
