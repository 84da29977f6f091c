import CSeqcastShim
import SeqcastCore
import SeqcastNode
import SeqcastTransport
import SeqcastWire

/// What starting one node of a group needs, whoever starts it: `seqcast run` (a role as a
/// process) or an application embedding a member through the `Seqcast` library.
public struct NodeStartOptions: Sendable {
    public var role: NodeRole
    public var node: NodeId
    /// Who is who and where (the same for every process of the group).
    public var layout: GroupLayout
    public var network: NetworkConfig
    /// The lowest incarnation this start may take (the state file's next one if higher).
    public var incarnation: UInt32 = 1
    /// Where nodes' data folders live by default (`<stateDirectory>/<group name>-<node>`).
    public var stateDirectory = "/var/tmp/seqcast"
    /// The node's data folder (DataFolder): its incarnation and, with durability sync, its log.
    public var dataDirectory: String?
    /// Format a new node's (empty) folder before starting (`seqcast run … --init`).
    public var initialize = false
    /// Format the folder if it holds nothing yet, open it otherwise: an embedding application
    /// (a member, whose folder keeps only its incarnation, or a checkpoint server) need not
    /// tell a first start from a restart. `seqcast run` never sets it: an operator says which
    /// (`initialize`), so a wrong path cannot bring up an empty server.
    public var initializeIfEmpty = false
    /// How long the node id is claimed before the role starts (`NodeIdClaimPhase`; 0: not claimed).
    public var claimPeriod = NodeIdClaimPhase.periodDefault

    public init(role: NodeRole, node: NodeId, layout: GroupLayout, network: NetworkConfig) {
        self.role = role
        self.node = node
        self.layout = layout
        self.network = network
    }
}

/// A node ready to run: its checked configuration, keys, sockets, folder, log and claim. Every
/// refusal happens here, before a role exists (nothing starts half-configured).
public struct NodeStart {
    /// The layout as this process runs it (datagrams lowered to fit IPv6 where it applies).
    public let layout: GroupLayout
    public let config: GroupConfig
    /// The group file's fingerprint (taken before any per-process adjustment).
    public let fingerprint: UInt32
    public let auth: DatagramAuthenticator?
    public let network: NodeNetwork
    public let folderPath: String
    /// The node's data folder, locked for this process until `unlock()` or exit.
    public let folder: DataFolder
    public let store: RuntimeLogStore
    /// The role's log records as recovered (durability sync, roles that keep a log).
    public let recovered: [[UInt8]]
    /// The folder held something before this start (not made by `initialize`).
    public let restarted: Bool
    public let incarnation: UInt32
    public let incarnationFile: IncarnationFile
    /// This start's node-id claim, live: the node driver defends it (`Node.claim`).
    public let claim: NodeIdClaim

    /// Checks, opens and claims, in the order that keeps a refused start harmless: the layout's
    /// and the protocol's checks, keys, sockets, the data folder (made only when asked),
    /// the log's recovery, the incarnation, and last the node-id claim.
    public init(_ o: NodeStartOptions, log: @Sendable (String) -> Void) throws {
        var layout = o.layout
        if let problem = layout.problems().first { throw NodeStartError.layout(problem) }
        if let listed = layout.node(o.node), listed.role != o.role {
            throw NodeStartError.wrongRole(node: o.node, listed: listed.role, asked: o.role)
        }
        if o.role != .member, layout.node(o.node) == nil { throw NodeStartError.notListed(node: o.node, role: o.role) }
        if let problem = layout.problems(forNode: o.node).first { throw NodeStartError.layout(problem) }
        // IPv6 headers are 20 bytes longer: keep datagrams within a 1500-byte MTU (every process of
        // the group lowers it alike, after the fingerprint is taken from the file's value).
        let fingerprint = layout.fingerprint
        if o.network.family == 6 { layout.datagramBytes = min(layout.datagramBytes, GroupLayout.datagramBytesIPv6Max) }
        var config = try layout.config()
        config.fingerprint = fingerprint
        for warning in HostChecks.warnings(network: o.network, facts: HostFacts.read(for: o.network)) {
            log("warning: \(warning)")
        }
        let auth: DatagramAuthenticator?
        do {
            auth = try KeyFiles.authenticator(for: layout, role: o.role, node: o.node)
        } catch {
            throw NodeStartError.keys(error)
        }
        let network = try NodeNetwork(config: o.network, layout: layout, node: o.node)
        if let reason = network.fallbackReason { log(reason) }
        // The node's own disk: made by --init only, checked against the group, locked for this process.
        let folderPath = o.dataDirectory ?? "\(o.stateDirectory)/\(layout.name)-\(o.node.rawValue)"
        let identity = DataFolder.Identity(groupInstance: layout.instance, groupId: config.groupId, node: o.node,
                                           role: o.role.rawValue, folderId: DataFolder.randomId())
        var made = false
        if o.initialize {
            try DataFolder.create(path: folderPath, identity: identity)
            made = true
        } else if o.initializeIfEmpty, DataFolder.isEmptyOrAbsent(path: folderPath) {
            try DataFolder.create(path: folderPath, identity: identity)
            made = true
        }
        let folder = try DataFolder.open(path: folderPath, groupInstance: layout.instance, groupId: config.groupId,
                                         node: o.node, role: o.role.rawValue)
        restarted = !made
        if restarted, o.role == .sequencer, layout.durability == .none {
            throw NodeStartError.storage(StorageError(
                "sequencer restart refused: the group's durability is none, so \(folderPath) holds no log of the numbers it "
                + "assigned, and numbering again from scratch could bind a committed number to a second message. "
                + "Run the group with durability sync (protocol.durability in the group file), or start a new group"))
        }
        // Roles whose records the protocol needs back after a crash keep a log (durability sync).
        var store = RuntimeLogStore()
        var recovered: [[UInt8]] = []
        let keepsLog = o.role.keepsLog || (o.role == .dataServer && layout.dataStore == .disk)
        if layout.durability == .sync, keepsLog {
            let opened = try FileLogStore.open(folder: folder.logFolder, create: made)
            store = RuntimeLogStore(file: opened.store)
            recovered = opened.recovered
            if restarted {
                log("recovered \(recovered.count) records from \(folder.logFolder)"
                    + (opened.tornBytes > 0 ? " (cut a torn tail of \(opened.tornBytes) bytes)" : ""))
            }
        }
        // Senders and data servers take an incarnation above every earlier start's.
        incarnationFile = IncarnationFile(path: folder.incarnationPath)
        incarnation = o.role.claimsIncarnation ? try incarnationFile.claim(atLeast: o.incarnation) : o.incarnation
        // One node id, one process: a process already running with this id elsewhere answers. Last
        // before the role starts (after the log's recovery, which can take seconds), so that no
        // claim of another start waits long unanswered in this one's socket buffer.
        claim = try NodeIdClaimPhase.run(
            NodeIdClaim(node: o.node, groupId: config.groupId, fingerprint: fingerprint,
                        startedAt: auth?.incarnation ?? wallClockNanos(), nonce: UInt64.random(in: 1...UInt64.max)),
            network: network, transport: o.network.transport, auth: auth, period: o.claimPeriod)
        self.layout = layout
        self.config = config
        self.fingerprint = fingerprint
        self.auth = auth
        self.network = network
        self.folderPath = folderPath
        self.folder = folder
        self.store = store
        self.recovered = recovered
    }

    /// A seed for the role's jitter, distinct per node and start.
    public func seed(now: Instant, node: NodeId) -> UInt64 { now.nanoseconds ^ UInt64(node.rawValue) << 32 }
}

/// Why a node refused to start.
public enum NodeStartError: Error, CustomStringConvertible {
    case layout(LayoutProblem)
    case wrongRole(node: NodeId, listed: NodeRole, asked: NodeRole)
    case notListed(node: NodeId, role: NodeRole)
    case storage(StorageError)
    case keys(KeyFileError)

    public var description: String {
        switch self {
        case .storage(let e): e.description
        case .keys(let e): "\(e) (the group file's security section names it)"
        case .layout(let p): "the group file cannot run: \(p)"
        case .wrongRole(let n, let listed, let asked):
            "node \(n.rawValue) is a \(listed.rawValue) in the group file, not a \(asked.rawValue)"
        case .notListed(let n, let role):
            "node \(n.rawValue) is not listed in the group file; a \(role.rawValue) must be (under \(GroupLayout.field(of: role)))"
        }
    }
}
