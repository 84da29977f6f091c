import CSeqcastShim
import Glibc
import SeqcastCore
import SeqcastTransport
import Synchronization

/// The dedicated mode's receiving side: an I/O thread (pinned) owns the receive path and copies
/// each datagram, with its source address, into a slot of an SPSC ring; the role's thread (pinned
/// to another CPU) consumes the ring in place and sends on its own. Slot layout: length (u32),
/// 4 spare bytes, source address (24 bytes), then the datagram.
final class ReceiveThread: @unchecked Sendable {
    static let slotHeader = RingSource.slotHeader
    let ring: SPSCSlotRing
    let sockets: [Int32]
    let transport: TransportChoice
    let cpu: Int?
    /// 0 starting, 1 running, negative: set-up failed (the receiver's -errno or -1).
    let state = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
    let oversized = Atomic<UInt64>(0)
    let ringFullWaits = Atomic<UInt64>(0)
    var failure = ""
    var thread = pthread_t()

    init(ring: SPSCSlotRing, sockets: [Int32], transport: TransportChoice, cpu: Int?) {
        self.ring = ring
        self.sockets = sockets
        self.transport = transport
        self.cpu = cpu
    }

    /// Starts the thread and waits until its receive path is set up (io_uring rings belong to
    /// the thread that creates them).
    func start() throws(NetworkError) {
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let me = Unmanaged<ReceiveThread>.fromOpaque(raw!).takeRetainedValue()
            me.main()
            return nil
        }, context)
        guard rc == 0 else { throw NetworkError("starting the I/O thread", errno: rc) }
        while state.load(ordering: .acquiring) == 0 { usleep(200) }
        if state.load(ordering: .acquiring) < 0 { throw NetworkError(failure) }
    }

    func join() {
        stop.store(true, ordering: .releasing)
        pthread_join(thread, nil)
    }

    func main() {
        if let cpu { _ = seqcast_pin_current_thread(Int32(cpu)) }
        let path: ReceivePath
        do {
            path = try ReceivePath(sockets: sockets, transport: transport)
        } catch {
            failure = error.description
            state.store(-1, ordering: .releasing)
            return
        }
        state.store(1, ordering: .releasing)
        var producer = SPSCSlotRing.Producer(ring)
        let payloadMax = ring.slotBytes - Self.slotHeader
        while !stop.load(ordering: .relaxed), !stopRequested.load(ordering: .relaxed) {
            let n = path.poll(timeoutNanos: 10_000_000)
            for i in 0..<n {
                let d = path[i]
                guard Int(d.len) <= payloadMax else {
                    oversized.add(1, ordering: .relaxed)
                    continue
                }
                var slot = producer.claim()
                while slot == nil {
                    // The role thread is behind: hand over what we have and let it run.
                    producer.publish()
                    ringFullWaits.add(1, ordering: .relaxed)
                    if stop.load(ordering: .relaxed) { return }
                    sched_yield()
                    slot = producer.claim()
                }
                let s = slot!
                s.storeBytes(of: d.len, as: UInt32.self)
                withUnsafeBytes(of: d.from) { (s + 8).copyMemory(from: $0.baseAddress!, byteCount: MemoryLayout<seqcast_addr>.size) }
                if d.len > 0 { (s + Self.slotHeader).copyMemory(from: d.data, byteCount: Int(d.len)) }
                producer.commit()
            }
            producer.publish()
        }
    }
}

/// The role thread's view of the ring (inlinable: the loop that polls it is specialised in
/// the caller's module).
public struct RingSource: DatagramSource {
    @usableFromInline var consumer: SPSCSlotRing.Consumer
    @usableFromInline let batchMax = 512
    /// Bytes before a datagram in a slot: length (u32), 4 spare bytes, source address.
    @usableFromInline static let slotHeader = 32

    init(consumer: SPSCSlotRing.Consumer) { self.consumer = consumer }

    @inlinable public mutating func poll(timeoutNanos: Int64) -> Int {
        consumer.available(max: batchMax, timeoutNanos: timeoutNanos)
    }
    @inlinable public func bytes(_ i: Int) -> UnsafeRawBufferPointer {
        let s = consumer.slot(i)
        return UnsafeRawBufferPointer(start: s + Self.slotHeader, count: Int(s.load(as: UInt32.self)))
    }
    @inlinable public func from(_ i: Int) -> seqcast_addr {
        consumer.slot(i).loadUnaligned(fromByteOffset: 8, as: seqcast_addr.self)
    }
    @inlinable public mutating func release(_ count: Int) { consumer.release(count) }
}

/// The dedicated mode's receiving side as the role thread holds it: the I/O thread, started
/// (and, when `cpu` is given, pinned to the CPU after it), and the ring it fills.
public final class DedicatedReceiver {
    let io: ReceiveThread
    public let source: RingSource

    public init(sockets: [Int32], transport: TransportChoice, cpu: Int?) throws {
        let ring = SPSCSlotRing(capacity: 8_192, slotBytes: 2_048)
        // Pinned only when asked (--cpu): a launcher that starts many processes must hand each
        // its own CPUs, or they would all crowd onto the same two.
        let cpus = Int(seqcast_online_cpus())
        io = ReceiveThread(ring: ring, sockets: sockets, transport: transport, cpu: cpu.map { ($0 + 1) % max(cpus, 1) })
        try io.start()
        source = RingSource(consumer: SPSCSlotRing.Consumer(ring))
    }

    public func join() { io.join() }
}

/// Runs `loop` in the dedicated mode: a receive thread feeds the role's thread (pinned to
/// `cpu` when given) through an SPSC ring. Inlinable, so the loop is specialised for the role.
@inlinable public func runDedicated<W: LoopWorkload>(_ loop: inout RoleLoop<W>, transport: TransportChoice,
                                                     cpu: Int?) throws {
    let receiver = try DedicatedReceiver(sockets: loop.network.receiveSockets, transport: transport, cpu: cpu)
    if let cpu { _ = seqcast_pin_current_thread(Int32(cpu)) }
    var source = receiver.source
    loop.run(source: &source)
    receiver.join()
}
