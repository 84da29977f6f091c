import Testing
@testable import SeqcastCore
import SeqcastWire

@Suite("Retry backoff")
struct RetryBackoffTests {
    @Test("a retry delay doubles from its base up to its maximum, jittered within [d, 2d), and resets")
    func doublesJittersAndResets() {
        var b = RetryBackoff(base: .millis(4), max: .millis(10))
        var prng = Prng(seed: 7)
        let nominal: [UInt64] = [4, 8, 10, 10, 10]
        for d in nominal {
            #expect(b.nominal == .millis(d))
            let delay = b.next(&prng)
            #expect(delay >= .millis(d) && delay < .millis(2 * d))
        }
        #expect(b.attempt == 5)
        b.reset()
        #expect(b.nominal == .millis(4) && b.attempt == 0)
    }

    @Test("publisher: while nothing commits, retransmission rounds back off; a commit brings the base schedule back")
    func publisherBacksOffWhileTheSequencerIsUnreachable() throws {
        var g = TestGroup(members: 2)
        _ = try g.publishAccepted(0, TestGroup.body(1))
        try g.run(until: { $0.allDelivered(through: 1) })
        // The sequencer is gone: nothing commits, the publisher keeps resending message 2.
        g.crash(g.sequencerIndex)
        let x = try g.publishAccepted(0, TestGroup.body(2))
        g.run(for: .millis(400))
        let ds = g.config.dataServers[0]
        let sends = g.sentPackets(kind: .data, from: g.memberId(0), to: ds).filter { $0.carries(x.sender, counter: 2) }
        let gaps = zip(sends.dropFirst(), sends).map { $0.sentAt.since($1.sentAt) }
        #expect(gaps.count >= 4)
        let timing = g.config.timing
        #expect(gaps.first == timing.senderRetransmit, "the first retransmission keeps the base delay")
        let bound = Nanoseconds(timing.senderRetransmitMax.value * 2 + 1_000_000)
        #expect(gaps.allSatisfy { $0 < bound }, "bounded by twice the maximum")
        #expect(gaps.suffix(3).allSatisfy { $0 >= timing.senderRetransmitMax }, "backed off to the maximum")
        // A fixed 15 ms schedule would have sent ~26 times in 400 ms.
        #expect(sends.count < 12)

        #expect(g.members[0].publisher.retransmitDelay >= timing.senderRetransmitMax)
        g.restartSequencer()
        try g.run(until: { $0.allDelivered(through: 2) })
        #expect(g.members[0].unsequencedCount == 0)
        #expect(g.members[0].publisher.retransmitDelay == timing.senderRetransmit, "back to the base schedule")
    }
}

@Suite("Outbox")
struct OutboxTests {
    @Test("a full outbox doubles up to 16 times its slots, then refuses and counts; removeAll keeps the slots")
    func growsToItsCeiling() {
        var o = Outbox(slotBytes: 256, slotCountMax: 2)
        let header = Header(kind: .heartbeat, groupId: 1, epoch: Epoch(1), source: NodeId(1))
        var accepted = 0
        for _ in 0..<40 where o.send(to: .commitGroup, header: header, body: { w throws(EncodeError) in try w.writeU64(7) }) {
            accepted += 1
        }
        #expect(accepted == 32 && o.slotCountCeiling == 32)
        #expect(o.droppedFull == 8)
        #expect(o.grown == 4, "2 -> 4 -> 8 -> 16 -> 32")
        o.removeAll()
        #expect(o.isEmpty && o.slotCount == 32)
        let again = o.send(to: .commitGroup, header: header, body: { w throws(EncodeError) in try w.writeU64(7) })
        #expect(again)
    }
}

@Suite("No silent drops between a role and the wire")
struct NoSilentDropTests {
    @Test("a publisher whose outbox reaches its ceiling sends the rest on the next tick, not after a retransmission timeout")
    func publisherKeepsWhatDidNotFit() throws {
        // One outbox slot: the outbox grows to 16 datagrams at most; 400 messages of 64 B need
        // about 20 datagrams, so the first flush cannot take them all.
        var g = TestGroup(members: 2) { c in
            c.limits.outboxSlotsMax = 1
            c.limits.bodySlotsMax = 2_048
        }
        for k in 0..<400 { try g.publishAccepted(0, TestGroup.body(k, size: 64)) }
        let start = g.now
        try g.run(until: { $0.allDelivered(through: 400) })
        #expect(g.members[0].output.outbox.droppedFull > 0, "the ceiling was reached")
        #expect(g.members[0].output.counters.retransmissions == 0, "nothing waited for the retransmission timer")
        #expect(g.now.since(start) < g.config.timing.senderRetransmit)
    }
}
