import SeqcastWire

/// Things a role reports to its driver besides datagrams and writes: deliveries, publish
/// outcomes, checkpoints and garbage collection. Drained after every input. Drops are counted
/// in `RoleCounters`, never reported one by one.
public enum RoleEvent: Equatable, Sendable {
    /// The application received `id` at `seq`; `bodyDigest` digests its payload and
    /// `stateDigest` is the application's digest after applying it.
    case delivered(seq: SequenceNumber, id: MessageId, bodyDigest: UInt64, stateDigest: UInt64)
    /// A sequenced control run took effect at `seq`.
    case controlApplied(seq: SequenceNumber, run: SequenceRun)
    /// A message this node published was committed at `seq`.
    case sequenced(id: MessageId, seq: SequenceNumber)
    /// This node's stream `sender` ended at `lastCounter`; its `republished` unsequenced
    /// messages (counters `lastCounter+1 …`) move, in order, to counters `1 …` of the new
    /// incarnation `next`, with logical timestamp `logicalTs`. The driver records
    /// `next.incarnation` in the sender's state file before the next `tick` (when the
    /// republished messages leave): a restart must start above it (Part 1 §1).
    case streamEnded(sender: SenderId, lastCounter: UInt64, next: SenderId, republished: Int, logicalTs: SequenceNumber)
    /// A checkpoint server took a checkpoint at `terminalSeq`; `tablesDigest` digests its
    /// de-duplication tables (`CheckpointTables`).
    case checkpointTaken(terminalSeq: SequenceNumber, byteCount: Int, digest: UInt64, stateDigest: UInt64,
                         tablesDigest: UInt64)
    /// A member installed a checkpoint and continues after `terminalSeq`.
    case checkpointInstalled(terminalSeq: SequenceNumber, stateDigest: UInt64)
    /// A data server deleted a stored message: `seq` is its committed number, or nil for an orphan.
    case collected(id: MessageId, seq: SequenceNumber?, checkpointSeq: SequenceNumber)
}
