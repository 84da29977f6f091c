import SeqcastCore
import SeqcastNode
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
    /// Each node's repair rate limit (the runtime's default: the node policy the runtime runs).
    public var repairDatagramsPerSecond = RepairLimiter.perSecondDefault
    /// Every node tags and checks datagrams (issue 14); nil: in the seeds with `seed % 13 == 5`.
    public var authenticate: Bool?
    /// `GroupConfig.Limits.collectionLagPercent` (the publish gate); nil: the default.
    public var collectionLagPercent: Int?
    /// A scale run (`ScaleRun.swift`) instead of the fault-injecting one; `steps` then only caps it.
    public var scale: ScaleOptions?
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
    /// Sender incarnations members and checkpoint servers forgot (`StreamTables`), every life.
    public var incarnationsRetired: UInt64 = 0
    public var simulatedMicros: UInt64 = 0
    /// Fault-free steps run after the budget until the group converged (at most 200 ms simulated).
    public var graceSteps = 0
    /// Commit servers planned down at once (2: commits stop until one is back).
    public var commitServersDownTogether = 1
    /// Data servers' and members' stores (body slots) in this run: small ones fill.
    public var bodySlots = 0
    /// Messages a full store refused (data servers and members), summed over every life.
    public var storeFullDrops: UInt64 = 0
    /// Repair replies the nodes' rate limiters held back (at the runtime's default limit).
    public var repairThrottled: UInt64 = 0
    /// Datagrams nodes received from themselves (multicast loopback), dropped by the node.
    public var ownLoopback: UInt64 = 0
    /// Data servers' disk store (a third of the seeds): restarts that read bodies back.
    public var dataStoreDisk = false
    /// Nodes authenticated datagrams; what they dropped (the simulator forges nothing, so these
    /// are the network's duplicates, refused as replays, and old incarnations after restarts).
    public var authenticated = false
    public var authDropped: UInt64 = 0
    public var authAccepted: UInt64 = 0
    public var dataServerRecoveries = 0
    /// Sequencer candidates, and the distinct epochs that committed something (1 without a
    /// restart or fail-over).
    public var sequencerCandidates = 1
    /// Whether the first candidate was cut off while running (two sequencers at once).
    public var sequencerIsolated = false
    public var epochsCommitted = 0
    public var activeSequencer = ""
    /// A scale run's measurements (nil for the fault-injecting runs).
    public var scale: ScaleReport?
    public var faultSummary: String {
        "\(authenticated ? "auth accepted=\(authAccepted) refused=\(authDropped) " : "")sequencers=\(sequencerCandidates)\(sequencerIsolated ? " isolated" : "") epochs=\(epochsCommitted) active=\(activeSequencer) data-store=\(dataStoreDisk ? "disk" : "memory") data-server-recoveries=\(dataServerRecoveries) simulated=\(simulatedMicros / 1000)ms throttled=\(repairThrottled) slots=\(bodySlots) store-full=\(storeFullDrops) commit-down-together=\(commitServersDownTogether) crashes=\(crashes) partitions=\(partitions) dropped=\(datagramsDropped) duplicated=\(datagramsDuplicated) grace-steps=\(graceSteps)"
    }
}

/// A seeded, deterministic simulation of a whole group (1 sequencer, 3 data servers, 3 commit
/// servers, 2 checkpoint servers, 4 members of which 3 publish and one joins late) over an
/// in-memory network with loss, duplication, reordering, delay and partitions, and
/// crash/restart of any role with storage that loses unsynced writes. After every step the
/// `InvariantChecker` runs; after the fault phase the network heals and the group must
/// converge. TigerBeetle's VOPR and FoundationDB's simulator are the models.
public struct Simulator {
    enum Kind: Equatable { case sequencer, commitServer, dataServer, member, checkpointServer }

    /// One simulated host: the node running on it (nil while crashed or not yet started), and
    /// what survives a crash (the disk, the incarnation file).
    struct Host {
        var id: NodeId
        var kind: Kind
        var node: (any SimulatedNode)?
        /// The disk while the node is down (while it runs, the node's store is the disk).
        var disk = SimDisk()
        var life: UInt64 = 0
        var generation: UInt64 = 0
        var wakeAt: Instant?
        var incarnation: UInt32 = 1
        var publishes = false
        var everCrashed = false
        /// Crashed for good: never restarted, not even when the network heals.
        var gone = false
        var publishedCount = 0
        var spins = 0
    }

    public let options: SimulationOptions
    public let config: GroupConfig
    /// Sees every datagram as it reaches a node (recipient, bytes): the fuzz corpus is made so.
    public var deliveryTap: ((NodeId, [UInt8]) -> Void)?
    var prng: Prng
    var nodes: [Host] = []
    public let layout: GroupLayout
    /// Host index by node id.
    var hostIndex: [NodeId: Int] = [:]
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
    /// A scale run's members' commit-to-delivery times (simulated µs), one per delivery.
    var scaleDeliveries: [UInt32] = []

    public init(options: SimulationOptions) {
        self.options = options
        var prng = Prng(seed: options.seed)
        // Three sequencer candidates in a fifth of the seeds (from the seed, not drawn), where the
        // first one also crashes for good (fail-over, issue 11).
        let candidates = options.scale == nil && options.seed % 5 == 2 ? 3 : 1
        var layout = GroupLayout.standard(sequencers: candidates, dataServers: 3, commitServers: 3,
                                          checkpointServers: 2, members: 4)
        layout.reportQuorum = 1 + Int(prng.below(2))
        // A short lifetime in some runs, so streams end at gaps and publishers move to new
        // incarnations (Part 1 §2).
        layout.lifetime = [5_000, 400, 100][Int(prng.below(3))]
        layout.checkpointInterval = 64
        // A small store in a quarter of the seeds: stores fill, publishers see back-pressure,
        // and collection behind checkpoints must drain them again (L5).
        layout.bodySlots = prng.chance(1, in: 4) ? 192 : 4_096
        layout.senderWindow = 128
        // Data servers keep bodies on their simulated disk in a third of the seeds (from the seed,
        // not drawn: every seed's other draws stay as they were): a body counts as held only once
        // synced, and a crashed data server comes back with what its disk kept.
        if options.seed % 3 == 0 { layout.dataStore = .disk }
        // Authenticated datagrams in a thirteenth of the seeds (roles then write datagrams 56
        // bytes shorter); the key files' names are never read here.
        if options.authenticate ?? (options.seed % 13 == 5) {
            layout.security = GroupLayout.Security(groupKeyFile: "sim-group", serverKeyFile: "sim-server")
        }
        // A scale run's group is fixed (the draws above still run, so the loss draws below
        // depend on the seed alone); only authentication carries over, when asked for.
        if let s = options.scale {
            let security = options.authenticate == true ? layout.security : nil
            layout = Self.scaleLayout(s)
            layout.security = security
        }
        self.layout = layout
        do {
            var c = try layout.config()
            if let p = options.collectionLagPercent { c.limits.collectionLagPercent = p }
            config = c
        } catch {
            preconditionFailure("the simulated group's layout is invalid: \(error)")
        }
        checker = InvariantChecker(config: config)
        report = SimulationReport(seed: options.seed, steps: 0, violations: [])
        report.bodySlots = layout.bodySlots
        report.sequencerCandidates = candidates
        report.dataStoreDisk = layout.dataStore == .disk
        report.authenticated = layout.security != nil
        lossPercent = options.faults ? prng.below(12) : 0
        duplicatePercent = options.faults ? prng.below(5) : 0
        delayMaxMicros = 50 + prng.below(options.faults ? 2_000 : 200)
        if let s = options.scale {
            // Loss only: one-way delays of 20-100 µs, as on one switch.
            lossPercent = s.lossPercent
            duplicatePercent = 0
            delayMaxMicros = 80
            checker.recordsLatency = true
        }
        self.prng = prng
        buildGroup()
    }

    mutating func buildGroup() {
        for n in layout.nodes {
            let kind: Kind = switch n.role {
            case .sequencer: .sequencer
            case .dataServer: .dataServer
            case .commitServer: .commitServer
            case .checkpointServer: .checkpointServer
            case .member: .member
            }
            hostIndex[n.id] = nodes.count
            nodes.append(Host(id: n.id, kind: kind))
        }
        let lateJoiner = options.scale == nil ? layout.members.last : nil
        let publishers = Set(layout.members.prefix(options.scale?.publishers ?? layout.members.count))
        for i in nodes.indices {
            if nodes[i].id == lateJoiner {
                // The late joiner: starts a third of the way into the fault phase.
                queue.push(.start(node: i), at: Instant(nanoseconds: 30_000_000 + prng.below(40_000_000)))
                continue
            }
            startRole(i, joining: false)
            if nodes[i].kind == .member, publishers.contains(nodes[i].id) {
                nodes[i].publishes = true
                queue.push(.publish(node: i), at: Instant(nanoseconds: prng.below(1_000_000)))
            }
        }
        if options.faults, options.scale == nil { scheduleFaults() }
    }

    /// Crashes, restarts and partitions during the fault phase, drawn from the seed and placed
    /// by step (not by simulated time, which runs at a rate nobody can predict), spread over the
    /// whole fault phase so they hit a group with history: checkpoints taken, logs truncated,
    /// joins under way. Only the faults the design claims to survive: commit servers down one
    /// at a time, or (in a third of the seeds) two at once, which stops commits (Q of 3) until
    /// one is back with its log; a data server only where K = 2 tolerates losing its memory,
    /// once per run (a second loss could take the last copy of a body: bodies live in memory).
    mutating func scheduleFaults() {
        let faultSteps = Int(Double(options.steps) * options.faultFraction)
        guard faultSteps > 100 else { return }
        let crashCount = 1 + Int(prng.below(5))
        let commitDownMax = prng.chance(1, in: 3) ? 2 : 1
        /// Down intervals of commit servers (steps), to keep at most `commitDownMax` down at once.
        var commitDown: [(node: Int, from: Int, until: Int)] = []
        func commitServersDown(during from: Int, _ until: Int) -> [Int] {
            commitDown.filter { $0.from <= until && from <= $0.until }.map(\.node)
        }
        func plan(_ i: Int, at: Int, down: Int) {
            if nodes[i].kind == .dataServer { dataServerCrashes += 1 }
            if nodes[i].kind == .commitServer { commitDown.append((i, at, at + down + 1)) }
            faultPlan.append((at, .crash(node: i)))
            // A restart that would fall after healing is left to `heal()`.
            if at + down < faultSteps { faultPlan.append((at + down, .restart(node: i))) }
        }
        if commitDownMax == 2 {
            // Two commit servers down at once: nothing commits, then the group recovers.
            let commits = nodes.indices.filter { nodes[$0].kind == .commitServer }
            let at = Int(prng.below(UInt64(faultSteps / 2)))
            let down = 50 + Int(prng.below(UInt64(max(faultSteps / 8, 51))))
            let first = commits[Int(prng.below(UInt64(commits.count)))]
            let second = commits.filter { $0 != first }[Int(prng.below(UInt64(commits.count - 1)))]
            plan(first, at: at, down: down)
            plan(second, at: at + 5, down: down)
            report.commitServersDownTogether = 2
        }
        for _ in 0..<crashCount {
            let at = Int(prng.below(UInt64(faultSteps)))
            let down = 50 + Int(prng.below(UInt64(max(faultSteps / 4, 51))))
            var candidates = nodes.indices.filter { nodes[$0].id != layout.members.last }
            if config.reportQuorum < 2 || dataServerCrashes >= 1 { candidates.removeAll { nodes[$0].kind == .dataServer } }
            let busy = commitServersDown(during: at, at + down + 1)
            candidates.removeAll { nodes[$0].kind == .commitServer && (busy.count >= commitDownMax || busy.contains($0)) }
            guard !candidates.isEmpty else { continue }
            plan(candidates[Int(prng.below(UInt64(candidates.count)))], at: at, down: down)
        }
        if config.candidates.count > 1 {
            // The first sequencer candidate dies for good in the second half of the fault phase,
            // once it is active and numbering (early steps are dense in simulated time: a third
            // of the way in is well under 100 ms): a standby must take over, and the group
            // converge without it.
            let at = faultSteps / 2 + Int(prng.below(UInt64(faultSteps / 2)))
            faultPlan.append((at, .crashForGood(node: hostIndex[config.sequencer]!)))
            // Before that, in half of these seeds, the first candidate is cut off while it keeps
            // running: a standby takes over, and when the partition heals the deposed one must
            // learn the newer epoch and follow it (fencing, not timing, keeps the order).
            if prng.chance(1, in: 2) {
                let from = faultSteps / 6 + Int(prng.below(UInt64(faultSteps / 6)))
                faultPlan.append((from, .isolate(node: hostIndex[config.sequencer]!)))
                faultPlan.append((from + faultSteps / 5, .partitionEnd))
                report.sequencerIsolated = true
            }
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
    /// What a node's disk holds durably now (its log's records), by node id.
    public func syncedRecords(of id: NodeId) -> [[UInt8]] {
        guard let i = hostIndex[id] else { return [] }
        return nodes[i].node?.store.syncedBytes ?? nodes[i].disk.syncedBytes
    }

    public mutating func run() -> SimulationReport {
        let faultSteps = Int(Double(options.steps) * options.faultFraction)
        var step = 0
        var planned = 0
        let windowEnd = options.scale.map { Instant(nanoseconds: $0.publishMillis * 1_000_000) }
        while step < options.steps, checker.violations.isEmpty {
            // A scale run's window is simulated time; convergence follows as in every run.
            if let end = windowEnd, now >= end {
                takeScaleSnapshot()
                break
            }
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
            checker.clockNanos = now.nanoseconds
            handle(event)
            step += 1
        }
        report.steps = step
        if options.scale != nil, report.scale == nil { takeScaleSnapshot() }
        if checker.violations.isEmpty, options.steps > 0 {
            if faultPhase { heal() }
            // Liveness is "converges after healing", not "within this step budget": a repair
            // in backoff may be due just after the last step. Keep running, fault-free and
            // checked after every step, for at most `convergenceGrace` of simulated time.
            let graceEnd = now + Self.convergenceGrace
            while checker.violations.isEmpty, !converged, let (at, event) = queue.pop(), at <= graceEnd {
                now = max(now, at)
                checker.clockNanos = now.nanoseconds
                handle(event)
                report.graceSteps += 1
            }
            if checker.violations.isEmpty { checkLiveness() }
        }
        // S4 where bodies meet: no role ever held one message id with two bodies (every
        // publisher here has its own sender id; counters of a node's current life).
        for h in nodes {
            if let c = h.node?.roleCounters, let id = c.firstConflict {
                checker.fail("S4", "a node met message \(id) with two different bodies (\(c.conflictingBodies) times)")
            }
        }
        report.simulatedMicros = now.nanoseconds / 1_000
        report.repairThrottled += nodeCounters.repairThrottled
        report.ownLoopback += nodeCounters.ownLoopback
        for h in nodes {
            report.storeFullDrops += h.node?.roleCounters.droppedStoreFull ?? 0
            report.incarnationsRetired += h.node?.roleCounters.incarnationsRetired ?? 0
            report.authDropped += h.node?.auth?.counters.dropped ?? 0
            report.authAccepted += h.node?.auth?.counters.accepted ?? 0
        }
        report.violations = checker.violations.map(\.description)
        report.committed = checker.frontier
        report.epochsCommitted = checker.epochsCommitted.count
        report.activeSequencer = activeSequencer.map { "\($0.node)@\($0.epoch)" } ?? "none"
        finishScaleReport()
        return report
    }

    /// Ends the fault phase: no more loss, duplication or partitions, every node back up,
    /// publishing stops; the rest of the run must converge.
    mutating func heal() {
        faultPhase = false
        // A scale run converges under the loss it measured (repair must still finish).
        if options.scale == nil { lossPercent = 0 }
        duplicatePercent = 0
        partitioned = []
        for i in nodes.indices where nodes[i].node == nil && !nodes[i].gone
            && !(nodes[i].id == layout.members.last && nodes[i].life == 0) {
            restart(i)
        }
    }

    mutating func handle(_ event: SimEvent) {
        switch event {
        case .datagram(let to, let from, let bytes):
            deliveryTap?(nodes[to].id, bytes)
            if nodes[to].kind == .sequencer, nodes[to].node != nil {
                bytes.withUnsafeBytes { checker.receivedBySequencer($0) }
            }
            let t = now
            bytes.withUnsafeBytes { b in drive(to) { $0.receive(b, from: SimTransport.address(of: from), now: t) } }
        case .wake(let i, let generation):
            guard nodes[i].node != nil, nodes[i].generation == generation else { return }
            nodes[i].wakeAt = nil
            let t = now
            drive(i) { $0.tick(now: t) }
            checkTimerRearmed(i)
        case .synced(let i, let life, let ticket):
            guard nodes[i].node != nil, nodes[i].life == life else { return }
            let t = now
            var newly: [SimDisk.Record] = []
            drive(i) { n in
                newly = n.store.sync(through: ticket)
                n.storeAdvanced(now: t)
            }
            // S5 compares what commit servers durably hold with what gets committed.
            if nodes[i].kind == .commitServer {
                for r in newly { checker.persisted(r.bytes, by: nodes[i].id) }
            }
        case .publish(let i):
            publish(i)
        case .crash(let i):
            crash(i)
        case .crashForGood(let i):
            guard faultPhase else { return }
            if nodes[i].node != nil { crash(i) }
            nodes[i].gone = true
        case .restart(let i):
            if nodes[i].node == nil, !nodes[i].gone { restart(i) }
        case .start(let i):
            if nodes[i].node == nil {
                startRole(i, joining: true)
                report.joins += 1
            }
        case .partitionStart:
            // Cut a random minority of servers and members off from everyone else.
            report.partitions += 1
            let count = 1 + Int(prng.below(3))
            for _ in 0..<count { partitioned.insert(Int(prng.below(UInt64(nodes.count)))) }
        case .isolate(let i):
            report.partitions += 1
            partitioned = [i]
        case .partitionEnd:
            partitioned = []
        }
    }

    // MARK: node lifecycle

    typealias SimNode<R: ProtocolRole> = Node<R, SimTransport, SimDisk, EventLog>
    public static let groupKey = AuthKey(id: 1, bytes: (0..<32).map { UInt8($0) })
    public static let serverKey = AuthKey(id: 1, bytes: (0..<32).map { UInt8(0xFF - $0) })

    mutating func startRole(_ i: Int, joining: Bool) {
        let h = nodes[i]
        let seed = prng.next()
        nodes[i].life += 1
        var disk = h.disk
        disk.restarted()
        let recovering = disk.syncedBytes
        let t = now
        // Every life of a host is a later incarnation: its peers' replay windows start over.
        let auth = layout.security.map { _ in
            DatagramAuthenticator(AuthSetup(
                groupKeys: [Self.groupKey], serverKeys: h.kind == .member ? nil : [Self.serverKey],
                incarnation: UInt64(nodes[i].life), datagramBytesMax: config.datagramBytesMax))
        }
        func node<R: ProtocolRole>(_ role: R) -> any SimulatedNode {
            SimNode(id: h.id, role: role, transport: SimTransport(node: h.id), store: disk, sink: EventLog(),
                    repairDatagramsPerSecond: options.repairDatagramsPerSecond, auth: auth, now: t)
        }
        let started: any SimulatedNode
        switch h.kind {
        case .sequencer:
            // Every life of a host seals with nonces of its own (a deterministic seed per life).
            started = node(Sequencer(config: config, node: h.id, recovering: recovering, now: now,
                                     startSeed: (h.life &+ 1) &* 0x9E37_79B9_7F4A_7C15))
        case .commitServer:
            started = node(CommitServer(config: config, node: h.id, recovering: recovering, now: now))
        case .dataServer:
            if config.dataStore == .disk, !recovering.isEmpty { report.dataServerRecoveries += 1 }
            started = node(DataServer(config: config, node: h.id, incarnation: UInt32(nodes[i].life), seed: seed, now: now,
                                      recovering: recovering))
        case .checkpointServer:
            started = node(Member<ReferenceApplication>.checkpointServer(
                config: config, node: h.id, incarnation: h.incarnation, seed: seed, now: now, recovering: recovering,
                restarted: joining))
        case .member:
            started = node(Member<ReferenceApplication>(config: config, node: h.id, incarnation: h.incarnation, seed: seed,
                                                        now: now, joining: joining))
        }
        nodes[i].node = started
        // Whatever the role produced while starting (a recovered checkpoint's install) was
        // drained by the node into its transport, store and sink: move it into the world.
        drive(i) { _ in }
    }

    mutating func crash(_ i: Int) {
        guard let n = nodes[i].node else { return }
        report.crashes += 1
        report.repairThrottled += n.counters.repairThrottled
        report.ownLoopback += n.counters.ownLoopback
        report.storeFullDrops += n.roleCounters.droppedStoreFull
        report.incarnationsRetired += n.roleCounters.incarnationsRetired
        report.authDropped += n.auth?.counters.dropped ?? 0
        report.authAccepted += n.auth?.counters.accepted ?? 0
        nodes[i].disk = n.store
        nodes[i].disk.crash()
        nodes[i].node = nil
        nodes[i].everCrashed = true
        nodes[i].generation += 1
        nodes[i].wakeAt = nil
        checker.nodeCrashed(nodes[i].id)
    }

    mutating func restart(_ i: Int) {
        // A restarted sender takes a higher incarnation (its state file, Part 1 §1).
        nodes[i].incarnation += 1
        startRole(i, joining: nodes[i].kind == .member || nodes[i].kind == .checkpointServer)
        if nodes[i].publishes, faultPhase { queue.push(.publish(node: i), at: now + Nanoseconds.millis(1)) }
    }

    mutating func publish(_ i: Int) {
        guard faultPhase, nodes[i].node != nil else { return }
        var size = prng.chance(1, in: 50) ? 1_500 + Int(prng.below(3_000)) : 8 + Int(prng.below(200))
        if let s = options.scale { size = s.bodyBytes }
        var body = [UInt8](repeating: 0, count: size)
        for k in body.indices { body[k] = UInt8(truncatingIfNeeded: prng.next()) }
        let t = now
        var result: PublishResult?
        var ts = SequenceNumber.zero
        drive(i) { n in
            guard var m = n as? SimNode<Member<ReferenceApplication>> else { return }
            ts = m.role.ledger.announcedThrough
            result = m.perform(now: t) { role in body.withUnsafeBytes { role.publish($0, now: t) } }
            n = m
        }
        if case .accepted(let id)? = result {
            checker.published(id, bodyDigest: body.withUnsafeBytes { Digest.of($0) }, logicalTs: ts)
            report.published += 1
            nodes[i].publishedCount += 1
        }
        var gap = prng.chance(1, in: 4) ? 0 : 100_000 + prng.below(1_500_000)
        if let s = options.scale { gap = s.publishGapMicros * 500 + prng.below(s.publishGapMicros * 1_000) }
        queue.push(.publish(node: i), at: now + Nanoseconds(gap))
    }

    // MARK: driving a node

    /// Runs `body` on host `i`'s node (which drains its role in the node's order: writes to
    /// its disk, datagrams to its transport, events to its log), then moves what came out into
    /// the simulated world: syncs scheduled, datagrams checked and put on the network, events
    /// checked; then reschedules its timer.
    mutating func drive(_ i: Int, _ body: (inout any SimulatedNode) -> Void) {
        guard var n = nodes[i].node else { return }
        nodes[i].node = nil  // keep the node's storage uniquely referenced while it runs
        body(&n)
        let life = nodes[i].life
        let appended = n.store.takeAppended()
        for r in appended {
            queue.push(.synced(node: i, life: life, ticket: r.ticket), at: now + Nanoseconds(50_000 + prng.below(400_000)))
        }
        // S6 is checked when the sequencer numbers (writes its assignment record).
        if nodes[i].kind == .sequencer { for r in appended { checker.assigned(r.bytes) } }
        let syncedKeyMax = n.store.syncedKeyMax
        for d in n.transport.take() {
            d.bytes.withUnsafeBytes { checker.sent($0, by: nodes[i].id, syncedKeyMax: syncedKeyMax) }
            for to in SimTransport.recipients(of: d.destination, in: layout) {
                guard let j = hostIndex[to] else { continue }
                transmit(d.bytes, from: i, to: j)
            }
        }
        for e in n.sink.take() { observe(e, at: i) }
        nodes[i].node = n
        schedule(i)
    }

    mutating func observe(_ e: RoleEvent, at i: Int) {
        checker.event(e, at: nodes[i].id)
        switch e {
        case .delivered(let seq, _, _, _):
            report.delivered += 1
            if options.scale != nil, nodes[i].kind == .member, let at = checker.firstCommitNanos[seq.rawValue] {
                scaleDeliveries.append(UInt32(clamping: (now.nanoseconds - at) / 1_000))
            }
        case .checkpointTaken: report.checkpoints += 1
        case .streamEnded(_, _, let next, _, _):
            // The sender's state file: a restart must pick an incarnation above this one.
            nodes[i].incarnation = max(nodes[i].incarnation, next.incarnation)
            report.streamsEnded += 1
        case .collected: report.collected += 1
        default: break
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
        guard let d = nodes[i].node?.nextDeadline else { return }
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

    // MARK: typed views of the running roles

    func sequencer(_ h: Host) -> Sequencer? { (h.node as? SimNode<Sequencer>)?.role }
    /// The running sequencer candidate that is active in the highest epoch.
    var activeSequencer: Sequencer? {
        nodes.compactMap { sequencer($0) }.filter(\.isActive).max { $0.epoch < $1.epoch }
    }
    func commitServer(_ h: Host) -> CommitServer? { (h.node as? SimNode<CommitServer>)?.role }
    func dataServer(_ h: Host) -> DataServer? { (h.node as? SimNode<DataServer>)?.role }
    func member(_ h: Host) -> Member<ReferenceApplication>? { (h.node as? SimNode<Member<ReferenceApplication>>)?.role }

    /// Node-level counters summed over the running nodes (repair throttling, own loopback).
    var nodeCounters: NodeCounters {
        var c = NodeCounters()
        for h in nodes {
            guard let n = h.node else { continue }
            c.repairThrottled += n.counters.repairThrottled
            c.ownLoopback += n.counters.ownLoopback
        }
        return c
    }

    // MARK: liveness

    /// How long after the step budget a healed group may take to converge.
    static let convergenceGrace = Nanoseconds.millis(200)

    /// Whether L1 and L2 hold now (what `checkLiveness` reports on, without the details).
    var converged: Bool {
        guard let s = activeSequencer else { return false }
        if s.nextSeq.rawValue - 1 > s.committedThrough.rawValue { return false }
        for n in nodes {
            guard let m = member(n) else { continue }
            if m.isJoining || m.deliveredThrough < s.committedThrough { return false }
            if n.publishes, !n.everCrashed, m.unsequencedCount > 0 { return false }
        }
        return true
    }

    /// After healing: every live publisher's messages are committed, and every member that
    /// is up has delivered everything committed.
    mutating func checkLiveness() {
        guard let s = activeSequencer else {
            let states = nodes.compactMap { sequencer($0).map { "\($0.node): \($0.phaseDescription)" } }
            return checker.fail("L4", "no sequencer is active after healing: \(states)")
        }
        for n in nodes {
            guard let m = member(n) else { continue }
            report.idQueries += m.output.counters.idQueriesSent
            report.fetches += m.output.counters.fetchesSent
            if m.isJoining {
                var detail = m.diagnosis
                for d in nodes {
                    if let c = member(d), let latest = c.latestCheckpoint {
                        detail += "; \(d.id) holds checkpoint \(latest.terminalSeq)"
                    }
                }
                checker.fail("L2", "\(n.id) never finished joining; \(detail)")
            } else if m.deliveredThrough < s.committedThrough {
                var detail = m.diagnosis
                for d in nodes {
                    if let c = commitServer(d) { detail += "; " + c.diagnosis(m.deliveredThrough.next) }
                }
                if let id = m.ledger.runs.run(containing: m.deliveredThrough.next)?.messageId(at: m.deliveredThrough.next) {
                    for d in nodes { if let ds = dataServer(d) { detail += "; " + ds.diagnosis(id) } }
                }
                detail += "; next deadline \(String(describing: m.nextDeadline)), wake at \(String(describing: n.wakeAt)), now \(now)"
                checker.fail("L2", "\(n.id) delivered through \(m.deliveredThrough), committed through \(s.committedThrough); "
                             + detail)
            }
            if n.publishes, !n.everCrashed, m.unsequencedCount > 0 {
                var detail = s.diagnosis(m.sender)
                for d in nodes {
                    if let ds = dataServer(d) { detail += "; " + ds.diagnosis(MessageId(sender: m.sender, counter: 1)) }
                }
                checker.fail("L1", "\(n.id) still has \(m.unsequencedCount) messages not committed; \(detail)")
            }
        }
        if s.nextSeq.rawValue - 1 > s.committedThrough.rawValue {
            var detail = "\(s.node) \(s.phaseDescription), acked \(s.ackedThrough)"
            for d in nodes { if let c = commitServer(d) { detail += "; " + c.diagnosis(s.committedThrough.next) } }
            for d in nodes { if let o = sequencer(d), o.node != s.node { detail += "; \(o.node) \(o.phaseDescription)" } }
            checker.fail("L1", "sequencer assigned through \(s.nextSeq.rawValue - 1) but committed \(s.committedThrough); \(detail)")
        }
    }
}
