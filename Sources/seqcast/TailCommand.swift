import ArgumentParser
import Glibc
import SeqcastClient
import SeqcastRuntime
import Synchronization

/// `seqcast tail`: prints the group's committed messages as this member delivers them.
struct TailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print committed messages as they are delivered: sequence number, sender, payload.",
        discussion: """
            Joins the group as a member (node id --node, unique in the group) and prints one line per \
            delivered message: its sequence number, its publisher's node id and its payload (as text when \
            it is printable UTF-8, else as hex; --hex always hex). Starts at the live tail when the group \
            has a checkpoint server (else at the beginning); --from-checkpoint starts at the group's latest \
            checkpoint, --from SEQ after a sequence number printed earlier, --from-beginning at 1. Stops \
            after --count messages, or at SIGINT/SIGTERM.

            Example:
              seqcast tail --config group.yaml --node 42 --from-checkpoint --count 10
            """)

    @OptionGroup var member: MemberJoinOptions
    @Flag(help: "Start at the group's latest checkpoint (a late joiner): every message after it.") var fromCheckpoint = false
    @Flag(help: "Start at sequence number 1 (while the group still retains it).") var fromBeginning = false
    @Option(help: "Resume after this sequence number (the last one printed before).") var from: UInt64?
    @Flag(help: "Payloads as hex.") var hex = false
    @Option(help: "Exit after this many messages.") var count: UInt64?

    func validate() throws {
        if [fromCheckpoint, fromBeginning, from != nil].filter({ $0 }).count > 1 {
            throw ValidationError("give at most one of --from-checkpoint, --from-beginning and --from SEQ")
        }
    }

    func run() throws {
        let start: StartPosition? = fromCheckpoint ? .latestCheckpoint : fromBeginning ? .beginning : from.map { .after($0) }
        let m = try member.open(start: start)
        m.onEvent = { event in
            switch event {
            case .resynchronised(let from, let to):
                logLine("seqcast tail: fell behind what the group retains: messages \(from + 1)…\(to) skipped (checkpoint installed)")
            case .startedFromCheckpoint(let through):
                logLine("seqcast tail: started from the checkpoint after \(through)")
            default: break
            }
        }
        installStopHandlers()
        var printed: UInt64 = 0
        let limit = count ?? .max
        var out = OutputBuffer()
        while !stopRequested.load(ordering: .relaxed), printed < limit, !m.isClosed {
            m.poll(limit: Int(min(256, limit - printed)), waitingAtMost: .milliseconds(50)) { d in
                out.append("\(d.sequence)\t\(d.sender)\t")
                appendPayload(d.bytes, hex: hex, to: &out.bytes)
                out.bytes.append(10)
                printed += 1
            }
            out.flush()
        }
        m.close()
    }
}

/// A payload as text when it is printable UTF-8 (tabs allowed; no other control characters, so
/// a line stays one line), else as hex.
func appendPayload(_ bytes: UnsafeRawBufferPointer, hex: Bool, to out: inout [UInt8]) {
    let printable = !hex && bytes.allSatisfy { $0 >= 0x20 && $0 != 0x7F || $0 == 9 }
        && String(validating: bytes, as: UTF8.self) != nil
    if printable {
        out.append(contentsOf: bytes)
        return
    }
    let digits = Array("0123456789abcdef".utf8)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
}
