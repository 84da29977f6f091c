import SeqcastCore
import SeqcastWire

/// What one simulated run does: its seed, its length, and the group and faults it draws.
public struct SimulationOptions: Sendable {
    public var seed: UInt64
    /// Steps in all: a step is one delivered datagram, fired timer, completed write or
    /// scheduled fault. The first `faultFraction` of them inject faults; the rest heal and
    /// must converge (liveness).
    public var steps: Int
    public var faultFraction = 0.7
    public var faults = true
    public init(seed: UInt64, steps: Int) {
        self.seed = seed
        self.steps = steps
    }
}

/// The outcome of a run.
public struct SimulationReport: Sendable {
    public var seed: UInt64
    public var steps: Int
    public var violations: [String]
    public var published = 0
    public var committed: UInt64 = 0
    public var delivered = 0
    public var datagramsSent = 0
    public var datagramsDropped = 0
    public var datagramsDuplicated = 0
    public var crashes = 0
    public var partitions = 0
    public var idQueries: UInt64 = 0
    public var fetches: UInt64 = 0
    public var checkpoints = 0
    public var joins = 0
    public var streamsEnded = 0
    public var collected = 0
    public var simulatedMicros: UInt64 = 0
    /// Fault-free steps run after the budget until the group converged (at most 200 ms simulated).
    public var graceSteps = 0
    public var faultSummary: String {
        "simulated=\(simulatedMicros / 1000)ms crashes=\(crashes) partitions=\(partitions) dropped=\(datagramsDropped) duplicated=\(datagramsDuplicated) grace-steps=\(graceSteps)"
    }
}

/// A seeded, deterministic simulation of a whole group (1 sequencer, 3 data servers, 3 commit
/// servers, 2 checkpoint servers, 4 members of which 3 publish and one joins late) over an
/// in-memory network with loss, duplication, reordering, delay and partitions, and
/// crash/restart of any role with storage that loses unsynced writes. After every step the
/// `InvariantChecker` runs; after the fault phase the network heals and the group must
/// converge. TigerBeetle's VOPR and FoundationDB's simulator are the models.
public struct Simulator {
    enum Role {
        case sequencer(Sequencer)
        case commitServer(CommitServer)
        case dataServer(DataServer)
        case member(Member<ReferenceApplication>)
    }
    enum Kind: Equatable { case sequencer, commitServer, dataServer, member, checkpointServer }

    struct Node {
        var id: NodeId
        var kind: Kind
        var role: Role?
        var disk = SimDisk()
        var life: UInt64 = 0
        var generation: UInt64 = 0
        var wakeAt: Instant?
        var incarnation: UInt32 = 1
        var publishes = false
        var everCrashed = false
        var publishedCount = 0
        var spins = 0
    }

    public let options: SimulationOptions
    public let config: GroupConfig
    var prng: Prng
    var nodes: [Node] = []
    var queue = EventQueue()
    var now = Instant.zero
    public private(set) var checker: InvariantChecker
    var report: SimulationReport
    // Fault parameters, drawn from the seed.
    var lossPercent: UInt64
    var duplicatePercent: UInt64
    var delayMaxMicros: UInt64
    var partitioned: Set<Int> = []
    var faultPhase = true
    var dataServerCrashes = 0
    /// Crashes, restarts and partitions, by the step at which they happen.
    var faultPlan: [(step: Int, event: SimEvent)] = []

    public init(options: SimulationOptions) {
        self.options = options
        var prng = Prng(seed: options.seed)
        var config = GroupConfig(sequencer: NodeId(1), dataServers: [NodeId(11), NodeId(12), NodeId(13)],
                                 commitServers: [NodeId(21), NodeId(22), NodeId(23)],
                                 checkpointServers: [NodeId(31), NodeId(32)],
                                 reportQuorum: 1 + Int(prng.below(2)),
                                 // A short lifetime in some runs, so streams end at gaps and
                                 // publishers move to new incarnations (Part 1 §2).
                                 lifetime: [5_000, 400, 100][Int(prng.below(3))], checkpointInterval: 64)
        config.limits.bodySlotsMax = 4096
        config.limits.senderWindowMax = 128
        self.config = config
        checker = InvariantChecker(config: config)
        report = SimulationReport(seed: options.seed, steps: 0, violations: [])
        lossPercent = options.faults ? prng.below(12) : 0
        duplicatePercent = options.faults ? prng.below(5) : 0
        delayMaxMicros = 50 + prng.below(options.faults ? 2_000 : 200)
        self.prng = prng
        buildGroup()
    }

    mutating func buildGroup() {
        func add(_ id: UInt32, _ kind: Kind) { nodes.append(Node(id: NodeId(id), kind: kind)) }
        add(1, .sequencer)
        for id in [11, 12, 13] as [UInt32] { add(id, .dataServer) }
        for id in [21, 22, 23] as [UInt32] { add(id, .commitServer) }
        for id in [31, 32] as [UInt32] { add(id, .checkpointServer) }
        for id in [41, 42, 43, 44] as [UInt32] { add(id, .member) }
        for i in nodes.indices {
            if nodes[i].id.rawValue == 44 {
                // The late joiner: starts a third of the way into the fault phase.
                queue.push(.start(node: i), at: Instant(nanoseconds: 30_000_000 + prng.below(40_000_000)))
                continue
            }
            startRole(i, joining: false)
            if nodes[i].kind == .member, nodes[i].id.rawValue <= 43 {
                nodes[i].publishes = true
                queue.push(.publish(node: i), at: Instant(nanoseconds: prng.below(1_000_000)))
            }
        }
        if options.faults { scheduleFaults() }
    }

    /// Crashes, restarts and partitions during the fault phase, drawn from the seed and placed
    /// by step (not by simulated time, which runs at a rate nobody can predict), spread over the
    /// whole fault phase so they hit a group with history: checkpoints taken, logs truncated,
    /// joins under way. Only the faults the design claims to survive: at most one commit server
    /// down at a time (Q of 3), and a data server only where K = 2 tolerates losing its
    /// memory, once per run.
    mutating func scheduleFaults() {
        let faultSteps = Int(Double(options.steps) * options.faultFraction)
        guard faultSteps > 100 else { return }
        let crashCount = 1 + Int(prng.below(5))
        var commitBusyUntil = 0
        for _ in 0..<crashCount {
            let at = Int(prng.below(UInt64(faultSteps)))
            let down = 50 + Int(prng.below(UInt64(max(faultSteps / 4, 51))))
            var candidates = nodes.indices.filter { nodes[$0].id.rawValue != 44 }
            if config.reportQuorum < 2 || dataServerCrashes >= 1 { candidates.removeAll { nodes[$0].kind == .dataServer } }
            if at < commitBusyUntil { candidates.removeAll { nodes[$0].kind == .commitServer } }
            guard !candidates.isEmpty else { continue }
            let i = candidates[Int(prng.below(UInt64(candidates.count)))]
            if nodes[i].kind == .dataServer { dataServerCrashes += 1 }
            if nodes[i].kind == .commitServer { commitBusyUntil = at + down + 1 }
            faultPlan.append((at, .crash(node: i)))
            // A restart that would fall after healing is left to `heal()`.
            if at + down < faultSteps { faultPlan.append((at + down, .restart(node: i))) }
        }
        if prng.chance(1, in: 2) {
            let at = Int(prng.below(UInt64(faultSteps)))
            faultPlan.append((at, .partitionStart))
            faultPlan.append((min(at + 50 + Int(prng.below(UInt64(max(faultSteps / 5, 51)))), faultSteps - 1),
                              .partitionEnd))
        }
        faultPlan.sort { $0.step < $1.step }
    }

    // MARK: running

    /// Runs every step, checking invariants after each; returns the report.
    public mutating func run() -> SimulationReport {
        let faultSteps = Int(Double(options.steps) * options.faultFraction)
        var step = 0
        var planned = 0
        while step < options.steps, checker.violations.isEmpty {
            if faultPhase, step >= faultSteps { heal() }
            if faultPhase, planned < faultPlan.count, faultPlan[planned].step <= step {
                // A planned fault counts as a step of its own.
                handle(faultPlan[planned].event)
                planned += 1
                step += 1
                continue
            }
            guard let (at, event) = queue.pop() else { break }
            now = max(now, at)
            handle(event)
            step += 1
        }
        report.steps = step
        if checker.violations.isEmpty, options.steps > 0 {
            if faultPhase { heal() }
            // Liveness is "converges after healing", not "within this step budget": a repair
            // in backoff may be due just after the last step. Keep running, fault-free and
            // checked after every step, for at most `convergenceGrace` of simulated time.
            let graceEnd = now + Self.convergenceGrace
            while checker.violations.isEmpty, !converged, let (at, event) = queue.pop(), at <= graceEnd {
                now = max(now, at)
                handle(event)
                report.graceSteps += 1
            }
            if checker.violations.isEmpty { checkLiveness() }
        }
        report.simulatedMicros = now.nanoseconds / 1_000
        report.violations = checker.violations.map(\.description)
        report.committed = checker.frontier
        return report
    }

    /// Ends the fault phase: no more loss, duplication or partitions, every node back up,
    /// publishing stops; the rest of the run must converge.
    mutating func heal() {
        faultPhase = false
        lossPercent = 0
        duplicatePercent = 0
        partitioned = []
        for i in nodes.indices where nodes[i].role == nil && !(nodes[i].id.rawValue == 44 && nodes[i].life == 0) {
            restart(i)
        }
    }

    mutating func handle(_ event: SimEvent) {
        switch event {
        case .datagram(let to, let from, let bytes):
            guard nodes[to].role != nil else { return }
            let t = now
            bytes.withUnsafeBytes { b in drive(to) { $0.receive(b, from: PeerAddress(UInt64(from.rawValue)), now: t) } }
        case .wake(let i, let generation):
            guard nodes[i].role != nil, nodes[i].generation == generation else { return }

            nodes[i].wakeAt = nil
            let t = now
            drive(i) { $0.tick(now: t) }
            checkTimerRearmed(i)
        case .synced(let i, let life, let ticket):
            guard nodes[i].role != nil, nodes[i].life == life else { return }
            nodes[i].disk.sync(through: ticket)
            let t = now
            drive(i) { $0.persisted(ticket, now: t) }
        case .publish(let i):
            publish(i)
        case .crash(let i):
            crash(i)
        case .restart(let i):
            if nodes[i].role == nil { restart(i) }
        case .start(let i):
            if nodes[i].role == nil {
                startRole(i, joining: true)
                report.joins += 1
            }
        case .partitionStart:
            // Cut a random minority of servers and members off from everyone else.
            report.partitions += 1
            let count = 1 + Int(prng.below(3))
            for _ in 0..<count { partitioned.insert(Int(prng.below(UInt64(nodes.count)))) }
        case .partitionEnd:
            partitioned = []
        }
    }

    // MARK: node lifecycle

    mutating func startRole(_ i: Int, joining: Bool) {
        let n = nodes[i]
        let seed = prng.next()
        nodes[i].life += 1
        switch n.kind {
        case .sequencer:
            nodes[i].role = .sequencer(Sequencer(config: config, node: n.id, recovering: n.disk.syncedBytes, now: now))
        case .commitServer:
            nodes[i].role = .commitServer(CommitServer(config: config, node: n.id, recovering: n.disk.syncedBytes, now: now))
        case .dataServer:
            nodes[i].role = .dataServer(DataServer(config: config, node: n.id, incarnation: UInt32(nodes[i].life),
                                                   seed: seed, now: now))
        case .checkpointServer:
            nodes[i].role = .member(.checkpointServer(config: config, node: n.id, incarnation: n.incarnation, seed: seed,
                                                      now: now, recovering: n.disk.syncedBytes, restarted: joining))
        case .member:
            nodes[i].role = .member(Member(config: config, node: n.id, incarnation: n.incarnation, seed: seed, now: now,
                                           joining: joining))
        }
        // Whatever a role produced while starting (a recovered checkpoint's install) is drained
        // like any other output.
        drive(i) { _ in }
    }

    mutating func crash(_ i: Int) {
        guard nodes[i].role != nil else { return }
        report.crashes += 1
        nodes[i].role = nil
        nodes[i].everCrashed = true
        nodes[i].generation += 1
        nodes[i].wakeAt = nil
        nodes[i].disk.crash()
        checker.nodeCrashed(nodes[i].id)
    }

    mutating func restart(_ i: Int) {
        // A restarted sender takes a higher incarnation (its state file, Part 1 §1).
        nodes[i].incarnation += 1
        startRole(i, joining: nodes[i].kind == .member || nodes[i].kind == .checkpointServer)
        if nodes[i].publishes, faultPhase { queue.push(.publish(node: i), at: now + Nanoseconds.millis(1)) }
    }

    mutating func publish(_ i: Int) {
        guard faultPhase, nodes[i].role != nil, case .member(var m) = nodes[i].role! else { return }
        nodes[i].role = nil
        let size = prng.chance(1, in: 50) ? 1_500 + Int(prng.below(3_000)) : 8 + Int(prng.below(200))
        var body = [UInt8](repeating: 0, count: size)
        for k in body.indices { body[k] = UInt8(truncatingIfNeeded: prng.next()) }
        let ts = m.ledger.announcedThrough
        let result = body.withUnsafeBytes { m.publish($0, now: now) }
        if case .accepted(let id) = result {
            checker.published(id, bodyDigest: body.withUnsafeBytes { Digest.of($0) }, logicalTs: ts)
            report.published += 1
            nodes[i].publishedCount += 1
        }
        nodes[i].role = .member(m)
        drain(i, m.output)
        clearOutput(i)
        schedule(i)
        let gap = prng.chance(1, in: 4) ? 0 : 100_000 + prng.below(1_500_000)
        queue.push(.publish(node: i), at: now + Nanoseconds(gap))
    }

    // MARK: driving a role

    /// Runs `body` on node `i`'s role, then drains its outputs in order: storage writes,
    /// datagrams, events; then reschedules its timer.
    mutating func drive(_ i: Int, _ body: (inout any ProtocolRole) -> Void) {
        guard let role = nodes[i].role else { return }
        nodes[i].role = nil
        var r: any ProtocolRole
        switch role {
        case .sequencer(let s): r = s
        case .commitServer(let c): r = c
        case .dataServer(let d): r = d
        case .member(let m): r = m
        }
        body(&r)
        drain(i, r.output)
        r.output.storage.removeAll()
        r.output.outbox.removeAll()
        r.output.events.removeAll(keepingCapacity: true)
        switch r {
        case let s as Sequencer: nodes[i].role = .sequencer(s)
        case let c as CommitServer: nodes[i].role = .commitServer(c)
        case let d as DataServer: nodes[i].role = .dataServer(d)
        case let m as Member<ReferenceApplication>: nodes[i].role = .member(m)
        default: preconditionFailure("unknown role")
        }
        schedule(i)
    }

    mutating func clearOutput(_ i: Int) {
        guard case .member(var m) = nodes[i].role! else { return }
        nodes[i].role = nil
        m.output.storage.removeAll()
        m.output.outbox.removeAll()
        m.output.events.removeAll(keepingCapacity: true)
        nodes[i].role = .member(m)
    }

    mutating func drain(_ i: Int, _ out: RoleOutput) {
        let life = nodes[i].life
        for (k, w) in out.storage.writes.enumerated() {
            let bytes = out.storage.withBytes(of: k) { Array($0) }
            nodes[i].disk.records.append(SimDisk.Record(ticket: w.ticket, key: w.key, bytes: bytes, synced: false))
            queue.push(.synced(node: i, life: life, ticket: w.ticket), at: now + Nanoseconds(50_000 + prng.below(400_000)))
        }
        nodes[i].disk.truncate(through: out.storage.truncateThrough)
        for k in 0..<out.outbox.entries.count {
            let e = out.outbox.entries[k]
            let bytes = out.outbox.withBytes(of: k) { Array($0) }
            bytes.withUnsafeBytes { checker.sent($0, by: nodes[i].id, syncedKeyMax: nodes[i].disk.syncedKeyMax) }
            for to in targets(of: e.destination, from: i) { transmit(bytes, from: i, to: to) }
        }
        for e in out.events {
            checker.event(e, at: nodes[i].id)
            switch e {
            case .delivered: report.delivered += 1
            case .checkpointTaken: report.checkpoints += 1
            case .streamEnded(_, _, let next, _, _):
                // The sender's state file: a restart must pick an incarnation above this one.
                nodes[i].incarnation = max(nodes[i].incarnation, next.incarnation)
                report.streamsEnded += 1
            case .collected: report.collected += 1
            default: break
            }
        }
    }

    func targets(of d: Destination, from i: Int) -> [Int] {
        switch d {
        case .node(let id):
            return nodes.indices.filter { nodes[$0].id == id }
        case .address(let a):
            // The simulator's addresses are node ids.
            return nodes.indices.filter { UInt64(nodes[$0].id.rawValue) == a.rawValue }
        case .dataGroup:
            return nodes.indices.filter { $0 != i && [.dataServer, .member, .checkpointServer].contains(nodes[$0].kind) }
        case .commitGroup:
            return nodes.indices.filter { $0 != i && nodes[$0].kind != .sequencer }
        }
    }

    mutating func transmit(_ bytes: [UInt8], from i: Int, to j: Int) {
        report.datagramsSent += 1
        if partitioned.contains(i) != partitioned.contains(j) { report.datagramsDropped += 1; return }
        if lossPercent > 0, prng.chance(lossPercent, in: 100) { report.datagramsDropped += 1; return }
        let delay = Nanoseconds(20_000 + prng.below(delayMaxMicros * 1_000))
        queue.push(.datagram(to: j, from: nodes[i].id, bytes: bytes), at: now + delay)
        if duplicatePercent > 0, prng.chance(duplicatePercent, in: 100) {
            report.datagramsDuplicated += 1
            queue.push(.datagram(to: j, from: nodes[i].id, bytes: bytes), at: now + delay + Nanoseconds(prng.below(1_000_000)))
        }
    }

    /// Keeps one pending wake per node, at its role's next deadline (never in the past).
    mutating func schedule(_ i: Int) {
        guard let role = nodes[i].role else { return }
        let deadline: Instant?
        switch role {
        case .sequencer(let s): deadline = s.nextDeadline
        case .commitServer(let c): deadline = c.nextDeadline
        case .dataServer(let d): deadline = d.nextDeadline
        case .member(let m): deadline = m.nextDeadline
        }
        guard let d = deadline else { return }
        let at = max(d, now + Nanoseconds(1_000))
        if let w = nodes[i].wakeAt, w <= at { return }
        nodes[i].generation += 1
        nodes[i].wakeAt = at
        queue.push(.wake(node: i, generation: nodes[i].generation), at: at)
    }

    /// A timer that fires without moving its deadline would spin (TigerBeetle's `Timeout`
    /// catches the same bug): after a tick, a role's deadline must lie in the future. Tolerate
    /// a few same-instant re-fires (work split over ticks), not a storm.
    mutating func checkTimerRearmed(_ i: Int) {
        guard let d = nodes[i].wakeAt, d <= now + Nanoseconds(1_000) else {
            nodes[i].spins = 0
            return
        }
        nodes[i].spins += 1
        if nodes[i].spins == 64 {
            checker.fail("timers", "\(nodes[i].id) keeps waking at \(now) without re-arming its timer")
        }
    }

    // MARK: liveness

    /// How long after the step budget a healed group may take to converge.
    static let convergenceGrace = Nanoseconds.millis(200)

    /// Whether L1 and L2 hold now (what `checkLiveness` reports on, without the details).
    var converged: Bool {
        guard case .sequencer(let s)? = nodes[0].role else { return true }
        if s.nextSeq.rawValue - 1 > s.committedThrough.rawValue { return false }
        for n in nodes {
            guard case .member(let m)? = n.role else { continue }
            if m.isJoining || m.deliveredThrough < s.committedThrough { return false }
            if n.publishes, !n.everCrashed, m.unsequencedCount > 0 { return false }
        }
        return true
    }

    /// After healing: every live publisher's messages are committed, and every member that
    /// is up has delivered everything committed.
    mutating func checkLiveness() {
        guard case .sequencer(let s)? = nodes[0].role else { return }
        for n in nodes {
            guard case .member(let m)? = n.role else { continue }
            report.idQueries += m.output.counters.idQueriesSent
            report.fetches += m.output.counters.fetchesSent
            if m.isJoining {
                var detail = m.diagnosis
                for d in nodes {
                    if case .member(let c)? = d.role, let latest = c.latestCheckpoint {
                        detail += "; \(d.id) holds checkpoint \(latest.terminalSeq)"
                    }
                }
                checker.fail("L2", "\(n.id) never finished joining; \(detail)")
            } else if m.deliveredThrough < s.committedThrough {
                var detail = m.diagnosis
                for d in nodes {
                    if case .commitServer(let c)? = d.role { detail += "; " + c.diagnosis(m.deliveredThrough.next) }
                }
                if let id = m.ledger.runs.run(containing: m.deliveredThrough.next)?.messageId(at: m.deliveredThrough.next) {
                    for d in nodes { if case .dataServer(let ds)? = d.role { detail += "; " + ds.diagnosis(id) } }
                }
                detail += "; next deadline \(String(describing: m.nextDeadline)), wake at \(String(describing: n.wakeAt)), now \(now)"
                checker.fail("L2", "\(n.id) delivered through \(m.deliveredThrough), committed through \(s.committedThrough); "
                             + detail)
            }
            if n.publishes, !n.everCrashed, m.unsequencedCount > 0 {
                var detail = s.diagnosis(m.sender)
                for d in nodes {
                    if case .dataServer(let ds)? = d.role { detail += "; " + ds.diagnosis(MessageId(sender: m.sender, counter: 1)) }
                }
                checker.fail("L1", "\(n.id) still has \(m.unsequencedCount) messages not committed; \(detail)")
            }
        }
        if s.nextSeq.rawValue - 1 > s.committedThrough.rawValue {
            checker.fail("L1", "sequencer assigned through \(s.nextSeq.rawValue - 1) but committed \(s.committedThrough)")
        }
    }
}
