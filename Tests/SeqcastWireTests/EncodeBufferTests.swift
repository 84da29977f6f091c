import SeqcastWire
import Testing

// Encoding into caller buffers: a buffer too small for the datagram must give
// `EncodeError.bufferTooSmall` (never a trap, never a write past the end), list capacities must
// match what really fits, and the encoder must refuse the values it documents as invalid.

/// Encodes `datagram` into the first `size` bytes of a larger buffer and checks that the bytes
/// after `size` are untouched. Returns the datagram's bytes or the error.
private func encode(_ datagram: OwnedDatagram, size: Int) -> Result<[UInt8], EncodeError> {
    let guardBytes = 16
    var buffer = [UInt8](repeating: 0xA5, count: size + guardBytes)
    let result = withMutableBytes(&buffer) { (all) -> Result<Int, EncodeError> in
        Result { () throws(EncodeError) -> Int in
            try Datagram.encode(datagram.header, into: UnsafeMutableRawBufferPointer(rebasing: all[..<size])) {
                (w) throws(EncodeError) in try datagram.message.encode(into: &w)
            }
        }
    }
    #expect(buffer[size...].allSatisfy { $0 == 0xA5 }, "encoder wrote past a \(size)-byte buffer")
    return result.map { Array(buffer[..<$0]) }
}

private func expectTooSmall(_ datagram: OwnedDatagram, size: Int, fullSize: Int, _ comment: Comment? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation) {
    switch encode(datagram, size: size) {
    case .success(let bytes):
        Issue.record("encoded \(bytes.count) bytes into a \(size)-byte buffer", sourceLocation: sourceLocation)
    case .failure(.bufferTooSmall(let needed, let available)):
        #expect(available == size, comment, sourceLocation: sourceLocation)
        #expect(needed > size && needed <= fullSize, comment, sourceLocation: sourceLocation)
    case .failure(let other):
        Issue.record("expected bufferTooSmall, got \(other)", sourceLocation: sourceLocation)
    }
}

private func runs(_ n: Int) -> [SequenceRun] {
    (0..<n).map { SequenceRun(firstSeq: SequenceNumber(UInt64(1 + $0)), count: 1, content: .noop) }
}

private func entries(_ n: Int) -> [DataReport.Entry] {
    (0..<n).map { DataReport.Entry(sender: SenderId(rawValue: UInt64($0)), heldThrough: 1, pendingCounter: 1,
                                   pendingTs: SequenceNumber(1), aheadTs: SequenceNumber(0)) }
}

/// The EncodeError thrown while encoding `message` into a 1472-byte buffer, if any.
private func encodeError(_ message: OwnedMessage, flags: UInt16 = 0) -> EncodeError? {
    do {
        _ = try OwnedDatagram(message, flags: flags).encoded()
        return nil
    } catch {
        return error
    }
}

@Suite("Encoding into caller buffers")
struct EncodeBufferTests {
    @Test("every buffer size below the datagram's throws bufferTooSmall", arguments: Samples.all.map(\.name))
    func everySize(name: String) throws {
        let datagram = try #require(Samples.all.first { $0.name == name }).datagram
        let full = Samples.bytes(datagram)
        for size in 0..<full.count {
            expectTooSmall(datagram, size: size, fullSize: full.count, "\(name) into \(size) bytes")
        }
        #expect(try encode(datagram, size: full.count).get() == full)
        #expect(try encode(datagram, size: full.count + 1).get() == full)
    }

    @Test("large random datagrams into small buffers", arguments: MessageKind.allCases)
    func largeRandom(kind: MessageKind) throws {
        var gen = MessageGenerator(seed: 0x5A11 + UInt64(kind.rawValue))
        var rng = SplitMix64(seed: UInt64(kind.rawValue))
        for _ in 0..<10 {
            let datagram = gen.datagram(kind, capacity: 64 * 1024)
            let size = documentedSize(datagram.message)
            for small in [0, 1, 31, 32, 33, size / 2, size - 1] + (0..<5).map({ _ in rng.int(0...(size - 1)) }) {
                expectTooSmall(datagram, size: small, fullSize: size)
            }
            #expect(try encode(datagram, size: size).get().count == size)
        }
    }

    @Test("runsMax and entriesMax are the most that fit a 1472-byte datagram")
    func capacities() throws {
        let runsMax = RunBatch.runsMax(datagramBytes: 1472)
        let entriesMax = DataReport.entriesMax(datagramBytes: 1472)
        #expect(runsMax == 44)
        #expect(entriesMax == 29)

        let commit = OwnedDatagram(.commit(committedThrough: SequenceNumber(1), runs: runs(runsMax)))
        #expect(try encode(commit, size: 1472).get().count == 32 + 16 + 32 * runsMax)
        let commitOver = OwnedDatagram(.commit(committedThrough: SequenceNumber(1), runs: runs(runsMax + 1)))
        expectTooSmall(commitOver, size: 1472, fullSize: 32 + 16 + 32 * (runsMax + 1))

        let report = OwnedDatagram(.dataReport(entries(entriesMax)))
        #expect(try encode(report, size: 1472).get().count == 32 + 8 + 48 * entriesMax)
        let reportOver = OwnedDatagram(.dataReport(entries(entriesMax + 1)))
        expectTooSmall(reportOver, size: 1472, fullSize: 32 + 8 + 48 * (entriesMax + 1))

        // An idReply has 8 more fixed bytes: runsMax happens to fit at 1472 ...
        let reply = OwnedDatagram(.idReply(lowWater: SequenceNumber(0), committedThrough: SequenceNumber(1),
                                           runs: runs(runsMax)))
        #expect(try encode(reply, size: 1472).get().count == 32 + 24 + 32 * runsMax)
        // ... but not for every size: at 80 bytes runsMax is 1 and an idReply holds none.
        #expect(RunBatch.runsMax(datagramBytes: 80) == 1)
        let reply80 = OwnedDatagram(.idReply(lowWater: SequenceNumber(0), committedThrough: SequenceNumber(1),
                                             runs: runs(1)))
        expectTooSmall(reply80, size: 80, fullSize: 88)
    }

    @Test("the encoder refuses the values it documents as invalid")
    func invalidFields() {
        let sender = SenderId(rawValue: 1)
        func isInvalid(_ error: EncodeError?) -> Bool {
            if case .invalidField = error { return true }
            return false
        }
        #expect(isInvalid(encodeError(.data(OwnedData(sender: sender, firstCounter: 0, logicalTs: .zero, bodies: [[]])))))
        #expect(isInvalid(encodeError(.data(OwnedData(sender: sender, firstCounter: 1, logicalTs: .zero,
                                                      fragmentIndex: 2, fragmentCount: 2, bodies: [[]])))))
        #expect(isInvalid(encodeError(.data(OwnedData(sender: sender, firstCounter: 1, logicalTs: .zero,
                                                      fragmentIndex: 0, fragmentCount: 0, bodies: [[]])))))
        #expect(isInvalid(encodeError(.dataReport([]))))
        #expect(isInvalid(encodeError(.dataReport([DataReport.Entry(sender: sender, heldThrough: 3, pendingCounter: 4,
                                                                     pendingTs: .zero, aheadTs: .zero)]))))
        #expect(isInvalid(encodeError(.commit(committedThrough: .zero,
                                              runs: [SequenceRun(firstSeq: SequenceNumber(1), count: 0, content: .noop)]))))
        #expect(isInvalid(encodeError(.idQuery(IdQuery(firstSeq: .zero, count: 1)))))
        #expect(isInvalid(encodeError(.idQuery(IdQuery(firstSeq: SequenceNumber(1), count: 0)))))
        #expect(isInvalid(encodeError(.messageFetch(MessageFetch(sender: sender, firstCounter: 0, count: 1)))))
        #expect(isInvalid(encodeError(.messageFetch(MessageFetch(sender: sender, firstCounter: 1, count: 0)))))
        #expect(isInvalid(encodeError(.fetchMiss(FetchMiss(sender: sender, firstCounter: 1, count: 0, reason: .notHeld,
                                                           checkpointSeq: .zero)))))
        #expect(isInvalid(encodeError(.checkpointChunk(OwnedChunk(terminalSeq: .zero, totalBytes: 0, digest: 0,
                                                                  chunkIndex: 2, chunkCount: 2, bytes: [])))))
        #expect(isInvalid(encodeError(.checkpointChunk(OwnedChunk(terminalSeq: .zero, totalBytes: 0, digest: 0,
                                                                  chunkIndex: 0, chunkCount: 0, bytes: [])))))
        // Lists longer than a u16 count can say, even into a buffer big enough for the prefix.
        #expect(isInvalid(encodeError(.commit(committedThrough: .zero, runs: runs(65536)))))
        #expect(isInvalid(encodeError(.dataReport(entries(65536)))))
    }

    @Test("a checkpoint chunk over 4 GiB is refused, not trapped on")
    func hugeChunk() {
        // Never dereferenced: the length is checked before any byte is read.
        let huge = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: 0x1000), count: Int(UInt32.max) + 1)
        var buffer = [UInt8](repeating: 0, count: 1472)
        let result = withMutableBytes(&buffer) { (b) -> Result<Int, EncodeError> in
            Result { () throws(EncodeError) -> Int in
                try Datagram.encode(Header(kind: .checkpointChunk, groupId: 1, epoch: Epoch(1), source: NodeId(1)),
                                    into: b) { (w) throws(EncodeError) in
                    try CheckpointChunk.encode(terminalSeq: SequenceNumber(1), totalBytes: .max, digest: 0,
                                               chunkIndex: 0, chunkCount: 1, bytes: huge, into: &w)
                }
            }
        }
        guard case .failure(let error) = result else {
            Issue.record("encoded a 4 GiB chunk")
            return
        }
        if case .invalidField = error {} else { Issue.record("expected invalidField, got \(error)") }
    }

    /// Values the decoder refuses must be refused by the encoder too, so nothing we send is
    /// silently dropped by every receiver.
    @Test("the encoder refuses every value the decoder refuses")
    func encoderRefusesWhatDecoderRefuses() throws {
        let sender = SenderId(rawValue: 1)
        let gaps: [(String, OwnedDatagram)] = [
            ("unknown flag bit", OwnedDatagram(.commitAck(CommitAck(storedThrough: .zero)), flags: 1 << 2)),
            ("run firstSeq 0", OwnedDatagram(.commit(committedThrough: .zero, runs: [
                SequenceRun(firstSeq: .zero, count: 1, content: .noop)]))),
            ("run number overflow", OwnedDatagram(.commit(committedThrough: .zero, runs: [
                SequenceRun(firstSeq: SequenceNumber(.max), count: 1, content: .noop)]))),
            ("message run counter 0", OwnedDatagram(.commit(committedThrough: .zero, runs: [
                SequenceRun(firstSeq: SequenceNumber(1), count: 1, content: .messages(sender: sender, firstCounter: 0))]))),
            ("checkpointInterval count 2", OwnedDatagram(.commit(committedThrough: .zero, runs: [
                SequenceRun(firstSeq: SequenceNumber(1), count: 2, content: .checkpointInterval(5))]))),
            ("checkpointInterval(0)", OwnedDatagram(.commit(committedThrough: .zero, runs: [
                SequenceRun(firstSeq: SequenceNumber(1), count: 1, content: .checkpointInterval(0))]))),
            ("endOfStream count 2", OwnedDatagram(.commit(committedThrough: .zero, runs: [
                SequenceRun(firstSeq: SequenceNumber(1), count: 2, content: .endOfStream(sender: sender, lastCounter: 1))]))),
            ("heartbeat checkpoint above committed", OwnedDatagram(.heartbeat(Heartbeat(
                committedThrough: SequenceNumber(1), checkpointSeq: SequenceNumber(2), checkpointBytes: 0)))),
            ("checkpointReport terminal 0", OwnedDatagram(.checkpointReport(CheckpointReport(
                terminalSeq: .zero, byteCount: 0, digest: 0)))),
            ("idQuery overflow", OwnedDatagram(.idQuery(IdQuery(firstSeq: SequenceNumber(.max), count: 1)))),
            ("messageFetch overflow", OwnedDatagram(.messageFetch(MessageFetch(sender: sender, firstCounter: .max,
                                                                               count: 1)))),
            ("data with no bodies", OwnedDatagram(.data(OwnedData(sender: sender, firstCounter: 1, logicalTs: .zero,
                                                                  bodies: [])))),
            ("fragment with two bodies", OwnedDatagram(.data(OwnedData(
                sender: sender, firstCounter: 1, logicalTs: .zero, fragmentIndex: 0, fragmentCount: 2, bodies: [[], []])))),
            ("data counter overflow", OwnedDatagram(.data(OwnedData(sender: sender, firstCounter: .max,
                                                                    logicalTs: .zero, bodies: [[]])))),
            ("chunk longer than totalBytes", OwnedDatagram(.checkpointChunk(OwnedChunk(
                terminalSeq: .zero, totalBytes: 1, digest: 0, chunkIndex: 0, chunkCount: 1, bytes: [1, 2])))),
        ]
        for (name, datagram) in gaps {
            var refused = false
            do {
                _ = try datagram.encoded()
            } catch {
                if case .invalidField = error { refused = true }
            }
            #expect(refused, "encoder accepts: \(name)")
        }
    }
}
