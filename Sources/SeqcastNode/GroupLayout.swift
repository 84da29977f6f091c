import SeqcastCore
import SeqcastWire

/// The roles a node can run.
public enum NodeRole: String, Sendable, CaseIterable {
    case sequencer
    case dataServer = "data-server"
    case commitServer = "commit-server"
    case checkpointServer = "checkpoint-server"
    case member

    /// The multicast groups a node of this role joins: the one table the runtime's sockets and
    /// the simulated network's fan-out both read (protocol.md Part 1 §10). The sequencer never
    /// joins the data group: it never touches payloads.
    public var joinedGroups: [MulticastGroup] {
        switch self {
        // Sequencer candidates hear the commit group: a standby follows the active one's
        // commits and heartbeats, and an active one learns it was deposed.
        case .sequencer, .commitServer: [.commit]
        case .dataServer, .checkpointServer, .member: [.data, .commit]
        }
    }

    /// Roles that send under an incarnation of their own (a data server reports under one too).
    public var claimsIncarnation: Bool { self != .sequencer && self != .commitServer }
    /// Roles whose storage records the protocol needs back after a crash (durability sync):
    /// the sequencer's assignments, commit servers' accepted runs, checkpoint servers' checkpoints.
    public var keepsLog: Bool { self == .sequencer || self == .commitServer || self == .checkpointServer }
}

/// A host and port.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// One node of the layout: its id, role and unicast address.
public struct LayoutNode: Hashable, Sendable {
    public var id: NodeId
    public var role: NodeRole
    public var endpoint: Endpoint
    public init(id: NodeId, role: NodeRole, endpoint: Endpoint) {
        self.id = id
        self.role = role
        self.endpoint = endpoint
    }
}

/// Who is who in a group, and where: every server listed with its node id, role and unicast
/// address, the members known in advance, the two multicast groups, and the protocol's
/// group-wide values. The in-memory form of the group configuration file (issue 8): the
/// simulator, the scenario tests, `seqcast run` and `seqcast bench` all take their node ids,
/// addresses and group memberships from here and nowhere else.
///
/// Invariants (checked by `config()` and `problems()`): node ids are distinct; exactly one
/// sequencer; no two nodes share a unicast address; a store holds two checkpoint intervals.
public struct GroupLayout: Sendable, Equatable {
    /// A label for people and logs.
    public var name = "seqcast"
    /// Distinct for every group that shares a network: datagrams of another id are dropped.
    public var groupId: UInt32 = 0x5351
    /// Made once with the group (`seqcast config example`): two groups that copied one file and
    /// changed nothing else still refuse each other, since it is part of the fingerprint.
    public var instance: UInt64 = 0
    public var dataGroup = Endpoint(host: "239.255.83.1", port: 18_301)
    public var commitGroup = Endpoint(host: "239.255.83.2", port: 18_302)
    /// Every node with an address, servers first; members may be listed or derived.
    public private(set) var nodes: [LayoutNode] = []
    /// A node that is not listed (a member started by hand) listens on `host:basePort + id`.
    public var host = "127.0.0.1"
    public var basePort: UInt16 = 18_400
    /// K, Q (nil: a majority), L, N, and the store and window bounds (see `GroupConfig`).
    public var reportQuorum = 2
    public var commitQuorum: Int?
    public var lifetime: UInt64 = 1_000_000
    public var checkpointInterval: UInt64 = 8_192
    public var senderWindow = 4_096
    public var bodySlots = 65_536
    /// Largest datagram (IPv4 over a 1500-byte MTU: 1472; the runtime lowers it for IPv6).
    public var datagramBytes = 1_472
    /// Multicast TTL / hop limit.
    public var ttl = 1
    /// The interface multicast leaves and is joined on: a name (IPv6 needs one) and/or an
    /// address; without an address each node uses its own unicast host's.
    public var interfaceName: String?
    public var interfaceAddress: String?
    /// What a completed storage write means: `sync` (the default) or `none` (benchmarks).
    public var durability = DurabilityMode.sync
    /// Where data servers keep bodies (`disk` needs durability sync).
    public var dataStore = DataStoreMode.memory
    /// The protocol's timers (heartbeat, report delay, NAK and retransmission timers).
    public var timing = GroupConfig.Timing()
    /// Datagram authentication (THREAT.md); nil: none, every well-formed datagram is believed.
    public var security: Security?
    /// The committed stream as a MoldUDP64 feed (`GroupLayout+Feed.swift`); nil: no feed.
    public var feed: Feed?

    /// The file's `security` section: which key files the group's processes read.
    public struct Security: Sendable, Equatable {
        /// Every process of the group reads it (members too).
        public var groupKeyFile: String
        /// Only servers read it: what servers act on travels under it.
        public var serverKeyFile: String
        /// How long a key dropped from a key file is still accepted after the file is read again.
        public var keyRotationWindow = Nanoseconds(60_000_000_000)
        /// Senders per key class whose replay windows a node keeps; more are dropped and counted.
        public var peersMax = 4_096
        public init(groupKeyFile: String, serverKeyFile: String) {
            self.groupKeyFile = groupKeyFile
            self.serverKeyFile = serverKeyFile
        }
    }

    /// The largest datagram a role writes: `datagramBytes` less room for the trailer.
    public var roleDatagramBytes: Int { datagramBytes - (security != nil ? AuthTrailer.byteCountMax : 0) }
    /// What a member's data datagram may take beyond `roleDatagramBytes`: its trailer has the
    /// group tag only.
    public var memberDataExtraBytes: Int { security != nil ? AuthTrailer.tagByteCount : 0 }

    /// Datagram size over IPv6 within a 1500-byte MTU (40-byte IP header, 8-byte UDP header).
    public static let datagramBytesIPv6Max = 1_452

    public init() {}

    // MARK: the standard numbering (the only place it is written)

    /// The node id of the `index`-th node of `role` in a standard group: sequencer 1, data
    /// servers 11…, commit servers 21…, checkpoint servers 31…, members 41….
    public static func standardId(_ role: NodeRole, _ index: Int) -> NodeId {
        precondition(index >= 0 && index < standardRoleSpan, "index out of the role's id range")
        let base: UInt32 = switch role {
        case .sequencer: 1
        case .dataServer: 11
        case .commitServer: 21
        case .checkpointServer: 31
        case .member: 41
        }
        precondition(role != .sequencer || index < 9, "sequencer candidates are 1…9")
        let id = base + UInt32(index)
        return NodeId(id)
    }

    /// Ids per server role in the standard numbering (11…20 are data servers, and so on).
    public static let standardRoleSpan = 10
    /// Members per standard group at most (41…, below the unicast port range's end).
    public static let standardMembersMax = 1_000

    /// A standard group on one host: every node's unicast port is `basePort + id`.
    public static func standard(sequencers: Int = 1, dataServers: Int = 3, commitServers: Int = 3,
                                checkpointServers: Int = 1, members: Int = 2, host: String = "127.0.0.1",
                                basePort: UInt16 = 18_400) -> GroupLayout {
        precondition(sequencers >= 1 && sequencers <= GroupConfig.sequencerCandidatesMax, "1 to 8 sequencer candidates")
        precondition([dataServers, commitServers, checkpointServers].allSatisfy { $0 >= 0 && $0 < standardRoleSpan },
                     "at most \(standardRoleSpan - 1) servers of a role in the standard numbering")
        precondition(members >= 0 && members <= standardMembersMax, "member count out of range")
        var l = GroupLayout()
        l.host = host
        l.basePort = basePort
        for i in 0..<sequencers { l.add(.sequencer, standardId(.sequencer, i)) }
        for i in 0..<dataServers { l.add(.dataServer, standardId(.dataServer, i)) }
        for i in 0..<commitServers { l.add(.commitServer, standardId(.commitServer, i)) }
        for i in 0..<checkpointServers { l.add(.checkpointServer, standardId(.checkpointServer, i)) }
        for i in 0..<members { l.add(.member, NodeId(41 + UInt32(i))) }
        return l
    }

    /// Lists a node at `host:basePort + id` unless an endpoint is given.
    public mutating func add(_ role: NodeRole, _ id: NodeId, endpoint: Endpoint? = nil) {
        precondition(node(id) == nil, "node \(id) listed twice")
        nodes.append(LayoutNode(id: id, role: role, endpoint: endpoint ?? defaultEndpoint(id)))
    }

    /// Moves every node (or one) to another host, keeping its port (one host per namespace).
    public mutating func setHost(_ host: String, of id: NodeId? = nil) {
        if id == nil { self.host = host }
        for i in nodes.indices where id == nil || nodes[i].id == id { nodes[i].endpoint.host = host }
    }

    /// Renumbers every node's port as `basePort + id`.
    public mutating func setBasePort(_ port: UInt16) {
        basePort = port
        for i in nodes.indices { nodes[i].endpoint.port = port &+ UInt16(truncatingIfNeeded: nodes[i].id.rawValue) }
    }

    // MARK: look-ups

    public func node(_ id: NodeId) -> LayoutNode? { nodes.first { $0.id == id } }
    public func ids(_ role: NodeRole) -> [NodeId] { nodes.filter { $0.role == role }.map(\.id) }
    public var sequencer: NodeId? { ids(.sequencer).first }
    public var members: [NodeId] { ids(.member) }

    /// The role of `id`: a listed node's, else a member (members need not be listed).
    public func role(of id: NodeId) -> NodeRole { node(id)?.role ?? .member }

    /// Where `id` listens for unicast.
    public func endpoint(of id: NodeId) -> Endpoint { node(id)?.endpoint ?? defaultEndpoint(id) }

    /// `host:basePort + id`; port 0 when that is past 65535 (it once wrapped, and node ids above
    /// about 47,000 landed on other nodes' ports): `problems()` and `problems(forNode:)` refuse it.
    func defaultEndpoint(_ id: NodeId) -> Endpoint {
        let port = UInt64(basePort) + UInt64(id.rawValue)
        return Endpoint(host: host, port: port <= UInt64(UInt16.max) ? UInt16(port) : 0)
    }

    public func endpoint(of group: MulticastGroup) -> Endpoint {
        switch group {
        case .data: dataGroup
        case .commit: commitGroup
        }
    }

    /// The listed nodes that receive what is sent to `group` (the sender included: multicast
    /// loops back, and the node filters its own datagrams).
    public func receivers(of group: MulticastGroup) -> [NodeId] {
        nodes.filter { $0.role.joinedGroups.contains(group) }.map(\.id)
    }

    /// The multicast group a role's destination names, if it names one.
    @inlinable public static func group(of d: Destination) -> MulticastGroup? {
        switch d {
        case .dataGroup: .data
        case .commitGroup: .commit
        case .node, .address: nil
        }
    }

    // MARK: the protocol's configuration

    /// The group configuration every role of this group runs with, validated by the protocol's
    /// rules (`GroupConfig.validate`); `problems()` adds the layout's own checks.
    public func config() throws(ConfigError) -> GroupConfig { try configUnchecked() }
}

/// What a completed storage write means for a group (protocol.md Part 2 §4).
public enum DurabilityMode: String, Sendable, CaseIterable {
    /// A write completes once `fdatasync` returned on the node's own log (FileLogStore): the
    /// sequencer's, commit servers' and checkpoint servers' state survives kill -9 and power
    /// loss of a node (not of a majority of commit servers at once).
    case sync
    /// Nothing reaches a disk: a write completes at once. For benchmarks; every figure measured
    /// with it says so. A restarted sequencer then cannot recover its numbering.
    case none
}
