/// `commitAck`: "I have stored every assignment up to `storedThrough` in this epoch" (the
/// epoch is the header's). Cumulative, so a lost ack is superseded by the next.
@frozen public struct CommitAck: Equatable, Sendable {
    public var storedThrough: SequenceNumber
    @inlinable public init(storedThrough: SequenceNumber) { self.storedThrough = storedThrough }
    @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
        try w.writeU64(storedThrough.rawValue)
    }
    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> CommitAck {
        CommitAck(storedThrough: SequenceNumber(try r.readU64()))
    }
}
