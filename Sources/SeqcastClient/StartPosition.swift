/// Where a member's deliveries start.
public enum StartPosition: Equatable, Sendable {
    /// From sequence number 1: the whole history, while the group still retains it (a group
    /// with a checkpoint server collects what checkpoints cover; a member that finds the start
    /// collected is resynchronised from a checkpoint, `MemberEvent.resynchronised`).
    case beginning
    /// From the group's latest checkpoint: the application's state is restored from its
    /// snapshot, then every later message is delivered (a late joiner).
    case latestCheckpoint
    /// From what the group commits after the member joined: it installs the latest checkpoint,
    /// catches up without handing what was committed before it joined to the handler, and
    /// delivers from there on. The application's state is not restored (it would miss the
    /// numbers skipped); `MemberEvent.startedFromCheckpoint(through:)` names the last skipped.
    case liveTail
    /// After a sequence number the application stored with its state: deliveries resume at
    /// `after + 1`. The member catches up from the latest checkpoint at or before it without
    /// handing numbers up to `after` to the handler, and without restoring the application's
    /// state (it is already at `after`). If the group no longer retains those numbers (its
    /// latest checkpoint is beyond `after`), the state is restored from that checkpoint and
    /// `MemberEvent.resynchronised` says so.
    case after(UInt64)
}

/// The application's replicated state, for checkpoints: a checkpoint server running this
/// application takes `snapshot()` between two deliveries; a member that starts from or falls
/// back to a checkpoint gets it in `restore`. Both must agree on the bytes: every member of a
/// group runs the same application. Without one, a checkpoint restores nothing of the
/// application's (it still tells `startedFromCheckpoint` / `resynchronised`).
public protocol ApplicationState: AnyObject {
    /// The state as bytes, exactly between two deliveries.
    func snapshot() -> [UInt8]
    /// Replaces the state with a snapshot taken after sequence number `through`; false if the
    /// bytes are not this application's (the member then keeps waiting for another checkpoint).
    func restore(_ snapshot: [UInt8], through: UInt64) -> Bool
}
