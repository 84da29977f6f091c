import SeqcastWire

/// A checkpoint server is a delivering member that also takes checkpoints every N sequence
/// numbers, reports the latest to the sequencer, and serves checkpoints to joiners.
public typealias CheckpointServer<App: ReplicatedApplication> = Member<App>

extension Member {
    /// A checkpoint server: a member with checkpointing on. After a restart it installs the
    /// newest checkpoint its own storage kept and replays from there; with none, it joins from
    /// a peer's checkpoint (or from the start).
    public static func checkpointServer(config: GroupConfig, node: NodeId, incarnation: UInt32, seed: UInt64,
                                        now: Instant, app: App, recovering records: [[UInt8]] = [],
                                        restarted: Bool = false) -> Member {
        let own = CheckpointStore.newestImage(in: records)
        var m = Member(config: config, node: node, incarnation: incarnation, seed: seed, now: now, app: app,
                       joining: restarted && own == nil, checkpointing: true)
        if let (image, bytes) = own {
            // Already durable: recorded as kept before the install, which would write it again.
            m.checkpoints!.recovered(terminalSeq: image.terminalSeq, bytes: bytes)
            m.install(image, bytes: bytes)
        }
        return m
    }

    /// The latest checkpoint this node holds: terminal number and digest.
    public var latestCheckpoint: (terminalSeq: SequenceNumber, digest: UInt64)? {
        checkpoints?.latest.map { ($0.terminalSeq, $0.digest) }
    }
}

extension Member where App == ReferenceApplication {
    /// A member of the reference application (the simulator, the tests, the demo).
    public init(config: GroupConfig, node: NodeId, incarnation: UInt32, seed: UInt64, now: Instant,
                joining: Bool = false) {
        self.init(config: config, node: node, incarnation: incarnation, seed: seed, now: now,
                  app: ReferenceApplication(), joining: joining)
    }

    /// A checkpoint server of the reference application.
    public static func checkpointServer(config: GroupConfig, node: NodeId, incarnation: UInt32, seed: UInt64,
                                        now: Instant, recovering records: [[UInt8]] = [],
                                        restarted: Bool = false) -> Member {
        checkpointServer(config: config, node: node, incarnation: incarnation, seed: seed, now: now,
                         app: ReferenceApplication(), recovering: records, restarted: restarted)
    }
}
