import SeqcastWire

/// Where a datagram came from, as the driver knows it (a socket address on a real network, a
/// node's port in the simulator). Opaque to the core: it only hands it back to answer repair
/// requests "to the address the request came from" (protocol.md Part 1 §10), so receivers need
/// no membership.
@frozen public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "addr\(rawValue)" }
}

/// Where an outgoing datagram goes. Group destinations are multicast; the rest unicast.
@frozen public enum Destination: Hashable, Sendable {
    /// A configured server (sequencer, data, commit or checkpoint server) by node id.
    case node(NodeId)
    /// The data group: data servers, members and checkpoint servers.
    case dataGroup
    /// The commit group: members, data servers, checkpoint servers and commit servers.
    case commitGroup
    /// Reply to whoever sent a request.
    case address(PeerAddress)
}
