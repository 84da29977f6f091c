import SeqcastWire

/// What a receiver (member, checkpoint server, data server) knows of the committed order, and
/// the NAK machinery that repairs holes in it by asking commit servers (claim 9).
///
/// Invariants: `consumedThrough <= knownThrough`; every number in
/// `consumedThrough+1 ... knownThrough` is covered by a held run; `announcedThrough` only rises.
public struct CommitLedger: Sendable {
    /// The owner has processed every binding at or below this.
    public private(set) var consumedThrough = SequenceNumber.zero
    /// Every binding at or below this is known.
    public private(set) var knownThrough = SequenceNumber.zero
    /// The highest number heard to be committed (commits, heartbeats, replies).
    public private(set) var announcedThrough = SequenceNumber.zero
    /// Bindings above `consumedThrough`; holes possible above `knownThrough`.
    public private(set) var runs = RunQueue()
    /// Numbers that arrived bound differently from what was held (must stay 0: S1).
    public private(set) var conflicts: UInt64 = 0

    @usableFromInline var holeSince: Instant?
    @usableFromInline var queryDeadline: Instant?
    @usableFromInline var queryBackoff: RetryBackoff
    @usableFromInline var queryServer = 0

    public init(timing: GroupConfig.Timing) {
        queryBackoff = RetryBackoff(base: timing.nakRetry, max: timing.nakBackoffMax)
    }

    /// Records a committed run.
    public mutating func record(_ run: SequenceRun) {
        guard run.lastSeq > consumedThrough else { return }
        let clipped = run.firstSeq > consumedThrough ? run : run.slice(from: consumedThrough.next, through: run.lastSeq)
        conflicts &+= UInt64(runs.insert(clipped))
        announce(clipped.lastSeq)
        let before = knownThrough
        while let r = runs.run(containing: knownThrough.next) { knownThrough = r.lastSeq }
        if knownThrough > before {
            // Progress: the next hole, if any, may be asked for at once (it is as old as the
            // one just filled), without the backoff of earlier retries.
            queryDeadline = nil
            queryBackoff.reset()
        }
        if hole == nil {
            holeSince = nil
            queryDeadline = nil
            queryBackoff.reset()
        }
    }

    public mutating func announce(_ seq: SequenceNumber) {
        if seq > announcedThrough { announcedThrough = seq }
    }

    /// The next run to process, if its first number is the next one.
    public var nextRun: SequenceRun? {
        guard let r = runs.first, r.firstSeq == consumedThrough.next else { return nil }
        return r
    }

    /// The owner processed everything through `seq`.
    public mutating func consume(through seq: SequenceNumber) {
        precondition(seq <= knownThrough, "consuming an unknown binding")
        consumedThrough = max(consumedThrough, seq)
        runs.removeThrough(consumedThrough)
    }

    /// Jumps past `seq` (a checkpoint was installed): bindings at or below it are no longer needed.
    public mutating func skip(through seq: SequenceNumber) {
        guard seq > consumedThrough else { return }
        consumedThrough = seq
        runs.removeThrough(seq)
        knownThrough = max(knownThrough, seq)
        while let r = runs.run(containing: knownThrough.next) { knownThrough = r.lastSeq }
        announce(seq)
        holeSince = nil
        queryDeadline = nil
        queryBackoff.reset()
    }

    /// The first hole: numbers announced committed whose binding is unknown.
    public var hole: (first: SequenceNumber, count: UInt32)? {
        guard announcedThrough > knownThrough else { return nil }
        let first = knownThrough.next
        let end = runs.firstSeq(after: knownThrough).map { SequenceNumber($0.rawValue - 1) } ?? announcedThrough
        let last = min(end, announcedThrough)
        guard last >= first else { return nil }
        return (first, UInt32(clamping: last.rawValue - first.rawValue + 1))
    }

    /// When the repair logic next wants to run.
    public var deadline: Instant? {
        guard hole != nil else { return nil }
        // A hole not yet seen by `pollIdQuery` wants a tick at once, which starts its grace;
        // after that, the later of the grace period and the outstanding query's timeout.
        guard let since = holeSince else { return .zero }
        return max(since, queryDeadline ?? since)
    }

    /// If a hole has waited past the grace period and no query is outstanding, returns the id
    /// query to send and the commit server to send it to, rotating servers on each retry with
    /// exponential, jittered backoff (bounded to one outstanding query).
    public mutating func pollIdQuery(now: Instant, config: GroupConfig, prng: inout Prng) -> (IdQuery, NodeId)? {
        guard let h = hole else {
            holeSince = nil
            queryDeadline = nil
            queryBackoff.reset()
            return nil
        }
        guard let since = holeSince else {
            holeSince = now + config.timing.nakGrace
            return nil
        }
        guard now >= since, now >= (queryDeadline ?? now) else { return nil }
        queryServer = (queryServer + 1) % config.commitServers.count
        queryDeadline = now + queryBackoff.next(&prng)
        // Ask for everything from the first hole to the announced frontier in one query: the
        // server answers what fits one datagram, holes and known runs alike, so several small
        // holes cost one round trip, not one each.
        let span = announcedThrough.rawValue - h.first.rawValue + 1
        let count = UInt32(min(span, UInt64(config.limits.idQueryCountMax)))
        return (IdQuery(firstSeq: h.first, count: count), config.commitServers[queryServer])
    }
}
