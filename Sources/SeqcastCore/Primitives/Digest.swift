/// The running digest of delivered streams and checkpoints: FNV-1a's offset and prime, applied
/// a 64-bit little-endian word at a time (then a xor-shift to carry high bits down), with a
/// byte-wise tail. Each step is a bijection of the state for a given input, so a single
/// differing word always changes the result. Not cryptographic; it detects divergence, which is
/// what the invariants need. Word-wise because it runs twice per delivered message.
@frozen public struct Digest: Hashable, Sendable {
    public var value: UInt64 = 0xCBF2_9CE4_8422_2325
    @usableFromInline static let prime: UInt64 = 0x0000_0100_0000_01B3
    @inlinable public init() {}
    @inlinable public init(value: UInt64) { self.value = value }

    @inlinable public mutating func add(_ v: UInt64) {
        let x = (value ^ v) &* Self.prime
        value = x ^ (x >> 32)
    }

    @inlinable public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var v = value
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            let x = (v ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))) &* Self.prime
            v = x ^ (x >> 32)
            i += 8
        }
        while i < n {
            v = (v ^ UInt64(bytes[i])) &* Self.prime
            i += 1
        }
        value = v
    }

    @inlinable public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var d = Digest()
        d.add(bytes)
        return d.value
    }
}
