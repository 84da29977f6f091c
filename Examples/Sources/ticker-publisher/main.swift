import Glibc
import MarketData
import SeqcastClient

// ticker-publisher GROUP-FILE NODE COUNT: publishes COUNT ticks over a few symbols as fast as
// back-pressure allows, waits until every one is committed, and prints the last sequence number.
let arguments = CommandLine.arguments
guard arguments.count == 4, let node = UInt32(arguments[2]), let count = UInt64(arguments[3]) else {
    print("usage: ticker-publisher GROUP-FILE NODE COUNT")
    exit(2)
}
let symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOG"]
let member = try SeqcastMember(configFile: arguments[1], node: node, options: {
    var o = SeqcastMember.Options()
    o.start = .liveTail  // a publisher needs no history
    return o
}())
var lastCommitted: UInt64 = 0
member.onEvent = { if case .committed(_, let seq) = $0 { lastCommitted = seq } }
var number: UInt64 = 1
while number <= count {
    let symbol = symbols[Int(number % UInt64(symbols.count))]
    let price = 1_000_000 + Int64(number % 997) * 25
    switch member.publish(Tick(symbol: symbol, price: price, number: number).bytes) {
    case .accepted: number += 1
    case .backPressured, .notConnected: member.poll(limit: 1_024, waitingAtMost: .milliseconds(1)) { _ in }
    case .tooLarge, .closed: fatalError("the group refused a tick")
    }
}
guard member.flush(timeout: .seconds(60)) else {
    print("ticker-publisher: \(member.unsequencedCount) ticks not committed")
    exit(1)
}
print("ticker-publisher: published \(count) ticks as \(member.sender), last committed at \(lastCommitted)")
member.close()
