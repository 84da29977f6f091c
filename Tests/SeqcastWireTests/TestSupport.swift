import SeqcastWire

// Shared helpers for the wire tests: a deterministic PRNG, hex literals, owned copies of decoded
// messages (the decoder's views borrow the datagram), and encode/decode wrappers.

// MARK: - Deterministic randomness

/// SplitMix64 (Steele, Lea, Flood 2014). Deterministic: the tests never touch system randomness.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `range` most of the time, and one of the range's edges (and their neighbours)
    /// one time in four, so boundaries are hit often.
    mutating func edgy(_ range: ClosedRange<UInt64>) -> UInt64 {
        switch next() % 8 {
        case 0: return range.lowerBound
        case 1: return range.upperBound
        case 2: return range.lowerBound == range.upperBound ? range.lowerBound : range.lowerBound + 1
        case 3: return range.lowerBound == range.upperBound ? range.upperBound : range.upperBound - 1
        case 4:
            // Near the low edge (without wrapping past UInt64.max when the range ends there).
            let near = range.upperBound - range.lowerBound > 1000 ? range.lowerBound + 1000 : range.upperBound
            return UInt64.random(in: range.lowerBound...near, using: &self)
        default: return UInt64.random(in: range, using: &self)
        }
    }

    mutating func u64() -> UInt64 { edgy(0...UInt64.max) }
    mutating func u32() -> UInt32 { UInt32(edgy(0...UInt64(UInt32.max))) }
    mutating func u32(_ range: ClosedRange<UInt32>) -> UInt32 {
        UInt32(edgy(UInt64(range.lowerBound)...UInt64(range.upperBound)))
    }
    mutating func u16(_ range: ClosedRange<UInt16>) -> UInt16 {
        UInt16(edgy(UInt64(range.lowerBound)...UInt64(range.upperBound)))
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    mutating func bool() -> Bool { next() & 1 == 1 }

    mutating func bytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var i = 0
        while i < n {
            var word = next()
            for _ in 0..<min(8, n - i) {
                out[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return out
    }
}

// MARK: - Typed-throws access to array bytes

// `Array.withUnsafeBytes` rethrows `any Error`, which typed-throws closures cannot call; these
// wrappers keep the error type.

func withBytes<R, E: Error>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let result: Result<R, E> = array.withUnsafeBytes { p in Result { () throws(E) -> R in try body(p) } }
    return try result.get()
}

func withMutableBytes<R, E: Error>(_ array: inout [UInt8],
                                   _ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let result: Result<R, E> = array.withUnsafeMutableBytes { p in Result { () throws(E) -> R in try body(p) } }
    return try result.get()
}

// MARK: - Hex

/// Bytes from hex text; whitespace is ignored so literals can be laid out field by field.
func hex(_ parts: String...) -> [UInt8] {
    let digits = parts.joined().filter { !$0.isWhitespace }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    var out: [UInt8] = []
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(i, offsetBy: 2)
        out.append(UInt8(digits[i..<j], radix: 16)!)
        i = j
    }
    return out
}

func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789ABCDEF")
    return bytes.map { String([digits[Int($0 >> 4)], digits[Int($0 & 15)]]) }.joined(separator: " ")
}

/// Overwrites `width` bytes at `offset` with `value`, little-endian.
func patch(_ bytes: inout [UInt8], at offset: Int, width: Int, _ value: UInt64) {
    for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
}

/// Sets the header's length field to the array's size.
func fixLength(_ bytes: inout [UInt8]) {
    patch(&bytes, at: 28, width: 4, UInt64(bytes.count))
}

// MARK: - Owned messages

/// A `DataMessage` with its bodies copied out of the datagram.
struct OwnedData: Equatable {
    var sender: SenderId
    var firstCounter: UInt64
    var logicalTs: SequenceNumber
    var fragmentIndex: UInt16 = 0
    var fragmentCount: UInt16 = 1
    var bodies: [[UInt8]]

    init(sender: SenderId, firstCounter: UInt64, logicalTs: SequenceNumber, fragmentIndex: UInt16 = 0,
         fragmentCount: UInt16 = 1, bodies: [[UInt8]]) {
        self.sender = sender
        self.firstCounter = firstCounter
        self.logicalTs = logicalTs
        self.fragmentIndex = fragmentIndex
        self.fragmentCount = fragmentCount
        self.bodies = bodies
    }

    init(_ m: DataMessage) {
        self.init(sender: m.sender, firstCounter: m.firstCounter, logicalTs: m.logicalTs,
                  fragmentIndex: m.fragmentIndex, fragmentCount: m.fragmentCount, bodies: m.bodies.map { Array($0) })
        precondition(m.count == m.bodies.count)
    }

    func encode(into w: inout WireWriter) throws(EncodeError) {
        guard bodies.count <= Int(UInt16.max) else { throw .invalidField("too many bodies") }
        _ = try DataMessage.encodeFixed(sender: sender, firstCounter: firstCounter, logicalTs: logicalTs,
                                        count: UInt16(bodies.count), fragmentIndex: fragmentIndex,
                                        fragmentCount: fragmentCount, into: &w)
        for body in bodies {
            try withBytes(body) { (p) throws(EncodeError) in try DataMessage.appendBody(p, into: &w) }
        }
    }
}

struct OwnedChunk: Equatable {
    var terminalSeq: SequenceNumber
    var totalBytes: UInt64
    var digest: UInt64
    var chunkIndex: UInt32
    var chunkCount: UInt32
    var bytes: [UInt8]

    init(terminalSeq: SequenceNumber, totalBytes: UInt64, digest: UInt64, chunkIndex: UInt32, chunkCount: UInt32,
         bytes: [UInt8]) {
        self.terminalSeq = terminalSeq
        self.totalBytes = totalBytes
        self.digest = digest
        self.chunkIndex = chunkIndex
        self.chunkCount = chunkCount
        self.bytes = bytes
    }

    init(_ c: CheckpointChunk) {
        self.init(terminalSeq: c.terminalSeq, totalBytes: c.totalBytes, digest: c.digest, chunkIndex: c.chunkIndex,
                  chunkCount: c.chunkCount, bytes: Array(c.bytes))
    }

    func encode(into w: inout WireWriter) throws(EncodeError) {
        try withBytes(bytes) { (p) throws(EncodeError) in
            try CheckpointChunk.encode(terminalSeq: terminalSeq, totalBytes: totalBytes, digest: digest,
                                       chunkIndex: chunkIndex, chunkCount: chunkCount, bytes: p, into: &w)
        }
    }
}

/// Every message kind with owned contents, so decoded datagrams can be compared with `==` and
/// kept after the buffer they came from is gone.
enum OwnedMessage: Equatable {
    case data(OwnedData)
    case dataReport([DataReport.Entry])
    case commitSubmit(committedThrough: SequenceNumber, runs: [SequenceRun])
    case commitAck(CommitAck)
    case commit(committedThrough: SequenceNumber, runs: [SequenceRun])
    case heartbeat(Heartbeat)
    case checkpointReport(CheckpointReport)
    case idQuery(IdQuery)
    case idReply(lowWater: SequenceNumber, committedThrough: SequenceNumber, runs: [SequenceRun])
    case messageFetch(MessageFetch)
    case messageReply(OwnedData)
    case fetchMiss(FetchMiss)
    case checkpointFetch(CheckpointFetch)
    case checkpointChunk(OwnedChunk)
    case seal(Seal)
    case sealReply(lowWater: SequenceNumber, storedThrough: SequenceNumber, pageThrough: SequenceNumber,
                   runsEpoch: Epoch, nonce: UInt64, committedThrough: SequenceNumber, runs: [SequenceRun])
    case nodeClaim(NodeClaim)

    var kind: MessageKind {
        switch self {
        case .data: .data
        case .dataReport: .dataReport
        case .commitSubmit: .commitSubmit
        case .commitAck: .commitAck
        case .commit: .commit
        case .heartbeat: .heartbeat
        case .checkpointReport: .checkpointReport
        case .idQuery: .idQuery
        case .idReply: .idReply
        case .messageFetch: .messageFetch
        case .messageReply: .messageReply
        case .fetchMiss: .fetchMiss
        case .checkpointFetch: .checkpointFetch
        case .checkpointChunk: .checkpointChunk
        case .seal: .seal
        case .sealReply: .sealReply
        case .nodeClaim: .nodeClaim
        }
    }

    init(_ m: Datagram.Message) {
        switch m {
        case .data(let d): self = .data(OwnedData(d))
        case .dataReport(let r): self = .dataReport(Array(r.entries))
        case .commitSubmit(let b): self = .commitSubmit(committedThrough: b.committedThrough, runs: Array(b.runs))
        case .commitAck(let a): self = .commitAck(a)
        case .commit(let b): self = .commit(committedThrough: b.committedThrough, runs: Array(b.runs))
        case .heartbeat(let h): self = .heartbeat(h)
        case .checkpointReport(let c): self = .checkpointReport(c)
        case .idQuery(let q): self = .idQuery(q)
        case .idReply(let r):
            self = .idReply(lowWater: r.lowWater, committedThrough: r.batch.committedThrough, runs: Array(r.batch.runs))
        case .messageFetch(let f): self = .messageFetch(f)
        case .messageReply(let d): self = .messageReply(OwnedData(d))
        case .fetchMiss(let f): self = .fetchMiss(f)
        case .checkpointFetch(let f): self = .checkpointFetch(f)
        case .checkpointChunk(let c): self = .checkpointChunk(OwnedChunk(c))
        case .seal(let s): self = .seal(s)
        case .sealReply(let r):
            self = .sealReply(lowWater: r.lowWater, storedThrough: r.storedThrough, pageThrough: r.pageThrough,
                              runsEpoch: r.runsEpoch, nonce: r.nonce, committedThrough: r.batch.committedThrough,
                              runs: Array(r.batch.runs))
        case .nodeClaim(let c): self = .nodeClaim(c)
        }
    }

    func encode(into w: inout WireWriter) throws(EncodeError) {
        switch self {
        case .data(let d), .messageReply(let d): try d.encode(into: &w)
        case .dataReport(let entries): try DataReport.encode(entries, into: &w)
        case .commitSubmit(let c, let runs), .commit(let c, let runs):
            try RunBatch.encode(committedThrough: c, runs: runs, into: &w)
        case .commitAck(let a): try a.encode(into: &w)
        case .heartbeat(let h): try h.encode(into: &w)
        case .checkpointReport(let c): try c.encode(into: &w)
        case .idQuery(let q): try q.encode(into: &w)
        case .idReply(let low, let c, let runs):
            try IdReply.encode(lowWater: low, committedThrough: c, runs: runs, into: &w)
        case .messageFetch(let f): try f.encode(into: &w)
        case .fetchMiss(let f): try f.encode(into: &w)
        case .checkpointFetch(let f): try f.encode(into: &w)
        case .checkpointChunk(let c): try c.encode(into: &w)
        case .seal(let s): try s.encode(into: &w)
        case .sealReply(let low, let stored, let page, let e, let nonce, let c, let runs):
            try SealReply.encode(lowWater: low, storedThrough: stored, pageThrough: page, runsEpoch: e, nonce: nonce,
                                 committedThrough: c, runs: runs, into: &w)
        case .nodeClaim(let c): try c.encode(into: &w)
        }
    }
}

/// A whole datagram with owned contents. `header.length` is ignored on encode (the encoder
/// patches it) and holds the real size after decode.
struct OwnedDatagram: Equatable {
    var header: Header
    var message: OwnedMessage

    init(header: Header, message: OwnedMessage) {
        precondition(header.kind == message.kind)
        self.header = header
        self.message = message
    }

    /// A datagram with a fixed, recognisable header.
    init(_ message: OwnedMessage, flags: UInt16 = 0) {
        self.init(header: Header(kind: message.kind, flags: flags, groupId: 0x1122_3344,
                                 epoch: Epoch(0x0102_0304_0506_0708), source: NodeId(0xA1B2_C3D4)),
                  message: message)
    }

    init(_ d: Datagram) {
        self.init(header: d.header, message: OwnedMessage(d.message))
    }

    /// Encodes into a buffer of `capacity` bytes and returns exactly the datagram's bytes.
    func encoded(capacity: Int = 1472) throws(EncodeError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0xEE, count: capacity)
        let n = try withMutableBytes(&buffer) { (b) throws(EncodeError) -> Int in
            try Datagram.encode(header, into: b) { (w) throws(EncodeError) in try message.encode(into: &w) }
        }
        return Array(buffer[..<n])
    }

    /// The same datagram with `length` set to `n`, as the decoder reports it.
    func withLength(_ n: Int) -> OwnedDatagram {
        var copy = self
        copy.header.length = UInt32(n)
        return copy
    }
}

// MARK: - Decode wrappers

/// Decodes `bytes` and copies the result out of the borrowed views.
func decodeOwned(_ bytes: [UInt8]) throws(DecodeError) -> OwnedDatagram {
    try withBytes(bytes) { (p) throws(DecodeError) -> OwnedDatagram in
        OwnedDatagram(try Datagram.decode(p))
    }
}

/// The error decoding `bytes` throws, or nil if it decodes.
func decodeError(_ bytes: [UInt8]) -> DecodeError? {
    do {
        _ = try decodeOwned(bytes)
        return nil
    } catch {
        return error
    }
}

/// Runs `body` on the decoded datagram while its views are valid.
func withDecoded<T>(_ bytes: [UInt8], _ body: (Datagram) throws -> T) throws -> T {
    try bytes.withUnsafeBytes { p in try body(try Datagram.decode(p)) }
}

// MARK: - One valid sample of every kind

/// Small valid datagrams, one or more per kind, used by the malformed-input and buffer tests.
/// Their layouts (and so the offsets the tests poke at) are described in WIRE.md.
enum Samples {
    static let sender = SenderId(node: NodeId(4), incarnation: 7)

    static let data = OwnedDatagram(.data(OwnedData(
        sender: sender, firstCounter: 10, logicalTs: SequenceNumber(5), bodies: [[1, 2, 3], [], [9]])))
    static let dataFragment = OwnedDatagram(.data(OwnedData(
        sender: sender, firstCounter: 11, logicalTs: SequenceNumber(5), fragmentIndex: 1, fragmentCount: 3,
        bodies: [[7, 7, 7, 7]])))
    static let dataReport = OwnedDatagram(.dataReport([
        DataReport.Entry(sender: sender, heldThrough: 12, pendingCounter: 11, pendingTs: SequenceNumber(3),
                         aheadTs: SequenceNumber(9), committedThrough: 10),
        DataReport.Entry(sender: SenderId(rawValue: 99), heldThrough: 0, pendingCounter: 0, pendingTs: SequenceNumber(0),
                         aheadTs: SequenceNumber(0)),
    ]))
    static let runs: [SequenceRun] = [
        SequenceRun(firstSeq: SequenceNumber(100), count: 3, content: .messages(sender: sender, firstCounter: 10)),
        SequenceRun(firstSeq: SequenceNumber(103), count: 2, content: .noop),
        SequenceRun(firstSeq: SequenceNumber(105), count: 1, content: .checkpointInterval(64)),
        SequenceRun(firstSeq: SequenceNumber(106), count: 1, content: .endOfStream(sender: sender, lastCounter: 12)),
    ]
    static let commitSubmit = OwnedDatagram(.commitSubmit(committedThrough: SequenceNumber(99), runs: runs))
    static let commitSubmitEmpty = OwnedDatagram(.commitSubmit(committedThrough: SequenceNumber(99), runs: []))
    static let commitAck = OwnedDatagram(.commitAck(CommitAck(storedThrough: SequenceNumber(106))))
    static let commit = OwnedDatagram(.commit(committedThrough: SequenceNumber(106), runs: runs))
    static let heartbeat = OwnedDatagram(.heartbeat(Heartbeat(
        committedThrough: SequenceNumber(106), checkpointSeq: SequenceNumber(64), checkpointBytes: 4096)))
    static let checkpointReport = OwnedDatagram(.checkpointReport(CheckpointReport(
        terminalSeq: SequenceNumber(64), byteCount: 4096, digest: 0xDEAD_BEEF)))
    static let idQuery = OwnedDatagram(.idQuery(IdQuery(firstSeq: SequenceNumber(100), count: 7)))
    static let idReply = OwnedDatagram(.idReply(
        lowWater: SequenceNumber(50), committedThrough: SequenceNumber(106), runs: Array(runs[0...1])))
    static let messageFetch = OwnedDatagram(.messageFetch(MessageFetch(sender: sender, firstCounter: 10, count: 3)))
    static let messageReply = OwnedDatagram(.messageReply(OwnedData(
        sender: sender, firstCounter: 10, logicalTs: SequenceNumber(5), bodies: [[1, 2, 3]])), flags: Header.flagRepair)
    static let fetchMiss = OwnedDatagram(.fetchMiss(FetchMiss(
        sender: sender, firstCounter: 1, count: 9, reason: .collected, checkpointSeq: SequenceNumber(64))))
    static let checkpointFetch = OwnedDatagram(.checkpointFetch(CheckpointFetch(
        terminalSeq: SequenceNumber(64), firstChunk: 2)))
    static let checkpointChunk = OwnedDatagram(.checkpointChunk(OwnedChunk(
        terminalSeq: SequenceNumber(64), totalBytes: 10, digest: 0xDEAD_BEEF, chunkIndex: 1, chunkCount: 2,
        bytes: [1, 2, 3, 4, 5])))
    static let seal = OwnedDatagram(.seal(Seal(fromSeq: SequenceNumber(51), nonce: 0xABCD)))
    static let sealReply = OwnedDatagram(.sealReply(
        lowWater: SequenceNumber(50), storedThrough: SequenceNumber(110), pageThrough: SequenceNumber(106),
        runsEpoch: Epoch(round: 3, candidate: 1), nonce: 0xABCD, committedThrough: SequenceNumber(99),
        runs: Array(runs[0...1])))
    static let nodeClaim = OwnedDatagram(.nodeClaim(NodeClaim(startedAt: 1_700_000_000_000_000_000, nonce: 0x5EED, inUse: false)))

    /// Every sample with a name for test messages.
    static let all: [(name: String, datagram: OwnedDatagram)] = [
        ("data", data), ("data fragment", dataFragment), ("dataReport", dataReport),
        ("commitSubmit", commitSubmit), ("commitSubmit empty", commitSubmitEmpty), ("commitAck", commitAck),
        ("commit", commit), ("heartbeat", heartbeat), ("checkpointReport", checkpointReport),
        ("idQuery", idQuery), ("idReply", idReply), ("messageFetch", messageFetch),
        ("messageReply", messageReply), ("fetchMiss", fetchMiss), ("checkpointFetch", checkpointFetch),
        ("checkpointChunk", checkpointChunk), ("seal", seal), ("sealReply", sealReply),
        ("nodeClaim", nodeClaim),
    ]

    static func bytes(_ d: OwnedDatagram) -> [UInt8] {
        do { return try d.encoded() } catch { preconditionFailure("sample does not encode: \(error)") }
    }
}
