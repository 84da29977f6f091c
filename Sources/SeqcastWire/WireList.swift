/// A fixed-width element of a list inside a datagram.
public protocol WireElement {
    static var byteCount: Int { get }
    static func decode(_ r: inout WireReader) throws(DecodeError) -> Self
    func encode(into w: inout WireWriter) throws(EncodeError)
}

extension SequenceRun: WireElement {}

/// A validated list of fixed-width elements, read lazily from the datagram it came from.
/// Decoding checked every element, so iterating cannot fail; the view borrows the datagram's
/// bytes and must not outlive the call that received them.
@frozen public struct WireList<Element: WireElement>: Sequence {
    public let bytes: UnsafeRawBufferPointer
    public let count: Int

    @inlinable init(bytes: UnsafeRawBufferPointer, count: Int) {
        self.bytes = bytes
        self.count = count
    }

    /// Reads `count` elements from `r`, validating each one, and returns a view over them.
    @inlinable static func decode(_ r: inout WireReader, count: Int) throws(DecodeError) -> WireList {
        try r.checkList(count: count, width: Element.byteCount)
        let start = r.offset
        let slice = try r.readBytes(count * Element.byteCount)
        // Check the elements with a reader that ends where the list ends but keeps datagram
        // offsets, so an element's `badField`/`badCount` points into the datagram like every
        // other DecodeError (a reader over `slice` alone would report list-relative offsets).
        var check = WireReader(UnsafeRawBufferPointer(rebasing: r.bytes[..<r.offset]), offset: start)
        for _ in 0..<count { _ = try Element.decode(&check) }
        return WireList(bytes: slice, count: count)
    }

    @frozen public struct Iterator: IteratorProtocol {
        @usableFromInline var reader: WireReader
        @usableFromInline var left: Int
        @inlinable init(reader: WireReader, left: Int) {
            self.reader = reader
            self.left = left
        }
        @inlinable public mutating func next() -> Element? {
            guard left > 0 else { return nil }
            left -= 1
            do {
                return try Element.decode(&reader)
            } catch {
                preconditionFailure("WireList element failed to decode after validation: \(error)")
            }
        }
    }

    @inlinable public func makeIterator() -> Iterator { Iterator(reader: WireReader(bytes), left: count) }
    @inlinable public var underestimatedCount: Int { count }
}

/// Helpers for the u16 element counts that precede lists.
extension WireWriter {
    /// Writes every element of `elements` and returns how many; fails if more than `UInt16.max`.
    @inlinable mutating func writeList<C: Collection>(_ elements: C) throws(EncodeError) where C.Element: WireElement {
        guard elements.count <= Int(UInt16.max) else { throw .invalidField("list longer than 65535") }
        for e in elements { try e.encode(into: &self) }
    }
}
