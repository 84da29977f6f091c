// Benchmarks of Seqcast's hot paths, driven exactly as a driver drives the sans-IO roles:
// datagrams in through `receive`, storage writes acknowledged through `persisted`, outputs
// drained after every input. Run with `scripts/bench` from the repository root.
//
// Every benchmark does 1,000 units of work per measured iteration (scalingFactor .kilo), so the
// default table shows wall clock and mallocs PER UNIT (the "*" columns) and throughput in
// thousands of units per second. Pass `--scale` to see the raw per-iteration (1,000-unit)
// figures instead; that is how a fraction of a malloc per unit becomes visible.
//
// Units:
// - Sequencer-assignRuns-*: one run numbered, persisted, submitted to 3 commit servers,
//   acknowledged by 2 and committed. 20 senders per data report, 50 reports per iteration.
//   The -64msg variant binds 64 messages per run (messages/s = runs/s x 64), the -1msg variant
//   one: equal runs/s shows the work is per run, not per message.
// - Member-deliver: one 64-byte message received, bound by a commit and delivered to the
//   reference application. 20 messages per data datagram, 50 datagram pairs per iteration.
// - Embedded-deliver: the same, delivered through SeqcastClient's application to a poll's
//   handler that borrows each message (what `SeqcastMember.poll` adds per delivery). No
//   allocation per delivery; about one per poll (1.3 per 20-message poll, 0.0645 per message
//   in the gate's baseline): making the caller's non-escaping handler storable for the poll
//   (withoutActuallyEscaping) costs a small heap object. Not yet removed: see the issue note.
// - Wire-encodeDecode: one 16-run commit datagram encoded into a preallocated buffer and
//   decoded again (runs iterated).
//
// Inputs are encoded once in setup and only their rising fields (counters, sequence numbers,
// frontiers) are patched in place per step, so measured time is the role's work, not encoding.
// Each benchmark checks its role made the expected progress (precondition), so a broken setup
// cannot silently measure nothing.

import Benchmark
import SeqcastCore
import SeqcastRigs
import SeqcastWire

// MARK: - common

func configuration(maxSeconds: Int64 = 8) -> Benchmark.Configuration {
    .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
          warmupIterations: 20,
          scalingFactor: .kilo,
          maxDuration: .seconds(maxSeconds),
          maxIterations: 1_000_000)
}

/// Holds a benchmark's state from its setup hook to its teardown hook, so nothing is built
/// for benchmarks that are filtered out or only listed.
final class Slot<T> {
    var value: T?
}

// MARK: - registration

func register(_ rig: RigEntry) {
    let slot = Slot<RigRun>()
    Benchmark(rig.name, configuration: configuration(maxSeconds: rig.maxSeconds)) { _ in
        slot.value!.iterate()
    } setup: {
        slot.value = rig.make()
    } teardown: {
        slot.value!.verify()
        slot.value = nil
    }
}

let benchmarks: @Sendable () -> Void = {
    for rig in rigCatalogue { register(rig) }
}
