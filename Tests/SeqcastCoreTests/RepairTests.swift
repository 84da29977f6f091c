import Testing
@testable import SeqcastCore
import SeqcastWire

@Suite("Repair: NAKs for ids and bodies, heartbeats")
struct RepairTests {
    @Test("claim 9: a member recovers an unknown id from a commit server")
    func recoversIdFromCommitServer() throws {
        var g = TestGroup(members: 2)
        let m1 = g.memberId(1)
        // Member 1 never gets the commit of 1, and no heartbeat: only the commit of 2 shows the gap.
        let blind: (Packet) -> Bool = { $0.to == m1 && ($0.kind == .heartbeat || $0.commits(1)) }
        let x = try g.publishAccepted(0, TestGroup.body(1))
        try g.run(until: { $0.members[0].deliveredThrough == SequenceNumber(1) }, drop: blind)
        #expect(g.members[1].deliveredThrough == .zero)
        #expect(g.members[1].ledger.announcedThrough == .zero)
        g.run(for: .millis(1), drop: blind)
        #expect(g.sentPackets(kind: .idQuery).isEmpty, "no gap is known yet")

        let y = try g.publishAccepted(0, TestGroup.body(2))
        try g.run(until: { $0.allDelivered(through: 2) }, drop: blind)

        let queries = g.sentPackets(kind: .idQuery, from: m1)
        #expect(!queries.isEmpty)
        #expect(queries.allSatisfy { g.isCommitServer($0.to) })
        if case .idQuery(let q)? = queries.first?.decoded {
            #expect(q.firstSeq == SequenceNumber(1), "the query starts at the hole")
            #expect(q.count >= 1)
        } else {
            Issue.record("not an id query")
        }
        let replies = g.deliveredPackets(kind: .idReply, to: m1)
        #expect(replies.contains { $0.batch?.runs.contains { $0.messageId(at: SequenceNumber(1)) == x } ?? false },
                "the reply binds 1 to x")
        #expect(g.memberDeliveries(1).map(\.id) == [x, y])
        #expect(g.memberDeliveries(1) == g.memberDeliveries(0))
        #expect(g.members[1].output.counters.fetchesSent == 0, "the body was never missing")
    }

    @Test("claim 9 (bodies): a member recovers a missing body from a data server")
    func recoversBodyFromDataServer() throws {
        var g = TestGroup(members: 2)
        let m1 = g.memberId(1)
        let publisher = g.memberId(0)
        let lose: (Packet) -> Bool = { $0.kind == .data && $0.from == publisher && $0.to == m1 }
        let body = TestGroup.body(7, size: 300)
        let x = try g.publishAccepted(0, body)
        try g.run(until: { $0.allDelivered(through: 1) }, drop: lose)

        let fetches = g.sentPackets(kind: .messageFetch, from: m1)
        #expect(!fetches.isEmpty)
        #expect(fetches.allSatisfy { g.isDataServer($0.to) })
        if case .messageFetch(let f)? = fetches.first?.decoded {
            #expect(f == MessageFetch(sender: x.sender, firstCounter: 1, count: 1))
        } else {
            Issue.record("not a fetch")
        }
        let replies = g.deliveredPackets(kind: .messageReply, to: m1)
        #expect(replies.first?.data?.bodies == [body])
        #expect(g.memberDeliveries(1).map(\.bodyDigest) == [TestGroup.digest(body)])
        #expect(g.memberDeliveries(1) == g.memberDeliveries(0))
        #expect(g.members[1].output.counters.idQueriesSent == 0, "the id was never missing")
    }

    @Test("claim 11: a heartbeat reveals tail loss, and the member repairs it")
    func heartbeatRevealsTailLoss() throws {
        var g = TestGroup(members: 2)
        let m1 = g.memberId(1)
        let loseCommits: (Packet) -> Bool = { $0.kind == .commit && $0.to == m1 }
        let x = try g.publishAccepted(0, TestGroup.body(1))
        try g.run(until: { $0.members[0].deliveredThrough == SequenceNumber(1) }, drop: loseCommits)

        // Until the next heartbeat, member 1 cannot know anything is missing.
        let heartbeat = g.config.timing.heartbeatInterval
        let beforeHeartbeat = Nanoseconds(heartbeat.value - g.now.nanoseconds - 1_000)
        g.run(for: beforeHeartbeat, drop: loseCommits)
        #expect(g.members[1].ledger.announcedThrough == .zero)
        #expect(g.members[1].deliveredThrough == .zero)
        #expect(g.sentPackets(kind: .idQuery).isEmpty)

        try g.run(until: { $0.allDelivered(through: 1) }, drop: loseCommits)
        let firstHeartbeat = try #require(g.delivered.firstIndex {
            $0.kind == .heartbeat && $0.to == m1 && ($0.heartbeat?.committedThrough.rawValue ?? 0) >= 1
        })
        let firstQuery = try #require(g.delivered.firstIndex { $0.kind == .idQuery && $0.from == m1 })
        #expect(firstHeartbeat < firstQuery, "the heartbeat told member 1 of the tail")
        #expect(g.memberDeliveries(1).map(\.id) == [x])
        #expect(g.memberDeliveries(1) == g.memberDeliveries(0))
    }

    @Test("claim 9: an id query that goes unanswered is retried at another commit server")
    func idQueryRotatesServers() throws {
        var g = TestGroup(members: 2)
        let m1 = g.memberId(1)
        // Whichever commit server member 1 asks first never hears it.
        var deaf: NodeId?
        let lose: (Packet) -> Bool = { p in
            if p.to == m1 && (p.kind == .heartbeat || p.commits(1)) { return true }
            guard p.kind == .idQuery, p.from == m1 else { return false }
            if deaf == nil { deaf = p.to }
            return p.to == deaf
        }
        let x = try g.publishAccepted(0, TestGroup.body(1))
        try g.run(until: { $0.members[0].deliveredThrough == SequenceNumber(1) }, drop: lose)
        let y = try g.publishAccepted(0, TestGroup.body(2))
        try g.run(until: { $0.allDelivered(through: 2) }, drop: lose)

        let targets = g.sentPackets(kind: .idQuery, from: m1).map(\.to)
        #expect(targets.count >= 2)
        #expect(targets.allSatisfy { g.isCommitServer($0) })
        #expect(targets.contains { $0 != deaf }, "a retry went to another commit server")
        #expect(g.memberDeliveries(1).map(\.id) == [x, y])
    }

    @Test("claim 9 (bodies): a body fetch that goes unanswered is retried at another data server")
    func bodyFetchRotatesServers() throws {
        var g = TestGroup(members: 2)
        let m1 = g.memberId(1)
        let publisher = g.memberId(0)
        var deaf: NodeId?
        let lose: (Packet) -> Bool = { p in
            if p.kind == .data && p.from == publisher && p.to == m1 { return true }
            guard p.kind == .messageFetch, p.from == m1 else { return false }
            if deaf == nil { deaf = p.to }
            return p.to == deaf
        }
        let body = TestGroup.body(3, size: 100)
        let x = try g.publishAccepted(0, body)
        try g.run(until: { $0.allDelivered(through: 1) }, drop: lose)

        let targets = g.sentPackets(kind: .messageFetch, from: m1).map(\.to)
        #expect(targets.count >= 2)
        #expect(targets.allSatisfy { g.isDataServer($0) })
        #expect(targets.contains { $0 != deaf }, "a retry went to another data server")
        #expect(g.memberDeliveries(1).map(\.id) == [x])
        #expect(g.memberDeliveries(1).map(\.bodyDigest) == [TestGroup.digest(body)])
    }
}

@Suite("A member's full store")
struct FullStoreTests {
    // A member far behind (a restarted checkpoint server replaying from its checkpoint) fills
    // its store with the live stream; the bodies it fetches for its next numbers must still fit.
    @Test("a body due soon evicts the bodies far ahead; a body far ahead is dropped and counted")
    func dueSoonEvictsFarAhead() {
        let config = TestGroup.makeConfig { $0.limits.bodySlotsMax = 64 }
        var m = Member(config: config, node: NodeId(41), incarnation: 1, seed: 1, now: .zero)
        let other = SenderId(node: NodeId(42), incarnation: 1)
        let body = [UInt8](repeating: 7, count: 1_000)  // one datagram-sized slot each
        func keep(_ counter: UInt64) {
            body.withUnsafeBytes { m.keep(MessageId(sender: other, counter: counter), logicalTs: .zero, body: $0) }
        }
        for c in UInt64(20)..<84 { keep(c) }
        #expect(m.bodies.largeSlotsFree == 0, "64 bodies far ahead fill the store")
        #expect(m.dueSoonCounters == 16)

        keep(200)
        #expect(m.output.counters.droppedStoreFull == 1, "far ahead and full: dropped")
        #expect(m.output.counters.bodiesEvicted == 0, "a far body never evicts others")
        #expect(m.pending[MessageId(sender: other, counter: 200)] == nil)

        keep(1)
        #expect(m.pending[MessageId(sender: other, counter: 1)] != nil, "the next body is kept")
        #expect(m.output.counters.bodiesEvicted == 64, "every body beyond counter 16 went")
        #expect(m.bodies.largeSlotsFree == 63)
        keep(16)
        #expect(m.pending[MessageId(sender: other, counter: 16)] != nil)
        #expect(m.output.counters.droppedStoreFull == 1)
    }
}
