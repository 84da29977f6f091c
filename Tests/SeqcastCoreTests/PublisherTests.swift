import Testing
@testable import SeqcastCore
import SeqcastWire

@Suite("Publisher: window, retransmission, fragmentation, lifetime")
struct PublisherTests {
    @Test("publisher: back-pressure when the window of unsequenced messages is full")
    func backPressure() throws {
        var g = TestGroup(members: 2) { $0.limits.senderWindowMax = 4 }
        let ids = try (0..<4).map { try g.publishAccepted(0, TestGroup.body($0)) }
        #expect(ids.count == 4)
        #expect(g.publish(0, TestGroup.body(4)) == .backPressured)
        #expect(g.members[0].unsequencedCount == 4)
        try g.publishAccepted(1, TestGroup.body(5))  // another member's window is its own

        try g.run(until: { $0.allDelivered(through: 5) })
        #expect(g.members[0].unsequencedCount == 0)
        let sequenced = g.events[g.memberIndex(0)].compactMap { e -> MessageId? in
            if case .sequenced(let id, _) = e { return id }
            return nil
        }
        #expect(sequenced == ids)
        try g.publishAccepted(0, TestGroup.body(6))  // room again once committed
    }

    @Test("publisher: a message above messageBytesMax is refused as tooLarge")
    func tooLarge() throws {
        var g = TestGroup(members: 2) { $0.limits.messageBytesMax = 3_000 }
        #expect(g.publish(0, TestGroup.body(1, size: 3_001)) == .tooLarge)
        #expect(g.members[0].unsequencedCount == 0)
        let body = TestGroup.body(2, size: 3_000)
        let id = try g.publishAccepted(0, body)
        #expect(id.counter == 1, "the refused message took no counter")
        try g.run(until: { $0.allDelivered(through: 1) })
        #expect(g.memberDeliveries(1).map(\.bodyDigest) == [TestGroup.digest(body)])
    }

    @Test("publisher: an unsequenced message is retransmitted after senderRetransmit with the same id and timestamp")
    func retransmission() throws {
        var g = TestGroup(members: 2)
        _ = try g.publishAccepted(0, TestGroup.body(1))
        try g.run(until: { $0.allDelivered(through: 1) })
        #expect(g.members[0].ledger.announcedThrough == SequenceNumber(1))

        // The first send of counter 2 reaches no data server.
        let x = try g.publishAccepted(0, TestGroup.body(2))
        g.tickDue()
        let firstSend = g.now
        let dataServers = g.config.dataServers
        let loseFirst: (Packet) -> Bool = {
            $0.carries(x.sender, counter: 2) && $0.sentAt == firstSend && dataServers.contains($0.to)
        }
        // Meanwhile the group moves on: the publisher learns of a later commit.
        g.advance(by: .micros(10))
        try g.publishAccepted(1, TestGroup.body(3))
        g.run(for: .millis(5), drop: loseFirst)
        #expect(g.members[0].ledger.announcedThrough == SequenceNumber(2))
        #expect(g.members[0].unsequencedCount == 1)

        try g.run(until: { $0.allDelivered(through: 3) }, drop: loseFirst)
        let ds = g.config.dataServers[0]
        let sends = g.sentPackets(kind: .data, from: g.memberId(0), to: ds).filter { $0.carries(x.sender, counter: 2) }
        #expect(sends.count == 2)
        if sends.count == 2 {
            #expect(sends[1].sentAt.since(sends[0].sentAt) >= g.config.timing.senderRetransmit)
            #expect(sends[0].data?.logicalTs == SequenceNumber(1))
            #expect(sends[1].data?.logicalTs == SequenceNumber(1), "the timestamp of the first send, not the current one")
            #expect(sends[1].data?.bodies == sends[0].data?.bodies)
        }
        #expect(g.memberDeliveries(1).last?.id == x)
        #expect(g.members[0].output.counters.retransmissions >= 1)

        // Once sequenced, it is not sent again.
        g.run(for: .millis(50))
        #expect(g.sentPackets(kind: .data, from: g.memberId(0), to: ds).filter { $0.carries(x.sender, counter: 2) }.count == 2)
    }

    @Test("publisher: a retransmission round resends at most retransmitDatagramsMax datagrams, oldest first; the rest waits and still commits")
    func retransmissionRoundIsBounded() throws {
        var g = TestGroup(members: 2) { $0.limits.retransmitDatagramsMax = 8 }
        // Ten messages of four fragments each: 40 datagrams, five times one round's budget.
        let ids = try (0..<10).map { try g.publishAccepted(0, TestGroup.body($0, size: 5_000)) }
        let member = g.memberId(0)
        let ds = g.config.dataServers[0]
        // No data server hears the publisher for a while: nothing is numbered, every round is due.
        let cutOff = g.now + .millis(200)
        let fromPublisher: (Packet) -> Bool = { $0.kind == .data && $0.from == member && $0.sentAt < cutOff }
        g.run(for: .millis(200), drop: fromPublisher)
        let sends = g.sentPackets(kind: .data, from: member, to: ds).compactMap { p in p.data.map { (p.sentAt, $0) } }
        let firstSend = sends.first?.0
        let rounds = Dictionary(grouping: sends.filter { $0.0 != firstSend }, by: \.0)
        #expect(sends.filter { $0.0 == firstSend }.count == 40, "the first send is not a retransmission: all of it goes")
        #expect(rounds.count >= 3, "several retransmission rounds in 200 ms")
        for (_, round) in rounds {
            #expect(round.count <= 8, "a round stays within its budget")
            // Oldest first: a round resends the head of the window, never skipping to later counters.
            let counters = Set(round.map(\.1.counters.lowerBound))
            #expect(counters.contains(1), "the head is in every round")
        }
        #expect(g.members[0].output.counters.retransmitsDeferred > 0)

        // The network heals: the deferred rest goes out in later rounds and everything commits.
        try g.run(until: { $0.allDelivered(through: 10) })
        #expect(g.memberDeliveries(1).map(\.id) == ids)
    }

    @Test("fragmentation: a message larger than a datagram travels as fragments and is delivered intact")
    func fragmentation() throws {
        var g = TestGroup(members: 3)
        let body = (0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 8) }
        let id = try g.publishAccepted(0, body)
        let m2 = g.memberId(2)
        // Member 2 misses one fragment and must repair the whole message from a data server.
        let loseFragment: (Packet) -> Bool = { $0.kind == .data && $0.to == m2 && $0.data?.fragmentIndex == 2 }
        try g.run(until: { $0.allDelivered(through: 1) }, drop: loseFragment)

        let fragments = g.sentPackets(kind: .data, from: g.memberId(0), to: g.config.dataServers[0]).compactMap(\.data)
        #expect(fragments.count == 4)
        #expect(fragments.map(\.fragmentIndex) == [0, 1, 2, 3])
        #expect(fragments.allSatisfy { $0.fragmentCount == 4 && $0.counters == 1...1 && $0.sender == id.sender })
        #expect(fragments.flatMap { $0.bodies.flatMap { $0 } } == body)
        #expect(g.sentPackets(kind: .data, from: g.memberId(0)).allSatisfy { $0.bytes.count <= 1_472 })

        for r in g.receiverIndices {
            #expect(g.deliveries(r).map(\.bodyDigest) == [TestGroup.digest(body)])
            #expect(g.receiver(r).app.deliveredBytes == 5_000)
        }
        #expect(g.members[2].output.counters.fetchesSent >= 1)
        #expect(g.sentPackets(kind: .messageReply, to: m2).count >= 4)
    }

    @Test("lifetime: a counter nobody holds ends the stream; orphans are collected; the rest continues as a new incarnation")
    func lifetimeEndsStream() throws {
        // Regression: data servers once re-reported a sender only while `heldThrough >
        // committedThrough`, so a gap just above a fully committed prefix was never reported
        // (no `aheadTs`) and the stream never ended.
        try lifetimeScenario()
    }

    @Test("lifetime: a publisher whose timestamp is more than L behind has its stream ended at once and continues")
    func lifetimeStaleTimestamp() throws {
        var g = TestGroup(members: 1) { $0.lifetime = 16 }
        // Twice 10 messages: each batch's timestamp keeps it within L.
        _ = try g.publishMany(0, 10)
        try g.run(until: { $0.allDelivered(through: 10) })
        _ = try g.publishMany(0, 10, tag: 10)
        try g.run(until: { $0.allDelivered(through: 20) })
        #expect(g.memberDeliveries(0).map(\.id.sender).allSatisfy { $0 == g.members[0].sender }, "no stream end yet")

        // A member that starts now and publishes before hearing any commit stamps 0.
        let m = g.addMember()
        let body = TestGroup.body(77)
        let y = try g.publishAccepted(m, body)
        let old = y.sender
        let next = SenderId(node: old.node, incarnation: old.incarnation + 1)
        try g.run(until: { g in
            g.members[m].unsequencedCount == 0 && g.allDelivered(through: g.sequencer.nextSeq.rawValue - 1)
        })
        let first = g.sentPackets(kind: .data, from: g.memberId(m)).compactMap(\.data).filter { $0.sender == old }
        #expect(!first.isEmpty && first.allSatisfy { $0.logicalTs == .zero })

        // Counter 1 can never be numbered within 0 + L: the stream ends before it (lastCounter 0).
        let ends = g.receiverIndices.map { g.controlsApplied($0).filter {
            if case .endOfStream(old, 0) = $0.run.content { true } else { false }
        }.map(\.seq) }
        #expect(ends.allSatisfy { $0.count == 1 && $0 == ends[0] })
        #expect(ends.first?.first.map { $0.rawValue > 16 } == true)
        let endings = g.events[g.memberIndex(m)].compactMap { e -> (SenderId, UInt64, SenderId, Int)? in
            if case .streamEnded(let s, let last, let n, let moved, _) = e { return (s, last, n, moved) }
            return nil
        }
        #expect(endings.count == 1)
        #expect(endings.first.map { $0.0 == old && $0.1 == 0 && $0.2 == next && $0.3 == 1 } == true)
        for i in 0..<3 {
            #expect(g.collected(g.dataIndex(i)).contains { $0.id == y && $0.seq == nil }, "the orphan is collected")
        }
        // Republished as next:1 with a timestamp it now knows, and delivered everywhere once.
        for r in g.receiverIndices {
            let mine = g.deliveries(r).filter { $0.id.sender.node == old.node }
            #expect(mine.map(\.id) == [MessageId(sender: next, counter: 1)])
            #expect(mine.map(\.bodyDigest) == [TestGroup.digest(body)])
        }
        let again = g.sentPackets(kind: .data, from: g.memberId(m)).compactMap(\.data).filter { $0.sender == next }
        #expect(!again.isEmpty && again.allSatisfy { $0.logicalTs.rawValue >= 20 })
        #expect(g.memberDeliveries(m).map(\.seq.rawValue) == Array(1...g.sequencer.committedThrough.rawValue).filter {
            $0 != ends.first?.first?.rawValue
        })
        g.expectWithinLifetime()
    }

    @Test("lifetime (claim 19): a data server that deletes an expired orphan still lets the sequencer end its stream")
    func expiredOrphanStillEndsStream() throws {
        // Regression: deleting an expired, never-numbered counter once erased the timestamp
        // bound from every later report, so the sequencer could never end the stream; data
        // servers now keep reporting the deleted counter's timestamp (`SenderHoldings.expired`).
        try expiredOrphanScenario()
    }

    func expiredOrphanScenario() throws {
        var g = TestGroup(members: 2) {
            $0.lifetime = 16
            $0.reportQuorum = 2
        }
        // a:1 (timestamp 0) reaches data server 11 only, and its publisher dies: fewer than K
        // servers will ever hold it.
        let a1 = try g.publishAccepted(0, TestGroup.body(1))
        let old = a1.sender
        let ds1 = g.config.dataServers[0]
        g.tickDue()
        g.crash(g.memberIndex(0))
        let onlyDs1: (Packet) -> Bool = { $0.carries(old, counter: 1) && $0.to != ds1 }
        g.deliverAll(drop: onlyDs1)
        #expect(g.dataServers[0].storedCount == 1)

        // Numbering moves past 0 + L (two batches, each within its own lifetime window).
        _ = try g.publishMany(1, 10, tag: 10)
        try g.run(until: { $0.sequencer.committedThrough == SequenceNumber(10) }, drop: onlyDs1)
        _ = try g.publishMany(1, 10, tag: 30)
        try g.run(until: { $0.sequencer.committedThrough == SequenceNumber(20) }, drop: onlyDs1)
        #expect(g.sequencer.nextSeq.rawValue > 16)

        // Data server 11's reports are lost until a heartbeat has made it delete the expired a:1.
        let window = Nanoseconds(g.config.timing.heartbeatInterval.value + 1_000_000)
        let until = g.now + window
        let lose: (Packet) -> Bool = { p in
            onlyDs1(p) || (p.kind == .dataReport && p.from == ds1 && p.sentAt < until)
        }
        g.run(for: window, drop: lose)

        // The stream must still end: a:1 can never be numbered (held by 1 < K, and past 0 + L).
        try g.run(until: { g in g.receiverIndices.allSatisfy { r in
            g.down.contains(r) || g.controlsApplied(r).contains {
                if case .endOfStream(old, 0) = $0.run.content { true } else { false }
            }
        } }, drop: lose, timeMax: .millis(300))
        let quiet = g.now
        g.run(for: .millis(50), drop: lose)
        let later = g.sentPackets(kind: .dataReport, from: ds1).filter {
            $0.sentAt > quiet && ($0.reportEntries?.contains { $0.sender == old } ?? false)
        }
        #expect(later.isEmpty, "an ended stream is not reported any more")
        #expect(g.collected(g.dataIndex(0)).contains { $0.id == a1 && $0.seq == nil }, "a:1 was deleted, never numbered")
    }

    func lifetimeScenario() throws {
        var g = TestGroup(members: 2) { $0.lifetime = 16 }
        let a1 = try g.publishAccepted(0, TestGroup.body(1))
        try g.run(until: { $0.allDelivered(through: 1) })
        let old = a1.sender

        // Counter 2 never reaches a data server, neither first nor in any retransmission.
        let dataServers = g.config.dataServers
        let loseCounter2: (Packet) -> Bool = { $0.carries(old, counter: 2) && dataServers.contains($0.to) }
        let body2 = TestGroup.body(2)
        let body3 = TestGroup.body(3)
        try g.publishAccepted(0, body2)
        g.tickDue()
        g.deliverAll(drop: loseCounter2)
        g.advance(by: .micros(20))
        try g.publishAccepted(0, body3)
        g.tickDue()
        g.deliverAll(drop: loseCounter2)
        #expect(g.dataServers.allSatisfy { $0.storedCount == 2 }, "each holds a:1 and a:3")

        // Other traffic pushes numbering past 1 + L.
        g.advance(by: .micros(20))
        _ = try g.publishMany(1, 20, tag: 100)
        do {
            try g.run(until: { g in
                g.events[g.memberIndex(0)].contains { if case .streamEnded = $0 { true } else { false } }
            }, drop: loseCounter2, timeMax: .millis(500))
        } catch {
            let why = g.sequencer.diagnosis(old) + "; " + g.dataServers[0].diagnosis(MessageId(sender: old, counter: 2))
            Issue.record("the stream never ended: \(why)")
            throw error
        }

        let next = SenderId(node: old.node, incarnation: old.incarnation + 1)
        let endings = g.events[g.memberIndex(0)].compactMap { e -> (SenderId, UInt64, SenderId, Int, SequenceNumber)? in
            if case .streamEnded(let s, let last, let n, let moved, let ts) = e { return (s, last, n, moved, ts) }
            return nil
        }
        #expect(endings.count == 1)
        let ending = try #require(endings.first)
        #expect(ending.0 == old && ending.1 == 1 && ending.2 == next && ending.3 == 2)
        #expect(g.members[0].sender == next)
        let ts = ending.4
        try g.run(until: { g in g.members[0].unsequencedCount == 0 && g.allDelivered(through: g.sequencer.nextSeq.rawValue - 1) },
                      drop: loseCounter2)

        // The end of the stream is in the total order, at one number for everyone.
        let ends = g.receiverIndices.map { g.controlsApplied($0).filter {
            if case .endOfStream(old, 1) = $0.run.content { true } else { false }
        }.map(\.seq) }
        #expect(ends.allSatisfy { $0.count == 1 && $0 == ends[0] })
        // Data servers collected the orphan a:3 (never numbered).
        for i in 0..<3 {
            #expect(g.collected(g.dataIndex(i)).contains { $0.id == MessageId(sender: old, counter: 3) && $0.seq == nil })
        }
        // a:2 and a:3 were republished as next:1 and next:2 and delivered, with their bodies.
        for r in g.receiverIndices {
            let mine = g.deliveries(r).filter { $0.id.sender.node == old.node }
            #expect(mine.map(\.id) == [a1, MessageId(sender: next, counter: 1), MessageId(sender: next, counter: 2)])
            #expect(mine.map(\.bodyDigest) == [TestGroup.body(1), body2, body3].map(TestGroup.digest))
        }
        #expect(g.memberDeliveries(1) == g.memberDeliveries(0))
        // Republished with the timestamp the event names (the publisher's knowledge at the end).
        let republished = g.sentPackets(kind: .data, from: g.memberId(0), to: dataServers[0]).compactMap(\.data)
            .filter { $0.sender == next }
        #expect(!republished.isEmpty)
        #expect(republished.allSatisfy { $0.logicalTs == ts })
        #expect(ts >= SequenceNumber(18), "it knew the commits that pushed numbering past 1 + L")
        g.expectWithinLifetime()
    }
}

@Suite("Configuration")
struct ConfigTests {
    @Test("config: a commit quorum below a majority (or above C) is refused, naming the majority")
    func commitQuorum() throws {
        let three = TestGroup.makeConfig { $0.commitQuorum = 1 }
        #expect(throws: ConfigError.commitQuorum(q: 1, commitServers: 3, majority: 2)) { try three.validate() }
        do {
            try three.validate()
        } catch {
            #expect(error.description.contains("majority (2)"))
        }
        let five = TestGroup.makeConfig(commitServers: 5) { $0.commitQuorum = 2 }
        #expect(throws: ConfigError.commitQuorum(q: 2, commitServers: 5, majority: 3)) { try five.validate() }
        let tooMany = TestGroup.makeConfig { $0.commitQuorum = 4 }
        #expect(throws: ConfigError.self) { try tooMany.validate() }
        for q in 2...3 {
            let ok = TestGroup.makeConfig { $0.commitQuorum = q }
            #expect(throws: Never.self) { try ok.validate() }
        }
        #expect(TestGroup.makeConfig().commitQuorum == 2, "the default is a majority")
    }

    @Test("config: a publish gate (collection lag) outside 1...100 % of a store is refused")
    func collectionLagPercent() {
        for p in [-1, 0, 101] {
            let bad = TestGroup.makeConfig { $0.limits.collectionLagPercent = p }
            #expect(throws: ConfigError.collectionLagPercent(p)) { try bad.validate() }
        }
        for p in [1, 50, 75, 100] {
            let ok = TestGroup.makeConfig { $0.limits.collectionLagPercent = p }
            #expect(throws: Never.self) { try ok.validate() }
        }
    }

    @Test("config: a report quorum K outside 1...D is refused")
    func reportQuorum() throws {
        for k in [0, 4, -1] {
            let c = TestGroup.makeConfig { $0.reportQuorum = k }
            #expect(throws: ConfigError.reportQuorum(k: k, dataServers: 3)) { try c.validate() }
        }
        for k in 1...3 {
            let c = TestGroup.makeConfig { $0.reportQuorum = k }
            #expect(throws: Never.self) { try c.validate() }
        }
    }
}
