import Glibc
import SeqcastWire

/// A node's incarnation on stable storage (protocol.md Part 1 §1): every start takes a number
/// higher than any earlier start's, and a stream that ended moved the node's sender to the next
/// one, which is recorded before its republished messages leave. Without it a restarted
/// publisher would reuse message ids that data servers and members already hold, and its new
/// messages would be dropped as duplicates.
///
/// One small file per node, replaced atomically (write, fsync, rename, fsync the folder).
public struct IncarnationFile: Sendable {
    public let path: String

    public init(directory: String, group: UInt32, node: NodeId) {
        path = "\(directory)/group-\(group)-node-\(node.rawValue).incarnation"
    }

    /// Claims this start's incarnation: above every recorded one and at least `atLeast`.
    public func claim(atLeast: UInt32) throws(NetworkError) -> UInt32 {
        let recorded = read() ?? 0
        guard recorded < UInt32.max else { throw NetworkError("\(path): incarnations exhausted") }
        let next = max(recorded + 1, atLeast)
        try record(next)
        return next
    }

    public func read() -> UInt32? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return UInt32(String(decoding: buffer[..<n], as: UTF8.self).filter(\.isNumber))
    }

    /// Makes `incarnation` durable before returning.
    public func record(_ incarnation: UInt32) throws(NetworkError) {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        if !directory.isEmpty { mkdir(directory, 0o755) }
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw NetworkError("writing \(tmp)", errno: errno) }
        let text = Array("\(incarnation)\n".utf8)
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == text.count, synced == 0 else { throw NetworkError("writing \(tmp)", errno: errno) }
        guard rename(tmp, path) == 0 else { throw NetworkError("renaming \(tmp)", errno: errno) }
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
    }
}
