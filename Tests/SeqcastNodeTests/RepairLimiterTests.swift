import Testing
import SeqcastNode

/// Repair replies to one requester are capped at the configured rate (with a burst of 10 ms'
/// worth, at least 64); other requesters have their own allowance.
@Suite struct RepairLimiterTests {
    @Test func aFloodingPeerIsCappedAndOthersAreNot() {
        var limiter = RepairLimiter(perSecond: 10_000)  // burst: 100 replies
        var allowed = 0
        for _ in 0..<1_000 where limiter.allow(peer: 1, now: 1_000_000_000) { allowed += 1 }
        #expect(allowed == 100)
        #expect(limiter.throttled == 900)
        let other = limiter.allow(peer: 2, now: 1_000_000_000)
        #expect(other, "another peer has its own bucket")
        // 5 ms later, 50 more replies are allowed to the flooding peer.
        var later = 0
        for _ in 0..<1_000 where limiter.allow(peer: 1, now: 1_005_000_000) { later += 1 }
        #expect(later == 50)
    }
}
