import ArgumentParser
import Glibc
import SeqcastRuntime

/// `seqcast log inspect DIR`: what a node's log holds, read only (STORAGE.md), for an operator
/// deciding what to do with a node that refuses to start.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "Read a node's log.", subcommands: [Inspect.self])

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Summarise a log folder (DATA-DIR/log) without changing it: segments, records, damage, and how long recovery takes.",
            discussion: """
                Examples:
                  seqcast log inspect data/31
                """)
        @Argument(help: "The log folder, or a node's data folder.") var folder: String

        func run() throws {
            var path = folder
            var st = stat()
            if stat(path + "/log", &st) == 0 { path += "/log" }
            let started = monotonicNanos()
            let segments: [LogRecovery.SegmentSummary]
            do { segments = try LogRecovery.inspect(folder: path) } catch { throw ValidationError(error.description) }
            let scanned = monotonicNanos()
            var records = 0
            for s in segments {
                records += s.records
                var line = "\(s.path): \(s.bytes) bytes, \(s.records) records, \(s.markers) truncation markers, keys to \(s.keyMax)"
                switch s.damage {
                case nil: break
                case .tornTail(let offset)?: line += "; torn tail at byte \(offset) (a restart cuts it if this is the last segment)"
                case .corrupt(let offset, let next, let reason)?:
                    line += "; CORRUPT record at byte \(offset) (\(reason)), valid records from byte \(next): a restart refuses"
                }
                print(line)
            }
            print("\(segments.count) segments, \(records) records, read and checked in "
                + "\(String(format: "%.3f", Double(scanned - started) / 1e9)) s")
        }
    }
}
