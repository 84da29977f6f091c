import SeqcastCore
import SeqcastNode
import SeqcastWire

/// The simulated network's side of a node (the third transport of style.md §6.3): datagrams a
/// node sends are kept, routed, until its driver moves them into the network (the simulator's
/// timed event queue, or the scenario tests' FIFO). A node's address is its node id.
public struct SimTransport: DatagramTransport {
    public struct Sent: Sendable {
        public var route: Route
        public var kind: MessageKind
        public var bytes: [UInt8]
    }
    public let localAddress: PeerAddress
    public private(set) var outgoing: [Sent] = []

    public init(node: NodeId) { localAddress = Self.address(of: node) }

    public mutating func send(_ bytes: UnsafeRawBufferPointer, kind: MessageKind, to route: Route) {
        outgoing.append(Sent(route: route, kind: kind, bytes: Array(bytes)))
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

    /// The node ids a routed datagram reaches in `layout` (a multicast reaches its sender too:
    /// the node drops its own). Unicast to an id outside the layout still names that id; the
    /// network drops it when nobody has it.
    public static func recipients(of route: Route, in layout: GroupLayout) -> [NodeId] {
        switch route {
        case .group(let g): layout.receivers(of: g)
        case .node(let id): [id]
        case .address(let a): node(at: a).map { [$0] } ?? []
        }
    }
}
