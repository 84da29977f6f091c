import Testing
@testable import SeqcastCore
import SeqcastNode
import SeqcastWire

/// One message id with two bodies (issue 14, THREAT.md "Unique identities"): two processes
/// publishing with one node id reuse ids. Where the bodies meet, at a data server or a member
/// holding the first, the second is compared, counted and named; the first is kept.
@Suite("Conflicting bodies")
struct BodyConflictTests {
    static let config = TestGroup.makeConfig()
    static let sender = SenderId(node: NodeId(41), incarnation: 1)

    /// A data datagram of node 41 carrying counter `counter` with `fill` repeated `bytes` times.
    static func data(counter: UInt64, fill: UInt8, bytes: Int = 40) -> [UInt8] {
        TestGroup.dataDatagram(config, sender: sender, counter: counter, fill: fill, bytes: bytes)
    }

    @Test("a data server and a member count another body for a held id, not a duplicate, and keep the first")
    func conflictWhereBodiesMeet() {
        let c = Self.config
        var member = Member(config: c, node: NodeId(42), incarnation: 1, seed: 1, now: .zero, app: ReferenceApplication())
        var server = DataServer(config: c, node: NodeId(11), incarnation: 1, seed: 1, now: .zero)
        func both(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes {
                member.receive($0, from: PeerAddress(1), now: .zero)
                server.receive($0, from: PeerAddress(1), now: .zero)
            }
        }
        both(Self.data(counter: 1, fill: 0xA))
        both(Self.data(counter: 1, fill: 0xA))  // a network duplicate: the same bytes
        #expect(member.output.counters.conflictingBodies == 0 && server.output.counters.conflictingBodies == 0)
        both(Self.data(counter: 1, fill: 0xB))  // another publisher's counter 1
        both(Self.data(counter: 1, fill: 0xA, bytes: 41))  // same bytes but longer
        let id = MessageId(sender: Self.sender, counter: 1)
        #expect(member.output.counters.conflictingBodies == 2 && server.output.counters.conflictingBodies == 2)
        #expect(member.output.counters.firstConflict == id && server.output.counters.firstConflict == id)
        let kept = server.store[id].map { h in server.bodies.withBody(h.body) { Array($0) } }
        #expect(kept == [UInt8](repeating: 0xA, count: 40), "the first body is the one held")
    }

    @Test("in a group: a second publisher's body for a committed id reaches the data servers, counted there; delivery unchanged")
    func conflictInAGroup() throws {
        var g = TestGroup(config: TestGroup.makeConfig(), members: 2)
        for k in 0..<3 { _ = try g.publishAccepted(0, TestGroup.body(k)) }
        try g.run(until: { g in (0..<2).allSatisfy { g.deliveries(g.memberIndex($0)).count == 3 } })
        let before = (0..<2).map { g.deliveries(g.memberIndex($0)) }
        let real = g.members[0].sender
        for to in g.config.dataServers {
            g.inject(to: to, from: g.memberId(0), kind: .data) { w throws(EncodeError) in
                _ = try DataMessage.encodeFixed(sender: real, firstCounter: 2, logicalTs: .zero, count: 1, into: &w)
                try TestGroup.appendFilledBody(0xEE, 24, into: &w)
            }
        }
        g.settle()
        #expect(g.dataServers.allSatisfy { $0.output.counters.conflictingBodies == 1 })
        #expect(g.dataServers.allSatisfy { $0.output.counters.firstConflict == MessageId(sender: real, counter: 2) })
        #expect((0..<2).map { g.deliveries(g.memberIndex($0)) } == before)
    }
}
