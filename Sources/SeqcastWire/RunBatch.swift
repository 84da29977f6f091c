/// `commitSubmit` and `commit`: runs of assignments plus the sender's committed frontier.
/// In a submit the runs are proposals; in a commit they are committed. Layout in WIRE.md.
@frozen public struct RunBatch {
    public static let fixedByteCount = 16
    /// Everything at or below this number is committed (the sequencer's frontier when sent).
    public var committedThrough: SequenceNumber
    public var runs: WireList<SequenceRun>

    @inlinable init(committedThrough: SequenceNumber, runs: WireList<SequenceRun>) {
        self.committedThrough = committedThrough
        self.runs = runs
    }

    @inlinable public static func runsMax(datagramBytes: Int) -> Int {
        (datagramBytes - Header.byteCount - fixedByteCount) / SequenceRun.byteCount
    }

    @inlinable public static func encode<C: Collection>(committedThrough: SequenceNumber, runs: C,
                                                        into w: inout WireWriter) throws(EncodeError)
    where C.Element == SequenceRun {
        try w.writeU64(committedThrough.rawValue)
        try w.writeU16(UInt16(clamping: runs.count))
        try w.writeZero(6)
        try w.writeList(runs)
    }

    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> RunBatch {
        let committed = SequenceNumber(try r.readU64())
        let count = Int(try r.readU16())
        try r.readZero(6)
        return RunBatch(committedThrough: committed, runs: try WireList.decode(&r, count: count))
    }
}

/// `idReply`: a commit server's committed bindings for a queried range. Runs are clipped to the
/// range and to what the server knows is committed; numbers at or below `lowWater` were
/// truncated behind a checkpoint ("use a checkpoint"). Layout in WIRE.md.
@frozen public struct IdReply {
    public var lowWater: SequenceNumber
    public var batch: RunBatch

    @inlinable init(lowWater: SequenceNumber, batch: RunBatch) {
        self.lowWater = lowWater
        self.batch = batch
    }

    @inlinable public static func encode<C: Collection>(lowWater: SequenceNumber, committedThrough: SequenceNumber,
                                                        runs: C, into w: inout WireWriter) throws(EncodeError)
    where C.Element == SequenceRun {
        try w.writeU64(lowWater.rawValue)
        try RunBatch.encode(committedThrough: committedThrough, runs: runs, into: &w)
    }

    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> IdReply {
        let lowWater = SequenceNumber(try r.readU64())
        return IdReply(lowWater: lowWater, batch: try RunBatch.decode(&r))
    }
}
