import SeqcastCore

/// The group-wide values in one canonical text, and its digest (the header's `fingerprint`).
/// Two processes of one group whose files differ in any group-wide value, or that belong to
/// two groups made separately (another `instance`), compute different fingerprints and drop
/// each other's datagrams. It guards against mistakes, not attackers (that is the security
/// issue's authentication): FNV-1a is enough to tell two files apart.
extension GroupLayout {
    /// Every group-wide value, one `key=value` per line in a fixed order; nodes sorted by id.
    /// Adding a value to the layout means adding it here (the fingerprint test lists them).
    public var canonicalText: String {
        var lines = [
            "name=\(name)", "id=\(groupId)", "instance=\(instance)",
            "data-group=\(dataGroup)", "commit-group=\(commitGroup)", "ttl=\(ttl)",
            "interface-name=\(interfaceName ?? "")", "interface=\(interfaceAddress ?? "")",
            "members=\(host):\(basePort)",
            "report-quorum=\(reportQuorum)", "commit-quorum=\(commitQuorum.map(String.init) ?? "majority")",
            "lifetime=\(lifetime)", "checkpoint-interval=\(checkpointInterval)",
            "sender-window=\(senderWindow)", "body-slots=\(bodySlots)", "datagram-bytes=\(datagramBytes)",
            "durability=\(durability.rawValue)", "data-store=\(dataStore.rawValue)",
            // Key files are per host; whether the group authenticates, and how, is group-wide.
            "authentication=\(security == nil ? "none" : DatagramAuthenticator.algorithm)",
        ]
        for (name, value) in timing.named { lines.append("timer.\(name)=\(value.value)") }
        for n in nodes.sorted(by: { $0.id.rawValue < $1.id.rawValue }) {
            lines.append("node.\(n.id.rawValue)=\(n.role.rawValue)@\(n.endpoint)")
        }
        return lines.joined(separator: "\n")
    }

    /// The low 32 bits of FNV-1a-64 over `canonicalText`, folded.
    public var fingerprint: UInt32 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in canonicalText.utf8 {
            h ^= UInt64(byte)
            h &*= 0x0000_0100_0000_01b3
        }
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }
}

extension GroupConfig.Timing {
    /// Every timer with the name the configuration file gives it, in file order.
    public var named: [(String, Nanoseconds)] {
        [("heartbeat", heartbeatInterval), ("report-delay", reportDelay), ("report-refresh", reportRefresh),
         ("submit-retransmit", submitRetransmit), ("nak-grace", nakGrace), ("nak-retry", nakRetry),
         ("nak-backoff-max", nakBackoffMax), ("sender-retransmit", senderRetransmit),
         ("sender-retransmit-max", senderRetransmitMax), ("checkpoint-report", checkpointReportInterval),
         ("collection-grace", collectionGrace),
         ("sequencer-suspect-after", sequencerSuspectAfter), ("standby-stagger", standbyStagger)]
    }

    /// Sets the timer the file names `name`; false if there is no such timer.
    public mutating func set(_ name: String, _ value: Nanoseconds) -> Bool {
        switch name {
        case "heartbeat": heartbeatInterval = value
        case "report-delay": reportDelay = value
        case "report-refresh": reportRefresh = value
        case "submit-retransmit": submitRetransmit = value
        case "nak-grace": nakGrace = value
        case "nak-retry": nakRetry = value
        case "nak-backoff-max": nakBackoffMax = value
        case "sender-retransmit": senderRetransmit = value
        case "sender-retransmit-max": senderRetransmitMax = value
        case "checkpoint-report": checkpointReportInterval = value
        case "collection-grace": collectionGrace = value
        case "sequencer-suspect-after": sequencerSuspectAfter = value
        case "standby-stagger": standbyStagger = value
        default: return false
        }
        return true
    }
}
