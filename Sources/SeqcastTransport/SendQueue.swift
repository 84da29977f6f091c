import CSeqcastShim
import Glibc

/// Outgoing datagrams staged between two flushes, coalesced per destination into UDP GSO sends:
/// consecutive datagrams to one destination share a 64 KiB buffer as long as they have the
/// size of the batch's first one (the last may be shorter, which closes the batch). One flush
/// hands every batch to the kernel in one batched call, so a burst of N datagrams to the data
/// group costs one segment-offload send instead of N system calls.
///
/// Buffers are allocated once; when all are in use the caller flushes and appends again.
/// Owned by one thread.
package struct SendQueue {
    struct Batch {
        var destination: seqcast_addr
        var key: UInt64
        var buffer: Int
        var bytes = 0
        var segment = 0
        var count = 0
        var closed = false
    }

    /// The kernel's limit on segments per GSO send (UDP_MAX_SEGMENTS) and a byte bound under 64 KiB.
    static let segmentsMax = 64
    static let bytesMax = 65_000

    let segmentOffload: Bool
    let buffersMax: Int
    private let storage: UnsafeMutableRawPointer
    private(set) var batches: [Batch] = []
    private let sends: UnsafeMutablePointer<seqcast_send>
    /// Datagrams handed to the kernel, GSO sends made, and sends the kernel refused (by errno).
    package private(set) var datagramsSent: UInt64 = 0
    package private(set) var sendCalls: UInt64 = 0
    package private(set) var sendErrors: UInt64 = 0
    private(set) var lastSendError: Int32 = 0

    /// 16 staging buffers (1 MiB) stay in cache; more only evicts what the kernel is about to read.
    package init(segmentOffload: Bool, buffersMax: Int = 16) {
        self.segmentOffload = segmentOffload
        self.buffersMax = buffersMax
        storage = UnsafeMutableRawPointer.allocate(byteCount: buffersMax * 65_536, alignment: 64)
        sends = UnsafeMutablePointer<seqcast_send>.allocate(capacity: buffersMax)
        batches.reserveCapacity(buffersMax)
    }

    package func deallocate() {
        storage.deallocate()
        sends.deallocate()
    }

    var isEmpty: Bool { batches.isEmpty }
    package var hasStaged: Bool { !batches.isEmpty }

    /// Set once the kernel refused a segmented send: every later datagram is sent on its own.
    package private(set) var segmentationRefused = false

    static func refusesSegmentation(_ errno: Int32) -> Bool {
        errno == EINVAL || errno == EMSGSIZE || errno == EIO
    }

    /// Sends a refused batch's datagrams one per send (segment boundaries are known: every
    /// datagram but the last has the batch's segment size).
    private mutating func sendOneByOne(_ b: Batch, sender: OpaquePointer, fd: Int32) {
        let base = storage + b.buffer * 65_536
        var offset = 0
        var one = seqcast_send()
        while offset < b.bytes {
            let n = min(b.segment, b.bytes - offset)
            one = seqcast_send(data: UnsafeRawPointer(base + offset), len: UInt32(n), segment: 0, reserved: 0,
                               dest: b.destination, result: 0, reserved2: 0)
            _ = seqcast_sender_send(sender, fd, &one, 1)
            if one.result >= 0 { datagramsSent &+= 1 } else {
                sendErrors &+= 1
                lastSendError = -one.result
            }
            offset += n
        }
    }

    /// Stages one datagram for `destination` (`key` identifies it cheaply). Returns false when
    /// every buffer is in use: flush, then append again.
    package mutating func append(_ bytes: UnsafeRawBufferPointer, to destination: seqcast_addr, key: UInt64) -> Bool {
        let n = bytes.count
        if segmentOffload, !segmentationRefused {
            // The open batch for this destination is the last one with its key (few destinations
            // per flush: a backwards scan beats a dictionary here).
            var i = batches.count - 1
            while i >= 0, batches[i].key != key { i -= 1 }
            if i >= 0, !batches[i].closed, batches[i].count < Self.segmentsMax, n <= batches[i].segment,
               batches[i].bytes + n <= Self.bytesMax {
                Self.copy(bytes, storage: storage, into: &batches[i])
                if n < batches[i].segment { batches[i].closed = true }
                return true
            }
            if i >= 0 { batches[i].closed = true }
        }
        guard batches.count < buffersMax else { return false }
        var b = Batch(destination: destination, key: key, buffer: batches.count)
        b.segment = n
        Self.copy(bytes, storage: storage, into: &b)
        if !segmentOffload || segmentationRefused { b.closed = true }
        batches.append(b)
        return true
    }

    /// Static on purpose: an instance method here would overlap the inout access to
    /// `batches[i]`, so Swift would copy `self` (and with it the batch array) per datagram.
    private static func copy(_ bytes: UnsafeRawBufferPointer, storage: UnsafeMutableRawPointer, into b: inout Batch) {
        let base = storage + b.buffer * 65_536 + b.bytes
        if let src = bytes.baseAddress { base.copyMemory(from: src, byteCount: bytes.count) }
        b.bytes += bytes.count
        b.count += 1
    }

    /// Hands every staged batch to the kernel from socket `fd`, in the order staged.
    package mutating func flush(sender: OpaquePointer, fd: Int32) {
        guard !batches.isEmpty else { return }
        for (k, b) in batches.enumerated() {
            sends[k] = seqcast_send(data: UnsafeRawPointer(storage + b.buffer * 65_536), len: UInt32(b.bytes),
                                    segment: b.count > 1 ? UInt16(b.segment) : 0, reserved: 0,
                                    dest: b.destination, result: 0, reserved2: 0)
        }
        _ = seqcast_sender_send(sender, fd, sends, UInt32(batches.count))
        sendCalls &+= 1
        for k in batches.indices {
            let result = sends[k].result
            if result >= 0 {
                datagramsSent &+= UInt64(batches[k].count)
            } else if batches[k].count > 1, Self.refusesSegmentation(-result) {
                // The path cannot segment (segment + headers above the link MTU, or a device
                // without UDP GSO): a retransmission would coalesce and fail the same way, so
                // this batch goes out datagram by datagram and offload stays off from now on.
                segmentationRefused = true
                sendOneByOne(batches[k], sender: sender, fd: fd)
            } else {
                // The protocol retransmits what is lost; a full socket buffer is loss like any other.
                sendErrors &+= UInt64(batches[k].count)
                lastSendError = -result
            }
        }
        batches.removeAll(keepingCapacity: true)
    }
}
