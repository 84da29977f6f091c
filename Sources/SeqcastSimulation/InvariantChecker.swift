import SeqcastCore
import SeqcastWire

/// Checks protocol.md §7's safety invariants from what the nodes emit, after every step. It
/// sees every datagram a server sends, every storage sync and every role event, and keeps the
/// ground truth: what was published, what was committed, the reference application's digest
/// at every committed number.
public struct InvariantChecker {
    public struct Violation: Equatable, CustomStringConvertible {
        public var invariant: String
        public var detail: String
        public var description: String { "\(invariant): \(detail)" }
    }

    let config: GroupConfig
    public private(set) var violations: [Violation] = []

    /// What each published message was: body digest and logical timestamp.
    var published: [MessageId: (digest: UInt64, ts: SequenceNumber)] = [:]
    /// S1: every binding ever committed.
    var committed: [UInt64: SequenceRun.Content] = [:]
    /// The epoch that first committed each number (a deposed older one may still submit it
    /// otherwise; its submits are fenced, S11).
    var committedIn: [UInt64: Epoch] = [:]
    var committedAt: [MessageId: UInt64] = [:]
    /// Contiguous committed frontier and the reference digest after each number (S12, S13).
    public private(set) var frontier: UInt64 = 0
    var referenceDigest: [UInt64] = [ReferenceApplication().stateDigest]
    /// S7, S8: every binding ever submitted with the epoch that submitted it, and the highest
    /// submitted number.
    var submitted: [UInt64: (content: SequenceRun.Content, epoch: Epoch)] = [:]
    var submittedMax: UInt64 = 0
    /// S6: per sender, per data server, the highest prefix reported by the server's current
    /// incarnation (a restarted data server's memory is gone: what it held before is no copy).
    var reported: [SenderId: [NodeId: UInt64]] = [:]
    var reporterIncarnation: [NodeId: UInt32] = [:]
    /// The highest number any assignment record covered.
    var assignedMax: UInt64 = 0
    /// S5: per epoch, per commit server, the highest number acknowledged in it, and the
    /// bindings its durable records hold (what its ack vouches for). S11: each server's highest
    /// epoch (promised by a seal answer or acked in).
    var acked: [Epoch: [NodeId: UInt64]] = [:]
    var serverEpoch: [NodeId: Epoch] = [:]
    /// Messages committed at a second number in a later epoch (S15 decides them).
    public private(set) var duplicatesCommitted = 0
    /// The epochs whose commits bound something new.
    public private(set) var epochsCommitted: Set<Epoch> = []
    var stored: [NodeId: [UInt64: SequenceRun.Content]] = [:]
    /// S10: the highest frontier each epoch's heartbeats announced.
    var heartbeatMax: [Epoch: UInt64] = [:]
    var checkpointMax: UInt64 = 0
    /// S14: terminal numbers of the checkpoints checkpoint servers actually took (and S12
    /// verified): a collection, a report or a "collected" answer must name one of these.
    var taken: Set<UInt64> = []
    var takenMax: UInt64 = 0
    /// Per member incarnation: last delivered number and per-sender FIFO position. No set of
    /// delivered ids: a member delivers numbers in increasing order, and each id only at its
    /// first binding (`committedAt`), so it cannot deliver one twice without failing a check;
    /// what a member costs the checker stays one entry per sender, not one per message (a
    /// simulated group of a thousand members).
    struct MemberStream {
        var last: UInt64
        var counters: [SenderId: UInt64] = [:]
    }
    var members: [NodeId: MemberStream] = [:]
    /// Scale runs: the simulated time now (set by the simulator before each event), and when
    /// each number's first commit was sent (commit-to-delivery latency is measured from it).
    public var recordsLatency = false
    public var clockNanos: UInt64 = 0
    public private(set) var firstCommitNanos: [UInt64: UInt64] = [:]

    public init(config: GroupConfig) { self.config = config }

    mutating func fail(_ invariant: String, _ detail: String) {
        if violations.count < 20 { violations.append(Violation(invariant: invariant, detail: detail)) }
    }

    // MARK: ground truth

    public mutating func published(_ id: MessageId, bodyDigest: UInt64, logicalTs: SequenceNumber) {
        if let prior = published[id], prior.digest != bodyDigest { fail("S4", "message id \(id) reused for another body") }
        published[id] = (bodyDigest, logicalTs)
    }

    /// A commit server's record became durable: the bindings it holds from now on.
    public mutating func persisted(_ record: [UInt8], by node: NodeId) {
        guard let runs = AssignmentRecord.runs(in: record) else { return }  // a low-water record
        for run in runs {
            for k in 0..<UInt64(run.count) {
                let s = run.firstSeq.rawValue + k
                stored[node, default: [:]][s] = run.slice(from: SequenceNumber(s), through: SequenceNumber(s)).content
            }
        }
    }

    /// A datagram reached the sequencer. S6 counts the data reports the sequencer actually
    /// received (a lost report proves no copy to it), by the reporting server's incarnation: a
    /// report of a newer incarnation (the server restarted, its memory is gone) clears what the
    /// older one reported, exactly when the sequencer learns of the restart.
    public mutating func receivedBySequencer(_ bytes: UnsafeRawBufferPointer) {
        guard let d = try? Datagram.decode(Self.roleBytes(bytes)), case .dataReport(let report) = d.message,
              config.dataServers.contains(d.header.source) else { return }
        let node = d.header.source
        if let known = reporterIncarnation[node], report.incarnation < known { return }  // a stale report
        if report.incarnation > (reporterIncarnation[node] ?? 0) {
            if reporterIncarnation[node] != nil {
                for s in reported.keys { reported[s]?[node] = nil }
            }
            reporterIncarnation[node] = report.incarnation
        }
        for e in report.entries { reported[e.sender, default: [:]][node] = max(reported[e.sender]?[node] ?? 0, e.heldThrough) }
    }

    /// The sequencer wrote an assignment record: the moment it numbered those runs. K holders
    /// (as reported to it, `receivedBySequencer`) are needed when a number is first assigned; a
    /// later record of the same runs (after a restart) is not a new assignment.
    public mutating func assigned(_ record: [UInt8]) {
        guard let runs = AssignmentRecord.runs(in: record) else { return }  // the sender table
        for run in runs where run.lastSeq.rawValue > assignedMax {
            assignedMax = run.lastSeq.rawValue
            guard case .messages(let sender, let first) = run.content else { continue }
            let last = first + UInt64(run.count) - 1
            let holders = reported[sender]?.values.filter { $0 >= last }.count ?? 0
            if holders < config.reportQuorum {
                fail("S6", "\(sender) counters through \(last) numbered with \(holders) reports (K=\(config.reportQuorum))")
            }
        }
    }

    // MARK: datagrams sent by servers

    /// What the role wrote, without an authentication trailer (the checker reads the protocol;
    /// the node's tags are checked by the receiving nodes).
    static func roleBytes(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if case .framed(_, let length) = AuthTrailer.split(bytes) { return UnsafeRawBufferPointer(rebasing: bytes[0..<length]) }
        return bytes
    }

    /// Inspects a datagram a node sent. `syncedKeyMax` is the sender's highest durable record key.
    public mutating func sent(_ bytes: UnsafeRawBufferPointer, by node: NodeId, syncedKeyMax: UInt64) {
        guard let d = try? Datagram.decode(Self.roleBytes(bytes)) else { return fail("wire", "\(node) sent an undecodable datagram") }
        switch d.message {
        case .commitSubmit(let batch):
            for run in batch.runs { checkSubmitted(run, epoch: d.header.epoch, syncedKeyMax: syncedKeyMax) }
        case .commit(let batch):
            for run in batch.runs { checkCommitted(run, epoch: d.header.epoch) }
        case .heartbeat(let hb):
            let s = hb.committedThrough.rawValue
            if s > frontier { fail("S10", "heartbeat says \(s) but the committed frontier is \(frontier)") }
            // Within an epoch (§7 S10): a deposed sequencer that has not heard of the newer epoch
            // still announces its own, lower, true frontier.
            let e = d.header.epoch
            if s < heartbeatMax[e] ?? 0 { fail("S10", "heartbeat fell from \(heartbeatMax[e] ?? 0) to \(s) (\(node) in \(e))") }
            heartbeatMax[e] = max(heartbeatMax[e] ?? 0, s)
        case .dataReport:
            // Counted when the sequencer receives it (`receivedBySequencer`).
            guard config.dataServers.contains(node) else { return fail("S6", "\(node) sent a data report but is no data server") }
        case .commitAck(let ack):
            guard config.commitServers.contains(node) else { return fail("S5", "\(node) sent a commit ack but is no commit server") }
            let s = ack.storedThrough.rawValue
            if s > syncedKeyMax { fail("S5", "\(node) acked \(s) with only \(syncedKeyMax) durable") }
            let e = d.header.epoch
            if let promised = serverEpoch[node], promised > e { fail("S11", "\(node) acked in \(e) after promising \(promised)") }
            serverEpoch[node] = max(serverEpoch[node] ?? e, e)
            acked[e, default: [:]][node] = max(acked[e]?[node] ?? 0, s)
        case .sealReply where config.commitServers.contains(node):
            let e = d.header.epoch
            serverEpoch[node] = max(serverEpoch[node] ?? e, e)  // a seal answer: its promise is durable
        case .idReply(let reply):
            for run in reply.batch.runs {
                for k in 0..<UInt64(run.count) {
                    let s = run.firstSeq.rawValue + k
                    guard let c = committed[s] else { fail("S5b", "\(node) answered \(s) which is not committed"); break }
                    if !same(c, run, at: s) { fail("S5b", "\(node) answered \(s) differently from its commit") }
                }
            }
        case .checkpointReport(let r):
            let t = r.terminalSeq.rawValue
            if t > 0, !taken.contains(t) { fail("S14", "\(node) reported a checkpoint at \(t) that no checkpoint server took") }
            checkpointMax = max(checkpointMax, t)
        case .fetchMiss(let miss) where miss.reason == .collected:
            // A member told "collected" must find a checkpoint covering what it asked for.
            for k in 0..<UInt64(min(miss.count, 4_096)) {
                let id = MessageId(sender: miss.sender, counter: miss.firstCounter &+ k)
                if let s = committedAt[id], s > takenMax {
                    fail("S14", "\(node) answered \(id) (committed at \(s)) as collected, but no checkpoint covers it "
                         + "(latest taken \(takenMax))")
                    break
                }
            }
        default:
            break
        }
    }

    /// Whether `run` binds `seq` to the same thing as `content` (a binding at that number).
    func same(_ content: SequenceRun.Content, _ run: SequenceRun, at seq: UInt64) -> Bool {
        content == run.slice(from: SequenceNumber(seq), through: SequenceNumber(seq)).content
    }

    mutating func checkSubmitted(_ run: SequenceRun, epoch: Epoch, syncedKeyMax: UInt64) {
        if run.lastSeq.rawValue > syncedKeyMax {
            fail("S5", "submit reveals \(run.lastSeq) before the sequencer persisted it (durable through \(syncedKeyMax))")
        }
        if run.firstSeq.rawValue > submittedMax + 1 { fail("S7", "submit \(run) skips numbers after \(submittedMax)") }
        for k in 0..<UInt64(run.count) {
            let s = run.firstSeq.rawValue + k
            let c = run.slice(from: SequenceNumber(s), through: SequenceNumber(s)).content
            // Another epoch may bind an uncommitted number anew: a later one whose merge found
            // no majority member holding it, or a deposed older one still talking (its submits
            // are fenced: S11). A committed number never changes, nor anything within an epoch.
            let rebindsCommitted = committed[s].map { $0 != c } == true && epoch >= (committedIn[s] ?? .none)
            if let prior = submitted[s], prior.content != c, prior.epoch == epoch || rebindsCommitted {
                fail("S8", "number \(s) re-submitted with a different binding (\(prior.epoch) -> \(epoch))")
            }
            if submitted[s].map({ $0.epoch <= epoch }) ?? true { submitted[s] = (c, epoch) }
        }
        submittedMax = max(submittedMax, run.lastSeq.rawValue)
    }

    mutating func checkCommitted(_ run: SequenceRun, epoch: Epoch) {
        // Acks of the commit's own epoch: a server acks in an epoch only before it promises a
        // newer one (S11 above), so a late commit of an older epoch stands on acks its seal saw.
        let ackers = (acked[epoch] ?? [:]).filter { $0.value >= run.lastSeq.rawValue }.map(\.key)
        if ackers.count < config.commitQuorum {
            fail("S5", "commit of \(run) with \(ackers.count) commit servers' acks (Q=\(config.commitQuorum))")
        }
        for k in 0..<UInt64(run.count) {
            let s = run.firstSeq.rawValue + k
            let c = run.slice(from: SequenceNumber(s), through: SequenceNumber(s)).content
            if let prior = committed[s] {
                if prior != c { fail("S1", "number \(s) committed to two bindings") }
                continue
            }
            epochsCommitted.insert(epoch)
            // An ack vouches for what the server durably holds: Q of them must hold this binding.
            let holding = ackers.filter { stored[$0]?[s] == c }.count
            if ackers.count >= config.commitQuorum, holding < config.commitQuorum {
                fail("S5", "number \(s) committed as \(c) but only \(holding) acking commit servers durably hold it "
                     + "(Q=\(config.commitQuorum))")
            }
            committed[s] = c
            committedIn[s] = epoch
            if recordsLatency { firstCommitNanos[s] = clockNanos }
            if case .messages(let sender, let first) = run.content {
                let id = MessageId(sender: sender, counter: first + k)
                // Within an epoch nothing binds one message to two numbers. Across a fail-over it
                // can (a standby's view of a sender lagged, §5.3-6): every member then skips the
                // later number (S15; delivering both fails S4, skipping unevenly fails S2/S3).
                if let other = committedAt[id], other != s {
                    if committedIn[other] == epoch { fail("S1", "\(id) committed at \(other) and at \(s) in \(epoch)") }
                    // A duplicate too lies within L of its timestamp: forgetting incarnations
                    // (`StreamTables`) relies on it.
                    if let p = published[id], !(p.ts.rawValue < s && s <= p.ts.rawValue + config.lifetime) {
                        fail("S9", "\(id) with timestamp \(p.ts) committed again at \(s) (first at \(other), L=\(config.lifetime))")
                    }
                    duplicatesCommitted += 1
                    continue
                }
                committedAt[id] = s
                if let p = published[id] {
                    if !(p.ts.rawValue < s && s <= p.ts.rawValue + config.lifetime) {
                        fail("S9", "\(id) with timestamp \(p.ts) committed at \(s) (L=\(config.lifetime))")
                    }
                } else {
                    fail("S4", "committed \(id) that nobody published")
                }
            }
        }
        advanceReference()
    }

    /// The checkpoint tables delivering 1…t from scratch produces: per sender incarnation the
    /// highest counter delivered (or ended) and the numbers of its last binding and last message
    /// binding, the ended streams, and the interval in force; at every checkpoint number, an
    /// incarnation goes once another incarnation of its node has a message bound more than L
    /// after its last binding (`StreamTables`, written again here from its rule).
    public func expectedTablesDigest(through t: UInt64) -> UInt64 {
        var delivered: [SenderId: DeliveredStream] = [:]
        var ended: [SenderId: UInt64] = [:]
        var interval = config.checkpointInterval
        var s: UInt64 = 1
        while s <= t, let c = committed[s] {
            switch c {
            case .messages(let sender, let counter):
                delivered[sender] = DeliveredStream(counter: max(delivered[sender]?.counter ?? 0, counter), lastSeq: s,
                                                    lastMessageSeq: s)
            case .endOfStream(let sender, let last):
                delivered[sender] = DeliveredStream(counter: max(delivered[sender]?.counter ?? 0, last), lastSeq: s,
                                                    lastMessageSeq: delivered[sender]?.lastMessageSeq ?? 0)
                ended[sender] = last
            case .checkpointInterval(let n): interval = n
            case .noop: break
            }
            if s % interval == 0 {
                let before = delivered
                for (sender, d) in before {
                    let later = before.filter { $0.key.node == sender.node && $0.key != sender }
                        .map(\.value.lastMessageSeq).max() ?? 0
                    if later > d.lastSeq + config.lifetime {
                        delivered[sender] = nil
                        ended[sender] = nil
                    }
                }
            }
            s += 1
        }
        return CheckpointTables.digest(interval: interval, delivered: delivered.map { ($0.key, $0.value) },
                                       ended: ended.map { ($0.key, $0.value) })
    }

    mutating func advanceReference() {
        while let c = committed[frontier + 1] {
            frontier += 1
            var d = referenceDigest[referenceDigest.count - 1]
            // A message's second number (a fail-over's duplicate) is skipped, as members skip it.
            if case .messages(let sender, let counter) = c, let p = published[MessageId(sender: sender, counter: counter)],
               committedAt[MessageId(sender: sender, counter: counter)] == frontier {
                d = ReferenceApplication.step(d, seq: SequenceNumber(frontier), id: MessageId(sender: sender, counter: counter),
                                              bodyDigest: p.digest)
            }
            referenceDigest.append(d)
        }
    }

    // MARK: role events

    public mutating func event(_ e: RoleEvent, at node: NodeId) {
        switch e {
        case .delivered(let seq, let id, let bodyDigest, let stateDigest):
            delivered(seq: seq.rawValue, id: id, bodyDigest: bodyDigest, stateDigest: stateDigest, member: node)
        case .controlApplied(let seq, let run):
            advanceMember(node, to: seq.rawValue)
            if committed[seq.rawValue] != run.content {
                fail("S2", "\(node) applied \(run) at \(seq), committed binding is \(String(describing: committed[seq.rawValue]))")
            }
        case .checkpointTaken(let t, _, _, let stateDigest, let tablesDigest):
            if t.rawValue > frontier || referenceDigest[Int(t.rawValue)] != stateDigest {
                fail("S12", "\(node)'s checkpoint at \(t) does not match delivering 1…\(t) from scratch")
            } else if tablesDigest != expectedTablesDigest(through: t.rawValue) {
                fail("S12", "\(node)'s checkpoint at \(t) carries de-duplication tables (delivered counters, ended "
                     + "streams, interval) other than the committed stream 1…\(t) implies")
            } else {
                taken.insert(t.rawValue)
                takenMax = max(takenMax, t.rawValue)
            }
        case .checkpointInstalled(let t, let stateDigest):
            if t.rawValue > frontier || referenceDigest[Int(t.rawValue)] != stateDigest {
                fail("S13", "\(node) installed a checkpoint at \(t) whose state differs from the reference")
            }
            var m = members[node] ?? MemberStream(last: 0)
            m.last = max(m.last, t.rawValue)
            m.counters = [:]
            members[node] = m
        case .collected(let id, let seq, let checkpointSeq):
            if let s = seq, s > checkpointSeq || s.rawValue > checkpointMax {
                fail("S14", "\(node) deleted \(id) committed at \(s) above checkpoint \(checkpointSeq)")
            } else if seq != nil, !taken.contains(checkpointSeq.rawValue) {
                fail("S14", "\(node) deleted \(id) behind checkpoint \(checkpointSeq), which no checkpoint server took")
            }
            if let s = seq, committedAt[id] != s.rawValue {
                fail("S14", "\(node) deleted \(id) as committed at \(s), but it is committed at \(String(describing: committedAt[id]))")
            }
            if seq == nil, let s = committedAt[id], s > checkpointSeq.rawValue {
                fail("S14", "\(node) deleted committed \(id) (at \(s)) as an orphan")
            }
        case .streamEnded(let sender, let last, let next, let moved, let ts):
            // The same bodies, under new ids: they must be committed as the republished ones.
            for k in 0..<UInt64(moved) {
                guard let p = published[MessageId(sender: sender, counter: last + 1 + k)] else {
                    fail("S4", "\(node) republished \(sender):\(last + 1 + k), which it never published")
                    continue
                }
                published[MessageId(sender: next, counter: 1 + k)] = (p.digest, ts)
            }
        case .sequenced(let id, let seq):
            if committedAt[id] != seq.rawValue {
                fail("S2", "\(node) was told \(id) is at \(seq), committed at \(String(describing: committedAt[id]))")
            }
        }
    }

    /// A crash: a member's restart starts a new delivered stream. (What a crashed data server
    /// reported still counts for S6 as the spec states it: K distinct servers reported the
    /// message before it was numbered. The sequencer forgets a restarted server's column once a
    /// report of its new incarnation arrives; it cannot know of the crash sooner.)
    public mutating func nodeCrashed(_ node: NodeId) {
        members[node] = nil
    }

    mutating func advanceMember(_ node: NodeId, to seq: UInt64) {
        var m = members[node] ?? MemberStream(last: 0)
        // Numbers a member passes without an event: no-ops (a recovery's fill), and a message it
        // already delivered at a lower number (S15: every member skips the same, later one).
        while m.last + 1 < seq, let c = committed[m.last + 1], skippedSilently(c, at: m.last + 1, by: m) { m.last += 1 }
        if seq != m.last + 1 { fail("S3", "\(node) moved to \(seq) after \(m.last)") }
        m.last = seq
        members[node] = m
    }

    func skippedSilently(_ c: SequenceRun.Content, at seq: UInt64, by m: MemberStream) -> Bool {
        switch c {
        case .noop: true
        case .messages(let sender, let counter):
            // A message bound first at another number (S15), or one this member delivered.
            committedAt[MessageId(sender: sender, counter: counter)].map { $0 != seq } ?? false
                || counter <= m.counters[sender] ?? 0
        case .checkpointInterval, .endOfStream: false
        }
    }

    mutating func delivered(seq: UInt64, id: MessageId, bodyDigest: UInt64, stateDigest: UInt64, member: NodeId) {
        advanceMember(member, to: seq)
        guard let c = committed[seq] else { return fail("S5", "\(member) delivered \(seq) before any commit of it") }
        if case .messages(let s, let first) = c, s == id.sender, first == id.counter {} else {
            fail("S2", "\(member) delivered \(id) at \(seq), committed binding is \(c)")
        }
        if published[id]?.digest != bodyDigest { fail("S4", "\(member) delivered \(id) with a body that was not published") }
        // A message bound twice (a fail-over's duplicate, S15) is delivered at its first number.
        if let first = committedAt[id], first != seq {
            fail("S4", "\(member) delivered \(id) at \(seq), but it was first bound at \(first) (delivered twice or out of turn)")
        }
        if let prev = members[member]?.counters[id.sender], prev + 1 != id.counter {
            fail("FIFO", "\(member) delivered \(id) after counter \(prev)")
        }
        // Mutated in place: a copy of the entry would copy its table on every delivery.
        members[member, default: MemberStream(last: seq)].counters[id.sender] = id.counter
        if seq <= frontier, referenceDigest[Int(seq)] != stateDigest {
            fail("S13", "\(member)'s state after \(seq) differs from the reference")
        }
    }


}
