/// `idQuery`: a NAK for bindings: "which messages hold numbers `firstSeq` ..< `firstSeq+count`?"
/// Sent to one commit server (claim 9); answered with an `idReply` to the requester's address.
@frozen public struct IdQuery: Equatable, Sendable {
    public var firstSeq: SequenceNumber
    public var count: UInt32
    @inlinable public init(firstSeq: SequenceNumber, count: UInt32) {
        self.firstSeq = firstSeq
        self.count = count
    }
    @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
        guard firstSeq.rawValue >= 1, count >= 1, firstSeq.rawValue <= UInt64.max - UInt64(count) else {
            throw .invalidField("id query range")
        }
        try w.writeU64(firstSeq.rawValue)
        try w.writeU32(count)
        try w.writeU32(0)
    }
    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> IdQuery {
        let offset = r.offset
        let first = try r.readU64()
        let count = try r.readU32()
        try r.readZero(4)
        guard first >= 1, count >= 1, first <= UInt64.max - UInt64(count) else { throw .badCount(offset: offset) }
        return IdQuery(firstSeq: SequenceNumber(first), count: count)
    }
}
