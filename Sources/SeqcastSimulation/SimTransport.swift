import SeqcastCore
import SeqcastNode
import SeqcastWire

/// The simulated network's side of a node (the third transport of style.md §6.3): datagrams a
/// node sends are kept, routed, until its driver moves them into the network (the simulator's
/// timed event queue, or the scenario tests' FIFO). A node's address is its node id.
public struct SimTransport: DatagramTransport {
    public struct Sent: Sendable {
        public var destination: Destination
        public var kind: MessageKind
        public var bytes: [UInt8]
    }
    public let localAddress: PeerAddress
    public private(set) var outgoing: [Sent] = []

    public init(node: NodeId) { localAddress = Self.address(of: node) }

    public mutating func send(_ bytes: UnsafeRawBufferPointer, kind: MessageKind, to destination: Destination) {
        outgoing.append(Sent(destination: destination, kind: kind, bytes: Array(bytes)))
    }

    /// Hands over what was sent since the last call, in send order.
    public mutating func take() -> [Sent] {
        defer { outgoing.removeAll(keepingCapacity: true) }
        return outgoing
    }

    /// The simulated address of a node (its id), and back.
    public static func address(of node: NodeId) -> PeerAddress { PeerAddress(UInt64(node.rawValue)) }
    public static func node(at address: PeerAddress) -> NodeId? {
        address.rawValue <= UInt64(UInt32.max) ? NodeId(UInt32(address.rawValue)) : nil
    }

    /// The node ids a datagram reaches in `layout`: the simulated network's one routing
    /// function (a multicast reaches its sender too: the node drops its own). Unicast to an id
    /// outside the layout still names that id; the network drops it when nobody has it.
    public static func recipients(of destination: Destination, in layout: GroupLayout) -> [NodeId] {
        if let g = GroupLayout.group(of: destination) { return layout.receivers(of: g) }
        switch destination {
        case .node(let id): return [id]
        case .address(let a): return node(at: a).map { [$0] } ?? []
        case .dataGroup, .commitGroup: return []
        }
    }
}
