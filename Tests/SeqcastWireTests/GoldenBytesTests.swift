import SeqcastWire
import Testing

// Golden datagrams: every expected byte string below is written by hand from the layout in
// WIRE.md (little-endian, field by field), never pasted from encoder output. Each test encodes
// fixed values, compares with the literal, then decodes the literal and checks every field.

/// The header all golden datagrams share: groupId 0x11223344, fingerprint 0x55667788,
/// epoch 0x0102030405060708, source 0xA1B2C3D4. `kind`, `flags` and `length` are given as hex text.
private func header(kind: String, flags: String = "00 00", length: String) -> String {
    "53 51 43 53"                   // magic "SQCS"
        + "04"                      // version
        + kind                      // kind
        + flags                     // flags
        + "44 33 22 11"             // groupId 0x11223344
        + "88 77 66 55"             // fingerprint 0x55667788
        + "08 07 06 05 04 03 02 01" // epoch 0x0102030405060708
        + "D4 C3 B2 A1"             // source 0xA1B2C3D4
        + length                    // whole datagram length
}

private func goldenHeader(_ kind: MessageKind, flags: UInt16 = 0) -> Header {
    Header(kind: kind, flags: flags, groupId: 0x1122_3344, fingerprint: 0x5566_7788, epoch: Epoch(0x0102_0304_0506_0708),
           source: NodeId(0xA1B2_C3D4))
}

private func encode(_ kind: MessageKind, flags: UInt16 = 0,
                    _ body: (inout WireWriter) throws(EncodeError) -> Void) throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0xEE, count: 1472)
    let n = try withMutableBytes(&buffer) { (b) throws(EncodeError) -> Int in
        try Datagram.encode(goldenHeader(kind, flags: flags), into: b, body: body)
    }
    return Array(buffer[..<n])
}

private func checkHeader(_ h: Header, _ kind: MessageKind, flags: UInt16 = 0, length: Int,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(h.kind == kind, sourceLocation: sourceLocation)
    #expect(h.flags == flags, sourceLocation: sourceLocation)
    #expect(h.groupId == 0x1122_3344, sourceLocation: sourceLocation)
    #expect(h.fingerprint == 0x5566_7788, sourceLocation: sourceLocation)
    #expect(h.epoch == Epoch(0x0102_0304_0506_0708), sourceLocation: sourceLocation)
    #expect(h.source == NodeId(0xA1B2_C3D4), sourceLocation: sourceLocation)
    #expect(h.length == UInt32(length), sourceLocation: sourceLocation)
}

private func expectBytes(_ actual: [UInt8], _ expected: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(hexString(actual) == hexString(expected), sourceLocation: sourceLocation)
}

@Suite("Golden bytes")
struct GoldenBytesTests {
    @Test("header constants match the documented layout")
    func headerConstants() {
        #expect(Header.byteCount == 32)
        #expect(Header.magic == 0x5343_5153)
        #expect(Header.version == 4)
        #expect(Header.flagRepair == 0x0001)
        #expect(Header.flagAuthTag == 0x0002)
        #expect(Header.flagsKnown == 0x0003)
        #expect(AuthTrailer.fixedByteCount == 24)
        #expect(AuthTrailer.byteCountMax == 56)
        #expect(SequenceRun.byteCount == 32)
        #expect(DataReport.Entry.byteCount == 48)
        #expect(DataMessage.fixedByteCount == 32)
        #expect(DataMessage.bodyOverhead == 4)
        #expect(RunBatch.fixedByteCount == 16)
        #expect(CheckpointChunk.fixedByteCount == 40)
        #expect(MessageKind.allCases.map(\.rawValue) == Array(1...17))
        #expect(RunBatch.runsMax(datagramBytes: 1472) == 44)
        #expect(DataReport.entriesMax(datagramBytes: 1472) == 29)
    }

    @Test("data with two bodies")
    func data() throws {
        let sender = SenderId(node: NodeId(0x0A0B_0C0D), incarnation: 0x0102_0304)
        let bytes = try encode(.data) { (w) throws(EncodeError) in
            _ = try DataMessage.encodeFixed(sender: sender, firstCounter: 0x1122_3344_5566_7788,
                                            logicalTs: SequenceNumber(0xDEAD_BEEF), count: 2, into: &w)
            try withBytes([0x68, 0x69]) { (p) throws(EncodeError) in
                try DataMessage.appendBody(p, into: &w)
            }
            try withBytes([0xFF, 0x00, 0x7F]) { (p) throws(EncodeError) in
                try DataMessage.appendBody(p, into: &w)
            }
        }
        let expected = hex(
            header(kind: "01", length: "4D 00 00 00"),  // 77 bytes
            "04 03 02 01 0D 0C 0B 0A",  // sender: node 0x0A0B0C0D, incarnation 0x01020304
            "88 77 66 55 44 33 22 11",  // firstCounter 0x1122334455667788
            "EF BE AD DE 00 00 00 00",  // logicalTs 0xDEADBEEF
            "02 00",                    // count 2
            "00 00",                    // fragmentIndex 0
            "01 00",                    // fragmentCount 1
            "00 00",                    // reserved
            "02 00 00 00", "68 69",     // body 0: "hi"
            "03 00 00 00", "FF 00 7F"   // body 1
        )
        expectBytes(bytes, expected)

        try withDecoded(expected) { d in
            checkHeader(d.header, .data, length: 77)
            guard case .data(let m) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(m.sender == sender)
            #expect(m.sender.node == NodeId(0x0A0B_0C0D))
            #expect(m.sender.incarnation == 0x0102_0304)
            #expect(m.firstCounter == 0x1122_3344_5566_7788)
            #expect(m.logicalTs == SequenceNumber(0xDEAD_BEEF))
            #expect(m.count == 2)
            #expect(m.fragmentIndex == 0)
            #expect(m.fragmentCount == 1)
            #expect(m.bodies.count == 2)
            #expect(m.bodies.map { Array($0) } == [[0x68, 0x69], [0xFF, 0x00, 0x7F]])
        }
    }

    @Test("data fragment")
    func dataFragment() throws {
        let sender = SenderId(node: NodeId(5), incarnation: 1)
        let bytes = try encode(.data) { (w) throws(EncodeError) in
            _ = try DataMessage.encodeFixed(sender: sender, firstCounter: 300, logicalTs: SequenceNumber(0x1234),
                                            count: 1, fragmentIndex: 2, fragmentCount: 3, into: &w)
            try withBytes([0xAA, 0xBB, 0xCC, 0xDD]) { (p) throws(EncodeError) in
                try DataMessage.appendBody(p, into: &w)
            }
        }
        let expected = hex(
            header(kind: "01", length: "48 00 00 00"),  // 72 bytes
            "01 00 00 00 05 00 00 00",  // sender: node 5, incarnation 1
            "2C 01 00 00 00 00 00 00",  // firstCounter 300
            "34 12 00 00 00 00 00 00",  // logicalTs 0x1234
            "01 00",                    // count 1
            "02 00",                    // fragmentIndex 2
            "03 00",                    // fragmentCount 3
            "00 00",                    // reserved
            "04 00 00 00", "AA BB CC DD"  // the fragment
        )
        expectBytes(bytes, expected)

        try withDecoded(expected) { d in
            checkHeader(d.header, .data, length: 72)
            guard case .data(let m) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(m.sender == sender)
            #expect(m.firstCounter == 300)
            #expect(m.logicalTs == SequenceNumber(0x1234))
            #expect(m.count == 1)
            #expect(m.fragmentIndex == 2)
            #expect(m.fragmentCount == 3)
            #expect(m.bodies.map { Array($0) } == [[0xAA, 0xBB, 0xCC, 0xDD]])
        }
    }

    @Test("dataReport")
    func dataReport() throws {
        let entries = [
            DataReport.Entry(sender: SenderId(node: NodeId(7), incarnation: 2), heldThrough: 0x0102,
                             pendingCounter: 0x0101, pendingTs: SequenceNumber(0),
                             aheadTs: SequenceNumber(0x1_0000_0000), committedThrough: 0x0100),
            DataReport.Entry(sender: SenderId(rawValue: .max), heldThrough: 1, pendingCounter: 1,
                             pendingTs: SequenceNumber(0x8000_0000_0000_0000),
                             aheadTs: SequenceNumber(0xFFFF_FFFF_FFFF_FFFE)),
        ]
        let bytes = try encode(.dataReport) { (w) throws(EncodeError) in try DataReport.encode(entries, into: &w) }
        let expected = hex(
            header(kind: "02", length: "88 00 00 00"),  // 136 bytes
            "02 00",                    // count 2
            "00 00 00 00 00 00",        // reserved
            // entry 0
            "02 00 00 00 07 00 00 00",  // sender: node 7, incarnation 2
            "02 01 00 00 00 00 00 00",  // heldThrough 0x0102
            "01 01 00 00 00 00 00 00",  // pendingCounter 0x0101
            "00 00 00 00 00 00 00 00",  // pendingTs 0
            "00 00 00 00 01 00 00 00",  // aheadTs 2^32
            "00 01 00 00 00 00 00 00",  // committedThrough 0x0100
            // entry 1
            "FF FF FF FF FF FF FF FF",  // sender 2^64-1
            "01 00 00 00 00 00 00 00",  // heldThrough 1
            "01 00 00 00 00 00 00 00",  // pendingCounter 1
            "00 00 00 00 00 00 00 80",  // pendingTs 2^63
            "FE FF FF FF FF FF FF FF",  // aheadTs 2^64-2
            "00 00 00 00 00 00 00 00"   // committedThrough 0
        )
        expectBytes(bytes, expected)

        try withDecoded(expected) { d in
            checkHeader(d.header, .dataReport, length: 136)
            guard case .dataReport(let r) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(r.entries.count == 2)
            let decoded = Array(r.entries)
            try #require(decoded.count == 2)
            #expect(decoded[0].sender == SenderId(node: NodeId(7), incarnation: 2))
            #expect(decoded[0].heldThrough == 0x0102)
            #expect(decoded[0].pendingCounter == 0x0101)
            #expect(decoded[0].pendingTs == SequenceNumber(0))
            #expect(decoded[0].aheadTs == SequenceNumber(0x1_0000_0000))
            #expect(decoded[0].committedThrough == 0x0100)
            #expect(decoded[1].sender == SenderId(rawValue: .max))
            #expect(decoded[1].heldThrough == 1)
            #expect(decoded[1].pendingCounter == 1)
            #expect(decoded[1].pendingTs == SequenceNumber(0x8000_0000_0000_0000))
            #expect(decoded[1].aheadTs == SequenceNumber(0xFFFF_FFFF_FFFF_FFFE))
            #expect(decoded[1].committedThrough == 0)
        }
    }

    static let submitSender = SenderId(node: NodeId(3), incarnation: 1)
    static let submitRuns: [SequenceRun] = [
        SequenceRun(firstSeq: SequenceNumber(101), count: 3, content: .messages(sender: submitSender, firstCounter: 10)),
        SequenceRun(firstSeq: SequenceNumber(104), count: 2, content: .noop),
        SequenceRun(firstSeq: SequenceNumber(106), count: 1, content: .checkpointInterval(1000)),
        SequenceRun(firstSeq: SequenceNumber(107), count: 1, content: .endOfStream(sender: submitSender, lastCounter: 12)),
    ]
    /// The hand-written 32 bytes of each run above.
    static let submitRunBytes: [String] = [
        "65 00 00 00 00 00 00 00"     // firstSeq 101
            + "00" + "00 00 00"       // run kind 0 (messages), reserved
            + "03 00 00 00"           // count 3
            + "01 00 00 00 03 00 00 00"  // a: sender node 3, incarnation 1
            + "0A 00 00 00 00 00 00 00", // b: firstCounter 10
        "68 00 00 00 00 00 00 00"     // firstSeq 104
            + "01" + "00 00 00"       // run kind 1 (noop), reserved
            + "02 00 00 00"           // count 2
            + "00 00 00 00 00 00 00 00"  // a: 0
            + "00 00 00 00 00 00 00 00", // b: 0
        "6A 00 00 00 00 00 00 00"     // firstSeq 106
            + "02" + "00 00 00"       // run kind 2 (checkpointInterval), reserved
            + "01 00 00 00"           // count 1
            + "E8 03 00 00 00 00 00 00"  // a: interval 1000
            + "00 00 00 00 00 00 00 00", // b: 0
        "6B 00 00 00 00 00 00 00"     // firstSeq 107
            + "03" + "00 00 00"       // run kind 3 (endOfStream), reserved
            + "01 00 00 00"           // count 1
            + "01 00 00 00 03 00 00 00"  // a: sender node 3, incarnation 1
            + "0C 00 00 00 00 00 00 00", // b: lastCounter 12
    ]

    @Test("commitSubmit with all four run kinds")
    func commitSubmit() throws {
        let bytes = try encode(.commitSubmit) { (w) throws(EncodeError) in
            try RunBatch.encode(committedThrough: SequenceNumber(100), runs: Self.submitRuns, into: &w)
        }
        let expected = hex(
            header(kind: "03", length: "B0 00 00 00"),  // 176 bytes
            "64 00 00 00 00 00 00 00",  // committedThrough 100
            "04 00",                    // count 4
            "00 00 00 00 00 00",        // reserved
            Self.submitRunBytes.joined()
        )
        expectBytes(bytes, expected)

        try withDecoded(expected) { d in
            checkHeader(d.header, .commitSubmit, length: 176)
            guard case .commitSubmit(let b) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(b.committedThrough == SequenceNumber(100))
            #expect(b.runs.count == 4)
            let runs = Array(b.runs)
            try #require(runs.count == 4)
            #expect(runs[0].firstSeq == SequenceNumber(101))
            #expect(runs[0].count == 3)
            #expect(runs[0].content == .messages(sender: Self.submitSender, firstCounter: 10))
            #expect(runs[1].firstSeq == SequenceNumber(104))
            #expect(runs[1].count == 2)
            #expect(runs[1].content == .noop)
            #expect(runs[2].firstSeq == SequenceNumber(106))
            #expect(runs[2].count == 1)
            #expect(runs[2].content == .checkpointInterval(1000))
            #expect(runs[3].firstSeq == SequenceNumber(107))
            #expect(runs[3].count == 1)
            #expect(runs[3].content == .endOfStream(sender: Self.submitSender, lastCounter: 12))
        }
    }

    @Test("commitSubmit with a single run of each kind", arguments: 0..<4)
    func commitSubmitSingleRun(index: Int) throws {
        let run = Self.submitRuns[index]
        let bytes = try encode(.commitSubmit) { (w) throws(EncodeError) in
            try RunBatch.encode(committedThrough: SequenceNumber(100), runs: [run], into: &w)
        }
        let expected = hex(
            header(kind: "03", length: "50 00 00 00"),  // 80 bytes
            "64 00 00 00 00 00 00 00",  // committedThrough 100
            "01 00",                    // count 1
            "00 00 00 00 00 00",        // reserved
            Self.submitRunBytes[index]
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .commitSubmit, length: 80)
            guard case .commitSubmit(let b) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(b.committedThrough == SequenceNumber(100))
            #expect(Array(b.runs) == [run])
        }
    }

    @Test("commitAck")
    func commitAck() throws {
        let bytes = try encode(.commitAck) { (w) throws(EncodeError) in
            try CommitAck(storedThrough: SequenceNumber(42)).encode(into: &w)
        }
        let expected = hex(
            header(kind: "04", length: "28 00 00 00"),  // 40 bytes
            "2A 00 00 00 00 00 00 00"   // storedThrough 42
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .commitAck, length: 40)
            guard case .commitAck(let a) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(a.storedThrough == SequenceNumber(42))
        }
    }

    @Test("commit")
    func commit() throws {
        let sender = SenderId(node: NodeId(9), incarnation: 4)
        let runs = [
            SequenceRun(firstSeq: SequenceNumber(0x0123_4567_89AB_CDEF), count: 0x1_0000,
                        content: .messages(sender: sender, firstCounter: 1)),
            SequenceRun(firstSeq: SequenceNumber(0x0123_4567_89AC_CDEF), count: 5, content: .noop),
        ]
        let bytes = try encode(.commit) { (w) throws(EncodeError) in
            try RunBatch.encode(committedThrough: SequenceNumber(0x0123_4567_89AB_CDEE), runs: runs, into: &w)
        }
        let expected = hex(
            header(kind: "05", length: "70 00 00 00"),  // 112 bytes
            "EE CD AB 89 67 45 23 01",  // committedThrough 0x0123456789ABCDEE
            "02 00",                    // count 2
            "00 00 00 00 00 00",        // reserved
            // run 0: messages
            "EF CD AB 89 67 45 23 01",  // firstSeq 0x0123456789ABCDEF
            "00", "00 00 00",           // run kind 0, reserved
            "00 00 01 00",              // count 65536
            "04 00 00 00 09 00 00 00",  // sender node 9, incarnation 4
            "01 00 00 00 00 00 00 00",  // firstCounter 1
            // run 1: noop
            "EF CD AC 89 67 45 23 01",  // firstSeq 0x0123456789ACCDEF
            "01", "00 00 00",           // run kind 1, reserved
            "05 00 00 00",              // count 5
            "00 00 00 00 00 00 00 00",  // a
            "00 00 00 00 00 00 00 00"   // b
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .commit, length: 112)
            guard case .commit(let b) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(b.committedThrough == SequenceNumber(0x0123_4567_89AB_CDEE))
            let decoded = Array(b.runs)
            try #require(decoded.count == 2)
            #expect(decoded[0].firstSeq == SequenceNumber(0x0123_4567_89AB_CDEF))
            #expect(decoded[0].count == 65536)
            #expect(decoded[0].content == .messages(sender: sender, firstCounter: 1))
            #expect(decoded[0].lastSeq == SequenceNumber(0x0123_4567_89AC_CDEE))
            #expect(decoded[1].firstSeq == SequenceNumber(0x0123_4567_89AC_CDEF))
            #expect(decoded[1].count == 5)
            #expect(decoded[1].content == .noop)
        }
    }

    @Test("heartbeat")
    func heartbeat() throws {
        let bytes = try encode(.heartbeat) { (w) throws(EncodeError) in
            try Heartbeat(committedThrough: SequenceNumber(500), checkpointSeq: SequenceNumber(480),
                          checkpointBytes: 1 << 32).encode(into: &w)
        }
        let expected = hex(
            header(kind: "06", length: "38 00 00 00"),  // 56 bytes
            "F4 01 00 00 00 00 00 00",  // committedThrough 500
            "E0 01 00 00 00 00 00 00",  // checkpointSeq 480
            "00 00 00 00 01 00 00 00"   // checkpointBytes 2^32
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .heartbeat, length: 56)
            guard case .heartbeat(let h) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(h.committedThrough == SequenceNumber(500))
            #expect(h.checkpointSeq == SequenceNumber(480))
            #expect(h.checkpointBytes == 1 << 32)
        }
    }

    @Test("checkpointReport")
    func checkpointReport() throws {
        let bytes = try encode(.checkpointReport) { (w) throws(EncodeError) in
            try CheckpointReport(terminalSeq: SequenceNumber(480), byteCount: 4096,
                                 digest: 0xCAFE_BABE_DEAD_BEEF).encode(into: &w)
        }
        let expected = hex(
            header(kind: "07", length: "38 00 00 00"),  // 56 bytes
            "E0 01 00 00 00 00 00 00",  // terminalSeq 480
            "00 10 00 00 00 00 00 00",  // byteCount 4096
            "EF BE AD DE BE BA FE CA"   // digest 0xCAFEBABEDEADBEEF
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .checkpointReport, length: 56)
            guard case .checkpointReport(let c) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(c.terminalSeq == SequenceNumber(480))
            #expect(c.byteCount == 4096)
            #expect(c.digest == 0xCAFE_BABE_DEAD_BEEF)
        }
    }

    @Test("idQuery")
    func idQuery() throws {
        let bytes = try encode(.idQuery) { (w) throws(EncodeError) in
            try IdQuery(firstSeq: SequenceNumber(77), count: 9).encode(into: &w)
        }
        let expected = hex(
            header(kind: "08", length: "30 00 00 00"),  // 48 bytes
            "4D 00 00 00 00 00 00 00",  // firstSeq 77
            "09 00 00 00",              // count 9
            "00 00 00 00"               // reserved
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .idQuery, length: 48)
            guard case .idQuery(let q) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(q.firstSeq == SequenceNumber(77))
            #expect(q.count == 9)
        }
    }

    @Test("idReply")
    func idReply() throws {
        let sender = SenderId(node: NodeId(2), incarnation: 1)
        let run = SequenceRun(firstSeq: SequenceNumber(77), count: 9, content: .messages(sender: sender, firstCounter: 5))
        let bytes = try encode(.idReply) { (w) throws(EncodeError) in
            try IdReply.encode(lowWater: SequenceNumber(10), committedThrough: SequenceNumber(90), runs: [run],
                               into: &w)
        }
        let expected = hex(
            header(kind: "09", length: "58 00 00 00"),  // 88 bytes
            "0A 00 00 00 00 00 00 00",  // lowWater 10
            "5A 00 00 00 00 00 00 00",  // committedThrough 90
            "01 00",                    // count 1
            "00 00 00 00 00 00",        // reserved
            "4D 00 00 00 00 00 00 00",  // run firstSeq 77
            "00", "00 00 00",           // run kind 0 (messages), reserved
            "09 00 00 00",              // count 9
            "01 00 00 00 02 00 00 00",  // sender node 2, incarnation 1
            "05 00 00 00 00 00 00 00"   // firstCounter 5
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .idReply, length: 88)
            guard case .idReply(let r) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(r.lowWater == SequenceNumber(10))
            #expect(r.batch.committedThrough == SequenceNumber(90))
            let runs = Array(r.batch.runs)
            try #require(runs.count == 1)
            #expect(runs[0].firstSeq == SequenceNumber(77))
            #expect(runs[0].count == 9)
            #expect(runs[0].content == .messages(sender: sender, firstCounter: 5))
            #expect(runs[0].messageId(at: SequenceNumber(80)) == MessageId(sender: sender, counter: 8))
        }
    }

    @Test("seal")
    func seal() throws {
        let bytes = try encode(.seal) { (w) throws(EncodeError) in
            try Seal(fromSeq: SequenceNumber(300), nonce: 0x1122_3344_5566_7788).encode(into: &w)
        }
        let expected = hex(
            header(kind: "0F", length: "30 00 00 00"),  // 48 bytes
            "2C 01 00 00 00 00 00 00",  // fromSeq 300
            "88 77 66 55 44 33 22 11"   // nonce
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .seal, length: 48)
            guard case .seal(let s) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(s.fromSeq == SequenceNumber(300))
            #expect(s.nonce == 0x1122_3344_5566_7788)
        }
    }

    @Test("nodeClaim")
    func nodeClaim() throws {
        let bytes = try encode(.nodeClaim) { (w) throws(EncodeError) in
            try NodeClaim(startedAt: 0x1122_3344_5566_7788, nonce: 0x0102, inUse: true).encode(into: &w)
        }
        let expected = hex(
            header(kind: "11", length: "38 00 00 00"),  // 56 bytes
            "88 77 66 55 44 33 22 11",  // startedAt
            "02 01 00 00 00 00 00 00",  // nonce 0x0102
            "01",                       // inUse
            "00 00 00 00 00 00 00"      // reserved
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .nodeClaim, length: 56)
            guard case .nodeClaim(let c) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(c == NodeClaim(startedAt: 0x1122_3344_5566_7788, nonce: 0x0102, inUse: true))
        }
    }

    @Test("sealReply")
    func sealReply() throws {
        let run = SequenceRun(firstSeq: SequenceNumber(77), count: 9, content: .noop)
        let epoch = Epoch(round: 2, candidate: 1)
        let bytes = try encode(.sealReply) { (w) throws(EncodeError) in
            try SealReply.encode(lowWater: SequenceNumber(10), storedThrough: SequenceNumber(120),
                                 pageThrough: SequenceNumber(100), runsEpoch: epoch, nonce: 0x0102,
                                 committedThrough: SequenceNumber(90), runs: [run], into: &w)
        }
        let expected = hex(
            header(kind: "10", length: "78 00 00 00"),  // 120 bytes
            "0A 00 00 00 00 00 00 00",  // lowWater 10
            "78 00 00 00 00 00 00 00",  // storedThrough 120
            "64 00 00 00 00 00 00 00",  // pageThrough 100
            "01 00 02 00 00 00 00 00",  // runsEpoch: candidate 1, round 2
            "02 01 00 00 00 00 00 00",  // nonce 0x0102
            "5A 00 00 00 00 00 00 00",  // committedThrough 90
            "01 00",                    // count 1
            "00 00 00 00 00 00",        // reserved
            "4D 00 00 00 00 00 00 00",  // run firstSeq 77
            "01", "00 00 00",           // run kind 1 (noop), reserved
            "09 00 00 00",              // count 9
            "00 00 00 00 00 00 00 00",  // a
            "00 00 00 00 00 00 00 00"   // b
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .sealReply, length: 120)
            guard case .sealReply(let r) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(r.lowWater == SequenceNumber(10))
            #expect(r.storedThrough == SequenceNumber(120))
            #expect(r.pageThrough == SequenceNumber(100))
            #expect(r.runsEpoch == epoch)
            #expect(r.runsEpoch.round == 2 && r.runsEpoch.candidate == 1)
            #expect(r.nonce == 0x0102)
            #expect(r.batch.committedThrough == SequenceNumber(90))
            #expect(Array(r.batch.runs) == [run])
        }
        // A page beyond what the server stored, or a run beyond its page, is refused.
        var beyond = expected
        beyond[32 + 16] = 0x79  // pageThrough 121 > storedThrough 120
        #expect(decodeError(beyond) == .badField(offset: 48))
        var runBeyond = expected
        runBeyond[32 + 16] = 0x50  // pageThrough 80 < the run's last number 85
        #expect(decodeError(runBeyond) == .badField(offset: 48))
    }

    @Test("messageFetch")
    func messageFetch() throws {
        let sender = SenderId(node: NodeId(4), incarnation: 7)
        let bytes = try encode(.messageFetch) { (w) throws(EncodeError) in
            try MessageFetch(sender: sender, firstCounter: 20, count: 3).encode(into: &w)
        }
        let expected = hex(
            header(kind: "0A", length: "38 00 00 00"),  // 56 bytes
            "07 00 00 00 04 00 00 00",  // sender node 4, incarnation 7
            "14 00 00 00 00 00 00 00",  // firstCounter 20
            "03 00 00 00",              // count 3
            "00 00 00 00"               // reserved
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .messageFetch, length: 56)
            guard case .messageFetch(let f) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(f.sender == sender)
            #expect(f.firstCounter == 20)
            #expect(f.count == 3)
        }
    }

    @Test("messageReply with the repair flag")
    func messageReply() throws {
        let sender = SenderId(node: NodeId(4), incarnation: 7)
        let bytes = try encode(.messageReply, flags: Header.flagRepair) { (w) throws(EncodeError) in
            _ = try DataMessage.encodeFixed(sender: sender, firstCounter: 20, logicalTs: SequenceNumber(15), count: 1,
                                            into: &w)
            try withBytes([1, 2, 3]) { (p) throws(EncodeError) in try DataMessage.appendBody(p, into: &w) }
        }
        let expected = hex(
            header(kind: "0B", flags: "01 00", length: "47 00 00 00"),  // repair; 71 bytes
            "07 00 00 00 04 00 00 00",  // sender node 4, incarnation 7
            "14 00 00 00 00 00 00 00",  // firstCounter 20
            "0F 00 00 00 00 00 00 00",  // logicalTs 15
            "01 00",                    // count 1
            "00 00",                    // fragmentIndex 0
            "01 00",                    // fragmentCount 1
            "00 00",                    // reserved
            "03 00 00 00", "01 02 03"   // body
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .messageReply, flags: Header.flagRepair, length: 71)
            guard case .messageReply(let m) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(m.sender == sender)
            #expect(m.firstCounter == 20)
            #expect(m.logicalTs == SequenceNumber(15))
            #expect(m.count == 1)
            #expect(m.fragmentIndex == 0)
            #expect(m.fragmentCount == 1)
            #expect(m.bodies.map { Array($0) } == [[1, 2, 3]])
        }
    }

    @Test("fetchMiss")
    func fetchMiss() throws {
        let sender = SenderId(node: NodeId(4), incarnation: 7)
        let bytes = try encode(.fetchMiss) { (w) throws(EncodeError) in
            try FetchMiss(sender: sender, firstCounter: 1, count: .max, reason: .collected,
                          checkpointSeq: SequenceNumber(0x400)).encode(into: &w)
        }
        let expected = hex(
            header(kind: "0C", length: "48 00 00 00"),  // 72 bytes
            "07 00 00 00 04 00 00 00",  // sender node 4, incarnation 7
            "01 00 00 00 00 00 00 00",  // firstCounter 1
            "FF FF FF FF",              // count 2^32-1
            "00 00 00 00",              // reserved
            "01",                       // reason collected
            "00 00 00 00 00 00 00",     // reserved
            "00 04 00 00 00 00 00 00"   // checkpointSeq 0x400
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .fetchMiss, length: 72)
            guard case .fetchMiss(let f) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(f.sender == sender)
            #expect(f.firstCounter == 1)
            #expect(f.count == .max)
            #expect(f.reason == .collected)
            #expect(f.checkpointSeq == SequenceNumber(0x400))
        }
    }

    @Test("checkpointFetch")
    func checkpointFetch() throws {
        let bytes = try encode(.checkpointFetch) { (w) throws(EncodeError) in
            try CheckpointFetch(terminalSeq: SequenceNumber(0), firstChunk: 0x0506_0708).encode(into: &w)
        }
        let expected = hex(
            header(kind: "0D", length: "30 00 00 00"),  // 48 bytes
            "00 00 00 00 00 00 00 00",  // terminalSeq 0 (latest)
            "08 07 06 05",              // firstChunk 0x05060708
            "00 00 00 00"               // reserved
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .checkpointFetch, length: 48)
            guard case .checkpointFetch(let f) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(f.terminalSeq == SequenceNumber(0))
            #expect(f.firstChunk == 0x0506_0708)
        }
    }

    @Test("checkpointChunk")
    func checkpointChunk() throws {
        let bytes = try encode(.checkpointChunk) { (w) throws(EncodeError) in
            try withBytes([0x10, 0x20, 0x30, 0x40, 0x50]) { (p) throws(EncodeError) in
                try CheckpointChunk.encode(terminalSeq: SequenceNumber(480), totalBytes: 10,
                                           digest: 0x0102_0304_0506_0708, chunkIndex: 1, chunkCount: 2, bytes: p,
                                           into: &w)
            }
        }
        let expected = hex(
            header(kind: "0E", length: "4D 00 00 00"),  // 77 bytes
            "E0 01 00 00 00 00 00 00",  // terminalSeq 480
            "0A 00 00 00 00 00 00 00",  // totalBytes 10
            "08 07 06 05 04 03 02 01",  // digest 0x0102030405060708
            "01 00 00 00",              // chunkIndex 1
            "02 00 00 00",              // chunkCount 2
            "05 00 00 00",              // length 5
            "00 00 00 00",              // reserved
            "10 20 30 40 50"            // bytes
        )
        expectBytes(bytes, expected)
        try withDecoded(expected) { d in
            checkHeader(d.header, .checkpointChunk, length: 77)
            guard case .checkpointChunk(let c) = d.message else { Issue.record("wrong message \(d.message)"); return }
            #expect(c.terminalSeq == SequenceNumber(480))
            #expect(c.totalBytes == 10)
            #expect(c.digest == 0x0102_0304_0506_0708)
            #expect(c.chunkIndex == 1)
            #expect(c.chunkCount == 2)
            #expect(Array(c.bytes) == [0x10, 0x20, 0x30, 0x40, 0x50])
        }
    }
}
