import CSeqcastShim
import SeqcastCore
import SeqcastNode
import SeqcastTransport

/// A MoldUDP64 consumer of our own, as a feed handler is written against any MoldUDP64 feed:
/// it joins one or more downstream groups (A and B feeds: the first copy of a number wins),
/// hands messages on strictly in order, holds packets that arrive ahead of a gap, and asks the
/// gateways' request ports for what is missing (one request outstanding, sent again after a
/// timeout, gateways tried in turn). Heartbeats reveal a lost tail; the end-of-session packet
/// says where the session ends.
public final class FeedHandler {
    public struct Counters: Sendable {
        public var packets: UInt64 = 0
        public var heartbeats: UInt64 = 0
        public var endOfSession: UInt64 = 0
        public var duplicates: UInt64 = 0
        public var malformed: UInt64 = 0
        public var otherSession: UInt64 = 0
        public var gapsSeen: UInt64 = 0
        public var requestsSent: UInt64 = 0
        /// Messages that arrived in a reply to a request.
        public var recovered: UInt64 = 0
        /// Messages that arrived ahead of a gap and were held.
        public var heldAhead: UInt64 = 0
    }

    public let session: MoldUDP64.Session
    public private(set) var counters = Counters()
    /// The next number to hand on.
    public private(set) var next: UInt64
    /// The highest number known to exist (from packets and heartbeats), plus one.
    public private(set) var known: UInt64
    /// Where the session ends, once an end-of-session packet arrived.
    public private(set) var endsAt: UInt64?
    public var requestTimeoutNs: UInt64 = 20_000_000
    public var aheadMax = 1 << 20

    var ahead: [UInt64: [UInt8]] = [:]
    let gateways: [seqcast_addr]
    var gatewayTurn = 0
    var outstanding: (sequence: UInt64, sentNs: UInt64)?
    let fds: [Int32]
    let requestFd: Int32
    let receive: ReceivePath
    let sender: OpaquePointer

    /// Joins `downstreams` on `interface` (an address) and sends requests to `gateways`,
    /// starting at number `from`.
    public init(session: MoldUDP64.Session, downstreams: [Endpoint], gateways: [Endpoint], interface: String, from: UInt64 = 1) throws {
        self.session = session
        next = max(1, from)
        known = next
        var iface = seqcast_addr()
        guard seqcast_addr_parse(interface, 0, &iface) == 0 else { throw SeqcastFeedError("interface \(interface): not an address") }
        var socks: [Int32] = []
        func closeAll() { for f in socks { seqcast_socket_close(f) } }
        for e in downstreams {
            var g = seqcast_addr()
            guard seqcast_addr_parse(e.host, e.port, &g) == 0 else {
                closeAll()
                throw SeqcastFeedError("downstream \(e): not an address")
            }
            let fd = seqcast_socket_open(&g, 1, 16 << 20, 0)
            guard fd >= 0, seqcast_socket_join(fd, &g, &iface, 0) == 0 else {
                if fd >= 0 { seqcast_socket_close(fd) }
                closeAll()
                throw SeqcastFeedError("cannot join \(e) on \(interface)")
            }
            socks.append(fd)
        }
        var local = iface
        local.port = 0
        let r = seqcast_socket_open(&local, 0, 16 << 20, 0)
        guard r >= 0 else {
            closeAll()
            throw SeqcastFeedError("request socket: errno \(-r)")
        }
        socks.append(r)
        requestFd = r
        fds = socks
        self.gateways = try gateways.map { e in
            var a = seqcast_addr()
            guard seqcast_addr_parse(e.host, e.port, &a) == 0 else { throw SeqcastFeedError("gateway \(e): not an address") }
            return a
        }
        receive = try ReceivePath(sockets: socks, transport: .auto)
        var status = seqcast_status()
        guard let s = seqcast_sender_create(Int32(SEQCAST_TRANSPORT_MMSG), 4, &status) else { throw SeqcastFeedError("sender") }
        sender = s
    }

    deinit {
        seqcast_sender_destroy(sender)
        for f in fds { seqcast_socket_close(f) }
    }

    /// Whether every number of an ended session was handed on.
    public var complete: Bool { endsAt.map { next >= $0 } ?? false }

    /// Receives for at most `waitNs`, hands on what is in order, asks for what is missing.
    public func step(waitNs: Int64, _ deliver: (UInt64, UnsafeRawBufferPointer) -> Void) {
        let n = receive.poll(timeoutNanos: waitNs)
        for i in 0..<n {
            let d = receive[i]
            guard let data = d.data else { continue }
            let fromGateway = d.tag == UInt32(fds.count - 1)
            let packet: MoldUDP64.Packet
            do {
                packet = try MoldUDP64.Packet(UnsafeRawBufferPointer(start: data, count: Int(d.len)))
            } catch {
                counters.malformed &+= 1
                continue
            }
            guard packet.session == session else {
                counters.otherSession &+= 1
                continue
            }
            take(packet, recovered: fromGateway, deliver)
        }
        requestIfMissing()
    }

    func take(_ p: MoldUDP64.Packet, recovered: Bool, _ deliver: (UInt64, UnsafeRawBufferPointer) -> Void) {
        if p.isHeartbeat {
            counters.heartbeats &+= 1
            known = max(known, p.sequence)
            return
        }
        if p.isEndOfSession {
            counters.endOfSession &+= 1
            endsAt = p.sequence
            known = max(known, p.sequence)
            return
        }
        counters.packets &+= 1
        known = max(known, p.sequence + UInt64(p.count))
        p.forEachMessage { seq, m in
            if seq < next || ahead[seq] != nil {
                counters.duplicates &+= 1
                return
            }
            if recovered { counters.recovered &+= 1 }
            if seq == next {
                deliver(seq, m)
                next += 1
            } else if ahead.count < aheadMax {
                if ahead.isEmpty { counters.gapsSeen &+= 1 }
                ahead[seq] = Array(m)
                counters.heldAhead &+= 1
            }
        }
        while let m = ahead.removeValue(forKey: next) {
            m.withUnsafeBytes { deliver(next, $0) }
            next += 1
        }
        if let o = outstanding, next > o.sequence { outstanding = nil }
    }

    /// One request at a time for the run of missing numbers starting at `next`.
    func requestIfMissing() {
        guard next < known, !gateways.isEmpty else { return }
        let now = seqcast_monotonic_ns()
        if let o = outstanding, o.sequence == next, now &- o.sentNs < requestTimeoutNs { return }
        var count: UInt64 = 0
        while next + count < known, count < 0xFFFE, ahead[next + count] == nil { count += 1 }
        guard count > 0 else { return }
        var bytes = MoldUDP64.Request(session: session, sequence: next, count: UInt16(count)).bytes
        let gateway = gateways[gatewayTurn % gateways.count]
        gatewayTurn &+= 1
        bytes.withUnsafeMutableBytes { b in
            var send = seqcast_send()
            send.data = UnsafeRawPointer(b.baseAddress!)
            send.len = UInt32(b.count)
            send.dest = gateway
            _ = seqcast_sender_send(sender, requestFd, &send, 1)
        }
        counters.requestsSent &+= 1
        outstanding = (next, now)
    }
}
