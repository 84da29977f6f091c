import Testing
@testable import SeqcastCore
import SeqcastWire

/// `RunQueue.insert` against a model that binds each number on its own: random runs in random
/// order, overlapping and adjacent, must leave sorted, non-overlapping runs that bind every
/// number exactly as the first run to cover it did, and count every differing re-binding.
@Suite("RunQueue")
struct RunQueueTests {
    @Test("insert keeps the first binding of every number, sorted and without overlap", arguments: 1...200)
    func insertMatchesModel(seed: UInt64) {
        var prng = Prng(seed: seed)
        var queue = RunQueue()
        var model: [UInt64: SequenceRun.Content] = [:]
        var conflictsExpected = 0
        let sender = SenderId(rawValue: 7)
        for _ in 0..<40 {
            let first = 1 + prng.below(120)
            let count = UInt32(1 + prng.below(12))
            // Bindings mostly agree with one "truth" (counter = seq), sometimes not.
            let shift = prng.chance(1, in: 6) ? 1000 : 0
            let content: SequenceRun.Content = prng.chance(1, in: 8)
                ? .noop : .messages(sender: sender, firstCounter: first + UInt64(shift))
            let run = SequenceRun(firstSeq: SequenceNumber(first), count: count, content: content)
            for k in 0..<UInt64(count) {
                let c = run.slice(from: SequenceNumber(first + k), through: SequenceNumber(first + k)).content
                if let held = model[first + k] {
                    if held != c { conflictsExpected += 1 }
                } else {
                    model[first + k] = c
                }
            }
            let conflicts = queue.insert(run)
            conflictsExpected -= conflicts
            #expect(conflictsExpected == 0, "conflicts counted differently")
            conflictsExpected = 0
        }
        var previousLast: UInt64 = 0
        var covered = 0
        for i in 0..<queue.count {
            let r = queue[i]
            #expect(r.firstSeq.rawValue > previousLast, "runs overlap or are out of order")
            previousLast = r.lastSeq.rawValue
            for s in r.firstSeq.rawValue...r.lastSeq.rawValue {
                #expect(model[s] == r.slice(from: SequenceNumber(s), through: SequenceNumber(s)).content)
                covered += 1
            }
        }
        #expect(covered == model.count, "every bound number is held once")
    }

    @Test("removeThrough drops numbers at or below, keeping the rest")
    func removeThrough() {
        var q = RunQueue()
        let s = SenderId(rawValue: 1)
        q.append(SequenceRun(firstSeq: SequenceNumber(1), count: 10, content: .messages(sender: s, firstCounter: 1)))
        q.append(SequenceRun(firstSeq: SequenceNumber(11), count: 1, content: .noop))
        q.removeThrough(SequenceNumber(4))
        #expect(q.first == SequenceRun(firstSeq: SequenceNumber(5), count: 6, content: .messages(sender: s, firstCounter: 5)))
        q.removeThrough(SequenceNumber(11))
        #expect(q.isEmpty)
    }
}
