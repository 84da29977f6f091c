import SeqcastWire

/// Which checkpoint a server may collect (a data server) or truncate (a commit server) behind:
/// the newest one it heard at least `grace` ago. The patent's checkpoint rule lets it collect
/// behind the newest checkpoint at once (claim 20), but then a member still repairing a loss a
/// few numbers behind it finds the bodies or ids gone and must install the whole checkpoint
/// instead of delivering them: the simulator's scale run measured 14 such resyncs in 15
/// checkpoints with 100 members under 1 % loss, and none with a 30 ms grace (README, "Scale by
/// simulation"). Waiting a grace time that covers a member's
/// repair (NAK timers, a heartbeat for a lost last commit) keeps them delivering. Collecting
/// later is always safe; it only holds bodies longer, so a data server whose store runs short
/// collects at once (`hurry`).
///
/// At most `pendingMax` checkpoints wait; a newer one pushes the oldest through early (at a
/// high rate checkpoints come faster than the grace, and the bound keeps this table small).
public struct CollectionGrace: Sendable {
    public let grace: Nanoseconds
    /// The newest checkpoint past its grace: what collection may go behind.
    public private(set) var eligible = SequenceNumber.zero
    var pending: [(seq: SequenceNumber, heardAt: Instant)] = []
    public static let pendingMax = 8

    public init(grace: Nanoseconds) {
        self.grace = grace
        pending.reserveCapacity(Self.pendingMax)
    }

    /// The newest checkpoint heard (eligible or not).
    public var newest: SequenceNumber { pending.last?.seq ?? eligible }
    /// When the oldest waiting checkpoint becomes eligible (nil: none waits).
    public var deadline: Instant? { pending.first.map { $0.heardAt + grace } }

    /// A checkpoint named by a heartbeat (or a peer); older or known ones change nothing.
    /// True if `eligible` rose (no grace, or a full waiting list pushed one through).
    @discardableResult
    public mutating func heard(_ seq: SequenceNumber, now: Instant) -> Bool {
        guard seq > newest else { return false }
        if grace == Nanoseconds(0) {
            eligible = seq
            return true
        }
        var rose = false
        if pending.count == Self.pendingMax {
            eligible = pending.removeFirst().seq
            rose = true
        }
        pending.append((seq, now))
        return rose
    }

    /// Makes every checkpoint heard at least `grace` ago eligible; true if `eligible` rose.
    public mutating func advance(now: Instant) -> Bool {
        var n = 0
        while n < pending.count, pending[n].heardAt + grace <= now { n += 1 }
        guard n > 0 else { return false }
        eligible = pending[n - 1].seq
        pending.removeFirst(n)
        return true
    }

    /// Makes every checkpoint heard eligible now (a store running short); true if it rose.
    public mutating func hurry() -> Bool {
        guard let last = pending.last else { return false }
        eligible = last.seq
        pending.removeAll(keepingCapacity: true)
        return true
    }
}
