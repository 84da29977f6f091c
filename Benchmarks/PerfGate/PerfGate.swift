// The CI performance gate's workload: one hot-path rig (SeqcastRigs) run for a fixed number of
// iterations, its measured part inside `collectedWorkload` so that callgrind counts exactly that
// (`--toggle-collect=*collectedWorkload*`, see scripts/perf-gate). Deterministic: no clock, no
// threads, hashing made deterministic by the caller (SWIFT_DETERMINISTIC_HASHING=1).
//
// Usage: PerfGate <rig> <iterations>; prints "rig units messages" (what the counts divide by).
// PerfGate --list names the rigs (SeqcastRigs' catalogue).

import Glibc
import SeqcastRigs

/// The rig being measured (set once, before the measured call).
nonisolated(unsafe) var measuredRig: RigRun?

/// Everything callgrind counts: `iterations` iterations of the rig, nothing else. Its name is
/// chosen so Swift's mangling keeps it whole (`…17collectedWorkload…`), which is what
/// scripts/perf-gate's `--toggle-collect` pattern matches.
@inline(never) func collectedWorkload(_ iterations: Int) {
    guard let rig = measuredRig else { return }
    for _ in 0..<iterations { rig.iterate() }
}

let arguments = CommandLine.arguments
if arguments.count == 2, arguments[1] == "--list" {
    for rig in rigCatalogue { print(rig.name) }
    exit(0)
}
guard arguments.count == 3, let entry = rigCatalogue.first(where: { $0.name == arguments[1] }),
      let iterations = Int(arguments[2]), iterations > 0 else {
    print("usage: PerfGate --list | PerfGate <rig> <iterations>")
    exit(2)
}
let rig = entry.make()
// Warm up outside the measured function: tables grow to their steady size first.
for _ in 0..<5 { rig.iterate() }
measuredRig = rig
collectedWorkload(iterations)
rig.verify()
let units = iterations * unitsPerIteration
print("\(entry.name) \(units) \(units * entry.messagesPerUnit)")
