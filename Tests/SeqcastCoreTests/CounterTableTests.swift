import Testing
@testable import SeqcastCore
import SeqcastWire

/// The counter-laid-out table must behave exactly like `Dictionary` whatever the order of
/// counters: in order, reordered, with gaps far ahead of a lane's window, and far behind it.
@Suite struct CounterTableTests {
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func matchesDictionaryUnderRandomOperations(seed: UInt64) {
        var prng = Prng(seed: seed)
        var table = CounterTable<UInt64>(laneCapacity: 64, overflowCapacity: 8)
        var model: [MessageId: UInt64] = [:]
        var front: [UInt64] = [1, 1, 1]
        for step in 0..<20_000 {
            let s = Int(prng.below(3))
            // Mostly near a moving front, sometimes far ahead or far behind (the lane is 64 wide).
            let jitter = prng.below(100) < 90 ? prng.below(40) : prng.below(400)
            let counter = prng.chance(1, in: 10) ? max(1, front[s] &- prng.below(200)) : front[s] + jitter
            if prng.chance(1, in: 8) { front[s] += 1 + prng.below(5) }
            let id = MessageId(sender: SenderId(node: NodeId(UInt32(s + 1)), incarnation: 1), counter: counter)
            switch prng.below(3) {
            case 0, 1:
                table[id] = UInt64(step)
                model[id] = UInt64(step)
            default:
                #expect(table.removeValue(forKey: id) == model.removeValue(forKey: id))
            }
            #expect(table.count == model.count)
            if step % 97 == 0 {
                // Drain some of the oldest, as delivery and garbage collection do.
                for (k, _) in model.sorted(by: { $0.key < $1.key }).prefix(5) {
                    #expect(table.removeValue(forKey: k) == model.removeValue(forKey: k))
                }
            }
        }
        for (k, v) in model { #expect(table[k] == v) }
        #expect(Set(table.allKeys) == Set(model.keys))
        #expect(table.allKeys.count == model.count, "no key held twice")
        for k in model.keys { table.removeValue(forKey: k) }
        #expect(table.isEmpty && table.lanes.allSatisfy { $0.count == 0 }, "emptied lanes hold nothing")
    }
}
