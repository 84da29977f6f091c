import CSeqcastShim
import Glibc
import SeqcastCore
import SeqcastNode
import SeqcastTransport
import SeqcastWire

/// A node id already running elsewhere: this start is refused (THREAT.md "Unique identities").
public struct NodeIdInUse: Error, CustomStringConvertible {
    public let node: NodeId
    /// Where the answer came from (the live process's unicast address).
    public let address: String
    /// The live process's start, wall-clock nanoseconds.
    public let startedAt: UInt64

    public var description: String {
        let tenths = Int64(bitPattern: wallClockNanos() &- startedAt) / 100_000_000
        let ago = "\(tenths / 10).\(abs(tenths % 10))"
        return "node id \(node.rawValue) is already running at \(address) (a process started \(ago) s "
            + "ago answered this one's claim); refusing to start a second process with it, which would reuse its message "
            + "ids or its server's place. Give every process its own node id, or stop the other one first"
    }
}

/// Wall-clock nanoseconds (the incarnation and claim clock: ordered across restarts of a node).
public func wallClockNanos() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_REALTIME, &t)
    return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
}

/// Before a role starts: claims the node id on the commit group (every role hears it) for
/// `period`, sending the claim `probes` times spread over it, and listens. A live process with
/// the id answers, and this start throws `NodeIdInUse`; a process claiming at the same moment
/// with an older start wins the same way. Other datagrams heard meanwhile are dropped: the
/// role has not started, and repairs what it needs once it has. Returns the claim, live, for
/// the node driver to defend (`Node.claim`).
public enum NodeIdClaimPhase {
    public static let periodDefault: Nanoseconds = .millis(300)

    public static func run(_ claim: NodeIdClaim, network: NodeNetwork, transport: TransportChoice,
                           auth: DatagramAuthenticator?, period: Nanoseconds = periodDefault, probes: Int = 3) throws
        -> NodeIdClaim {
        var c = claim
        defer { network.flush() }
        guard period.value > 0 else {
            c.live = true
            return c
        }
        let source = try ReceivePath(sockets: network.receiveSockets, transport: transport)
        var buffer = [UInt8](repeating: 0, count: 64)
        func send(_ m: NodeClaim, to d: Destination) {
            buffer.withUnsafeMutableBytes { b in
                let wire = UnsafeRawBufferPointer(rebasing: b[..<c.encode(m, into: b)])
                network.send(auth.map { $0.seal(wire, to: d) } ?? wire, kind: .nodeClaim, to: d)
            }
            network.flush()
        }
        let start = seqcast_monotonic_ns()
        let end = start + period.value
        var sent = 0
        while true {
            var now = seqcast_monotonic_ns()
            if sent < probes, now >= start + period.value * UInt64(sent) / UInt64(probes) {
                send(c.claim, to: .commitGroup)
                sent += 1
                now = seqcast_monotonic_ns()
            }
            guard now < end else { break }
            let due = sent < probes ? min(end, start + period.value * UInt64(sent) / UInt64(probes)) : end
            let n = source.poll(timeoutNanos: Int64(due > now ? due - now : 0))
            for i in 0..<n {
                let bytes = source.bytes(i)
                // Not filtered by address: the live process may hold this one's address on
                // another host; our own claim, looped back, is known by its start and nonce.
                guard NodeIdClaim.isClaim(bytes) else { continue }
                switch c.consider(bytes, auth: auth, now: Instant(nanoseconds: now)) {
                case .refuse(let startedAt)?:
                    throw NodeIdInUse(node: c.node, address: source.from(i).text, startedAt: startedAt)
                case .answer(let answer)?:
                    send(answer, to: .commitGroup)  // as a live node answers (Node.answerClaim)
                case .ignore?, nil:
                    break
                }
            }
            source.release(n)
        }
        c.live = true
        return c
    }
}
