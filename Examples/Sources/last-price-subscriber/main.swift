import Glibc
import MarketData
import SeqcastClient

// last-price-subscriber GROUP-FILE NODE PUBLISHER LAST-TICK [--from-checkpoint]: keeps the last
// price of every symbol, checks that sequence numbers rise and that the publisher's ticks are
// continuous, and prints the table once it has seen tick LAST-TICK of node PUBLISHER. Listed as
// the group's checkpoint server (LAST-TICK 0: run until SIGTERM), it takes the group's checkpoints
// of this state, which a late subscriber (--from-checkpoint) starts from.
let arguments = CommandLine.arguments
guard arguments.count >= 5, let node = UInt32(arguments[2]), let publisher = UInt32(arguments[3]),
      let lastTick = UInt64(arguments[4]) else {
    print("usage: last-price-subscriber GROUP-FILE NODE PUBLISHER LAST-TICK [--from-checkpoint]")
    exit(2)
}
let state = LastPrices()
var options = SeqcastMember.Options()
options.state = state
options.start = arguments.contains("--from-checkpoint") ? .latestCheckpoint : .beginning
let member = try SeqcastMember(configFile: arguments[1], node: node, options: options)
member.onEvent = { event in
    switch event {
    case .startedFromCheckpoint(let through): print("started from the checkpoint after \(through): \(state.prices.count) prices")
    case .resynchronised(let from, let to): print("resynchronised from \(from) to \(to)")
    default: break
    }
}
signal(SIGTERM, SIG_DFL)
while lastTick == 0 || state.lastTick[publisher, default: 0] < lastTick {
    member.poll(limit: 256, waitingAtMost: .milliseconds(10)) { state.apply($0) }
}
print(state.table)
print("applied \(state.applied) ticks here, through sequence \(state.lastSequence); continuity: \(state.gaps == 0 ? "ok" : "\(state.gaps) gaps")")
member.close()
exit(state.gaps == 0 ? 0 : 1)
