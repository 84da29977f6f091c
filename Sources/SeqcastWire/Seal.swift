/// `seal`: a sequencer starting an epoch (the header's) asks a commit server to promise it and
/// to list the assignments it holds from `fromSeq` on (protocol.md Part 2 §5.3-3). Sent again
/// with a higher `fromSeq` for the next page of a long log; repeating it is harmless. `nonce`
/// is drawn once per start: a promise is made to an epoch *and* a nonce, so a candidate that
/// lost its log and starts an epoch it already used in an earlier life is refused, not taken
/// for that earlier life.
@frozen public struct Seal: Equatable, Sendable {
    public var fromSeq: SequenceNumber
    public var nonce: UInt64
    @inlinable public init(fromSeq: SequenceNumber, nonce: UInt64) {
        self.fromSeq = fromSeq
        self.nonce = nonce
    }
    @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
        try w.writeU64(fromSeq.rawValue)
        try w.writeU64(nonce)
    }
    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> Seal {
        let from = SequenceNumber(try r.readU64())
        return Seal(fromSeq: from, nonce: try r.readU64())
    }
}

/// `sealReply`: a commit server's answer to a `seal`, sent once its promise of the header's
/// epoch is durable: one page of the runs it durably holds from the asked number (or its low
/// water) through `pageThrough`, all written in `runsEpoch` (a page never spans two epochs); a
/// number of the page that no run covers is not held. The page reaching `storedThrough` is the
/// last. Numbers at or below `lowWater` were truncated behind a checkpoint. `nonce` is the one
/// the promise was made to: a header epoch above the seal's, or the seal's epoch with another
/// nonce, says the sealer lost. Layout in WIRE.md.
@frozen public struct SealReply {
    public static let fixedByteCount = 40 + RunBatch.fixedByteCount
    public var lowWater: SequenceNumber
    public var storedThrough: SequenceNumber
    public var pageThrough: SequenceNumber
    public var runsEpoch: Epoch
    public var nonce: UInt64
    /// `committedThrough` is the server's committed frontier; the runs are its holdings.
    public var batch: RunBatch

    @inlinable init(lowWater: SequenceNumber, storedThrough: SequenceNumber, pageThrough: SequenceNumber,
                    runsEpoch: Epoch, nonce: UInt64, batch: RunBatch) {
        self.nonce = nonce
        self.lowWater = lowWater
        self.storedThrough = storedThrough
        self.pageThrough = pageThrough
        self.runsEpoch = runsEpoch
        self.batch = batch
    }

    @inlinable public static func runsMax(datagramBytes: Int) -> Int {
        (datagramBytes - Header.byteCount - fixedByteCount) / SequenceRun.byteCount
    }

    @inlinable public static func encode<C: Collection>(lowWater: SequenceNumber, storedThrough: SequenceNumber,
                                                        pageThrough: SequenceNumber, runsEpoch: Epoch,
                                                        nonce: UInt64, committedThrough: SequenceNumber,
                                                        runs: C, into w: inout WireWriter) throws(EncodeError)
    where C.Element == SequenceRun {
        guard pageThrough <= storedThrough, runs.allSatisfy({ $0.lastSeq <= pageThrough }) else {
            throw .invalidField("seal reply page")
        }
        try w.writeU64(lowWater.rawValue)
        try w.writeU64(storedThrough.rawValue)
        try w.writeU64(pageThrough.rawValue)
        guard runsEpoch.round < Epoch.roundLimit else { throw .invalidField("epoch round at or above 2^47") }
        try w.writeU64(runsEpoch.rawValue)
        try w.writeU64(nonce)
        try RunBatch.encode(committedThrough: committedThrough, runs: runs, into: &w)
    }

    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> SealReply {
        let lowWater = SequenceNumber(try r.readU64())
        let stored = SequenceNumber(try r.readU64())
        let offset = r.offset
        let page = SequenceNumber(try r.readU64())
        guard page <= stored else { throw .badField(offset: offset) }
        let epochOffset = r.offset
        guard let epoch = Epoch(checked: try r.readU64()) else { throw .badField(offset: epochOffset) }
        let nonce = try r.readU64()
        let batch = try RunBatch.decode(&r)
        for run in batch.runs where run.lastSeq > page { throw .badField(offset: offset) }
        return SealReply(lowWater: lowWater, storedThrough: stored, pageThrough: page, runsEpoch: epoch, nonce: nonce,
                         batch: batch)
    }
}
