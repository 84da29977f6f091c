/// `data` and `messageReply`: a run of consecutive counters of one sender with their bodies,
/// or one fragment of one large message. Layout in WIRE.md.
@frozen public struct DataMessage {
    public static let fixedByteCount = 32
    /// Per-body overhead: a u32 length.
    public static let bodyOverhead = 4

    public var sender: SenderId
    public var firstCounter: UInt64
    /// Highest committed sequence number the sender knew when it first sent this run.
    public var logicalTs: SequenceNumber
    public var count: UInt16
    public var fragmentIndex: UInt16
    public var fragmentCount: UInt16
    /// The bodies, borrowed from the datagram.
    public var bodies: BodyList

    @inlinable init(sender: SenderId, firstCounter: UInt64, logicalTs: SequenceNumber, count: UInt16,
                    fragmentIndex: UInt16, fragmentCount: UInt16, bodies: BodyList) {
        self.sender = sender
        self.firstCounter = firstCounter
        self.logicalTs = logicalTs
        self.count = count
        self.fragmentIndex = fragmentIndex
        self.fragmentCount = fragmentCount
        self.bodies = bodies
    }

    /// Writes the fixed part for `count` bodies; then append exactly that many with
    /// `appendBody` (a fragment carries exactly one).
    @inlinable public static func encodeFixed(sender: SenderId, firstCounter: UInt64, logicalTs: SequenceNumber,
                                              count: UInt16, fragmentIndex: UInt16 = 0, fragmentCount: UInt16 = 1,
                                              into w: inout WireWriter) throws(EncodeError) -> Int {
        guard count >= 1 else { throw .invalidField("data without bodies") }
        guard firstCounter >= 1, firstCounter <= UInt64.max - UInt64(count) else { throw .invalidField("counter range") }
        guard fragmentCount >= 1, fragmentIndex < fragmentCount, fragmentCount == 1 || count == 1 else {
            throw .invalidField("fragment index")
        }
        try w.writeU64(sender.rawValue)
        try w.writeU64(firstCounter)
        try w.writeU64(logicalTs.rawValue)
        let countOffset = w.offset
        try w.writeU16(count)
        try w.writeU16(fragmentIndex)
        try w.writeU16(fragmentCount)
        try w.writeU16(0)
        return countOffset
    }

    @inlinable public static func appendBody(_ body: UnsafeRawBufferPointer, into w: inout WireWriter) throws(EncodeError) {
        guard body.count <= Int(UInt32.max) else { throw .invalidField("body too long") }
        try w.writeU32(UInt32(body.count))
        try w.writeBytes(body)
    }

    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> DataMessage {
        let start = r.offset
        let sender = SenderId(rawValue: try r.readU64())
        let firstCounter = try r.readU64()
        let logicalTs = SequenceNumber(try r.readU64())
        let countOffset = r.offset
        let count = try r.readU16()
        let fragmentIndex = try r.readU16()
        let fragmentCount = try r.readU16()
        try r.readZero(2)
        guard firstCounter >= 1, firstCounter <= UInt64.max - UInt64(count) else { throw .badField(offset: start) }
        guard count >= 1 else { throw .badCount(offset: countOffset) }
        guard fragmentCount >= 1, fragmentIndex < fragmentCount, fragmentCount == 1 || count == 1 else {
            throw .badField(offset: countOffset + 2)
        }
        let bodies = try BodyList.decode(&r, count: Int(count))
        return DataMessage(sender: sender, firstCounter: firstCounter, logicalTs: logicalTs, count: count,
                           fragmentIndex: fragmentIndex, fragmentCount: fragmentCount, bodies: bodies)
    }
}

/// Length-prefixed bodies, validated whole at decode time and read lazily.
@frozen public struct BodyList: Sequence {
    public let bytes: UnsafeRawBufferPointer
    public let count: Int

    @inlinable init(bytes: UnsafeRawBufferPointer, count: Int) {
        self.bytes = bytes
        self.count = count
    }

    @inlinable static func decode(_ r: inout WireReader, count: Int) throws(DecodeError) -> BodyList {
        let start = r.offset
        // Each body needs at least its 4-byte length: refuse a count the datagram cannot hold
        // before looping over it.
        try r.checkList(count: count, width: DataMessage.bodyOverhead)
        for _ in 0..<count {
            let lengthOffset = r.offset
            let length = try r.readU32()
            guard Int(length) <= r.remaining else { throw .badCount(offset: lengthOffset) }
            _ = try r.readBytes(Int(length))
        }
        return BodyList(bytes: UnsafeRawBufferPointer(rebasing: r.bytes[start..<r.offset]), count: count)
    }

    @frozen public struct Iterator: IteratorProtocol {
        @usableFromInline let bytes: UnsafeRawBufferPointer
        @usableFromInline var offset = 0
        @inlinable init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
        @inlinable public mutating func next() -> UnsafeRawBufferPointer? {
            guard offset < bytes.count else { return nil }
            let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            let start = offset + 4
            offset = start + length
            return UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
        }
    }

    @inlinable public func makeIterator() -> Iterator { Iterator(bytes: bytes) }
}
