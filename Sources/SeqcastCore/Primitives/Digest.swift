/// FNV-1a, 64 bits: the running digest of delivered streams and checkpoints. Not
/// cryptographic; it detects divergence, which is what the invariants need.
@frozen public struct Digest: Hashable, Sendable {
    public var value: UInt64 = 0xCBF2_9CE4_8422_2325
    @inlinable public init() {}
    @inlinable public init(value: UInt64) { self.value = value }
    @inlinable public mutating func add(_ v: UInt64) {
        var x = v
        for _ in 0..<8 {
            value = (value ^ (x & 0xFF)) &* 0x0000_0100_0000_01B3
            x >>= 8
        }
    }
    @inlinable public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    }
    @inlinable public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var d = Digest()
        d.add(bytes)
        return d.value
    }
}
