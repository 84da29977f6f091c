import Testing
import SeqcastCore
import SeqcastNode
import SeqcastWire

/// Node ids that cannot map to distinct unicast ports are refused (issue 14): an unlisted node
/// listens on base-port + id, which once wrapped past 65535 onto other nodes' ports.
@Suite struct NodeIdPortTests {
    @Test func idsPastThePortRangeOrOnAnotherNodesPortAreRefused() {
        var l = GroupLayout.standard(members: 2)
        #expect(l.basePort == 18_400)
        #expect(l.problems(forNode: NodeId(41)).isEmpty, "listed")
        #expect(l.problems(forNode: NodeId(500)).isEmpty, "unlisted, port 18900")
        #expect(l.problems(forNode: NodeId(47_135)).isEmpty, "the last id with a port: 65535")
        let past = l.problems(forNode: NodeId(47_136))
        #expect(past.count == 1 && past[0].message.contains("past 65535"), "\(past)")
        // 47,136 + 18,400 wrapped to port 0, and 47,147 to node 11's old port number 11.
        #expect(!l.problems(forNode: NodeId(65_536 - 18_400 + 11)).isEmpty)
        // A server placed explicitly where an unlisted member's derived port would be.
        l.add(.checkpointServer, NodeId(32), endpoint: Endpoint(host: l.host, port: 18_450))
        let clash = l.problems(forNode: NodeId(50))
        #expect(clash.count == 1 && clash[0].message.contains("as node 32 does"), "\(clash)")
        // The multicast groups' ports (18301, 18302) are below base-port here; move one into range.
        l.dataGroup.port = 18_460
        #expect(l.problems(forNode: NodeId(60)).contains { $0.message.contains("data-group") })
        // A listed node whose derived port is past the range makes the layout itself refused.
        var big = GroupLayout.standard(members: 0)
        big.add(.member, NodeId(60_000))
        #expect(big.problems().contains { $0.message.contains("node 60000 has no port") })
    }
}
