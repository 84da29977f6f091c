import Glibc
import Logging
import SeqcastConfig
import SeqcastCore
import SeqcastNode
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire

/// A member of a Seqcast group, embedded in an application: it publishes messages and delivers
/// every committed message of the group, in the same order as every other member.
///
/// One thread owns a member. Nothing runs in the background: `poll` is the member's duty
/// cycle (it receives, repairs gaps, retransmits, sends what `publish` accepted, and hands
/// committed messages to its handler), so an application calls it in its loop, often
/// (Aeron's agent invoked by its owner). Between two polls nothing arrives and nothing leaves.
///
/// ```swift
/// let member = try SeqcastMember(configFile: "group.yaml", node: 41)
/// member.onEvent = { if case .committed(let id, let seq) = $0 { print("\(id) committed at \(seq)") } }
/// _ = member.publish(Array("hello".utf8))
/// while running {
///     member.poll(limit: 256, waitingAtMost: .milliseconds(10)) { d in
///         print(d.sequence, d.sender, d.bytes.count)
///     }
/// }
/// member.close()
/// ```
public final class SeqcastMember {
    /// How a member starts and where it keeps its state.
    public struct Options {
        /// Where deliveries start (default: from sequence number 1).
        public var start = StartPosition.beginning
        /// The node's data folder (its incarnation; a checkpoint server's log). Made on the first
        /// start if it does not exist or is empty; default
        /// `<stateDirectory>/<group name>-<group instance>-<node>` (a new group, a new folder).
        public var dataDirectory: String?
        public var stateDirectory = "/var/tmp/seqcast"
        /// The application's replicated state, for checkpoints (nil: none kept).
        public var state: ApplicationState?
        /// The multicast interface address, if not the group file's (or the node's own address).
        public var interfaceAddress: String?
        /// `io_uring`, `sendmmsg` or `auto`.
        public var transport = "auto"
        /// How long the node id is claimed on the network before the member starts: a process
        /// already running with the same id answers, and this one refuses to start.
        public var claimSeconds = 0.3
        /// Where the member says what a person must hear (once, never per message): warnings
        /// at `.warning`, alarms at `.critical`, notices at `.info` (`LogLines`).
        public var logger = Logger(label: "seqcast")
        public init() {}
    }

    /// Called during `poll` with each event (commits of this member's messages, stream ends,
    /// checkpoints, resynchronisation, the first contact with a sequencer).
    public var onEvent: ((MemberEvent) -> Void)?

    typealias Loop = RoleLoop<EmbeddedWorkload>
    var loop: Loop
    var source: ReceivePath
    let folder: DataFolder
    public let node: UInt32
    /// The group's name (from its file).
    public let group: String
    public private(set) var isClosed = false
    /// The largest message `publish` accepts: the group's `limits.message-bytes`, or in a group
    /// with a feed what one MoldUDP64 packet holds (`feed.packet-bytes` less 22), if smaller.
    public let largestMessageBytes: Int
    /// The group's feed section (nil: the group has no MoldUDP64 feed).
    public let feed: GroupLayout.Feed?
    var connectedTold = false
    /// A poll is running (its handler may not publish or poll: the member is mid-delivery).
    var polling = false
    /// The events of the last poll, handed to `onEvent` after the poll's work (swapped with
    /// the sink's, so an event handler may publish; no allocation once both have grown).
    var eventScratch: [MemberEvent] = []

    /// Joins the group described by a group file (`seqcast config example` writes one) as
    /// node `node`: a member's id need not be listed in the file, but must be unique in the
    /// group (a second process with it is refused).
    /// The data folder a member of `layout` with these options uses: `options.dataDirectory`, or
    /// `<stateDirectory>/<group>-<instance hex>-<node>`.
    public static func dataDirectory(layout: GroupLayout, node: UInt32, options: Options) -> String {
        options.dataDirectory ?? "\(options.stateDirectory)/\(layout.name)-\(String(layout.instance, radix: 16))-\(node)"
    }

    public convenience init(configFile: String, node: UInt32, options: Options = Options()) throws {
        try self.init(layout: GroupFile.load(path: configFile), node: node, options: options)
    }

    /// Joins the group `layout` describes (the group file's contents, built in code).
    public init(layout: GroupLayout, node: UInt32, options: Options = Options()) throws {
        let id = NodeId(node)
        let role: NodeRole = layout.node(id)?.role == .checkpointServer ? .checkpointServer : .member
        var network = NetworkConfig(layout: layout, node: id)
        if let a = options.interfaceAddress { network.interfaceAddress = a }
        guard let transport = TransportChoice(rawValue: options.transport) else {
            throw SeqcastError("transport \(options.transport): expected io_uring, sendmmsg or auto")
        }
        network.transport = transport
        var start = NodeStartOptions(role: role, node: id, layout: layout, network: network)
        start.stateDirectory = options.stateDirectory
        start.dataDirectory = Self.dataDirectory(layout: layout, node: node, options: options)
        start.initializeIfEmpty = true
        guard options.claimSeconds >= 0, options.claimSeconds <= 60 else {
            throw SeqcastError("claimSeconds must be between 0 and 60")
        }
        start.claimPeriod = Nanoseconds(UInt64(options.claimSeconds * 1e9))
        let joins: Bool
        switch options.start {
        case .beginning: joins = false
        case .latestCheckpoint, .liveTail:
            guard !layout.ids(.checkpointServer).isEmpty else {
                throw SeqcastError("start \(options.start) needs a checkpoint server, and the group file lists none")
            }
            joins = true
        case .after: joins = !layout.ids(.checkpointServer).isEmpty  // without one: replay from 1, quietly
        }
        let log = LogLines.to(options.logger)
        let s = try NodeStart(start, log: log)
        let now = Instant(nanoseconds: monotonicNanos())
        var app = EmbeddedApplication(state: options.state)
        switch options.start {
        case .beginning: break
        case .latestCheckpoint: app.expectingStartCheckpoint = true
        case .liveTail:
            app.expectingStartCheckpoint = true
            app.tailPending = true
        case .after(let n):
            app.stateAt = n
            app.quietThrough = n
        }
        var member: Member<EmbeddedApplication> = role == .member
            ? Member(config: s.config, node: id, incarnation: s.incarnation, seed: s.seed(now: now, node: id), now: now,
                     app: app, joining: joins)
            : .checkpointServer(config: s.config, node: id, incarnation: s.incarnation, seed: s.seed(now: now, node: id),
                                now: now, app: app, recovering: s.recovered, restarted: s.restarted)
        member.digestsDeliveredBodies = false
        // Nothing is delivered outside a poll (its handler is set only then).
        member.deliveryAllowance = 0
        loop = Loop(role: member, workload: EmbeddedWorkload(incarnationFile: s.incarnationFile), network: s.network,
                    id: id, store: s.store, auth: s.auth)
        loop.node.claim = s.claim
        loop.fingerprint = s.fingerprint
        loop.log = log
        if let a = s.auth, let security = s.layout.security { loop.keyWatch = KeyFileWatch(auth: a, security: security) }
        loop.liveCounters = LiveCountersPublisher.open(layout: s.layout, node: id, role: role, log: log)
        source = try ReceivePath(sockets: s.network.receiveSockets, transport: transport)
        folder = s.folder
        self.node = node
        group = s.layout.name
        largestMessageBytes = min(s.config.limits.messageBytesMax, s.layout.feed?.messageBytesMax ?? .max)
        feed = s.layout.feed
    }

    deinit { if !isClosed { close() } }

    // MARK: publishing

    /// Publishes one message without blocking: it leaves on the next `poll` (messages published
    /// between two polls share datagrams), and `MemberEvent.committed` names its sequence
    /// number once the group committed it. Unsequenced messages are retransmitted until they
    /// commit, and continue under a new incarnation if the sequencer ends this stream.
    public func publish(_ bytes: UnsafeRawBufferPointer) -> PublishOutcome {
        precondition(!polling, "SeqcastMember.publish called from inside a poll handler: publish after poll returns "
            + "(or from onEvent, which runs after the poll's deliveries)")
        guard !isClosed else { return .closed }
        guard bytes.count <= largestMessageBytes else { return .tooLarge }
        guard isConnected else { return .notConnected }
        let now = Instant(nanoseconds: monotonicNanos())
        switch loop.node.perform(now: now, { $0.publish(bytes, now: now) }) {
        case .accepted(let id): return .accepted(id)
        case .backPressured: return .backPressured
        case .tooLarge: return .tooLarge
        }
    }

    /// Publishes one message (see `publish(_:)` for a borrowed buffer).
    public func publish(_ bytes: [UInt8]) -> PublishOutcome { bytes.withUnsafeBytes { publish($0) } }

    // MARK: subscribing

    /// Runs the member's duty cycle and hands at most `limit` committed messages to `handler`,
    /// in sequence order; returns how many it handed (limit 0: the duty cycle only, handing
    /// nothing: an application that cannot take messages now keeps the member alive). With `waitingAtMost` above zero, a poll
    /// that finds nothing to hand blocks in the kernel for up to that long (and returns early
    /// when messages arrive); zero never blocks. Events reach `onEvent` before it returns.
    @discardableResult
    public func poll(limit: Int = 256, waitingAtMost wait: Duration = .zero, _ handler: (Delivery) -> Void) -> Int {
        precondition(!polling, "SeqcastMember.poll called from inside its own handler")
        guard !isClosed else { return 0 }
        polling = true
        let waitNanos = UInt64(max(0, wait.components.seconds)) &* 1_000_000_000
            &+ UInt64(max(0, wait.components.attoseconds / 1_000_000_000))
        let deadline = monotonicNanos() &+ waitNanos
        let handed = withoutActuallyEscaping(handler) { h -> Int in
            loop.node.role.withApplication {
                $0.handler = h
                $0.handed = 0
            }
            // What an earlier poll's limit left held first, then the network and the timers;
            // blocking only once a pass found nothing to hand. Quiet deliveries (a start
            // position's catch-up) do not count against the limit: the allowance is raised to
            // what is left of it before every pass.
            var timeout: Int64 = 0
            while true {
                let handed = loop.node.role.app.handed
                loop.node.role.deliveryAllowance = limit - handed
                let now = Instant(nanoseconds: monotonicNanos())
                loop.node.perform(now: now) { $0.deliverHeld(now: now) }
                // The network and the timers every time, even when held messages used the
                // whole limit: receiving, repairing and sending what publish accepted go on.
                let heldHanded = loop.node.role.app.handed > handed
                loop.node.role.deliveryAllowance = limit - loop.node.role.app.handed
                loop.pass(source: &source, timeoutNanos: heldHanded ? 0 : timeout)
                settle()
                guard loop.node.role.app.handed == 0, loop.node.sink.stateFailure == nil else { break }
                let after = monotonicNanos()
                guard after < deadline else { break }
                timeout = min(loop.blockingTimeout(now: Instant(nanoseconds: after)) ?? 0, Int64(deadline - after))
            }
            loop.node.role.deliveryAllowance = 0
            return loop.node.role.withApplication {
                $0.handler = nil
                return $0.handed
            }
        }
        polling = false
        dispatchEvents()
        if let failure = loop.node.sink.stateFailure {
            loop.log("closing: \(failure)")
            close()
        }
        return handed
    }

    /// Once the start's join is over: a `.liveTail` start hands what the group commits after
    /// the member caught up (the frontier it knows then), and says where it started; a start
    /// that expected a checkpoint and found none (the group has not taken one yet) starts
    /// from 1, and a later checkpoint is a resynchronisation, not the start.
    func settle() {
        let app = loop.node.role.app
        guard app.tailPending || app.expectingStartCheckpoint, !loop.node.role.isJoining else { return }
        // The live tail starts at the frontier, which only a heartbeat or a commit tells: a
        // member that installed its checkpoint before either came took the checkpoint for the
        // frontier and handed history (cli-test, once a member's start stopped filling its body
        // store up front and joins got that much faster).
        if app.tailPending, !loop.node.role.hasHeardSequencer { return }
        let from = max(loop.node.role.deliveredThrough, loop.node.role.committedThrough).rawValue
        loop.node.role.withApplication {
            $0.expectingStartCheckpoint = false
            guard $0.tailPending else { return }
            $0.tailPending = false
            $0.quietThrough = from
            $0.stateAt = from
            $0.events.append(.startedFromCheckpoint(through: from))
        }
    }

    func dispatchEvents() {
        if !connectedTold, isConnected {
            connectedTold = true
            onEvent?(.connected)
        }
        if !loop.node.role.app.events.isEmpty {
            loop.node.role.withApplication { swap(&eventScratch, &$0.events) }
            tell()
        }
        if !loop.node.sink.events.isEmpty {
            swap(&eventScratch, &loop.node.sink.events)
            tell()
        }
    }

    func tell() {
        if let onEvent { for e in eventScratch { onEvent(e) } }
        eventScratch.removeAll(keepingCapacity: true)
    }

    /// Polls until every message this member published is committed, or `timeout` passed;
    /// returns whether none is left unsequenced. Deliveries meanwhile go to `handler`.
    public func flush(timeout: Duration, _ handler: (Delivery) -> Void = { _ in }) -> Bool {
        let end = ContinuousClock.now + timeout
        while unsequencedCount > 0, !isClosed, ContinuousClock.now < end {
            poll(limit: 1_024, waitingAtMost: .milliseconds(5), handler)
        }
        return unsequencedCount == 0
    }

    /// Stops the member: nothing is sent or delivered after it; its folder is released.
    /// Messages not yet committed are not retransmitted any more (`flush` first to wait for them).
    public func close() {
        notPolling("close")
        guard !isClosed else { return }
        isClosed = true
        loop.network.flush()
        loop.liveCounters?.file.remove()
        folder.unlock()
    }

    // MARK: state

    /// Whether a sequencer was heard and the member is not catching up from a checkpoint.
    public var isConnected: Bool {
        notPolling("isConnected")
        return loop.node.role.hasHeardSequencer && !loop.node.role.isJoining
    }
    /// The last sequence number handed to the application (or the start position).
    public var deliveredThrough: UInt64 {
        notPolling("deliveredThrough")
        return loop.node.role.app.stateAt
    }
    /// How many of the group's messages this member's stream has counted so far: the `ordinal`
    /// of the last one delivered (or applied quietly, or covered by the checkpoint it started
    /// from). The next delivery's ordinal is one more.
    public var messagesCounted: UInt64 {
        notPolling("messagesCounted")
        return loop.node.role.app.deliveredCount
    }
    /// The highest sequence number this member knows committed in the group.
    public var committedThrough: UInt64 {
        notPolling("committedThrough")
        return loop.node.role.committedThrough.rawValue
    }
    /// Messages this member published that are not known committed yet.
    public var unsequencedCount: Int {
        notPolling("unsequencedCount")
        return loop.node.role.unsequencedCount
    }
    /// This member's current stream (its node id and incarnation).
    public var sender: SenderId {
        notPolling("sender")
        return loop.node.role.sender
    }

    /// The member is mid-delivery inside a poll handler: its state may not be read or changed
    /// from there (Swift's exclusivity rule would abort without saying why). `Delivery` carries
    /// what a handler needs; the rest can be read once poll returns, or in `onEvent`.
    func notPolling(_ what: String) {
        precondition(!polling, "SeqcastMember.\(what) used inside a poll handler: read it after poll returns or in onEvent")
    }
}

/// A refusal of the library's own (configuration and start problems name their field).
public struct SeqcastError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
