import CSeqcastShim
import Glibc

/// Batched receive over a node's sockets (multishot RECVMSG over provided buffers with io_uring,
/// poll + recvmmsg otherwise); GRO super-packets arrive split into datagrams. Owned by the
/// thread that polls it: the role's thread (shared mode) or an I/O thread (dedicated mode).
public final class ReceivePath {
    let receiver: OpaquePointer
    public let datagrams: UnsafeMutablePointer<seqcast_datagram>
    public let batchMax: Int
    public let transport: String

    /// - Parameters:
    ///   - buffers: kernel receive buffers (a power of two); each holds a whole 64 KiB GRO super-packet.
    ///     16 (1 MiB) measured best: 64 or 256 cost 30-80 % more CPU per datagram in cache misses,
    ///     more than the extra multishot re-arms 16 causes (scripts/bench-engine).
    public init(sockets: [Int32], transport choice: TransportChoice, buffers: UInt32 = 16,
                batchMax: Int = 1_024) throws(NetworkError) {
        var status = seqcast_status()
        let tags = sockets.indices.map { UInt32($0) }
        let r = sockets.withUnsafeBufferPointer { fds in
            tags.withUnsafeBufferPointer { t in
                seqcast_receiver_create(choice.shimValue, fds.baseAddress, t.baseAddress, UInt32(sockets.count),
                                        buffers, 65_536 + 512, &status)
            }
        }
        guard let r else { throw NetworkError("packet receiver (\(choice.rawValue)): " + NodeNetwork.reason(status)) }
        receiver = r
        transport = TransportChoice.named(shim: status.transport)
        self.batchMax = batchMax
        datagrams = UnsafeMutablePointer<seqcast_datagram>.allocate(capacity: batchMax)
    }

    deinit {
        seqcast_receiver_destroy(receiver)
        datagrams.deallocate()
    }

    /// Receives up to `batchMax` datagrams, waiting at most `timeoutNanos` for the first
    /// (0: never block). The datagrams stay valid until the next call.
    @inline(__always) public func poll(timeoutNanos: Int64) -> Int {
        let n = seqcast_receiver_poll(receiver, datagrams, UInt32(batchMax), timeoutNanos)
        if n >= 0 { return Int(n) }
        // A failing receiver must not spin a core: count, remember, and back off a little.
        pollErrors &+= 1
        lastPollError = -n
        if n != -EINTR, n != -EAGAIN { usleep(1_000) }
        return 0
    }

    /// Polls that failed (other than timeouts), and the last errno: in the process report.
    public private(set) var pollErrors: UInt64 = 0
    public private(set) var lastPollError: Int32 = 0

    @inline(__always) public subscript(i: Int) -> seqcast_datagram { datagrams[i] }

    public var stats: seqcast_receiver_stats {
        var s = seqcast_receiver_stats()
        seqcast_receiver_stats_get(receiver, &s)
        return s
    }
}
