import SeqcastWire

/// The group's static configuration: who the servers are, the two quantities, the lifetime and
/// checkpoint interval, and every timer and bound. Every node of a group runs with the same one.
public struct GroupConfig: Sendable {
    public var groupId: UInt32
    /// Digest of the group-wide configuration (`GroupLayout.fingerprint`), sent in every header;
    /// a datagram carrying another is dropped and counted (`droppedWrongFingerprint`).
    public var fingerprint: UInt32 = 0
    /// The first sequencer candidate: the one a new group starts under.
    public var sequencer: NodeId
    /// The other sequencer candidates, in the order they step in when the active one fails
    /// (Part 2 §5.3-2); an epoch's low bits name its candidate by position in `candidates`.
    public var standbys: [NodeId] = []
    public var dataServers: [NodeId]
    public var commitServers: [NodeId]
    public var checkpointServers: [NodeId]
    /// K, the first quantity: distinct data servers holding a counter before it is numbered.
    public var reportQuorum: Int
    /// Q, the second quantity: distinct commit servers that stored an assignment before commit.
    public var commitQuorum: Int
    /// L, the maximum logical lifetime in sequence numbers: a message is numbered only at
    /// `seq <= logicalTs + L` (S9).
    public var lifetime: UInt64
    /// N: checkpoints at every sequence number divisible by N (changed by a sequenced control run).
    public var checkpointInterval: UInt64
    /// The largest datagram a role writes (the configured datagram less the largest trailer).
    public var datagramBytesMax: Int
    /// How many bytes more than `datagramBytesMax` a member's data datagram may take: with
    /// authentication a member seals under the group key alone, so its trailer is one tag
    /// (16 bytes) shorter than a server's. Only how many bodies share a datagram uses it: one
    /// body, and each fragment, still fits `datagramBytesMax`, so a server's reply carries it
    /// whole. Small messages then pack as densely as without authentication.
    public var memberDataExtraBytes = 0
    /// The largest data datagram a member writes.
    @inlinable public var memberDataBytesMax: Int { datagramBytesMax + memberDataExtraBytes }
    /// Committed messages that no checkpoint covers yet (the group's committed frontier less
    /// the checkpoint data servers collect behind) past which a publisher reports
    /// back-pressure, with checkpoints every `interval` numbers (the interval in force: a
    /// sequenced control run can change it). Data servers free bodies only behind that
    /// checkpoint; without this gate publishers outran a lagging checkpoint server, every store
    /// filled and dropped, and the group fell to the pace of retransmission timers (measured:
    /// `seqcast bench` at a fifth of its rate in one run of three). Half a store, and never below
    /// two checkpoint intervals (and `Member` never refuses before the next checkpoint's number
    /// is committed, should a control run have lowered the interval), so numbering always
    /// reaches the next checkpoint. Nil without
    /// checkpoint servers (nothing is collected by checkpoints then). Its price: the group
    /// commits at most this many messages per checkpoint round trip (checkpoint server's
    /// delivery, its report every `checkpointReportInterval`, the heartbeat), which capped a
    /// quiet machine's default bench at 1.30 M commits/s against 1.50 M ungated (issue 13).
    public func collectionLagMax(interval: UInt64) -> UInt64? {
        checkpointServers.isEmpty ? nil : max(UInt64(limits.bodySlotsMax * limits.collectionLagPercent / 100),
                                              interval > .max / 2 ? .max : 2 * interval)
    }
    public var timing: Timing
    public var limits: Limits
    /// Where data servers keep bodies: memory, or disk (their log, with durability sync).
    public var dataStore = DataStoreMode.memory

    public static let dataServersMax = 8
    public static let commitServersMax = 8

    public struct Timing: Sendable, Equatable {
        public var heartbeatInterval = Nanoseconds.millis(20)
        /// How long a data server batches newly held counters before reporting.
        public var reportDelay = Nanoseconds.micros(200)
        /// How often a data server re-reports uncommitted holdings (reports can be lost).
        public var reportRefresh = Nanoseconds.millis(10)
        public var submitRetransmit = Nanoseconds.millis(5)
        /// How long a receiver waits for reordering before it NAKs a gap.
        public var nakGrace = Nanoseconds.millis(2)
        /// Base NAK retry timeout; doubled per retry up to `nakBackoffMax`, jittered.
        public var nakRetry = Nanoseconds.millis(4)
        public var nakBackoffMax = Nanoseconds.millis(10)
        /// How long a publisher waits for a commit before it sends a message again; doubled per
        /// round without a commit up to `senderRetransmitMax`, each delay jittered by up to
        /// itself (so at most twice the maximum).
        public var senderRetransmit = Nanoseconds.millis(15)
        public var senderRetransmitMax = Nanoseconds.millis(60)
        public var checkpointReportInterval = Nanoseconds.millis(25)
        /// How long data servers and commit servers wait after hearing of a checkpoint before
        /// collecting or truncating behind it (`CollectionGrace`): a member repairing a loss
        /// just behind it still finds what it asks for. About a heartbeat (a lost last commit is
        /// learned from the next one) and two NAK rounds.
        public var collectionGrace = Nanoseconds.millis(30)
        /// A standby suspects the active sequencer after this long without a heartbeat or a
        /// commit from it (four heartbeats: a shared host stalls processes for tens of ms).
        public var sequencerSuspectAfter = Nanoseconds.millis(80)
        /// Each further standby waits this much longer, so the first in line goes first; two at
        /// once are safe (the commit servers' promises fence the loser), only slower.
        public var standbyStagger = Nanoseconds.millis(50)
        public init() {}
    }

    public struct Limits: Sendable {
        /// Unsequenced messages a publisher keeps before `publish` reports back-pressure.
        public var senderWindowMax = 512
        /// Largest message a publisher accepts (fragmented above one datagram).
        public var messageBytesMax = 64 * 1024
        /// Body slots of a store (data server or member); a full store drops and counts.
        public var bodySlotsMax = 16_384
        /// The share of a store, in percent, that `collectionLagMax` lets the group commit ahead
        /// of the checkpoint the data servers collect behind. Not in the group file: the
        /// simulator raises it to explore other timings (seed 1002 at 75 found FAILOVER.md's
        /// S14 gap, now closed).
        public var collectionLagPercent = 50
        public var outboxSlotsMax = 256
        /// Datagrams one retransmission round of a publisher may resend, oldest first; the rest
        /// of the window waits for the next round. The sequencer numbers a sender's counters in
        /// order, so the head is what blocks: resending a whole window of large (fragmented)
        /// messages every timeout measured as congestion collapse (a member busy resending for
        /// good, never reading its commits). 256 covers a whole default window of small messages.
        public var retransmitDatagramsMax = 256
        /// Reply datagrams one repair request may produce (protects servers from floods).
        public var repairDatagramsMax = 16
        /// Runs one id query may ask for.
        public var idQueryCountMax: UInt32 = 4096
        public var checkpointChunkBytes = 1024
        /// Largest checkpoint a joiner accepts.
        public var checkpointBytesMax = 64 * 1024 * 1024
        public init() {}
    }

    public init(groupId: UInt32 = 1, sequencer: NodeId, dataServers: [NodeId], commitServers: [NodeId],
                checkpointServers: [NodeId], reportQuorum: Int = 1, commitQuorum: Int? = nil,
                lifetime: UInt64 = 100_000, checkpointInterval: UInt64 = 1_000, datagramBytesMax: Int = 1472) {
        self.groupId = groupId
        self.sequencer = sequencer
        self.dataServers = dataServers
        self.commitServers = commitServers
        self.checkpointServers = checkpointServers
        self.reportQuorum = reportQuorum
        self.commitQuorum = commitQuorum ?? (commitServers.count / 2 + 1)
        self.lifetime = lifetime
        self.checkpointInterval = checkpointInterval
        self.datagramBytesMax = datagramBytesMax
        self.timing = Timing()
        self.limits = Limits()
    }

    /// Refuses configurations the protocol cannot run safely, with a reason a person can act on.
    public func validate() throws(ConfigError) {
        let d = dataServers.count
        let c = commitServers.count
        guard d >= 1, d <= Self.dataServersMax else { throw .serverCount(role: "data", count: d) }
        guard c >= 1, c <= Self.commitServersMax else { throw .serverCount(role: "commit", count: c) }
        guard reportQuorum >= 1, reportQuorum <= d else { throw .reportQuorum(k: reportQuorum, dataServers: d) }
        guard (1...100).contains(limits.collectionLagPercent) else { throw .collectionLagPercent(limits.collectionLagPercent) }
        let majority = c / 2 + 1
        guard commitQuorum >= majority, commitQuorum <= c else {
            throw .commitQuorum(q: commitQuorum, commitServers: c, majority: majority)
        }
        guard candidates.count <= Self.sequencerCandidatesMax else { throw .sequencerCount(candidates.count) }
        let all = candidates + dataServers + commitServers + checkpointServers
        guard Set(all).count == all.count else { throw .duplicateNode }
        guard lifetime >= 16 else { throw .lifetimeTooShort(lifetime) }
        guard checkpointInterval >= 1 else { throw .checkpointInterval }
        guard datagramBytesMax >= 512, datagramBytesMax <= 65_507 else { throw .datagramBytes(datagramBytesMax) }
        guard memberDataExtraBytes >= 0, memberDataBytesMax <= 65_507 else { throw .datagramBytes(memberDataBytesMax) }
    }

    public static let sequencerCandidatesMax = 8

    /// Every sequencer candidate, the first one first.
    public var candidates: [NodeId] { [sequencer] + standbys }
    @inlinable public func candidateIndex(_ node: NodeId) -> Int? {
        node == sequencer ? 0 : standbys.firstIndex(of: node).map { $0 + 1 }
    }
    /// The candidate that owns `epoch` (round-0 epochs predate candidates: the first one), or
    /// nil for an epoch no candidate of this group can own.
    @inlinable public func sequencer(of epoch: Epoch) -> NodeId? {
        if epoch.round == 0 { return sequencer }
        let i = Int(epoch.candidate)
        return i == 0 ? sequencer : (i <= standbys.count ? standbys[i - 1] : nil)
    }

    @inlinable public func dataServerIndex(_ node: NodeId) -> Int? { dataServers.firstIndex(of: node) }
    @inlinable public func commitServerIndex(_ node: NodeId) -> Int? { commitServers.firstIndex(of: node) }
}

/// Where a data server keeps the bodies it stores (STORAGE.md).
public enum DataStoreMode: String, Sendable, CaseIterable {
    /// In memory: a restarted data server starts empty (K ≥ 2 keeps each body elsewhere).
    case memory
    /// Also in the data server's log: a body is reported held only once it is durable, and a
    /// restarted data server comes back with what it held.
    case disk
}

/// Why a configuration was refused.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    case serverCount(role: String, count: Int)
    case sequencerCount(Int)
    case reportQuorum(k: Int, dataServers: Int)
    case commitQuorum(q: Int, commitServers: Int, majority: Int)
    case duplicateNode
    case lifetimeTooShort(UInt64)
    case checkpointInterval
    case datagramBytes(Int)
    case collectionLagPercent(Int)

    public var description: String {
        switch self {
        case .serverCount(let role, let n): "\(role) servers: \(n) configured, 1 to 8 supported"
        case .sequencerCount(let n): "sequencer: \(n) configured, 1 to 8 candidates supported"
        case .reportQuorum(let k, let d): "report quorum K=\(k) must be between 1 and the \(d) data servers"
        case .commitQuorum(let q, let c, let m):
            "commit quorum Q=\(q) refused: with \(c) commit servers Q must be at least a majority (\(m)) "
                + "and at most \(c); fail-over safety depends on quorum intersection"
        case .duplicateNode: "a node id is configured for two roles"
        case .lifetimeTooShort(let l): "lifetime L=\(l) is too short (at least 16 sequence numbers)"
        case .checkpointInterval: "checkpoint interval N must be at least 1"
        case .datagramBytes(let n): "datagram size \(n) must be between 512 and 65507 bytes"
        case .collectionLagPercent(let p): "collection lag \(p) % must be between 1 and 100 % of a store"
        }
    }
}
