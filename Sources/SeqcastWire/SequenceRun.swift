/// A run of consecutive sequence numbers with one meaning: the unit of work of the sequencer,
/// the commit servers and every commit (protocol.md Part 1 §2). 32 bytes on the wire.
@frozen public struct SequenceRun: Equatable, Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32

    /// What the numbers of a run are bound to.
    @frozen public enum Content: Equatable, Hashable, Sendable {
        /// `count` consecutive counters of one sender incarnation, from `firstCounter`.
        case messages(sender: SenderId, firstCounter: UInt64)
        /// Numbers bound to nothing (recovery fills holes with these).
        case noop
        /// Sequenced control: checkpoints are taken every `interval` numbers from here on.
        case checkpointInterval(UInt64)
        /// Sequenced control: the sender's stream ended at `lastCounter` (lifetime rule, Part 1
        /// §2); its later counters are orphans and are never numbered.
        case endOfStream(sender: SenderId, lastCounter: UInt64)
    }

    public var firstSeq: SequenceNumber
    public var count: UInt32
    public var content: Content

    @inlinable public init(firstSeq: SequenceNumber, count: UInt32, content: Content) {
        self.firstSeq = firstSeq
        self.count = count
        self.content = content
    }

    @inlinable public var lastSeq: SequenceNumber { SequenceNumber(firstSeq.rawValue + UInt64(count) - 1) }

    /// The message bound at `seq`, if this run holds messages and covers `seq`.
    @inlinable public func messageId(at seq: SequenceNumber) -> MessageId? {
        guard seq >= firstSeq, seq <= lastSeq, case .messages(let sender, let first) = content else { return nil }
        return MessageId(sender: sender, counter: first + (seq.rawValue - firstSeq.rawValue))
    }

    /// The part of this run from `from` to `through` (both clamped to the run).
    @inlinable public func slice(from: SequenceNumber, through: SequenceNumber) -> SequenceRun {
        let lo = max(from, firstSeq)
        let hi = min(through, lastSeq)
        precondition(lo <= hi, "empty slice of a run")
        let skip = lo.rawValue - firstSeq.rawValue
        var content = self.content
        if case .messages(let sender, let first) = content {
            content = .messages(sender: sender, firstCounter: first + skip)
        }
        return SequenceRun(firstSeq: lo, count: UInt32(hi.rawValue - lo.rawValue + 1), content: content)
    }

    public var description: String {
        switch content {
        case .messages(let s, let c): "[\(firstSeq)+\(count) \(s):\(c)]"
        case .noop: "[\(firstSeq)+\(count) noop]"
        case .checkpointInterval(let n): "[\(firstSeq) interval=\(n)]"
        case .endOfStream(let s, let c): "[\(firstSeq) end \(s) at \(c)]"
        }
    }

    @usableFromInline static let kindMessages: UInt8 = 0
    @usableFromInline static let kindNoop: UInt8 = 1
    @usableFromInline static let kindCheckpointInterval: UInt8 = 2
    @usableFromInline static let kindEndOfStream: UInt8 = 3

    /// u64 firstSeq, u8 kind, u8 0, u16 0, u32 count, u64 a, u64 b.
    @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
        // Refuse exactly what `decode` refuses, so nothing we send is dropped by a receiver.
        guard count >= 1 else { throw .invalidField("run count 0") }
        guard firstSeq.rawValue >= 1, firstSeq.rawValue <= UInt64.max - UInt64(count) else {
            throw .invalidField("run numbers out of range")
        }
        switch content {
        case .messages(_, let c):
            guard c >= 1, c <= UInt64.max - UInt64(count) else { throw .invalidField("run counters out of range") }
        case .noop:
            break
        case .checkpointInterval(let n):
            guard count == 1, n >= 1 else { throw .invalidField("checkpoint interval run") }
        case .endOfStream:
            guard count == 1 else { throw .invalidField("end-of-stream run count") }
        }
        let kind: UInt8
        let a: UInt64
        let b: UInt64
        switch content {
        case .messages(let s, let c): (kind, a, b) = (Self.kindMessages, s.rawValue, c)
        case .noop: (kind, a, b) = (Self.kindNoop, 0, 0)
        case .checkpointInterval(let n): (kind, a, b) = (Self.kindCheckpointInterval, n, 0)
        case .endOfStream(let s, let c): (kind, a, b) = (Self.kindEndOfStream, s.rawValue, c)
        }
        try w.writeU64(firstSeq.rawValue)
        try w.writeU8(kind)
        try w.writeZero(3)
        try w.writeU32(count)
        try w.writeU64(a)
        try w.writeU64(b)
    }

    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> SequenceRun {
        let start = r.offset
        let firstSeq = try r.readU64()
        let kind = try r.readU8()
        try r.readZero(3)
        let count = try r.readU32()
        let a = try r.readU64()
        let b = try r.readU64()
        switch checked(firstSeq: firstSeq, count: count, kind: kind, a: a, b: b) {
        case .run(let run): return run
        case .badCount: throw .badCount(offset: start)
        case .badField: throw .badField(offset: start)
        }
    }

    @frozen public enum Checked {
        case run(SequenceRun)
        /// The numbers: count 0, first number 0, or a last number past 2^64 − 1.
        case badCount
        /// The kind or its operands.
        case badField
    }

    /// A run from its fields if it is one the protocol can write, the one rule set for the wire
    /// and for records read back from disk: numbers from 1 that do not overflow, message
    /// counters from 1 that do not overflow, no-ops without operands, control runs of one number.
    @inlinable public static func checked(firstSeq: UInt64, count: UInt32, kind: UInt8, a: UInt64, b: UInt64) -> Checked {
        guard count >= 1, firstSeq >= 1, firstSeq <= UInt64.max - UInt64(count) else { return .badCount }
        let content: Content
        switch kind {
        case kindMessages:
            guard b >= 1, b <= UInt64.max - UInt64(count) else { return .badField }
            content = .messages(sender: SenderId(rawValue: a), firstCounter: b)
        case kindNoop:
            guard a == 0, b == 0 else { return .badField }
            content = .noop
        case kindCheckpointInterval:
            guard count == 1, a >= 1, b == 0 else { return .badField }
            content = .checkpointInterval(a)
        case kindEndOfStream:
            guard count == 1 else { return .badField }
            content = .endOfStream(sender: SenderId(rawValue: a), lastCounter: b)
        default:
            return .badField
        }
        return .run(SequenceRun(firstSeq: SequenceNumber(firstSeq), count: count, content: content))
    }
}
