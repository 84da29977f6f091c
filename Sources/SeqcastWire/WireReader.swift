/// Bounds-checked little-endian reads over a borrowed datagram. Every read checks the bytes
/// left before touching memory and throws `DecodeError.truncated` instead of trapping
/// (quinn-proto's `coding.rs` discipline). The buffer must outlive the reader; readers are
/// created inside `withUnsafeBytes` scopes and never stored.
@frozen public struct WireReader {
    public let bytes: UnsafeRawBufferPointer
    public var offset: Int

    @inlinable public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    @inlinable public var remaining: Int { bytes.count - offset }

    @inlinable mutating func take(_ n: Int) throws(DecodeError) -> Int {
        guard n >= 0, remaining >= n else { throw .truncated(offset: offset) }
        let at = offset
        offset += n
        return at
    }

    @inlinable public mutating func readU8() throws(DecodeError) -> UInt8 {
        let at = try take(1)
        return bytes[at]
    }

    @inlinable public mutating func readU16() throws(DecodeError) -> UInt16 {
        let at = try take(2)
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))
    }

    @inlinable public mutating func readU32() throws(DecodeError) -> UInt32 {
        let at = try take(4)
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))
    }

    @inlinable public mutating func readU64() throws(DecodeError) -> UInt64 {
        let at = try take(8)
        return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    }

    /// Reads a field that must be zero (reserved padding); non-zero is refused so the bits stay
    /// usable by a later version.
    @inlinable public mutating func readZero(_ width: Int) throws(DecodeError) {
        let at = try take(width)
        for i in at..<(at + width) where bytes[i] != 0 { throw .badField(offset: at) }
    }

    /// A slice of `n` bytes, checked against what is left.
    @inlinable public mutating func readBytes(_ n: Int) throws(DecodeError) -> UnsafeRawBufferPointer {
        let at = try take(n)
        return UnsafeRawBufferPointer(rebasing: bytes[at..<(at + n)])
    }

    /// Checks that `count` elements of `width` bytes fit in what is left, without reading them.
    /// Lists are validated whole before use, so later iteration cannot run past the end.
    @inlinable public func checkList(count: Int, width: Int) throws(DecodeError) {
        let (total, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, total <= remaining else { throw .badCount(offset: offset) }
    }
}
