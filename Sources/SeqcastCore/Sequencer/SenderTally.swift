import SeqcastWire

/// The sequencer's view of one sender incarnation: what each data server reported holding,
/// and how far the incarnation is numbered.
///
/// Invariants: `nextCounter` only rises; once `ended`, nothing more of this incarnation is
/// numbered.
public struct SenderTally: Sendable {
    /// Per data server (by config index): every counter up to this is held there.
    var held: InlineArray<8, UInt64>
    var pendingCounter: InlineArray<8, UInt64>
    var pendingTs: InlineArray<8, UInt64>
    var aheadTs: InlineArray<8, UInt64>
    /// The highest counter any data server reported seeing committed. A fact, not a holding:
    /// kept when a server restarts.
    var committedSeen: UInt64 = 0
    /// The next counter to number.
    public internal(set) var nextCounter: UInt64 = 1
    public internal(set) var ended = false

    init() {
        held = .init(repeating: 0)
        pendingCounter = .init(repeating: 0)
        pendingTs = .init(repeating: 0)
        aheadTs = .init(repeating: 0)
    }

    /// Takes a report entry from data server `server`. Reports are cumulative, so an older
    /// (reordered) entry with a lower prefix changes nothing.
    mutating func update(server: Int, entry e: DataReport.Entry) {
        committedSeen = max(committedSeen, e.committedThrough)
        guard e.heldThrough >= held[server] else { return }
        held[server] = e.heldThrough
        pendingCounter[server] = e.pendingCounter
        pendingTs[server] = e.pendingTs.rawValue
        aheadTs[server] = e.aheadTs.rawValue
    }

    /// What numbering the stream needs next, from the reports: its next counter, the prefix K
    /// servers hold, and that counter's timestamp bounds (nil once the stream ended). Raises
    /// the next counter over what the servers report committed: a sequencer that took over
    /// without hearing some of this sender's commits (they were truncated from the commit
    /// servers' logs behind a checkpoint, and it is a standby that missed them) would wait at
    /// the first of them for a timestamp no data server reports any more, since every server
    /// counts them committed: for good (seed 65867). Numbering goes on from there.
    mutating func nextNumbering(k: Int, servers: Int)
        -> (counter: UInt64, quorum: UInt64, bounds: (lower: UInt64, upper: UInt64?))? {
        guard !ended else { return nil }
        nextCounter = max(nextCounter, committedBelow(servers: servers))
        return (nextCounter, quorumPrefix(k: k, servers: servers), timestampBounds(of: nextCounter, servers: servers))
    }

    /// Forgets everything server `server` reported (it restarted with nothing).
    mutating func forget(server: Int) {
        held[server] = 0
        pendingCounter[server] = 0
        pendingTs[server] = 0
        aheadTs[server] = 0
    }

    /// The K-th highest prefix among `servers` data servers: every counter up to it is held by
    /// at least K distinct servers (S6).
    func quorumPrefix(k: Int, servers: Int) -> UInt64 {
        var best: InlineArray<8, UInt64> = .init(repeating: 0)
        for i in 0..<servers { best[i] = held[i] }
        // Partial selection sort: K is tiny (1...8).
        for round in 0..<k {
            var m = round
            for j in (round + 1)..<servers where best[j] > best[m] { m = j }
            let t = best[round]
            best[round] = best[m]
            best[m] = t
        }
        return best[k - 1]
    }

    /// The lowest counter that may still be uncommitted, by the data servers' reports: every
    /// counter below it was committed (a server saw its commit, of whichever epoch; commits are
    /// true) or collected behind a checkpoint. The highest lowest-uncommitted counter any server
    /// reported, and one above the highest counter any server saw committed (a server that holds
    /// nothing uncommitted of the stream reports no pending counter). 0: nothing known.
    func committedBelow(servers: Int) -> UInt64 {
        var m: UInt64 = committedSeen == 0 ? 0 : committedSeen &+ 1
        for i in 0..<servers { m = max(m, pendingCounter[i]) }
        return m
    }

    /// Bounds on the logical timestamp of counter `c` from the servers' reports: a lower bound
    /// from servers that hold `c` (their lowest uncommitted counter is at most `c`), and an
    /// upper bound when a server's lowest uncommitted counter is exactly `c`, or its gap is
    /// exactly at `c` and it holds a later counter (timestamps never fall along a stream).
    func timestampBounds(of c: UInt64, servers: Int) -> (lower: UInt64, upper: UInt64?) {
        var lower: UInt64 = 0
        var upper: UInt64?
        for i in 0..<servers {
            if held[i] >= c, pendingCounter[i] != 0, pendingCounter[i] <= c { lower = max(lower, pendingTs[i]) }
            if pendingCounter[i] == c { upper = min(upper ?? .max, pendingTs[i]) }
            // aheadTs 0 means "nothing beyond the gap"; a real timestamp of 0 is then ignored,
            // which can only delay ending the stream of a sender that is gone.
            if held[i] &+ 1 == c, aheadTs[i] != 0 { upper = min(upper ?? .max, aheadTs[i]) }
        }
        return (lower, upper)
    }
}
