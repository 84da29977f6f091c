import SeqcastWire

/// The NAK state for bodies (claim 9's second half): when delivery waits on a number whose
/// message is known but whose body is missing, ask one data server, rotating on timeout or
/// "not held", with exponential jittered backoff; one repair round (at most `requestsMax` fetches
/// and `countersMax` bodies) outstanding at a time.
struct BodyRepair {
    /// Fetch requests one repair round may send, and bodies it may ask for in all: bounded
    /// outstanding NAKs, so a lagging member cannot flood the data servers.
    static let requestsMax = 8
    static let countersMax = 1024
    var blockedSeq: SequenceNumber?
    var since: Instant?
    var deadline: Instant?
    var backoff: RetryBackoff
    var server = 0

    init(timing: GroupConfig.Timing) { backoff = RetryBackoff(base: timing.nakRetry, max: timing.nakBackoffMax) }

    /// Delivery waits on `seq`; the first NAK may leave after `grace` (reordering allowance).
    mutating func blocked(at seq: SequenceNumber, now: Instant, grace: Nanoseconds) {
        if blockedSeq != seq {
            blockedSeq = seq
            since = now + grace
            backoff.reset()
            deadline = nil
        }
    }

    mutating func progressed() {
        blockedSeq = nil
        since = nil
        deadline = nil
        backoff.reset()
    }

    mutating func rotateSoon(now: Instant) {
        if deadline != nil { deadline = now }
    }

    var due: Instant? { deadline ?? since }
}

extension Member {
    /// NAKs bodies: from the number delivery waits on, every missing body of the next few
    /// known runs is asked for in one round (one fetch per run's missing range), so a member
    /// far behind catches up at the servers' pace, not one round trip per run.
    mutating func pollBodyRepair(now: Instant) {
        guard let seq = repair.blockedSeq, let since = repair.since else { return }
        guard now >= since, now >= (repair.deadline ?? now) else { return }
        guard join == nil, ledger.runs.run(containing: seq)?.messageId(at: seq) != nil else {
            // Nothing to ask for any more (joining, or the binding moved on): stand down, so a
            // stale deadline cannot keep firing.
            repair.progressed()
            return
        }
        repair.server = (repair.server + 1) % config.dataServers.count
        repair.deadline = now + repair.backoff.next(&prng)
        let server = config.dataServers[repair.server]
        var requests = 0
        var counters = 0
        ledger.runs.forEachSlice(from: seq, through: ledger.knownThrough) { run in
            guard case .messages(let sender, let first) = run.content else { return true }
            let last = first + UInt64(run.count) - 1
            // Counters already delivered are skipped at once, and a range walk stops at the
            // round's budget: a run may span 2^32 counters (FuzzRoles once spent minutes in
            // these loops on one such commit). Only bodies held are stepped over one by one,
            // and the store bounds those.
            let delivered = streams.counter(of: sender)
            guard delivered < last else { return true }
            var c = max(first, delivered + 1)
            while c <= last, requests < BodyRepair.requestsMax, counters < BodyRepair.countersMax {
                guard pending[MessageId(sender: sender, counter: c)] == nil else {
                    c += 1
                    continue
                }
                let budget = UInt64(BodyRepair.countersMax - counters)
                var end = c
                while end < last, end - c + 1 < budget, pending[MessageId(sender: sender, counter: end + 1)] == nil { end += 1 }
                let fetch = MessageFetch(sender: sender, firstCounter: c, count: UInt32(end - c + 1))
                output.counters.fetchesSent &+= 1
                output.outbox.send(to: .node(server), header: header(.messageFetch)) {
                    w throws(EncodeError) in try fetch.encode(into: &w)
                }
                requests += 1
                counters += Int(end - c + 1)
                c = end + 1
            }
            return requests < BodyRepair.requestsMax && counters < BodyRepair.countersMax
        }
    }

    /// Sends what was published but not yet sent, and retransmits what has waited too long
    /// for its commit (same id, same timestamp: Part 1 §6). A retransmission round resends at
    /// most `retransmitDatagramsMax` datagrams from the head of the window; due entries past
    /// that budget wait one more delay (their commits most likely only wait for the head's).
    mutating func flushPublisher(now: Instant) {
        let writer = DataRunWriter(header: header(.data), destination: .dataGroup,
                                   datagramBytes: config.datagramBytesMax, packingBytes: dataPackingBytes)
        var i = publisher.head
        var retransmitting = false
        var budget = config.limits.retransmitDatagramsMax
        defer { if retransmitting { publisher.retransmitted(&prng) } }
        while i < publisher.window.count {
            let p = publisher.window[i]
            let delay = publisher.retransmitDelay
            let due = p.sentAt.map { now.since($0) >= delay } ?? true
            guard due else {
                i += 1
                continue
            }
            let resend = p.sentAt != nil
            if resend {
                guard budget > 0 else {
                    publisher.window[i].sentAt = now
                    output.counters.retransmitsDeferred &+= 1
                    i += 1
                    continue
                }
                output.counters.retransmissions &+= 1
                retransmitting = true
            }
            // Consecutive due entries with one timestamp go out together.
            var n = 1
            while i + n < publisher.window.count, publisher.window[i + n].logicalTs == p.logicalTs,
                  publisher.window[i + n].sentAt.map({ now.since($0) >= delay }) ?? true {
                n += 1
            }
            let first = i
            let encodeFailures = output.outbox.droppedEncode
            let limit = resend ? budget : .max
            let sent = Self.send(writer, &output.outbox, bodies, publisher.window, first: first, count: n,
                                 datagramsMax: limit, sender: publisher.sender, logicalTs: p.logicalTs)
            if resend { budget -= sent.datagrams }
            if output.outbox.droppedEncode != encodeFailures {
                // A body that cannot be encoded (a size bug, counted) would fail again at once:
                // wait for the retransmission timer instead of retrying on every tick.
                for k in first..<(first + n) { publisher.window[k].sentAt = now }
                i += n
                continue
            }
            for k in first..<(first + sent.bodies) { publisher.window[k].sentAt = now }
            i += sent.bodies
            guard sent.bodies == n else {
                // Stopped by the round's budget: the loop defers the rest. Stopped by the outbox
                // at its ceiling: the rest stays due and goes with the next flush, after the node
                // drained the outbox.
                if sent.datagrams >= limit { continue }
                return
            }
        }
        publisher.flushDue = false
    }

    /// Sends window entries `first..<first+count` as data datagrams. Static, with the outbox,
    /// store and window as separate arguments, so the closures borrow them instead of making
    /// Swift copy the store (and window) for each call.
    static func send(_ writer: DataRunWriter, _ outbox: inout Outbox, _ bodies: BodyStore, _ window: [Publisher.Pending],
                     first: Int, count: Int, datagramsMax: Int = .max, sender: SenderId,
                     logicalTs: SequenceNumber) -> DataRunWriter.Sent {
        writer.send(outbox: &outbox, sender: sender, firstCounter: window[first].counter,
                    logicalTs: logicalTs, count: count, datagramsMax: datagramsMax,
                    length: { bodies.byteCount(window[first + $0].body) },
                    write: { (k: Int, range: Range<Int>, w: inout WireWriter) throws(EncodeError) in
                        try bodies.write(window[first + k].body, range: range, into: &w)
                    })
    }
}
