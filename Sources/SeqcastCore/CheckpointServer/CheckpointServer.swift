import SeqcastWire

/// A checkpoint server is a delivering member that also takes checkpoints every N sequence
/// numbers, reports the latest to the sequencer, and serves checkpoints to joiners.
public typealias CheckpointServer<App: ReplicatedApplication> = Member<App>

extension Member {
    /// A checkpoint server: a member with checkpointing on. After a restart it starts again
    /// from the group's latest checkpoint (its own or a peer's) and replays from there.
    public static func checkpointServer(config: GroupConfig, node: NodeId, incarnation: UInt32, seed: UInt64,
                                        now: Instant, restarted: Bool = false) -> Member {
        Member(config: config, node: node, incarnation: incarnation, seed: seed, now: now, joining: restarted,
               checkpointing: true)
    }

    /// The latest checkpoint this node holds: terminal number and digest.
    public var latestCheckpoint: (terminalSeq: SequenceNumber, digest: UInt64)? {
        checkpoints?.latest.map { ($0.terminalSeq, $0.digest) }
    }
}
