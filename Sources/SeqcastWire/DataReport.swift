/// `dataReport`: a data server's cumulative holdings, one entry per sender incarnation
/// (protocol.md Part 1 §2). A lost report is superseded by the next one.
@frozen public struct DataReport {
    /// One sender incarnation's holdings at one data server. 48 bytes.
    /// - `heldThrough`: "I hold every counter up to here" (0: none yet).
    /// - `pendingCounter`/`pendingTs`: the lowest held counter I have not seen committed and its
    ///   logical timestamp (0/0: none). A lower bound on the timestamp of every counter the
    ///   sequencer has yet to number, and exact when `pendingCounter` is its next counter.
    /// - `aheadTs`: the logical timestamp of the lowest counter I hold above the gap at
    ///   `heldThrough + 1` (0: nothing beyond the gap). An upper bound on the missing counter's
    ///   timestamp; with it the sequencer applies the lifetime rule to a gap nobody can fill.
    /// - `committedThrough`: the highest counter this server saw committed, or collected behind
    ///   a checkpoint (0: none). Commits are true in every epoch and a stream is numbered in
    ///   counter order, so every counter up to it is committed: a sequencer that took over
    ///   without hearing those commits must neither number them again nor end the stream below
    ///   them (FAILOVER.md, the S14 gap of simulator seed 1002).
    @frozen public struct Entry: WireElement, Equatable, Sendable {
        public static let byteCount = 48
        public var sender: SenderId
        public var heldThrough: UInt64
        public var pendingCounter: UInt64
        public var pendingTs: SequenceNumber
        public var aheadTs: SequenceNumber
        public var committedThrough: UInt64
        @inlinable public init(sender: SenderId, heldThrough: UInt64, pendingCounter: UInt64,
                               pendingTs: SequenceNumber, aheadTs: SequenceNumber, committedThrough: UInt64 = 0) {
            self.sender = sender
            self.heldThrough = heldThrough
            self.pendingCounter = pendingCounter
            self.pendingTs = pendingTs
            self.aheadTs = aheadTs
            self.committedThrough = committedThrough
        }
        @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> Entry {
            let start = r.offset
            let sender = SenderId(rawValue: try r.readU64())
            let held = try r.readU64()
            let pending = try r.readU64()
            let pendingTs = SequenceNumber(try r.readU64())
            let aheadTs = SequenceNumber(try r.readU64())
            let committed = try r.readU64()
            // A pending counter must be one the server holds.
            guard pending <= held else { throw .badField(offset: start + 16) }
            // The lowest uncommitted counter lies above every counter seen committed.
            guard pending == 0 || pending > committed else { throw .badField(offset: start + 40) }
            return Entry(sender: sender, heldThrough: held, pendingCounter: pending, pendingTs: pendingTs,
                         aheadTs: aheadTs, committedThrough: committed)
        }
        @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
            guard pendingCounter <= heldThrough else { throw .invalidField("pending counter above held") }
            guard pendingCounter == 0 || pendingCounter > committedThrough else {
                throw .invalidField("pending counter at or below committed")
            }
            try w.writeU64(sender.rawValue)
            try w.writeU64(heldThrough)
            try w.writeU64(pendingCounter)
            try w.writeU64(pendingTs.rawValue)
            try w.writeU64(aheadTs.rawValue)
            try w.writeU64(committedThrough)
        }
    }

    /// The reporting server's incarnation: it rises on every restart, and a data server with
    /// the memory store comes back holding nothing, so the sequencer forgets what an earlier
    /// incarnation reported (S6 counts live holdings only).
    public var incarnation: UInt32
    public var entries: WireList<Entry>

    @inlinable init(incarnation: UInt32, entries: WireList<Entry>) {
        self.incarnation = incarnation
        self.entries = entries
    }

    /// Entries that fit a datagram of `datagramBytes`.
    @inlinable public static func entriesMax(datagramBytes: Int) -> Int {
        (datagramBytes - Header.byteCount - 8) / Entry.byteCount
    }

    @inlinable public static func encode<C: Collection>(_ entries: C, incarnation: UInt32 = 0,
                                                        into w: inout WireWriter) throws(EncodeError)
    where C.Element == Entry {
        guard !entries.isEmpty else { throw .invalidField("empty report") }
        try w.writeU16(UInt16(clamping: entries.count))
        try w.writeZero(2)
        try w.writeU32(incarnation)
        try w.writeList(entries)
    }

    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> DataReport {
        let countOffset = r.offset
        let count = Int(try r.readU16())
        try r.readZero(2)
        let incarnation = try r.readU32()
        guard count >= 1 else { throw .badCount(offset: countOffset) }
        return DataReport(incarnation: incarnation, entries: try WireList.decode(&r, count: count))
    }
}
