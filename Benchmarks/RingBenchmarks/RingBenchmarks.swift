// Benchmarks of SeqcastRuntime's in-process and receive paths (run with `scripts/bench`, or
// `scripts/bench --filter 'SPSC.*|Mutex.*|Engine.*'`):
//
// - SPSC-crossThread-8B-batch64: `SPSCSlotRing` (16 Ki slots of 8 bytes) between a producer
//   thread pinned to CPU 0 and the benchmark thread (consumer) pinned to CPU 1; the producer
//   claims/commits 64 slots per publish, the consumer drains up to 64 per release and checks
//   every value. Unit: one message; 1 M per iteration (scalingFactor .mega), so the throughput
//   column reads M msgs/s. Same shape as ../shared/limits/ring.c (`ring spsc 8 64 1`).
// - Mutex-crossThread-8B-batch64: the baseline, measured in the same run: a Mutex-guarded FIFO
//   (fixed circular buffer) doing the same work, one lock per batch of 64 on each side.
// - SPSC-sameThread-pushPop-batch1 / -batch64, Mutex-sameThread-pushPop-batch1: one thread
//   pushes and pops; unit one message, 1,000 per iteration, so the time column is ns/op.
// - Engine-rx-pollDecode: allocations per received datagram in steady state: 1,000 commit
//   datagrams (16 runs each) sent over loopback with UDP GSO (seqcast_sender_send), received
//   through `ReceivePath.poll` (io_uring multishot + GRO) and decoded with `Datagram.decode`,
//   as a role's loop does. Unit: one datagram; mallocs per unit should be 0.

import Benchmark
import CSeqcastShim
import Glibc
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire
import Synchronization

/// Holds a benchmark's state from setup to teardown (nothing is built for filtered-out ones).
final class Holder<T> {
    var value: T?
}

func kiloConfiguration(seconds: Int64 = 5) -> Benchmark.Configuration {
    .init(metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 20, scalingFactor: .kilo,
          maxDuration: .seconds(seconds), maxIterations: 1_000_000)
}

func megaConfiguration(seconds: Int64 = 5) -> Benchmark.Configuration {
    .init(metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 3, scalingFactor: .mega,
          maxDuration: .seconds(seconds), maxIterations: 200)
}

let batch = 64

/// A pthread running `body` (the start routine must be @convention(c): the closure travels
/// as an Unmanaged context). Non-generic on purpose: Swift 6.3.1's SendNonSendable pass
/// crashes (map::at) on a pthread_create closure inside a generic class's init.
final class ThreadStart {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

func startThread(_ body: @escaping () -> Void) {
    var thread = pthread_t()
    let context = Unmanaged.passRetained(ThreadStart(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { raw in
        Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, context)
    precondition(rc == 0, "pthread_create failed")
    pthread_detach(thread)
}

// MARK: - cross-thread transfer (a producer thread, the benchmark thread consumes)

/// What both cross-thread benchmarks share: a producer thread that, for every iteration the
/// benchmark requests, pushes `perIteration` consecutive values; the benchmark thread pops them.
protocol CrossThreadQueue: AnyObject, Sendable {
    /// Producer side: pushes `count` values starting at `first`, in batches (spins when full).
    func produce(first: UInt64, count: Int)
    /// Consumer side: pops up to `batch` values, checking them against `next`. Returns how many.
    func consume(next: inout UInt64, errors: inout Int) -> Int
}

final class CrossThreadRun<Q: CrossThreadQueue>: @unchecked Sendable {
    let queue: Q
    let perIteration: Int
    let requested = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
    let exited = Atomic<Bool>(false)
    var next: UInt64 = 0
    var errors = 0
    var consumed = 0
    var pinned = false

    init(queue: Q, perIteration: Int) {
        self.queue = queue
        self.perIteration = perIteration
    }

    /// Starts the producer thread (pinned to CPU 0).
    func start() { startThread { [self] in producerLoop() } }

    func producerLoop() {
        _ = seqcast_pin_current_thread(0)
        var done = 0
        var first: UInt64 = 0
        var idle = 0
        while !stopping.load(ordering: .acquiring) {
            if requested.load(ordering: .acquiring) == done {
                idle += 1
                if idle > 1_000 { sched_yield() } else { seqcast_cpu_relax() }
                continue
            }
            idle = 0
            queue.produce(first: first, count: perIteration)
            first &+= UInt64(perIteration)
            done += 1
        }
        exited.store(true, ordering: .releasing)
    }

    /// One iteration on the benchmark thread.
    func iterate() {
        if !pinned {
            _ = seqcast_pin_current_thread(1)
            pinned = true
        }
        requested.add(1, ordering: .releasing)
        var next = self.next, errors = self.errors
        defer { self.next = next; self.errors = errors }
        var got = 0
        while got < perIteration {
            let n = queue.consume(next: &next, errors: &errors)
            if n == 0 { seqcast_cpu_relax() }
            got += n
        }
        consumed += got
    }

    func finish(_ name: String) {
        stopping.store(true, ordering: .releasing)
        while !exited.load(ordering: .acquiring) { sched_yield() }
        precondition(consumed > 0 && errors == 0 && next == UInt64(consumed),
                     "\(name): consumed \(consumed), next \(next), \(errors) out-of-order values")
    }
}

final class SPSCQueue: CrossThreadQueue, @unchecked Sendable {
    let ring = SPSCSlotRing(capacity: 16_384, slotBytes: 8)
    var producer: SPSCSlotRing.Producer
    var consumer: SPSCSlotRing.Consumer

    init() {
        producer = SPSCSlotRing.Producer(ring)
        consumer = SPSCSlotRing.Consumer(ring)
    }

    // The ends are copied to locals for the loop and stored back: a `var` property of a class
    // is checked for exclusive access at run time (swift_beginAccess) on every mutating call,
    // which would cost more than the ring. The runtime's own users keep their ends in locals.
    func produce(first: UInt64, count: Int) {
        var producer = self.producer
        defer { self.producer = producer }
        var v = first
        var left = count
        while left > 0 {
            let b = min(batch, left)
            var k = 0
            while k < b {
                guard let slot = producer.claim() else {
                    producer.publish()
                    seqcast_cpu_relax()
                    continue
                }
                slot.storeBytes(of: v, as: UInt64.self)
                producer.commit()
                v &+= 1
                k += 1
            }
            producer.publish()
            left -= b
        }
    }

    func consume(next: inout UInt64, errors: inout Int) -> Int {
        var consumer = self.consumer
        defer { self.consumer = consumer }
        let n = consumer.available(max: batch)
        guard n > 0 else { return 0 }
        for i in 0..<n {
            if consumer.slot(i).load(as: UInt64.self) != next { errors += 1 }
            next &+= 1
        }
        consumer.release(n)
        return n
    }
}

/// The baseline: a circular buffer behind a Mutex, one lock per batch on each side.
struct Fifo: ~Copyable {
    let storage: UnsafeMutablePointer<UInt64>
    let capacity: Int
    var head = 0
    var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }
}

final class MutexQueue: CrossThreadQueue, @unchecked Sendable {
    let fifo = Mutex(Fifo(capacity: 16_384))
    let scratch = UnsafeMutablePointer<UInt64>.allocate(capacity: batch)

    deinit { scratch.deallocate() }

    func produce(first: UInt64, count: Int) {
        var v = first
        var left = count
        while left > 0 {
            let pushed = fifo.withLock { f -> Int in
                let b = min(batch, left, f.capacity - f.count)
                for k in 0..<b { f.storage[(f.head + f.count + k) & (f.capacity - 1)] = v &+ UInt64(k) }
                f.count += b
                return b
            }
            if pushed == 0 { seqcast_cpu_relax() }
            v &+= UInt64(pushed)
            left -= pushed
        }
    }

    func consume(next: inout UInt64, errors: inout Int) -> Int {
        let out = scratch
        let n = fifo.withLock { f -> Int in
            let b = min(batch, f.count)
            for k in 0..<b { out[k] = f.storage[(f.head + k) & (f.capacity - 1)] }
            f.head = (f.head + b) & (f.capacity - 1)
            f.count -= b
            return b
        }
        for k in 0..<n {
            if out[k] != next { errors += 1 }
            next &+= 1
        }
        return n
    }
}

func registerCrossThread<Q: CrossThreadQueue>(_ name: String, _ make: @escaping @Sendable () -> Q) {
    let holder = Holder<CrossThreadRun<Q>>()
    Benchmark(name, configuration: megaConfiguration()) { _ in
        holder.value!.iterate()
    } setup: {
        let run = CrossThreadRun(queue: make(), perIteration: 1_000_000)
        run.start()
        holder.value = run
    } teardown: {
        holder.value!.finish(name)
        holder.value = nil
    }
}

// MARK: - same thread

final class SameThreadSPSC {
    let ring = SPSCSlotRing(capacity: 1_024, slotBytes: 8)
    var producer: SPSCSlotRing.Producer
    var consumer: SPSCSlotRing.Consumer
    var value: UInt64 = 0
    var sum: UInt64 = 0

    init() {
        producer = SPSCSlotRing.Producer(ring)
        consumer = SPSCSlotRing.Consumer(ring)
    }

    /// 1,000 × (claim, store, commit, publish, available, load, release).
    func batch1() {
        var producer = self.producer, consumer = self.consumer, value = self.value, sum = self.sum
        defer { self.producer = producer; self.consumer = consumer; self.value = value; self.sum = sum }
        for _ in 0..<1_000 {
            let slot = producer.claim()!
            slot.storeBytes(of: value, as: UInt64.self)
            producer.commit()
            producer.publish()
            let n = consumer.available(max: 1)
            sum &+= consumer.slot(0).load(as: UInt64.self) &* UInt64(n)
            consumer.release(n)
            value &+= 1
        }
    }

    /// 1,000 messages as batches of 64 pushed, published once, then drained and released once.
    func batched() {
        var producer = self.producer, consumer = self.consumer, value = self.value, sum = self.sum
        defer { self.producer = producer; self.consumer = consumer; self.value = value; self.sum = sum }
        var left = 1_000
        while left > 0 {
            let b = min(batch, left)
            for _ in 0..<b {
                let slot = producer.claim()!
                slot.storeBytes(of: value, as: UInt64.self)
                producer.commit()
                value &+= 1
            }
            producer.publish()
            let n = consumer.available(max: b)
            for i in 0..<n { sum &+= consumer.slot(i).load(as: UInt64.self) }
            consumer.release(n)
            left -= b
        }
    }

    func verify(_ name: String) {
        precondition(value > 0 && sum == value * (value - 1) / 2, "\(name): sum \(sum) for \(value) values")
    }
}

final class SameThreadMutex {
    let queue = MutexQueue()
    var next: UInt64 = 0
    var value: UInt64 = 0
    var errors = 0

    func batch1() {
        var value = self.value, next = self.next, errors = self.errors
        defer { self.value = value; self.next = next; self.errors = errors }
        for _ in 0..<1_000 {
            queue.fifo.withLock { f in
                f.storage[(f.head + f.count) & (f.capacity - 1)] = value
                f.count += 1
            }
            value &+= 1
            let v = queue.fifo.withLock { f -> UInt64 in
                let v = f.storage[f.head]
                f.head = (f.head + 1) & (f.capacity - 1)
                f.count -= 1
                return v
            }
            if v != next { errors += 1 }
            next &+= 1
        }
    }

    func verify(_ name: String) { precondition(value > 0 && errors == 0 && next == value, "\(name): \(errors) errors") }
}

func registerSameThread() {
    let spsc1 = Holder<SameThreadSPSC>()
    Benchmark("SPSC-sameThread-pushPop-batch1", configuration: kiloConfiguration()) { _ in
        spsc1.value!.batch1()
        blackHole(spsc1.value!.sum)
    } setup: { spsc1.value = SameThreadSPSC() } teardown: {
        spsc1.value!.verify("SPSC-sameThread-pushPop-batch1")
        spsc1.value = nil
    }
    let spsc64 = Holder<SameThreadSPSC>()
    Benchmark("SPSC-sameThread-pushPop-batch64", configuration: kiloConfiguration()) { _ in
        spsc64.value!.batched()
        blackHole(spsc64.value!.sum)
    } setup: { spsc64.value = SameThreadSPSC() } teardown: {
        spsc64.value!.verify("SPSC-sameThread-pushPop-batch64")
        spsc64.value = nil
    }
    let mutex1 = Holder<SameThreadMutex>()
    Benchmark("Mutex-sameThread-pushPop-batch1", configuration: kiloConfiguration()) { _ in
        mutex1.value!.batch1()
    } setup: { mutex1.value = SameThreadMutex() } teardown: {
        mutex1.value!.verify("Mutex-sameThread-pushPop-batch1")
        mutex1.value = nil
    }
}

// MARK: - receive path allocations

/// Loopback unicast: a sender socket (io_uring sender, UDP GSO) and a receiver socket read
/// through `ReceivePath`; every datagram decoded as a role does.
final class ReceiveLoad {
    static let datagramsPerIteration = 1_000
    static let runCount = 16
    let rx: Int32
    let tx: Int32
    let path: ReceivePath
    let sender: OpaquePointer
    var destination = seqcast_addr()
    let buffer: UnsafeMutableRawBufferPointer
    var datagramBytes = 0
    var sends: [seqcast_send] = []
    var received = 0
    var decoded = 0
    var checksum: UInt64 = 0
    var failures = 0

    init() throws {
        var bind = seqcast_addr()
        precondition(seqcast_addr_parse("127.0.0.1", 0, &bind) == 0)
        rx = seqcast_socket_open(&bind, 0, 32 * 1024 * 1024, 1)
        tx = seqcast_socket_open(&bind, 0, 32 * 1024 * 1024, 0)
        precondition(rx >= 0 && tx >= 0, "sockets")
        precondition(seqcast_socket_local(rx, &destination) == 0)
        path = try ReceivePath(sockets: [rx], transport: .ioUring)
        var status = seqcast_status()
        sender = seqcast_sender_create(Int32(SEQCAST_TRANSPORT_IO_URING), 64, &status)!

        // One commit datagram (16 runs), repeated into GSO super-packets of 64 segments.
        let one = UnsafeMutableRawBufferPointer.allocate(byteCount: 1_472, alignment: 8)
        defer { one.deallocate() }
        let runs = (0..<Self.runCount).map { i in
            SequenceRun(firstSeq: SequenceNumber(UInt64(1 + i * 64)), count: 64,
                        content: .messages(sender: SenderId(node: NodeId(100 + UInt32(i)), incarnation: 1),
                                           firstCounter: 1))
        }
        let header = Header(kind: .commit, groupId: 7, epoch: Epoch(1), source: NodeId(1))
        do {
            datagramBytes = try Datagram.encode(header, into: one) { w throws(EncodeError) in
                try RunBatch.encode(committedThrough: SequenceNumber(1_024), runs: runs, into: &w)
            }
        } catch {
            fatalError("encode: \(error)")
        }
        let perSend = 64
        buffer = .allocate(byteCount: perSend * datagramBytes, alignment: 64)
        for k in 0..<perSend {
            (buffer.baseAddress! + k * datagramBytes).copyMemory(from: one.baseAddress!, byteCount: datagramBytes)
        }
        var left = Self.datagramsPerIteration
        while left > 0 {
            let n = min(perSend, left)
            sends.append(seqcast_send(data: UnsafeRawPointer(buffer.baseAddress!), len: UInt32(n * datagramBytes),
                                      segment: n > 1 ? UInt16(datagramBytes) : 0, reserved: 0, dest: destination,
                                      result: 0, reserved2: 0))
            left -= n
        }
    }

    deinit {
        seqcast_sender_destroy(sender)
        seqcast_socket_close(rx)
        seqcast_socket_close(tx)
        buffer.deallocate()
    }

    func iterate() {
        let ok = sends.withUnsafeMutableBufferPointer { s in
            seqcast_sender_send(sender, tx, s.baseAddress, UInt32(s.count))
        }
        if ok != sends.count { failures += 1 }
        var got = 0
        var polls = 0
        while got < Self.datagramsPerIteration, polls < 10_000 {
            let n = path.poll(timeoutNanos: 1_000_000)
            polls += 1
            for i in 0..<n {
                let d = path[i]
                do {
                    let datagram = try Datagram.decode(UnsafeRawBufferPointer(start: d.data, count: Int(d.len)))
                    if case .commit(let batch) = datagram.message {
                        var sum = batch.committedThrough.rawValue
                        for run in batch.runs { sum &+= run.firstSeq.rawValue &+ UInt64(run.count) }
                        checksum &+= sum
                        decoded += 1
                    }
                } catch {
                    failures += 1
                }
            }
            got += n
        }
        received += got
        blackHole(checksum)
    }

    func verify() {
        precondition(received > 0 && decoded == received && failures == 0,
                     "Engine-rx-pollDecode: received \(received), decoded \(decoded), \(failures) failures")
    }
}

func registerReceive() {
    let holder = Holder<ReceiveLoad>()
    Benchmark("Engine-rx-pollDecode", configuration: kiloConfiguration()) { _ in
        holder.value!.iterate()
    } setup: {
        holder.value = try ReceiveLoad()
    } teardown: {
        holder.value!.verify()
        holder.value = nil
    }
}

let benchmarks: @Sendable () -> Void = {
    registerCrossThread("SPSC-crossThread-8B-batch64") { SPSCQueue() }
    registerCrossThread("Mutex-crossThread-8B-batch64") { MutexQueue() }
    registerSameThread()
    registerReceive()
}
