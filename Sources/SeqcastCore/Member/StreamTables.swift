import SeqcastWire

/// What a receiver keeps of one sender incarnation's place in the committed stream.
public struct DeliveredStream: Sendable, Equatable {
    /// The highest counter delivered, skipped as a duplicate, or ended at.
    public var counter: UInt64
    /// The last number bound to this incarnation (a message or its end of stream).
    public var lastSeq: UInt64
    /// The last number bound to one of its messages (0: none, only an end of stream).
    public var lastMessageSeq: UInt64

    @inlinable public init(counter: UInt64, lastSeq: UInt64, lastMessageSeq: UInt64) {
        self.counter = counter
        self.lastSeq = lastSeq
        self.lastMessageSeq = lastMessageSeq
    }
}

/// A receiver's per-incarnation tables (the delivered counters that drive de-duplication, and
/// the ended streams), with the rule that forgets incarnations that can never matter again, so
/// the tables and every checkpoint are bounded by the nodes that publish, not by every
/// incarnation ever seen (a publisher restarted a thousand times once left a thousand entries
/// in every member and every checkpoint).
///
/// The rule (applied at every checkpoint number, so that every member and every checkpoint
/// server, joined or not, holds the same tables at the same number): incarnation X of node N is
/// forgotten once a message of another incarnation Y of N is bound more than L (the lifetime)
/// numbers after X's last binding. Why that is safe, from S9 (every binding, a fail-over's
/// duplicates included, falls within L of its message's timestamp, and a timestamp is a
/// committed number its sender knew when it published):
/// - Y is not older than X. At most one incarnation of a node is alive at a time (node ids are
///   claimed; a restart takes a new incarnation), so an older Y ended before X started: Y's
///   timestamps are below X's first binding, and each of Y's bindings lies within L of one,
///   below `lastSeq(X) + L`.
/// - So X ended before Y started, and nothing more of X is ever bound again as a duplicate: a
///   counter's later binding lies within L of its timestamp, which is below its first binding,
///   at or below `lastSeq(X)`. (A counter of X never bound before may still be, and is then
///   delivered: no table is needed to deliver it; an end of stream of X may come, and simply
///   enters X again.)
/// - No publisher needs X's entry: X's own process is gone (a stream it ended moved it to Y).
///
/// Only the last two points rest on one live incarnation per node (node ids are claimed on the
/// network at start; THREAT.md says what the claim does not cover). If two processes did publish
/// under one node id at once, a live one's entry could go: its later messages are still
/// delivered, and a checkpoint it installs no longer says which of its messages committed. No
/// message is delivered twice either way: that rests on S9 and the sweep number alone.
///
/// An idle incarnation with no later one of its node is kept: a live publisher that installs a
/// checkpoint needs its own entry to know which of its messages are committed.
public struct StreamTables {
    /// Inlinable storage: the member's delivery loop reads and writes it once per segment of a run.
    @usableFromInline var table = HashTable<SenderId, DeliveredStream>()
    public var delivered: HashTable<SenderId, DeliveredStream> { table }
    /// Streams ended by the lifetime rule, with their last counter.
    public private(set) var ended: [SenderId: UInt64] = [:]
    /// Scratch for `retireIdle`, kept between calls so a sweep allocates nothing: per node
    /// (keyed as incarnation 0), the last number bound to a message of any incarnation.
    var newestMessageByNode: HashTable<SenderId, UInt64>?

    public init() {}

    public var count: Int { table.count }

    /// The highest counter of `s` delivered, skipped or ended at (0: none known).
    @inlinable public func counter(of s: SenderId) -> UInt64 { table[s]?.counter ?? 0 }

    /// A message of `s` with `counter`, above every one delivered of `s`, was delivered at `seq`.
    @inlinable public mutating func deliveredMessage(_ s: SenderId, counter: UInt64, at seq: UInt64) {
        table[s] = DeliveredStream(counter: counter, lastSeq: seq, lastMessageSeq: seq)
    }

    /// A message of `s` with `counter` was bound at `seq`, delivered or skipped as a duplicate.
    public mutating func messageBound(_ s: SenderId, counter: UInt64, at seq: UInt64) {
        let c = max(counter, table[s]?.counter ?? 0)
        table[s] = DeliveredStream(counter: c, lastSeq: seq, lastMessageSeq: seq)
    }

    /// The stream of `s` ended after `lastCounter`, bound at `seq`.
    public mutating func endBound(_ s: SenderId, lastCounter: UInt64, at seq: UInt64) {
        let old = table[s]
        table[s] = DeliveredStream(counter: max(old?.counter ?? 0, lastCounter), lastSeq: seq,
                                       lastMessageSeq: old?.lastMessageSeq ?? 0)
        ended[s] = lastCounter
    }

    /// Replaces both tables with a checkpoint's.
    mutating func install(delivered entries: [(SenderId, DeliveredStream)], ended endedEntries: [(SenderId, UInt64)]) {
        table.removeAll()
        for (s, d) in entries { table[s] = d }
        ended = [:]
        for (s, c) in endedEntries { ended[s] = c }
    }

    /// Forgets every incarnation the rule above allows; returns how many.
    @discardableResult
    public mutating func retireIdle(lifetime: UInt64) -> Int {
        guard table.count > 1 else { return 0 }
        // Moved out while `delivered` is swept (a closure may not reach `self` meanwhile).
        var newest = newestMessageByNode ?? HashTable()
        newestMessageByNode = nil
        var endedTable = ended
        ended = [:]
        newest.removeAll()
        table.forEach { s, d in
            let node = SenderId(node: s.node, incarnation: 0)
            if d.lastMessageSeq > newest[node, default: 0] { newest[node] = d.lastMessageSeq }
        }
        var n = 0
        table.removeAll { s, d in
            // A later message binding than `lastSeq + L` is another incarnation's: X's own
            // message bindings are at or below its last binding.
            guard d.lastSeq <= UInt64.max - lifetime, let later = newest[SenderId(node: s.node, incarnation: 0)],
                  later > d.lastSeq + lifetime else { return false }
            endedTable.removeValue(forKey: s)
            n += 1
            return true
        }
        ended = endedTable
        newestMessageByNode = newest
        return n
    }

    /// The tables as a checkpoint carries them: sorted by sender.
    var sortedDelivered: [(SenderId, DeliveredStream)] {
        table.entries.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    var sortedEnded: [(SenderId, UInt64)] { ended.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
}
