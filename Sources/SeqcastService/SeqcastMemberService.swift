import Foundation
import SeqcastClient
import ServiceLifecycle
import Synchronization

/// A delivered message copied out of the member's store, for `SeqcastMemberService.deliveries`
/// (the polling API borrows instead and allocates nothing per delivery).
public struct OwnedDelivery: Sendable, Equatable {
    public let sequence: UInt64
    /// The message's place among the group's messages (`Delivery.ordinal`).
    public let ordinal: UInt64
    public let id: MessageId
    public let bytes: [UInt8]
    /// The publisher's node id.
    public var sender: UInt32 { id.sender.node.rawValue }
}

/// A `SeqcastMember` as a swift-service-lifecycle `Service`, for applications built on Swift
/// concurrency: its duty cycle runs on a thread of its own; deliveries and events arrive as
/// `AsyncStream`s; `publish` suspends until the member accepted the message (back-pressure
/// becomes waiting). Graceful shutdown or cancellation stops it: what was accepted is given up
/// to 5 s to commit, then the member closes and both streams finish.
///
/// ```swift
/// let feed = SeqcastMemberService { try SeqcastMember(configFile: "group.yaml", node: 41) }
/// let group = ServiceGroup(services: [feed], gracefulShutdownSignals: [.sigterm], logger: logger)
/// async let running: Void = group.run()
/// _ = await feed.publish(Array("hello".utf8))
/// for await d in feed.deliveries { print(d.sequence, d.sender, d.bytes.count) }
/// ```
public final class SeqcastMemberService: Service, Sendable {
    /// Committed messages in sequence order. Nothing is dropped: when the consumer falls
    /// `bufferedDeliveries` behind, the member stops handing messages over (it keeps receiving
    /// and repairing; its store fills, then the group's back-pressure reaches the publishers).
    public let deliveries: AsyncStream<OwnedDelivery>
    /// The member's events (commits of its own messages, stream ends, checkpoints, …).
    public let events: AsyncStream<MemberEvent>
    let deliveriesIn: AsyncStream<OwnedDelivery>.Continuation
    let eventsIn: AsyncStream<MemberEvent>.Continuation
    let makeMember: @Sendable () throws -> SeqcastMember
    let outgoing = Mutex<[(bytes: [UInt8], reply: CheckedContinuation<PublishOutcome, Never>)]>([])
    let stopping = Atomic<Bool>(false)
    let stopped = Atomic<Bool>(false)
    let bufferedDeliveries: Int

    /// - Parameters:
    ///   - bufferedDeliveries: deliveries the stream holds before the member waits for the consumer.
    ///   - makeMember: makes the member, on the service's thread, when the service runs.
    public init(bufferedDeliveries: Int = 65_536, makeMember: @escaping @Sendable () throws -> SeqcastMember) {
        (deliveries, deliveriesIn) = AsyncStream.makeStream(of: OwnedDelivery.self,
                                                            bufferingPolicy: .bufferingOldest(max(1, bufferedDeliveries)))
        (events, eventsIn) = AsyncStream.makeStream(of: MemberEvent.self, bufferingPolicy: .bufferingNewest(65_536))
        self.makeMember = makeMember
        self.bufferedDeliveries = max(1, bufferedDeliveries)
    }

    /// Publishes one message: returns once the member accepted it (`.accepted` with its id;
    /// `.committed` follows on `events`), or `.tooLarge`, or `.closed` once the service stopped.
    public func publish(_ bytes: [UInt8]) async -> PublishOutcome {
        await withCheckedContinuation { reply in
            let refused = outgoing.withLock { queue -> Bool in
                if stopped.load(ordering: .acquiring) { return true }
                queue.append((bytes, reply))
                return false
            }
            if refused { reply.resume(returning: .closed) }
        }
    }

    public func run() async throws {
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
                let thread = Thread { self.dutyCycle(done) }
                thread.name = "seqcast-member"
                thread.start()
            }
        } onCancelOrGracefulShutdown: {
            self.stopping.store(true, ordering: .releasing)
        }
    }

    /// The member's thread: publishes what `publish` queued (in order, waiting out
    /// back-pressure), polls, copies deliveries into the stream without ever dropping one.
    func dutyCycle(_ done: CheckedContinuation<Void, any Error>) {
        let member: SeqcastMember
        do {
            member = try makeMember()
        } catch {
            finish()
            refuseQueued([])
            done.resume(throwing: error)
            return
        }
        let events = eventsIn
        member.onEvent = { events.yield($0) }
        var pending: [(bytes: [UInt8], reply: CheckedContinuation<PublishOutcome, Never>)] = []
        var backlog: [OwnedDelivery] = []  // refused by a full stream, handed again first
        var room = min(256, bufferedDeliveries)
        // A delivery refused by a full stream waits in the backlog; later ones queue behind it.
        func take(_ m: Delivery) {
            let d = OwnedDelivery(sequence: m.sequence, ordinal: m.ordinal, id: m.id, bytes: Array(m.bytes))
            if !backlog.isEmpty || !hand(d, room: &room) { backlog.append(d) }
        }
        while !stopping.load(ordering: .acquiring), !member.isClosed {
            pending += outgoing.withLock { queue in
                defer { queue.removeAll(keepingCapacity: true) }
                return queue
            }
            var sent = 0
            while sent < pending.count {
                let outcome = member.publish(pending[sent].bytes)
                if outcome == .backPressured || outcome == .notConnected { break }
                pending[sent].reply.resume(returning: outcome)
                sent += 1
            }
            pending.removeFirst(sent)
            var handed = 0
            while handed < backlog.count, hand(backlog[handed], room: &room) { handed += 1 }
            backlog.removeFirst(handed)
            // Limit 0 still runs the duty cycle (receive, repair, retransmit) and hands nothing.
            member.poll(limit: backlog.isEmpty ? min(256, room) : 0, waitingAtMost: pending.isEmpty ? .milliseconds(5) : .zero,
                        take)
            if backlog.isEmpty, room == 0 { room = 1 }  // probe: the consumer may have caught up
        }
        // What arrives while the accepted messages commit still reaches the stream (if it has room).
        _ = member.flush(timeout: .seconds(5), take)
        for d in backlog where !hand(d, room: &room) { break }
        member.close()
        refuseQueued(pending)
        finish()
        done.resume()
    }

    /// Every publish still waiting learns the service stopped (`stopped` is set first, so no
    /// publish queues after this).
    func refuseQueued(_ pending: [(bytes: [UInt8], reply: CheckedContinuation<PublishOutcome, Never>)]) {
        stopped.store(true, ordering: .releasing)
        for p in pending + outgoing.withLock({ q in defer { q.removeAll() }; return q }) { p.reply.resume(returning: .closed) }
    }

    /// Yields one delivery; false if the stream is full (the caller keeps it).
    func hand(_ d: OwnedDelivery, room: inout Int) -> Bool {
        switch deliveriesIn.yield(d) {
        case .enqueued(let remaining):
            room = remaining
            return true
        case .dropped:
            room = 0
            return false
        case .terminated:
            return true  // nobody listens any more
        @unknown default:
            return true
        }
    }

    func finish() {
        stopped.store(true, ordering: .releasing)
        deliveriesIn.finish()
        eventsIn.finish()
    }
}
