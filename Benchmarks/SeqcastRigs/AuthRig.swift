import SeqcastCore
import SeqcastNode
import SeqcastWire

/// Datagram authentication on the hot path: a member seals a full data datagram (the role's
/// 1416 bytes, the group's 1472 less the trailer) and a data server opens it (tag check and
/// replay window). One unit is one datagram sealed and opened; it must allocate nothing.
public final class AuthLoad {
    static let datagramBytes = 1_472 - AuthTrailer.byteCountMax
    let sender: DatagramAuthenticator
    let receiver: DatagramAuthenticator
    let datagram: UnsafeMutableRawBufferPointer
    var opened = 0
    var operations = 0
    var checksum: UInt64 = 0

    public init() {
        let group = AuthKey(id: 1, bytes: [UInt8](repeating: 0x6B, count: 32))
        let server = AuthKey(id: 1, bytes: [UInt8](repeating: 0x5E, count: 32))
        sender = DatagramAuthenticator(AuthSetup(groupKeys: [group], serverKeys: nil, incarnation: 7,
                                                 datagramBytesMax: Self.datagramBytes))
        receiver = DatagramAuthenticator(AuthSetup(groupKeys: [group], serverKeys: [server], incarnation: 9,
                                                   datagramBytesMax: Self.datagramBytes))
        datagram = .allocate(byteCount: Self.datagramBytes, alignment: 8)
        datagram.initializeMemory(as: UInt8.self, repeating: 0x42)
        let header = Header(kind: .data, groupId: 1, fingerprint: 2, epoch: Epoch(1), source: NodeId(41),
                            length: UInt32(Self.datagramBytes))
        var w = WireWriter(datagram)
        do { try header.encode(into: &w) } catch { fatalError("header: \(error)") }
    }

    deinit { datagram.deallocate() }

    @inline(__always) func sealAndOpen() {
        let wire = sender.seal(UnsafeRawBufferPointer(datagram), to: .dataGroup)
        guard let inner = receiver.open(wire, now: Instant(nanoseconds: 1)) else { fatalError("a sealed datagram did not open") }
        opened += 1
        checksum &+= UInt64(inner.count)
    }

    public func runIteration() {
        for _ in 0..<unitsPerIteration { sealAndOpen() }
        operations += unitsPerIteration
        rigBlackHole(checksum)
    }

    public func verify() {
        precondition(operations > 0 && opened == operations,
                     "Auth-sealOpen: \(opened) opened of \(operations)")
        precondition(receiver.counters.dropped == 0, "Auth-sealOpen: the receiver dropped datagrams")
    }
}
