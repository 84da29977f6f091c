// The CI performance gate's workload: one hot-path rig (SeqcastRigs) run for a fixed number of
// iterations, its measured part inside `collectedWorkload` so that callgrind counts exactly that
// (`--toggle-collect=*collectedWorkload*`, see scripts/perf-gate). Deterministic: no clock, no
// threads, hashing made deterministic by the caller (SWIFT_DETERMINISTIC_HASHING=1).
//
// Usage: PerfGate <rig> <iterations>; prints "rig units messages" (what the counts divide by).

import Glibc
import SeqcastRigs

/// A rig as the gate runs it: its work per iteration and what one unit stands for.
struct GateRig {
    var run: () -> Void
    var verify: () -> Void
    /// Messages one unit of work carries (a run of 64 messages, one delivered message, …).
    var messagesPerUnit: Int
}

func makeRig(_ name: String) -> GateRig? {
    switch name {
    case "Sequencer-assignRuns-64msg", "Sequencer-assignRuns-1msg":
        let m: UInt64 = name.hasSuffix("64msg") ? 64 : 1
        let rig = SequencerLoad(messagesPerRun: m)
        return GateRig(run: rig.runIteration, verify: { rig.verify(name: name) }, messagesPerUnit: Int(m))
    case "Member-deliver":
        let rig = MemberLoad()
        return GateRig(run: rig.runIteration, verify: rig.verify, messagesPerUnit: 1)
    case "DataServer-storeReport":
        let rig = DataServerLoad()
        return GateRig(run: rig.runIteration, verify: rig.verify, messagesPerUnit: 1)
    case "CommitServer-ack":
        let rig = CommitServerLoad()
        return GateRig(run: rig.runIteration, verify: rig.verify, messagesPerUnit: 64)
    case "Wire-encodeDecode":
        let rig = WireLoad()
        // One unit is a commit datagram of 16 runs of 64 messages.
        return GateRig(run: rig.runIteration, verify: rig.verify, messagesPerUnit: WireLoad.runCount * 64)
    default:
        return nil
    }
}

/// The rig being measured (set once, before the measured call).
nonisolated(unsafe) var measuredRig: GateRig?

/// Everything callgrind counts: `iterations` iterations of the rig, nothing else. Its name is
/// chosen so Swift's mangling keeps it whole (`…17collectedWorkload…`), which is what
/// scripts/perf-gate's `--toggle-collect` pattern matches.
@inline(never) func collectedWorkload(_ iterations: Int) {
    guard let rig = measuredRig else { return }
    for _ in 0..<iterations { rig.run() }
}

let arguments = CommandLine.arguments
guard arguments.count == 3, let rig = makeRig(arguments[1]), let iterations = Int(arguments[2]), iterations > 0 else {
    print("usage: PerfGate <Sequencer-assignRuns-64msg|Sequencer-assignRuns-1msg|Member-deliver|DataServer-storeReport|CommitServer-ack|Wire-encodeDecode> <iterations>")
    exit(2)
}
// Warm up outside the measured function: tables grow to their steady size first.
for _ in 0..<5 { rig.run() }
measuredRig = rig
collectedWorkload(iterations)
rig.verify()
let units = iterations * unitsPerIteration
print("\(arguments[1]) \(units) \(units * rig.messagesPerUnit)")
