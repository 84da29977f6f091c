import CSeqcastShim
import Glibc
import SeqcastCore
import SeqcastNode
import SeqcastWire

/// Which packet path a process uses. `auto` takes io_uring when the kernel lets us set up a ring
/// and falls back to sendmmsg/recvmmsg otherwise (seccomp, `kernel.io_uring_disabled`), saying so
/// once in the log.
public enum TransportChoice: String, Sendable, CaseIterable {
    case auto
    case ioUring = "io_uring"
    case sendmmsg

    package var shimValue: Int32 {
        switch self {
        case .auto: Int32(SEQCAST_TRANSPORT_AUTO)
        case .ioUring: Int32(SEQCAST_TRANSPORT_IO_URING)
        case .sendmmsg: Int32(SEQCAST_TRANSPORT_MMSG)
        }
    }

    static func named(shim value: Int32) -> String {
        value == Int32(SEQCAST_TRANSPORT_IO_URING) ? TransportChoice.ioUring.rawValue : TransportChoice.sendmmsg.rawValue
    }
}

/// How a process uses the network: the address family, the interface multicast leaves and is
/// joined on, the packet path and socket sizes. Where the group's nodes and multicast groups
/// are is the layout's (`GroupLayout`), the same for every process of a group; these are
/// per-process choices. The default works on a fresh machine: 239.255.x.y groups on 127.0.0.1.
public struct NetworkConfig: Sendable {
    /// 4 or 6.
    public var family: Int = 4
    /// Interface multicast leaves and is joined on: an address (IPv4) and/or a name (IPv6 needs one).
    public var interfaceAddress = "127.0.0.1"
    public var interfaceName: String?
    public var ttl = 1
    public var transport = TransportChoice.auto
    /// UDP GSO on send and GRO on receive. Off: every datagram crosses the kernel on its own.
    public var segmentOffload = true
    public var socketBufferBytes = 32 * 1024 * 1024
    /// Largest repair-reply datagram rate one server sends to one requester, per second (a lossy
    /// or hostile receiver cannot make a server flood the network).
    public var repairDatagramsPerSecond = RepairLimiter.perSecondDefault

    public init() {}

    /// The settings a group file gives node `id`: the address family of the multicast groups,
    /// the interface (the file's, else the node's own unicast host) and the TTL.
    public init(layout: GroupLayout, node id: NodeId) {
        family = layout.dataGroup.host.contains(":") ? 6 : 4
        interfaceAddress = layout.interfaceAddress ?? layout.endpoint(of: id).host
        interfaceName = layout.interfaceName
        ttl = layout.ttl
    }

    /// The layout's multicast groups and hosts for IPv6 on the interface (ff02:: groups, ::1).
    public static func useIPv6Defaults(_ layout: inout GroupLayout) {
        layout.dataGroup.host = "ff02::5351:1"
        layout.commitGroup.host = "ff02::5351:2"
        layout.setHost("::1")
        layout.datagramBytes = min(layout.datagramBytes, GroupLayout.datagramBytesIPv6Max)
    }
}

/// A socket or address set-up that failed, with what was being done.
public struct NetworkError: Error, CustomStringConvertible {
    public var description: String
    public init(_ what: String, errno code: Int32) {
        description = "\(what): \(String(cString: strerror(code < 0 ? -code : code)))"
    }
    public init(_ message: String) { description = message }
}

/// Parses an address into the shim's POD form.
func socketAddress(_ text: String, port: UInt16) throws(NetworkError) -> seqcast_addr {
    var a = seqcast_addr()
    let rc = seqcast_addr_parse(text, port, &a)
    guard rc == 0 else { throw NetworkError("not an IP address: \(text)") }
    return a
}

extension seqcast_addr {
    public var text: String {
        var buffer = [CChar](repeating: 0, count: 64)
        var copy = self
        return buffer.withUnsafeMutableBufferPointer { b in
            String(cString: seqcast_addr_format(&copy, b.baseAddress, b.count))
        }
    }
}
