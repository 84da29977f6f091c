import CSeqcastShim
import SeqcastCore

/// Maps socket addresses to the core's opaque `PeerAddress` and back, so a repair reply goes to
/// the address its request came from. IPv4 addresses encode directly (address and port in one
/// word, no lookup on the hot path); IPv6 addresses go through a small bounded table.
struct PeerTable {
    static let ipv6Bit: UInt64 = 1 << 63
    private var v6: [seqcast_addr] = []
    private var v6Index: [V6Key: Int] = [:]
    static let v6PeersMax = 4_096
    /// The address of a source the full table cannot name: its datagrams are still processed;
    /// replies to it cannot be sent (`address` is nil) and are counted as unroutable.
    static let unmappable = PeerAddress(ipv6Bit | (UInt64.max >> 1))

    struct V6Key: Hashable {
        var high: UInt64
        var low: UInt64
        var port: UInt16
        var scope: UInt32
    }

    /// The opaque address of `a`. An IPv6 peer past the table's bound maps to `unmappable`.
    mutating func peer(_ a: seqcast_addr) -> PeerAddress? {
        if a.family == 4 {
            let ip = UInt64(a.ip.0) << 24 | UInt64(a.ip.1) << 16 | UInt64(a.ip.2) << 8 | UInt64(a.ip.3)
            return PeerAddress(ip << 16 | UInt64(a.port))
        }
        let key = Self.key(a)
        if let i = v6Index[key] { return PeerAddress(Self.ipv6Bit | UInt64(i)) }
        guard v6.count < Self.v6PeersMax else { return Self.unmappable }
        v6.append(a)
        v6Index[key] = v6.count - 1
        return PeerAddress(Self.ipv6Bit | UInt64(v6.count - 1))
    }

    func address(_ p: PeerAddress) -> seqcast_addr? {
        if p.rawValue & Self.ipv6Bit != 0 {
            let i = Int(p.rawValue & ~Self.ipv6Bit)
            return i < v6.count ? v6[i] : nil
        }
        var a = seqcast_addr()
        a.family = 4
        a.port = UInt16(truncatingIfNeeded: p.rawValue)
        let ip = p.rawValue >> 16
        a.ip.0 = UInt8(truncatingIfNeeded: ip >> 24)
        a.ip.1 = UInt8(truncatingIfNeeded: ip >> 16)
        a.ip.2 = UInt8(truncatingIfNeeded: ip >> 8)
        a.ip.3 = UInt8(truncatingIfNeeded: ip)
        return a
    }

    static func key(_ a: seqcast_addr) -> V6Key {
        withUnsafeBytes(of: a.ip) { b in
            V6Key(high: b.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                  low: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self), port: a.port, scope: a.scope_id)
        }
    }
}
