import SeqcastCore
import SeqcastNode
import SeqcastWire

extension GroupFile {
    /// A group file for `layout`, every field written and commented: `parse(render(l)) == l`.
    /// `seqcast config example`, `seqcast bench` and `scripts/demo` write their groups with it.
    public static func render(_ l: GroupLayout) -> String {
        var out = """
        # Seqcast group configuration. Every process of the group reads this same file
        # (seqcast run <role> --config FILE --node N); group-wide values live only here, and
        # processes whose files differ refuse each other's datagrams (the header's fingerprint).
        # Per-node choices stay flags of seqcast run: --node, --state-dir, --transport, --threads.
        group:
          name: \(l.name)
          id: \(hex(UInt64(l.groupId)))                # distinct for every group sharing a network
          instance: \(hex(l.instance))  # made with the group; a new group gets a new one
        network:
          data-group: "\(l.dataGroup)"      # clients' data, and commits, heartbeats to members
          commit-group: "\(l.commitGroup)"    # the sequencer's submits to commit servers, their acks

        """
        if let name = l.interfaceName { out += "  interface-name: \(name)   # the interface multicast uses\n" }
        if let address = l.interfaceAddress {
            out += "  interface: \(address)      # the interface's address (default: each node's own address)\n"
        }
        out += "  ttl: \(l.ttl)                     # multicast hops (1: one LAN segment)\n"
        out += "servers:                     # every server: node id, unicast address (host:port)\n"
        for role in [NodeRole.sequencer, .dataServer, .commitServer, .checkpointServer] {
            let key = GroupLayout.field(of: role).split(separator: ".").last.map(String.init) ?? ""
            let list = nodeList(l, role, indent: "    ")
            out += list.isEmpty ? "  \(key): []\(comment(role))\n" : "  \(key):\(comment(role))\n" + list
        }
        out += """
        members:                     # members need not be listed: an unlisted one listens on host:base-port + id
          host: \(l.host)
          base-port: \(l.basePort)

        """
        if !l.members.isEmpty {
            out += "  listed:\n"
            out += nodeList(l, .member, indent: "    ")
        }
        out += """
        protocol:
          report-quorum: \(l.reportQuorum)           # K: data servers holding a message before it is numbered
          commit-quorum: \(l.commitQuorum.map(String.init) ?? "majority")           # Q: commit servers storing an assignment before it commits (at least a majority)
          lifetime: \(l.lifetime)           # L: a message is numbered within L numbers of its timestamp
          checkpoint-interval: \(l.checkpointInterval)   # N: checkpoints every N numbers (at most body-slots / 2)
          sender-window: \(l.senderWindow)        # unsequenced messages a publisher keeps before back-pressure
          body-slots: \(l.bodySlots)          # message slots of a store (data server or member)
          datagram-bytes: \(l.datagramBytes)       # largest datagram (1472 for IPv4 over a 1500-byte MTU)
          durability: \(l.durability.rawValue)           # what a completed storage write means: \(DurabilityMode.allCases.map(\.rawValue).joined(separator: ", "))
          data-store: \(l.dataStore.rawValue)           # where data servers keep bodies: memory, or disk (needs durability sync)
        timers:

        """
        for (name, value) in l.timing.named { out += "  \(name): \(duration(value.value))\n" }
        if let s = l.security {
            out += """
            security:                    # every datagram tagged (GMAC, per-incarnation subkeys); THREAT.md
              group-key-file: \(s.groupKeyFile)   # every process reads it (seqcast config keys)
              server-key-file: \(s.serverKeyFile)   # servers only: what servers act on travels under it
              key-rotation-window: \(duration(s.keyRotationWindow.value))   # a key dropped from a file is accepted this long
              peers-max: \(s.peersMax)   # senders per key class with a replay window

            """
        }
        if let f = l.feed {
            out += """
            feed:                        # the committed stream as MoldUDP64 (seqcast feed run)
              session: \(f.session)   # MoldUDP64 session (1 … 10 ASCII characters)
              downstream: "\(f.downstream)"   # where gateways multicast the packets
              request-port: \(f.requestPort)   # each gateway answers re-requests on this UDP port
              packet-bytes: \(f.packetBytes)   # largest packet; a larger message is refused at publish
              heartbeat: \(duration(f.heartbeat.value))   # an idle gateway's heartbeat period
              retention: \(f.retentionMessages)   # messages a gateway keeps for re-requests
              requester-rate: \(f.requesterMessagesPerSecond)   # messages replayed per requester per second

            """
        }
        return aligned(out)
    }

    /// Starts every trailing comment in one column, so the file reads as a table.
    static func aligned(_ text: String) -> String {
        let column = 34
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard !line.hasPrefix("#"), let hash = line.range(of: " # ") else { return String(line) }
            let code = line[..<hash.lowerBound].reversed().drop { $0 == " " }.reversed()
            let pad = max(1, column - code.count)
            return String(code) + String(repeating: " ", count: pad) + line[line.index(after: hash.lowerBound)...]
        }.joined(separator: "\n")
    }

    static func comment(_ role: NodeRole) -> String {
        switch role {
        case .sequencer: "          # sequencer candidates: the first starts the group, the others are standbys"
        case .dataServer: "        # store messages, report ids to the sequencer"
        case .commitServer: "      # store assignments; Q of them make a commit"
        case .checkpointServer: "  # checkpoints for late joiners and garbage collection"
        case .member: ""
        }
    }

    static func nodeList(_ l: GroupLayout, _ role: NodeRole, indent: String) -> String {
        let nodes = l.nodes.filter { $0.role == role }
        return nodes.map { "\(indent)- { node: \($0.id.rawValue), address: \"\($0.endpoint)\" }\n" }.joined()
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// The largest whole unit that represents `ns` exactly.
    static func duration(_ ns: UInt64) -> String {
        for (unit, scale) in [("s", UInt64(1_000_000_000)), ("ms", 1_000_000), ("us", 1_000)] where ns % scale == 0 {
            return "\(ns / scale)\(unit)"
        }
        return "\(ns)ns"
    }
}
