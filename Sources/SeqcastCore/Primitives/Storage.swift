/// Identifies one storage write; the driver reports it back through `persisted(_:now:)` once the
/// write is durable. Tickets rise by one per write, and drivers complete them in order.
@frozen public struct WriteTicket: Hashable, Comparable, Sendable {
    public var rawValue: UInt64
    @inlinable public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    @inlinable public static func < (a: WriteTicket, b: WriteTicket) -> Bool { a.rawValue < b.rawValue }
}

/// Records a role asks its driver to make durable, in order, plus truncation requests.
///
/// A role never reveals what a record says (a submit, an ack) before the record's ticket comes
/// back through `persisted` (etcd's `msgsAfterAppend`, made structural). Records are opaque
/// bytes to the driver, encoded into one arena that keeps its capacity, so queuing a record
/// allocates nothing in steady state. Each record carries a `key` (the highest sequence number
/// it covers, or 0) so a log can drop records behind a checkpoint without parsing them.
public struct StorageQueue {
    public struct Write: Sendable {
        public var ticket: WriteTicket
        public var key: UInt64
        @usableFromInline var start: Int
        @usableFromInline var count: Int
    }

    public private(set) var writes: [Write] = []
    @usableFromInline var arena: [UInt8] = []
    /// The driver may delete records whose key is at or below this (0: nothing).
    public private(set) var truncateThrough: UInt64 = 0
    public private(set) var nextTicket = WriteTicket(1)
    @usableFromInline var open: (key: UInt64, start: Int)?

    public init(arenaBytes: Int = 64 * 1024) {
        writes.reserveCapacity(16)
        arena.reserveCapacity(arenaBytes)
    }

    public var isEmpty: Bool { writes.isEmpty }

    /// Starts a record; append its fields with `put`, then `close()` it for its ticket.
    public mutating func begin(key: UInt64) {
        precondition(open == nil, "record already open")
        open = (key, arena.count)
    }

    @inlinable public mutating func put(_ v: UInt64) {
        precondition(open != nil, "no open record")
        withUnsafeBytes(of: v.littleEndian) { arena.append(contentsOf: $0) }
    }

    /// Appends a length-prefixed byte string, padded to whole words.
    public mutating func put(bytes: [UInt8]) {
        put(UInt64(bytes.count))
        arena.append(contentsOf: bytes)
        let pad = (8 - bytes.count % 8) % 8
        arena.append(contentsOf: repeatElement(0, count: pad))
    }

    /// Appends a length-prefixed byte string from a buffer (no array made), padded to whole words.
    public mutating func put(raw bytes: UnsafeRawBufferPointer) {
        put(UInt64(bytes.count))
        arena.append(contentsOf: bytes)
        let pad = (8 - bytes.count % 8) % 8
        arena.append(contentsOf: repeatElement(0, count: pad))
    }

    public mutating func close() -> WriteTicket {
        guard let o = open else { preconditionFailure("no open record") }
        open = nil
        let t = nextTicket
        nextTicket = WriteTicket(t.rawValue + 1)
        writes.append(Write(ticket: t, key: o.key, start: o.start, count: arena.count - o.start))
        return t
    }

    public mutating func truncate(through key: UInt64) { truncateThrough = max(truncateThrough, key) }

    /// Lends the bytes of queued write `index` (valid until `removeAll`).
    public func withBytes<R>(of index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let w = writes[index]
        return try arena.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[w.start..<(w.start + w.count)])) }
    }

    /// The driver took every queued write (it persists them in order).
    public mutating func removeAll() {
        precondition(open == nil, "record left open")
        writes.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
    }
}

/// Reads back a record written with `StorageQueue.put`, for recovery after a restart.
public struct RecordReader {
    let bytes: [UInt8]
    var offset = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var atEnd: Bool { offset >= bytes.count }

    /// The next byte string written with `put(bytes:)`, or nil if the record is short.
    public mutating func nextBytes() -> [UInt8]? {
        guard let n = next(), n <= UInt64(bytes.count - offset) else { return nil }
        let count = Int(n)
        let padded = count + (8 - count % 8) % 8
        guard padded <= bytes.count - offset else { return nil }
        defer { offset += padded }
        return Array(bytes[offset..<(offset + count)])
    }
    /// The next u64, or nil if the record is short (a torn write: the caller stops recovering).
    public mutating func next() -> UInt64? {
        guard bytes.count - offset >= 8 else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }
}
