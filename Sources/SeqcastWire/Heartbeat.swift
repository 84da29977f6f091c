/// `heartbeat`: the sequencer's committed frontier at generation time (claim 11) and the
/// latest checkpoint reported to it, so receivers detect tail loss and joiners pick a checkpoint.
@frozen public struct Heartbeat: Equatable, Sendable {
    public var committedThrough: SequenceNumber
    public var checkpointSeq: SequenceNumber
    public var checkpointBytes: UInt64
    @inlinable public init(committedThrough: SequenceNumber, checkpointSeq: SequenceNumber, checkpointBytes: UInt64) {
        self.committedThrough = committedThrough
        self.checkpointSeq = checkpointSeq
        self.checkpointBytes = checkpointBytes
    }
    @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
        guard checkpointSeq <= committedThrough else { throw .invalidField("checkpoint above committed") }
        try w.writeU64(committedThrough.rawValue)
        try w.writeU64(checkpointSeq.rawValue)
        try w.writeU64(checkpointBytes)
    }
    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> Heartbeat {
        let committed = SequenceNumber(try r.readU64())
        let offset = r.offset
        let checkpoint = SequenceNumber(try r.readU64())
        guard checkpoint <= committed else { throw .badField(offset: offset) }
        return Heartbeat(committedThrough: committed, checkpointSeq: checkpoint, checkpointBytes: try r.readU64())
    }
}
