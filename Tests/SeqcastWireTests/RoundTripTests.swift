import SeqcastWire
import Testing

// Property-style round trips: random valid messages of every kind (deterministic SplitMix64,
// edge values favoured) are encoded, decoded and compared field by field; the decoded views are
// then re-encoded and must give the same bytes.

/// Random valid messages. Every value stays inside the ranges WIRE.md allows.
struct MessageGenerator {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func header(_ kind: MessageKind) -> Header {
        Header(kind: kind, flags: rng.bool() ? 0 : Header.flagRepair, groupId: rng.u32(), epoch: Epoch(rng.u64() & (Epoch.roundLimit << 16 - 1)),
               source: NodeId(rng.u32()))
    }

    mutating func sender() -> SenderId { SenderId(rawValue: rng.u64()) }

    mutating func run() -> SequenceRun {
        switch rng.next() % 4 {
        case 0:
            let count = rng.u32(1...UInt32.max)
            let first = rng.edgy(1...(UInt64.max - UInt64(count)))
            let counter = rng.edgy(1...(UInt64.max - UInt64(count)))
            return SequenceRun(firstSeq: SequenceNumber(first), count: count,
                               content: .messages(sender: sender(), firstCounter: counter))
        case 1:
            let count = rng.u32(1...UInt32.max)
            return SequenceRun(firstSeq: SequenceNumber(rng.edgy(1...(UInt64.max - UInt64(count)))), count: count,
                               content: .noop)
        case 2:
            return SequenceRun(firstSeq: SequenceNumber(rng.edgy(1...(UInt64.max - 1))), count: 1,
                               content: .checkpointInterval(rng.edgy(1...UInt64.max)))
        default:
            return SequenceRun(firstSeq: SequenceNumber(rng.edgy(1...(UInt64.max - 1))), count: 1,
                               content: .endOfStream(sender: sender(), lastCounter: rng.u64()))
        }
    }

    /// A list length in `small` (fits a 1472-byte datagram) or, when `large`, beyond it up to `max`.
    mutating func listLength(min: Int, small: Int, max: Int, large: Bool) -> Int {
        large ? rng.int((small + 1)...max) : rng.int(min...small)
    }

    mutating func runs(fixed: Int, capacity: Int) -> [SequenceRun] {
        let small = (1472 - Header.byteCount - fixed) / SequenceRun.byteCount
        let max = (capacity - Header.byteCount - fixed) / SequenceRun.byteCount
        let n = listLength(min: 0, small: small, max: max, large: capacity > 1472)
        return (0..<n).map { _ in run() }
    }

    mutating func entry() -> DataReport.Entry {
        let held = rng.u64()
        let pending = rng.edgy(0...held)
        return DataReport.Entry(sender: sender(), heldThrough: held, pendingCounter: pending,
                                pendingTs: SequenceNumber(rng.u64()), aheadTs: SequenceNumber(rng.u64()),
                                committedThrough: pending == 0 ? rng.u64() : rng.edgy(0...(pending - 1)))
    }

    /// Bodies that fill at most `budget` bytes including their 4-byte lengths; more than a
    /// 1472-byte datagram's room (`roomIn1472`) in total when `large`.
    mutating func bodies(budget: Int, large: Bool) -> [[UInt8]] {
        let maxCount = min(budget / 4, Int(UInt16.max))
        let count: Int
        switch rng.next() % 4 {
        case 0: count = 1
        case 1: count = rng.int(1...min(4, maxCount))
        default: count = rng.int(1...maxCount)
        }
        let left = budget - 4 * count
        // When `large`, guarantee the datagram does not fit 1472 bytes.
        let total = large ? rng.int(max(0, roomIn1472 + 1 - 4 * count)...left) : rng.int(0...left)
        var rest = total
        var out: [[UInt8]] = []
        for i in 0..<count {
            let share = rest / (count - i)
            let n = i == count - 1 ? rest : rng.int(0...min(rest, share * 2))
            out.append(rng.bytes(n))
            rest -= n
        }
        return out
    }

    /// Body bytes (lengths included) a 1472-byte data datagram holds.
    let roomIn1472 = 1472 - Header.byteCount - DataMessage.fixedByteCount

    mutating func data(capacity: Int) -> OwnedData {
        let budget = capacity - Header.byteCount - DataMessage.fixedByteCount
        let large = capacity > 1472
        if rng.next() % 4 == 0 {
            // One fragment of a large message.
            let fragmentCount = rng.u16(2...UInt16.max)
            let index = rng.u16(0...(fragmentCount - 1))
            let length = large ? rng.int((roomIn1472 + 1)...(budget - 4)) : rng.int(0...(budget - 4))
            return OwnedData(sender: sender(), firstCounter: rng.edgy(1...(UInt64.max - 1)),
                             logicalTs: SequenceNumber(rng.u64()), fragmentIndex: index, fragmentCount: fragmentCount,
                             bodies: [rng.bytes(length)])
        }
        let bodies = bodies(budget: budget, large: large)
        return OwnedData(sender: sender(), firstCounter: rng.edgy(1...(UInt64.max - UInt64(bodies.count))),
                         logicalTs: SequenceNumber(rng.u64()), bodies: bodies)
    }

    mutating func message(_ kind: MessageKind, capacity: Int) -> OwnedMessage {
        let large = capacity > 1472
        switch kind {
        case .data: return .data(data(capacity: capacity))
        case .messageReply: return .messageReply(data(capacity: capacity))
        case .dataReport:
            let small = DataReport.entriesMax(datagramBytes: 1472)
            let n = listLength(min: 1, small: small, max: DataReport.entriesMax(datagramBytes: capacity), large: large)
            return .dataReport((0..<n).map { _ in entry() })
        case .commitSubmit:
            return .commitSubmit(committedThrough: SequenceNumber(rng.u64()),
                                 runs: runs(fixed: RunBatch.fixedByteCount, capacity: capacity))
        case .commit:
            return .commit(committedThrough: SequenceNumber(rng.u64()),
                           runs: runs(fixed: RunBatch.fixedByteCount, capacity: capacity))
        case .idReply:
            return .idReply(lowWater: SequenceNumber(rng.u64()), committedThrough: SequenceNumber(rng.u64()),
                            runs: runs(fixed: 8 + RunBatch.fixedByteCount, capacity: capacity))
        case .sealReply:
            let runs = runs(fixed: SealReply.fixedByteCount, capacity: capacity)
            let page = rng.edgy((runs.map(\.lastSeq.rawValue).max() ?? 0)...UInt64.max)
            return .sealReply(lowWater: SequenceNumber(rng.u64()), storedThrough: SequenceNumber(rng.edgy(page...UInt64.max)),
                              pageThrough: SequenceNumber(page), runsEpoch: Epoch(rng.u64() & (Epoch.roundLimit << 16 - 1)), nonce: rng.u64(),
                              committedThrough: SequenceNumber(rng.u64()), runs: runs)
        case .seal: return .seal(Seal(fromSeq: SequenceNumber(rng.u64()), nonce: rng.u64()))
        case .commitAck: return .commitAck(CommitAck(storedThrough: SequenceNumber(rng.u64())))
        case .heartbeat:
            let committed = rng.u64()
            return .heartbeat(Heartbeat(committedThrough: SequenceNumber(committed),
                                        checkpointSeq: SequenceNumber(rng.edgy(0...committed)),
                                        checkpointBytes: rng.u64()))
        case .checkpointReport:
            return .checkpointReport(CheckpointReport(terminalSeq: SequenceNumber(rng.edgy(1...UInt64.max)),
                                                      byteCount: rng.u64(), digest: rng.u64()))
        case .idQuery:
            let count = rng.u32(1...UInt32.max)
            return .idQuery(IdQuery(firstSeq: SequenceNumber(rng.edgy(1...(UInt64.max - UInt64(count)))), count: count))
        case .messageFetch:
            let count = rng.u32(1...UInt32.max)
            return .messageFetch(MessageFetch(sender: sender(), firstCounter: rng.edgy(1...(UInt64.max - UInt64(count))),
                                              count: count))
        case .fetchMiss:
            let count = rng.u32(1...UInt32.max)
            return .fetchMiss(FetchMiss(sender: sender(), firstCounter: rng.edgy(1...(UInt64.max - UInt64(count))),
                                        count: count, reason: rng.bool() ? .notHeld : .collected,
                                        checkpointSeq: SequenceNumber(rng.u64())))
        case .checkpointFetch:
            return .checkpointFetch(CheckpointFetch(terminalSeq: SequenceNumber(rng.u64()), firstChunk: rng.u32()))
        case .checkpointChunk:
            let budget = capacity - Header.byteCount - CheckpointChunk.fixedByteCount
            let length = large ? rng.int(1405...budget) : rng.int(0...budget)
            let chunkCount = rng.u32(1...UInt32.max)
            return .checkpointChunk(OwnedChunk(
                terminalSeq: SequenceNumber(rng.u64()), totalBytes: rng.edgy(UInt64(length)...UInt64.max),
                digest: rng.u64(), chunkIndex: rng.u32(0...(chunkCount - 1)), chunkCount: chunkCount,
                bytes: rng.bytes(length)))
        case .nodeClaim: return .nodeClaim(NodeClaim(startedAt: rng.u64(), nonce: rng.u64(), inUse: rng.bool()))
        }
    }

    mutating func datagram(_ kind: MessageKind, capacity: Int) -> OwnedDatagram {
        OwnedDatagram(header: header(kind), message: message(kind, capacity: capacity))
    }
}

/// The size WIRE.md gives for a datagram, computed independently of the encoder.
func documentedSize(_ m: OwnedMessage) -> Int {
    let body: Int
    switch m {
    case .data(let d), .messageReply(let d): body = 32 + d.bodies.reduce(0) { $0 + 4 + $1.count }
    case .dataReport(let e): body = 8 + 48 * e.count
    case .commitSubmit(_, let runs), .commit(_, let runs): body = 16 + 32 * runs.count
    case .idReply(_, _, let runs): body = 24 + 32 * runs.count
    case .sealReply(_, _, _, _, _, _, let runs): body = 56 + 32 * runs.count
    case .commitAck: body = 8
    case .seal: body = 16
    case .heartbeat, .checkpointReport, .messageFetch, .nodeClaim: body = 24
    case .idQuery, .checkpointFetch: body = 16
    case .fetchMiss: body = 40
    case .checkpointChunk(let c): body = 40 + c.bytes.count
    }
    return Header.byteCount + body
}

/// Encodes a decoded datagram again straight from its views (no owned copy in between).
func reencode(_ d: Datagram, capacity: Int) throws(EncodeError) -> [UInt8] {
    var buffer = [UInt8](repeating: 0xEE, count: capacity)
    let n = try withMutableBytes(&buffer) { (b) throws(EncodeError) -> Int in
        try Datagram.encode(d.header, into: b) { (w) throws(EncodeError) in
            switch d.message {
            case .data(let m), .messageReply(let m):
                _ = try DataMessage.encodeFixed(sender: m.sender, firstCounter: m.firstCounter, logicalTs: m.logicalTs,
                                                count: m.count, fragmentIndex: m.fragmentIndex,
                                                fragmentCount: m.fragmentCount, into: &w)
                for body in m.bodies { try DataMessage.appendBody(body, into: &w) }
            case .dataReport(let r): try DataReport.encode(Array(r.entries), incarnation: r.incarnation, into: &w)
            case .commitSubmit(let b), .commit(let b):
                try RunBatch.encode(committedThrough: b.committedThrough, runs: Array(b.runs), into: &w)
            case .commitAck(let a): try a.encode(into: &w)
            case .heartbeat(let h): try h.encode(into: &w)
            case .checkpointReport(let c): try c.encode(into: &w)
            case .idQuery(let q): try q.encode(into: &w)
            case .idReply(let r):
                try IdReply.encode(lowWater: r.lowWater, committedThrough: r.batch.committedThrough,
                                   runs: Array(r.batch.runs), into: &w)
            case .messageFetch(let f): try f.encode(into: &w)
            case .fetchMiss(let f): try f.encode(into: &w)
            case .checkpointFetch(let f): try f.encode(into: &w)
            case .checkpointChunk(let c):
                try CheckpointChunk.encode(terminalSeq: c.terminalSeq, totalBytes: c.totalBytes, digest: c.digest,
                                           chunkIndex: c.chunkIndex, chunkCount: c.chunkCount, bytes: c.bytes, into: &w)
            case .seal(let s): try s.encode(into: &w)
            case .sealReply(let r):
                try SealReply.encode(lowWater: r.lowWater, storedThrough: r.storedThrough, pageThrough: r.pageThrough,
                                     runsEpoch: r.runsEpoch, nonce: r.nonce, committedThrough: r.batch.committedThrough,
                                     runs: Array(r.batch.runs), into: &w)
            case .nodeClaim(let c): try c.encode(into: &w)
            }
        }
    }
    return Array(buffer[..<n])
}

@Suite("Round trips")
struct RoundTripTests {
    /// Encode → decode → compare → re-encode → compare bytes, for one random datagram.
    private func roundTrip(_ original: OwnedDatagram, capacity: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = try original.encoded(capacity: capacity)
        #expect(bytes.count == documentedSize(original.message), sourceLocation: sourceLocation)
        #expect(bytes.count <= capacity, sourceLocation: sourceLocation)
        let again = try withDecoded(bytes) { d in
            let decoded = OwnedDatagram(d)
            #expect(decoded == original.withLength(bytes.count), sourceLocation: sourceLocation)
            return try reencode(d, capacity: capacity)
        }
        #expect(again == bytes, sourceLocation: sourceLocation)
    }

    @Test("random datagrams that fit 1472 bytes survive encode, decode and re-encode", arguments: MessageKind.allCases)
    func smallDatagrams(kind: MessageKind) throws {
        var gen = MessageGenerator(seed: 0x5EED_0000 + UInt64(kind.rawValue))
        for _ in 0..<2_000 {
            let original = gen.datagram(kind, capacity: 1472)
            try roundTrip(original, capacity: 1472)
        }
    }

    @Test("random datagrams that need a 64 KiB buffer survive encode, decode and re-encode",
          arguments: MessageKind.allCases)
    func largeDatagrams(kind: MessageKind) throws {
        var gen = MessageGenerator(seed: 0xB16_0000 + UInt64(kind.rawValue))
        let capacity = 64 * 1024
        var tooBigForDefault = 0
        for _ in 0..<60 {
            let original = gen.datagram(kind, capacity: capacity)
            try roundTrip(original, capacity: capacity)
            if documentedSize(original.message) > 1472 {
                tooBigForDefault += 1
                // The same datagram must be refused cleanly by a default-size buffer.
                #expect(throws: EncodeError.self) { try original.encoded(capacity: 1472) }
            }
        }
        switch kind {
        case .data, .messageReply, .dataReport, .checkpointChunk, .commitSubmit, .commit, .idReply, .sealReply:
            #expect(tooBigForDefault == 60, "list kinds should only produce datagrams over 1472 bytes here")
        default:
            #expect(tooBigForDefault == 0)
        }
    }

    @Test("data message bodies come back in order, including empty ones")
    func emptyBodies() throws {
        let original = OwnedDatagram(.data(OwnedData(sender: SenderId(rawValue: 1), firstCounter: 1,
                                                     logicalTs: SequenceNumber(0), bodies: [[], [], [1], []])))
        try roundTrip(original, capacity: 1472)
        let maxBodies = OwnedDatagram(.data(OwnedData(sender: SenderId(rawValue: 1), firstCounter: 1,
                                                      logicalTs: SequenceNumber(0),
                                                      bodies: Array(repeating: [], count: (1472 - 64) / 4))))
        try roundTrip(maxBodies, capacity: 1472)
    }
}
