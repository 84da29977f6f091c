import SeqcastWire

/// Non-overlapping runs in sequence order: the sequencer's in-flight assignments, a commit
/// server's log, a receiver's known bindings. Removal from the front is O(1) amortised
/// (a head index, compacted in place), so steady-state use allocates nothing.
///
/// Invariants: runs are sorted by `firstSeq` and never overlap; adjacent compatible runs
/// are merged on `append`.
public struct RunQueue: Sendable {
    @usableFromInline var runs: [SequenceRun] = []
    @usableFromInline var head = 0

    public init(capacity: Int = 256) { runs.reserveCapacity(capacity) }

    @inlinable public var isEmpty: Bool { head == runs.count }
    @inlinable public var count: Int { runs.count - head }
    @inlinable public var first: SequenceRun? { isEmpty ? nil : runs[head] }
    @inlinable public var last: SequenceRun? { isEmpty ? nil : runs[runs.count - 1] }
    @inlinable public subscript(i: Int) -> SequenceRun { runs[head + i] }

    /// True when `b` continues `a` with the same meaning, so the two can be one run.
    @inlinable public static func continues(_ a: SequenceRun, _ b: SequenceRun) -> Bool {
        guard b.firstSeq.rawValue == a.lastSeq.rawValue + 1, UInt64(a.count) + UInt64(b.count) <= UInt64(UInt32.max)
        else { return false }
        switch (a.content, b.content) {
        case (.messages(let s1, let c1), .messages(let s2, let c2)): return s1 == s2 && c2 == c1 + UInt64(a.count)
        case (.noop, .noop): return true
        default: return false
        }
    }

    /// Appends a run that starts after every run held, merging it into the last one if it
    /// continues it.
    @inlinable public mutating func append(_ run: SequenceRun) {
        if let l = last {
            precondition(run.firstSeq > l.lastSeq, "RunQueue.append out of order")
            if Self.continues(l, run) {
                runs[runs.count - 1].count += run.count
                return
            }
        }
        runs.append(run)
    }

    /// Inserts a run anywhere, keeping only its numbers that no held run covers yet. Returns
    /// the numbers it covers that a held run binds differently (a protocol violation the caller
    /// counts), or 0.
    public mutating func insert(_ run: SequenceRun) -> Int {
        var rest: SequenceRun? = run
        var conflicts = 0
        var i = indexOfFirstRun(endingAtOrAfter: run.firstSeq)
        while let r = rest {
            if i == runs.count {
                appendOrMerge(r, at: i)
                return conflicts
            }
            let held = runs[i]
            if r.lastSeq < held.firstSeq {
                appendOrMerge(r, at: i)
                return conflicts
            }
            if r.firstSeq < held.firstSeq {
                // The part before `held` goes in; `held` then sits one further on only if that
                // part was inserted rather than merged into the run before it.
                if appendOrMerge(r.slice(from: r.firstSeq, through: SequenceNumber(held.firstSeq.rawValue - 1)), at: i) {
                    i += 1
                }
                rest = r.slice(from: held.firstSeq, through: r.lastSeq)
                continue
            }
            // r starts inside `held`: compare the overlap, keep what lies beyond it.
            let overlapEnd = min(r.lastSeq, held.lastSeq)
            if held.slice(from: r.firstSeq, through: overlapEnd) != r.slice(from: r.firstSeq, through: overlapEnd) {
                conflicts += Int(overlapEnd.rawValue - r.firstSeq.rawValue + 1)
            }
            rest = r.lastSeq > held.lastSeq ? r.slice(from: held.lastSeq.next, through: r.lastSeq) : nil
            i += 1
        }
        return conflicts
    }

    /// Puts `run` at `index`, or extends the run before it; true if it was inserted.
    @discardableResult
    private mutating func appendOrMerge(_ run: SequenceRun, at index: Int) -> Bool {
        if index > head, Self.continues(runs[index - 1], run) {
            runs[index - 1].count += run.count
            return false
        }
        runs.insert(run, at: index)
        return true
    }

    /// Index into `runs` of the first run whose last number is >= seq (binary search).
    @usableFromInline func indexOfFirstRun(endingAtOrAfter seq: SequenceNumber) -> Int {
        var lo = head
        var hi = runs.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if runs[mid].lastSeq < seq { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The run covering `seq`, if any.
    public func run(containing seq: SequenceNumber) -> SequenceRun? {
        let i = indexOfFirstRun(endingAtOrAfter: seq)
        guard i < runs.count, runs[i].firstSeq <= seq else { return nil }
        return runs[i]
    }

    /// The first held number above `seq`, if any (to find where a hole ends).
    public func firstSeq(after seq: SequenceNumber) -> SequenceNumber? {
        let i = indexOfFirstRun(endingAtOrAfter: seq.next)
        guard i < runs.count else { return nil }
        return max(runs[i].firstSeq, seq.next)
    }

    /// Calls `body` with each held run clipped to `from...through`, in order.
    @inlinable public func forEachSlice(from: SequenceNumber, through: SequenceNumber,
                                        _ body: (SequenceRun) -> Bool) {
        guard from <= through else { return }
        var i = indexOfFirstRun(endingAtOrAfter: from)
        while i < runs.count, runs[i].firstSeq <= through {
            if !body(runs[i].slice(from: from, through: through)) { return }
            i += 1
        }
    }

    /// Drops every number of `from...through` (a higher epoch rebinding them: protocol.md Part 2
    /// §5.3-4); what lies on either side stays.
    public mutating func remove(from: SequenceNumber, through: SequenceNumber) {
        guard from <= through else { return }
        var i = indexOfFirstRun(endingAtOrAfter: from)
        while i < runs.count, runs[i].firstSeq <= through {
            let r = runs[i]
            if r.firstSeq < from, r.lastSeq > through {
                // The range lies inside one run: keep both ends.
                runs[i] = r.slice(from: r.firstSeq, through: SequenceNumber(from.rawValue - 1))
                runs.insert(r.slice(from: through.next, through: r.lastSeq), at: i + 1)
                return
            }
            if r.firstSeq < from {
                runs[i] = r.slice(from: r.firstSeq, through: SequenceNumber(from.rawValue - 1))
                i += 1
            } else if r.lastSeq > through {
                runs[i] = r.slice(from: through.next, through: r.lastSeq)
                return
            } else {
                runs.remove(at: i)
            }
        }
        if head == runs.count {
            runs.removeAll(keepingCapacity: true)
            head = 0
        }
    }

    /// Drops every number at or above `seq` (a higher epoch rebinding a suffix: protocol.md
    /// Part 2 §5.3-4).
    public mutating func removeFrom(_ seq: SequenceNumber) {
        while runs.count > head, runs[runs.count - 1].firstSeq >= seq { runs.removeLast() }
        if runs.count > head, runs[runs.count - 1].lastSeq >= seq {
            let l = runs[runs.count - 1]
            runs[runs.count - 1] = l.slice(from: l.firstSeq, through: SequenceNumber(seq.rawValue - 1))
        }
        if head == runs.count {
            runs.removeAll(keepingCapacity: true)
            head = 0
        }
    }

    /// Drops every number at or below `seq`.
    public mutating func removeThrough(_ seq: SequenceNumber) {
        while head < runs.count, runs[head].lastSeq <= seq { head += 1 }
        if head < runs.count, runs[head].firstSeq <= seq {
            runs[head] = runs[head].slice(from: seq.next, through: runs[head].lastSeq)
        }
        if head == runs.count {
            runs.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64, head * 2 >= runs.count {
            runs.removeFirst(head)
            head = 0
        }
    }
}
