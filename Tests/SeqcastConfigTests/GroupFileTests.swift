import Foundation
import SeqcastConfig
import SeqcastCore
import SeqcastNode
import SeqcastWire
import Testing

/// A standard loopback group as a file: the text every broken file below starts from.
private func exampleLayout() -> GroupLayout {
    var l = GroupLayout.standard(dataServers: 3, commitServers: 3, checkpointServers: 1, members: 2)
    l.name = "test"
    l.groupId = 0x7e57
    l.instance = 0x1234_5678_9abc
    return l
}

private let example = GroupFile.render(exampleLayout())

/// `example` with the first line containing `find` replaced by `line` (or removed if nil).
private func edited(_ find: String, _ line: String?) -> String {
    var lines = example.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let i = lines.firstIndex(where: { $0.contains(find) }) else {
        Issue.record("no line contains \(find)")
        return example
    }
    if let line { lines[i] = line } else { lines.remove(at: i) }
    return lines.joined(separator: "\n")
}

private func refusal(_ text: String) -> GroupFileError? {
    do {
        _ = try GroupFile.parse(text, source: "test.yaml")
        return nil
    } catch {
        return error
    }
}

@Suite("Group configuration file")
struct GroupFileTests {
    @Test("the example file parses back to the layout it was written from")
    func roundTrip() throws {
        let parsed = try GroupFile.parse(example)
        #expect(parsed == exampleLayout())
        #expect(parsed.fingerprint == exampleLayout().fingerprint)
        #expect(try parsed.config().fingerprint == parsed.fingerprint)
    }

    @Test("non-default values survive the round trip: IPv6, interface, timers, listed quorum")
    func roundTripVaried() throws {
        var l = exampleLayout()
        l.dataGroup = Endpoint(host: "ff02::5351:1", port: 19_301)
        l.commitGroup = Endpoint(host: "ff02::5351:2", port: 19_302)
        l.setHost("::1")
        l.interfaceName = "lo"
        l.interfaceAddress = "::1"
        l.ttl = 4
        l.commitQuorum = 3
        l.timing.heartbeatInterval = .micros(1_500)
        l.timing.nakGrace = Nanoseconds(777)
        let parsed = try GroupFile.parse(GroupFile.render(l))
        #expect(parsed == l)
    }

    @Test("the security section: key files, rotation window and peers survive the round trip; roles write shorter datagrams")
    func securityRoundTrip() throws {
        var l = exampleLayout()
        var s = GroupLayout.Security(groupKeyFile: "/etc/seqcast/group.key", serverKeyFile: "keys/server.key")
        s.keyRotationWindow = Nanoseconds(90_000_000_000)
        s.peersMax = 128
        l.security = s
        let text = GroupFile.render(l)
        #expect(text.contains("security:"))
        let parsed = try GroupFile.parse(text)
        #expect(parsed == l)
        #expect(parsed.fingerprint != exampleLayout().fingerprint, "authentication is group-wide")
        #expect(try parsed.config().datagramBytesMax == l.datagramBytes - AuthTrailer.byteCountMax)
        // A relative key file is found beside the group file, wherever the process runs from.
        let dir = "/tmp/seqcast-security-test-\(UInt32.random(in: 1...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try text.write(toFile: dir + "/group.yaml", atomically: true, encoding: .utf8)
        let loaded = try GroupFile.load(path: dir + "/group.yaml")
        #expect(loaded.security?.serverKeyFile == dir + "/keys/server.key")
        #expect(loaded.security?.groupKeyFile == "/etc/seqcast/group.key")
    }

    @Test("a security section without its key files, or with unknown fields, is refused with the field named")
    func securityRefusals() throws {
        let base = example + "security:\n  group-key-file: g.key\n  server-key-file: s.key\n"
        #expect(try GroupFile.parse(base).security != nil)
        for (text, field, says) in [
            (example + "security:\n  group-key-file: g.key\n", "security.server-key-file", "missing"),
            (base + "  peers-max: 3\n", "security.peers-max", "16 …"),
            (base + "  key-file: x\n", "security.key-file", "unknown field"),
            (base + "  key-rotation-window: 5\n", "security.key-rotation-window", "positive duration"),
        ] {
            let error = try #require(refusal(text), "\(field)")
            let problem = try #require(error.problems.first { $0.field == field }, "\(error)")
            #expect(problem.message.contains(says), "\(problem)")
        }
    }

    /// Each broken file is refused, naming the field (and line where there is one).
    @Test("broken files are refused with the field named", arguments: [
        ("id: 0x7e57", "  id: 0", "group.id", "1 … 4294967295"),
        ("id: 0x7e57", "  id: seven", "group.id", "\"seven\" refused"),
        ("instance:", nil, "group.instance", "missing"),
        ("data-group:", "  data-group: \"10.0.0.1:18301\"", "network.data-group", "not a multicast address"),
        ("data-group:", "  data-group: \"239.255.83.1\"", "network.data-group", "refused"),
        ("commit-group:", "  commit-group: \"239.255.83.1:18301\"", "network.commit-group", "also the data group"),
        ("ttl:", "  ttl: 300", "network.ttl", "1 … 255"),
        ("commit-quorum:", "  commit-quorum: 1", "protocol.commit-quorum", "majority (2)"),
        ("report-quorum:", "  report-quorum: 4", "protocol.report-quorum", "between 1 and the 3 data servers"),
        ("checkpoint-interval:", "  checkpoint-interval: 40000", "protocol.checkpoint-interval", "two intervals"),
        ("sender-window:", "  sender-window: 100000", "protocol.sender-window", "must fit in a store"),
        ("durability:", "  durability: fsync", "protocol.durability", "allowed: sync, none"),
        ("lifetime:", "  lifetime: 3", "protocol.lifetime", "16 …"),
        ("heartbeat:", "  heartbeat: 20", "timers.heartbeat", "20ms"),
        ("heartbeat:", "  heartbeats: 20ms", "timers.heartbeats", "unknown field"),
        ("nak-retry:", "  nak-retry: 50ms", "timers.nak-retry", "nak-backoff-max"),
        ("report-quorum:", "  report-qourum: 2", "protocol.report-qourum", "unknown field"),
        ("node: 12,", "    - { node: 11, address: \"127.0.0.1:18412\" }", "servers.data-servers[1].node", "already listed"),
        ("node: 12,", "    - { node: 12, address: \"127.0.0.1:18411\" }", "servers.data-servers", "as node 11 does"),
        ("node: 12,", "    - { node: 12, address: \"127.0.0.1:18301\" }", "servers.data-servers", "network.data-group's port"),
        ("node: 12,", "    - { node: 12, address: \"127.0.0.1:0\" }", "servers.data-servers[1].address", "IP address and port"),
        ("node: 12,", "    - { node: 12, address: \"server-b:18412\" }", "servers.data-servers[1].address", "refused"),
        ("node: 12,", "    - { node: 12, address: \"[::1]:18412\" }", "servers.data-servers", "IP version"),
        ("node: 12,", "    - { node: 12 }", "servers.data-servers[1].address", "missing"),
        ("node: 1,", "    - { node: 1, address: \"127.0.0.1:18401\", role: x }", "servers.sequencers[0].role", "unknown field"),
        ("- { node: 1,", "    []", "servers.sequencers", "empty"),
    ] as [(String, String?, String, String)])
    func brokenFile(find: String, replacement: String?, field: String, says: String) throws {
        let error = try #require(refusal(edited(find, replacement)))
        let problem = try #require(error.problems.first { $0.field == field }, "\(error)")
        #expect(problem.message.contains(says), "\(problem)")
        #expect(problem.line != nil || problem.message.contains("missing"), "\(problem) has no line")
        #expect(error.description.contains(field))
    }

    @Test("a YAML syntax error names its line")
    func syntaxError() throws {
        let error = try #require(refusal(edited("ttl:", "  ttl: [1")))
        #expect(error.problems.count == 1)
        #expect(error.problems[0].line != nil)
        #expect(error.problems[0].message.contains("not valid YAML"))
    }

    @Test("a key given twice is refused")
    func duplicateKey() throws {
        let error = try #require(refusal(edited("ttl:", "  ttl: 1\n  ttl: 2")))
        #expect(error.problems.contains { $0.message.contains("twice") })
    }

    @Test("every problem is reported at once, not just the first")
    func allProblems() throws {
        let text = example.replacingFirst("ttl: 1", "ttl: 0").replacingFirst("lifetime: 1000000", "lifetime: x")
        let error = try #require(refusal(text))
        #expect(Set(error.problems.map(\.field)) == ["network.ttl", "protocol.lifetime"])
    }

    @Test("the fingerprint follows every group-wide value and nothing else")
    func fingerprint() {
        let base = exampleLayout()
        #expect(base.fingerprint == exampleLayout().fingerprint)
        var variants: [GroupLayout] = []
        func vary(_ change: (inout GroupLayout) -> Void) {
            var l = base
            change(&l)
            variants.append(l)
        }
        vary { $0.name = "other" }
        vary { $0.groupId += 1 }
        vary { $0.instance += 1 }
        vary { $0.dataGroup.port += 1 }
        vary { $0.commitGroup.host = "239.255.83.9" }
        vary { $0.ttl = 2 }
        vary { $0.interfaceName = "eth0" }
        vary { $0.interfaceAddress = "127.0.0.1" }
        vary { $0.basePort += 1 }
        vary { $0.reportQuorum = 3 }
        vary { $0.commitQuorum = 3 }
        vary { $0.lifetime += 1 }
        vary { $0.checkpointInterval += 1 }
        vary { $0.senderWindow += 1 }
        vary { $0.bodySlots += 1 }
        vary { $0.datagramBytes -= 1 }
        vary { $0.setHost("127.0.0.2", of: NodeId(21)) }
        vary { $0.add(.checkpointServer, NodeId(32)) }
        vary { $0.security = GroupLayout.Security(groupKeyFile: "g", serverKeyFile: "s") }
        for (name, _) in base.timing.named {
            vary { l in _ = l.timing.set(name, Nanoseconds(123_456)) }
        }
        let prints = variants.map(\.fingerprint)
        #expect(!prints.contains(base.fingerprint))
        #expect(Set(prints).count == prints.count, "two different layouts share a fingerprint")
    }
}

extension String {
    fileprivate func replacingFirst(_ a: String, _ b: String) -> String {
        guard let r = range(of: a) else { return self }
        return replacingCharacters(in: r, with: b)
    }
}
