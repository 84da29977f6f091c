import CSeqcastShim
import Histogram
import SeqcastCore
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire

/// The body every benchmark and test message starts with: who published it, its index in that
/// publisher's stream (1, 2, …, across incarnations) and when (CLOCK_MONOTONIC, shared by every
/// process on the host), then padding to the message size.
public enum BenchBody {
    public static let magic: UInt32 = 0x5342_4E43  // "CNBS"
    public static let byteCount = 24

    /// Writes the header fields into `body` (at least `byteCount` bytes).
    @inline(__always) public static func write(into body: UnsafeMutableRawBufferPointer, node: UInt32, index: UInt64, ns: UInt64) {
        body.storeBytes(of: (UInt64(magic) << 32 | UInt64(node)).littleEndian, toByteOffset: 0, as: UInt64.self)
        body.storeBytes(of: index.littleEndian, toByteOffset: 8, as: UInt64.self)
        body.storeBytes(of: ns.littleEndian, toByteOffset: 16, as: UInt64.self)
    }

    @inline(__always) static func read(_ body: UnsafeRawBufferPointer) -> (node: UInt32, index: UInt64, ns: UInt64)? {
        guard body.count >= byteCount else { return nil }
        let head = UInt64(littleEndian: body.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard UInt32(truncatingIfNeeded: head >> 32) == magic else { return nil }
        return (UInt32(truncatingIfNeeded: head), UInt64(littleEndian: body.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                UInt64(littleEndian: body.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
    }
}

/// What a benchmark application measures, set by its owner when it constructs it.
public struct BenchMeasurement: Sendable {
    /// Deliveries of messages published at or after this instant are measured (after warm-up;
    /// 0: nothing is measured).
    public var fromNanos: UInt64 = 0
    /// Record publish-to-delivery latency (reads the clock per delivered message). Off in the
    /// throughput phase, which only needs the delivery rate.
    public var latency = true
    public init(fromNanos: UInt64 = 0, latency: Bool = true) {
        self.fromNanos = fromNanos
        self.latency = latency
    }
}

/// The application of `seqcast run member` and `seqcast bench`: the reference application's
/// running digest (identical at every member iff they delivered the same sequence), plus a
/// per-publisher FIFO check (indexes must rise by exactly one: nothing lost, duplicated or
/// reordered within a publisher), plus publish-to-delivery latency and delivery rate over the
/// measured window. Latency and rate are local observations, not replicated state.
public struct BenchApplication: ReplicatedApplication {
    public private(set) var reference = ReferenceApplication()
    /// Last index delivered per publisher node (replicated: part of the snapshot). A few
    /// publishers: a linear scan beats hashing per message.
    public private(set) var lastIndex: [(node: UInt32, index: UInt64)] = []
    public private(set) var fifoViolations: UInt64 = 0
    public private(set) var foreignBodies: UInt64 = 0
    // Local measurements.
    public private(set) var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    public private(set) var measuredCount: UInt64 = 0
    public private(set) var measuredFirstNs: UInt64 = 0
    public private(set) var measuredLastNs: UInt64 = 0
    /// The delivered count just before the first measured message and at `measuredLastNs`:
    /// the rate counts every message the member's state advanced by in the window, including
    /// those a checkpoint install moved it past (which `apply` never sees one by one).
    public private(set) var measuredFirstDelivered: UInt64 = 0
    public private(set) var measuredLastDelivered: UInt64 = 0
    public let measurement: BenchMeasurement
    /// The role loop's clock, set once per loop iteration (`withApplication`): the delivery
    /// rate's time base when latency is off (a clock read per message cost ~7 % of a member at
    /// 500 K/s). Local, not replicated.
    public var loopNanos: UInt64 = 0

    public init(measurement: BenchMeasurement = BenchMeasurement()) { self.measurement = measurement }

    public var stateDigest: UInt64 { reference.stateDigest }
    public var deliveredCount: UInt64 { reference.deliveredCount }

    public mutating func apply(seq: SequenceNumber, id: MessageId, body: UnsafeRawBufferPointer) {
        reference.apply(seq: seq, id: id, body: body)
        guard let (node, index, ns) = BenchBody.read(body) else {
            foreignBodies &+= 1
            return
        }
        var k = 0
        while k < lastIndex.count, lastIndex[k].node != node { k += 1 }
        if k == lastIndex.count { lastIndex.append((node, 0)) }
        let last = lastIndex[k].index
        if index != last &+ 1 { fifoViolations &+= 1 }
        lastIndex[k].index = max(last, index)
        if ns >= measurement.fromNanos, measurement.fromNanos != 0 {
            let now = measurement.latency ? seqcast_monotonic_ns() : loopNanos
            if measuredCount == 0 {
                measuredFirstNs = now
                measuredFirstDelivered = reference.deliveredCount &- 1
            }
            measuredLastNs = now
            measuredLastDelivered = reference.deliveredCount
            measuredCount &+= 1
            if measurement.latency { _ = latency.record(now > ns ? (now - ns) / 1_000 : 0) }
        }
    }

    /// Messages per second the member's delivered state advanced by over the measured window
    /// (0 when the window holds fewer than two instants).
    public var measuredRate: Double {
        let seconds = Double(measuredLastNs &- measuredFirstNs) / 1e9
        guard seconds > 0, measuredLastDelivered > measuredFirstDelivered else { return 0 }
        return Double(measuredLastDelivered - measuredFirstDelivered - 1) / seconds
    }

    public func snapshot() -> [UInt8] {
        var out = reference.snapshot()
        func put(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(UInt64(lastIndex.count))
        for (node, index) in lastIndex.sorted(by: { $0.node < $1.node }) {
            put(UInt64(node))
            put(index)
        }
        put(fifoViolations)
        return out
    }

    public mutating func restore(_ snapshot: [UInt8]) -> Bool {
        let referenceBytes = 32
        guard snapshot.count >= referenceBytes + 16,
              reference.restore(Array(snapshot[..<referenceBytes])) else { return false }
        var r = RecordReader(Array(snapshot[referenceBytes...]))
        guard let n = r.next(), n <= 4_096 else { return false }
        var table: [(node: UInt32, index: UInt64)] = []
        for _ in 0..<n {
            guard let node = r.next(), let index = r.next() else { return false }
            table.append((UInt32(truncatingIfNeeded: node), index))
        }
        guard let violations = r.next(), r.atEnd else { return false }
        lastIndex = table
        fifoViolations = violations
        if measuredCount > 0 {
            // A checkpoint moved us forward inside the measured window: count what it covers.
            measuredLastNs = measurement.latency ? seqcast_monotonic_ns() : loopNanos
            measuredLastDelivered = reference.deliveredCount
        }
        return true
    }
}

extension BenchApplication: LatencyReporting {
    /// The p99 so far (0 before the first measured delivery), for the live progress line.
    public var latencyP99Micros: UInt64 { latency.totalCount > 0 ? latency.valueAtPercentile(99) : 0 }
}
