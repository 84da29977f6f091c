import Glibc
import SeqcastWire

/// A node's incarnation on stable storage (protocol.md Part 1 §1): every start takes a number
/// higher than any earlier start's, and a stream that ended moved the node's sender to the next
/// one, which is recorded before its republished messages leave. Without it a restarted
/// publisher would reuse message ids that data servers and members already hold, and its new
/// messages would be dropped as duplicates.
///
/// One small file per node, in its data folder (`SmallFile`, durable: fsync of the file and its folder).
public struct IncarnationFile: Sendable {
    public let path: String

    /// The file in a node's data folder (`DataFolder.incarnationPath`).
    public init(path: String) { self.path = path }

    /// Claims this start's incarnation: above every recorded one and at least `atLeast`.
    public func claim(atLeast: UInt32) throws(FileError) -> UInt32 {
        let recorded = read() ?? 0
        guard recorded < UInt32.max else { throw FileError("claim an incarnation (all used)", path: path, errno: ERANGE) }
        let next = max(recorded + 1, atLeast)
        try record(next)
        return next
    }

    public func read() -> UInt32? {
        SmallFile.readNumber(path).flatMap { UInt32(exactly: $0) }
    }

    /// Makes `incarnation` durable before returning.
    public func record(_ incarnation: UInt32) throws(FileError) {
        try SmallFile.write("\(incarnation)\n", to: path, durable: true)
    }
}
