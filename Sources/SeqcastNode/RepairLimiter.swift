import SeqcastWire

/// A token bucket per requesting peer for repair replies (message replies, id replies, fetch
/// misses, checkpoint chunks): a lossy or hostile receiver cannot make a server flood the
/// network. Replies over the rate are dropped and counted; the requester retries with backoff.
/// A node policy, not a protocol rule: it lives in the node so the simulator runs it too.
public struct RepairLimiter {
    struct Bucket {
        var tokens: Double
        var refilledAt: UInt64
    }

    /// The runtime's default: repair datagrams per second one server sends one requester.
    public static let perSecondDefault = 200_000
    /// Requesters tracked at once; past this the table starts over (every bucket full again).
    public static let peersMax = 1_024
    /// The smallest burst a requester may take at once (a checkpoint transfer, a NAK reply).
    public static let burstMin = 64.0

    let perSecond: Double
    let burst: Double
    var buckets: [UInt64: Bucket] = [:]
    public private(set) var throttled: UInt64 = 0

    public init(perSecond: Int) {
        precondition(perSecond >= 1, "a repair rate of at least one datagram per second")
        self.perSecond = Double(perSecond)
        burst = max(Self.burstMin, self.perSecond / 100)
        buckets.reserveCapacity(Self.peersMax)
    }

    /// Whether a repair reply to `peer` may leave at `now` (nanoseconds); takes a token if so.
    public mutating func allow(peer: UInt64, now: UInt64) -> Bool {
        var b = buckets[peer] ?? Bucket(tokens: burst, refilledAt: now)
        let elapsed = Double(now &- b.refilledAt) / 1e9
        b.tokens = min(burst, b.tokens + elapsed * perSecond)
        b.refilledAt = now
        let ok = b.tokens >= 1
        if ok { b.tokens -= 1 } else { throttled &+= 1 }
        if buckets.count >= Self.peersMax, buckets[peer] == nil { buckets.removeAll(keepingCapacity: true) }
        buckets[peer] = b
        assert(b.tokens >= 0 && b.tokens <= burst, "token count out of range")
        return ok
    }

    /// The replies this limiter governs: answers to requests, sent to the requester's address.
    @inline(__always) public static func governs(_ kind: MessageKind) -> Bool {
        switch kind {
        case .messageReply, .idReply, .fetchMiss, .checkpointChunk: true
        default: false
        }
    }
}
