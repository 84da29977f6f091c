import SeqcastWire

/// A message's identity in the group: its publisher's node and incarnation, and its place in
/// that publisher's stream (1, 2, …). Assigned when `SeqcastMember.publish` accepts it.
public typealias MessageId = SeqcastWire.MessageId

/// One publisher's stream: its node id and the incarnation (start) it belongs to.
public typealias SenderId = SeqcastWire.SenderId

/// One committed message handed to a `SeqcastMember.poll` handler, in sequence order.
///
/// `bytes` is borrowed from the member's store: it is valid only while the handler runs (copy
/// what must outlive it). Nothing is allocated per delivery.
public struct Delivery {
    /// The message's sequence number: every member delivers the same message at it, and
    /// delivers numbers in order (no-op and control numbers are skipped, so numbers may jump).
    public let sequence: UInt64
    /// The message's place among the group's messages: 1, 2, 3, … without gaps (no-op and
    /// control numbers and skipped duplicates take none), the same at every member and kept in
    /// checkpoints, so a member started from one continues the count. A MoldUDP64 gateway's
    /// sequence number.
    public let ordinal: UInt64
    /// The message's id (publisher node, incarnation, counter).
    public let id: MessageId
    /// The payload, borrowed.
    public let bytes: UnsafeRawBufferPointer

    /// The publisher's node id.
    public var sender: UInt32 { id.sender.node.rawValue }
}

/// What `SeqcastMember.publish` did with one message (Aeron's `offer` outcomes).
public enum PublishOutcome: Equatable, Sendable {
    /// Accepted under this id: it leaves on the next `poll`, and a `.committed` event names its
    /// sequence number once the group committed it.
    case accepted(MessageId)
    /// The window of unsequenced messages or the store is full, or the group waits for a
    /// checkpoint: poll (commits free room) and try again.
    case backPressured
    /// No sequencer heard yet, or still catching up from a checkpoint: poll and try again.
    case notConnected
    /// The member was closed.
    case closed
    /// Larger than `SeqcastMember.largestMessageBytes`: the group's largest message, or in a
    /// group with a feed what one MoldUDP64 packet holds.
    case tooLarge
}

/// What a member hears besides deliveries, handed to `SeqcastMember.onEvent` during `poll`.
public enum MemberEvent: Equatable, Sendable {
    /// A message this member published was committed at `sequence` (and is delivered there).
    case committed(id: MessageId, sequence: UInt64)
    /// This member's stream `ended` stopped at `lastCounter` (the sequencer gave up waiting for
    /// it); its `republished` unsequenced messages continue, in order, as counters 1… of `next`.
    case streamEnded(ended: SenderId, lastCounter: UInt64, next: SenderId, republished: Int)
    /// The member started after `through`: from the checkpoint taken there (start
    /// `.latestCheckpoint`: the application's state was restored from it), or at the frontier
    /// it found after catching up (start `.liveTail`: nothing restored). Deliveries follow.
    case startedFromCheckpoint(through: UInt64)
    /// The application fell behind what the group still retains: messages after `from` up to
    /// `to` can no longer be delivered one by one; its state was restored from the checkpoint
    /// taken after `to`, and deliveries continue at `to + 1`.
    case resynchronised(from: UInt64, to: UInt64)
    /// The first heartbeat or commit of a sequencer arrived: publishing is possible.
    case connected
}
