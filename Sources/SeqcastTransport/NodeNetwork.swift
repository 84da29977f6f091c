import CSeqcastShim
import Glibc
import SeqcastCore
import SeqcastNode
import SeqcastWire

/// One node's sockets and packet paths: a unicast socket (every send leaves from it, so replies
/// come back to it), and the multicast groups the node's role joins (`NodeRole.joinedGroups`).
/// The runtime's `DatagramTransport`: translates routes and `PeerAddress`es to socket
/// addresses from the group's layout, stages sends per destination for GSO, and receives in
/// batches. Owned by one thread (the receiving side may be handed to an I/O
/// thread in the dedicated mode: see `ReceivePath`).
public final class NodeNetwork {
    public let node: NodeId
    public let config: NetworkConfig
    public let layout: GroupLayout
    /// "io_uring" or "sendmmsg": what the kernel let us use.
    public let transport: String
    /// Why `auto` fell back (nil if it did not).
    public let fallbackReason: String?
    public let localAddress: PeerAddress
    let unicastFD: Int32
    let groupFDs: [Int32]
    let sender: OpaquePointer
    var peers: PeerTable
    var sendQueue: SendQueue
    let dataGroup: (addr: seqcast_addr, key: UInt64)
    let commitGroup: (addr: seqcast_addr, key: UInt64)
    var nodeAddresses: [NodeId: (addr: seqcast_addr, key: UInt64)] = [:]
    /// Sends to peers the table could not map (an IPv6 table overflow), counted.
    public private(set) var unroutable: UInt64 = 0

    /// - Parameters:
    /// Opens `node`'s sockets: its unicast address and the groups its role joins, from `layout`
    /// (or only `groups`: a load generator playing a node need not hear its own multicasts).
    public init(config: NetworkConfig, layout: GroupLayout, node: NodeId, groups: [MulticastGroup]? = nil)
        throws(NetworkError) {
        self.node = node
        self.config = config
        self.layout = layout
        let me = layout.endpoint(of: node)
        let joined = groups ?? layout.role(of: node).joinedGroups
        let bindAddress = try socketAddress(me.host, port: me.port)
        let iface = try socketAddress(config.interfaceAddress, port: 0)
        var ifindex: UInt32 = 0
        if let name = config.interfaceName {
            ifindex = seqcast_ifindex(name)
            guard ifindex != 0 else { throw NetworkError("no network interface named \(name)") }
        }
        let gro: Int32 = config.segmentOffload ? 1 : 0
        var bound = bindAddress
        let u = seqcast_socket_open(&bound, 0, Int32(config.socketBufferBytes), gro)
        guard u >= 0 else { throw NetworkError("unicast socket on \(bindAddress.text)", errno: u) }
        var ifaceCopy = iface
        let rc = seqcast_socket_multicast_out(u, &ifaceCopy, ifindex, Int32(config.ttl))
        guard rc == 0 else { throw NetworkError("multicast output on \(config.interfaceAddress)", errno: rc) }
        unicastFD = u
        // Group destinations get keys like any peer (distinct from every unicast address).
        var table = PeerTable()
        var dataAddress = try socketAddress(layout.dataGroup.host, port: layout.dataGroup.port)
        var commitAddress = try socketAddress(layout.commitGroup.host, port: layout.commitGroup.port)
        // Link-scoped IPv6 groups (ff02::) name their interface in the address itself.
        if dataAddress.family == 6 { dataAddress.scope_id = ifindex }
        if commitAddress.family == 6 { commitAddress.scope_id = ifindex }
        dataGroup = (dataAddress, table.peer(dataAddress)?.rawValue ?? 1)
        commitGroup = (commitAddress, table.peer(commitAddress)?.rawValue ?? 2)
        var fds: [Int32] = [u]
        for (listens, group) in [(joined.contains(.data), dataGroup.addr), (joined.contains(.commit), commitGroup.addr)]
        where listens {
            var g = group
            let fd = seqcast_socket_open(&g, 1, Int32(config.socketBufferBytes), gro)
            guard fd >= 0 else { throw NetworkError("multicast socket on \(group.text)", errno: fd) }
            let j = seqcast_socket_join(fd, &g, &ifaceCopy, ifindex)
            guard j == 0 else { throw NetworkError("joining \(group.text) on \(config.interfaceAddress)", errno: j) }
            fds.append(fd)
        }
        groupFDs = Array(fds.dropFirst())
        var status = seqcast_status()
        guard let s = seqcast_sender_create(config.transport.shimValue, 64, &status) else {
            throw NetworkError("packet sender (\(config.transport.rawValue)): " + Self.reason(status))
        }
        sender = s
        transport = TransportChoice.named(shim: status.transport)
        let reason = Self.reason(status)
        fallbackReason = reason.isEmpty ? nil : reason
        sendQueue = SendQueue(segmentOffload: config.segmentOffload)
        var local = seqcast_addr()
        _ = seqcast_socket_local(u, &local)
        localAddress = table.peer(local) ?? PeerAddress(0)
        peers = table
    }

    deinit {
        seqcast_sender_destroy(sender)
        sendQueue.deallocate()
        seqcast_socket_close(unicastFD)
        for fd in groupFDs { seqcast_socket_close(fd) }
    }

    static func reason(_ s: seqcast_status) -> String {
        withUnsafeBytes(of: s.reason) { b in String(decoding: b.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Every socket this node receives on (unicast first), for a `ReceivePath`.
    public var receiveSockets: [Int32] { [unicastFD] + groupFDs }

    /// The peer a received datagram came from (an IPv6 source the bounded table cannot name
    /// still gets an address: its datagrams are processed, replies to it are counted unroutable).
    @inline(__always) public func peer(_ from: seqcast_addr) -> PeerAddress { peers.peer(from) ?? PeerTable.unmappable }

    /// Stages one datagram (flushing first if every buffer is taken).
    public func send(_ bytes: UnsafeRawBufferPointer, kind: MessageKind, to destination: Destination) {
        guard let (addr, key) = resolve(destination) else {
            unroutable &+= 1
            return
        }
        if !sendQueue.append(bytes, to: addr, key: key) {
            flush()
            _ = sendQueue.append(bytes, to: addr, key: key)
        }
    }

    func resolve(_ d: Destination) -> (seqcast_addr, UInt64)? {
        switch d {
        case .dataGroup: return dataGroup
        case .commitGroup: return commitGroup
        case .address(let p): return peers.address(p).map { ($0, p.rawValue) }
        case .node(let id):
            if let a = nodeAddresses[id] { return a }
            let e = layout.endpoint(of: id)
            guard let a = try? socketAddress(e.host, port: e.port) else { return nil }
            let entry = (a, peers.peer(a)?.rawValue ?? UInt64(id.rawValue))
            nodeAddresses[id] = entry
            return entry
        }
    }

    /// Sends everything staged since the last flush.
    public func flush() { sendQueue.flush(sender: sender, fd: unicastFD) }

    public var datagramsSent: UInt64 { sendQueue.datagramsSent }
    public var sendCalls: UInt64 { sendQueue.sendCalls }
    public var sendErrors: UInt64 { sendQueue.sendErrors }
    public var segmentationRefused: Bool { sendQueue.segmentationRefused }
}

extension NodeNetwork: DatagramTransport {}
