import SeqcastWire

/// Datagrams a role wants sent, encoded into slots allocated once at start (quinn's
/// caller-owned transmit buffers, inverted: the role owns them, the driver drains them).
///
/// Owned by the thread that owns the role. The driver (the node) reads every entry after each
/// input and then calls `removeAll()`, so nothing a role produced for one input is left behind.
/// When every slot is taken the outbox doubles (a one-time allocation, kept: an input that
/// commits many runs at once, or a burst of repairs, is sent whole instead of leaving members to
/// NAK for it), up to `slotCountCeiling`; past that a send is refused and counted in
/// `droppedFull` (the protocol's retransmission covers it, and the role keeps what it did not
/// send: callers check the result).
public struct Outbox {
    public struct Entry: Sendable {
        public var destination: Destination
        public var kind: MessageKind
        public var slot: Int
        public var byteCount: Int
    }

    /// The bytes each slot has: the largest datagram any send may write.
    public let slotBytes: Int
    /// The largest datagram a send writes unless it asks for more (`bytesMax`): only a
    /// member's data datagrams do (GroupConfig.memberDataExtraBytes).
    public let datagramBytes: Int
    /// Slots allocated now (grows by doubling, never shrinks).
    public private(set) var slotCount: Int
    /// The most slots the outbox grows to: `growthMax` times the configured count.
    public let slotCountCeiling: Int
    public static let growthMax = 16
    /// Times the outbox doubled (each an allocation outside the steady state).
    public private(set) var grown: UInt64 = 0
    @usableFromInline var arena: [UInt8]
    public private(set) var entries: [Entry]
    /// Sends refused because every slot was taken.
    public private(set) var droppedFull: UInt64 = 0
    /// Sends refused because the body did not fit a slot (a bug in a size calculation).
    public private(set) var droppedEncode: UInt64 = 0

    public init(slotBytes: Int, slotCountMax: Int, datagramBytes: Int? = nil) {
        precondition(slotBytes >= Header.byteCount + 64 && slotCountMax >= 1, "outbox too small")
        self.slotBytes = slotBytes
        self.datagramBytes = min(slotBytes, datagramBytes ?? slotBytes)
        slotCount = slotCountMax
        slotCountCeiling = slotCountMax * Self.growthMax
        arena = [UInt8](repeating: 0, count: slotBytes * slotCountMax)
        entries = []
        entries.reserveCapacity(slotCountMax)
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Encodes one datagram of at most `bytesMax` (default `datagramBytes`) into the next free
    /// slot. Returns false (and counts) if it was not sent.
    @discardableResult
    public mutating func send(to destination: Destination, header: Header, bytesMax: Int? = nil,
                              body: (inout WireWriter) throws(EncodeError) -> Void) -> Bool {
        if entries.count == slotCount {
            guard slotCount < slotCountCeiling else {
                droppedFull &+= 1
                return false
            }
            let added = min(slotCount, slotCountCeiling - slotCount)
            arena.append(contentsOf: repeatElement(0, count: added * slotBytes))
            slotCount += added
            grown &+= 1
        }
        precondition(entries.count < slotCount && arena.count == slotCount * slotBytes, "outbox slots out of step")
        let slot = entries.count
        let base = slot * slotBytes
        let size = min(slotBytes, bytesMax ?? datagramBytes)
        let written: Int? = arena.withUnsafeMutableBytes { all in
            let buffer = UnsafeMutableRawBufferPointer(rebasing: all[base..<(base + size)])
            return try? Datagram.encode(header, into: buffer, body: body)
        }
        guard let n = written else {
            droppedEncode &+= 1
            return false
        }
        entries.append(Entry(destination: destination, kind: header.kind, slot: slot, byteCount: n))
        return true
    }

    /// Lends the bytes of entry `index` (valid until `removeAll`).
    public func withBytes<R>(of index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let e = entries[index]
        return try arena.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[(e.slot * slotBytes)..<(e.slot * slotBytes + e.byteCount)]))
        }
    }

    public mutating func removeAll() { entries.removeAll(keepingCapacity: true) }
}
