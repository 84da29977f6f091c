import SeqcastCore
import SeqcastWire
import Testing

/// A commit server driven by hand: datagrams in, every record made durable at once, what it
/// sends read back decoded.
struct AcceptorRig {
    static let config = GroupIdentityTests.config
    static let sequencer = NodeId(1)
    var server: CommitServer
    var records: [[UInt8]] = []

    init(recovering: [[UInt8]] = []) {
        server = CommitServer(config: Self.config, node: NodeId(21), recovering: recovering, now: Instant(nanoseconds: 0))
        records = recovering
    }

    static func run(_ first: UInt64, _ count: UInt32, node: UInt32, counter: UInt64) -> SequenceRun {
        CommitConflictTests.run(first, count, node: node, counter: counter)
    }

    static func header(_ kind: MessageKind, _ epoch: Epoch) -> Header {
        Header(kind: kind, groupId: config.groupId, fingerprint: config.fingerprint, epoch: epoch, source: sequencer)
    }

    /// Receives one datagram; with `persist`, every queued record becomes durable (in order).
    mutating func receive(_ bytes: [UInt8], persist: Bool = true) {
        bytes.withUnsafeBytes { server.receive($0, from: PeerAddress(1), now: Instant(nanoseconds: 1)) }
        if persist { persistAll() }
    }

    mutating func persistAll() {
        let writes = server.output.storage.writes
        for i in writes.indices { records.append(server.output.storage.withBytes(of: i) { Array($0) }) }
        server.output.storage.removeAll()
        for w in writes { server.persisted(w.ticket, now: Instant(nanoseconds: 2)) }
    }

    mutating func submit(_ runs: [SequenceRun], epoch: Epoch, committed: UInt64 = 0, persist: Bool = true) {
        receive(TestGroup.encode(Self.header(.commitSubmit, epoch)) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: SequenceNumber(committed), runs: runs, into: &w)
        }, persist: persist)
    }

    mutating func seal(_ epoch: Epoch, from: UInt64 = 1, nonce: UInt64 = 7, persist: Bool = true) {
        receive(TestGroup.encode(Self.header(.seal, epoch)) { w throws(EncodeError) in
            try Seal(fromSeq: SequenceNumber(from), nonce: nonce).encode(into: &w)
        }, persist: persist)
    }

    mutating func heartbeat(_ committed: UInt64, epoch: Epoch) {
        receive(TestGroup.encode(Self.header(.heartbeat, epoch)) { w throws(EncodeError) in
            try Heartbeat(committedThrough: SequenceNumber(committed), checkpointSeq: .zero, checkpointBytes: 0)
                .encode(into: &w)
        })
    }

    /// What the server sent since the last call: (kind, header epoch, decoded message).
    mutating func sent() -> [Decoded] {
        let outbox = server.output.outbox
        let out = (0..<outbox.entries.count).map { i in outbox.withBytes(of: i) { Decoded(Array($0)) } }
        server.output.outbox.removeAll()
        return out
    }

    /// The seal answers sent since the last call: each page's epoch and runs.
    mutating func sealPages() -> [(epoch: Epoch, runs: [SequenceRun])] {
        sent().compactMap { d in if case .sealReply(_, _, _, let e, _, let b) = d { (e, b.runs) } else { nil } }
    }

    mutating func sentEpochs() -> [Epoch] {
        let outbox = server.output.outbox
        let out = (0..<outbox.entries.count).compactMap { i in outbox.withBytes(of: i) { try? Datagram.decode($0).header.epoch } }
        return out
    }

    mutating func query(_ first: UInt64, _ count: UInt32) -> [SequenceRun] {
        receive(TestGroup.encode(Header(kind: .idQuery, groupId: Self.config.groupId, fingerprint: Self.config.fingerprint,
                                        epoch: Epoch(1), source: NodeId(41))) { w throws(EncodeError) in
            try IdQuery(firstSeq: SequenceNumber(first), count: count).encode(into: &w)
        })
        return sent().compactMap { if case .idReply(_, let b) = $0 { b.runs } else { nil } }.flatMap { $0 }
    }
}

@Suite("Fail-over: commit servers as acceptors, and every sequencer start's recovery")
struct RecoveryTests {
    static let e1 = Epoch(round: 1, candidate: 0)
    static let e2 = Epoch(round: 2, candidate: 0)
    static let e3 = Epoch(round: 3, candidate: 0)

    @Test("a seal is answered only once its promise is durable, with what the server holds and the epoch that wrote it")
    func sealAfterDurablePromise() throws {
        var a = AcceptorRig()
        let held = AcceptorRig.run(1, 5, node: 41, counter: 1)
        a.submit([held], epoch: Self.e1)
        _ = a.sent()
        a.seal(Self.e2, persist: false)
        #expect(a.sent().isEmpty, "no answer before the promise is durable")
        #expect(a.server.epoch == Self.e2)
        a.persistAll()
        let replies = a.sent()
        try #require(replies.count == 1)
        guard case .sealReply(let low, let stored, let page, let runsEpoch, _, let batch) = replies[0] else {
            Issue.record("not a seal reply: \(replies[0])")
            return
        }
        #expect(low == .zero && stored == SequenceNumber(5) && page == SequenceNumber(5))
        #expect(runsEpoch == Self.e1)
        #expect(batch.runs == [held])
    }

    @Test("after a promise, submits of a lower epoch are refused, also after a restart from the log")
    func promiseFencesLowerEpochs() {
        var a = AcceptorRig()
        a.submit([AcceptorRig.run(1, 5, node: 41, counter: 1)], epoch: Self.e1)
        a.seal(Self.e2)
        _ = a.sent()
        a.submit([AcceptorRig.run(6, 3, node: 41, counter: 6)], epoch: Self.e1)
        #expect(a.server.appendedThrough == SequenceNumber(5), "the deposed epoch stores nothing")
        #expect(a.server.output.counters.droppedStaleEpoch == 1)
        // Its only answer is an ack of the promised epoch: the deposed sequencer learns of it.
        #expect(a.sentEpochs() == [Self.e2])
        _ = a.sent()

        var restarted = AcceptorRig(recovering: a.records)
        #expect(restarted.server.epoch == Self.e2, "the promise survives a restart")
        restarted.submit([AcceptorRig.run(6, 3, node: 41, counter: 6)], epoch: Self.e1)
        #expect(restarted.server.appendedThrough == SequenceNumber(5))
        _ = restarted.sent()

        // A seal of a lower epoch learns which epoch it must beat.
        restarted.seal(Self.e1)
        #expect(restarted.sentEpochs() == [Self.e2])
    }

    @Test("a seal of the promised epoch with another start's nonce is refused (a ballot reused after a lost log)")
    func reusedBallotRefused() throws {
        var a = AcceptorRig()
        a.seal(Self.e2, nonce: 7)
        _ = a.sent()
        a.seal(Self.e2, nonce: 9)
        let replies = a.sent()
        try #require(replies.count == 1)
        guard case .sealReply(_, _, _, _, let nonce, _) = replies[0] else { Issue.record("\(replies[0])"); return }
        #expect(nonce == 7, "the answer names the start the promise was made to")
        #expect(a.server.output.counters.droppedStaleEpoch == 1)
        // After a restart too: the nonce is in the promise's record.
        var restarted = AcceptorRig(recovering: a.records)
        restarted.seal(Self.e2, nonce: 9)
        guard case .sealReply(_, _, _, _, let again, _)? = restarted.sent().first else { Issue.record("no answer"); return }
        #expect(again == 7)
    }

    @Test("a lone sequencer that lost its log starts above the epoch its earlier life used, and nothing is bound twice")
    func lostLogStartsAbove() throws {
        var g = TestGroup(members: 2)
        _ = try g.publishMany(0, 3)
        try g.run(until: { $0.allDelivered(through: 3) })
        let before = g.sequencer.epoch
        g.crash(g.sequencerIndex)
        g.restartSequencer(losingLog: true)
        #expect(g.sequencer.isActive)
        #expect(g.sequencer.epoch.round > before.round, "its first seal (round 1 again) lost to its own earlier promise")
        let x = try g.publishAccepted(1, TestGroup.body(9))
        try g.run(until: { g in g.receiverIndices.allSatisfy { g.deliveries($0).last?.id == x } })
        for r in g.receiverIndices {
            #expect(Set(g.deliveries(r).map(\.id)).count == g.deliveries(r).count, "no message delivered twice")
            #expect(g.deliveries(r).count == 4)
        }
        #expect(g.commitServers.allSatisfy { $0.output.counters.droppedInconsistent == 0 })
    }

    @Test("a newer epoch rebinds what it proposes of an older one's numbers, and its acks cover only that")
    func newerEpochRebinds() {
        var a = AcceptorRig()
        a.submit([AcceptorRig.run(1, 10, node: 41, counter: 1)], epoch: Self.e1)
        a.heartbeat(4, epoch: Self.e1)  // 1…4 committed in e1
        _ = a.sent()
        a.seal(Self.e2)
        _ = a.sent()
        // e2's merge kept 5…6 and bound 7… to nothing (its majority did not hold them).
        let keep = AcceptorRig.run(5, 2, node: 41, counter: 5)
        let noop = SequenceRun(firstSeq: SequenceNumber(7), count: 2, content: .noop)
        a.submit([keep, noop], epoch: Self.e2, committed: 4)
        #expect(a.server.appendedThrough == SequenceNumber(10), "9…10 stay, e1's: e2 did not propose them")
        let acks = a.sent().compactMap { if case .commitAck(let x) = $0 { x.storedThrough.rawValue } else { nil } }
        #expect(acks == [8])
        #expect(a.server.output.counters.droppedInconsistent == 0, "a newer epoch's binding is no conflict")

        // An e2 run out of order rebinds its own numbers only; what e1 wrote around it stays, and
        // no e2 ack covers an e1 number above e2's floor.
        var b = AcceptorRig()
        b.submit([AcceptorRig.run(1, 10, node: 41, counter: 1)], epoch: Self.e1)
        b.seal(Self.e2)
        _ = b.sent()
        b.submit([SequenceRun(firstSeq: SequenceNumber(7), count: 2, content: .noop)], epoch: Self.e2, committed: 4)
        #expect(b.server.appendedThrough == SequenceNumber(10))
        #expect(b.server.diagnosis(SequenceNumber(9)).contains("n41.1"), "9 and 10 are still e1's")
        let early = b.sent().compactMap { if case .commitAck(let x) = $0 { x.storedThrough.rawValue } else { nil } }
        #expect(early.allSatisfy { $0 <= 4 }, "no e2 ack covers an e1 number above e2's floor: \(early)")
    }

    @Test("an interrupted re-proposal loses nothing: the older epoch's numbers it did not reach stay held and sealable")
    func interruptedReproposalKeepsTheRest() throws {
        var a = AcceptorRig()
        let held = AcceptorRig.run(1, 10, node: 41, counter: 1)
        a.submit([held], epoch: Self.e1)
        a.seal(Self.e2)
        _ = a.sent()
        // e2's merge re-proposes 1…10; only its first datagram (1…3) arrives before e2 dies.
        a.submit([AcceptorRig.run(1, 3, node: 41, counter: 1)], epoch: Self.e2)
        _ = a.sent()
        a.seal(Self.e3)
        let pages = a.sealPages()
        try #require(pages.count == 1)
        #expect(pages[0].epoch == Self.e2 && pages[0].runs == [AcceptorRig.run(1, 3, node: 41, counter: 1)])
        a.seal(Self.e3, from: 4)
        let rest = a.sealPages()
        #expect(rest.first?.epoch == Self.e1, "4…10 are still e1's")
        #expect(rest.first?.runs == [AcceptorRig.run(4, 7, node: 41, counter: 4)])
        // And after a restart from the log.
        var restarted = AcceptorRig(recovering: a.records)
        #expect(restarted.server.appendedThrough == SequenceNumber(10))
        #expect(restarted.server.diagnosis(SequenceNumber(8)).contains("n41.1:4"))
    }

    @Test("a late run of the current epoch below its floor rebinds only its own numbers")
    func lateRunBelowTheFloor() {
        var a = AcceptorRig()
        a.submit([AcceptorRig.run(1, 10, node: 41, counter: 1)], epoch: Self.e1)
        a.seal(Self.e3)
        _ = a.sent()
        // e3 proposes 8…10 anew (floor 7), then a delayed datagram of 5…6 arrives.
        let noop = SequenceRun(firstSeq: SequenceNumber(8), count: 3, content: .noop)
        a.submit([noop], epoch: Self.e3, committed: 7)
        a.submit([AcceptorRig.run(5, 2, node: 41, counter: 5)], epoch: Self.e3, committed: 4)
        #expect(a.server.diagnosis(SequenceNumber(9)).contains("noop"), "e3's 8…10 survive the late run")
        #expect(a.server.output.counters.droppedInconsistent == 0)
    }

    @Test("an id reply never names a binding the epoch that wrote it did not commit")
    func answersOnlyWhatItsEpochCommitted() {
        var a = AcceptorRig()
        a.submit([AcceptorRig.run(1, 10, node: 41, counter: 1)], epoch: Self.e1)
        a.heartbeat(4, epoch: Self.e1)
        #expect(a.query(1, 10).flatMap { r in (r.firstSeq.rawValue...r.lastSeq.rawValue).map { $0 } } == Array(1...4))
        // A newer epoch's frontier reaches this server, which never saw that epoch's proposals:
        // its e1 bindings above 4 may have been replaced, so they are not answered.
        a.heartbeat(10, epoch: Self.e2)
        #expect(a.query(5, 6).isEmpty)
        #expect(a.query(1, 4).map(\.count).reduce(0, +) == 4)
    }

    /// Publishes one message from `publisher`, numbered `seq`, that only commit server `server`
    /// stores (the submits to the others are lost): assigned, never committed.
    static func storedAtOne(_ g: inout TestGroup, server: Int, publisher: Int, seq: UInt64,
                            sourceLocation: SourceLocation = #_sourceLocation) throws -> MessageId {
        let only = g.config.commitServers[server]
        let elsewhere: (Packet) -> Bool = { $0.kind == .commitSubmit && $0.to != only }
        let x = try g.publishAccepted(publisher, TestGroup.body(Int(seq)))
        try g.run(until: { $0.commitServers[server].storedThrough == SequenceNumber(seq) }, drop: elsewhere)
        #expect(g.sequencer.committedThrough == SequenceNumber(seq - 1), sourceLocation: sourceLocation)
        return x
    }

    @Test("a sequencer's start merges by highest epoch: a number only a minority held becomes a no-op, the rest is kept")
    func startMergesAndFills() throws {
        var g = TestGroup(members: 2)
        _ = try g.publishMany(0, 2)
        try g.run(until: { $0.allDelivered(through: 2) })
        let epochBefore = g.sequencer.epoch

        // Number 3 is persisted and submitted, but only the third commit server stores it.
        let x = try Self.storedAtOne(&g, server: 2, publisher: 0, seq: 3)

        // The restarted sequencer's seal reaches the first two commit servers only.
        g.crash(g.sequencerIndex)
        g.crash(g.commitIndex(2))
        g.restartSequencer()
        #expect(g.sequencer.epoch > epochBefore)
        #expect(g.sequencer.nextSeq == SequenceNumber(4), "above every number it persisted")
        g.restartCommitServer(2)

        try g.run(until: { $0.allDelivered(through: 4) })
        for r in g.receiverIndices {
            #expect(g.deliveries(r).map(\.seq.rawValue) == [1, 2, 4], "3 is a no-op: nothing delivered there")
            #expect(g.deliveries(r).last?.id == x, "x is numbered again at 4")
        }
        let commits = g.sentPackets(kind: .commit).compactMap(\.batch).flatMap(\.runs)
        #expect(commits.contains(SequenceRun(firstSeq: SequenceNumber(3), count: 1, content: .noop)))
        // The third server's stale binding of 3 was replaced by the new epoch's no-op.
        #expect(g.commitServers[2].diagnosis(SequenceNumber(3)).contains("noop"))
    }

    @Test("a number one member of the seal's majority holds is kept, though it was never committed")
    func startKeepsWhatTheMajorityHolds() throws {
        var g = TestGroup(members: 2)
        _ = try g.publishMany(0, 1)
        try g.run(until: { $0.allDelivered(through: 1) })
        let x = try Self.storedAtOne(&g, server: 0, publisher: 1, seq: 2)

        g.crash(g.sequencerIndex)
        g.restartSequencer()
        try g.run(until: { $0.allDelivered(through: 2) })
        for r in g.receiverIndices {
            #expect(g.deliveries(r).map(\.seq.rawValue) == [1, 2])
            #expect(g.deliveries(r).last?.id == x, "the merge kept 2 as the first server held it")
        }
    }
}
