import SeqcastCore
import SeqcastWire

/// One reason a layout cannot run, naming the configuration file's field (`protocol.commit-quorum`,
/// `servers.data-servers`) so `seqcast config check` can point at its line.
public struct LayoutProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public var field: String
    public var message: String
    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }
    public var description: String { "\(field): \(message)" }
}

extension GroupLayout {
    /// Everything that keeps this layout from running, each with its field; empty when it can
    /// run. `seqcast config check` prints them all; every role refuses to start on the first.
    public func problems() -> [LayoutProblem] {
        var found: [LayoutProblem] = []
        do {
            _ = try configUnchecked()
        } catch {
            found.append(LayoutProblem(Self.field(of: error), error.description))
        }
        if dataStore == .disk, durability != .sync {
            found.append(LayoutProblem("protocol.data-store",
                                       "disk needs durability sync (with none nothing reaches a disk); use memory, or sync"))
        }
        // A data server frees a message only once a checkpoint covers it, so a store holds the
        // interval being filled and the one waiting for its checkpoint.
        if checkpointInterval > UInt64(bodySlots / 2) {
            found.append(LayoutProblem(
                "protocol.checkpoint-interval",
                "\(checkpointInterval) cannot fit in a store of body-slots = \(bodySlots): data servers free a "
                    + "message only once a checkpoint covers it, so a store must hold two intervals; "
                    + "allowed: 1 … \(bodySlots / 2)"))
        }
        if senderWindow < 1 || senderWindow > bodySlots {
            found.append(LayoutProblem(
                "protocol.sender-window",
                "\(senderWindow) refused: a publisher's unsequenced messages must fit in a store; "
                    + "allowed: 1 … body-slots (\(bodySlots))"))
        }
        if bodySlots < 64 { found.append(LayoutProblem("protocol.body-slots", "\(bodySlots) refused: at least 64")) }
        if !(1...255).contains(ttl) { found.append(LayoutProblem("network.ttl", "\(ttl) refused: allowed 1 … 255")) }
        found += addressProblems()
        found += timerProblems()
        found += feedProblems()
        return found
    }

    /// A feed's ports apart from the group's; its packets at most a datagram.
    func feedProblems() -> [LayoutProblem] {
        guard let f = feed else { return [] }
        var found: [LayoutProblem] = []
        for (name, g) in [("data-group", dataGroup), ("commit-group", commitGroup)] {
            if f.downstream.port == g.port {
                found.append(LayoutProblem("feed.downstream", "port \(f.downstream.port) is network.\(name)'s port"))
            }
            if f.requestPort == g.port {
                found.append(LayoutProblem("feed.request-port", "\(f.requestPort) is network.\(name)'s port"))
            }
        }
        if f.requestPort == f.downstream.port {
            found.append(LayoutProblem("feed.request-port", "\(f.requestPort) is feed.downstream's port"))
        }
        if f.messageBytesMax < 1 {
            found.append(LayoutProblem("feed.packet-bytes", "\(f.packetBytes) leaves no room for a message"))
        }
        return found
    }

    /// No two nodes on one unicast address; no node on a multicast group's port of its host;
    /// the two groups apart.
    func addressProblems() -> [LayoutProblem] {
        var found: [LayoutProblem] = []
        if dataGroup == commitGroup {
            found.append(LayoutProblem("network.commit-group", "\(commitGroup) is also the data group; use another address or port"))
        }
        var owner: [Endpoint: NodeId] = [:]
        for n in nodes {
            let field = Self.field(of: n.role)
            if n.endpoint.port == 0 {
                found.append(LayoutProblem(field, Self.noPort(n.id, basePort)))
                continue
            }
            if let other = owner[n.endpoint] {
                found.append(LayoutProblem(field, "node \(n.id.rawValue) listens on \(n.endpoint), as node \(other.rawValue) does"))
            }
            owner[n.endpoint] = n.id
            for (name, g) in [("data-group", dataGroup), ("commit-group", commitGroup)] where n.endpoint.port == g.port {
                found.append(LayoutProblem(
                    field, "node \(n.id.rawValue)'s port \(n.endpoint.port) is network.\(name)'s port; a node "
                        + "would bind the group's port twice"))
            }
        }
        return found
    }

    static func noPort(_ id: NodeId, _ basePort: UInt16) -> String {
        "node \(id.rawValue) has no port: members.base-port \(basePort) + \(id.rawValue) is past 65535; give it an "
            + "address, or use node ids up to \(65_535 - Int(basePort))"
    }

    /// Why a node that is not listed (a member started by hand) cannot run with this layout: its
    /// derived port is past 65535, or is a listed node's or a multicast group's. Empty if it can.
    public func problems(forNode id: NodeId) -> [LayoutProblem] {
        guard node(id) == nil else { return [] }
        let e = endpoint(of: id)
        if e.port == 0 { return [LayoutProblem("members.base-port", Self.noPort(id, basePort))] }
        var found: [LayoutProblem] = []
        if let other = nodes.first(where: { $0.endpoint == e }) {
            found.append(LayoutProblem("members.base-port", "node \(id.rawValue) would listen on \(e), as node "
                                       + "\(other.id.rawValue) does; use another node id"))
        }
        for (name, g) in [("data-group", dataGroup), ("commit-group", commitGroup)] where e.port == g.port {
            found.append(LayoutProblem("members.base-port", "node \(id.rawValue)'s port \(e.port) is network.\(name)'s port"))
        }
        return found
    }

    func timerProblems() -> [LayoutProblem] {
        var found: [LayoutProblem] = []
        for (name, value) in timing.named where value.value == 0 {
            found.append(LayoutProblem("timers.\(name)", "0 refused: a timer must be positive"))
        }
        if timing.nakRetry > timing.nakBackoffMax {
            found.append(LayoutProblem("timers.nak-retry", "longer than timers.nak-backoff-max; the retry timeout grows up to that"))
        }
        if timing.senderRetransmit > timing.senderRetransmitMax {
            found.append(LayoutProblem(
                "timers.sender-retransmit", "longer than timers.sender-retransmit-max; the timeout grows up to that"))
        }
        return found
    }

    /// The protocol's configuration without the layout's own checks (`problems` adds them).
    func configUnchecked() throws(ConfigError) -> GroupConfig {
        let sequencers = ids(.sequencer)
        guard let s = sequencers.first, sequencers.count <= GroupConfig.sequencerCandidatesMax else {
            throw .sequencerCount(sequencers.count)
        }
        guard Set(nodes.map(\.id)).count == nodes.count else { throw .duplicateNode }
        var c = GroupConfig(groupId: groupId, sequencer: s, dataServers: ids(.dataServer),
                            commitServers: ids(.commitServer), checkpointServers: ids(.checkpointServer),
                            reportQuorum: reportQuorum, commitQuorum: commitQuorum, lifetime: lifetime,
                            checkpointInterval: checkpointInterval, datagramBytesMax: roleDatagramBytes)
        c.standbys = Array(sequencers.dropFirst())
        c.memberDataExtraBytes = memberDataExtraBytes
        c.limits.senderWindowMax = senderWindow
        c.limits.bodySlotsMax = bodySlots
        c.dataStore = dataStore
        c.timing = timing
        c.fingerprint = fingerprint
        try c.validate()
        return c
    }

    /// The file's field for a protocol-level refusal.
    static func field(of error: ConfigError) -> String {
        switch error {
        case .serverCount(let role, _): role == "data" ? "servers.data-servers" : "servers.commit-servers"
        case .sequencerCount: "servers.sequencers"
        case .reportQuorum: "protocol.report-quorum"
        case .commitQuorum: "protocol.commit-quorum"
        case .duplicateNode: "servers"
        case .lifetimeTooShort: "protocol.lifetime"
        case .checkpointInterval: "protocol.checkpoint-interval"
        case .datagramBytes: "protocol.datagram-bytes"
        // Not in the file (the simulator sets it); its nearest field.
        case .collectionLagPercent: "protocol.body-slots"
        }
    }

    /// The file's list a node of `role` is in.
    public static func field(of role: NodeRole) -> String {
        switch role {
        case .sequencer: "servers.sequencers"
        case .dataServer: "servers.data-servers"
        case .commitServer: "servers.commit-servers"
        case .checkpointServer: "servers.checkpoint-servers"
        case .member: "members.listed"
        }
    }
}
