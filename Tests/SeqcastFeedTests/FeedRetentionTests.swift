import SeqcastFeed
import Testing

@Suite struct FeedRetentionTests {
    func body(_ seq: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: Int(seq) &+ $0) } }

    @Test func keepsTheNewestByCount() {
        var r = FeedRetention(messages: 4, bytes: 65_536)
        for s in UInt64(1)...10 { body(s, 10).withUnsafeBytes { r.append(s, $0) } }
        #expect(r.first == 7 && r.next == 11 && r.count == 4)
        #expect(r.message(6) == nil && r.message(11) == nil)
        for s in UInt64(7)...10 { #expect(r.message(s).map(Array.init) == body(s, 10)) }
    }

    @Test func keepsTheNewestByBytesAcrossTheRingsEnd() {
        // 65,536 bytes of ring, messages of 1,000 bytes: at most 65 fit; every one read back must
        // be intact however often the ring wrapped.
        var r = FeedRetention(messages: 1_000, bytes: 65_536)
        for s in UInt64(1)...1_000 {
            body(s, 1_000 - Int(s % 7)).withUnsafeBytes { r.append(s, $0) }
            #expect(r.message(s).map(Array.init) == body(s, 1_000 - Int(s % 7)))
        }
        #expect(r.count >= 60 && r.count <= 66, "\(r.count)")
        #expect(r.next == 1_001)
        for s in r.first..<r.next { #expect(r.message(s).map(Array.init) == body(s, 1_000 - Int(s % 7))) }
    }

    @Test func aJumpStartsOver() {
        var r = FeedRetention(messages: 8, bytes: 65_536)
        for s in UInt64(1)...3 { body(s, 5).withUnsafeBytes { r.append(s, $0) } }
        body(100, 5).withUnsafeBytes { r.append(100, $0) }
        #expect(r.first == 100 && r.count == 1 && r.message(3) == nil)
    }
}
