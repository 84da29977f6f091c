import SeqcastWire

/// A joiner's checkpoint transfer (claim 16, protocol.md 4.10): keep listening, fetch the
/// latest checkpoint in chunks, verify size and digest, install it, then repair and deliver
/// everything after its terminal number.
struct JoinState {
    var terminalSeq = SequenceNumber.zero
    var chunks: [[UInt8]?] = []
    var totalBytes: UInt64 = 0
    var digest: UInt64 = 0
    var server = 0
    var attempt: UInt64 = 0
    var deadline: Instant

    init(deadline: Instant) { self.deadline = deadline }

    var adopted: Bool { !chunks.isEmpty }
    var firstMissing: Int? { chunks.firstIndex { $0 == nil } }
}

extension Member {
    mutating func startJoin(now: Instant) {
        guard join == nil else { return }
        output.counters.checkpointFetches &+= 1
        join = JoinState(deadline: now)
        repair.progressed()
    }

    mutating func pollJoin(now: Instant) {
        guard var j = join, j.deadline <= now else { return }
        if config.checkpointServers.isEmpty {
            // No checkpoint servers: a joiner replays from the start.
            join = nil
            return
        }
        j.attempt += 1
        if j.attempt % 4 == 0 {
            // Not getting through: start over with another server's latest checkpoint.
            j = JoinState(deadline: now)
            j.attempt = 1
            j.server = Int(prng.below(UInt64(config.checkpointServers.count)))
        } else if j.attempt > 1 {
            j.server = (j.server + 1) % config.checkpointServers.count
        }
        let fetch = CheckpointFetch(terminalSeq: j.terminalSeq, firstChunk: UInt32(j.firstMissing ?? 0))
        j.deadline = now + prng.jittered(config.timing.nakRetry * 2)
        join = j
        output.outbox.send(to: .node(config.checkpointServers[j.server]), header: header(.checkpointFetch)) {
            w throws(EncodeError) in try fetch.encode(into: &w)
        }
    }

    mutating func onCheckpointChunk(_ c: CheckpointChunk, now: Instant) {
        guard var j = join else { return }
        if !j.adopted {
            if c.terminalSeq == .zero {
                // The group has no checkpoint yet: replay from where we stand.
                join = nil
                return
            }
            j.terminalSeq = c.terminalSeq
            j.totalBytes = c.totalBytes
            j.digest = c.digest
            j.chunks = Array(repeating: nil, count: Int(c.chunkCount))
        }
        guard c.terminalSeq == j.terminalSeq, c.digest == j.digest, Int(c.chunkCount) == j.chunks.count else { return }
        if j.chunks[Int(c.chunkIndex)] == nil { j.chunks[Int(c.chunkIndex)] = Array(c.bytes) }
        guard j.firstMissing == nil else {
            join = j
            return
        }
        let bytes = j.chunks.flatMap { $0! }
        join = nil
        guard UInt64(bytes.count) == j.totalBytes, bytes.withUnsafeBytes({ Digest.of($0) }) == j.digest,
              let image = CheckpointImage.decode(bytes) else {
            output.counters.droppedMalformed &+= 1
            startJoin(now: now)
            return
        }
        install(image, bytes: bytes)
    }

    /// Installs a checkpoint: the application restores its snapshot and delivery resumes after
    /// the terminal number. A checkpoint behind what we already delivered changes nothing.
    mutating func install(_ image: CheckpointImage, bytes: [UInt8]) {
        guard image.terminalSeq > deliveredThrough else { return }
        guard app.restore(image.snapshot) else {
            output.counters.droppedMalformed &+= 1
            return
        }
        checkpointInterval = image.interval
        deliveredCounter = [:]
        for (s, c) in image.delivered { deliveredCounter[s] = c }
        ledger.skip(through: image.terminalSeq)
        deliveredThrough = image.terminalSeq
        startSeq = image.terminalSeq
        let stale = pending.keys.filter { $0.counter <= deliveredCounter[$0.sender, default: 0] }
        for id in stale { bodies.free(pending.removeValue(forKey: id)!.body) }
        repair.progressed()
        checkpoints?.keep(terminalSeq: image.terminalSeq, bytes: bytes, stateDigest: app.stateDigest)
        output.events.append(.checkpointInstalled(terminalSeq: image.terminalSeq, stateDigest: app.stateDigest))
    }
}
