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

    @Test func slabsFillOnlyAsFarAsTheHighestSlotUsed() {
        let slots = 4 * BodyStore.growthSlots
        var store = BodyStore(slotBytes: 1000, slotCountMax: slots)
        #expect(store.slabBytesFilled == 0 && store.slotsFree == 2 * slots)
        // Store and free one body many times: the same slot comes back, nothing more is filled.
        for i in 0..<1_000 {
            let h = bytes(64, UInt8(truncatingIfNeeded: i)).withUnsafeBytes { store.store($0)! }
            store.free(h)
        }
        #expect(store.slabBytesFilled == BodyStore.growthSlots * BodyStore.smallSlotBytes)
        // One more large body than a growth step fills a second step of the large slab.
        var held: [BodyStore.Handle] = []
        for i in 0...BodyStore.growthSlots { held.append(bytes(500, UInt8(truncatingIfNeeded: i)).withUnsafeBytes { store.store($0)! }) }
        #expect(store.slabBytesFilled == BodyStore.growthSlots * BodyStore.smallSlotBytes + 2 * BodyStore.growthSlots * 1000)
        for (i, h) in held.enumerated() { #expect(store.withBody(h) { Array($0) } == bytes(500, UInt8(truncatingIfNeeded: i))) }
        #expect(store.largeSlotsFree == slots - held.count)
    }

    @Test func slotsAReassembledBodyReservedAreWritableOnceItIsFreed() {
        var store = BodyStore(slotBytes: 1000, slotCountMax: 2 * BodyStore.growthSlots)
        // Reserve every large slot past the first growth step through one large body.
        let big = bytes(1000 * (2 * BodyStore.growthSlots - 1), 9)
        let first = bytes(500, 1).withUnsafeBytes { store.store($0)! }
        let h = big.withUnsafeBytes { store.store($0)! }
        #expect(store.largeSlotsFree == 0)
        store.free(h)
        // Each reserved slot is now on the free list: writing into all of them stays in the slab.
        var held: [BodyStore.Handle] = []
        for i in 0..<(2 * BodyStore.growthSlots - 1) {
            held.append(bytes(900, UInt8(truncatingIfNeeded: i)).withUnsafeBytes { store.store($0)! })
        }
        for (i, h) in held.enumerated() { #expect(store.withBody(h) { Array($0) } == bytes(900, UInt8(truncatingIfNeeded: i))) }
        #expect(store.withBody(first) { Array($0) } == bytes(500, 1))
        #expect(store.largeSlotsFree == 0 && store.slabBytesFilled <= store.slotBytes * store.slotCountMax
                + BodyStore.smallSlotBytes * store.slotCountMax)
    }

    @Test func aCopiedStoreGrowsPastTheCapacityItWasCopiedWith() {
        // A copy shares the slabs until one side writes (copy on write); the copy's slab then has
        // only the capacity it was copied with, and filling must not stop at it (the simulator
        // copies roles: a debug run once wrote past a copied slab's end).
        var store = BodyStore(slotBytes: 1000, slotCountMax: 4 * BodyStore.growthSlots)
        let first = bytes(64, 1).withUnsafeBytes { store.store($0)! }
        var copy = store
        var held: [BodyStore.Handle] = []
        for i in 0..<(3 * BodyStore.growthSlots) {
            held.append(bytes(64, UInt8(truncatingIfNeeded: i)).withUnsafeBytes { copy.store($0)! })
            held.append(bytes(900, UInt8(truncatingIfNeeded: i)).withUnsafeBytes { copy.store($0)! })
        }
        for (k, h) in held.enumerated() {
            #expect(copy.withBody(h) { Array($0) } == bytes(k % 2 == 0 ? 64 : 900, UInt8(truncatingIfNeeded: k / 2)))
        }
        #expect(copy.withBody(first) { Array($0) } == bytes(64, 1))
        #expect(store.slotsFree == 2 * store.slotCountMax - 1, "the original changed with its copy")
    }
}
