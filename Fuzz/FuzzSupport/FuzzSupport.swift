import SeqcastCore
import SeqcastNode
import SeqcastSimulation
import SeqcastWire

/// The fuzzed group is the simulator's group of seed 1 (the corpus is cut from its runs:
/// `seqcast-sim --seed 1 --fuzz-corpus Fuzz/corpus`), so valid traffic passes the group and
/// fingerprint checks and reaches the roles' deeper ones. Node ids are the standard ones.
public enum FuzzGroup {
    public static let plain = small(Simulator(options: options(authenticate: false)).config)
    public static let authenticated = small(Simulator(options: options(authenticate: true)).config)

    /// Smaller stores and outboxes than the simulator's: a role is made for every input, and its
    /// tables' size is most of that cost (limits are not part of the fingerprint).
    static func small(_ c: GroupConfig) -> GroupConfig {
        var c = c
        c.limits.bodySlotsMax = 256
        c.limits.outboxSlotsMax = 64
        precondition((try? c.validate()) != nil, "the fuzzed configuration is invalid")
        return c
    }
    public static var config: GroupConfig { plain }

    static func options(authenticate: Bool) -> SimulationOptions {
        var o = SimulationOptions(seed: 1, steps: 1)
        o.authenticate = authenticate
        return o
    }

    /// The simulator's keys, which tagged the corpus's authenticated traffic.
    public static func authenticator(server: Bool) -> DatagramAuthenticator {
        DatagramAuthenticator(AuthSetup(groupKeys: [Simulator.groupKey], serverKeys: server ? [Simulator.serverKey] : nil,
                                        incarnation: 1, peersMax: 64, datagramBytesMax: authenticated.datagramBytesMax))
    }
}

/// Splits fuzz input into chunks, each prefixed by a little-endian u16 length (a short last
/// chunk takes what is left): how one input becomes several datagrams or records.
public struct Chunks: Sequence, IteratorProtocol {
    let bytes: UnsafeRawBufferPointer
    var at = 0
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    public mutating func next() -> UnsafeRawBufferPointer? {
        guard at + 2 <= bytes.count else { return nil }
        let n = Int(UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8)
        at += 2
        let end = Swift.min(bytes.count, at + n)
        defer { at = end }
        return UnsafeRawBufferPointer(rebasing: bytes[at..<end])
    }
}

/// A transport that drops what it is given (the fuzzed node's replies go nowhere).
public struct DiscardTransport: DatagramTransport {
    public init() {}
    public var sent = 0
    public var localAddress: PeerAddress { PeerAddress(0) }
    public mutating func send(_ bytes: UnsafeRawBufferPointer, kind: MessageKind, to destination: Destination) {
        precondition(bytes.count >= Header.byteCount, "a node sent a datagram shorter than a header")
        sent &+= 1
    }
}

/// A sink that keeps no events.
public struct DiscardSink: EventSink {
    public init() {}
    public mutating func observe(_ event: RoleEvent, now: Instant) {}
}
