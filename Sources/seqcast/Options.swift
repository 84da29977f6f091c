import ArgumentParser
import SeqcastCore
import SeqcastNode
import SeqcastBench
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire

extension TransportChoice: ExpressibleByArgument {}
extension ThreadMode: ExpressibleByArgument {}
extension NodeRole: ExpressibleByArgument {}

/// The group's shape and limits; every process of a group must be given the same values.
struct GroupOptions: ParsableArguments {
    @Option(help: "Data servers (node ids 11…).") var dataServers = 3
    @Option(help: "Commit servers (node ids 21…).") var commitServers = 3
    @Option(help: "Checkpoint servers (node ids 31…).") var checkpointServers = 1
    @Option(help: "K: data servers that must hold a message before it is numbered.") var reportQuorum = 2
    @Option(help: "Q: commit servers that must store an assignment before it commits (default: a majority).")
    var commitQuorum: Int?
    @Option(help: "Checkpoint every N sequence numbers (default 8192; keep it well below what a data server's store holds: bench lowers it for large messages).")
    var checkpointInterval: UInt64?
    @Option(help: "L: a message's lifetime in sequence numbers.") var lifetime: UInt64 = 1_000_000
    @Option(help: "Unsequenced messages a publisher keeps before back-pressure.") var window = 4_096
    @Option(help: "Message slots of a store (data server or member).") var bodySlots = 65_536

    /// The standard layout of this shape with `members` members listed (more may join: an
    /// unlisted member listens on base-port + id). Addresses come from `NetworkOptions.place`.
    func layout(members: Int = 2) -> GroupLayout {
        var l = GroupLayout.standard(dataServers: dataServers, commitServers: commitServers,
                                     checkpointServers: checkpointServers, members: members)
        l.reportQuorum = reportQuorum
        l.commitQuorum = commitQuorum
        if let n = checkpointInterval { l.checkpointInterval = n }
        l.lifetime = lifetime
        l.senderWindow = window
        l.bodySlots = bodySlots
        return l
    }

    var arguments: [String] {
        var a = ["--data-servers", "\(dataServers)", "--commit-servers", "\(commitServers)",
                 "--checkpoint-servers", "\(checkpointServers)", "--report-quorum", "\(reportQuorum)",
                 "--checkpoint-interval", "\(layout().checkpointInterval)", "--lifetime", "\(lifetime)",
                 "--window", "\(window)", "--body-slots", "\(bodySlots)"]
        if let q = commitQuorum { a += ["--commit-quorum", "\(q)"] }
        return a
    }
}

/// Where the group lives on the network; the defaults work on a fresh machine (loopback).
struct NetworkOptions: ParsableArguments {
    @Option(help: "io_uring, sendmmsg, or auto (io_uring if the kernel allows it).") var transport = TransportChoice.auto
    @Flag(help: "IPv6 (groups ff02::5351:1/2 on ::1, interface lo) instead of IPv4.") var ipv6 = false
    @Option(help: "Data multicast group.") var dataGroup: String?
    @Option(help: "Data group port.") var dataPort: UInt16 = 18_301
    @Option(help: "Commit multicast group.") var commitGroup: String?
    @Option(help: "Commit group port.") var commitPort: UInt16 = 18_302
    @Option(help: "Interface address multicast uses (default 127.0.0.1 / ::1).") var interface: String?
    @Option(help: "Interface name (needed for IPv6 multicast).") var interfaceName: String?
    @Option(help: "Unicast host of every node (default: the interface address).") var host: String?
    @Option(help: "Unicast host of one node, as id=address (repeatable).") var nodeHost: [String] = []
    @Option(help: "Node n listens for unicast on base-port + n.") var basePort: UInt16 = 18_400
    @Option(help: "Multicast TTL / hop limit.") var ttl = 1
    @Flag(help: "Turn UDP GSO/GRO off: every datagram crosses the kernel (and can be lost) on its own.") var noGso = false
    @Option(help: "Repair reply datagrams per second a server sends one requester.") var repairRate = 200_000

    /// Puts the layout's nodes and groups where these options say (hosts, ports, groups, IPv6).
    func place(_ layout: inout GroupLayout) throws {
        if ipv6 { NetworkConfig.useIPv6Defaults(&layout) }
        if let g = dataGroup { layout.dataGroup.host = g }
        if let g = commitGroup { layout.commitGroup.host = g }
        layout.dataGroup.port = dataPort
        layout.commitGroup.port = commitPort
        layout.setBasePort(basePort)
        if let h = host ?? interface { layout.setHost(h) }
        for entry in nodeHost {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let id = UInt32(parts[0]) else {
                throw ValidationError("--node-host wants id=address, got \(entry)")
            }
            if layout.node(NodeId(id)) == nil { layout.add(.member, NodeId(id)) }
            layout.setHost(String(parts[1]), of: NodeId(id))
        }
    }

    func config() throws -> NetworkConfig {
        var n = ipv6 ? NetworkConfig.ipv6Defaults : NetworkConfig()
        if let i = interface { n.interfaceAddress = i }
        if let name = interfaceName { n.interfaceName = name }
        n.ttl = ttl
        n.transport = transport
        n.segmentOffload = !noGso
        n.repairDatagramsPerSecond = repairRate
        return n
    }

    /// The same options for a child process (per-node interface and host are added by the caller).
    var arguments: [String] {
        var a = ["--transport", transport.rawValue, "--data-port", "\(dataPort)", "--commit-port", "\(commitPort)",
                 "--base-port", "\(basePort)", "--ttl", "\(ttl)", "--repair-rate", "\(repairRate)"]
        if ipv6 { a.append("--ipv6") }
        if noGso { a.append("--no-gso") }
        if let g = dataGroup { a += ["--data-group", g] }
        if let g = commitGroup { a += ["--commit-group", g] }
        if let name = interfaceName { a += ["--interface-name", name] }
        for h in nodeHost { a += ["--node-host", h] }
        return a
    }
}
