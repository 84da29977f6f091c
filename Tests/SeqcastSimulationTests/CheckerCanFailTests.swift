import Testing
@testable import SeqcastSimulation
import SeqcastCore
import SeqcastWire

// A checker that never fires proves nothing: a simulator sweep with zero violations means as
// much as its weakest check. Each test here feeds an `InvariantChecker` forged observations
// through its public entry points only (`published`, `sent(_:by:syncedKeyMax:)` with datagrams
// encoded by SeqcastWire, `event(_:at:)`), breaks one rule on purpose and expects exactly the
// named invariant; then replays the same story with the rule kept and expects silence, so each
// test shows the check discriminates rather than firing on everything.

// MARK: - Forging observations

/// A small group and a script-like API over an `InvariantChecker`. It keeps its own ground truth
/// (body digests, committed bindings) so the "correct" state digests it hands the checker are
/// computed independently of the checker's internals.
struct Forge {
    static let sequencer = NodeId(1)
    static let dataServers = [NodeId(11), NodeId(12), NodeId(13)]
    static let commitServers = [NodeId(21), NodeId(22), NodeId(23)]
    static let checkpointServers = [NodeId(31), NodeId(32)]
    static let memberA = NodeId(41)
    static let memberB = NodeId(42)
    /// The publishing sender incarnation every test uses.
    static let alice = SenderId(node: NodeId(41), incarnation: 1)
    static let lifetime: UInt64 = 100

    let config: GroupConfig
    var checker: InvariantChecker
    /// Ground truth kept by the test, not read back from the checker.
    var bodyDigest: [MessageId: UInt64] = [:]
    var bindings: [UInt64: MessageId] = [:]

    /// K=1 unless a test needs more reports (S6); Q is the majority of 3, i.e. 2.
    init(reportQuorum: Int = 1) {
        config = GroupConfig(sequencer: Self.sequencer, dataServers: Self.dataServers,
                             commitServers: Self.commitServers, checkpointServers: Self.checkpointServers,
                             reportQuorum: reportQuorum, lifetime: Self.lifetime, checkpointInterval: 1)
        checker = InvariantChecker(config: config)
    }

    var invariants: [String] { checker.violations.map(\.invariant) }
    var details: String { checker.violations.map(\.description).joined(separator: " | ") }

    static func id(_ counter: UInt64, _ sender: SenderId = alice) -> MessageId {
        MessageId(sender: sender, counter: counter)
    }

    static func messages(_ first: UInt64, count: UInt32 = 1, counter: UInt64, sender: SenderId = alice) -> SequenceRun {
        SequenceRun(firstSeq: SequenceNumber(first), count: count, content: .messages(sender: sender, firstCounter: counter))
    }

    // MARK: wire

    /// Encodes one datagram with SeqcastWire's encoder, exactly as a role would.
    static func datagram(_ kind: MessageKind, from source: NodeId, epoch: Epoch = Epoch(1),
                         _ body: (inout WireWriter) throws(EncodeError) -> Void) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { p -> Int in
            do {
                return try Datagram.encode(Header(kind: kind, groupId: 1, epoch: epoch, source: source), into: p,
                                           body: body)
            } catch {
                fatalError("forging a \(kind) datagram: \(error)")
            }
        }
        return Array(buffer[..<n])
    }

    mutating func send(_ bytes: [UInt8], by node: NodeId, synced: UInt64) {
        bytes.withUnsafeBytes { checker.sent($0, by: node, syncedKeyMax: synced) }
    }

    // MARK: ground truth

    /// Publishes counter `counter` of `sender` with logical timestamp `ts`.
    mutating func publish(_ counter: UInt64, ts: UInt64 = 0, sender: SenderId = alice) {
        let id = Self.id(counter, sender)
        let body: [UInt8] = Array("body \(sender) \(counter)".utf8)
        let digest = body.withUnsafeBytes { Digest.of($0) }
        bodyDigest[id] = digest
        checker.published(id, bodyDigest: digest, logicalTs: SequenceNumber(ts))
    }

    // MARK: server datagrams

    /// A data server's report, sent and (unless `lost`) received by the sequencer.
    mutating func dataReport(from server: NodeId, heldThrough: UInt64, sender: SenderId = alice,
                             incarnation: UInt32 = 1, lost: Bool = false) {
        let entry = DataReport.Entry(sender: sender, heldThrough: heldThrough, pendingCounter: 0, pendingTs: .zero,
                                     aheadTs: .zero)
        let bytes = Self.datagram(.dataReport, from: server) { w throws(EncodeError) in
            try DataReport.encode([entry], incarnation: incarnation, into: &w)
        }
        send(bytes, by: server, synced: 0)
        if !lost { bytes.withUnsafeBytes { checker.receivedBySequencer($0) } }
    }

    /// A sequencer submit; `synced` is the sequencer's durable key (default: covers the runs).
    /// A sequencer submit, after it numbered (wrote the assignment record of) `runs`; `synced`
    /// is the sequencer's durable key (default: covers the runs).
    mutating func submit(_ runs: [SequenceRun], synced: UInt64? = nil, epoch: Epoch = Epoch(1)) {
        checker.assigned(AssignmentRecord.record(of: runs))
        let durable = synced ?? runs.map(\.lastSeq.rawValue).max()!
        send(Self.datagram(.commitSubmit, from: Self.sequencer, epoch: epoch) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: .zero, runs: runs, into: &w)
        }, by: Self.sequencer, synced: durable)
    }

    /// A commit server's cumulative ack; `synced` is its durable key (default: `through`).
    mutating func ack(_ through: UInt64, from server: NodeId, synced: UInt64? = nil) {
        send(Self.datagram(.commitAck, from: server) { w throws(EncodeError) in
            try CommitAck(storedThrough: SequenceNumber(through)).encode(into: &w)
        }, by: server, synced: synced ?? through)
    }

    /// A commit server's answer to a seal of `epoch`: its promise of it is durable.
    mutating func sealReply(from server: NodeId, epoch: Epoch) {
        send(Self.datagram(.sealReply, from: server, epoch: epoch) { w throws(EncodeError) in
            try SealReply.encode(lowWater: .zero, storedThrough: .zero, pageThrough: .zero, runsEpoch: epoch,
                                 nonce: 1, committedThrough: .zero, runs: [SequenceRun](), into: &w)
        }, by: server, synced: 0)
    }

    /// The sequencer's commit of `runs`, without any acks.
    mutating func commitOnly(_ runs: [SequenceRun]) {
        for run in runs {
            for k in 0..<UInt64(run.count) {
                let s = run.firstSeq.rawValue + k
                if bindings[s] == nil, let id = run.messageId(at: SequenceNumber(s)) { bindings[s] = id }
            }
        }
        send(Self.datagram(.commit, from: Self.sequencer) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: .zero, runs: runs, into: &w)
        }, by: Self.sequencer, synced: runs.map(\.lastSeq.rawValue).max()!)
    }

    /// A correct commit: `ackers` commit servers (default Q of them) durably store the runs and
    /// ack through them first.
    mutating func commit(_ runs: [SequenceRun], ackers: ArraySlice<NodeId> = Forge.commitServers.prefix(2)) {
        let through = runs.map(\.lastSeq.rawValue).max()!
        for server in ackers {
            persist(runs, at: server)
            ack(through, from: server)
        }
        commitOnly(runs)
    }

    /// A commit server's record of `runs` became durable.
    mutating func persist(_ runs: [SequenceRun], at server: NodeId) {
        checker.persisted(AssignmentRecord.record(of: runs), by: server)
    }

    /// Publishes counters 1...n and commits them at numbers 1...n, correctly.
    mutating func publishAndCommit(_ n: UInt64) {
        for c in 1...n { publish(c) }
        commit([Self.messages(1, count: UInt32(n), counter: 1)])
    }

    mutating func heartbeat(_ committedThrough: UInt64) {
        send(Self.datagram(.heartbeat, from: Self.sequencer) { w throws(EncodeError) in
            try Heartbeat(committedThrough: SequenceNumber(committedThrough), checkpointSeq: .zero, checkpointBytes: 0)
                .encode(into: &w)
        }, by: Self.sequencer, synced: committedThrough)
    }

    mutating func idReply(_ runs: [SequenceRun], from server: NodeId = Forge.commitServers[0]) {
        send(Self.datagram(.idReply, from: server) { w throws(EncodeError) in
            try IdReply.encode(lowWater: .zero, committedThrough: .zero, runs: runs, into: &w)
        }, by: server, synced: runs.map(\.lastSeq.rawValue).max()!)
    }

    /// A checkpoint server takes a correct checkpoint at `terminal`.
    mutating func takeCheckpoint(_ terminal: UInt64, at server: NodeId = Forge.checkpointServers[0]) {
        checker.event(.checkpointTaken(terminalSeq: SequenceNumber(terminal), byteCount: 64, digest: 0,
                                       stateDigest: referenceDigest(through: terminal), tablesDigest: tablesDigest(through: terminal)), at: server)
    }

    mutating func fetchMiss(_ counter: UInt64, count: UInt32 = 1, checkpoint: UInt64,
                            from server: NodeId = Forge.dataServers[0]) {
        send(Self.datagram(.fetchMiss, from: server) { w throws(EncodeError) in
            try FetchMiss(sender: Self.alice, firstCounter: counter, count: count, reason: .collected,
                          checkpointSeq: SequenceNumber(checkpoint)).encode(into: &w)
        }, by: server, synced: 0)
    }

    mutating func checkpointReport(_ terminal: UInt64, from server: NodeId = Forge.checkpointServers[0]) {
        send(Self.datagram(.checkpointReport, from: server) { w throws(EncodeError) in
            try CheckpointReport(terminalSeq: SequenceNumber(terminal), byteCount: 64, digest: 0).encode(into: &w)
        }, by: server, synced: 0)
    }

    // MARK: role events

    /// The de-duplication tables' digest after delivering 1...seq (`CheckpointTables`), from
    /// the test's own bindings: the highest counter per sender with its last binding's number,
    /// no ended streams (one incarnation per node here, so none is forgotten).
    func tablesDigest(through seq: UInt64) -> UInt64 {
        var delivered: [SenderId: DeliveredStream] = [:]
        for (s, id) in bindings.sorted(by: { $0.key < $1.key }) where s <= seq {
            delivered[id.sender] = DeliveredStream(counter: max(delivered[id.sender]?.counter ?? 0, id.counter), lastSeq: s,
                                                   lastMessageSeq: s)
        }
        return CheckpointTables.digest(interval: config.checkpointInterval, delivered: delivered.map { ($0.key, $0.value) },
                                       ended: [])
    }

    /// The reference application's digest after delivering the committed bindings 1...seq,
    /// computed from the test's own ground truth.
    func referenceDigest(through seq: UInt64) -> UInt64 {
        var d = ReferenceApplication().stateDigest
        guard seq >= 1 else { return d }
        for s in 1...seq {
            // Control runs and no-ops leave the application's state alone.
            guard let id = bindings[s] else { continue }
            d = ReferenceApplication.step(d, seq: SequenceNumber(s), id: id, bodyDigest: bodyDigest[id]!)
        }
        return d
    }

    /// A member's delivery; by default of the committed message, with its published body and the
    /// reference state digest, i.e. a correct delivery.
    mutating func deliver(_ seq: UInt64, id: MessageId? = nil, bodyDigest body: UInt64? = nil,
                          stateDigest: UInt64? = nil, at member: NodeId = Forge.memberA) {
        let id = id ?? bindings[seq]!
        let event = RoleEvent.delivered(seq: SequenceNumber(seq), id: id, bodyDigest: body ?? bodyDigest[id]!,
                                        stateDigest: stateDigest ?? referenceDigest(through: seq))
        checker.event(event, at: member)
    }

    mutating func event(_ e: RoleEvent, at node: NodeId) { checker.event(e, at: node) }
}

// MARK: - The tests

@Suite("Each invariant checker can fail")
struct CheckerCanFailTests {
    typealias F = Forge

    @Test("a correct end-to-end story reports nothing")
    func cleanStory() {
        var f = Forge(reportQuorum: 2)
        f.publish(1)
        f.publish(2)
        f.dataReport(from: F.dataServers[0], heldThrough: 2)
        f.dataReport(from: F.dataServers[1], heldThrough: 2)
        f.submit([F.messages(1, count: 2, counter: 1)])
        f.commit([F.messages(1, count: 2, counter: 1)])
        f.heartbeat(2)
        f.idReply([F.messages(1, count: 2, counter: 1)])
        for member in [F.memberA, F.memberB] {
            f.deliver(1, at: member)
            f.deliver(2, at: member)
        }
        f.event(.checkpointTaken(terminalSeq: SequenceNumber(2), byteCount: 64, digest: 0,
                                 stateDigest: f.referenceDigest(through: 2), tablesDigest: f.tablesDigest(through: 2)), at: F.checkpointServers[0])
        f.checkpointReport(2)
        f.event(.collected(id: F.id(1), seq: SequenceNumber(1), checkpointSeq: SequenceNumber(2)), at: F.dataServers[0])
        #expect(f.checker.violations.isEmpty, "\(f.details)")
        #expect(f.checker.frontier == 2)
    }

    // (a)
    @Test("S5: a commit for a number only one commit server acked")
    func s5CommitBeforeQuorum() {
        var bad = Forge()
        bad.publish(1)
        bad.commit([F.messages(1, counter: 1)], ackers: F.commitServers.prefix(1))
        #expect(bad.invariants == ["S5"], "\(bad.details)")
        #expect(bad.checker.violations.first?.detail.contains("Q=2") == true)

        // Two acks, but one of them only through a lower number: still one acker for #2.
        var low = Forge()
        low.publishAndCommit(1)
        low.publish(2)
        low.ack(2, from: F.commitServers[0])
        low.ack(1, from: F.commitServers[1])
        low.commitOnly([F.messages(2, counter: 2)])
        #expect(low.invariants == ["S5"], "\(low.details)")

        var good = Forge()
        good.publish(1)
        good.commit([F.messages(1, counter: 1)], ackers: F.commitServers.prefix(2))
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("S5: a commit whose acking commit servers durably hold another binding, or none")
    func s5StoredBindingDiffers() {
        // Both ackers stored number 1 as counter 2, but the sequencer commits counter 1 there.
        var other = Forge()
        other.publish(1)
        other.publish(2)
        for server in F.commitServers.prefix(2) {
            other.persist([F.messages(1, counter: 2)], at: server)
            other.ack(1, from: server)
        }
        other.commitOnly([F.messages(1, counter: 1)])
        #expect(other.invariants == ["S5"], "\(other.details)")
        #expect(other.checker.violations.first?.detail.contains("durably hold") == true)

        // One acker holds it, the other acked without any durable record of number 1.
        var none = Forge()
        none.publish(1)
        none.persist([F.messages(1, counter: 1)], at: F.commitServers[0])
        none.ack(1, from: F.commitServers[0])
        none.ack(1, from: F.commitServers[1])
        none.commitOnly([F.messages(1, counter: 1)])
        #expect(none.invariants == ["S5"], "\(none.details)")

        var good = Forge()
        good.publish(1)
        good.commit([F.messages(1, counter: 1)])
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("S5: a commit server acks a number it has not made durable")
    func s5AckBeforeDurable() {
        var bad = Forge()
        bad.ack(3, from: F.commitServers[0], synced: 2)
        #expect(bad.invariants == ["S5"], "\(bad.details)")

        var good = Forge()
        good.ack(3, from: F.commitServers[0], synced: 3)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    // (d)
    @Test("S5: a submit before the sequencer's record is durable")
    func s5SubmitBeforeDurable() {
        var bad = Forge()
        bad.publish(1)
        bad.publish(2)
        bad.dataReport(from: F.dataServers[0], heldThrough: 2)
        bad.submit([F.messages(1, count: 2, counter: 1)], synced: 1)
        #expect(bad.invariants == ["S5"], "\(bad.details)")
        #expect(bad.checker.violations.first?.detail.contains("persisted") == true)

        var good = Forge()
        good.publish(1)
        good.publish(2)
        good.dataReport(from: F.dataServers[0], heldThrough: 2)
        good.submit([F.messages(1, count: 2, counter: 1)], synced: 2)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("S5: a member delivers a number nobody committed")
    func s5DeliverBeforeCommit() {
        var bad = Forge()
        bad.publish(1)
        bad.deliver(1, id: F.id(1), stateDigest: 0)
        #expect(bad.invariants == ["S5"], "\(bad.details)")

        var good = Forge()
        good.publishAndCommit(1)
        good.deliver(1)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    // (b)
    @Test("S3: a member delivers past a gap")
    func s3DeliverPastGap() {
        var bad = Forge()
        bad.publishAndCommit(2)
        bad.deliver(2)
        #expect(bad.invariants == ["S3"], "\(bad.details)")

        // Going back after the gap is also a break of the dense stream.
        var back = Forge()
        back.publishAndCommit(2)
        back.deliver(1)
        back.deliver(2)
        back.deliver(1)
        #expect(back.invariants.first == "S3", "\(back.details)")

        var good = Forge()
        good.publishAndCommit(2)
        good.deliver(1)
        good.deliver(2)
        // A restarted member starts a new stream and may deliver 1 again.
        good.checker.nodeCrashed(F.memberA)
        good.deliver(1)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("S3: a control run applied past a gap")
    func s3ControlPastGap() {
        let control = SequenceRun(firstSeq: SequenceNumber(2), count: 1, content: .checkpointInterval(8))
        var bad = Forge()
        bad.publishAndCommit(1)
        bad.commit([control])
        bad.event(.controlApplied(seq: SequenceNumber(2), run: control), at: F.memberA)
        #expect(bad.invariants == ["S3"], "\(bad.details)")

        var good = Forge()
        good.publishAndCommit(1)
        good.commit([control])
        good.deliver(1)
        good.event(.controlApplied(seq: SequenceNumber(2), run: control), at: F.memberA)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    // (c)
    @Test("S1: two commits bind the same number to different messages")
    func s1Rebind() {
        var bad = Forge()
        bad.publish(1)
        bad.publish(2)
        bad.commit([F.messages(1, counter: 1)])
        bad.commit([F.messages(1, counter: 2)])
        #expect(bad.invariants == ["S1"], "\(bad.details)")

        // A no-op over a committed message is a rebinding too.
        var noop = Forge()
        noop.publishAndCommit(1)
        noop.commit([SequenceRun(firstSeq: SequenceNumber(1), count: 1, content: .noop)])
        #expect(noop.invariants == ["S1"], "\(noop.details)")

        // A retransmitted commit, and an overlapping run that agrees on the overlap, are fine.
        var good = Forge()
        good.publish(1)
        good.publish(2)
        good.commit([F.messages(1, counter: 1)])
        good.commit([F.messages(1, counter: 1)])
        good.commit([F.messages(1, count: 2, counter: 1)])
        #expect(good.checker.violations.isEmpty, "\(good.details)")
        #expect(good.checker.frontier == 2)
    }

    // (e)
    @Test("S10: a heartbeat above the committed frontier")
    func s10HeartbeatAboveFrontier() {
        var bad = Forge()
        bad.publishAndCommit(1)
        bad.heartbeat(2)
        #expect(bad.invariants == ["S10"], "\(bad.details)")

        var good = Forge()
        good.publishAndCommit(1)
        good.heartbeat(0)
        good.heartbeat(1)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("S10: a falling heartbeat")
    func s10FallingHeartbeat() {
        var bad = Forge()
        bad.publishAndCommit(2)
        bad.heartbeat(2)
        bad.heartbeat(1)
        #expect(bad.invariants == ["S10"], "\(bad.details)")
        #expect(bad.checker.violations.first?.detail.contains("fell") == true)

        var good = Forge()
        good.publishAndCommit(2)
        good.heartbeat(1)
        good.heartbeat(1)
        good.heartbeat(2)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    // (f)
    @Test("S4: a delivered body that does not match the published one")
    func s4WrongBody() {
        var bad = Forge()
        bad.publishAndCommit(1)
        bad.deliver(1, bodyDigest: bad.bodyDigest[F.id(1)]! ^ 1)
        #expect(bad.invariants == ["S4"], "\(bad.details)")

        var good = Forge()
        good.publishAndCommit(1)
        good.deliver(1)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("S4: a member delivers the same message twice")
    func s4DuplicateDelivery() {
        // The only way the checker lets one id reach two numbers is a commit that binds it twice
        // (which the checker does not refuse at commit time; see the gaps suite below).
        var bad = Forge()
        bad.publish(1)
        bad.commit([F.messages(1, counter: 1), F.messages(2, counter: 1)])
        bad.deliver(1)
        bad.deliver(2)
        #expect(bad.invariants.contains("S4"), "\(bad.details)")
        #expect(bad.checker.violations.contains { $0.invariant == "S4" && $0.detail.contains("twice") })

        // Two members delivering the same message once each is not a duplicate.
        var good = Forge()
        good.publishAndCommit(1)
        good.deliver(1, at: F.memberA)
        good.deliver(1, at: F.memberB)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("S4: committing a message nobody published")
    func s4CommitUnpublished() {
        var bad = Forge()
        bad.commit([F.messages(1, counter: 1)])
        #expect(bad.invariants == ["S4"], "\(bad.details)")

        var good = Forge()
        good.publishAndCommit(1)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("S2: a member delivers a message other than the committed binding")
    func s2WrongMessage() {
        var bad = Forge()
        bad.publishAndCommit(1)
        bad.publish(2)
        bad.deliver(1, id: F.id(2), stateDigest: bad.referenceDigest(through: 1))
        #expect(bad.invariants == ["S2"], "\(bad.details)")

        var good = Forge()
        good.publishAndCommit(1)
        good.publish(2)
        good.deliver(1)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("FIFO: a member delivers a sender's counters out of order")
    func fifoOrder() {
        var bad = Forge()
        bad.publish(1)
        bad.publish(2)
        bad.commit([F.messages(1, counter: 2), F.messages(2, counter: 1)])
        bad.deliver(1)
        bad.deliver(2)
        #expect(bad.invariants == ["FIFO"], "\(bad.details)")

        var good = Forge()
        good.publishAndCommit(2)
        good.deliver(1)
        good.deliver(2)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("S13: a member's state or installed checkpoint differs from the reference")
    func s13StateDigest() {
        var bad = Forge()
        bad.publishAndCommit(1)
        bad.deliver(1, stateDigest: bad.referenceDigest(through: 1) &+ 1)
        #expect(bad.invariants == ["S13"], "\(bad.details)")

        var badInstall = Forge()
        badInstall.publishAndCommit(2)
        badInstall.event(.checkpointInstalled(terminalSeq: SequenceNumber(2),
                                              stateDigest: badInstall.referenceDigest(through: 1)), at: F.memberB)
        #expect(badInstall.invariants == ["S13"], "\(badInstall.details)")

        var good = Forge()
        good.publishAndCommit(3)
        good.event(.checkpointInstalled(terminalSeq: SequenceNumber(2), stateDigest: good.referenceDigest(through: 2)),
                   at: F.memberB)
        good.deliver(3, at: F.memberB)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    // (g)
    @Test("S12: a checkpoint whose state digest or de-duplication tables differ from the reference")
    func s12CheckpointDigest() {
        var bad = Forge()
        bad.publishAndCommit(2)
        bad.event(.checkpointTaken(terminalSeq: SequenceNumber(2), byteCount: 64, digest: 0,
                                   stateDigest: bad.referenceDigest(through: 1), tablesDigest: bad.tablesDigest(through: 2)), at: F.checkpointServers[0])
        #expect(bad.invariants == ["S12"], "\(bad.details)")

        // A checkpoint beyond the committed frontier cannot match anything.
        var ahead = Forge()
        ahead.publishAndCommit(2)
        ahead.event(.checkpointTaken(terminalSeq: SequenceNumber(3), byteCount: 64, digest: 0,
                                     stateDigest: ahead.referenceDigest(through: 2), tablesDigest: ahead.tablesDigest(through: 3)), at: F.checkpointServers[0])
        #expect(ahead.invariants == ["S12"], "\(ahead.details)")

        // The right application state, but de-duplication tables that forget counter 2: a
        // joiner from it would deliver alice's counter 2 a second time.
        var tables = Forge()
        tables.publishAndCommit(2)
        tables.event(.checkpointTaken(terminalSeq: SequenceNumber(2), byteCount: 64, digest: 0,
                                      stateDigest: tables.referenceDigest(through: 2),
                                      tablesDigest: tables.tablesDigest(through: 1)), at: F.checkpointServers[0])
        #expect(tables.invariants == ["S12"], "\(tables.details)")
        #expect(tables.checker.violations.first?.detail.contains("de-duplication") == true)

        var good = Forge()
        good.publishAndCommit(2)
        good.event(.checkpointTaken(terminalSeq: SequenceNumber(2), byteCount: 64, digest: 0,
                                    stateDigest: good.referenceDigest(through: 2), tablesDigest: good.tablesDigest(through: 2)), at: F.checkpointServers[0])
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    // (h)
    @Test("S14: a data server collects a committed message above the checkpoint")
    func s14CollectAboveCheckpoint() {
        let server = F.dataServers[0]
        var bad = Forge()
        bad.publishAndCommit(2)
        bad.takeCheckpoint(1)
        bad.checkpointReport(1)
        bad.event(.collected(id: F.id(2), seq: SequenceNumber(2), checkpointSeq: SequenceNumber(1)), at: server)
        #expect(bad.invariants == ["S14"], "\(bad.details)")

        // Below the checkpoint the server names, but no checkpoint server ever reported one.
        var unreported = Forge()
        unreported.publishAndCommit(2)
        unreported.event(.collected(id: F.id(1), seq: SequenceNumber(1), checkpointSeq: SequenceNumber(2)), at: server)
        #expect(unreported.invariants == ["S14"], "\(unreported.details)")

        // Deleted as an orphan although it is committed above the checkpoint.
        var orphan = Forge()
        orphan.publishAndCommit(2)
        orphan.takeCheckpoint(1)
        orphan.checkpointReport(1)
        orphan.event(.collected(id: F.id(2), seq: nil, checkpointSeq: SequenceNumber(1)), at: server)
        #expect(orphan.invariants == ["S14"], "\(orphan.details)")

        // Reported, and collected behind, a checkpoint nobody took.
        var untaken = Forge()
        untaken.publishAndCommit(2)
        untaken.checkpointReport(2)
        #expect(untaken.invariants == ["S14"], "\(untaken.details)")
        var untakenCollect = Forge()
        untakenCollect.publishAndCommit(2)
        untakenCollect.takeCheckpoint(2)
        untakenCollect.checkpointReport(2)
        untakenCollect.event(.collected(id: F.id(1), seq: SequenceNumber(1), checkpointSeq: SequenceNumber(1)), at: server)
        #expect(untakenCollect.invariants == ["S14"], "\(untakenCollect.details)")

        // A member told "collected" for a message no checkpoint covers.
        var uncovered = Forge()
        uncovered.publishAndCommit(2)
        uncovered.takeCheckpoint(1)
        uncovered.fetchMiss(2, checkpoint: 1)
        #expect(uncovered.invariants == ["S14"], "\(uncovered.details)")

        var good = Forge()
        good.publishAndCommit(2)
        good.publish(9)
        good.takeCheckpoint(2)
        good.fetchMiss(1, count: 2, checkpoint: 2)
        good.checkpointReport(2)
        good.event(.collected(id: F.id(1), seq: SequenceNumber(1), checkpointSeq: SequenceNumber(2)), at: server)
        good.event(.collected(id: F.id(2), seq: SequenceNumber(2), checkpointSeq: SequenceNumber(2)), at: server)
        good.event(.collected(id: F.id(9), seq: nil, checkpointSeq: SequenceNumber(2)), at: server)
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    // (i)
    @Test("S9: a commit outside the lifetime window (ts, ts+L]")
    func s9Lifetime() {
        var late = Forge()
        late.publish(1, ts: 0)
        late.commit([F.messages(F.lifetime + 1, counter: 1)])
        #expect(late.invariants == ["S9"], "\(late.details)")

        var early = Forge()
        early.publish(1, ts: 5)
        early.commit([F.messages(5, counter: 1)])
        #expect(early.invariants == ["S9"], "\(early.details)")

        var lastChance = Forge()
        lastChance.publish(1, ts: 0)
        lastChance.commit([F.messages(F.lifetime, counter: 1)])
        #expect(lastChance.checker.violations.isEmpty, "\(lastChance.details)")

        var firstChance = Forge()
        firstChance.publish(1, ts: 5)
        firstChance.commit([F.messages(6, counter: 1)])
        #expect(firstChance.checker.violations.isEmpty, "\(firstChance.details)")
    }

    // (j)
    @Test("S5b: an id reply naming an uncommitted or different binding")
    func s5bIdReply() {
        var uncommitted = Forge()
        uncommitted.publishAndCommit(1)
        uncommitted.publish(2)
        uncommitted.idReply([F.messages(2, counter: 2)])
        #expect(uncommitted.invariants == ["S5b"], "\(uncommitted.details)")

        var different = Forge()
        different.publishAndCommit(1)
        different.publish(2)
        different.idReply([F.messages(1, counter: 2)])
        #expect(different.invariants == ["S5b"], "\(different.details)")

        var good = Forge()
        good.publishAndCommit(2)
        good.idReply([F.messages(1, count: 2, counter: 1)])
        good.idReply([F.messages(2, counter: 2)])
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("S6: numbering counters fewer than K data servers (in their current incarnation) reported")
    func s6ReportQuorum() {
        var bad = Forge(reportQuorum: 2)
        bad.publish(1)
        bad.publish(2)
        bad.dataReport(from: F.dataServers[0], heldThrough: 2)
        bad.dataReport(from: F.dataServers[1], heldThrough: 1)
        bad.submit([F.messages(1, count: 2, counter: 1)])
        #expect(bad.invariants == ["S6"], "\(bad.details)")

        var good = Forge(reportQuorum: 2)
        good.publish(1)
        good.publish(2)
        good.dataReport(from: F.dataServers[0], heldThrough: 2)
        good.dataReport(from: F.dataServers[1], heldThrough: 2)
        good.submit([F.messages(1, count: 2, counter: 1)])
        #expect(good.checker.violations.isEmpty, "\(good.details)")

        // Two servers reported, but one of them restarted (its memory is gone) before the
        // numbering: its new incarnation holds nothing, so only one live copy remains.
        var restarted = Forge(reportQuorum: 2)
        restarted.publish(1)
        restarted.dataReport(from: F.dataServers[0], heldThrough: 1)
        restarted.dataReport(from: F.dataServers[1], heldThrough: 1)
        restarted.dataReport(from: F.dataServers[1], heldThrough: 1, sender: SenderId(node: NodeId(42), incarnation: 1),
                             incarnation: 2)
        restarted.submit([F.messages(1, counter: 1)])
        #expect(restarted.invariants == ["S6"], "\(restarted.details)")

        // Two servers sent reports, but one was lost on its way: the sequencer had one copy.
        var lost = Forge(reportQuorum: 2)
        lost.publish(1)
        lost.dataReport(from: F.dataServers[0], heldThrough: 1)
        lost.dataReport(from: F.dataServers[1], heldThrough: 1, lost: true)
        lost.submit([F.messages(1, counter: 1)])
        #expect(lost.invariants == ["S6"], "\(lost.details)")
    }

    @Test("S7 and S8: a submit that skips numbers or re-binds a submitted number")
    func s7s8Submit() {
        var skip = Forge()
        skip.publish(1)
        skip.dataReport(from: F.dataServers[0], heldThrough: 1)
        skip.submit([F.messages(2, counter: 1)])
        #expect(skip.invariants == ["S7"], "\(skip.details)")

        var rebind = Forge()
        rebind.publish(1)
        rebind.publish(2)
        rebind.dataReport(from: F.dataServers[0], heldThrough: 2)
        rebind.submit([F.messages(1, counter: 1)])
        rebind.submit([F.messages(1, counter: 2)])
        #expect(rebind.invariants == ["S8"], "\(rebind.details)")

        var good = Forge()
        good.publish(1)
        good.publish(2)
        good.dataReport(from: F.dataServers[0], heldThrough: 2)
        good.submit([F.messages(1, counter: 1)])
        good.submit([F.messages(1, counter: 1)])  // a retransmission
        good.submit([F.messages(1, count: 2, counter: 1)])
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }

    @Test("S8: a later epoch may rebind a number nobody committed, never a committed one")
    func s8AcrossEpochs() {
        let (e1, e2) = (Epoch(1), Epoch(round: 2, candidate: 0))
        var uncommitted = Forge()
        uncommitted.publish(1)
        uncommitted.publish(2)
        uncommitted.dataReport(from: F.dataServers[0], heldThrough: 2)
        uncommitted.submit([F.messages(1, counter: 1)], epoch: e1)
        uncommitted.submit([SequenceRun(firstSeq: SequenceNumber(1), count: 1, content: .noop)], epoch: e2)
        #expect(uncommitted.checker.violations.isEmpty, "\(uncommitted.details)")

        var committed = Forge()
        committed.publish(1)
        committed.dataReport(from: F.dataServers[0], heldThrough: 1)
        committed.submit([F.messages(1, counter: 1)], epoch: e1)
        committed.commit([F.messages(1, counter: 1)])
        committed.submit([SequenceRun(firstSeq: SequenceNumber(1), count: 1, content: .noop)], epoch: e2)
        #expect(committed.invariants == ["S8"], "\(committed.details)")

        var sameEpoch = Forge()
        sameEpoch.publish(1)
        sameEpoch.dataReport(from: F.dataServers[0], heldThrough: 1)
        sameEpoch.submit([F.messages(1, counter: 1)], epoch: e2)
        sameEpoch.submit([SequenceRun(firstSeq: SequenceNumber(1), count: 1, content: .noop)], epoch: e2)
        #expect(sameEpoch.invariants == ["S8"], "\(sameEpoch.details)")
    }

    @Test("S11: a commit server acks an older epoch after promising a newer one")
    func s11Fencing() {
        let e2 = Epoch(round: 2, candidate: 0)
        var stale = Forge()
        stale.publish(1)
        stale.dataReport(from: F.dataServers[0], heldThrough: 1)
        stale.submit([F.messages(1, counter: 1)])
        for server in F.commitServers.prefix(2) { stale.sealReply(from: server, epoch: e2) }
        for server in F.commitServers.prefix(2) {  // acks of epoch 1 after the promise of 2
            stale.persist([F.messages(1, counter: 1)], at: server)
            stale.ack(1, from: server)
        }
        #expect(stale.invariants == ["S11", "S11"], "\(stale.details)")

        // Acks given before the promise may still commit, even late: the seal's answers listed
        // what those servers durably held, so the newer epoch's merge kept the binding.
        var late = Forge()
        late.publish(1)
        late.dataReport(from: F.dataServers[0], heldThrough: 1)
        late.submit([F.messages(1, counter: 1)])
        for server in F.commitServers.prefix(2) {
            late.persist([F.messages(1, counter: 1)], at: server)
            late.ack(1, from: server)
        }
        for server in F.commitServers.prefix(2) { late.sealReply(from: server, epoch: e2) }
        late.commitOnly([F.messages(1, counter: 1)])
        #expect(late.checker.violations.isEmpty, "\(late.details)")
    }

    @Test("wire: a server sends bytes that do not decode")
    func undecodable() {
        var bad = Forge()
        var bytes = Forge.datagram(.commitAck, from: F.commitServers[0]) { w throws(EncodeError) in
            try CommitAck(storedThrough: SequenceNumber(1)).encode(into: &w)
        }
        bytes[0] ^= 0xFF  // break the magic
        bad.send(bytes, by: F.commitServers[0], synced: 1)
        #expect(bad.invariants == ["wire"], "\(bad.details)")

        var good = Forge()
        good.ack(1, from: F.commitServers[0])
        #expect(good.checker.violations.isEmpty, "\(good.details)")
    }
}
