import Foundation
import Synchronization
import Testing
@testable import SeqcastRuntime

@Suite struct SPSCRingTests {
    @Test func slotsComeOutInOrderAndTheRingRefusesWhenFull() {
        let ring = SPSCSlotRing(capacity: 4, slotBytes: 8)
        var p = SPSCSlotRing.Producer(ring)
        var c = SPSCSlotRing.Consumer(ring)
        for v in 1...4 as ClosedRange<UInt64> {
            p.claim()!.storeBytes(of: v, as: UInt64.self)
            p.commit()
        }
        #expect(p.claim() == nil)
        #expect(c.available(max: 16) == 0)  // nothing published yet
        p.publish()
        #expect(c.available(max: 16) == 4)
        #expect((0..<4).map { c.slot($0).load(as: UInt64.self) } == [1, 2, 3, 4])
        c.release(2)
        #expect(p.claim() != nil)
    }

    @Test func aBlockedConsumerTimesOutAndIsWokenByAPublish() {
        let ring = SPSCSlotRing(capacity: 64, slotBytes: 8)
        var c = SPSCSlotRing.Consumer(ring)
        #expect(c.available(max: 1, timeoutNanos: 2_000_000) == 0)
        let producer = Thread {
            var p = SPSCSlotRing.Producer(ring)
            usleep(20_000)
            p.claim()!.storeBytes(of: UInt64(42), as: UInt64.self)
            p.commit()
            p.publish()
        }
        producer.start()
        // One wait with a 5 s timeout: the publish 20 ms in must end it. A lost wake-up would
        // sleep the whole timeout (and re-reading the ring afterwards would hide it, hence the clock).
        let start = DispatchTime.now().uptimeNanoseconds
        var got = 0
        var waited: UInt64 = 0
        while got == 0, waited < 5_000_000_000 {  // a signal may end a wait early: wait the rest
            got = c.available(max: 1, timeoutNanos: Int64(5_000_000_000 - waited))
            waited = DispatchTime.now().uptimeNanoseconds - start
        }
        #expect(got == 1 && c.slot(0).load(as: UInt64.self) == 42)
        #expect(waited < 2_000_000_000, "woken after \(waited / 1_000_000) ms")
    }

    @Test func crossThreadTransferLosesAndReordersNothing() {
        let ring = SPSCSlotRing(capacity: 256, slotBytes: 8)
        let total: UInt64 = 200_000
        let producer = Thread {
            var p = SPSCSlotRing.Producer(ring)
            var v: UInt64 = 1
            while v <= total {
                if let s = p.claim() {
                    s.storeBytes(of: v, as: UInt64.self)
                    p.commit()
                    v += 1
                    if v % 32 == 0 { p.publish() }
                } else {
                    p.publish()
                }
            }
            p.publish()
        }
        producer.start()
        var c = SPSCSlotRing.Consumer(ring)
        var expected: UInt64 = 1
        var wrong = 0
        while expected <= total {
            let n = c.available(max: 64, timeoutNanos: 1_000_000)
            for i in 0..<n {
                if c.slot(i).load(as: UInt64.self) != expected { wrong += 1 }
                expected += 1
            }
            c.release(n)
        }
        #expect(wrong == 0)
    }
}
