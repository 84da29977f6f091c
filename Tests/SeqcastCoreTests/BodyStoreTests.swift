import Testing
@testable import SeqcastCore

@Suite struct BodyStoreTests {
    func bytes(_ n: Int, _ seed: UInt8) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0) &+ seed } }

    @Test func bodiesOfEverySizeClassComeBackIntact() {
        var store = BodyStore(slotBytes: 1472, slotCountMax: 8)
        let sizes = [0, 1, BodyStore.smallSlotBytes, BodyStore.smallSlotBytes + 1, 1472, 5000]
        let handles = sizes.enumerated().map { i, n in bytes(n, UInt8(i)).withUnsafeBytes { store.store($0)! } }
        for (i, n) in sizes.enumerated() {
            #expect(store.byteCount(handles[i]) == n)
            #expect(store.withBody(handles[i]) { Array($0) } == bytes(n, UInt8(i)))
        }
        for h in handles { store.free(h) }
        #expect(store.slotsFree == 16)
    }

    @Test func aLargeBodyHoldsTheLargeSlotsItsSizeWouldFill() {
        var store = BodyStore(slotBytes: 1000, slotCountMax: 4)
        let big = bytes(2_500, 3)  // three slots' worth
        let h = big.withUnsafeBytes { store.store($0) }
        #expect(h != nil && store.largeSlotsFree == 1)
        #expect(bytes(2_500, 4).withUnsafeBytes { store.store($0) } == nil, "not enough room for a second")
        #expect(store.withBody(h!) { Array($0) } == big)
        store.free(h!)
        #expect(store.largeSlotsFree == 4)
    }

    @Test func smallBodiesSpillIntoLargeSlotsThenTheStoreIsFull() {
        var store = BodyStore(slotBytes: 1472, slotCountMax: 2)
        let small = bytes(64, 7)
        var handles: [BodyStore.Handle] = []
        for _ in 0..<4 { handles.append(small.withUnsafeBytes { store.store($0)! }) }
        #expect(small.withUnsafeBytes { store.store($0) } == nil)
        // A large body needs a large slot: none left.
        #expect(bytes(500, 1).withUnsafeBytes { store.store($0) } == nil)
        store.free(handles[3])
        let again = bytes(500, 1).withUnsafeBytes { store.store($0) }
        #expect(again != nil && store.withBody(again!) { Array($0) } == bytes(500, 1))
        for h in handles.prefix(3) { #expect(store.withBody(h) { Array($0) } == small) }
    }
}
