/// Message bodies in fixed-size slots allocated once (a slab with a free list), so storing and
/// freeing a body allocates nothing. Bodies larger than a slot (reassembled fragments) take a
/// separately allocated overflow buffer: a rare path by design.
///
/// Owned by one role. Invariant: a handle is live from `store` until `free`.
public struct BodyStore {
    @frozen public struct Handle: Hashable, Sendable {
        @usableFromInline var raw: Int32
        @inlinable init(raw: Int32) { self.raw = raw }
    }

    public static let overflowCountMax = 256
    public let slotBytes: Int
    public let slotCountMax: Int
    @usableFromInline var arena: [UInt8]
    @usableFromInline var lengths: [Int32]
    @usableFromInline var freeSlots: [Int32]
    @usableFromInline var overflow: [Int32: [UInt8]] = [:]
    @usableFromInline var nextOverflowKey: Int32 = -1

    public init(slotBytes: Int, slotCountMax: Int) {
        precondition(slotBytes > 0 && slotCountMax > 0 && slotCountMax < Int(Int32.max), "bad body store size")
        self.slotBytes = slotBytes
        self.slotCountMax = slotCountMax
        arena = [UInt8](repeating: 0, count: slotBytes * slotCountMax)
        lengths = [Int32](repeating: 0, count: slotCountMax)
        freeSlots = (0..<Int32(slotCountMax)).reversed()
    }

    public var slotsFree: Int { freeSlots.count }

    /// Copies `body` in; nil when the store is full.
    public mutating func store(_ body: UnsafeRawBufferPointer) -> Handle? {
        if body.count > slotBytes {
            // Large bodies (reassembled fragments) are rare: a few at a time, never unbounded.
            guard overflow.count < Self.overflowCountMax else { return nil }
            let key = nextOverflowKey
            nextOverflowKey = key == Int32.min ? -1 : key - 1
            overflow[key] = Array(body)
            return Handle(raw: key)
        }
        guard let slot = freeSlots.popLast() else { return nil }
        let base = Int(slot) * slotBytes
        arena.withUnsafeMutableBytes { all in
            UnsafeMutableRawBufferPointer(rebasing: all[base..<(base + body.count)]).copyMemory(from: body)
        }
        lengths[Int(slot)] = Int32(body.count)
        return Handle(raw: slot)
    }

    public func withBody<R>(_ h: Handle, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if h.raw < 0 {
            guard let bytes = overflow[h.raw] else { preconditionFailure("dead overflow handle") }
            return try bytes.withUnsafeBytes(body)
        }
        let base = Int(h.raw) * slotBytes
        let n = Int(lengths[Int(h.raw)])
        return try arena.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[base..<(base + n)])) }
    }

    public func byteCount(_ h: Handle) -> Int {
        h.raw < 0 ? overflow[h.raw]?.count ?? 0 : Int(lengths[Int(h.raw)])
    }

    public mutating func free(_ h: Handle) {
        if h.raw < 0 {
            precondition(overflow.removeValue(forKey: h.raw) != nil, "double free of overflow body")
        } else {
            freeSlots.append(h.raw)
        }
    }
}
