/// The authentication trailer (WIRE.md "Authentication trailer"): after the `length` bytes of a
/// datagram whose header has `flagAuthTag`, a 24-byte fixed part then one 16-byte tag per key
/// class named. Both tags are over the same bytes: the datagram's `length` bytes and the fixed
/// part, so nothing in the header, body, incarnation, counter or key ids can change unseen.
///
/// The group tag is under the key every process of the group holds; the server tag under the
/// key only servers hold (THREAT.md says which receiver checks which).
@frozen public struct AuthTrailer: Equatable, Sendable {
    public static let fixedByteCount = 24
    public static let tagByteCount = 16
    /// The largest trailer: both tags.
    public static let byteCountMax = fixedByteCount + 2 * tagByteCount

    /// The sending process's start (wall-clock nanoseconds): higher on every restart.
    public var incarnation: UInt64
    /// The sender's datagram counter within its incarnation: 1, 2, … across all destinations.
    public var counter: UInt64
    /// The group key the group tag is under; 0: no group tag.
    public var groupKeyId: UInt16
    /// The server key the server tag is under; 0: no server tag.
    public var serverKeyId: UInt16

    @inlinable public init(incarnation: UInt64, counter: UInt64, groupKeyId: UInt16, serverKeyId: UInt16) {
        self.incarnation = incarnation
        self.counter = counter
        self.groupKeyId = groupKeyId
        self.serverKeyId = serverKeyId
    }

    @inlinable public var tagCount: Int { (groupKeyId != 0 ? 1 : 0) + (serverKeyId != 0 ? 1 : 0) }
    @inlinable public var byteCount: Int { Self.fixedByteCount + Self.tagByteCount * tagCount }
    /// Where the group tag starts, from the trailer's start.
    @inlinable public var groupTagOffset: Int { Self.fixedByteCount }
    /// Where the server tag starts (after the group tag, if there is one).
    @inlinable public var serverTagOffset: Int { Self.fixedByteCount + (groupKeyId != 0 ? Self.tagByteCount : 0) }

    /// Writes the fixed part at `at` (tags are written by whoever holds the keys).
    @inlinable public func writeFixed(into buffer: UnsafeMutableRawBufferPointer, at: Int) {
        precondition(at >= 0 && at + Self.fixedByteCount <= buffer.count, "trailer outside the buffer")
        buffer.storeBytes(of: incarnation.littleEndian, toByteOffset: at, as: UInt64.self)
        buffer.storeBytes(of: counter.littleEndian, toByteOffset: at + 8, as: UInt64.self)
        buffer.storeBytes(of: groupKeyId.littleEndian, toByteOffset: at + 16, as: UInt16.self)
        buffer.storeBytes(of: serverKeyId.littleEndian, toByteOffset: at + 18, as: UInt16.self)
        buffer.storeBytes(of: UInt32(0), toByteOffset: at + 20, as: UInt32.self)
    }

    /// Splits a received datagram into the `length` bytes the role decodes and the trailer.
    /// Checks only the framing: the header's flag, that `length` leaves room for a trailer, that
    /// the reserved bytes are zero and the tags named are all there. Tags are checked by the caller.
    @inlinable public static func split(_ datagram: UnsafeRawBufferPointer) -> Split {
        guard datagram.count >= Header.byteCount else { return .malformed }
        let flags = UInt16(littleEndian: datagram.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        guard flags & Header.flagAuthTag != 0 else { return .missing }
        let length = Int(UInt32(littleEndian: datagram.loadUnaligned(fromByteOffset: 28, as: UInt32.self)))
        guard length >= Header.byteCount, length <= datagram.count - fixedByteCount else { return .malformed }
        let t = AuthTrailer(
            incarnation: UInt64(littleEndian: datagram.loadUnaligned(fromByteOffset: length, as: UInt64.self)),
            counter: UInt64(littleEndian: datagram.loadUnaligned(fromByteOffset: length + 8, as: UInt64.self)),
            groupKeyId: UInt16(littleEndian: datagram.loadUnaligned(fromByteOffset: length + 16, as: UInt16.self)),
            serverKeyId: UInt16(littleEndian: datagram.loadUnaligned(fromByteOffset: length + 18, as: UInt16.self)))
        guard datagram.loadUnaligned(fromByteOffset: length + 20, as: UInt32.self) == 0,
              t.tagCount > 0, length + t.byteCount == datagram.count else { return .malformed }
        return .framed(t, length: length)
    }

    @frozen public enum Split: Equatable {
        /// The header has no `flagAuthTag`.
        case missing
        /// The flag is set but the bytes after `length` are not a trailer.
        case malformed
        /// The role's `length` bytes, then `trailer` (its tags follow its fixed part).
        case framed(AuthTrailer, length: Int)
    }
}
