import SeqcastWire

/// Packs consecutive counters of one sender (one logical timestamp) into data or message-reply
/// datagrams: as many bodies per datagram as fit, and a body larger than one datagram as
/// fragments (Part 1 §9). The one place that decides data datagram layout for every sender.
struct DataRunWriter {
    let header: Header
    let destination: Destination
    /// Every body sent whole, and every fragment, fits a datagram of this size.
    let datagramBytes: Int
    /// Bodies share a datagram up to this size (at least `datagramBytes`; a member's data
    /// datagram can be larger than a server's reply: `GroupConfig.memberDataExtraBytes`).
    let packingBytes: Int

    init(header: Header, destination: Destination, datagramBytes: Int, packingBytes: Int? = nil) {
        self.header = header
        self.destination = destination
        self.datagramBytes = datagramBytes
        self.packingBytes = max(datagramBytes, packingBytes ?? datagramBytes)
    }

    /// Body bytes one datagram can carry after the header and the fixed data fields.
    var bodyRoom: Int { datagramBytes - Header.byteCount - DataMessage.fixedByteCount }
    /// Body bytes bodies that share a datagram may take together.
    var packingRoom: Int { packingBytes - Header.byteCount - DataMessage.fixedByteCount }
    /// The bytes of a message each fragment carries.
    var fragmentBytes: Int { bodyRoom - DataMessage.bodyOverhead }

    /// What one `send` put in the outbox: datagrams, and the bodies sent whole (the first
    /// `bodies` of the run: a caller marks only those as sent).
    struct Sent {
        var datagrams = 0
        var bodies = 0
    }

    /// Sends counters `firstCounter ..< firstCounter+count`. `length(i)` gives body i's size
    /// and `write(i, range, &w)` copies that part of it. Stops at `datagramsMax` or when the
    /// outbox refuses a datagram.
    @discardableResult
    func send(outbox: inout Outbox, sender: SenderId, firstCounter: UInt64, logicalTs: SequenceNumber, count: Int,
              datagramsMax: Int = .max, length: (Int) -> Int,
              write: (Int, Range<Int>, inout WireWriter) throws(EncodeError) -> Void) -> Sent {
        var i = 0
        var sent = 0
        while i < count, sent < datagramsMax {
            let size = length(i)
            if size + DataMessage.bodyOverhead > bodyRoom {
                let (fragmentsSent, whole) = sendFragments(outbox: &outbox, sender: sender,
                                                           counter: firstCounter + UInt64(i), logicalTs: logicalTs,
                                                           size: size, index: i, write: write)
                sent += fragmentsSent
                guard whole else { return Sent(datagrams: sent, bodies: i) }
                i += 1
                continue
            }
            // Take every following body that still fits this datagram.
            var n = 1
            var used = size + DataMessage.bodyOverhead
            while i + n < count, n < Int(UInt16.max) {
                let next = length(i + n) + DataMessage.bodyOverhead
                guard used + next <= packingRoom else { break }
                used += next
                n += 1
            }
            let first = i
            let ok = outbox.send(to: destination, header: header, bytesMax: packingBytes) { w throws(EncodeError) in
                _ = try DataMessage.encodeFixed(sender: sender, firstCounter: firstCounter + UInt64(first),
                                                logicalTs: logicalTs, count: UInt16(n), into: &w)
                for k in first..<(first + n) {
                    let len = length(k)
                    try w.writeU32(UInt32(len))
                    try write(k, 0..<len, &w)
                }
            }
            guard ok else { return Sent(datagrams: sent, bodies: i) }
            sent += 1
            i += n
        }
        precondition(i <= count, "sent past the run")
        return Sent(datagrams: sent, bodies: i)
    }

    private func sendFragments(outbox: inout Outbox, sender: SenderId, counter: UInt64, logicalTs: SequenceNumber,
                               size: Int, index: Int,
                               write: (Int, Range<Int>, inout WireWriter) throws(EncodeError) -> Void)
        -> (datagrams: Int, whole: Bool) {
        let piece = fragmentBytes
        let fragments = (size + piece - 1) / piece
        precondition(fragments <= Int(UInt16.max), "message too large to fragment")
        var sent = 0
        for f in 0..<fragments {
            let range = (f * piece)..<min(size, (f + 1) * piece)
            let ok = outbox.send(to: destination, header: header) { w throws(EncodeError) in
                _ = try DataMessage.encodeFixed(sender: sender, firstCounter: counter, logicalTs: logicalTs, count: 1,
                                                fragmentIndex: UInt16(f), fragmentCount: UInt16(fragments), into: &w)
                try w.writeU32(UInt32(range.count))
                try write(index, range, &w)
            }
            guard ok else { return (sent, false) }
            sent += 1
        }
        return (sent, true)
    }
}

extension BodyStore {
    /// Copies `range` of a stored body into a datagram being written.
    func write(_ h: Handle, range: Range<Int>, into w: inout WireWriter) throws(EncodeError) {
        let result: EncodeError? = withBody(h) { (bytes: UnsafeRawBufferPointer) -> EncodeError? in
            do throws(EncodeError) {
                try w.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[range]))
                return nil
            } catch {
                return error
            }
        }
        if let e = result { throw e }
    }
}

/// Reassembles fragmented messages (Part 1 §9). Bounded: at most `inFlightMax` messages at
/// once; a new one beyond that evicts the oldest partial (whose missing fragments a
/// retransmission or a NAK brings again), so lost fragments can never wedge reassembly. And
/// bounded by configuration, not by what a datagram claims (issue 14): a message of more
/// fragments than the largest message (`limits.messageBytesMax`) needs, or whose fragments add
/// up to more bytes, is refused, so one datagram cannot make a process reserve gigabytes.
struct Reassembly {
    struct Partial {
        var pieces: [[UInt8]?]
        var received = 0
        var bytes = 0
    }
    var partials: [MessageId: Partial] = [:]
    /// Ids in arrival order, for eviction (never the dictionary's order).
    var arrival: [MessageId] = []
    let inFlightMax = 64
    /// The largest message, and the fragments the group's writer cuts it into.
    let bytesMax: Int
    let fragmentsMax: Int

    init(config: GroupConfig) {
        bytesMax = config.limits.messageBytesMax
        let piece = DataRunWriter(header: Header(kind: .data, groupId: 0, epoch: .none, source: NodeId(0)),
                                  destination: .dataGroup, datagramBytes: config.datagramBytesMax).fragmentBytes
        fragmentsMax = max(2, (bytesMax + piece - 1) / piece)
    }

    enum Added {
        case whole([UInt8])
        case partial
        /// More fragments or bytes than the largest message: dropped, counted by the caller.
        case oversize
    }

    /// Adds one fragment; the whole body once every fragment has arrived.
    mutating func add(id: MessageId, index: Int, count: Int, bytes: UnsafeRawBufferPointer) -> Added {
        guard count <= fragmentsMax, bytes.count <= bytesMax else { return .oversize }
        if partials[id] == nil {
            arrival.removeAll { partials[$0] == nil }
            if arrival.count >= inFlightMax { partials[arrival.removeFirst()] = nil }
            partials[id] = Partial(pieces: Array(repeating: nil, count: count))
            arrival.append(id)
        }
        guard var p = partials[id], p.pieces.count == count else { return .partial }
        if p.pieces[index] == nil {
            guard p.bytes + bytes.count <= bytesMax else {
                partials[id] = nil
                return .oversize
            }
            p.pieces[index] = Array(bytes)
            p.received += 1
            p.bytes += bytes.count
        }
        guard p.received == count else {
            partials[id] = p
            return .partial
        }
        partials[id] = nil
        return .whole(p.pieces.flatMap { $0! })
    }

    /// Called for every collected message: skip the hash when nothing is being reassembled.
    mutating func discard(_ id: MessageId) {
        if !partials.isEmpty { partials[id] = nil }
    }
}
