import Testing
@testable import SeqcastCore
import SeqcastWire

/// With authentication a member's trailer is one tag shorter than a server's, so its data
/// datagrams may take that room (GroupConfig.memberDataExtraBytes) while every body still fits a
/// server's reply whole (issue 14: throughput with authentication on against off).
@Suite("Member packing: data datagrams use the room a member's shorter trailer leaves")
struct MemberPackingTests {
    /// A 1472-byte datagram with both tags' room reserved: roles write 1416 bytes; members' data 1432.
    static func group(extra: Int) -> TestGroup {
        let config = TestGroup.makeConfig {
            $0.datagramBytesMax = 1_472 - AuthTrailer.byteCountMax
            $0.memberDataExtraBytes = extra
        }
        return TestGroup(config: config, members: 2, authenticate: true)
    }

    @Test("20 bodies of 64 B share a member's data datagram (19 without the extra room); the wire datagram is 1472 B at most; a repairing member gets each back whole within the servers' size",
          arguments: [AuthTrailer.tagByteCount, 0])
    func packsTwentyPerDatagram(extra: Int) throws {
        var g = Self.group(extra: extra)
        let bodies = (0..<40).map { TestGroup.body($0, size: 64) }
        for b in bodies { try g.publishAccepted(0, b) }
        // Member 1 loses member 0's data: it repairs from the data servers' replies.
        let member1 = g.memberId(1)
        try g.run(until: { $0.allDelivered(through: 40) }, drop: { $0.kind == .data && $0.to == member1 })

        let data = g.sentPackets(kind: .data, from: g.memberId(0), to: g.config.dataServers[0])
        let perDatagram = data.compactMap { $0.data?.count }
        #expect(perDatagram.reduce(0, +) == 40)
        #expect(perDatagram.first == (extra > 0 ? 20 : 19))
        #expect(data.allSatisfy { $0.bytes.count <= 1_472 }, "\(data.map(\.bytes.count))")
        #expect(data.contains { $0.bytes.count > g.config.datagramBytesMax + AuthTrailer.fixedByteCount + AuthTrailer.tagByteCount } == (extra > 0),
                "only the extra room makes a member's data datagram longer than a server's datagram with one tag")

        let replies = g.sentPackets(kind: .messageReply, to: member1)
        #expect(!replies.isEmpty)
        #expect(replies.allSatisfy { $0.bytes.count <= 1_472 && $0.data?.fragmentCount ?? 0 <= 1 },
                "every body comes back whole in a reply within the servers' datagram size")
        #expect(g.memberDeliveries(1).map(\.bodyDigest) == bodies.map(TestGroup.digest))
        #expect(g.memberDeliveries(0).map(\.bodyDigest) == bodies.map(TestGroup.digest))
    }
}
