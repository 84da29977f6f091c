import SeqcastCore
import SeqcastWire

/// The group's two multicast groups (protocol.md Part 1 §10).
@frozen public enum MulticastGroup: Int, Hashable, Sendable, CaseIterable {
    /// Data messages: data servers, members and checkpoint servers listen.
    case data
    /// Commits, heartbeats and submits' answers: every role but the sequencer listens.
    case commit
}

/// The datagram seam of a node (style.md §6.3): real sockets (`NodeNetwork` in the runtime) or
/// the simulated network. A transport stages datagrams; the driver's loop flushes it.
///
/// Owned by the thread that owns the node.
public protocol DatagramTransport {
    /// The address this node's own datagrams arrive from (multicast loops back to the sender):
    /// the node drops what comes from it before the role sees it.
    var localAddress: PeerAddress { get }
    /// Stages one datagram for the role's `destination` (groups by the layout's membership,
    /// nodes by the layout's addresses). `bytes` is valid only during the call.
    mutating func send(_ bytes: UnsafeRawBufferPointer, kind: MessageKind, to destination: Destination)
}
