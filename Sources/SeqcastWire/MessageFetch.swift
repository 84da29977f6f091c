/// `messageFetch`: a NAK for bodies: "send me counters `firstCounter` ..< `firstCounter+count`
/// of `sender`". Sent to one data server by members (claim 9) and by data servers that missed
/// a datagram. Answered with `messageReply` datagrams, or a `fetchMiss`.
@frozen public struct MessageFetch: Equatable, Sendable {
    public var sender: SenderId
    public var firstCounter: UInt64
    public var count: UInt32
    @inlinable public init(sender: SenderId, firstCounter: UInt64, count: UInt32) {
        self.sender = sender
        self.firstCounter = firstCounter
        self.count = count
    }
    @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
        guard firstCounter >= 1, count >= 1, firstCounter <= UInt64.max - UInt64(count) else {
            throw .invalidField("fetch range")
        }
        try w.writeU64(sender.rawValue)
        try w.writeU64(firstCounter)
        try w.writeU32(count)
        try w.writeU32(0)
    }
    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> MessageFetch {
        let sender = SenderId(rawValue: try r.readU64())
        let offset = r.offset
        let first = try r.readU64()
        let count = try r.readU32()
        try r.readZero(4)
        guard first >= 1, count >= 1, first <= UInt64.max - UInt64(count) else { throw .badCount(offset: offset) }
        return MessageFetch(sender: sender, firstCounter: first, count: count)
    }
}

/// `fetchMiss`: a data server cannot supply counters of a fetch, either because it never held
/// them or because it collected them behind checkpoint `checkpointSeq` ("use a checkpoint").
@frozen public struct FetchMiss: Equatable, Sendable {
    public enum Reason: UInt8, Sendable { case notHeld = 0, collected = 1 }
    public var sender: SenderId
    public var firstCounter: UInt64
    public var count: UInt32
    public var reason: Reason
    public var checkpointSeq: SequenceNumber
    @inlinable public init(sender: SenderId, firstCounter: UInt64, count: UInt32, reason: Reason,
                           checkpointSeq: SequenceNumber) {
        self.sender = sender
        self.firstCounter = firstCounter
        self.count = count
        self.reason = reason
        self.checkpointSeq = checkpointSeq
    }
    @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
        try MessageFetch(sender: sender, firstCounter: firstCounter, count: count).encode(into: &w)
        try w.writeU8(reason.rawValue)
        try w.writeZero(7)
        try w.writeU64(checkpointSeq.rawValue)
    }
    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> FetchMiss {
        let fetch = try MessageFetch.decode(&r)
        let offset = r.offset
        guard let reason = Reason(rawValue: try r.readU8()) else { throw .badField(offset: offset) }
        try r.readZero(7)
        return FetchMiss(sender: fetch.sender, firstCounter: fetch.firstCounter, count: fetch.count, reason: reason,
                         checkpointSeq: SequenceNumber(try r.readU64()))
    }
}
