/// Strongly typed identifiers carried on the wire. Each wraps one fixed-width integer so a
/// sequence number can never be passed where a counter or a node id is expected
/// (swift-system's `FileDescriptor` pattern).

/// A node of the group: a server or a member. Unique within a group.
@frozen public struct NodeId: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    @inlinable public static func < (a: NodeId, b: NodeId) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "n\(rawValue)" }
}

/// A position in the group's total order. Dense and 1-based; 0 means "none yet".
@frozen public struct SequenceNumber: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let zero = SequenceNumber(0)
    @inlinable public static func < (a: SequenceNumber, b: SequenceNumber) -> Bool { a.rawValue < b.rawValue }
    @inlinable public func advanced(by n: UInt64) -> SequenceNumber { SequenceNumber(rawValue + n) }
    @inlinable public var next: SequenceNumber { SequenceNumber(rawValue + 1) }
    public var description: String { "#\(rawValue)" }
}

/// The sequencer's term, a ballot: a round in the high 48 bits and the index of the sequencer
/// candidate that owns it in the low 16, so two candidates can never start the same epoch
/// (protocol.md Part 2 §5.3-1). Every sequencer-originated message carries one (Part 1 §5).
/// `Epoch(0)` is "none promised yet"; epochs of round 0 are what wire version 2 peers sent.
@frozen public struct Epoch: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public init(round: UInt64, candidate: UInt16) {
        precondition(round < 1 << 48, "epoch round out of range")
        rawValue = round << 16 | UInt64(candidate)
    }
    public static let none = Epoch(0)
    /// Rounds a datagram or a record may carry: below 2^47, so every epoch read has a next one
    /// (a round near 2^48 from a forged datagram or a damaged record once trapped `next`).
    public static let roundLimit: UInt64 = 1 << 47
    /// The epoch `rawValue` names if its round is below `roundLimit`; nil otherwise.
    @inlinable public init?(checked rawValue: UInt64) {
        guard rawValue >> 16 < Self.roundLimit else { return nil }
        self.rawValue = rawValue
    }
    @inlinable public var round: UInt64 { rawValue >> 16 }
    @inlinable public var candidate: UInt16 { UInt16(truncatingIfNeeded: rawValue) }
    /// The first epoch of `candidate` above `self`.
    @inlinable public func next(for candidate: UInt16) -> Epoch { Epoch(round: round + 1, candidate: candidate) }
    @inlinable public static func < (a: Epoch, b: Epoch) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "e\(round).\(candidate)" }
}

/// One incarnation of a sender: the high 32 bits are its node id, the low 32 bits an
/// incarnation that rises on every restart (protocol.md Part 1 §1).
@frozen public struct SenderId: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    @inlinable public init(rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public init(node: NodeId, incarnation: UInt32) {
        rawValue = UInt64(node.rawValue) << 32 | UInt64(incarnation)
    }
    @inlinable public var node: NodeId { NodeId(UInt32(truncatingIfNeeded: rawValue >> 32)) }
    @inlinable public var incarnation: UInt32 { UInt32(truncatingIfNeeded: rawValue) }
    @inlinable public static func < (a: SenderId, b: SenderId) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(node).\(incarnation)" }
}

/// A data message's identity: its sender incarnation and a counter dense from 1.
@frozen public struct MessageId: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var sender: SenderId
    public var counter: UInt64
    @inlinable public init(sender: SenderId, counter: UInt64) {
        self.sender = sender
        self.counter = counter
    }
    @inlinable public static func < (a: MessageId, b: MessageId) -> Bool {
        (a.sender.rawValue, a.counter) < (b.sender.rawValue, b.counter)
    }
    public var description: String { "\(sender):\(counter)" }
}
