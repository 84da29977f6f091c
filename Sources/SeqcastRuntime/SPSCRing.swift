import CSeqcastShim
import Synchronization

/// A bounded single-producer single-consumer ring of fixed-size byte slots: the only place the
/// dedicated mode's I/O thread and role thread meet. Lock-free: head and tail are atomics on
/// their own cache lines; each side caches the other's index and touches it only when the ring
/// looks full or empty; a batch is published with one release store. The producer writes a
/// datagram straight into a slot and the consumer reads it in place (one copy, no allocation).
///
/// Blocking (an event count): a consumer that finds the ring empty raises `sleeping`, checks
/// again, and waits on a futex; a producer wakes it only when `sleeping` is set, so a busy ring
/// makes no wake-up system calls.
public final class SPSCSlotRing: @unchecked Sendable {
    public let capacity: Int
    public let slotBytes: Int
    @usableFromInline let mask: Int
    @usableFromInline let slots: UnsafeMutableRawPointer
    /// head (consumer) at line 0, tail (producer) at line 1, event count and sleeping at line 2.
    @usableFromInline let lines: UnsafeMutableRawPointer
    @usableFromInline static let line = 128

    public init(capacity: Int, slotBytes: Int) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "capacity must be a power of two")
        precondition(slotBytes >= 8 && slotBytes % 8 == 0, "slots hold whole words")
        self.capacity = capacity
        self.slotBytes = slotBytes
        mask = capacity - 1
        slots = .allocate(byteCount: capacity * slotBytes, alignment: Self.line)
        lines = .allocate(byteCount: 3 * Self.line, alignment: Self.line)
        head.initialize(to: Atomic(0))
        tail.initialize(to: Atomic(0))
        events.initialize(to: Atomic(0))
        sleeping.initialize(to: Atomic(false))
    }

    deinit {
        slots.deallocate()
        lines.deallocate()
    }

    @inlinable var head: UnsafeMutablePointer<Atomic<Int>> {
        lines.assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inlinable var tail: UnsafeMutablePointer<Atomic<Int>> {
        (lines + Self.line).assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inlinable var events: UnsafeMutablePointer<Atomic<UInt32>> {
        (lines + 2 * Self.line).assumingMemoryBound(to: Atomic<UInt32>.self)
    }
    @inlinable var sleeping: UnsafeMutablePointer<Atomic<Bool>> {
        (lines + 2 * Self.line + 64).assumingMemoryBound(to: Atomic<Bool>.self)
    }

    @inlinable func slot(_ index: Int) -> UnsafeMutableRawPointer { slots + (index & mask) * slotBytes }

    /// The producer's end: owned by one thread.
    public struct Producer {
        @usableFromInline let ring: SPSCSlotRing
        @usableFromInline var tail = 0
        @usableFromInline var published = 0
        @usableFromInline var cachedHead = 0
        public init(_ ring: SPSCSlotRing) { self.ring = ring }

        /// The next free slot, or nil if the ring is full (nothing is claimed until `commit`).
        @inlinable public mutating func claim() -> UnsafeMutableRawPointer? {
            if tail - cachedHead >= ring.capacity {
                cachedHead = ring.head.pointee.load(ordering: .acquiring)
                if tail - cachedHead >= ring.capacity { return nil }
            }
            return ring.slot(tail)
        }

        /// The claimed slot is written (visible to the consumer at the next `publish`).
        @inlinable public mutating func commit() { tail &+= 1 }

        /// Makes every committed slot visible, and wakes a sleeping consumer.
        @inlinable public mutating func publish() {
            guard tail != published else { return }
            published = tail
            ring.tail.pointee.store(tail, ordering: .sequentiallyConsistent)
            if ring.sleeping.pointee.load(ordering: .sequentiallyConsistent) {
                ring.events.pointee.wrappingAdd(1, ordering: .sequentiallyConsistent)
                _ = seqcast_futex_wake(UnsafeMutableRawPointer(ring.events).assumingMemoryBound(to: UInt32.self), 1)
            }
        }
    }

    /// The consumer's end: owned by one thread.
    public struct Consumer {
        @usableFromInline let ring: SPSCSlotRing
        @usableFromInline var head = 0
        @usableFromInline var cachedTail = 0
        public init(_ ring: SPSCSlotRing) { self.ring = ring }

        /// How many slots are readable now (at most `max`), waiting up to `timeoutNanos` for one.
        @inlinable public mutating func available(max: Int, timeoutNanos: Int64 = 0) -> Int {
            if cachedTail == head {
                cachedTail = ring.tail.pointee.load(ordering: .acquiring)
                if cachedTail == head, timeoutNanos != 0 { wait(timeoutNanos) }
            }
            return min(cachedTail - head, max)
        }

        @inlinable public func slot(_ i: Int) -> UnsafeRawPointer { UnsafeRawPointer(ring.slot(head + i)) }

        /// Gives the first `count` readable slots back to the producer.
        @inlinable public mutating func release(_ count: Int) {
            guard count > 0 else { return }
            head &+= count
            ring.head.pointee.store(head, ordering: .releasing)
        }

        @usableFromInline mutating func wait(_ timeoutNanos: Int64) {
            let seen = ring.events.pointee.load(ordering: .sequentiallyConsistent)
            ring.sleeping.pointee.store(true, ordering: .sequentiallyConsistent)
            cachedTail = ring.tail.pointee.load(ordering: .sequentiallyConsistent)
            if cachedTail == head {
                _ = seqcast_futex_wait(UnsafeMutableRawPointer(ring.events).assumingMemoryBound(to: UInt32.self), seen,
                                       timeoutNanos)
                cachedTail = ring.tail.pointee.load(ordering: .acquiring)
            }
            ring.sleeping.pointee.store(false, ordering: .relaxed)
        }
    }
}
