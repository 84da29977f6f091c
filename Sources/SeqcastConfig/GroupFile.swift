import Foundation
import SeqcastCore
import SeqcastNode
import SeqcastWire
import Yams

/// The group configuration file (YAML, parsed by Yams): one file describes a group, every
/// process of the group reads the same one, and its in-memory form is `GroupLayout`. The
/// format, field by field, is what `GroupFile.render` writes (`seqcast config example`);
/// README's quick start shows a three-host one.
public enum GroupFile {
    /// The file's top-level sections.
    static let sections = ["group", "network", "servers", "members", "protocol", "timers", "security", "feed"]

    /// Reads and checks a file; every problem found is in the error, with its field and line.
    public static func load(path: String) throws(GroupFileError) -> GroupLayout {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw GroupFileError(source: path, problems: [.init(line: nil, field: "", message: "cannot read: \(error.localizedDescription)")])
        }
        var layout = try parse(text, source: path)
        // Key files named relative to the group file are found beside it, wherever it is run from.
        if var s = layout.security {
            let folder = (path as NSString).deletingLastPathComponent
            func resolved(_ p: String) -> String { p.hasPrefix("/") || folder.isEmpty ? p : folder + "/" + p }
            s.groupKeyFile = resolved(s.groupKeyFile)
            s.serverKeyFile = resolved(s.serverKeyFile)
            layout.security = s
        }
        return layout
    }

    /// Parses and checks a file's text. Nothing is half-applied: either a layout every role can
    /// run with (`problems()` empty), or an error listing all that is wrong.
    public static func parse(_ text: String, source: String = "group file") throws(GroupFileError) -> GroupLayout {
        let root: Yams.Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw GroupFileError(source: source, problems: [.init(line: nil, field: "", message: "the file is empty")])
            }
            root = node
        } catch let e as GroupFileError {
            throw e
        } catch {
            throw GroupFileError(source: source, problems: [syntaxProblem(error)])
        }
        let r = FieldReader()
        var layout = GroupLayout()
        if let top = r.section(root, path: "", allowed: sections) {
            readGroup(r, top, &layout)
            readNetwork(r, top, &layout)
            readServers(r, top, &layout)
            readMembers(r, top, &layout)
            readProtocol(r, top, &layout)
            readTimers(r, top, &layout)
            readSecurity(r, top, &layout)
            readFeed(r, top, &layout)
        }
        if r.problems.isEmpty {
            for p in layout.problems() { r.fail(laterAt: p.field, p.message) }
            familyProblems(r, layout)
        }
        guard r.problems.isEmpty else { throw GroupFileError(source: source, problems: r.problems) }
        return layout
    }

    static func syntaxProblem(_ error: any Error) -> GroupFileError.Problem {
        if let y = error as? YamlError {
            switch y {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
                 .composer(_, let problem, let mark, _):
                return .init(line: mark.line, field: "", message: "not valid YAML: \(problem) (column \(mark.column))")
            case .duplicatedKeysInMapping(let duplicates, _):
                return .init(line: nil, field: "", message: "a key appears twice in one mapping: \(duplicates.joined(separator: ", "))")
            default: break
            }
        }
        return .init(line: nil, field: "", message: "not valid YAML: \(error)")
    }

    static func readGroup(_ r: FieldReader, _ top: FieldReader.Section, _ l: inout GroupLayout) {
        guard let g = r.section(top, "group", allowed: ["name", "id", "instance"], required: true) else { return }
        if let name = r.string(g, "name", required: true, what: "a name") {
            if name.isEmpty || name.count > 64 || name.contains(where: { $0.isNewline }) {
                r.fail(r.field(g, "name"), "\"\(name)\" refused; expected 1 … 64 characters on one line")
            } else {
                l.name = name
            }
        }
        if let id: UInt32 = r.integer(g, "id", 1...UInt32.max, required: true) { l.groupId = id }
        if let instance: UInt64 = r.integer(g, "instance", 1...UInt64.max, required: true) { l.instance = instance }
    }

    static func readNetwork(_ r: FieldReader, _ top: FieldReader.Section, _ l: inout GroupLayout) {
        let keys = ["data-group", "commit-group", "interface-name", "interface", "ttl"]
        guard let n = r.section(top, "network", allowed: keys, required: true) else { return }
        if let e = r.endpoint(n, "data-group", required: true, multicast: true) {
            l.dataGroup = Endpoint(host: e.host, port: e.port)
        }
        if let e = r.endpoint(n, "commit-group", required: true, multicast: true) {
            l.commitGroup = Endpoint(host: e.host, port: e.port)
        }
        l.interfaceName = r.string(n, "interface-name", what: "an interface name (lo, eth0)")
        l.interfaceAddress = r.ipAddress(n, "interface")
        if let ttl: Int = r.integer(n, "ttl", 1...255) { l.ttl = ttl }
    }

    /// The server lists, in the file's order; node ids must be distinct across all of them.
    static func readServers(_ r: FieldReader, _ top: FieldReader.Section, _ l: inout GroupLayout) {
        let lists: [(String, NodeRole, Bool)] = [
            ("sequencers", .sequencer, true), ("data-servers", .dataServer, true),
            ("commit-servers", .commitServer, true), ("checkpoint-servers", .checkpointServer, false),
        ]
        guard let s = r.section(top, "servers", allowed: lists.map(\.0), required: true) else { return }
        for (key, role, required) in lists {
            guard let items = r.sequence(s, key, required: required) else { continue }
            if required, items.isEmpty { r.fail(r.field(s, key), "empty; at least one is needed") }
            readNodes(r, items, path: r.field(s, key), role: role, &l)
        }
    }

    static func readNodes(_ r: FieldReader, _ items: [Yams.Node], path: String, role: NodeRole, _ l: inout GroupLayout) {
        for (i, item) in items.enumerated() {
            guard let entry = r.section(item, path: "\(path)[\(i)]", allowed: ["node", "address"]) else { continue }
            let id: UInt32? = r.integer(entry, "node", 1...UInt32.max, required: true)
            let e = r.endpoint(entry, "address", required: true)
            guard let id, let e else { continue }
            if let other = l.node(NodeId(id)) {
                r.fail(r.field(entry, "node"), "node id \(id) is already listed as a \(other.role.rawValue); ids are unique in a group")
                continue
            }
            l.add(role, NodeId(id), endpoint: Endpoint(host: e.host, port: e.port))
        }
    }

    static func readMembers(_ r: FieldReader, _ top: FieldReader.Section, _ l: inout GroupLayout) {
        guard let m = r.section(top, "members", allowed: ["host", "base-port", "listed"]) else {
            l.host = l.nodes.first?.endpoint.host ?? l.host
            return
        }
        l.host = r.ipAddress(m, "host") ?? l.nodes.first?.endpoint.host ?? l.host
        if let p: UInt16 = r.integer(m, "base-port", 1...UInt16.max) { l.basePort = p }
        if let items = r.sequence(m, "listed", required: false) {
            readNodes(r, items, path: r.field(m, "listed"), role: .member, &l)
        }
    }

    static func readProtocol(_ r: FieldReader, _ top: FieldReader.Section, _ l: inout GroupLayout) {
        let keys = ["report-quorum", "commit-quorum", "lifetime", "checkpoint-interval", "sender-window",
                    "body-slots", "datagram-bytes", "durability", "data-store"]
        guard let p = r.section(top, "protocol", allowed: keys) else { return }
        if let k: Int = r.integer(p, "report-quorum", 1...GroupConfig.dataServersMax) { l.reportQuorum = k }
        if let q = r.string(p, "commit-quorum"), q != "majority" {
            l.commitQuorum = r.integer(p, "commit-quorum", 1...GroupConfig.commitServersMax)
        }
        if let v: UInt64 = r.integer(p, "lifetime", 16...UInt64(1) << 48) { l.lifetime = v }
        if let v: UInt64 = r.integer(p, "checkpoint-interval", 1...UInt64(1) << 32) { l.checkpointInterval = v }
        if let v: Int = r.integer(p, "sender-window", 1...1 << 20) { l.senderWindow = v }
        if let v: Int = r.integer(p, "body-slots", 64...1 << 24) { l.bodySlots = v }
        if let v: Int = r.integer(p, "datagram-bytes", 512...65_507) { l.datagramBytes = v }
        if let mode = choice(r, p, "durability", DurabilityMode.self) { l.durability = mode }
        if let mode = choice(r, p, "data-store", DataStoreMode.self) { l.dataStore = mode }
    }

    /// An optional field naming one case of `E`; anything else is refused with the cases allowed.
    static func choice<E: RawRepresentable & CaseIterable>(_ r: FieldReader, _ s: FieldReader.Section, _ key: String,
                                                           _: E.Type) -> E? where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
        guard let (t, n) = r.text(s, key, required: false, what: "one of \(allowed)") else { return nil }
        guard let value = E(rawValue: t) else {
            r.fail(r.field(s, key), "\"\(t)\" refused; allowed: \(allowed)", at: n)
            return nil
        }
        return value
    }

    static func readTimers(_ r: FieldReader, _ top: FieldReader.Section, _ l: inout GroupLayout) {
        let names = GroupConfig.Timing().named.map(\.0)
        guard let t = r.section(top, "timers", allowed: names) else { return }
        for name in names {
            if let ns = r.duration(t, name) { _ = l.timing.set(name, Nanoseconds(ns)) }
        }
    }

    static func readSecurity(_ r: FieldReader, _ top: FieldReader.Section, _ l: inout GroupLayout) {
        let keys = ["group-key-file", "server-key-file", "key-rotation-window", "peers-max"]
        guard let s = r.section(top, "security", allowed: keys) else { return }
        let group = r.string(s, "group-key-file", required: true)
        let server = r.string(s, "server-key-file", required: true)
        guard let group, let server else { return }
        var security = GroupLayout.Security(groupKeyFile: group, serverKeyFile: server)
        if let ns = r.duration(s, "key-rotation-window") { security.keyRotationWindow = Nanoseconds(ns) }
        if let n: Int = r.integer(s, "peers-max", 16...1 << 20) { security.peersMax = n }
        l.security = security
    }

    static func readFeed(_ r: FieldReader, _ top: FieldReader.Section, _ l: inout GroupLayout) {
        let keys = ["session", "downstream", "request-port", "packet-bytes", "heartbeat", "retention", "requester-rate"]
        guard let f = r.section(top, "feed", allowed: keys) else { return }
        let session = r.string(f, "session", required: true, what: "a session name (1 … 10 ASCII characters)")
        let downstream = r.endpoint(f, "downstream", required: true, multicast: true)
        let port: UInt16? = r.integer(f, "request-port", 1...UInt16.max, required: true)
        guard let session, let downstream, let port else { return }
        if session.isEmpty || session.utf8.count > 10 || !session.utf8.allSatisfy({ $0 >= 0x21 && $0 < 0x7F }) {
            r.fail(r.field(f, "session"), "\"\(session)\" refused; expected 1 … 10 printable ASCII characters without spaces")
            return
        }
        var feed = GroupLayout.Feed(session: session, downstream: Endpoint(host: downstream.host, port: downstream.port),
                                    requestPort: port)
        if let v: Int = r.integer(f, "packet-bytes", 64...65_507) { feed.packetBytes = v }
        if let ns = r.duration(f, "heartbeat") {
            guard ns >= 1_000_000 else {
                r.fail(r.field(f, "heartbeat"), "below 1ms refused")
                return
            }
            feed.heartbeat = Nanoseconds(ns)
        }
        if let v: Int = r.integer(f, "retention", 1...1 << 28) { feed.retentionMessages = v }
        if let v: Int = r.integer(f, "requester-rate", 1...1 << 30) { feed.requesterMessagesPerSecond = v }
        l.feed = feed
    }

    /// IPv4 and IPv6 do not mix within a group: one socket family per process.
    static func familyProblems(_ r: FieldReader, _ l: GroupLayout) {
        let family = ConfigValue.family(l.dataGroup.host)
        if ConfigValue.family(l.commitGroup.host) != family {
            r.fail(laterAt: "network.commit-group", "\(l.commitGroup.host) and network.data-group are of different IP versions")
        }
        for n in l.nodes where ConfigValue.family(n.endpoint.host) != family {
            r.fail(laterAt: GroupLayout.field(of: n.role),
                   "node \(n.id.rawValue)'s address \(n.endpoint.host) is not of the multicast groups' IP version")
        }
        if let i = l.interfaceAddress, ConfigValue.family(i) != family {
            r.fail(laterAt: "network.interface", "\(i) is not of the multicast groups' IP version")
        }
        if family == 6, l.interfaceName == nil {
            r.fail(laterAt: "network.interface-name", "missing; IPv6 multicast needs an interface name (lo, eth0)")
        }
    }
}
