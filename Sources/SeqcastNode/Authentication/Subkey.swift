import CSeqcastMAC

/// A GMAC context keyed for one sender incarnation and key class under one configured key
/// (THREAT.md "Primitive"): GMAC needs a nonce that never repeats under its key, and the sender's
/// datagram counter never repeats within an incarnation, so each incarnation gets its own key.
@usableFromInline struct Subkey {
    @usableFromInline var context: OpaquePointer
    /// The sender it was derived for (the header's `source`).
    @usableFromInline var source: UInt32
    @usableFromInline var keyId: UInt16
    @usableFromInline var incarnation: UInt64
    /// The key ring's generation it was derived in.
    @usableFromInline var generation: UInt64

    @inlinable init(context: OpaquePointer, source: UInt32, keyId: UInt16, incarnation: UInt64, generation: UInt64) {
        self.context = context
        self.source = source
        self.keyId = keyId
        self.incarnation = incarnation
        self.generation = generation
    }

    @inlinable func isFor(keyId: UInt16, incarnation: UInt64, generation: UInt64) -> Bool {
        self.keyId == keyId && self.incarnation == incarnation && self.generation == generation
    }

    /// A new context (once per sender and key class, never per datagram).
    @usableFromInline static func makeContext() -> OpaquePointer {
        guard let c = seqcast_gmac_new() else { fatalError("out of memory for a GMAC context") }
        return c
    }

    /// Keys `context` with the first 16 bytes of HMAC-SHA-256(key, "seqcast gmac v1\0" ‖ class ‖ 0 ‖
    /// key id ‖ sender ‖ incarnation), the integers little-endian (32 bytes of input; the C side
    /// wipes the derived key).
    @usableFromInline static func derive(into context: OpaquePointer, from key: UnsafePointer<seqcast_mac_key>,
                                         server: Bool, keyId: UInt16, source: UInt32, incarnation: UInt64) {
        var info: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &info) { b in
            for (i, c) in "seqcast gmac v1".utf8.enumerated() { b[i] = c }
            b[16] = server ? 1 : 0
            b.storeBytes(of: keyId.littleEndian, toByteOffset: 18, as: UInt16.self)
            b.storeBytes(of: source.littleEndian, toByteOffset: 20, as: UInt32.self)
            b.storeBytes(of: incarnation.littleEndian, toByteOffset: 24, as: UInt64.self)
            guard seqcast_gmac_derive_key(context, key, b.baseAddress!, b.count) == 1 else {
                fatalError("AES key schedule failed")
            }
        }
    }
}
