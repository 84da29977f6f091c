import Testing
@testable import SeqcastCore
import SeqcastWire

/// A data server forgets the holdings of an incarnation whose process is provably gone and
/// whose bodies could only be numbered behind the checkpoint (`DataServer.forgetRetired`), and
/// drops late copies of them instead of holding a table entry again.
@Suite struct RetiredIncarnationsTests {
    static let lifetime: UInt64 = 16
    /// Collection at once when a checkpoint is heard (no `collectionGrace`): what is tested here
    /// is what collection then allows, not when it comes.
    static let config = TestGroup.makeConfig {
        $0.lifetime = lifetime
        $0.timing.collectionGrace = Nanoseconds(0)
    }
    static let sequencer = NodeId(1)
    let x = SenderId(node: NodeId(41), incarnation: 1)
    let y = SenderId(node: NodeId(41), incarnation: 2)
    let idle = SenderId(node: NodeId(42), incarnation: 1)

    /// Delivers one datagram 10 ms after the last, then ticks, so batched reports leave (what
    /// was reported is no longer pending).
    func feed(_ bytes: [UInt8], to server: inout DataServer) {
        let now = Instant(nanoseconds: (server.output.counters.datagramsReceived + 1) * 10_000_000)
        bytes.withUnsafeBytes { server.receive($0, from: PeerAddress(41), now: now) }
        server.tick(now: now)
        server.output.outbox.removeAll()
    }

    func data(_ s: SenderId, _ counter: UInt64, ts: UInt64 = 0) -> [UInt8] {
        TestGroup.encode(Header(kind: .data, groupId: Self.config.groupId, fingerprint: Self.config.fingerprint,
                                epoch: Epoch(1), source: s.node)) { w throws(EncodeError) in
            _ = try DataMessage.encodeFixed(sender: s, firstCounter: counter, logicalTs: SequenceNumber(ts), count: 1, into: &w)
            try TestGroup.appendFilledBody(7, 20, into: &w)
        }
    }

    func commit(_ s: SenderId, counter: UInt64, count: UInt32, at seq: UInt64) -> [UInt8] {
        TestGroup.encode(Header(kind: .commit, groupId: Self.config.groupId, fingerprint: Self.config.fingerprint,
                                epoch: Epoch(1), source: Self.sequencer)) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: SequenceNumber(seq + UInt64(count) - 1),
                                runs: [SequenceRun(firstSeq: SequenceNumber(seq), count: count,
                                                   content: .messages(sender: s, firstCounter: counter))], into: &w)
        }
    }

    func heartbeat(checkpoint: UInt64) -> [UInt8] {
        TestGroup.encode(Header(kind: .heartbeat, groupId: Self.config.groupId, fingerprint: Self.config.fingerprint,
                                epoch: Epoch(1), source: Self.sequencer)) { w throws(EncodeError) in
            try Heartbeat(committedThrough: SequenceNumber(checkpoint), checkpointSeq: SequenceNumber(checkpoint),
                          checkpointBytes: 0).encode(into: &w)
        }
    }

    @Test("an incarnation is forgotten once a later one of its node published more than L after it and L behind the checkpoint; late copies are dropped")
    func laterIncarnationRetiresAnEarlierOne() {
        var server = DataServer(config: Self.config, node: NodeId(11), incarnation: 1, seed: 1, now: .zero)
        for c in 1...3 as ClosedRange<UInt64> { feed(data(x, c), to: &server) }
        feed(data(idle, 1), to: &server)
        feed(commit(x, counter: 1, count: 3, at: 1), to: &server)
        feed(commit(idle, counter: 1, count: 1, at: 4), to: &server)
        feed(heartbeat(checkpoint: 4), to: &server)
        #expect(server.storedCount == 0, "collected behind the checkpoint")
        #expect(server.senders[x] != nil, "no later incarnation of node 41 yet")

        // y, node 41's next incarnation, bound more than L after x's last binding (3).
        feed(data(y, 1, ts: 4), to: &server)
        feed(commit(y, counter: 1, count: 1, at: 30), to: &server)
        feed(heartbeat(checkpoint: 30), to: &server)
        #expect(server.senders[x] != nil, "y's first binding is not yet L behind the checkpoint")
        #expect(server.output.counters.incarnationsRetired == 0)

        feed(heartbeat(checkpoint: 30 + Self.lifetime), to: &server)
        #expect(server.senders[x] == nil && !server.senderOrder.contains(x))
        #expect(server.output.counters.incarnationsRetired == 1)
        // Node 42's only incarnation stays, idle however long, and so does y.
        #expect(server.senders[idle] != nil && server.senders[y] != nil)

        // A member lagging behind the checkpoint asks for one of x's bodies: "collected", as
        // before x was forgotten, so it resynchronises from the checkpoint (with "not held" it
        // would ask for ever: regression seed 1245443).
        let fetch = TestGroup.encode(Header(kind: .messageFetch, groupId: Self.config.groupId,
                                            fingerprint: Self.config.fingerprint, epoch: Epoch(1), source: NodeId(45))) {
            w throws(EncodeError) in try MessageFetch(sender: x, firstCounter: 2, count: 1).encode(into: &w)
        }
        fetch.withUnsafeBytes { server.receive($0, from: PeerAddress(45), now: Instant(nanoseconds: 10_000_000_000)) }
        let misses = (0..<server.output.outbox.entries.count).compactMap { i -> FetchMiss? in
            server.output.outbox.withBytes(of: i) { b in
                guard case .fetchMiss(let m)? = try? Datagram.decode(b).message else { return nil }
                return m
            }
        }
        server.output.outbox.removeAll()
        #expect(misses.map(\.reason) == [.collected] && misses.first?.checkpointSeq == SequenceNumber(30 + Self.lifetime))

        // A late copy of one of x's bodies: its timestamp is more than L behind the checkpoint.
        feed(data(x, 2), to: &server)
        #expect(server.output.counters.droppedExpired == 1)
        #expect(server.storedCount == 0 && server.senders[x] == nil, "no entry held again")
        // A body of a known sender is never dropped so, whatever its timestamp.
        feed(data(idle, 2), to: &server)
        #expect(server.storedCount == 1 && server.output.counters.droppedExpired == 1)
    }

    @Test("an incarnation that still holds a body, or whose successor is bound only L after it, is kept")
    func heldOrRecentIncarnationsAreKept() {
        var server = DataServer(config: Self.config, node: NodeId(11), incarnation: 1, seed: 1, now: .zero)
        feed(data(x, 1), to: &server)
        feed(data(x, 2), to: &server)  // never committed: an orphan the lifetime rule has not reached
        feed(commit(x, counter: 1, count: 1, at: 1), to: &server)
        feed(data(y, 1, ts: 1), to: &server)
        feed(commit(y, counter: 1, count: 1, at: 2 + Self.lifetime), to: &server)
        // Node 43: its second incarnation's message is bound exactly L after the first's last
        // binding, which an older incarnation's late duplicate could be.
        let z1 = SenderId(node: NodeId(43), incarnation: 1), z2 = SenderId(node: NodeId(43), incarnation: 2)
        feed(data(z1, 1), to: &server)
        feed(commit(z1, counter: 1, count: 1, at: 3), to: &server)
        feed(data(z2, 1, ts: 3), to: &server)
        feed(commit(z2, counter: 1, count: 1, at: 3 + Self.lifetime), to: &server)
        feed(heartbeat(checkpoint: 3 + 2 * Self.lifetime), to: &server)
        #expect(server.senders[x] != nil, "x holds counter 2")
        #expect(server.senders[z1] != nil, "z2 is not provably the later incarnation")
        #expect(server.output.counters.incarnationsRetired == 0)
    }
}
