import ArgumentParser
import Glibc
import SeqcastClient
import SeqcastRuntime
import Synchronization

/// `seqcast publish`: standard input, one message per line (or per length-prefixed record),
/// each printed with its sequence number once the group committed it.
struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish each line of standard input as a message; print each one's sequence number as it commits.",
        discussion: """
            Joins the group as a member (node id --node, unique in the group) and publishes every line read \
            from standard input (without its newline) as one message, in order. Each committed message is \
            printed as its sequence number, a tab and the line. At the end of input it waits until every \
            message is committed (at most --timeout seconds) and exits 0, or 1 if some were not.

            Example:
              printf 'hello\\nworld\\n' | seqcast publish --config group.yaml --node 41
            """)

    @OptionGroup var member: MemberJoinOptions
    @Flag(help: "Print nothing per message.") var quiet = false
    @Flag(help: "Read records framed by a 4-byte big-endian length instead of lines.") var lengthPrefixed = false
    @Option(help: "Seconds to wait at the end of input for the last messages to commit.") var timeout = 30.0

    func run() throws {
        let m = try member.open(start: nil)
        var input = StandardInputRecords(lengthPrefixed: lengthPrefixed)
        // Lines accepted and not yet committed, by message id (a stream's end moves the
        // unsequenced ones to the next incarnation, counters renumbered from 1; a checkpoint
        // that covers some leaves them unprinted, never mislabelled).
        var awaiting: [MessageId: [UInt8]] = [:]
        var failed = false
        var out = OutputBuffer()
        m.onEvent = { event in
            switch event {
            case .committed(let id, let seq):
                guard let line = awaiting.removeValue(forKey: id) else { return }
                if !quiet {
                    out.append("\(seq)\t")
                    out.bytes.append(contentsOf: line)
                    out.bytes.append(10)
                }
            case .streamEnded(let ended, let last, let next, let moved):
                var carried: [MessageId: [UInt8]] = [:]
                for (id, line) in awaiting where id.sender == ended && id.counter > last {
                    carried[MessageId(sender: next, counter: id.counter - last)] = line
                }
                awaiting = awaiting.filter { $0.key.sender != ended }.merging(carried) { a, _ in a }
                logLine("seqcast publish: stream \(ended) ended; \(moved) unsequenced messages continue as \(next)")
            default: break
            }
        }
        installStopHandlers()
        var next: [UInt8]? = nil
        while !stopRequested.load(ordering: .relaxed) {
            if next == nil { next = input.next() }
            guard let record = next else {
                if input.ended { break }
                m.poll(limit: 1_024, waitingAtMost: .milliseconds(2)) { _ in }
                out.flush()
                continue
            }
            switch m.publish(record) {
            case .accepted(let id):
                awaiting[id] = record
                next = nil
                continue
            case .backPressured, .notConnected:
                m.poll(limit: 1_024, waitingAtMost: .milliseconds(1)) { _ in }
                out.flush()
            case .tooLarge:
                let why = m.feed.map { "one MoldUDP64 packet of the feed's packet-bytes \($0.packetBytes) holds" }
                    ?? "the group's largest message"
                logLine("seqcast publish: a record of \(record.count) bytes is refused: at most \(m.largestMessageBytes) bytes, \(why); skipped")
                failed = true
                next = nil
            case .closed:
                throw ExitCode.failure
            }
            if input.ended, next == nil { break }
        }
        let allCommitted = m.flush(timeout: .milliseconds(Int64(timeout * 1_000)))
        out.flush()
        if !allCommitted {
            logLine("seqcast publish: \(m.unsequencedCount) messages were not committed within \(timeout) s")
        }
        m.close()
        if !allCommitted || failed { throw ExitCode.failure }
    }
}
