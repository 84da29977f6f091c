import Testing
import SeqcastCore
import SeqcastNode
import SeqcastWire

/// One log of what the node handed to its store, transport and sink, in call order (shared by
/// the three, so the test sees the drain's order across seams).
final class CallLog {
    var calls: [String] = []
}

/// A transport that records what the node sent.
struct RecordingTransport: DatagramTransport {
    var localAddress = PeerAddress(7)
    var sent: [(destination: Destination, kind: MessageKind, bytes: [UInt8])] = []
    var log = CallLog()
    mutating func send(_ bytes: UnsafeRawBufferPointer, kind: MessageKind, to destination: Destination) {
        sent.append((destination, kind, Array(bytes)))
        log.calls.append("send")
    }
}

/// A store that completes nothing until the test says so, and records the order of calls.
struct ManualStore: LogStore {
    var appended: [(ticket: WriteTicket, key: UInt64)] = []
    var truncated: [UInt64] = []
    var durable: WriteTicket?
    var log = CallLog()
    mutating func append(_ record: UnsafeRawBufferPointer, ticket: WriteTicket, key: UInt64) {
        appended.append((ticket, key))
        log.calls.append("write")
    }
    mutating func truncate(through key: UInt64) { truncated.append(key) }
    mutating func takeDurable() -> WriteTicket? {
        defer { durable = nil }
        return durable
    }
    var durability: String { "manual" }
}

/// A role whose every input does what the test scripted: writes, sends, events, in any order.
struct ScriptedRole: ProtocolRole {
    var output: RoleOutput
    var nextDeadline: Instant? = nil
    var persistedTickets: [WriteTicket] = []
    var received = 0
    /// What `receive` produces.
    var writes = 0
    var datagrams: [(Destination, MessageKind)] = []
    var events: [RoleEvent] = []
    /// What `persisted` produces (a datagram revealing the write).
    var afterPersist: (Destination, MessageKind)?

    init(config: GroupConfig) { output = RoleOutput(config: config) }

    mutating func produce() {
        // Sends first and writes last, to show the node reorders them.
        for (d, k) in datagrams { send(d, k) }
        for e in events { output.events.append(e) }
        for i in 0..<writes {
            output.storage.begin(key: UInt64(i + 1))
            output.storage.put(UInt64(i))
            _ = output.storage.close()
        }
    }

    mutating func send(_ d: Destination, _ k: MessageKind) {
        output.outbox.send(to: d, header: Header(kind: k, groupId: 1, epoch: Epoch(1), source: NodeId(1))) { w throws(EncodeError) in
            try w.writeU64(0)
        }
    }

    mutating func receive(_ bytes: UnsafeRawBufferPointer, from: PeerAddress, now: Instant) {
        received += 1
        produce()
    }
    mutating func tick(now: Instant) {}
    mutating func persisted(_ ticket: WriteTicket, now: Instant) {
        persistedTickets.append(ticket)
        if let (d, k) = afterPersist { send(d, k) }
    }
}

/// Events in order.
struct OrderSink: EventSink {
    var seen: [RoleEvent] = []
    var log = CallLog()
    mutating func observe(_ event: RoleEvent, now: Instant) {
        seen.append(event)
        log.calls.append("event")
    }
}


@Suite("Node")
struct NodeTests {
    typealias TestNode = Node<ScriptedRole, RecordingTransport, ManualStore, OrderSink>

    func makeNode(_ configure: (inout ScriptedRole) -> Void, rate: Int = RepairLimiter.perSecondDefault) throws -> TestNode {
        let c = try GroupLayout.standard().config()
        var role = ScriptedRole(config: c)
        configure(&role)
        let log = CallLog()
        return TestNode(id: NodeId(11), role: role, transport: RecordingTransport(log: log),
                        store: ManualStore(log: log), sink: OrderSink(log: log), repairDatagramsPerSecond: rate,
                        now: .zero)
    }

    @Test("node drains writes to the store, datagrams to the transport and events to the sink, and empties the role")
    func drainsEverything() throws {
        var n = try makeNode { r in
            r.writes = 2
            r.datagrams = [(.dataGroup, .data), (.node(NodeId(1)), .dataReport)]
            r.events = [.sequenced(id: MessageId(sender: SenderId(node: NodeId(41), incarnation: 1), counter: 1),
                                   seq: SequenceNumber(1))]
        }
        [UInt8](repeating: 0, count: 8).withUnsafeBytes { n.receive($0, from: PeerAddress(99), now: .zero) }
        #expect(n.store.appended.map(\.ticket) == [WriteTicket(1), WriteTicket(2)])
        #expect(n.transport.sent.map(\.destination) == [.dataGroup, .node(NodeId(1))])
        #expect(n.sink.seen.count == 1)
        #expect(n.role.output.outbox.isEmpty && n.role.output.storage.isEmpty && n.role.output.events.isEmpty)
        #expect(n.role.persistedTickets.isEmpty, "nothing is durable until the store says so")
        // The role queued sends before writes; the node persists first, then sends, then delivers.
        #expect(n.transport.log.calls == ["write", "write", "send", "send", "event"])
    }

    @Test("a write's ticket reaches the role once the store reports it, and what that reveals is sent in the same drain")
    func durableThenReveal() throws {
        var n = try makeNode { r in
            r.writes = 1
            r.afterPersist = (.node(NodeId(21)), .commitSubmit)
        }
        [UInt8](repeating: 0, count: 8).withUnsafeBytes { n.receive($0, from: PeerAddress(99), now: .zero) }
        #expect(n.transport.sent.isEmpty)
        n.store.durable = WriteTicket(1)
        n.storeAdvanced(now: .zero)
        #expect(n.role.persistedTickets == [WriteTicket(1)])
        #expect(n.transport.sent.map(\.kind) == [.commitSubmit])
        #expect(n.reportedDurable == WriteTicket(1))
    }

    @Test("with a store that completes at once the role hears of its write within the same input")
    func immediateStore() throws {
        let c = try GroupLayout.standard().config()
        var role = ScriptedRole(config: c)
        role.writes = 3
        role.afterPersist = (.commitGroup, .commit)
        var n = Node(id: NodeId(1), role: role, transport: RecordingTransport(), store: ImmediateLogStore(),
                     sink: OrderSink(), now: .zero)
        [UInt8](repeating: 0, count: 8).withUnsafeBytes { n.receive($0, from: PeerAddress(99), now: .zero) }
        #expect(n.role.persistedTickets == [WriteTicket(3)], "one report covers every write of the drain")
        #expect(n.transport.sent.map(\.kind) == [.commit])
    }

    @Test("a node drops its own looped-back multicast before the role sees it")
    func ownLoopback() throws {
        var n = try makeNode { _ in }
        [UInt8](repeating: 0, count: 8).withUnsafeBytes { n.receive($0, from: PeerAddress(7), now: .zero) }
        #expect(n.role.received == 0)
        #expect(n.counters.ownLoopback == 1)
        [UInt8](repeating: 0, count: 8).withUnsafeBytes { n.receive($0, from: PeerAddress(8), now: .zero) }
        #expect(n.role.received == 1)
    }

    @Test("repair replies to one requester are throttled past the limiter's burst; other sends are not")
    func repairThrottle() throws {
        var n = try makeNode({ r in
            r.datagrams = Array(repeating: (.address(PeerAddress(5)), .messageReply), count: 100)
                + [(.address(PeerAddress(5)), .commitAck)]
        }, rate: 1_000)
        [UInt8](repeating: 0, count: 8).withUnsafeBytes { n.receive($0, from: PeerAddress(99), now: .zero) }
        // Burst is max(64, rate/100) = 64 replies; the ack is not a repair reply.
        #expect(n.transport.sent.filter { $0.kind == .messageReply }.count == 64)
        #expect(n.transport.sent.filter { $0.kind == .commitAck }.count == 1)
        #expect(n.counters.repairThrottled == 36)
    }
}

@Suite("GroupLayout")
struct GroupLayoutTests {
    @Test("the standard layout numbers nodes 1, 11…, 21…, 31…, 41… and gives each a port")
    func standardNumbering() throws {
        let l = GroupLayout.standard(dataServers: 2, commitServers: 3, checkpointServers: 1, members: 2)
        #expect(l.nodes.map(\.id.rawValue) == [1, 11, 12, 21, 22, 23, 31, 41, 42])
        #expect(l.endpoint(of: NodeId(12)) == Endpoint(host: "127.0.0.1", port: 18_412))
        #expect(l.endpoint(of: NodeId(77)).port == 18_477, "an unlisted member still has an address")
        let c = try l.config()
        #expect(c.dataServers == [NodeId(11), NodeId(12)] && c.commitQuorum == 2)
    }

    @Test("each role joins the groups protocol.md §10 gives it")
    func groupMembership() {
        let l = GroupLayout.standard(dataServers: 1, commitServers: 1, checkpointServers: 1, members: 1)
        #expect(l.receivers(of: .data) == [NodeId(11), NodeId(31), NodeId(41)])
        // Sequencer candidates hear the commit group (a standby follows the active one), never data.
        #expect(l.receivers(of: .commit) == [NodeId(1), NodeId(11), NodeId(21), NodeId(31), NodeId(41)])
        #expect(NodeRole.sequencer.joinedGroups == [.commit])
    }

    @Test("a layout without a sequencer is refused with that reason")
    func refusesBadLayouts() {
        var l = GroupLayout()
        l.reportQuorum = 1
        l.add(.dataServer, NodeId(11))
        l.add(.commitServer, NodeId(21))
        #expect(throws: ConfigError.sequencerCount(0)) { try l.config() }
        l.add(.sequencer, NodeId(1))
        #expect((try? l.config()) != nil)
    }
}
