import SeqcastWire

/// A checkpoint server's checkpoints (claims 13, 14, 16): the latest two (so one is always
/// whole while the next is written, protocol.md 4.11), reported to the sequencer periodically
/// and served in chunks to joiners.
struct CheckpointStore {
    struct Checkpoint {
        var terminalSeq: SequenceNumber
        var bytes: [UInt8]
        var digest: UInt64
    }
    var kept: [Checkpoint] = []
    var reportAt: Instant?

    init(reportAt: Instant) { self.reportAt = reportAt }

    var latest: Checkpoint? { kept.last }

    mutating func keep(terminalSeq: SequenceNumber, bytes: [UInt8], stateDigest: UInt64) {
        guard terminalSeq > (latest?.terminalSeq ?? .zero) else { return }
        let digest = bytes.withUnsafeBytes { Digest.of($0) }
        kept.append(Checkpoint(terminalSeq: terminalSeq, bytes: bytes, digest: digest))
        if kept.count > 2 { kept.removeFirst() }
    }

    func checkpoint(_ terminalSeq: SequenceNumber) -> Checkpoint? {
        terminalSeq == .zero ? latest : kept.first { $0.terminalSeq == terminalSeq } ?? latest
    }
}

extension Member {
    /// Takes a checkpoint between two deliveries (claim 13): the rule "every number divisible
    /// by N" is evaluated on the ordered stream, so every checkpoint server cuts at the same
    /// numbers without exchanging a message.
    mutating func takeCheckpoint(at seq: SequenceNumber) {
        let delivered = deliveredCounter.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let ended = endedStreams.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let image = CheckpointImage(terminalSeq: seq, interval: checkpointInterval, delivered: delivered, ended: ended,
                                    snapshot: app.snapshot())
        let bytes = image.encode()
        checkpoints!.keep(terminalSeq: seq, bytes: bytes, stateDigest: app.stateDigest)
        let digest = checkpoints!.latest!.digest
        output.events.append(.checkpointTaken(terminalSeq: seq, byteCount: bytes.count, digest: digest,
                                              stateDigest: app.stateDigest))
    }

    mutating func pollCheckpointReport(now: Instant) {
        guard var store = checkpoints, let at = store.reportAt, at <= now else { return }
        store.reportAt = now + config.timing.checkpointReportInterval
        checkpoints = store
        guard let latest = store.latest else { return }
        let report = CheckpointReport(terminalSeq: latest.terminalSeq, byteCount: UInt64(latest.bytes.count),
                                      digest: latest.digest)
        output.outbox.send(to: .node(config.sequencer), header: header(.checkpointReport)) {
            w throws(EncodeError) in try report.encode(into: &w)
        }
    }

    /// Sends up to eight chunks of the asked-for checkpoint (or the latest) from `firstChunk`,
    /// or an empty chunk with terminal number 0 when there is no checkpoint yet.
    mutating func serveCheckpoint(_ f: CheckpointFetch, to requester: PeerAddress) {
        output.counters.repairsServed &+= 1
        let h = header(.checkpointChunk)
        guard let c = checkpoints?.checkpoint(f.terminalSeq) else {
            output.outbox.send(to: .address(requester), header: h) { w throws(EncodeError) in
                try CheckpointChunk.encode(terminalSeq: .zero, totalBytes: 0, digest: 0, chunkIndex: 0, chunkCount: 1,
                                           bytes: UnsafeRawBufferPointer(start: nil, count: 0), into: &w)
            }
            return
        }
        let size = config.limits.checkpointChunkBytes
        let chunkCount = max(1, (c.bytes.count + size - 1) / size)
        let first = c.terminalSeq == f.terminalSeq ? Int(f.firstChunk) : 0
        guard first < chunkCount else { return }
        for i in first..<min(chunkCount, first + 8) {
            let range = (i * size)..<min(c.bytes.count, (i + 1) * size)
            c.bytes.withUnsafeBytes { all in
                let piece = UnsafeRawBufferPointer(rebasing: all[range])
                output.outbox.send(to: .address(requester), header: h) { w throws(EncodeError) in
                    try CheckpointChunk.encode(terminalSeq: c.terminalSeq, totalBytes: UInt64(c.bytes.count),
                                               digest: c.digest, chunkIndex: UInt32(i), chunkCount: UInt32(chunkCount),
                                               bytes: piece, into: &w)
                }
            }
        }
    }
}
