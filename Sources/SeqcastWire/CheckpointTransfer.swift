/// `checkpointFetch`: a joiner asks a checkpoint server for checkpoint `terminalSeq` (0 means
/// the latest), starting at chunk `firstChunk` (claim 16).
@frozen public struct CheckpointFetch: Equatable, Sendable {
    public var terminalSeq: SequenceNumber
    public var firstChunk: UInt32
    @inlinable public init(terminalSeq: SequenceNumber, firstChunk: UInt32) {
        self.terminalSeq = terminalSeq
        self.firstChunk = firstChunk
    }
    @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
        try w.writeU64(terminalSeq.rawValue)
        try w.writeU32(firstChunk)
        try w.writeU32(0)
    }
    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> CheckpointFetch {
        let terminal = SequenceNumber(try r.readU64())
        let first = try r.readU32()
        try r.readZero(4)
        return CheckpointFetch(terminalSeq: terminal, firstChunk: first)
    }
}

/// `checkpointChunk`: one piece of a checkpoint; the joiner reassembles `chunkCount` pieces,
/// checks `totalBytes` and `digest`, then installs it.
@frozen public struct CheckpointChunk {
    public static let fixedByteCount = 40
    public var terminalSeq: SequenceNumber
    public var totalBytes: UInt64
    public var digest: UInt64
    public var chunkIndex: UInt32
    public var chunkCount: UInt32
    public var bytes: UnsafeRawBufferPointer

    @inlinable init(terminalSeq: SequenceNumber, totalBytes: UInt64, digest: UInt64, chunkIndex: UInt32,
                    chunkCount: UInt32, bytes: UnsafeRawBufferPointer) {
        self.terminalSeq = terminalSeq
        self.totalBytes = totalBytes
        self.digest = digest
        self.chunkIndex = chunkIndex
        self.chunkCount = chunkCount
        self.bytes = bytes
    }

    @inlinable public static func encode(terminalSeq: SequenceNumber, totalBytes: UInt64, digest: UInt64,
                                         chunkIndex: UInt32, chunkCount: UInt32, bytes: UnsafeRawBufferPointer,
                                         into w: inout WireWriter) throws(EncodeError) {
        guard chunkIndex < chunkCount else { throw .invalidField("chunk index") }
        guard UInt64(bytes.count) <= totalBytes else { throw .invalidField("chunk longer than the checkpoint") }
        guard bytes.count <= Int(UInt32.max) else { throw .invalidField("chunk too long") }
        try w.writeU64(terminalSeq.rawValue)
        try w.writeU64(totalBytes)
        try w.writeU64(digest)
        try w.writeU32(chunkIndex)
        try w.writeU32(chunkCount)
        try w.writeU32(UInt32(bytes.count))
        try w.writeU32(0)
        try w.writeBytes(bytes)
    }

    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> CheckpointChunk {
        let terminal = SequenceNumber(try r.readU64())
        let total = try r.readU64()
        let digest = try r.readU64()
        let indexOffset = r.offset
        let index = try r.readU32()
        let count = try r.readU32()
        guard index < count else { throw .badCount(offset: indexOffset) }
        let lengthOffset = r.offset
        let length = try r.readU32()
        try r.readZero(4)
        guard Int(length) <= r.remaining, UInt64(length) <= total else { throw .badCount(offset: lengthOffset) }
        return CheckpointChunk(terminalSeq: terminal, totalBytes: total, digest: digest, chunkIndex: index,
                               chunkCount: count, bytes: try r.readBytes(Int(length)))
    }
}
