/// Glossary and the kinds of datagram. Each word has one meaning across the code base:
///
/// - data message: a client's payload, multicast to the data group (`DataMessage`).
/// - data report: a data server telling the sequencer which counters it holds (`DataReport`).
/// - commit submit: the sequencer telling commit servers about assignments (`CommitSubmit`).
/// - commit ack: a commit server's cumulative "stored through" (`CommitAck`).
/// - commit: the sequencer's multicast of committed runs (`Commit`).
/// - heartbeat: the sequencer's periodic frontier (`Heartbeat`).
/// - checkpoint report: a checkpoint server's latest checkpoint (`CheckpointReport`).
/// - id query / id reply: NAK for unknown bindings, answered by a commit server.
/// - message fetch / message reply / fetch miss: NAK for bodies, answered by a data server.
/// - checkpoint fetch / checkpoint chunk: a joiner's checkpoint transfer.
/// - seal / seal reply: a sequencer starting an epoch fences commit servers and reads their
///   holdings (fail-over and every sequencer start, protocol.md Part 2 §5.3).
/// - node claim: a process starting asks whether its node id is live elsewhere; a live
///   process answers (`NodeClaim`; the node driver's, not a role's).
/// - run: a batch of consecutive sequence numbers bound to consecutive counters of one sender,
///   to nothing (no-op), or to a control action (`SequenceRun`).
public enum MessageKind: UInt8, Sendable, CaseIterable {
    case data = 1
    case dataReport = 2
    case commitSubmit = 3
    case commitAck = 4
    case commit = 5
    case heartbeat = 6
    case checkpointReport = 7
    case idQuery = 8
    case idReply = 9
    case messageFetch = 10
    case messageReply = 11
    case fetchMiss = 12
    case checkpointFetch = 13
    case checkpointChunk = 14
    case seal = 15
    case sealReply = 16
    case nodeClaim = 17
}
