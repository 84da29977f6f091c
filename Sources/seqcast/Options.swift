import Foundation
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
extension DurabilityMode: ExpressibleByArgument {}
extension DataStoreMode: ExpressibleByArgument {}

/// The shape of a group that `seqcast bench` builds or `seqcast config example` writes: these
/// become a group file, which is all the processes see (they are not flags of `seqcast run`).
struct ShapeOptions: ParsableArguments {
    @Option(help: "Sequencer candidates (node ids 1…): the first starts the group, the others are standbys that take over when it fails.")
    var sequencers = 1
    @Option(help: "Data servers (node ids 11…).") var dataServers = 3
    @Option(help: "Commit servers (node ids 21…).") var commitServers = 3
    @Option(help: "Checkpoint servers (node ids 31…).") var checkpointServers = 1
    @Option(help: "K: data servers that must hold a message before it is numbered.") var reportQuorum = 2
    @Option(help: "Q: commit servers that must store an assignment before it commits (default: a majority).")
    var commitQuorum: Int?
    @Option(help: "Checkpoint every N sequence numbers (default 8192; at most body-slots / 2: bench lowers it for large messages).")
    var checkpointInterval: UInt64?
    @Option(help: "L: a message's lifetime in sequence numbers.") var lifetime: UInt64 = 1_000_000
    @Option(help: "Unsequenced messages a publisher keeps before back-pressure.") var window = 4_096
    @Option(help: "Message slots of a store (data server or member).") var bodySlots = 65_536
    @Option(help: "Group id (distinct for every group sharing a network).") var groupId: UInt32 = 0x5351
    @Flag(help: "IPv6 (groups ff02::5351:1/2 on ::1, interface lo) instead of IPv4.") var ipv6 = false
    @Option(help: "Data multicast group.") var dataGroup: String?
    @Option(help: "Data group port.") var dataPort: UInt16 = 18_301
    @Option(help: "Commit multicast group.") var commitGroup: String?
    @Option(help: "Commit group port.") var commitPort: UInt16 = 18_302
    @Option(help: "Unicast host of every node (default 127.0.0.1 / ::1).") var host: String?
    @Option(help: "Node n listens for unicast on base-port + n.") var basePort: UInt16 = 18_400
    @Option(help: "Multicast TTL / hop limit.") var ttl = 1
    @Option(help: "Interface name multicast uses (IPv6 needs one; default lo with --ipv6).") var interfaceName: String?
    @Option(help: "sync (a completed write was fdatasync'ed on the node's log) or none (nothing kept; benchmarks). Default: none for bench, sync for config example.")
    var durability: DurabilityMode?
    @Option(help: "Where data servers keep bodies: memory, or disk (their log; needs durability sync).")
    var dataStore = DataStoreMode.memory
    @Option(help: "Authenticate every datagram (THREAT.md) with the key files DIR/group.key and DIR/server.key, made if missing.")
    var keys: String?

    /// The standard layout of this shape with `members` members listed, placed on the network
    /// these options name, with a fresh instance id (a new group).
    func layout(members: Int = 2) -> GroupLayout {
        var l = GroupLayout.standard(sequencers: max(1, min(sequencers, GroupConfig.sequencerCandidatesMax)),
                                     dataServers: dataServers, commitServers: commitServers,
                                     checkpointServers: checkpointServers, members: members)
        l.groupId = groupId
        l.instance = UInt64.random(in: 1...UInt64.max)
        l.reportQuorum = reportQuorum
        l.commitQuorum = commitQuorum
        if let n = checkpointInterval { l.checkpointInterval = n }
        l.lifetime = lifetime
        l.senderWindow = window
        l.bodySlots = bodySlots
        if ipv6 { NetworkConfig.useIPv6Defaults(&l) }
        l.interfaceName = interfaceName ?? (ipv6 ? "lo" : nil)
        if let g = dataGroup { l.dataGroup.host = g }
        if let g = commitGroup { l.commitGroup.host = g }
        l.dataGroup.port = dataPort
        l.commitGroup.port = commitPort
        l.setBasePort(basePort)
        if let h = host { l.setHost(h) }
        l.ttl = ttl
        l.dataStore = dataStore
        return l
    }

    /// With --keys: names the key files in the layout, writing fresh ones that are missing.
    func applyKeys(to l: inout GroupLayout) throws {
        guard let given = keys else { return }
        // Absolute: the group file written for the processes lives elsewhere, and a relative
        // key file is found beside the group file.
        let dir = given.hasPrefix("/") ? given : FileManager.default.currentDirectoryPath + "/" + given
        let security = GroupLayout.Security(groupKeyFile: dir + "/group.key", serverKeyFile: dir + "/server.key")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for path in [security.groupKeyFile, security.serverKeyFile] where !FileManager.default.fileExists(atPath: path) {
            try writeKeyFile(path, [AuthKey.random(id: 1)])
        }
        l.security = security
    }
}

/// Writes a key file readable by its owner only (keys are secrets).
func writeKeyFile(_ path: String, _ keys: [AuthKey]) throws {
    let temporary = path + ".new"
    guard FileManager.default.createFile(atPath: temporary, contents: Array(AuthKeyFile.text(keys).utf8).withUnsafeBytes { Data($0) },
                                         attributes: [.posixPermissions: 0o600]) else {
        throw ValidationError("cannot write \(temporary)")
    }
    // A reader sees the old file or the new one, never half of one (rename is atomic).
    guard rename(temporary, path) == 0 else { throw ValidationError("cannot rename \(temporary) to \(path)") }
}

extension AuthKey {
    /// A fresh key from the system's cryptographic random source (getrandom on Linux).
    static func random(id: UInt16) -> AuthKey {
        var g = SystemRandomNumberGenerator()
        return AuthKey(id: id, bytes: (0..<AuthKey.byteCount).map { _ in UInt8.random(in: 0...255, using: &g) })
    }
}

/// Per-process network choices (the group's addresses are the file's).
struct ProcessNetworkOptions: ParsableArguments {
    @Option(help: "io_uring, sendmmsg, or auto (io_uring if the kernel allows it).") var transport = TransportChoice.auto
    @Flag(help: "Turn UDP GSO/GRO off: every datagram crosses the kernel (and can be lost) on its own.") var noGso = false
    @Option(help: "Repair reply datagrams per second a server sends one requester.") var repairRate = 200_000

    /// This node's network settings: the file's interface, TTL and family, these choices.
    func config(layout: GroupLayout, node: NodeId, interface: String? = nil) -> NetworkConfig {
        var n = NetworkConfig(layout: layout, node: node)
        if let i = interface { n.interfaceAddress = i }
        n.transport = transport
        n.segmentOffload = !noGso
        n.repairDatagramsPerSecond = repairRate
        return n
    }

    /// The same options for a child process.
    var arguments: [String] {
        var a = ["--transport", transport.rawValue, "--repair-rate", "\(repairRate)"]
        if noGso { a.append("--no-gso") }
        return a
    }
}
