import Testing
@testable import SeqcastCore
import SeqcastWire

/// The open-addressing table must behave exactly like `Dictionary` under any sequence of
/// inserts, updates and removals (backward-shift deletion is the part that can go wrong).
@Suite struct HashTableTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func matchesDictionaryUnderRandomOperations(seed: UInt64) {
        var prng = Prng(seed: seed)
        var table = HashTable<MessageId, UInt64>(minimumCapacity: 8)
        var model: [MessageId: UInt64] = [:]
        for step in 0..<40_000 {
            // Few senders, clustered counters: long probe runs, as in a member's pending bodies.
            let id = MessageId(sender: SenderId(node: NodeId(UInt32(prng.below(3))), incarnation: 1),
                               counter: prng.below(600))
            switch prng.below(3) {
            case 0:
                table[id] = UInt64(step)
                model[id] = UInt64(step)
            case 1:
                #expect(table.removeValue(forKey: id) == model.removeValue(forKey: id))
            default:
                table.update(id) { $0 += 1 }
                if model[id] != nil { model[id]! += 1 }
            }
            #expect(table.count == model.count)
        }
        for (k, v) in model { #expect(table[k] == v) }
        #expect(Set(table.allKeys) == Set(model.keys))
        table.removeAll()
        #expect(table.isEmpty && table[MessageId(sender: SenderId(rawValue: 0), counter: 1)] == nil)
    }

    @Test(arguments: [4, 5, 6] as [UInt64])
    func removeAllWhereMatchesDictionaryFilter(seed: UInt64) {
        var prng = Prng(seed: seed)
        for round in 0..<200 {
            var table = HashTable<MessageId, UInt64>(minimumCapacity: 8)
            var model: [MessageId: UInt64] = [:]
            // Clustered keys: long probe runs that wrap around the end of the slots, where a
            // removal shifts entries back over the sweep's position.
            for _ in 0..<Int(prng.below(60)) {
                let id = MessageId(sender: SenderId(node: NodeId(UInt32(prng.below(2))), incarnation: 1),
                                   counter: prng.below(90))
                table[id] = prng.below(10)
                model[id] = table[id]
            }
            let cut = prng.below(10)
            var judged: [MessageId: Int] = [:]
            table.removeAll { k, v in
                judged[k, default: 0] += 1
                return v < cut
            }
            model = model.filter { $0.value >= cut }
            #expect(table.count == model.count, "round \(round)")
            #expect(Set(table.allKeys) == Set(model.keys), "round \(round)")
            for (k, v) in model { #expect(table[k] == v) }
            #expect(Set(judged.keys).isSuperset(of: model.keys), "every kept entry was judged")
            var seen = 0
            table.forEach { k, v in
                #expect(model[k] == v)
                seen += 1
            }
            #expect(seen == model.count)
        }
    }

    @Test func defaultSubscriptReadsAndWrites() {
        var t = HashTable<SenderId, UInt64>()
        let s = SenderId(node: NodeId(4), incarnation: 2)
        #expect(t[s, default: 7] == 7)
        t[s, default: 0] = 9
        #expect(t[s] == 9 && t.count == 1)
    }

    @Test func sendersOfOneIncarnationSpreadOverSlots() {
        // Node ids live in the high half of a SenderId; they must still pick different slots.
        let homes = Set((1...64 as ClosedRange<UInt32>).map {
            SenderId(node: NodeId($0), incarnation: 1).tableHash & 255
        })
        #expect(homes.count >= 40, "only \(homes.count) distinct home slots for 64 senders")
    }
}
