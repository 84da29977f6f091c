import SeqcastWire
import Testing

// The malformed-input suite: every way a received datagram can be wrong must end in a
// `DecodeError` (the exact one WIRE.md names), never a trap, a hang or a large allocation.
// Offsets refer to the samples in TestSupport.swift, whose layouts WIRE.md gives.

/// Reserved (must-be-zero) fields of each sample: (datagram offset, width).
private let reservedFields: [String: [(offset: Int, width: Int)]] = [
    "data": [(62, 2)],
    "data fragment": [(62, 2)],
    "dataReport": [(34, 2)],
    "commitSubmit": [(42, 6)] + (0..<4).map { (48 + 32 * $0 + 9, 3) },
    "commitSubmit empty": [(42, 6)],
    "commitAck": [],
    "commit": [(42, 6)] + (0..<4).map { (48 + 32 * $0 + 9, 3) },
    "heartbeat": [],
    "checkpointReport": [],
    "idQuery": [(44, 4)],
    "idReply": [(50, 6)] + (0..<2).map { (56 + 32 * $0 + 9, 3) },
    "messageFetch": [(52, 4)],
    "messageReply": [(62, 2)],
    "fetchMiss": [(52, 4), (57, 7)],
    "checkpointFetch": [(44, 4)],
    "checkpointChunk": [(68, 4)],
    "seal": [],
    "sealReply": [(82, 6)] + (0..<2).map { (88 + 32 * $0 + 9, 3) },
    "nodeClaim": [(49, 7)],
]

private let sampleNames = Samples.all.map(\.name)

private func sample(_ name: String) -> [UInt8] {
    Samples.bytes(Samples.all.first { $0.name == name }!.datagram)
}

/// `bytes` with a field patched (little-endian).
private func patched(_ bytes: [UInt8], at offset: Int, width: Int, _ value: UInt64) -> [UInt8] {
    var copy = bytes
    patch(&copy, at: offset, width: width, value)
    return copy
}

/// Where the header decoder stops when the datagram has only `n` (< 32) bytes: the start of the
/// field that byte `n` belongs to.
private func headerFieldStart(containing n: Int) -> Int {
    [0, 4, 5, 6, 8, 12, 16, 24, 28].last { $0 <= n }!
}

private func expectError(_ bytes: [UInt8], _ expected: DecodeError, _ comment: Comment? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(decodeError(bytes) == expected, comment, sourceLocation: sourceLocation)
}

private func expectDecodes(_ bytes: [UInt8], _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(decodeError(bytes) == nil, comment, sourceLocation: sourceLocation)
}

@Suite("Malformed input")
struct MalformedInputTests {
    // MARK: Truncation

    @Test("every sample decodes as is", arguments: sampleNames)
    func samplesDecode(name: String) throws {
        let bytes = sample(name)
        let decoded = try decodeOwned(bytes)
        #expect(decoded == Samples.all.first { $0.name == name }!.datagram.withLength(bytes.count))
    }

    @Test("truncation at every offset throws, and the header's length then disagrees", arguments: sampleNames)
    func truncationEveryOffset(name: String) {
        let bytes = sample(name)
        for n in 0..<bytes.count {
            let cut = Array(bytes[..<n])
            let expected: DecodeError = n < Header.byteCount
                ? .truncated(offset: headerFieldStart(containing: n))
                : .lengthMismatch(declared: UInt32(bytes.count), actual: n)
            expectError(cut, expected, "\(name) cut to \(n) bytes")
        }
    }

    @Test("truncation with the length patched to match reaches the body decoder", arguments: sampleNames)
    func truncationPatchedLength(name: String) {
        let bytes = sample(name)
        for n in Header.byteCount..<bytes.count {
            var cut = Array(bytes[..<n])
            fixLength(&cut)
            let error = decodeError(cut)
            #expect(error?.reason == "truncated" || error?.reason == "bad-count",
                    "\(name) cut to \(n) bytes: \(String(describing: error))")
        }
    }

    @Test("a truncated fixed-size body fails at the first missing field")
    func truncatedFieldOffsets() {
        // commitAck: the 8-byte storedThrough at 32.
        var ack = Array(sample("commitAck")[..<39])
        fixLength(&ack)
        expectError(ack, .truncated(offset: 32))
        // heartbeat: checkpointBytes at 48.
        var beat = Array(sample("heartbeat")[..<54])
        fixLength(&beat)
        expectError(beat, .truncated(offset: 48))
        // checkpointChunk cut inside the chunk bytes: the length claims more than is left.
        var chunk = Array(sample("checkpointChunk")[..<74])
        fixLength(&chunk)
        expectError(chunk, .badCount(offset: 64))
        // A datagram of 0 bytes.
        expectError([], .truncated(offset: 0))
    }

    // MARK: Header

    @Test("bad magic", arguments: sampleNames)
    func badMagic(name: String) {
        let bytes = sample(name)
        for i in 0..<4 {
            var copy = bytes
            copy[i] ^= 0xFF
            expectError(copy, .badMagic, "byte \(i)")
        }
        expectError(patched(bytes, at: 0, width: 4, 0), .badMagic)
        // The magic written big-endian ("SCQS" on the wire) is not the magic.
        expectError(hex("53 43 51 53") + bytes[4...], .badMagic)
        // A datagram shorter than the magic is truncated, not bad-magic.
        expectError([0x53, 0x51, 0x43], .truncated(offset: 0))
        // Bad magic wins even if the datagram is too short for the rest of the header.
        expectError([0, 0, 0, 0, 1], .badMagic)
    }

    @Test("bad version", arguments: [UInt8(0), 1, 2, 3, 5, 0x80, 0xFF])
    func badVersion(version: UInt8) {
        for name in sampleNames {
            expectError(patched(sample(name), at: 4, width: 1, UInt64(version)), .unsupportedVersion(version), "\(name)")
        }
    }

    @Test("an epoch round of 2^47 or more is refused at the header (its next epoch would not exist)", arguments: sampleNames)
    func epochRoundOutOfRange(name: String) {
        let bytes = sample(name)
        expectError(patched(bytes, at: 16, width: 8, Epoch.roundLimit << 16), .badField(offset: 16))
        expectError(patched(bytes, at: 16, width: 8, UInt64.max), .badField(offset: 16))
        expectDecodes(patched(bytes, at: 16, width: 8, (Epoch.roundLimit - 1) << 16 | 0xFFFF))
    }

    @Test("unknown kind: 0 and 18...255")
    func unknownKind() {
        let bytes = sample("commitAck")
        for kind in [UInt8(0)] + Array(UInt8(18)...UInt8(255)) {
            expectError(patched(bytes, at: 5, width: 1, UInt64(kind)), .unknownKind(kind))
        }
        for name in sampleNames {
            expectError(patched(sample(name), at: 5, width: 1, 0), .unknownKind(0), "\(name)")
        }
    }

    @Test("a known kind with the wrong body is refused")
    func wrongBodyForKind() {
        // A commitAck body (8 bytes) labelled heartbeat: too short for a heartbeat.
        expectError(patched(sample("commitAck"), at: 5, width: 1, UInt64(MessageKind.heartbeat.rawValue)),
                    .truncated(offset: 40))
        // A heartbeat body (24 bytes) labelled commitAck: 16 bytes left over.
        expectError(patched(sample("heartbeat"), at: 5, width: 1, UInt64(MessageKind.commitAck.rawValue)),
                    .trailingBytes(count: 16))
    }

    @Test("unknown flag bits are refused; the repair and auth flags are accepted on every kind", arguments: sampleNames)
    func unknownFlags(name: String) {
        let bytes = sample(name)
        for bit in 2..<16 {
            expectError(patched(bytes, at: 6, width: 2, 1 << UInt64(bit)), .badField(offset: 6), "bit \(bit)")
            expectError(patched(bytes, at: 6, width: 2, 1 << UInt64(bit) | 1), .badField(offset: 6), "bit \(bit) + repair")
        }
        // The node strips the trailer; the role decodes the `length` bytes with the flag still set.
        expectDecodes(patched(bytes, at: 6, width: 2, UInt64(Header.flagAuthTag)))
        expectDecodes(patched(bytes, at: 6, width: 2, UInt64(Header.flagAuthTag | Header.flagRepair)))
        expectError(patched(bytes, at: 6, width: 2, 0xFFFF), .badField(offset: 6))
        expectDecodes(patched(bytes, at: 6, width: 2, UInt64(Header.flagRepair)))
        expectDecodes(patched(bytes, at: 6, width: 2, 0))
    }

    @Test("non-zero reserved bytes are refused at the start of their field", arguments: sampleNames)
    func reservedBytes(name: String) throws {
        let bytes = sample(name)
        let fields = try #require(reservedFields[name])
        for field in fields {
            #expect(bytes[field.offset..<(field.offset + field.width)].allSatisfy { $0 == 0 })
            for i in field.offset..<(field.offset + field.width) {
                for value: UInt8 in [0x01, 0x80, 0xFF] {
                    var copy = bytes
                    copy[i] = value
                    expectError(copy, .badField(offset: field.offset), "\(name): byte \(i) = \(value)")
                }
            }
        }
    }

    @Test("length field mismatch", arguments: sampleNames)
    func lengthMismatch(name: String) {
        let bytes = sample(name)
        let n = bytes.count
        for declared in [0, 1, 31, 32, n - 1, n + 1, 1472, Int(UInt32.max)] where declared != n {
            expectError(patched(bytes, at: 28, width: 4, UInt64(declared)),
                        .lengthMismatch(declared: UInt32(declared), actual: n), "declared \(declared)")
        }
    }

    @Test("trailing bytes after the body", arguments: sampleNames)
    func trailingBytes(name: String) {
        let bytes = sample(name)
        for extra in [1, 4, 7, 8, 32, 100] {
            var longer = bytes + [UInt8](repeating: 0, count: extra)
            fixLength(&longer)
            expectError(longer, .trailingBytes(count: extra), "\(extra) extra bytes")
        }
    }

    // MARK: Lists

    @Test("a list count the datagram cannot hold fails with bad-count before any element is read")
    func hugeListCounts() throws {
        // Each datagram is 100 bytes and claims 65535 elements.
        func hundredBytes(_ prefix: [UInt8]) -> [UInt8] {
            var out = prefix + [UInt8](repeating: 0, count: 100 - prefix.count)
            fixLength(&out)
            return out
        }
        let commitSubmit = hundredBytes(patched(sample("commitSubmit empty"), at: 40, width: 2, 0xFFFF))
        let commit = hundredBytes(patched(patched(sample("commitSubmit empty"), at: 5, width: 1, 5), at: 40, width: 2, 0xFFFF))
        var idReplyPrefix = Array(sample("idReply")[..<56])
        patch(&idReplyPrefix, at: 48, width: 2, 0xFFFF)
        let idReply = hundredBytes(idReplyPrefix)
        var reportPrefix = Array(sample("dataReport")[..<40])
        patch(&reportPrefix, at: 32, width: 2, 0xFFFF)
        let dataReport = hundredBytes(reportPrefix)
        // data: 65535 bodies; the first one (length 0 at 64) would even be valid.
        var dataPrefix = Array(sample("data")[..<64])
        patch(&dataPrefix, at: 56, width: 2, 0xFFFF)
        let data = hundredBytes(dataPrefix + [0, 0, 0, 0])

        let cases: [([UInt8], DecodeError)] = [
            (commitSubmit, .badCount(offset: 48)),
            (commit, .badCount(offset: 48)),
            (idReply, .badCount(offset: 56)),
            (dataReport, .badCount(offset: 40)),
            (data, .badCount(offset: 64)),
        ]
        for (bytes, expected) in cases {
            #expect(bytes.count == 100)
            expectError(bytes, expected)
        }

        // Refusing must cost a bounds check, not a walk over 65535 elements: 20,000 refusals
        // take milliseconds; walking the claimed counts would take billions of steps.
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for i in 0..<20_000 {
                let (bytes, expected) = cases[i % cases.count]
                let error = decodeError(bytes)
                try #require(error == expected)
            }
        }
        #expect(elapsed < .seconds(10), "refusing huge counts took \(elapsed)")
    }

    @Test("a list count one too high")
    func countOneTooHigh() {
        // 4 runs claimed as 5: 5 × 32 bytes do not fit the 128 that are left.
        expectError(patched(sample("commitSubmit"), at: 40, width: 2, 5), .badCount(offset: 48))
        expectError(patched(sample("idReply"), at: 48, width: 2, 3), .badCount(offset: 56))
        // 2 report entries claimed as 3.
        expectError(patched(sample("dataReport"), at: 32, width: 2, 3), .badCount(offset: 40))
        // data bodies [1,2,3], [], [9] take 16 bytes at 64..<80. Claiming 5 bodies needs at least
        // 20 bytes: refused up front. Claiming 4 passes that check (4 × 4 ≤ 16), and the fourth
        // length field is missing.
        expectError(patched(sample("data"), at: 56, width: 2, 5), .badCount(offset: 64))
        expectError(patched(sample("data"), at: 56, width: 2, 4), .truncated(offset: 80))
        // Fewer than there are leaves trailing bytes.
        expectError(patched(sample("commitSubmit"), at: 40, width: 2, 3), .trailingBytes(count: 32))
        expectError(patched(sample("data"), at: 56, width: 2, 2), .trailingBytes(count: 5))
    }

    @Test("empty lists: commit runs may be empty, a data report and a data message may not")
    func emptyLists() {
        expectDecodes(sample("commitSubmit empty"))
        var report = Array(sample("dataReport")[..<40])
        patch(&report, at: 32, width: 2, 0)
        fixLength(&report)
        expectError(report, .badCount(offset: 32))
        var data = Array(sample("data")[..<64])
        patch(&data, at: 56, width: 2, 0)
        fixLength(&data)
        expectError(data, .badCount(offset: 56))
    }

    // MARK: Runs

    /// The commitSubmit sample's run `i` starts at 48 + 32 i: 0 messages (firstSeq 100, count 3,
    /// firstCounter 10), 1 noop, 2 checkpointInterval, 3 endOfStream.
    private func run(_ i: Int) -> Int { 48 + 32 * i }

    @Test("runs with count 0 are refused")
    func emptyRuns() {
        let bytes = sample("commitSubmit")
        for i in 0..<4 {
            expectError(patched(bytes, at: run(i) + 12, width: 4, 0), .badCount(offset: run(i)), "run \(i)")
        }
        // The same in an idReply, whose runs start at 56.
        expectError(patched(sample("idReply"), at: 56 + 12, width: 4, 0), .badCount(offset: 56))
        expectError(patched(sample("idReply"), at: 88 + 12, width: 4, 0), .badCount(offset: 88))
    }

    @Test("runs whose firstSeq + count overflows, or whose firstSeq is 0, are refused")
    func runOverflow() {
        let bytes = sample("commitSubmit")
        // Run 0 has count 3.
        expectError(patched(bytes, at: run(0), width: 8, UInt64.max - 2), .badCount(offset: run(0)))
        expectError(patched(bytes, at: run(0), width: 8, UInt64.max), .badCount(offset: run(0)))
        expectError(patched(bytes, at: run(0), width: 8, 0), .badCount(offset: run(0)))
        expectDecodes(patched(bytes, at: run(0), width: 8, UInt64.max - 3), "last number 2^64 - 2 is allowed")
        // Count 2^32 - 1 from a high firstSeq.
        let big = patched(bytes, at: run(1) + 12, width: 4, UInt64(UInt32.max))
        expectError(patched(big, at: run(1), width: 8, UInt64.max - UInt64(UInt32.max) + 1), .badCount(offset: run(1)))
        expectDecodes(patched(big, at: run(1), width: 8, UInt64.max - UInt64(UInt32.max)))
        // Control runs (count 1) at the very top.
        expectError(patched(bytes, at: run(2), width: 8, UInt64.max), .badCount(offset: run(2)))
        expectDecodes(patched(bytes, at: run(3), width: 8, UInt64.max - 1))
    }

    @Test("message runs with counter 0 or an overflowing counter are refused")
    func runCounters() {
        let bytes = sample("commitSubmit")
        expectError(patched(bytes, at: run(0) + 24, width: 8, 0), .badField(offset: run(0)))
        expectError(patched(bytes, at: run(0) + 24, width: 8, UInt64.max - 2), .badField(offset: run(0)))
        expectDecodes(patched(bytes, at: run(0) + 24, width: 8, UInt64.max - 3))
        // Any sender is fine.
        expectDecodes(patched(bytes, at: run(0) + 16, width: 8, 0))
        expectDecodes(patched(bytes, at: run(0) + 16, width: 8, UInt64.max))
    }

    @Test("noop runs must have a = b = 0")
    func noopFields() {
        let bytes = sample("commitSubmit")
        expectError(patched(bytes, at: run(1) + 16, width: 8, 1), .badField(offset: run(1)))
        expectError(patched(bytes, at: run(1) + 24, width: 8, 1), .badField(offset: run(1)))
        expectError(patched(bytes, at: run(1) + 31, width: 1, 0x80), .badField(offset: run(1)))
        // A noop run may be long.
        expectDecodes(patched(bytes, at: run(1) + 12, width: 4, 1000))
    }

    @Test("control runs must have count 1 and valid operands")
    func controlRuns() {
        let bytes = sample("commitSubmit")
        for i in [2, 3] {
            for count: UInt64 in [2, 3, UInt64(UInt32.max)] {
                expectError(patched(bytes, at: run(i) + 12, width: 4, count), .badField(offset: run(i)),
                            "run \(i) count \(count)")
            }
        }
        // checkpointInterval: interval ≥ 1, b = 0.
        expectError(patched(bytes, at: run(2) + 16, width: 8, 0), .badField(offset: run(2)))
        expectError(patched(bytes, at: run(2) + 24, width: 8, 1), .badField(offset: run(2)))
        expectDecodes(patched(bytes, at: run(2) + 16, width: 8, UInt64.max))
        // endOfStream: any sender, any last counter (0 included).
        expectDecodes(patched(bytes, at: run(3) + 24, width: 8, 0))
        expectDecodes(patched(bytes, at: run(3) + 24, width: 8, UInt64.max))
    }

    @Test("unknown run kinds are refused", arguments: [UInt8(4), 5, 0x7F, 0x80, 0xFF])
    func unknownRunKind(kind: UInt8) {
        let bytes = sample("commitSubmit")
        for i in 0..<4 {
            expectError(patched(bytes, at: run(i) + 8, width: 1, UInt64(kind)), .badField(offset: run(i)), "run \(i)")
        }
        // A run with count 0 is refused as bad-count before its kind is looked at.
        let empty = patched(bytes, at: run(0) + 12, width: 4, 0)
        expectError(patched(empty, at: run(0) + 8, width: 1, UInt64(kind)), .badCount(offset: run(0)))
    }

    // MARK: Data messages

    @Test("data: counter 0 and counter overflow")
    func dataCounters() {
        let bytes = sample("data")  // firstCounter 10, 3 bodies
        expectError(patched(bytes, at: 40, width: 8, 0), .badField(offset: 32))
        expectError(patched(bytes, at: 40, width: 8, UInt64.max - 2), .badField(offset: 32))
        expectError(patched(bytes, at: 40, width: 8, UInt64.max), .badField(offset: 32))
        expectDecodes(patched(bytes, at: 40, width: 8, UInt64.max - 3))
        // The same rules for a reply.
        expectError(patched(sample("messageReply"), at: 40, width: 8, 0), .badField(offset: 32))
    }

    @Test("data: fragment rules")
    func dataFragments() {
        let fragment = sample("data fragment")  // index 1 of 3
        expectError(patched(fragment, at: 58, width: 2, 3), .badField(offset: 58), "index == count")
        expectError(patched(fragment, at: 58, width: 2, 0xFFFF), .badField(offset: 58), "index > count")
        expectError(patched(fragment, at: 60, width: 2, 0), .badField(offset: 58), "fragment count 0")
        expectError(patched(fragment, at: 60, width: 2, 1), .badField(offset: 58), "index 1 of 1")
        expectDecodes(patched(fragment, at: 58, width: 2, 2), "last fragment")
        expectDecodes(patched(patched(fragment, at: 58, width: 2, 0xFFFE), at: 60, width: 2, 0xFFFF))
        // An unfragmented message with fragmentCount 0 is refused too.
        expectError(patched(sample("data"), at: 60, width: 2, 0), .badField(offset: 58))
        // Fragmented data must carry exactly one body.
        expectError(patched(sample("data"), at: 60, width: 2, 2), .badField(offset: 58), "3 bodies, 2 fragments")
    }

    @Test("data: a body length larger than what is left")
    func dataBodyLengths() {
        let bytes = sample("data")  // bodies at 64 (3 bytes), 71 (0 bytes), 75 (1 byte); 80 bytes
        expectError(patched(bytes, at: 64, width: 4, 13), .badCount(offset: 64))
        expectError(patched(bytes, at: 64, width: 4, UInt64(UInt32.max)), .badCount(offset: 64))
        expectError(patched(bytes, at: 75, width: 4, 2), .badCount(offset: 75))
        // A longer first body swallows the others: then the third length is missing.
        expectError(patched(bytes, at: 64, width: 4, 12), .truncated(offset: 80))
        // Fragment body.
        expectError(patched(sample("data fragment"), at: 64, width: 4, 5), .badCount(offset: 64))
    }

    // MARK: Other bodies

    @Test("checkpointChunk: index, count and length")
    func checkpointChunk() {
        let bytes = sample("checkpointChunk")  // index 1 of 2, totalBytes 10, 5 bytes
        expectError(patched(bytes, at: 56, width: 4, 2), .badCount(offset: 56), "index == count")
        expectError(patched(bytes, at: 56, width: 4, UInt64(UInt32.max)), .badCount(offset: 56))
        expectError(patched(bytes, at: 60, width: 4, 0), .badCount(offset: 56), "count 0")
        expectError(patched(bytes, at: 64, width: 4, 6), .badCount(offset: 64), "length > remaining")
        expectError(patched(bytes, at: 64, width: 4, UInt64(UInt32.max)), .badCount(offset: 64))
        expectError(patched(bytes, at: 40, width: 8, 4), .badCount(offset: 64), "length > totalBytes")
        expectDecodes(patched(bytes, at: 40, width: 8, 5), "length == totalBytes")
        expectDecodes(patched(bytes, at: 32, width: 8, 0), "terminalSeq 0 is not checked")
        expectError(patched(bytes, at: 64, width: 4, 4), .trailingBytes(count: 1))
    }

    @Test("heartbeat: checkpointSeq above committedThrough")
    func heartbeat() {
        let bytes = sample("heartbeat")  // committed 106, checkpoint 64
        expectError(patched(bytes, at: 40, width: 8, 107), .badField(offset: 40))
        expectError(patched(bytes, at: 40, width: 8, UInt64.max), .badField(offset: 40))
        expectDecodes(patched(bytes, at: 40, width: 8, 106))
        expectDecodes(patched(patched(bytes, at: 32, width: 8, 0), at: 40, width: 8, 0))
        expectError(patched(bytes, at: 32, width: 8, 0), .badField(offset: 40))
    }

    @Test("checkpointReport: terminalSeq 0")
    func checkpointReport() {
        expectError(patched(sample("checkpointReport"), at: 32, width: 8, 0), .badField(offset: 32))
    }

    @Test("idQuery: empty or overflowing ranges")
    func idQuery() {
        let bytes = sample("idQuery")  // firstSeq 100, count 7
        expectError(patched(bytes, at: 32, width: 8, 0), .badCount(offset: 32))
        expectError(patched(bytes, at: 40, width: 4, 0), .badCount(offset: 32))
        expectError(patched(bytes, at: 32, width: 8, UInt64.max - 6), .badCount(offset: 32))
        expectDecodes(patched(bytes, at: 32, width: 8, UInt64.max - 7))
    }

    @Test("messageFetch and fetchMiss: empty or overflowing ranges, bad reason")
    func fetches() {
        for name in ["messageFetch", "fetchMiss"] {
            let bytes = sample(name)
            let count = UInt64(bytes[48])  // small counts: 3 and 9
            expectError(patched(bytes, at: 40, width: 8, 0), .badCount(offset: 40), "\(name) counter 0")
            expectError(patched(bytes, at: 48, width: 4, 0), .badCount(offset: 40), "\(name) count 0")
            expectError(patched(bytes, at: 40, width: 8, UInt64.max - count + 1), .badCount(offset: 40), "\(name)")
            expectDecodes(patched(bytes, at: 40, width: 8, UInt64.max - count), "\(name)")
        }
        let miss = sample("fetchMiss")
        for reason: UInt64 in [2, 3, 0xFF] {
            expectError(patched(miss, at: 56, width: 1, reason), .badField(offset: 56), "reason \(reason)")
        }
        expectDecodes(patched(miss, at: 56, width: 1, 0))
    }

    @Test("dataReport: pendingCounter above heldThrough, or at or below committedThrough")
    func dataReportEntries() {
        // Entries at 40 (held 12, pending 11, committed 10) and 88 (0, 0, 0).
        let bytes = sample("dataReport")
        expectError(patched(bytes, at: 40 + 16, width: 8, 13), .badField(offset: 40 + 16))
        expectError(patched(bytes, at: 88 + 16, width: 8, 1), .badField(offset: 88 + 16))
        expectDecodes(patched(bytes, at: 40 + 16, width: 8, 12))
        expectDecodes(patched(bytes, at: 40 + 8, width: 8, UInt64.max))
        // A pending counter is the lowest one not seen committed: above committedThrough.
        expectError(patched(bytes, at: 40 + 40, width: 8, 11), .badField(offset: 40 + 40))
        expectError(patched(bytes, at: 40 + 40, width: 8, UInt64.max), .badField(offset: 40 + 40))
        // With no pending counter any committedThrough goes, also above what is held.
        expectDecodes(patched(bytes, at: 88 + 40, width: 8, UInt64.max))
        expectDecodes(patched(bytes, at: 40 + 40, width: 8, 0))
    }

    // MARK: Fuzz

    /// Decodes `bytes`; on success walks every view so lazy iteration is exercised too.
    private func fuzzOne(_ bytes: [UInt8], reasons: inout [String: Int]) {
        do {
            try withBytes(bytes) { (p) throws(DecodeError) in
                let d = try Datagram.decode(p)
                switch d.message {
                case .commitSubmit(let b), .commit(let b):
                    for run in b.runs { _ = run.lastSeq }
                case .idReply(let r):
                    for run in r.batch.runs { _ = run.lastSeq }
                default: break
                }
                _ = OwnedDatagram(d)
            }
            reasons["ok", default: 0] += 1
        } catch {
            #expect(!error.reason.isEmpty)
            reasons[error.reason, default: 0] += 1
        }
    }

    @Test("100,000 random buffers never trap")
    func fuzzRandom() {
        var rng = SplitMix64(seed: 0xF022)
        var reasons: [String: Int] = [:]
        for i in 0..<100_000 {
            var bytes = rng.bytes(rng.int(0...200))
            if i % 2 == 0 && bytes.count >= 8 {
                // A valid header prefix for a random kind; the length is right most of the time.
                patch(&bytes, at: 0, width: 4, UInt64(Header.magic))
                bytes[4] = Header.version
                bytes[5] = UInt8(rng.int(1...14))
                bytes[6] = rng.bool() ? 0 : 1
                bytes[7] = 0
                if bytes.count >= Header.byteCount && rng.next() % 8 != 0 { fixLength(&bytes) }
            }
            fuzzOne(bytes, reasons: &reasons)
        }
        #expect(reasons.values.reduce(0, +) == 100_000)
        // The structured half reaches the body decoders.
        for reason in ["truncated", "bad-magic", "length-mismatch", "bad-count", "bad-field", "trailing-bytes", "ok"] {
            #expect(reasons[reason, default: 0] > 0, "no \(reason) in \(reasons)")
        }
    }

    @Test("20,000 mutated valid datagrams never trap")
    func fuzzMutations() {
        var rng = SplitMix64(seed: 0x3117)
        var reasons: [String: Int] = [:]
        let samples = Samples.all.map { Samples.bytes($0.datagram) }
        for _ in 0..<20_000 {
            var bytes = samples[rng.int(0...(samples.count - 1))]
            for _ in 0..<rng.int(1...4) {
                let i = rng.int(Header.byteCount...(bytes.count - 1))
                switch rng.next() % 3 {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes[i] ^= 1 << UInt8(rng.int(0...7))
                default: bytes[i] = [0, 1, 0x7F, 0x80, 0xFF][rng.int(0...4)]
                }
            }
            if rng.next() % 4 == 0 { bytes = Array(bytes[..<rng.int(Header.byteCount...bytes.count)]) }
            fixLength(&bytes)
            fuzzOne(bytes, reasons: &reasons)
        }
        #expect(reasons["ok", default: 0] > 0)
        #expect(reasons["bad-field", default: 0] > 0)
    }

    @Test("every DecodeError has a distinct, non-empty reason")
    func reasons() {
        let all: [DecodeError] = [
            .truncated(offset: 0), .badMagic, .unsupportedVersion(2), .unknownKind(0),
            .lengthMismatch(declared: 1, actual: 2), .badCount(offset: 0), .badField(offset: 0), .trailingBytes(count: 1),
        ]
        for error in all { #expect(!error.reason.isEmpty) }
        #expect(Set(all.map(\.reason)).count == all.count)
    }
}
