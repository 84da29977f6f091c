/// Message bodies in fixed-size slots allocated once (slabs with free lists), so storing and
/// freeing a body allocates nothing. Two slot sizes: small bodies (at most `smallSlotBytes`, the
/// common case of market-data-like messages) share cache lines densely instead of each taking a
/// datagram-sized slot, which measured as a cache miss per delivered message; larger ones take a
/// datagram-sized slot. Bodies larger than that (reassembled fragments) take a separately
/// allocated buffer and hold as many large slots in reserve as they would fill.
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
    @usableFromInline var freeSmall: [Int32]
    @usableFromInline var freeLarge: [Int32]
    /// Large bodies, each with the large slots it holds in reserve (so a store full of large
    /// bodies is bounded like one full of datagram-sized ones).
    @usableFromInline var overflow: [Int32: (bytes: [UInt8], reserved: [Int32])] = [:]
    @usableFromInline var nextOverflowKey: Int32 = -1

    public init(slotBytes: Int, slotCountMax: Int) {
        precondition(slotBytes > 0 && slotCountMax > 0 && slotCountMax < Int(Int32.max) / 2, "bad body store size")
        self.slotBytes = slotBytes
        self.slotCountMax = slotCountMax
        small = [UInt8](repeating: 0, count: Self.smallSlotBytes * slotCountMax)
        large = [UInt8](repeating: 0, count: slotBytes * slotCountMax)
        lengths = [Int32](repeating: 0, count: 2 * slotCountMax)
        // Lowest slots first, so a lightly used store stays in few cache lines.
        freeSmall = (0..<Int32(slotCountMax)).reversed()
        freeLarge = (Int32(slotCountMax)..<Int32(2 * slotCountMax)).reversed()
    }

    public var slotsFree: Int { freeSmall.count + freeLarge.count }
    /// Free datagram-sized slots: what runs out first (small bodies spill into these).
    public var largeSlotsFree: Int { freeLarge.count }

    /// Copies `body` in; nil when the store is full.
    public mutating func store(_ body: UnsafeRawBufferPointer) -> Handle? {
        if body.count > slotBytes {
            // A large body (reassembled fragments) takes its own buffer and holds as many large
            // slots in reserve as its size would fill: the store's bound stays one of bytes.
            let slots = (body.count + slotBytes - 1) / slotBytes
            guard freeLarge.count >= slots else { return nil }
            let key = nextOverflowKey
            nextOverflowKey = key == Int32.min ? -1 : key - 1
            let reserved = Array(freeLarge.suffix(slots))
            freeLarge.removeLast(slots)
            overflow[key] = (Array(body), reserved)
            return Handle(raw: key)
        }
        if body.count <= Self.smallSlotBytes, let slot = freeSmall.popLast() {
            let base = Int(slot) * Self.smallSlotBytes
            small.withUnsafeMutableBytes { all in
                UnsafeMutableRawBufferPointer(rebasing: all[base..<(base + body.count)]).copyMemory(from: body)
            }
            lengths[Int(slot)] = Int32(body.count)
            return Handle(raw: slot)
        }
        guard let slot = freeLarge.popLast() else { return nil }
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
