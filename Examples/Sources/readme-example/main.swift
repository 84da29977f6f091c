import SeqcastClient

// Join the group its file describes as node 41 (any id no other process of the group uses).
let member = try SeqcastMember(configFile: CommandLine.arguments[1], node: 41)
member.onEvent = { event in
    if case .committed(let id, let seq) = event { print("committed \(id) at \(seq)") }
}
let outgoing = ["hello", "world"]
var published = 0
var delivered: [String] = []
while delivered.count < outgoing.count {
    // publish never blocks: .notConnected or .backPressured mean "poll, then try again".
    if published < outgoing.count, case .accepted = member.publish(Array(outgoing[published].utf8)) {
        published += 1
    }
    member.poll(limit: 256, waitingAtMost: .milliseconds(5)) { message in
        delivered.append(String(decoding: message.bytes, as: UTF8.self))  // bytes are borrowed: copy to keep
        print("#\(message.sequence) from node \(message.sender): \(delivered.last!)")
    }
}
member.close()
