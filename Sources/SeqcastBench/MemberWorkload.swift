import Glibc
import SeqcastCore
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire

/// What a member process publishes and waits for.
public struct MemberPlan: Sendable {
    /// Messages to publish (0: publish nothing); with `publishSeconds` the plan stops at whichever comes first.
    public var publishCount: UInt64 = 0
    public var publishSeconds: Double?
    /// Messages per second (nil: as fast as back-pressure allows). At a rate the schedule is
    /// open loop: each message carries the instant it was due, and latency counts from there.
    public var rate: Double?
    public var messageBytes = 64
    /// Deliveries (from every publisher) after which the member reports and exits. nil: read it
    /// from `expectFile` once that exists (the benchmark coordinator writes it when every
    /// publisher has said how many it published).
    public var expectTotal: UInt64?
    public var expectFile: String?
    /// Where to write how many messages this member published, once it has stopped publishing.
    public var publishedFile: String?
    /// Publishing starts at this CLOCK_MONOTONIC instant (so publishers of a group start together).
    public var startAtNanos: UInt64 = 0
    /// Publishes at most this many messages per loop iteration, so receiving interleaves.
    public var publishBurst = 256
    public init() {}
}

/// A member's workload: publishes the plan's messages (each a `BenchBody`), then waits until it
/// has delivered the expected total and its own messages are all committed.
public struct MemberWorkload: LoopWorkload {
    public typealias Role = Member<BenchApplication>
    public let plan: MemberPlan
    let node: NodeId
    public private(set) var published: UInt64 = 0
    public private(set) var backPressured: UInt64 = 0
    public private(set) var expectTotal: UInt64?
    public private(set) var publishStart: Instant?
    public private(set) var publishEnd: Instant?
    public private(set) var streamsEnded = 0
    public private(set) var checkpointsInstalled = 0
    /// Stalls in delivery while publishing (fail-over unavailability as a member sees it):
    /// when delivery resumed (monotonic) and how long nothing was delivered before.
    public private(set) var deliveryGaps: [(endNanos: UInt64, nanos: UInt64)] = []
    static let deliveryGapMin = Nanoseconds.millis(3)
    /// The most recent stalls are kept (a noisy host stalls now and then; the last ones matter).
    static let deliveryGapsMax = 16_384
    var lastDelivered: UInt64 = 0
    var lastDeliveryAt = Instant.zero
    var body: UnsafeMutableRawBufferPointer
    var nextFileCheck = Instant.zero
    /// Where a stream end records the sender's next incarnation (nil: nowhere, tests only).
    public var incarnationFile: IncarnationFile?
    /// A stream end whose next incarnation could not be recorded: the member stops (reusing an
    /// incarnation after a restart would lose messages).
    public private(set) var stateFailure: String?

    public init(plan: MemberPlan, node: NodeId) {
        self.plan = plan
        self.node = node
        expectTotal = plan.expectTotal
        body = .allocate(byteCount: max(plan.messageBytes, BenchBody.byteCount), alignment: 8)
        body.initializeMemory(as: UInt8.self, repeating: 0x5A)
    }

    public mutating func step(_ role: inout Role, now: Instant) -> Instant? {
        role.withApplication { $0.loopNanos = now.nanoseconds }
        let delivered = role.app.deliveredCount
        if delivered != lastDelivered {
            // Per loop pass, not per message: one comparison while delivery flows.
            if lastDelivered > 0, now.since(lastDeliveryAt) >= Self.deliveryGapMin {
                if deliveryGaps.count == Self.deliveryGapsMax { deliveryGaps.removeFirst(Self.deliveryGapsMax / 2) }
                deliveryGaps.append((now.nanoseconds, now.since(lastDeliveryAt).value))
            }
            lastDelivered = delivered
            lastDeliveryAt = now
        }
        if expectTotal == nil, now >= nextFileCheck, let path = plan.expectFile {
            nextFileCheck = now + .millis(10)
            expectTotal = SmallFile.readNumber(path)
        }
        guard plan.publishCount > 0, publishEnd == nil else { return nil }
        if now.nanoseconds < plan.startAtNanos { return Instant(nanoseconds: plan.startAtNanos) }
        let start = publishStart ?? now
        publishStart = start
        if let s = plan.publishSeconds, now.since(start).value >= UInt64(s * 1e9) {
            stopPublishing(now)
            return nil
        }
        var allowed = plan.publishCount
        if let rate = plan.rate {
            allowed = min(allowed, UInt64(Double(now.since(start).value) * rate / 1e9) + 1)
        }
        var burst = 0
        while published < allowed, burst < plan.publishBurst {
            // At a fixed rate, a message is stamped with the instant it was due, not the one it
            // left: the latency it reports includes any wait for back-pressure (open loop, no
            // coordinated omission).
            let stamp = plan.rate.map { start.nanoseconds &+ UInt64(Double(published) / $0 * 1e9) } ?? now.nanoseconds
            BenchBody.write(into: body, node: node.rawValue, index: published + 1, ns: stamp)
            switch role.publish(UnsafeRawBufferPointer(body), now: now) {
            case .accepted:
                published += 1
                burst += 1
            case .backPressured:
                backPressured &+= 1
                return nil  // commits free the window; they arrive as input
            case .tooLarge:
                preconditionFailure("message size above messageBytesMax")
            }
        }
        if published == plan.publishCount {
            stopPublishing(now)
            return nil
        }
        if let rate = plan.rate, published >= allowed {
            return start + Nanoseconds(UInt64(Double(published) / rate * 1e9))
        }
        return now  // more to publish at once
    }

    public mutating func observe(_ event: RoleEvent, now: Instant) {
        switch event {
        case .streamEnded(_, _, let next, _, _):
            streamsEnded += 1
            // Durable before the republished messages leave (they leave on the next tick).
            do throws(FileError) {
                try incarnationFile?.record(next.incarnation)
            } catch {
                stateFailure = error.description
            }
        case .checkpointInstalled: checkpointsInstalled += 1
        default: break
        }
    }

    public func finished(_ role: Role) -> Bool {
        if stateFailure != nil { return true }
        guard let total = expectTotal, role.app.deliveredCount >= total else { return false }
        let donePublishing = plan.publishCount == 0 || publishEnd != nil
        return donePublishing && role.unsequencedCount == 0
    }

    mutating func stopPublishing(_ now: Instant) {
        publishEnd = now
        // The coordinator waits for this file; failing to write it shows as a bench timeout.
        if let path = plan.publishedFile { try? SmallFile.write("\(published)\n", to: path) }
    }
}
