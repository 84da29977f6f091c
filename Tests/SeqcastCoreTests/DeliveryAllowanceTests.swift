import Testing
@testable import SeqcastCore
import SeqcastWire

/// An embedding application polls a bounded batch: the member hands at most its allowance and
/// keeps the rest held, losing, reordering and duplicating nothing (the library's `poll`).
@Suite("Delivery allowance: bounded polls")
struct DeliveryAllowanceTests {
    @Test("a member with allowance 0 delivers nothing; raised, it hands exactly that many in order, then the rest")
    func boundedBatchesLoseNothing() throws {
        var g = TestGroup(members: 2)
        let slow = g.memberIndex(1)
        g.memberNodes[1].role.deliveryAllowance = 0
        for k in 1...20 { _ = try g.publishAccepted(0, TestGroup.body(k)) }
        try g.run(until: { $0.receiver($0.memberIndex(0)).deliveredThrough.rawValue >= 20 })
        #expect(g.deliveries(slow).isEmpty, "allowance 0: nothing handed")
        #expect(g.receiver(slow).deliveredThrough == .zero)
        #expect(g.receiver(slow).committedThrough.rawValue >= 20, "the member knows what is committed")

        var batches: [Int] = []
        while g.receiver(slow).deliveredThrough.rawValue < 20 {
            let before = g.deliveries(slow).count
            g.memberNodes[1].role.deliveryAllowance = 7
            _ = g.memberNodes[1].perform(now: g.now) { $0.deliverHeld(now: g.now) }
            g.drain(slow)
            batches.append(g.deliveries(slow).count - before)
            #expect(batches.count <= 3)
            if batches.count > 3 { break }
        }
        #expect(batches == [7, 7, 6], "bounded batches of 7, then the remaining 6")
        #expect(g.receiver(slow).deliveryAllowance == 1)
        #expect(g.deliveries(slow) == g.memberDeliveries(0), "the same sequence as the unbounded member")
        #expect(g.deliveries(slow).map(\.seq.rawValue) == Array(1...20))
    }
}
