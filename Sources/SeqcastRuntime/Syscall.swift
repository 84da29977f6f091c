import Glibc

/// The one policy for system-call errors in the runtime (swift-nio's `NIOPosix/System.swift`):
/// - `EINTR`: the call is retried;
/// - `EAGAIN`/`EWOULDBLOCK`: a normal outcome (`nil`), never an error;
/// - `EBADF`, `EFAULT`, `EINVAL` on a descriptor we own: our bug, so it traps;
/// - a failed `fsync`/`fdatasync`: fatal. After a failed sync the kernel may have dropped the
///   dirty pages, so the file's state is unknown and a retry that "succeeds" would lie
///   (PostgreSQL's fsyncgate); the process stops with the path and the error;
/// - anything else is thrown, as a `FileError` for files (never a network error).
/// Packet I/O goes through the C shim, which applies the same rules in C (`seqcast_shim.h`).
enum Syscall {
    /// Runs `body` (a call returning -1 and setting errno on failure), retrying on EINTR.
    /// Returns nil for EAGAIN; traps on errors that mean a bug; throws the rest.
    static func retrying(_ operation: String, path: String,
                         _ body: () -> Int) throws(FileError) -> Int? {
        while true {
            let r = body()
            if r >= 0 { return r }
            let e = errno
            switch e {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return nil
            case EBADF, EFAULT: preconditionFailure("\(operation) \(path): \(String(cString: strerror(e))) (a bug)")
            default: throw FileError(operation, path: path, errno: e)
            }
        }
    }

    /// Writes all of `bytes` (short writes continue where they stopped).
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(FileError) {
        var offset = 0
        while offset < bytes.count {
            // `withUnsafeBytes` rethrows untyped errors: carry the typed one out as a value.
            let n: Result<Int?, FileError> = bytes.withUnsafeBytes { b in
                Result { () throws(FileError) in
                    try retrying("write", path: path) { Glibc.write(fd, b.baseAddress! + offset, b.count - offset) }
                }
            }
            guard let written = try n.get() else { continue }  // a blocking file descriptor: not expected, retry
            offset += written
        }
    }

    /// Makes `fd`'s data durable, or stops the process (see the policy above).
    static func syncOrStop(_ fd: Int32, path: String) {
        while fsync(fd) != 0 {
            let e = errno
            if e == EINTR { continue }
            fatalError("fsync \(path) failed: \(String(cString: strerror(e))); its state on disk is unknown, stopping")
        }
    }
}

/// A file operation that failed, with the path and the system's reason.
public struct FileError: Error, CustomStringConvertible, Equatable {
    public var operation: String
    public var path: String
    public var code: Int32
    public init(_ operation: String, path: String, errno code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }
    public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}
