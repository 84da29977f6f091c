/// Message bodies in fixed-size slots allocated once (slabs with free lists), so storing and
/// freeing a body allocates nothing. Two slot sizes: small bodies (at most `smallSlotBytes`, the
/// common case of market-data-like messages) share cache lines densely instead of each taking a
/// datagram-sized slot, which measured as a cache miss per delivered message; larger ones take a
/// datagram-sized slot. Bodies larger than that (reassembled fragments) take a separately
/// allocated buffer and hold as many large slots in reserve as they would fill.
///
/// The slabs are reserved whole at start but filled (touched) only as far as the highest slot
/// ever used, growing by `growthSlots`: a process, or a simulated group of a thousand members,
/// pays resident memory for the bodies it holds, not for the store's configured bound.
/// Slots never used yet are free without being on a free list (`freshSmall`, `freshLarge`).
///
/// Owned by one role. Invariant: a handle is live from `store` until `free`.
public struct BodyStore {
    @frozen public struct Handle: Hashable, Sendable {
        @usableFromInline var raw: Int32
        @inlinable init(raw: Int32) { self.raw = raw }
    }

    public static let smallSlotBytes = 128
    public let slotBytes: Int
    public let slotCountMax: Int
    /// Handles 0..<slotCountMax are small slots, slotCountMax..<2*slotCountMax large ones,
    /// negative ones overflow buffers.
    @usableFromInline var small: [UInt8]
    @usableFromInline var large: [UInt8]
    @usableFromInline var lengths: [Int32]
    /// Freed slots, reused last-freed first; slots at or above `freshSmall` / `freshLarge`
    /// were never used and are free too.
    @usableFromInline var freeSmall: [Int32]
    @usableFromInline var freeLarge: [Int32]
    @usableFromInline var freshSmall: Int32 = 0
    @usableFromInline var freshLarge: Int32
    /// Slots a slab grows by when a fresh slot lies past its filled part.
    public static let growthSlots = 64
    /// Large bodies, each with the large slots it holds in reserve (so a store full of large
    /// bodies is bounded like one full of datagram-sized ones).
    @usableFromInline var overflow: [Int32: (bytes: [UInt8], reserved: [Int32])] = [:]
    @usableFromInline var nextOverflowKey: Int32 = -1

    public init(slotBytes: Int, slotCountMax: Int) {
        precondition(slotBytes > 0 && slotCountMax > 0 && slotCountMax < Int(Int32.max) / 2, "bad body store size")
        self.slotBytes = slotBytes
        self.slotCountMax = slotCountMax
        // Reserved, not filled: the untouched capacity costs address space, not memory.
        small = []
        small.reserveCapacity(Self.smallSlotBytes * slotCountMax)
        large = []
        large.reserveCapacity(slotBytes * slotCountMax)
        lengths = [Int32](repeating: 0, count: 2 * slotCountMax)
        freeSmall = []
        freeSmall.reserveCapacity(slotCountMax)
        freeLarge = []
        freeLarge.reserveCapacity(slotCountMax)
        freshLarge = Int32(slotCountMax)
    }

    public var slotsFree: Int { freeSmall.count + (slotCountMax - Int(freshSmall)) + largeSlotsFree }
    /// Free datagram-sized slots: what runs out first (small bodies spill into these).
    public var largeSlotsFree: Int { freeLarge.count + (2 * slotCountMax - Int(freshLarge)) }
    /// Bytes of slab filled so far (what the store costs in resident memory, beyond its tables).
    public var slabBytesFilled: Int { small.count + large.count }

    /// A free small slot, lowest fresh one if none was freed (nil: all are taken).
    @inline(__always) mutating func takeSmall() -> Int32? {
        if let slot = freeSmall.popLast() { return slot }
        guard Int(freshSmall) < slotCountMax else { return nil }
        let slot = freshSmall
        freshSmall += 1
        let needed = Int(freshSmall) * Self.smallSlotBytes
        if small.count < needed {
            Self.fill(&small, to: needed, step: Self.growthSlots * Self.smallSlotBytes, limit: Self.smallSlotBytes * slotCountMax)
        }
        return slot
    }

    /// A free large slot, as `takeSmall` (handles slotCountMax..<2*slotCountMax).
    @inline(__always) mutating func takeLarge() -> Int32? {
        if let slot = freeLarge.popLast() { return slot }
        guard Int(freshLarge) < 2 * slotCountMax else { return nil }
        let slot = freshLarge
        freshLarge += 1
        let needed = (Int(freshLarge) - slotCountMax) * slotBytes
        if large.count < needed { Self.fill(&large, to: needed, step: Self.growthSlots * slotBytes, limit: slotBytes * slotCountMax) }
        return slot
    }

    /// Fills `slab` with zeros up to at least `needed` bytes, a step at a time, never past
    /// `limit` (the slab's whole size). Within the capacity reserved at start nothing filled
    /// before moves; a copied store's slab (copy on write) has only the capacity it was copied
    /// with, and grows by reallocating.
    @inline(never) static func fill(_ slab: inout [UInt8], to needed: Int, step: Int, limit: Int) {
        let target = min(limit, max(needed, slab.count + step))
        slab.append(contentsOf: repeatElement(0, count: target - slab.count))
    }

    /// Copies `body` in; nil when the store is full.
    public mutating func store(_ body: UnsafeRawBufferPointer) -> Handle? {
        if body.count > slotBytes {
            // A large body (reassembled fragments) takes its own buffer and holds as many large
            // slots in reserve as its size would fill: the store's bound stays one of bytes.
            let slots = (body.count + slotBytes - 1) / slotBytes
            guard largeSlotsFree >= slots else { return nil }
            let key = nextOverflowKey
            nextOverflowKey = key == Int32.min ? -1 : key - 1
            var reserved: [Int32] = []
            reserved.reserveCapacity(slots)
            for _ in 0..<slots {
                if let slot = freeLarge.popLast() {
                    reserved.append(slot)
                } else {
                    reserved.append(freshLarge)
                    freshLarge += 1
                }
            }
            // A reserved slot goes back to the free list when this body is freed, and slots taken
            // from it are assumed filled.
            let needed = (Int(freshLarge) - slotCountMax) * slotBytes
            if large.count < needed { Self.fill(&large, to: needed, step: Self.growthSlots * slotBytes, limit: slotBytes * slotCountMax) }
            overflow[key] = (Array(body), reserved)
            return Handle(raw: key)
        }
        if body.count <= Self.smallSlotBytes, let slot = takeSmall() {
            let base = Int(slot) * Self.smallSlotBytes
            small.withUnsafeMutableBytes { all in
                UnsafeMutableRawBufferPointer(rebasing: all[base..<(base + body.count)]).copyMemory(from: body)
            }
            lengths[Int(slot)] = Int32(body.count)
            return Handle(raw: slot)
        }
        guard let slot = takeLarge() else { return nil }
        let base = (Int(slot) - slotCountMax) * slotBytes
        large.withUnsafeMutableBytes { all in
            UnsafeMutableRawBufferPointer(rebasing: all[base..<(base + body.count)]).copyMemory(from: body)
        }
        lengths[Int(slot)] = Int32(body.count)
        return Handle(raw: slot)
    }

    public func withBody<R>(_ h: Handle, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if h.raw < 0 {
            guard let entry = overflow[h.raw] else { preconditionFailure("dead overflow handle") }
            return try entry.bytes.withUnsafeBytes(body)
        }
        let slot = Int(h.raw)
        let n = Int(lengths[slot])
        if slot < slotCountMax {
            let base = slot * Self.smallSlotBytes
            return try small.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[base..<(base + n)])) }
        }
        let base = (slot - slotCountMax) * slotBytes
        return try large.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[base..<(base + n)])) }
    }

    public func byteCount(_ h: Handle) -> Int {
        h.raw < 0 ? overflow[h.raw]?.bytes.count ?? 0 : Int(lengths[Int(h.raw)])
    }

    public mutating func free(_ h: Handle) {
        if h.raw < 0 {
            guard let entry = overflow.removeValue(forKey: h.raw) else { preconditionFailure("double free of overflow body") }
            freeLarge.append(contentsOf: entry.reserved)
        } else if Int(h.raw) < slotCountMax {
            freeSmall.append(h.raw)
        } else {
            freeLarge.append(h.raw)
        }
    }
}
