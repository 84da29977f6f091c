import CSeqcastShim
import Foundation
import SeqcastCore
import SeqcastBench
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire

/// Sends bad input to every node of a running group (its unicast port and both multicast
/// groups) at a fixed rate, from a thread of the benchmark coordinator: random bytes, truncated
/// headers, unknown versions and kinds, foreign group ids, lying length fields, valid headers
/// over garbage bodies, and well-formed messages of kinds the receiving role does not take.
/// Every role must drop and count them by reason and the group must keep committing.
///
/// With `forged` set it sends the four forgeries instead (`ForgedDatagrams`): a group
/// without authentication believes them; with authentication every node drops them, counted.
final class HostileSender: @unchecked Sendable {
    let targets: [seqcast_addr]
    let groupId: UInt32
    /// The group's fingerprint, so well-formed bad input passes the group checks and reaches
    /// the roles' deeper ones.
    let fingerprint: UInt32
    let perSecond: Int
    let stop = NSCondition()
    var stopped = false
    private(set) var sent: UInt64 = 0
    var thread: Thread?

    let forged: ForgedDatagrams?

    init(targets: [seqcast_addr], groupId: UInt32, fingerprint: UInt32, perSecond: Int, forged: ForgedDatagrams? = nil) {
        self.targets = targets
        self.forged = forged
        self.groupId = groupId
        self.fingerprint = fingerprint
        self.perSecond = perSecond
    }

    func start(interface: String) {
        let t = Thread { [self] in run(interface: interface) }
        thread = t
        t.start()
    }

    func finish() -> UInt64 {
        stop.lock()
        stopped = true
        stop.unlock()
        while thread?.isFinished == false { usleep(1_000) }
        return sent
    }

    private var isStopped: Bool {
        stop.lock()
        defer { stop.unlock() }
        return stopped
    }

    func run(interface: String) {
        var bind = seqcast_addr()
        guard seqcast_addr_parse(interface, 0, &bind) == 0 else { return }
        let fd = seqcast_socket_open(&bind, 0, 1 << 20, 0)
        guard fd >= 0 else { return }
        defer { seqcast_socket_close(fd) }
        var iface = bind
        _ = seqcast_socket_multicast_out(fd, &iface, 0, 1)
        var status = seqcast_status()
        guard let sender = seqcast_sender_create(Int32(SEQCAST_TRANSPORT_MMSG), 1, &status) else { return }
        defer { seqcast_sender_destroy(sender) }
        var prng = Prng(seed: 0xBAD_1A9E7)
        var buffer = [UInt8](repeating: 0, count: 1_500)
        var k = 0
        let gap = 1_000_000_000 / UInt64(max(perSecond, 1))
        var next = monotonicNanos()
        while !isStopped {
            // Every target gets every variant.
            let variants = forged == nil ? 8 : ForgedDatagrams.variants
            let target = targets[(k / variants) % targets.count]
            buffer.withUnsafeMutableBytes { m in
                let b = forged.map { $0.craft(variant: k, into: m, prng: &prng) }
                    ?? UnsafeRawBufferPointer(rebasing: m[0..<craft(variant: k, into: m, prng: &prng)])
                var s = seqcast_send(data: b.baseAddress, len: UInt32(b.count), segment: 0, reserved: 0, dest: target,
                                     result: 0, reserved2: 0)
                _ = seqcast_sender_send(sender, fd, &s, 1)
            }
            sent += 1
            k += 1
            next += gap
            let now = monotonicNanos()
            if next > now { usleep(UInt32(min((next - now) / 1_000, 100_000))) }
        }
    }

    /// One bad datagram of variant `k % 8`; returns its length.
    func craft(variant k: Int, into b: UnsafeMutableRawBufferPointer, prng: inout Prng) -> Int {
        func header(_ kind: MessageKind, group: UInt32, source: UInt32 = 999) -> Header {
            Header(kind: kind, groupId: group, fingerprint: fingerprint, epoch: Epoch(1), source: NodeId(source))
        }
        func encoded(_ h: Header, _ body: (inout WireWriter) throws(EncodeError) -> Void) -> Int {
            (try? Datagram.encode(h, into: b, body: body)) ?? 0
        }
        switch k % 8 {
        case 0:  // random bytes
            let n = 1 + Int(prng.below(1_400))
            for i in 0..<n { b[i] = UInt8(truncatingIfNeeded: prng.next()) }
            return n
        case 1:  // a valid header cut short
            let n = encoded(header(.heartbeat, group: groupId)) { w throws(EncodeError) in try w.writeU64(1) }
            return max(1, min(n, 1 + Int(prng.below(UInt64(Header.byteCount - 1)))))
        case 2:  // unknown version
            let n = encoded(header(.data, group: groupId)) { _ throws(EncodeError) in }
            b[4] = 9
            return n
        case 3:  // unknown kind
            let n = encoded(header(.data, group: groupId)) { _ throws(EncodeError) in }
            b[5] = 200
            return n
        case 4:  // another group's well-formed heartbeat
            return encoded(header(.heartbeat, group: groupId ^ 0xFFFF, source: 1)) { w throws(EncodeError) in
                try Heartbeat(committedThrough: SequenceNumber(1 << 40), checkpointSeq: .zero, checkpointBytes: 0).encode(into: &w)
            }
        case 5:  // length field that lies
            let n = encoded(header(.commitAck, group: groupId)) { w throws(EncodeError) in try w.writeU64(7) }
            b.storeBytes(of: UInt32(n + 100).littleEndian, toByteOffset: Header.byteCount - 4, as: UInt32.self)
            return n
        case 6:  // valid header, garbage body
            let n = encoded(header(.dataReport, group: groupId)) { w throws(EncodeError) in
                for _ in 0..<8 { try w.writeU64(prng.next()) }
            }
            return n
        default:  // well-formed, but from an unknown node, and a kind most roles do not take
            return encoded(header(.commitAck, group: groupId)) { w throws(EncodeError) in
                try CommitAck(storedThrough: SequenceNumber(1 << 40)).encode(into: &w)
            }
        }
    }
}
