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
        let n: Int?? = buffer.withUnsafeMutableBytes { b in
            try? Syscall.retrying("read", path: path) { Glibc.read(fd, b.baseAddress, b.count) }
        }
        guard let count = n ?? nil, count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }

    /// The decimal number the file holds, or nil.
    public static func readNumber(_ path: String) -> UInt64? {
        read(path).flatMap { UInt64($0.filter(\.isNumber)) }
    }

    public static func write(_ text: String, to path: String, durable: Bool = false) throws(FileError) {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if durable, !directory.isEmpty { mkdir(directory, 0o755) }
        let tmp = path + ".tmp"
        guard let fd = try Syscall.retrying("open", path: tmp, { Int(open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)) })
        else { throw FileError("open", path: tmp, errno: EAGAIN) }
        defer { close(Int32(fd)) }
        try Syscall.writeAll(Int32(fd), Array(text.utf8), path: tmp)
        if durable { Syscall.syncOrStop(Int32(fd), path: tmp) }
        _ = try Syscall.retrying("rename", path: tmp) { Int(rename(tmp, path)) }
        guard durable else { return }
        // The rename is durable only once the folder is.
        let folder = directory.isEmpty ? "." : directory
        guard let dirfd = try Syscall.retrying("open", path: folder, { Int(open(folder, O_RDONLY)) })
        else { throw FileError("open", path: folder, errno: EAGAIN) }
        defer { close(Int32(dirfd)) }
        Syscall.syncOrStop(Int32(dirfd), path: folder)
    }
}
