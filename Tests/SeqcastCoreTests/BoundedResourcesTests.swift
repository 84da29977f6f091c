import Testing
@testable import SeqcastCore
import SeqcastNode
import SeqcastWire

/// Every resource a datagram can claim is bounded by configuration, not by a count on the wire
/// (issue 14): hitting a bound is counted, never a crash or an unbounded allocation.
@Suite("Bounded resources")
struct BoundedResourcesTests {
    static let config = TestGroup.makeConfig()

    /// One fragment of message `counter` of node 41 claiming `count` fragments.
    static func fragment(index: UInt16, of count: UInt16, bytes: Int, counter: UInt64 = 1) -> [UInt8] {
        TestGroup.dataDatagram(config, sender: SenderId(node: NodeId(41), incarnation: 1), counter: counter, fill: 7,
                               bytes: bytes, fragmentIndex: index, fragmentCount: count)
    }

    @Test("reassembly refuses a message of more fragments than the largest message needs, at members and data servers")
    func reassemblyIsBoundedByTheLargestMessage() {
        let c = Self.config
        var member = Member(config: c, node: NodeId(42), incarnation: 1, seed: 1, now: .zero, app: ReferenceApplication())
        var server = DataServer(config: c, node: NodeId(11), incarnation: 1, seed: 1, now: .zero)
        // 64 partial messages claiming 65,535 fragments each once reserved 64 x 65,535 pieces.
        for counter in 1...64 as ClosedRange<UInt64> {
            let bytes = Self.fragment(index: 0, of: UInt16.max, bytes: 100, counter: counter)
            bytes.withUnsafeBytes {
                member.receive($0, from: PeerAddress(1), now: .zero)
                server.receive($0, from: PeerAddress(1), now: .zero)
            }
        }
        #expect(member.output.counters.droppedOversize == 64)
        #expect(server.output.counters.droppedOversize == 64)
        #expect(member.reassembly.partials.isEmpty && server.reassembly.partials.isEmpty, "nothing reserved")
        // The largest message the group allows still reassembles.
        let piece = 1_472 - 32 - DataMessage.fixedByteCount - DataMessage.bodyOverhead
        let n = (c.limits.messageBytesMax + piece - 1) / piece
        #expect(member.reassembly.fragmentsMax == n)
        for i in 0..<n {
            let last = i == n - 1 ? c.limits.messageBytesMax - piece * (n - 1) : piece
            Self.fragment(index: UInt16(i), of: UInt16(n), bytes: last, counter: 100).withUnsafeBytes {
                server.receive($0, from: PeerAddress(1), now: .zero)
            }
        }
        #expect(server.storedCount == 1, "a message of messageBytesMax is stored whole")
        #expect(server.output.counters.droppedOversize == 64)
    }

    @Test("fragments that add up to more than the largest message are refused and the partial freed")
    func reassemblyIsBoundedInBytes() {
        var server = DataServer(config: Self.config, node: NodeId(11), incarnation: 1, seed: 1, now: .zero)
        let n = server.reassembly.fragmentsMax
        // Each fragment at most a datagram; n of them can exceed messageBytesMax only by lying
        // about sizes; a sender that pads every fragment to the datagram's room gets refused.
        let room = 1_472 - 32 - DataMessage.fixedByteCount - DataMessage.bodyOverhead
        for i in 0..<n {
            Self.fragment(index: UInt16(i), of: UInt16(n), bytes: room, counter: 5).withUnsafeBytes {
                server.receive($0, from: PeerAddress(1), now: .zero)
            }
        }
        let total = n * room
        #expect(total > Self.config.limits.messageBytesMax)
        #expect(server.output.counters.droppedOversize == 1)
        #expect(server.storedCount == 0)
    }
}
