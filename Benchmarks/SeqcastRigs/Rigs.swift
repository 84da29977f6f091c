// The hot-path rigs of Seqcast's benchmarks, shared by the ordo-one benchmarks
// (SeqcastBenchmarks: wall clock and mallocs) and the CI performance gate (PerfGate:
// instructions and allocations counted under callgrind). Each rig drives a sans-IO role
// exactly as a driver does and checks in `verify` that it made the expected progress, so a
// broken setup cannot silently measure nothing. Units: see SeqcastBenchmarks.swift.

@_spi(Benchmarks) import SeqcastClient
import SeqcastCore
import SeqcastWire

/// Keeps a value alive and opaque to the optimizer (the benchmark library's `blackHole`).
@inline(never) public func rigBlackHole<T>(_ value: T) { withExtendedLifetime(value) {} }

// MARK: - common

public let group = GroupConfig(sequencer: NodeId(1), dataServers: [NodeId(2), NodeId(3), NodeId(4)],
                        commitServers: [NodeId(5), NodeId(6), NodeId(7)], checkpointServers: [],
                        reportQuorum: 1)

/// Units of work per measured iteration; must equal `configuration.scalingFactor`.
public let unitsPerIteration = 1_000

/// A buffer allocated once; datagrams are encoded into it and patched in place.
public struct DatagramBuffer {
    let storage: UnsafeMutableRawBufferPointer
    var count = 0

    public init(capacity: Int) {
        storage = .allocate(byteCount: capacity, alignment: 8)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    mutating func encode(_ header: Header, body: (inout WireWriter) throws(EncodeError) -> Void) {
        do {
            count = try Datagram.encode(header, into: storage, body: body)
        } catch {
            fatalError("benchmark setup: encoding failed: \(error)")
        }
    }

    /// Overwrites the little-endian u64 field at `offset` of the encoded datagram.
    @inline(__always) func patch(_ offset: Int, _ value: UInt64) {
        precondition(offset + 8 <= count)
        storage.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[0..<count]) }

    func deallocate() { storage.deallocate() }
}

func makeHeader(_ kind: MessageKind, from node: NodeId, epoch: Epoch = Epoch(1)) -> Header {
    Header(kind: kind, groupId: group.groupId, epoch: epoch, source: node)
}

/// Runs a fresh sequencer's start to the end (its epoch record persisted, two of three commit
/// servers answering the seal with nothing held), as every start does before it numbers.
func completeStart(_ sequencer: inout Sequencer, now: Instant) {
    let ticket = sequencer.output.storage.writes[sequencer.output.storage.writes.count - 1].ticket
    sequencer.output.storage.removeAll()
    sequencer.persisted(ticket, now: now)
    sequencer.output.outbox.removeAll()
    var reply = DatagramBuffer(capacity: 128)
    defer { reply.deallocate() }
    for node in group.commitServers.prefix(2) {
        reply.encode(makeHeader(.sealReply, from: node, epoch: sequencer.epoch)) { w throws(EncodeError) in
            try SealReply.encode(lowWater: .zero, storedThrough: .zero, pageThrough: .zero, runsEpoch: .none,
                                 nonce: sequencer.sealNonce, committedThrough: .zero, runs: [SequenceRun](), into: &w)
        }
        sequencer.receive(reply.bytes, from: PeerAddress(UInt64(node.rawValue)), now: now)
    }
    precondition(sequencer.isActive, "the sequencer's start did not complete")
    sequencer.output.outbox.removeAll()
    sequencer.output.storage.removeAll()
}

// MARK: - field offsets (WIRE.md), checked against a decode in every setup

/// DataReport: u16 count, 6 zero bytes, then 48-byte entries
/// (sender, heldThrough, pendingCounter, pendingTs, aheadTs, committedThrough).
enum ReportLayout {
    static func entry(_ i: Int) -> Int { Header.byteCount + 8 + i * DataReport.Entry.byteCount }
    static func heldThrough(_ i: Int) -> Int { entry(i) + 8 }
    static func pendingCounter(_ i: Int) -> Int { entry(i) + 16 }
    static func pendingTs(_ i: Int) -> Int { entry(i) + 24 }
}

/// CommitAck: u64 storedThrough.
enum AckLayout {
    static let storedThrough = Header.byteCount
}

/// DataMessage: sender, firstCounter, logicalTs, ...
enum DataLayout {
    static let firstCounter = Header.byteCount + 8
}

/// RunBatch: u64 committedThrough, u16 count, 6 zero bytes, then 32-byte runs
/// (firstSeq, kind/zero/count, a, b).
enum BatchLayout {
    static let committedThrough = Header.byteCount
    static func run(_ i: Int) -> Int { Header.byteCount + RunBatch.fixedByteCount + i * SequenceRun.byteCount }
    static func firstSeq(_ i: Int) -> Int { run(i) }
    static func firstCounter(_ i: Int) -> Int { run(i) + 24 }
}

/// A data datagram of `n` consecutive counters of one sender and the commit that binds them at
/// consecutive sequence numbers, encoded once and patched per step (the member's and the data
/// server's input).
struct DataAndCommit {
    let n: Int
    let sender: SenderId
    var data = DatagramBuffer(capacity: 1472)
    var commit = DatagramBuffer(capacity: 1472)

    init(messages n: Int, bodyBytes: Int, fill: UInt8) {
        self.n = n
        sender = SenderId(node: NodeId(20), incarnation: 1)
        let body = UnsafeMutableRawBufferPointer.allocate(byteCount: bodyBytes, alignment: 8)
        defer { body.deallocate() }
        for i in 0..<bodyBytes { body[i] = UInt8(truncatingIfNeeded: i) &* fill &+ 3 }
        let sender = self.sender
        data.encode(makeHeader(.data, from: NodeId(20))) { w throws(EncodeError) in
            _ = try DataMessage.encodeFixed(sender: sender, firstCounter: 1, logicalTs: .zero, count: UInt16(n),
                                            into: &w)
            for _ in 0..<n { try DataMessage.appendBody(UnsafeRawBufferPointer(body), into: &w) }
        }
        precondition(data.count <= group.datagramBytesMax)
        let run = SequenceRun(firstSeq: SequenceNumber(1), count: UInt32(n),
                              content: .messages(sender: sender, firstCounter: 1))
        commit.encode(makeHeader(.commit, from: group.sequencer)) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: SequenceNumber(UInt64(n)), runs: CollectionOfOne(run), into: &w)
        }
        // Check the patched offsets against the decoder once.
        patch(step: 5)
        guard case .data(let d)? = try? Datagram.decode(data.bytes).message,
              d.firstCounter == UInt64(4 * n + 1), d.count == UInt16(n) else { fatalError("data layout") }
        guard case .commit(let b)? = try? Datagram.decode(commit.bytes).message,
              b.committedThrough == SequenceNumber(UInt64(5 * n)),
              Array(b.runs) == [SequenceRun(firstSeq: SequenceNumber(UInt64(4 * n + 1)), count: UInt32(n),
                                            content: .messages(sender: sender, firstCounter: UInt64(4 * n + 1)))]
        else { fatalError("commit layout") }
    }

    /// Step `k` (1-based) carries counters and sequence numbers (k-1)*n+1 ... k*n.
    @inline(__always) func patch(step k: UInt64) {
        let n = UInt64(self.n)
        let first = (k - 1) * n + 1
        data.patch(DataLayout.firstCounter, first)
        commit.patch(BatchLayout.committedThrough, k * n)
        commit.patch(BatchLayout.firstSeq(0), first)
        commit.patch(BatchLayout.firstCounter(0), first)
    }

    func deallocate() {
        data.deallocate()
        commit.deallocate()
    }
}

// MARK: - Sequencer

/// The sequencer's hot loop: data report in, one group-commit record out, `persisted`, submits
/// to the three commit servers, acks from two of them (Q = 2), commit multicast.
public final class SequencerLoad {
    static let senders = 20
    static let reportsPerIteration = unitsPerIteration / senders

    let messagesPerRun: UInt64
    var sequencer: Sequencer
    var report = DatagramBuffer(capacity: 1472)
    var acks = [DatagramBuffer(capacity: 64), DatagramBuffer(capacity: 64)]
    let dataServer = PeerAddress(2)
    let commitServers = [PeerAddress(5), PeerAddress(6)]
    let now = Instant(nanoseconds: 1_000_000_000)
    /// Reports handled so far; report k (1-based) makes every sender hold `k * messagesPerRun`.
    var step: UInt64 = 0
    var runsCommitted = 0
    var datagramsSent = 0
    var bytesPersisted = 0

    public init(messagesPerRun: UInt64) {
        precondition(Self.senders * Self.reportsPerIteration == unitsPerIteration)
        precondition(Self.senders <= DataReport.entriesMax(datagramBytes: group.datagramBytesMax))
        precondition(Self.senders <= RunBatch.runsMax(datagramBytes: group.datagramBytesMax))
        self.messagesPerRun = messagesPerRun
        sequencer = Sequencer(config: group, node: group.sequencer, now: now)
        completeStart(&sequencer, now: now)
        let entries = (0..<Self.senders).map { i in
            DataReport.Entry(sender: SenderId(node: NodeId(100 + UInt32(i)), incarnation: 1), heldThrough: 0,
                             pendingCounter: 0, pendingTs: .zero, aheadTs: .zero)
        }
        report.encode(makeHeader(.dataReport, from: NodeId(2))) { w throws(EncodeError) in
            try DataReport.encode(entries, into: &w)
        }
        for (i, node) in [NodeId(5), NodeId(6)].enumerated() {
            acks[i].encode(makeHeader(.commitAck, from: node, epoch: sequencer.epoch)) { w throws(EncodeError) in
                try CommitAck(storedThrough: .zero).encode(into: &w)
            }
        }
        // Check the patched offsets against the decoder once.
        patchReport(step: 7)
        guard case .dataReport(let r)? = try? Datagram.decode(report.bytes).message else { fatalError("bad report") }
        for (i, e) in r.entries.enumerated() {
            precondition(e.sender == entries[i].sender && e.heldThrough == 7 * messagesPerRun
                && e.pendingCounter == 6 * messagesPerRun + 1
                && e.pendingTs == SequenceNumber(6 * UInt64(Self.senders) * messagesPerRun), "report layout")
        }
        acks[1].patch(AckLayout.storedThrough, 42)
        guard case .commitAck(let a)? = try? Datagram.decode(acks[1].bytes).message,
              a.storedThrough == SequenceNumber(42) else { fatalError("ack layout") }
    }

    deinit {
        report.deallocate()
        for a in acks { a.deallocate() }
    }

    /// Sequence numbers one report makes (every sender gains `messagesPerRun` counters).
    var seqsPerStep: UInt64 { UInt64(Self.senders) * messagesPerRun }

    /// Report `k`: every sender holds counters 1...k*m; its lowest uncommitted counter is the
    /// first of the new run, stamped with the frontier committed before this report.
    @inline(__always) func patchReport(step k: UInt64) {
        let m = messagesPerRun
        let committedBefore = (k - 1) * seqsPerStep
        for i in 0..<Self.senders {
            report.patch(ReportLayout.heldThrough(i), k * m)
            report.patch(ReportLayout.pendingCounter(i), (k - 1) * m + 1)
            report.patch(ReportLayout.pendingTs(i), committedBefore)
        }
    }

    /// One report through the whole pipeline, as a driver would run it.
    @inline(__always) func runStep() {
        step += 1
        let k = step
        patchReport(step: k)
        sequencer.receive(report.bytes, from: dataServer, now: now)

        // Storage: persist the group-commit record (here: read its bytes), then report the ticket.
        let writeCount = sequencer.output.storage.writes.count
        precondition(writeCount == 1, "expected one assignment record per report")
        let ticket = sequencer.output.storage.writes[writeCount - 1].ticket
        bytesPersisted &+= sequencer.output.storage.withBytes(of: 0) { $0.count }
        sequencer.output.storage.removeAll()
        sequencer.persisted(ticket, now: now)

        // Two of three commit servers store the assignment and ack it: the commit quorum.
        let through = k * seqsPerStep
        for i in 0..<acks.count {
            acks[i].patch(AckLayout.storedThrough, through)
            sequencer.receive(acks[i].bytes, from: commitServers[i], now: now)
        }
        precondition(sequencer.committedThrough == SequenceNumber(through), "sequencer stopped committing")

        // Send: 3 submits and 1 commit.
        datagramsSent &+= sequencer.output.outbox.entries.count
        sequencer.output.outbox.removeAll()
        sequencer.output.events.removeAll(keepingCapacity: true)
        runsCommitted &+= Self.senders
    }

    public func runIteration() {
        for _ in 0..<Self.reportsPerIteration { runStep() }
    }

    public func verify(name: String) {
        let expected = step * seqsPerStep
        precondition(sequencer.committedThrough == SequenceNumber(expected),
                     "\(name): committed \(sequencer.committedThrough), expected #\(expected)")
        precondition(runsCommitted == Int(step) * Self.senders)
        precondition(datagramsSent == Int(step) * 4, "\(name): \(datagramsSent) datagrams for \(step) reports")
        let c = sequencer.output.counters
        precondition(c.droppedMalformed == 0 && c.droppedUnexpectedKind == 0 && c.droppedStaleEpoch == 0
            && sequencer.output.outbox.droppedFull == 0 && sequencer.output.outbox.droppedEncode == 0,
                     "\(name): the sequencer dropped input or output")
        precondition(step > 0 && bytesPersisted > 0)
    }
}


// MARK: - Member

/// The member's delivery path: a data datagram of consecutive counters, then the commit that
/// binds them at consecutive sequence numbers; every message is delivered to the application.
public final class MemberLoad {
    static let messagesPerDatagram = 20
    static let datagramsPerIteration = unitsPerIteration / messagesPerDatagram
    static let bodyBytes = 64

    var member: Member<ReferenceApplication>
    var input = DataAndCommit(messages: MemberLoad.messagesPerDatagram, bodyBytes: MemberLoad.bodyBytes, fill: 7)
    let senderAddress = PeerAddress(20)
    let sequencerAddress = PeerAddress(1)
    let now = Instant(nanoseconds: 1_000_000_000)
    var step: UInt64 = 0
    var delivered = 0

    public init() {
        precondition(Self.messagesPerDatagram * Self.datagramsPerIteration == unitsPerIteration)
        member = Member(config: group, node: NodeId(10), incarnation: 1, seed: 1, now: now)
    }

    deinit { input.deallocate() }

    @inline(__always) func runStep() {
        step += 1
        input.patch(step: step)
        member.receive(input.data.bytes, from: senderAddress, now: now)
        member.receive(input.commit.bytes, from: sequencerAddress, now: now)
        var count = 0
        for i in 0..<member.output.events.count {
            if case .delivered = member.output.events[i] { count += 1 }
        }
        precondition(count == Self.messagesPerDatagram, "member delivered \(count) of \(Self.messagesPerDatagram)")
        delivered &+= count
        member.output.events.removeAll(keepingCapacity: true)
        member.output.outbox.removeAll()
    }

    public func runIteration() {
        for _ in 0..<Self.datagramsPerIteration { runStep() }
    }

    public func verify() {
        let expected = step * UInt64(Self.messagesPerDatagram)
        precondition(step > 0 && member.deliveredThrough == SequenceNumber(expected) && delivered == Int(expected)
            && member.app.deliveredCount == expected, "Member-deliver: delivered \(member.deliveredThrough)")
        let c = member.output.counters
        precondition(c.droppedMalformed == 0 && c.droppedUnexpectedKind == 0 && c.droppedStoreFull == 0,
                     "Member-deliver: the member dropped input")
    }
}

/// The embedded member's delivery path (`SeqcastMember.poll`, without its sockets): the same
/// datagrams as `MemberLoad`, delivered through the library's application to a handler that
/// borrows each message and reads its bytes, within a poll's allowance. Unit: one message.
public final class EmbeddedMemberLoad {
    var member: Member<EmbeddedApplication>
    var input = DataAndCommit(messages: MemberLoad.messagesPerDatagram, bodyBytes: MemberLoad.bodyBytes, fill: 7)
    let senderAddress = PeerAddress(20)
    let sequencerAddress = PeerAddress(1)
    let now = Instant(nanoseconds: 1_000_000_000)
    var step: UInt64 = 0
    var handed = 0
    var byteSum: UInt64 = 0

    public init() {
        member = Member(config: group, node: NodeId(10), incarnation: 1, seed: 1, now: now, app: EmbeddedApplication(state: nil))
        member.digestsDeliveredBodies = false
        member.deliveryAllowance = 0
    }

    deinit { input.deallocate() }

    @inline(__always) func runStep() {
        step += 1
        input.patch(step: step)
        member.receive(input.data.bytes, from: senderAddress, now: now)
        let n = commitThenHand { d in self.byteSum &+= UInt64(d.bytes[d.bytes.count - 1]) &+ d.sequence }
        precondition(n == MemberLoad.messagesPerDatagram, "the handler got \(n) of \(MemberLoad.messagesPerDatagram)")
        handed &+= n
        member.output.events.removeAll(keepingCapacity: true)
        member.output.outbox.removeAll()
    }

    /// What `SeqcastMember.poll` does around the network's input: the caller's (non-escaping)
    /// handler is set and the allowance raised only while the commit is received. Not inlined,
    /// as poll is not into an application: the handler stays the caller's non-escaping closure.
    @inline(never) func commitThenHand(_ handler: (Delivery) -> Void) -> Int {
        withoutActuallyEscaping(handler) { h in
            member.withApplication {
                $0.handler = h
                $0.handed = 0
            }
            member.deliveryAllowance = MemberLoad.messagesPerDatagram
            member.receive(input.commit.bytes, from: sequencerAddress, now: now)
            member.deliveryAllowance = 0
            return member.withApplication {
                $0.handler = nil
                return $0.handed
            }
        }
    }

    public func runIteration() {
        for _ in 0..<MemberLoad.datagramsPerIteration { runStep() }
    }

    public func verify() {
        let expected = step * UInt64(MemberLoad.messagesPerDatagram)
        precondition(step > 0 && member.deliveredThrough == SequenceNumber(expected) && handed == Int(expected)
            && member.app.deliveredCount == expected && byteSum > 0, "Embedded-deliver: delivered \(member.deliveredThrough)")
    }
}


// MARK: - Data server

/// The data server's hot loop: a data datagram of 20 messages in (stored), the commit that
/// binds them, its reports to the sequencer as the report timer allows (time advances 50 µs
/// per datagram), and every tenth datagram a heartbeat whose checkpoint lies 5 datagrams
/// behind, so stored bodies are collected and the store stays bounded. Unit: one message
/// stored, reported, committed and collected. Collection follows each heartbeat at once
/// (`collectionGrace` 0): the rig measures the per-message path, and a grace would only move
/// collection to a tick and let the store hold 30 ms of bodies (600 datagrams here).
public final class DataServerLoad {
    static let messagesPerDatagram = 20
    static let datagramsPerIteration = unitsPerIteration / messagesPerDatagram
    static let bodyBytes = 64
    static let heartbeatEvery: UInt64 = 10

    var server: DataServer
    var input = DataAndCommit(messages: DataServerLoad.messagesPerDatagram, bodyBytes: DataServerLoad.bodyBytes,
                              fill: 5)
    var heartbeat = DatagramBuffer(capacity: 128)
    let senderAddress = PeerAddress(20)
    let sequencerAddress = PeerAddress(1)
    var now = Instant(nanoseconds: 1_000_000_000)
    var step: UInt64 = 0
    var reports = 0
    var collected = 0

    public init() {
        precondition(Self.messagesPerDatagram * Self.datagramsPerIteration == unitsPerIteration)
        var config = group
        config.timing.collectionGrace = Nanoseconds(0)
        server = DataServer(config: config, node: NodeId(2), incarnation: 1, seed: 1, now: now)
        heartbeat.encode(makeHeader(.heartbeat, from: group.sequencer)) { w throws(EncodeError) in
            try Heartbeat(committedThrough: .zero, checkpointSeq: .zero, checkpointBytes: 64).encode(into: &w)
        }
    }

    deinit {
        input.deallocate()
        heartbeat.deallocate()
    }

    @inline(__always) func drain() {
        for i in 0..<server.output.outbox.entries.count where server.output.outbox.entries[i].kind == .dataReport {
            reports &+= 1
        }
        for i in 0..<server.output.events.count {
            if case .collected = server.output.events[i] { collected &+= 1 }
        }
        server.output.outbox.removeAll()
        server.output.events.removeAll(keepingCapacity: true)
        server.output.storage.removeAll()
    }

    @inline(__always) func runStep() {
        step += 1
        now = now + .micros(50)
        input.patch(step: step)
        server.receive(input.data.bytes, from: senderAddress, now: now)
        drain()
        if let d = server.nextDeadline, d <= now {
            server.tick(now: now)
            drain()
        }
        server.receive(input.commit.bytes, from: sequencerAddress, now: now)
        drain()
        if step % Self.heartbeatEvery == 0 {
            let n = UInt64(Self.messagesPerDatagram)
            heartbeat.patch(CommitServerLoad.heartbeatCommitted, step * n)
            heartbeat.patch(CommitServerLoad.heartbeatCheckpoint, (step - 5) * n)
            server.receive(heartbeat.bytes, from: sequencerAddress, now: now)
            drain()
        }
    }

    public func runIteration() {
        for _ in 0..<Self.datagramsPerIteration { runStep() }
    }

    public func verify() {
        let n = UInt64(Self.messagesPerDatagram)
        precondition(step >= 20 && reports > 0, "DataServer-storeReport: \(reports) reports after \(step) datagrams")
        precondition(collected > 0 && server.storedCount <= Int(10 * n), "DataServer-storeReport: store not collected "
            + "(\(server.storedCount) held, \(collected) collected)")
        let c = server.output.counters
        precondition(c.droppedMalformed == 0 && c.droppedUnexpectedKind == 0 && c.droppedStoreFull == 0,
                     "DataServer-storeReport: the server dropped input")
    }
}

// MARK: - Commit server

/// The commit server's hot loop: a submit of 20 runs (64 messages each) in, one record out,
/// `persisted`, one cumulative ack; every tenth submit a heartbeat announces the frontier and a
/// checkpoint behind it, so the log is truncated and stays bounded. Unit: one run stored and
/// acknowledged.
public final class CommitServerLoad {
    static let runsPerSubmit = 20
    static let submitsPerIteration = unitsPerIteration / runsPerSubmit
    public static let messagesPerRun: UInt64 = 64
    static let heartbeatEvery: UInt64 = 10
    /// Heartbeat: u64 committedThrough, u64 checkpointSeq, u64 checkpointBytes.
    static let heartbeatCommitted = Header.byteCount
    static let heartbeatCheckpoint = Header.byteCount + 8

    var server: CommitServer
    var submit = DatagramBuffer(capacity: 1472)
    var heartbeat = DatagramBuffer(capacity: 128)
    let sequencerAddress = PeerAddress(1)
    let now = Instant(nanoseconds: 1_000_000_000)
    var step: UInt64 = 0
    var acks = 0
    var records = 0

    public init() {
        precondition(Self.runsPerSubmit * Self.submitsPerIteration == unitsPerIteration)
        server = CommitServer(config: group, node: NodeId(5), now: now)
        let runs = (0..<Self.runsPerSubmit).map { i in
            SequenceRun(firstSeq: SequenceNumber(1 + UInt64(i) * Self.messagesPerRun), count: UInt32(Self.messagesPerRun),
                        content: .messages(sender: SenderId(node: NodeId(100 + UInt32(i)), incarnation: 1), firstCounter: 1))
        }
        submit.encode(makeHeader(.commitSubmit, from: group.sequencer)) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: .zero, runs: runs, into: &w)
        }
        heartbeat.encode(makeHeader(.heartbeat, from: group.sequencer)) { w throws(EncodeError) in
            try Heartbeat(committedThrough: .zero, checkpointSeq: .zero, checkpointBytes: 64).encode(into: &w)
        }
        // Check the patched offsets against the decoder once.
        patchSubmit(step: 3)
        guard case .commitSubmit(let b)? = try? Datagram.decode(submit.bytes).message,
              let first = Array(b.runs).first, first.firstSeq == SequenceNumber(2 * seqsPerStep + 1),
              first.messageId(at: first.firstSeq)?.counter == 2 * Self.messagesPerRun + 1
        else { fatalError("submit layout") }
        heartbeat.patch(Self.heartbeatCommitted, 9)
        heartbeat.patch(Self.heartbeatCheckpoint, 4)
        guard case .heartbeat(let h)? = try? Datagram.decode(heartbeat.bytes).message,
              h.committedThrough == SequenceNumber(9), h.checkpointSeq == SequenceNumber(4) else { fatalError("heartbeat layout") }
    }

    deinit {
        submit.deallocate()
        heartbeat.deallocate()
    }

    var seqsPerStep: UInt64 { UInt64(Self.runsPerSubmit) * Self.messagesPerRun }

    /// Submit `k` binds numbers (k-1)·1280+1 … k·1280: run i holds sender i's counters
    /// (k-1)·64+1 … k·64.
    @inline(__always) func patchSubmit(step k: UInt64) {
        for i in 0..<Self.runsPerSubmit {
            submit.patch(BatchLayout.firstSeq(i), (k - 1) * seqsPerStep + 1 + UInt64(i) * Self.messagesPerRun)
            submit.patch(BatchLayout.firstCounter(i), (k - 1) * Self.messagesPerRun + 1)
        }
    }

    /// Persists whatever the server queued (one fsync: the last ticket), as a driver does.
    @inline(__always) func persistAll() {
        let n = server.output.storage.writes.count
        guard n > 0 else { return }
        let ticket = server.output.storage.writes[n - 1].ticket
        records &+= n
        server.output.storage.removeAll()
        server.persisted(ticket, now: now)
    }

    @inline(__always) func runStep() {
        step += 1
        patchSubmit(step: step)
        server.receive(submit.bytes, from: sequencerAddress, now: now)
        persistAll()
        for i in 0..<server.output.outbox.entries.count where server.output.outbox.entries[i].kind == .commitAck {
            acks &+= 1
        }
        server.output.outbox.removeAll()
        if step % Self.heartbeatEvery == 0 {
            // The sequencer committed everything so far; a checkpoint stands 5 submits behind.
            heartbeat.patch(Self.heartbeatCommitted, step * seqsPerStep)
            heartbeat.patch(Self.heartbeatCheckpoint, (step - 5) * seqsPerStep)
            server.receive(heartbeat.bytes, from: sequencerAddress, now: now)
            persistAll()
            server.output.outbox.removeAll()
        }
    }

    public func runIteration() {
        for _ in 0..<Self.submitsPerIteration { runStep() }
    }

    public func verify() {
        precondition(step > 0 && server.storedThrough == SequenceNumber(step * seqsPerStep),
                     "CommitServer-ack: stored through \(server.storedThrough) after \(step) submits")
        precondition(acks == Int(step), "CommitServer-ack: \(acks) acks for \(step) submits")
        precondition(step < 20 || server.lowWater > .zero, "CommitServer-ack: the log was never truncated")
        let c = server.output.counters
        precondition(c.droppedMalformed == 0 && c.droppedUnexpectedKind == 0 && c.droppedInconsistent == 0
            && c.droppedStaleEpoch == 0, "CommitServer-ack: the server dropped input")
    }
}

// MARK: - Wire

public final class WireLoad {
    public static let runCount = 16
    let runs: [SequenceRun]
    var buffer = DatagramBuffer(capacity: 1472)
    let header = makeHeader(.commit, from: group.sequencer)
    var checksum: UInt64 = 0
    var operations = 0

    public init() {
        runs = (0..<Self.runCount).map { i in
            SequenceRun(firstSeq: SequenceNumber(UInt64(1 + i * 64)), count: 64,
                        content: .messages(sender: SenderId(node: NodeId(100 + UInt32(i)), incarnation: 1),
                                           firstCounter: 1))
        }
    }

    deinit { buffer.deallocate() }

    @inline(__always) func encodeDecode(_ committed: UInt64) {
        buffer.encode(header) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: SequenceNumber(committed), runs: runs, into: &w)
        }
        let d: Datagram
        do {
            d = try Datagram.decode(buffer.bytes)
        } catch {
            fatalError("decode failed: \(error)")
        }
        guard case .commit(let batch) = d.message else { fatalError("not a commit") }
        var sum = batch.committedThrough.rawValue
        for run in batch.runs { sum &+= run.firstSeq.rawValue &+ UInt64(run.count) }
        checksum &+= sum
    }

    public func runIteration() {
        for i in 0..<unitsPerIteration { encodeDecode(UInt64(operations + i)) }
        operations += unitsPerIteration
        rigBlackHole(checksum)
    }

    public func verify() {
        precondition(operations > 0 && buffer.count == Header.byteCount + RunBatch.fixedByteCount
            + Self.runCount * SequenceRun.byteCount, "Wire-encodeDecode: wrong datagram size \(buffer.count)")
    }
}



// MARK: - catalogue

/// A rig ready to run: one iteration of work (`unitsPerIteration` units) and the check that it
/// made the expected progress.
public struct RigRun {
    public let iterate: () -> Void
    public let verify: () -> Void
}

/// One entry of the catalogue the benchmarks and the performance gate both read.
public struct RigEntry: Sendable {
    public let name: String
    /// Messages one unit of work carries (a run of 64 messages, one delivered message, …).
    public let messagesPerUnit: Int
    /// The benchmark's time budget.
    public let maxSeconds: Int64
    public let make: @Sendable () -> RigRun
}

/// Every hot-path rig, by name.
public let rigCatalogue: [RigEntry] = [
    RigEntry(name: "Sequencer-assignRuns-64msg", messagesPerUnit: 64, maxSeconds: 8) {
        let r = SequencerLoad(messagesPerRun: 64)
        return RigRun(iterate: r.runIteration, verify: { r.verify(name: "Sequencer-assignRuns-64msg") })
    },
    RigEntry(name: "Sequencer-assignRuns-1msg", messagesPerUnit: 1, maxSeconds: 8) {
        let r = SequencerLoad(messagesPerRun: 1)
        return RigRun(iterate: r.runIteration, verify: { r.verify(name: "Sequencer-assignRuns-1msg") })
    },
    RigEntry(name: "Member-deliver", messagesPerUnit: 1, maxSeconds: 8) {
        let r = MemberLoad()
        return RigRun(iterate: r.runIteration, verify: r.verify)
    },
    RigEntry(name: "Embedded-deliver", messagesPerUnit: 1, maxSeconds: 8) {
        let r = EmbeddedMemberLoad()
        return RigRun(iterate: r.runIteration, verify: r.verify)
    },
    RigEntry(name: "DataServer-storeReport", messagesPerUnit: 1, maxSeconds: 8) {
        let r = DataServerLoad()
        return RigRun(iterate: r.runIteration, verify: r.verify)
    },
    RigEntry(name: "CommitServer-ack", messagesPerUnit: Int(CommitServerLoad.messagesPerRun), maxSeconds: 8) {
        let r = CommitServerLoad()
        return RigRun(iterate: r.runIteration, verify: r.verify)
    },
    // One unit is a commit datagram of 16 runs of 64 messages.
    RigEntry(name: "Wire-encodeDecode", messagesPerUnit: WireLoad.runCount * 64, maxSeconds: 5) {
        let r = WireLoad()
        return RigRun(iterate: r.runIteration, verify: r.verify)
    },
    // One unit is a full data datagram sealed by a member and opened by a server (issue 14).
    RigEntry(name: "Auth-sealOpen-1416B", messagesPerUnit: 1, maxSeconds: 5) {
        let r = AuthLoad()
        return RigRun(iterate: r.runIteration, verify: r.verify)
    },
]
