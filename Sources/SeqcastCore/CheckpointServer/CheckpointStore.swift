import SeqcastWire

/// A checkpoint server's checkpoints (claims 13, 14, 16): the latest two durable ones (so one
/// is always whole while the next is written, protocol.md 4.11), reported to the sequencer
/// periodically and served in chunks to joiners. A checkpoint is reported or served only once
/// its storage write is durable: data servers delete what it covers as soon as the sequencer
/// announces it, so it must survive a crash of this server (S14).
struct CheckpointStore {
    static let recordTag: UInt64 = 3
    struct Checkpoint {
        var terminalSeq: SequenceNumber
        var bytes: [UInt8]
        var digest: UInt64
    }
    var kept: [Checkpoint] = []
    /// Written, not yet durable.
    var writing: [(ticket: WriteTicket, checkpoint: Checkpoint)] = []
    var reportAt: Instant?

    init(reportAt: Instant) { self.reportAt = reportAt }

    var latest: Checkpoint? { kept.last }
    var newestTerminal: SequenceNumber { writing.last?.checkpoint.terminalSeq ?? latest?.terminalSeq ?? .zero }

    /// Queues a checkpoint's durable write; it becomes visible in `persisted(through:)`.
    mutating func write(terminalSeq: SequenceNumber, bytes: [UInt8], into storage: inout StorageQueue) {
        guard terminalSeq > newestTerminal else { return }
        let digest = bytes.withUnsafeBytes { Digest.of($0) }
        storage.begin(key: terminalSeq.rawValue)
        storage.put(Self.recordTag)
        storage.put(bytes: bytes)
        writing.append((storage.close(), Checkpoint(terminalSeq: terminalSeq, bytes: bytes, digest: digest)))
    }

    /// Writes up to `ticket` are durable: their checkpoints become reportable and servable,
    /// and records older than the two kept may go.
    mutating func persisted(through ticket: WriteTicket, storage: inout StorageQueue) {
        while let w = writing.first, w.ticket <= ticket {
            writing.removeFirst()
            kept.append(w.checkpoint)
            if kept.count > 2 { kept.removeFirst() }
        }
        if let oldest = kept.first, oldest.terminalSeq.rawValue > 1 {
            storage.truncate(through: oldest.terminalSeq.rawValue - 1)
        }
    }

    /// A checkpoint recovered from this server's own storage after a restart (already durable).
    mutating func recovered(terminalSeq: SequenceNumber, bytes: [UInt8]) {
        let digest = bytes.withUnsafeBytes { Digest.of($0) }
        kept = [Checkpoint(terminalSeq: terminalSeq, bytes: bytes, digest: digest)]
    }

    /// The newest checkpoint image in a server's records, if any.
    static func newestImage(in records: [[UInt8]]) -> (CheckpointImage, [UInt8])? {
        var found: (CheckpointImage, [UInt8])?
        for record in records {
            var r = RecordReader(record)
            guard r.next() == recordTag, let bytes = r.nextBytes(), let image = CheckpointImage.decode(bytes) else { continue }
            if image.terminalSeq > (found?.0.terminalSeq ?? .zero) { found = (image, bytes) }
        }
        return found
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
        let image = CheckpointImage(terminalSeq: seq, interval: checkpointInterval, delivered: streams.sortedDelivered,
                                    ended: streams.sortedEnded, snapshot: app.snapshot())
        let bytes = image.encode()
        checkpoints!.write(terminalSeq: seq, bytes: bytes, into: &output.storage)
        output.events.append(.checkpointTaken(terminalSeq: seq, byteCount: bytes.count,
                                              digest: bytes.withUnsafeBytes { Digest.of($0) },
                                              stateDigest: app.stateDigest, tablesDigest: image.tablesDigest))
    }

    mutating func pollCheckpointReport(now: Instant) {
        guard var store = checkpoints, let at = store.reportAt, at <= now else { return }
        store.reportAt = now + config.timing.checkpointReportInterval
        checkpoints = store
        guard let latest = store.latest else { return }
        let report = CheckpointReport(terminalSeq: latest.terminalSeq, byteCount: UInt64(latest.bytes.count),
                                      digest: latest.digest)
        output.outbox.send(to: .node(config.sequencer(of: sequencerEpoch) ?? config.sequencer), header: header(.checkpointReport)) {
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
