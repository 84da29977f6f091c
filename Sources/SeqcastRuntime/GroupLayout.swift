import SeqcastCore
import SeqcastWire

/// The node ids of a standard group, so every process derives the same `GroupConfig` from a few
/// numbers: sequencer 1, data servers 11…, commit servers 21…, checkpoint servers 31…, members 41….
public struct GroupLayout: Sendable {
    public var dataServers = 3
    public var commitServers = 3
    public var checkpointServers = 1
    public var reportQuorum = 2
    public var commitQuorum: Int?
    public var groupId: UInt32 = 0x5351
    public var lifetime: UInt64 = 1_000_000
    public var checkpointInterval: UInt64 = 8_192
    public var senderWindow = 4_096
    public var bodySlots = 65_536
    /// Largest datagram (IPv4 over a 1500-byte MTU: 1472; the runtime lowers it for IPv6).
    public var datagramBytes = 1_472
    public init() {}

    public static let sequencer = NodeId(1)
    public static func dataServer(_ i: Int) -> NodeId { NodeId(11 + UInt32(i)) }
    public static func commitServer(_ i: Int) -> NodeId { NodeId(21 + UInt32(i)) }
    public static func checkpointServer(_ i: Int) -> NodeId { NodeId(31 + UInt32(i)) }
    public static func member(_ i: Int) -> NodeId { NodeId(41 + UInt32(i)) }

    public func config() throws(ConfigError) -> GroupConfig {
        var c = GroupConfig(groupId: groupId, sequencer: Self.sequencer,
                            dataServers: (0..<dataServers).map(Self.dataServer),
                            commitServers: (0..<commitServers).map(Self.commitServer),
                            checkpointServers: (0..<checkpointServers).map(Self.checkpointServer),
                            reportQuorum: reportQuorum, commitQuorum: commitQuorum, lifetime: lifetime,
                            checkpointInterval: checkpointInterval, datagramBytesMax: datagramBytes)
        c.limits.senderWindowMax = senderWindow
        c.limits.bodySlotsMax = bodySlots
        try c.validate()
        return c
    }
}

/// The roles `seqcast run` starts.
public enum ProcessRole: String, Sendable, CaseIterable {
    case sequencer
    case dataServer = "data-server"
    case commitServer = "commit-server"
    case checkpointServer = "checkpoint-server"
    case member
}
