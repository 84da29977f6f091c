import ArgumentParser
import SeqcastClient
import SeqcastConfig
import SeqcastNode
import Glibc
import Logging

/// How `seqcast publish` and `seqcast tail` join a group: as a member through the library
/// (`SeqcastMember`), with the group's file and a node id of their own.
struct MemberJoinOptions: ParsableArguments {
    @Option(help: "The group configuration file (the same for every process of the group).") var config: String
    @Option(help: "This member's node id: any id no other process of the group uses (members need not be listed in the file).")
    var node: UInt32
    @Option(help: "Where data folders live unless --data-dir is given (<state-dir>/<group name>-<node>).")
    var stateDir = "/var/tmp/seqcast"
    @Option(help: "This member's data folder (its incarnation); made on the first start.") var dataDir: String?
    @Option(help: "This node's multicast interface address, if not the file's.") var interface: String?
    @Option(help: "io_uring, sendmmsg, or auto.") var transport = "auto"
    @Option(help: "Lowest level logged to stderr: trace, debug, info, notice, warning, error, critical.")
    var logLevel = Logger.Level.info

    /// Joins the group; `start` nil: the live tail if the group has a checkpoint server (no
    /// history replayed), else from the beginning.
    func open(start: StartPosition?, state: ApplicationState? = nil) throws -> SeqcastMember {
        let layout: GroupLayout
        do {
            layout = try GroupFile.load(path: config)
        } catch {
            throw ValidationError("\(error)")
        }
        var o = options(start: start ?? (layout.ids(.checkpointServer).isEmpty ? .beginning : .liveTail))
        o.state = state
        return try SeqcastMember(layout: layout, node: node, options: o)
    }

    func options(start: StartPosition) -> SeqcastMember.Options {
        var o = SeqcastMember.Options()
        o.start = start
        o.stateDirectory = stateDir
        o.dataDirectory = dataDir
        o.interfaceAddress = interface
        o.transport = transport
        bootstrapLogging(level: logLevel)
        o.logger = Logger(label: "seqcast[member \(node)]")
        return o
    }
}

/// Standard output, buffered here and written once per poll (not once per message).
struct OutputBuffer {
    var bytes: [UInt8] = []
    init() { bytes.reserveCapacity(64 * 1024) }
    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }
    mutating func flush() {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        bytes.removeAll(keepingCapacity: true)
    }
}

/// Records from standard input without blocking: lines (newline removed), or records framed
/// by a 4-byte big-endian length. `next()` is nil when no whole record is available now.
struct StandardInputRecords {
    let lengthPrefixed: Bool
    var buffer: [UInt8] = []
    var start = 0
    private(set) var ended = false
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)

    init(lengthPrefixed: Bool) { self.lengthPrefixed = lengthPrefixed }

    mutating func next() -> [UInt8]? {
        if let r = take() { return r }
        guard !ended else { return takeRest() }
        var p = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&p, 1, 0) > 0 else { return nil }
        let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n <= 0 {
            ended = true
            return takeRest()
        }
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: chunk[..<n])
        return take()
    }

    mutating func take() -> [UInt8]? {
        if lengthPrefixed {
            guard buffer.count - start >= 4 else { return nil }
            let b = buffer[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
            guard buffer.count - start - 4 >= b else { return nil }
            defer { start += 4 + b }
            return Array(buffer[start + 4..<start + 4 + b])
        }
        guard let nl = buffer[start...].firstIndex(of: 10) else { return nil }
        defer { start = nl + 1 }
        return Array(buffer[start..<nl])
    }

    /// At the end of input: a last line without its newline is a record; a torn length-prefixed
    /// record is not (said once).
    mutating func takeRest() -> [UInt8]? {
        guard start < buffer.count else { return nil }
        defer { start = buffer.count }
        if lengthPrefixed {
            logLine("seqcast publish: input ended inside a record (\(buffer.count - start) bytes); not published")
            return nil
        }
        return Array(buffer[start...])
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Every logger of this process writes to stderr (swift-log's stream handler) from `level` up.
func bootstrapLogging(level: Logger.Level) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}
