import Glibc
import Logging
import SeqcastClient
import SeqcastService
import ServiceLifecycle

// service-example GROUP-FILE NODE COUNT: a member as a Service in a ServiceGroup; publishes
// COUNT messages with `await publish`, reads `deliveries` until it has its own COUNT messages
// back (in order, each once), then shuts the group down gracefully.
let arguments = CommandLine.arguments
guard arguments.count == 4, let node = UInt32(arguments[2]), let count = Int(arguments[3]) else {
    print("usage: service-example GROUP-FILE NODE COUNT")
    exit(2)
}
let path = arguments[1]
// The member's notices on stderr, unbuffered (a failure's reason must not die in a buffer).
LoggingSystem.bootstrap(StreamLogHandler.standardError)
let feed = SeqcastMemberService {
    do {
        return try SeqcastMember(configFile: path, node: node)
    } catch {
        // Said here: the refused publishes that follow say no more than "closed".
        Logger(label: "service-example").error("the member did not start: \(error)")
        throw error
    }
}
let group = ServiceGroup(services: [feed], logger: Logger(label: "service-example"))
try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await group.run() }
    tasks.addTask {
        for i in 1...count {
            let outcome = await feed.publish(Array("message \(i)".utf8))
            guard case .accepted = outcome else { fatalError("publish \(i) refused: \(outcome)") }
        }
    }
    var mine: [String] = []
    var last: UInt64 = 0
    for await d in feed.deliveries {
        precondition(d.sequence > last, "sequence numbers must rise")
        last = d.sequence
        if d.sender == node { mine.append(String(decoding: d.bytes, as: UTF8.self)) }
        if mine.count == count { break }
    }
    guard mine == (1...count).map({ "message \($0)" }) else { fatalError("own messages out of order or missing: \(mine.prefix(5))") }
    print("service-example: published \(count) messages with await publish and read them back in order through deliveries")
    await group.triggerGracefulShutdown()
    try await tasks.waitForAll()
    print("service-example: the service group shut down gracefully")
}
