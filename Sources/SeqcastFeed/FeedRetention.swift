/// The most recent messages of a feed, by MoldUDP64 sequence number, for re-requests: one byte
/// ring and one ring of (offset, length) entries, both allocated once. A message is stored
/// whole and contiguous (one that does not fit before the ring's end starts over at 0); the
/// oldest leave first, when either ring is full. Appending allocates nothing.
public struct FeedRetention: ~Copyable {
    public let messagesMax: Int
    public let bytesMax: Int
    let bytes: UnsafeMutableRawBufferPointer
    let offsets: UnsafeMutablePointer<Int>
    let lengths: UnsafeMutablePointer<Int32>
    /// The oldest entry's slot and the number held.
    var head = 0
    public private(set) var count = 0
    /// The sequence number of the oldest message held (meaningful when `count > 0`).
    public private(set) var first: UInt64 = 1
    /// Where the next message's bytes go.
    var writeAt = 0

    /// The bytes a retention of `messages` reserves: 256 per message, between 16 MiB and 1 GiB
    /// (pages are touched only as messages arrive).
    public static func bytes(forMessages messages: Int) -> Int { min(max(messages * 256, 16 << 20), 1 << 30) }

    public init(messages: Int, bytes: Int) {
        precondition(messages > 0 && bytes >= 65_536)
        messagesMax = messages
        bytesMax = bytes
        self.bytes = .allocate(byteCount: bytes, alignment: 64)
        offsets = .allocate(capacity: messages)
        lengths = .allocate(capacity: messages)
    }

    deinit {
        bytes.deallocate()
        offsets.deallocate()
        lengths.deallocate()
    }

    /// One past the newest number held.
    public var next: UInt64 { first + UInt64(count) }

    /// Keeps message `sequence`. A number that does not follow the newest starts the retention
    /// over from it (a feed that skipped ahead cannot answer for what lies between).
    public mutating func append(_ sequence: UInt64, _ message: UnsafeRawBufferPointer) {
        let n = message.count
        precondition(n > 0 && n <= bytesMax, "a retained message has 1 … bytesMax bytes")
        if count > 0, sequence != next {
            count = 0
            head = 0
        }
        var at = writeAt
        if at + n > bytesMax {
            // What lies between here and the end is the oldest: it goes before the start is reused.
            while count > 0, offsets[head] >= writeAt { dropOldest() }
            at = 0
        }
        while count > 0, count == messagesMax || overlaps(head, at, n) { dropOldest() }
        if n > 0, let base = message.baseAddress { (bytes.baseAddress! + at).copyMemory(from: base, byteCount: n) }
        let slot = (head + count) % messagesMax
        offsets[slot] = at
        lengths[slot] = Int32(n)
        if count == 0 { first = sequence }
        count += 1
        writeAt = at + n
    }

    func overlaps(_ slot: Int, _ at: Int, _ n: Int) -> Bool {
        let o = offsets[slot]
        let l = Int(lengths[slot])
        return o < at + n && at < o + l
    }

    mutating func dropOldest() {
        head = (head + 1) % messagesMax
        count -= 1
        first += 1
    }

    /// Message `sequence`, borrowed until the next append; nil if not held.
    public func message(_ sequence: UInt64) -> UnsafeRawBufferPointer? {
        guard count > 0, sequence >= first, sequence < next else { return nil }
        let slot = (head + Int(sequence - first)) % messagesMax
        return UnsafeRawBufferPointer(start: bytes.baseAddress! + offsets[slot], count: Int(lengths[slot]))
    }
}
