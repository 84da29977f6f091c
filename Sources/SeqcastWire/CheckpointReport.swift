/// `checkpointReport`: a checkpoint server's latest checkpoint: its terminal sequence number
/// and size (claim 14), plus the state digest so reports from different servers can be compared.
@frozen public struct CheckpointReport: Equatable, Sendable {
    public var terminalSeq: SequenceNumber
    public var byteCount: UInt64
    public var digest: UInt64
    @inlinable public init(terminalSeq: SequenceNumber, byteCount: UInt64, digest: UInt64) {
        self.terminalSeq = terminalSeq
        self.byteCount = byteCount
        self.digest = digest
    }
    @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
        guard terminalSeq.rawValue >= 1 else { throw .invalidField("checkpoint terminal 0") }
        try w.writeU64(terminalSeq.rawValue)
        try w.writeU64(byteCount)
        try w.writeU64(digest)
    }
    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> CheckpointReport {
        let offset = r.offset
        let terminal = SequenceNumber(try r.readU64())
        guard terminal.rawValue >= 1 else { throw .badField(offset: offset) }
        return CheckpointReport(terminalSeq: terminal, byteCount: try r.readU64(), digest: try r.readU64())
    }
}
