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
    /// The wait between fetches: backs off while no chunk comes (a checkpoint server down).
    var backoff: RetryBackoff
    /// The lowest terminal number worth installing: 0 for a fresh joiner (any checkpoint, or
    /// none yet), `deliveredThrough + 1` for a member that fell behind garbage collection.
    var minimumTerminal: SequenceNumber

    init(deadline: Instant, minimumTerminal: SequenceNumber, timing: GroupConfig.Timing) {
        self.deadline = deadline
        self.minimumTerminal = minimumTerminal
        backoff = RetryBackoff(base: timing.nakRetry * 2, max: timing.nakBackoffMax * 2)
    }

    var adopted: Bool { !chunks.isEmpty }
    var firstMissing: Int? { chunks.firstIndex { $0 == nil } }
}

extension Member {
    /// Starts fetching a checkpoint because the numbers after `deliveredThrough` are gone
    /// from the servers (a member behind the garbage-collection horizon, 4.10).
    mutating func startJoin(now: Instant) {
        guard join == nil else { return }
        output.counters.checkpointFetches &+= 1
        join = JoinState(deadline: now, minimumTerminal: deliveredThrough.next, timing: config.timing)
        repair.progressed()
    }

    mutating func pollJoin(now: Instant) {
        guard var j = join, j.deadline <= now else { return }
        // Another checkpoint server, never this node itself.
        let servers = config.checkpointServers.filter { $0 != node }
        if servers.isEmpty {
            // Nobody to ask: replay from where we stand.
            join = nil
            return
        }
        j.attempt += 1
        if j.attempt % 4 == 0 {
            // Not getting through: start over with another server's latest checkpoint.
            j = JoinState(deadline: now, minimumTerminal: j.minimumTerminal, timing: config.timing)
            j.attempt = 1
            j.server = Int(prng.below(UInt64(servers.count)))
        } else if j.attempt > 1 {
            j.server = (j.server + 1) % servers.count
        }
        let fetch = CheckpointFetch(terminalSeq: j.terminalSeq, firstChunk: UInt32(j.firstMissing ?? 0))
        j.deadline = now + j.backoff.next(&prng)
        join = j
        output.outbox.send(to: .node(servers[j.server % servers.count]), header: header(.checkpointFetch)) {
            w throws(EncodeError) in try fetch.encode(into: &w)
        }
    }

    mutating func onCheckpointChunk(_ c: CheckpointChunk, now: Instant) {
        guard var j = join else { return }
        if !j.adopted {
            if c.terminalSeq == .zero, j.minimumTerminal == .zero {
                // The group has no checkpoint yet: replay from the start.
                join = nil
                return
            }
            // Too old to help (or none): wait for the timeout, which asks another server.
            guard c.terminalSeq >= j.minimumTerminal, c.terminalSeq > .zero else { return }
            // Bounded by what a checkpoint may be, whatever the chunk claims.
            let size = UInt64(config.limits.checkpointChunkBytes)
            guard c.totalBytes <= UInt64(config.limits.checkpointBytesMax),
                  UInt64(c.chunkCount) == max(1, (c.totalBytes + size - 1) / size) else {
                output.counters.droppedMalformed &+= 1
                return
            }
            j.terminalSeq = c.terminalSeq
            j.totalBytes = c.totalBytes
            j.digest = c.digest
            j.chunks = Array(repeating: nil, count: Int(c.chunkCount))
        }
        guard c.terminalSeq == j.terminalSeq, c.digest == j.digest, Int(c.chunkCount) == j.chunks.count else { return }
        if j.chunks[Int(c.chunkIndex)] == nil {
            j.chunks[Int(c.chunkIndex)] = Array(c.bytes)
            j.backoff.reset()  // the transfer moves: ask again on the base schedule
        }
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
        guard app.restore(image.snapshot, through: image.terminalSeq) else {
            output.counters.droppedMalformed &+= 1
            return
        }
        checkpointInterval = image.interval
        checkpointIntervalFrom = image.terminalSeq
        // The checkpoint installed is one the group reached: the publish gate counts from it
        // (before the first heartbeat, it would count from 0 and refuse).
        latestCheckpointSeq = max(latestCheckpointSeq, image.terminalSeq)
        let endedBefore = streams.ended
        streams.install(delivered: image.delivered, ended: image.ended)
        for (s, c) in image.ended where endedBefore[s] == nil {
            // A stream that ended inside the checkpoint: if it is ours, move on now.
            endStream(s, lastCounter: c)
        }
        ledger.skip(through: image.terminalSeq)
        deliveredThrough = image.terminalSeq
        startSeq = image.terminalSeq
        let stale = pending.allKeys.filter { $0.counter <= streams.counter(of: $0.sender) }
        for id in stale { bodies.free(pending.removeValue(forKey: id)!.body) }
        repair.progressed()
        // Our own messages the checkpoint covers are committed: they leave the window.
        publisher.sequenced(through: streams.counter(of: publisher.sender)) { _, h in bodies.free(h) }
        checkpoints?.write(terminalSeq: image.terminalSeq, bytes: bytes, into: &output.storage)
        output.events.append(.checkpointInstalled(terminalSeq: image.terminalSeq, stateDigest: app.stateDigest))
    }
}
