import CSeqcastShim
import Glibc
import SeqcastCore
import SeqcastRuntime
import SeqcastTransport
import Synchronization
import SeqcastNode
import SeqcastWire

/// How a process places its threads (the two modes). `shared`: one thread runs the
/// sockets and the role. `dedicated`: an I/O thread receives and hands datagrams to the role's
/// thread through an SPSC ring, each pinned to its own CPU. Waking a thread on the other core
/// costs ~30 µs on this VM and two cores host a whole group, so `auto` picks shared below 4 CPUs.
public enum ThreadMode: String, Sendable, CaseIterable {
    case auto, shared, dedicated
    public var resolved: ThreadMode {
        self != .auto ? self : (seqcast_online_cpus() >= 4 ? .dedicated : .shared)
    }
}

/// Everything `seqcast run <role>` needs.
public struct RoleProcessOptions: Sendable {
    public var role: NodeRole
    public var node: NodeId
    /// Who is who and where (the same for every process of the group).
    public var layout = GroupLayout.standard()
    public var network = NetworkConfig()
    public var plan = MemberPlan()
    /// What a member's benchmark application measures.
    public var measurement = BenchMeasurement(fromNanos: 1)
    public var threads = ThreadMode.auto
    /// CPU to pin the role's thread to (nil: not pinned); the I/O thread takes the next one.
    public var cpu: Int?
    /// Start from the group's latest checkpoint (a late joiner).
    public var joining = false
    /// The lowest incarnation this start may take (the state file's next one if higher).
    public var incarnation: UInt32 = 1
    /// Where nodes' data folders live by default (`<stateDirectory>/<group name>-<node>`).
    public var stateDirectory = "/var/tmp/seqcast"
    /// The node's data folder (DataFolder): its incarnation and, with durability sync, its log.
    public var dataDirectory: String?
    /// Format a new node's (empty) folder before starting (`seqcast run … --init`).
    public var initialize = false
    public var spinPolls = 8
    /// How long the node id is claimed before the role starts (`NodeIdClaimPhase`; 0: not claimed).
    public var claimPeriod = NodeIdClaimPhase.periodDefault
    /// How often the live counters file (`seqcast stats`) is refreshed.
    public var countersInterval = Nanoseconds.millis(100)
    public init(role: NodeRole, node: NodeId) {
        self.role = role
        self.node = node
    }

    /// What starting the node takes (checks, keys, sockets, folder, log, claim).
    public var start: NodeStartOptions {
        var s = NodeStartOptions(role: role, node: node, layout: layout, network: network)
        s.incarnation = incarnation
        s.stateDirectory = stateDirectory
        s.dataDirectory = dataDirectory
        s.initialize = initialize
        s.claimPeriod = claimPeriod
        return s
    }
}

/// Runs one role until it finishes (a member's plan) or a stop signal arrives; returns its report.
public func runRoleProcess(_ o: RoleProcessOptions, log: @escaping @Sendable (String) -> Void) throws -> Report {
    let startedNanos = seqcast_monotonic_ns()
    let start = try NodeStart(o.start, log: log)
    let (config, network, store, recovered, restarted) = (start.config, start.network, start.store, start.recovered,
                                                          start.restarted)
    let (fingerprint, claim, incarnation, folderPath) = (start.fingerprint, start.claim, start.incarnation, start.folderPath)
    let auth = start.auth
    let now = Instant(nanoseconds: seqcast_monotonic_ns())
    let seed = start.seed(now: now, node: o.node)
    var report = Report()
    report.add("role", o.role.rawValue)
    report.add("node", o.node.rawValue)
    report.add("transport", network.transport)
    report.add("threads", o.threads.resolved.rawValue)
    report.add("durability", store.durability)
    report.add("data_store", start.layout.dataStore.rawValue)
    report.add("data_folder", folderPath)
    report.add("recovered_records", recovered.count)
    report.add("group", start.layout.name)
    report.add("fingerprint", String(fingerprint, radix: 16))
    report.add("incarnation", incarnation)
    switch o.role {
    case .sequencer:
        let role = Sequencer(config: config, node: o.node, recovering: recovered, now: now,
                             startSeed: UInt64.random(in: 1...UInt64.max))
        let watch = SequencerRestartWatch(startedNanos: startedNanos, records: recovered.count, log: log)
        var loop = RoleLoop(role: role, workload: watch, network: network, id: o.node, store: store, auth: auth)
        try drive(&loop, o, &report, fingerprint: fingerprint, claim: claim, log: log)
        report.add("committed_through", loop.role.committedThrough.rawValue)
        report.add("epoch", "\(loop.role.epoch)")
        report.add("takeovers", loop.role.takeovers)
        report.add("step_downs", loop.role.stepDowns)
        report.add("seals_lost", loop.role.sealsLost)
        report.add("senders_table", loop.role.senderCount)
        counters(loop.role.output, &report)
    case .dataServer:
        let role = DataServer(config: config, node: o.node, incarnation: incarnation, seed: seed, now: now,
                              recovering: recovered)
        var loop = RoleLoop(role: role, workload: NoWorkload<DataServer>(), network: network, id: o.node, store: store,
                            auth: auth)
        try drive(&loop, o, &report, fingerprint: fingerprint, claim: claim, log: log)
        report.add("senders_table", loop.role.senderCount)
        counters(loop.role.output, &report)
    case .commitServer:
        let role = CommitServer(config: config, node: o.node, recovering: recovered, now: now)
        var loop = RoleLoop(role: role, workload: NoWorkload<CommitServer>(), network: network, id: o.node, store: store,
                            auth: auth)
        try drive(&loop, o, &report, fingerprint: fingerprint, claim: claim, log: log)
        report.add("stored_through", loop.role.storedThrough.rawValue)
        report.add("conflict_at", loop.role.conflictAt?.rawValue ?? 0)
        counters(loop.role.output, &report)
    case .member, .checkpointServer:
        let app = BenchApplication(measurement: o.measurement)
        var role: Member<BenchApplication> = o.role == .member
            ? Member(config: config, node: o.node, incarnation: incarnation, seed: seed, now: now, app: app,
                     joining: o.joining)
            : .checkpointServer(config: config, node: o.node, incarnation: incarnation, seed: seed, now: now, app: app,
                                recovering: recovered, restarted: o.joining || restarted)
        role.digestsDeliveredBodies = false  // nothing here reads the events' body digests
        var workload = MemberWorkload(plan: o.plan, node: o.node)
        workload.incarnationFile = start.incarnationFile
        var loop = RoleLoop(role: role, workload: workload, network: network, id: o.node, store: store, auth: auth)
        try drive(&loop, o, &report, fingerprint: fingerprint, claim: claim, log: log)
        memberReport(loop, &report)
        counters(loop.role.output, &report)
    }
    if let m = ProcessMemory.residentKiB() {
        report.add("rss_kib", m.now)
        report.add("rss_peak_kib", m.peak)
    }
    return report
}

func drive<W: LoopWorkload>(_ loop: inout RoleLoop<W>, _ o: RoleProcessOptions, _ report: inout Report,
                            fingerprint: UInt32, claim: NodeIdClaim, log: @escaping @Sendable (String) -> Void) throws {
    loop.spinPolls = o.spinPolls
    loop.node.claim = claim
    loop.fingerprint = fingerprint
    loop.log = log
    if let a = loop.node.auth, let s = o.layout.security { loop.keyWatch = KeyFileWatch(auth: a, security: s) }
    loop.liveCounters = LiveCountersPublisher.open(layout: o.layout, node: o.node, role: o.role, log: log)
    loop.liveCounters?.interval = o.countersInterval
    defer { loop.liveCounters?.file.remove() }
    // A sequencer candidate's loop stalled as long as standbys wait before they suspect it:
    // the log says why a fail-over followed (failover-test tells such a one from a spurious one).
    if o.role == .sequencer { loop.stallLogNanos = o.layout.timing.sequencerSuspectAfter.value }
    switch o.threads.resolved {
    case .dedicated:
        try runDedicated(&loop, transport: o.network.transport, cpu: o.cpu)
    default:
        if let cpu = o.cpu { _ = seqcast_pin_current_thread(Int32(cpu)) }
        var source = try ReceivePath(sockets: loop.network.receiveSockets, transport: o.network.transport)
        loop.run(source: &source)
        let s = source.stats
        report.add("rx_datagrams", s.datagrams)
        report.add("rx_superpackets", s.superpackets)
        report.add("rx_truncated", s.truncated)
        report.add("rx_rearms", s.rearms)
        report.add("rx_poll_errors", source.pollErrors)
        report.add("rx_last_poll_error", source.lastPollError)
    }
    // CPU this process used (all its threads): the noise-robust cost figure on a shared machine.
    let cpu = processCPUSeconds()
    report.add("cpu_user_seconds", cpu.user)
    report.add("cpu_system_seconds", cpu.system)
    report.add("loop_iterations", loop.stats.iterations)
    report.add("loop_blocking_polls", loop.stats.blockingPolls)
    report.add("loop_ticks", loop.stats.ticks)
    report.add("loop_stalls", loop.stats.stalls)
    report.add("loop_longest_stall_ms", loop.stats.longestStallNanos / 1_000_000)
    if let file = loop.node.store.file {
        report.add("log_records_written", file.recordsWritten)
        report.add("log_bytes_written", file.bytesWritten)
        report.add("log_syncs", file.syncs)
        report.add("log_segments", file.segmentCount)
        report.add("log_segments_deleted", file.segmentsDeleted)
        report.add("log_disk_bytes", file.diskBytes)
    }
    report.add("own_loopback", loop.node.counters.ownLoopback)
    report.add("tx_datagrams", loop.network.datagramsSent)
    report.add("tx_send_calls", loop.network.sendCalls)
    report.add("tx_errors", loop.network.sendErrors)
    report.add("tx_segmentation_refused", loop.network.segmentationRefused)
    report.add("tx_unroutable", loop.network.unroutable)
    report.add("repair_throttled", loop.node.counters.repairThrottled)
    report.add("node_claims_answered", loop.node.counters.claimsAnswered)
    report.add("node_claim_answers_throttled", loop.node.counters.claimAnswersThrottled)
    report.add("node_claims_unreadable", loop.node.counters.claimsUnreadable)
    report.add("authentication", loop.node.auth == nil ? "none" : DatagramAuthenticator.algorithm)
    if let a = loop.node.auth {
        for (name, value) in a.counters.named { report.add(name, value) }
        report.add("auth_key_reloads", loop.keyWatch?.reloads ?? 0)
        report.add("auth_key_reload_failures", loop.keyWatch?.failures ?? 0)
    }
    report.add("writes_completed", loop.node.counters.writesCompleted)
}

func counters(_ output: RoleOutput, _ report: inout Report) {
    let c = output.counters
    // Sends the outbox refused at its ceiling (0 in a healthy run) and times it grew.
    report.add("outbox_dropped_full", output.outbox.droppedFull)
    report.add("outbox_dropped_encode", output.outbox.droppedEncode)
    report.add("outbox_grown", output.outbox.grown)
    report.add("datagrams_received", c.datagramsReceived)
    report.add("dropped_malformed", c.droppedMalformed)
    report.add("dropped_wrong_group", c.droppedWrongGroup)
    report.add("dropped_wrong_fingerprint", c.droppedWrongFingerprint)
    report.add("dropped_unexpected_kind", c.droppedUnexpectedKind)
    report.add("dropped_stale_epoch", c.droppedStaleEpoch)
    report.add("dropped_store_full", c.droppedStoreFull)
    report.add("dropped_far_ahead", c.droppedFarAhead)
    report.add("back_pressured_by_collection", c.backPressuredByCollection)
    report.add("dropped_oversize", c.droppedOversize)
    report.add("conflicting_bodies", c.conflictingBodies)
    report.add("dropped_inconsistent", c.droppedInconsistent)
    report.add("last_malformed_reason", c.lastMalformedReason)
    report.add("id_queries_sent", c.idQueriesSent)
    report.add("fetches_sent", c.fetchesSent)
    report.add("repairs_served", c.repairsServed)
    report.add("retransmissions", c.retransmissions)
    report.add("retransmits_deferred", c.retransmitsDeferred)
    report.add("bodies_evicted", c.bodiesEvicted)
    report.add("incarnations_retired", c.incarnationsRetired)
    report.add("dropped_expired", c.droppedExpired)
    report.add("checkpoint_fetches", c.checkpointFetches)
    report.add("recovered_records_refused", c.recordsRefused)
}

func memberReport(_ loop: RoleLoop<MemberWorkload>, _ report: inout Report) {
    let m = loop.role
    let app = m.app
    report.add("delivered", app.deliveredCount)
    report.add("pending_overflow", m.pendingLayout.overflow)
    report.add("pending_lanes", m.pendingLayout.lanes)
    report.add("pending_total", m.pendingLayout.total)
    report.add("incarnations_delivered_table", m.streamTableSizes.delivered)
    report.add("incarnations_ended_table", m.streamTableSizes.ended)
    report.add("checkpoint_bytes", m.latestCheckpointBytes)
    report.add("delivered_through", m.deliveredThrough.rawValue)
    report.add("digest", String(app.stateDigest, radix: 16))
    report.add("fifo_violations", app.fifoViolations)
    report.add("foreign_bodies", app.foreignBodies)
    report.add("published", loop.workload.published)
    report.add("back_pressured", loop.workload.backPressured)
    report.add("streams_ended", loop.workload.streamsEnded)
    report.add("checkpoints_installed", loop.workload.checkpointsInstalled)
    report.add("delivery_gaps", raw: "[" + loop.workload.deliveryGaps.map { "[\($0.endNanos),\($0.nanos)]" }
        .joined(separator: ",") + "]")
    report.add("finished", loop.workload.finished(m) && loop.workload.stateFailure == nil)
    if let f = loop.workload.stateFailure { report.add("state_failure", f) }
    let span = Double(app.measuredLastNs &- app.measuredFirstNs) / 1e9
    report.add("measured_messages", app.measuredCount)
    report.add("measured_seconds", span)
    report.add("measured_delivered", app.measuredLastDelivered &- app.measuredFirstDelivered)
    report.add("commits_per_second", app.measuredRate)
    if let s = loop.workload.publishStart, let e = loop.workload.publishEnd {
        report.add("publish_seconds", Double(e.nanoseconds &- s.nanoseconds) / 1e9)
    }
    let h = app.latency
    report.add("latency_samples", h.totalCount)
    report.add("latency_p50_us", h.totalCount > 0 ? h.valueAtPercentile(50) : 0)
    report.add("latency_p90_us", h.totalCount > 0 ? h.valueAtPercentile(90) : 0)
    report.add("latency_p99_us", h.totalCount > 0 ? h.valueAtPercentile(99) : 0)
    report.add("latency_p999_us", h.totalCount > 0 ? h.valueAtPercentile(99.9) : 0)
    report.add("latency_p9999_us", h.totalCount > 0 ? h.valueAtPercentile(99.99) : 0)
    report.add("latency_max_us", h.totalCount > 0 ? h.maxRecorded : 0)
}

/// A restarted sequencer says once how long after its start it committed a new number (its
/// recovery time: reading its log, re-submitting what was not known committed, and the commit
/// servers' acks), so a crash test can report it.
/// It also says when this candidate becomes active in an epoch and when it steps down (with
/// the monotonic clock, which every process on a host shares), so a fail-over test can find
/// the active sequencer and split each fail-over's time.
struct SequencerRestartWatch: LoopWorkload {
    let startedNanos: UInt64
    let records: Int
    let log: @Sendable (String) -> Void
    var told = false
    var activeEpoch = Epoch.none
    var active = false

    mutating func step(_ role: inout Sequencer, now: Instant) -> Instant? {
        if takeOverRequested.exchange(false, ordering: .relaxed) {
            log(role.takeOver(now: now) ? "taking over at an operator's request (SIGUSR1) at monotonic \(now.nanoseconds)"
                                        : "asked to take over (SIGUSR1) but not a standby: nothing to do")
        }
        if !told, role.recoveredThrough > .zero, role.committedThrough > role.recoveredThrough {
            told = true
            let ms = Double(now.nanoseconds &- startedNanos) / 1e6
            log("committing again \((ms * 10).rounded() / 10) ms after start (recovered \(records) records, "
                + "numbers through \(role.recoveredThrough.rawValue))")
        }
        if role.isActive, !active || role.epoch != activeEpoch {
            active = true
            activeEpoch = role.epoch
            log("active in epoch \(role.epoch) at monotonic \(now.nanoseconds) (takeovers \(role.takeovers))")
        } else if active, !role.isActive {
            active = false
            log("stepped down from epoch \(activeEpoch) at monotonic \(now.nanoseconds): a newer epoch was sealed")
        }
        return nil
    }

    mutating func observe(_ event: RoleEvent, now: Instant) {}
    func finished(_ role: Sequencer) -> Bool { false }
}
