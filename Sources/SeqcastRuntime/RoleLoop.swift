import CSeqcastShim
import Glibc
import SeqcastCore
import SeqcastTransport
import SeqcastNode
import SeqcastWire
import Synchronization

/// What a process does besides running its role: publish a workload, watch events (it is the
/// node's event sink), decide when it is done. Called once per loop iteration on the role's thread.
public protocol LoopWorkload: EventSink {
    associatedtype Role: ProtocolRole
    /// May publish; returns when it next wants to run (nil: only with other work).
    mutating func step(_ role: inout Role, now: Instant) -> Instant?
    func finished(_ role: Role) -> Bool
}

/// A server's workload: none.
public struct NoWorkload<Role: ProtocolRole>: LoopWorkload {
    public init() {}
    public mutating func step(_ role: inout Role, now: Instant) -> Instant? { nil }
    public mutating func observe(_ event: RoleEvent, now: Instant) {}
    public func finished(_ role: Role) -> Bool { false }
}

/// Where a loop's datagrams come from: the sockets directly (shared mode) or an SPSC ring fed
/// by an I/O thread (dedicated mode).
public protocol DatagramSource {
    /// Makes up to a batch of datagrams available, waiting at most `timeoutNanos` (0: never block).
    mutating func poll(timeoutNanos: Int64) -> Int
    func bytes(_ i: Int) -> UnsafeRawBufferPointer
    func from(_ i: Int) -> seqcast_addr
    /// The first `count` datagrams were consumed.
    mutating func release(_ count: Int)
}

extension ReceivePath: DatagramSource {
    public func bytes(_ i: Int) -> UnsafeRawBufferPointer {
        let d = datagrams[i]
        return UnsafeRawBufferPointer(start: d.data, count: Int(d.len))
    }
    public func from(_ i: Int) -> seqcast_addr { datagrams[i].from }
    public func release(_ count: Int) {}
}

/// Counts of one loop, for the closing report (single writer, read after the loop ends).
public struct LoopStatistics: Sendable {
    public var iterations: UInt64 = 0
    public var datagramsIn: UInt64 = 0
    public var ticks: UInt64 = 0
    public var blockingPolls: UInt64 = 0
    /// Passes that came `stallLogNanos` or more later than their wait allowed (the process was
    /// descheduled or blocked), and the longest such delay.
    public var stalls: UInt64 = 0
    public var longestStallNanos: UInt64 = 0
}

/// Set from a SIGTERM/SIGINT handler; every loop checks it at least every `blockMaxNanos`.
public let stopRequested = Atomic<Bool>(false)

/// Set from a SIGUSR1 handler: an operator asks this sequencer standby to take over now (a
/// planned hand-over, `seqcast handover`); its workload checks it once per loop pass.
public let takeOverRequested = Atomic<Bool>(false)

/// Drives one node on one thread: received datagrams, timers, the workload and storage
/// completions in; coalesced sends out. The node (`SeqcastNode.Node`) is the same driver the
/// simulator and the scenario tests run: its drain order, routing, repair rate limit and
/// own-datagram filter. Only the source of bytes and time differs here.
///
/// Idle strategy: after work, poll without blocking `spinPolls` times; then block in the kernel
/// until the role's next deadline (at most `blockMaxNanos`, so a stop request is seen). Two
/// cores host a whole group here, so a loop never spins for long.
///
/// Storage (`RuntimeLogStore`): with durability `none` a write is complete as soon as it is
/// queued; with `sync` once the log's sync thread synced it. While a write waits for its sync
/// the loop blocks at most `syncPollNanos`, so a completed sync reaches the role within that
/// (the role never reveals a record before its ticket returns).
public struct RoleLoop<W: LoopWorkload> {
    public typealias RuntimeNode = Node<W.Role, NodeNetwork, RuntimeLogStore, W>
    public var node: RuntimeNode
    public var stats = LoopStatistics()
    public var spinPolls = 8
    public var blockMaxNanos: Int64 = 10_000_000
    /// How long the loop blocks at most while a storage write waits for its sync.
    public var syncPollNanos: Int64 = 50_000
    /// Where the loop says what a person must hear once (a process with another group file).
    public var log: @Sendable (String) -> Void = { _ in }
    /// This process's group fingerprint, named when another process's differs.
    public var fingerprint: UInt32 = 0
    @usableFromInline var toldForeignFingerprint = false
    @usableFromInline var toldInconsistent = false
    @usableFromInline var toldConflict = false
    /// Reads changed key files again (authentication on); checked with the role's ticks.
    public var keyWatch: KeyFileWatch?
    @usableFromInline var toldSameNodeId = false
    /// When the workload last asked to run again (`LoopWorkload.step`), for the idle strategy.
    public var workloadWake: Instant?
    /// The node's live counters in shared memory (`seqcast stats`), copied a few times a second.
    public var liveCounters: LiveCountersPublisher?
    /// A pass that starts this much later than its wait allowed is logged (0: never). A
    /// sequencer candidate sets its suspicion time: a stall that long looks like a dead
    /// sequencer to the standbys, and the log says why a fail-over followed.
    public var stallLogNanos: UInt64 = 0
    /// When the previous pass's wait returned (monotonic ns; 0: none yet).
    @usableFromInline var lastPassAt: UInt64 = 0

    public init(role: W.Role, workload: W, network: NodeNetwork, id: NodeId, store: RuntimeLogStore = RuntimeLogStore(),
                auth: DatagramAuthenticator? = nil) {
        node = Node(id: id, role: role, transport: network, store: store, sink: workload,
                    repairDatagramsPerSecond: network.config.repairDatagramsPerSecond, auth: auth, now: Self.clock())
    }

    public var role: W.Role { node.role }
    public var workload: W { node.sink }
    public var network: NodeNetwork { node.transport }

    @usableFromInline @inline(__always) static func clock() -> Instant { Instant(nanoseconds: seqcast_monotonic_ns()) }

    /// Inlinable, so the caller's module specialises the loop for its role, workload and source
    /// (an unspecialised generic loop dispatches every call through witness tables).
    @inlinable public mutating func run<S: DatagramSource>(source: inout S) {
        var idlePolls = 0
        node.transport.flush()
        while !stopRequested.load(ordering: .relaxed), !node.sink.finished(node.role) {
            stats.iterations &+= 1
            var timeout: Int64 = 0
            if idlePolls >= spinPolls, let t = blockingTimeout(now: Self.clock()) {
                timeout = t
                stats.blockingPolls &+= 1
            }
            idlePolls = pass(source: &source, timeoutNanos: timeout) ? 0 : idlePolls + 1
        }
        node.transport.flush()
    }

    /// How long a loop with nothing to do may block in the kernel now: until the role's or the
    /// workload's next deadline, at most `blockMaxNanos` (`syncPollNanos` while a write waits
    /// for its sync); nil when a deadline has already passed (do not block).
    @inlinable public func blockingTimeout(now: Instant) -> Int64? {
        var wake = node.nextDeadline
        if let w = workloadWake { wake = wake.map { min($0, w) } ?? w }
        if let w = wake, w <= now { return nil }
        let blockMax = node.store.awaitingSync ? syncPollNanos : blockMaxNanos
        return wake.map { Int64(min(UInt64(blockMax), $0.nanoseconds - now.nanoseconds)) } ?? blockMax
    }

    /// One pass of the loop: waits at most `timeoutNanos` for datagrams and hands each to the
    /// node, runs the workload, drains, ticks when a deadline passed, and flushes the sends.
    /// Returns whether it did work (datagrams arrived or a timer ran): the idle strategy spins
    /// again after work. An embedding application's duty cycle is this pass, on its own thread.
    @inlinable @discardableResult
    public mutating func pass<S: DatagramSource>(source: inout S, timeoutNanos: Int64) -> Bool {
        let network = node.transport
        let n = source.poll(timeoutNanos: timeoutNanos)
        let now = Self.clock()
        if stallLogNanos > 0 { noteStall(now: now, waited: timeoutNanos) }
        var ticked = false
        for i in 0..<n {
            let peer = network.peer(source.from(i))
            node.receive(source.bytes(i), from: peer, now: now)
        }
        stats.datagramsIn &+= UInt64(n)
        source.release(n)
        workloadWake = node.sink.step(&node.role, now: now)
        node.drain(now: now)
        if let d = node.nextDeadline, d <= now {
            stats.ticks &+= 1
            ticked = true
            node.tick(now: now)
            if !toldForeignFingerprint { tellForeignFingerprint() }
        }
        // Every pass (a commit server has no timers to tick): one comparison until a second passed.
        if keyWatch != nil, let said = keyWatch!.check(now: now) { log(said) }
        if !toldSameNodeId, let a = node.auth, a.counters.sameNodeId > 0 { tellSameNodeId(a) }
        if !toldInconsistent, node.role.output.counters.droppedInconsistent > 0 { tellInconsistent() }
        if !toldConflict, let id = node.role.output.counters.firstConflict { tellConflict(id) }
        if liveCounters?.due(now) == true { publishLiveCounters(now) }
        network.flush()
        return n > 0 || ticked
    }

    /// Logs a pass whose wait returned `stallLogNanos` or more later than the previous pass's
    /// wait plus the wait it asked for: the previous pass's work (its sends included) or the
    /// wait itself overran by that much (once per stall, never per message).
    @usableFromInline mutating func noteStall(now: Instant, waited: Int64) {
        defer { lastPassAt = now.nanoseconds }
        guard lastPassAt > 0 else { return }
        let gap = now.nanoseconds &- lastPassAt
        let late = gap > UInt64(max(waited, 0)) ? gap - UInt64(max(waited, 0)) : 0
        guard late >= stallLogNanos else { return }
        stats.stalls &+= 1
        stats.longestStallNanos = max(stats.longestStallNanos, late)
        log("loop stalled \(late / 1_000_000) ms beyond its wait at monotonic \(now.nanoseconds) (the process was descheduled or blocked)")
    }
}

extension RoleLoop {
    /// Copies the counters into the node's counters file (every `LiveCountersPublisher.interval`).
    @usableFromInline mutating func publishLiveCounters(_ now: Instant) {
        let standing = (node.role as? any StandingReporting)?.standing ?? RoleStanding()
        liveCounters!.publish(output: node.role.output, standing: standing, node: node.counters, network: node.transport,
                              auth: node.auth, now: now)
    }

    /// Raises the alarm once: a number bound differently than this node holds it.
    @usableFromInline mutating func tellInconsistent() {
        toldInconsistent = true
        log("ALARM: a submit bound a sequence number differently from this node's log (dropped_inconsistent); "
            + "acks stay below that number from now on. A sequencer bug, or a folder copied or restored from "
            + "another node or an older state: stop this node and check its data folder")
    }

    /// Raises the alarm once: one message id with two bodies reached this node.
    @usableFromInline mutating func tellConflict(_ id: MessageId) {
        toldConflict = true
        log("ALARM: message \(id) arrived with two different bodies (conflicting_bodies): two processes publish "
            + "with node id \(id.sender.node.rawValue) (or a member publishes under another's id); the first body is "
            + "kept here, and other nodes may hold the other one. Give every process its own node id")
    }

    /// Says once that datagrams of this group from a process with another fingerprint are being
    /// dropped (checked on ticks, not per datagram: the counter is the per-message record).
    @usableFromInline mutating func tellForeignFingerprint() {
        guard let f = node.role.output.counters.firstForeignFingerprint else { return }
        toldForeignFingerprint = true
        log("dropping datagrams from node \(f.source.rawValue) of group 0x\(String(f.groupId, radix: 16)) sent with "
            + "configuration fingerprint 0x\(String(f.fingerprint, radix: 16)), ours is 0x\(String(fingerprint, radix: 16)): "
            + "that process runs from a group file that differs from ours; give every process of the group the same "
            + "file (seqcast config check FILE prints its fingerprint); counted as dropped_wrong_fingerprint")
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the time base every process on a host shares (publish
/// timestamps, start and measurement instants handed from the benchmark coordinator).
public func monotonicNanos() -> UInt64 { seqcast_monotonic_ns() }

/// Online CPUs.
public func onlineCPUs() -> Int { Int(seqcast_online_cpus()) }

/// CPU time this process has used (all threads), user and system, in seconds.
public func processCPUSeconds() -> (user: Double, system: Double) {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return (Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6,
            Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6)
}

extension RoleLoop {
    /// A verified datagram carried this node's id from another incarnation: said once. Not
    /// acted on: it is another process with this id (on another host), or an earlier life of
    /// this node replayed, or a member's forgery of a member kind; none may stop this process.
    @usableFromInline mutating func tellSameNodeId(_ a: DatagramAuthenticator) {
        toldSameNodeId = true
        let other = a.otherIncarnation.map(String.init) ?? "?"
        log("warning: a datagram verified with node id \(node.id.rawValue) from incarnation \(other), not this process's "
            + "\(a.incarnation): another process may run with this node id (or an old datagram of it was replayed); "
            + "it is dropped and counted (auth_dropped_same_node_id)")
    }
}
