import Glibc

/// A small text file replaced atomically (write a temporary, rename), so a reader in another
/// process never sees half of it: the benchmark's hand-offs (published counts, the expected
/// total, reports) and, with `durable`, a node's incarnation (fsync of the file and its folder).
public enum SmallFile {
    /// The file's text, or nil while it is absent or empty (reads at most 4 KiB).
    public static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4_096)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
    }

    /// The decimal number the file holds, or nil.
    public static func readNumber(_ path: String) -> UInt64? {
        read(path).flatMap { UInt64($0.filter(\.isNumber)) }
    }

    public static func write(_ text: String, to path: String, durable: Bool = false) throws(NetworkError) {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if durable, !directory.isEmpty { mkdir(directory, 0o755) }
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw NetworkError("writing \(tmp)", errno: errno) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = durable ? fsync(fd) : 0
        close(fd)
        guard written == bytes.count, synced == 0 else { throw NetworkError("writing \(tmp)", errno: errno) }
        guard rename(tmp, path) == 0 else { throw NetworkError("renaming \(tmp)", errno: errno) }
        guard durable else { return }
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            close(dirfd)
        }
    }
}
