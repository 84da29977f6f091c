import CSeqcastShim
import Glibc
import SeqcastCore
import SeqcastNode
import Synchronization

/// Durability `sync`: a role's records in segment files (`LogFrame`s), durable once
/// `fdatasync` returned. The role's thread writes (into the page cache) and a sync thread runs
/// `fdatasync` back to back: every record written while one sync was in flight is covered by
/// the next (group commit), so a busy role pays about one sync per sync time, not per record.
///
/// Truncation appends a marker frame; whole segments behind it go once the marker is durable.
/// A failed `fdatasync` or write stops the process (Syscall's policy): the file's state is then
/// unknown, and nothing it held was acknowledged as durable past the last completed sync.
///
/// Owned by the role's thread; the sync thread shares only `SyncShared`.
public final class FileLogStore: LogStore {
    public let folder: String
    public let segmentBytesMax: Int
    struct Segment {
        var index: UInt64
        var path: String
        var bytes: Int
        /// Highest key of the records it holds (0: none).
        var keyMax: UInt64
    }
    var segments: [Segment]
    var pending: [UInt8] = []
    var pendingTicket: WriteTicket?
    /// Highest key among the pending records (given to the segment they are written into).
    var pendingKeyMax: UInt64 = 0
    /// Batches written, each with the highest ticket and truncation it carried, and where its
    /// segment ended after it.
    var batches: [(batch: UInt64, ticket: WriteTicket?, truncation: UInt64?, segment: Int, end: Int)] = []
    /// Test mode (`SEQCAST_LOG_RECORD_SYNCED=1`): each segment's length known synced is kept in
    /// `<segment>.synced`, so a crash test can cut files back to it (power loss: the page cache
    /// keeps unsynced writes across kill -9, a machine that loses power does not).
    let recordsSyncedLengths = getenv("SEQCAST_LOG_RECORD_SYNCED").map { String(cString: $0) == "1" } ?? false
    var batchesWritten: UInt64 = 0
    var durableBatch: UInt64 = 0
    /// Batches made durable by the sync of a segment closed by `roll`.
    var rolledThrough: UInt64 = 0
    var pendingTruncation: UInt64?
    var reported = WriteTicket(0)
    var durableTicket = WriteTicket(0)
    var appendedMax = WriteTicket(0)
    let shared: SyncShared
    /// The segment being written (the role's thread's own copy: it alone replaces it on a roll).
    var fd: Int32
    var thread = pthread_t()
    /// Counts for the report.
    public private(set) var recordsWritten: UInt64 = 0
    public private(set) var bytesWritten: UInt64 = 0
    public private(set) var segmentsDeleted: UInt64 = 0
    public var syncs: UInt64 { shared.syncs.load(ordering: .relaxed) }

    /// Opens the log in `folder`, recovering its records (see `LogRecovery`). With `create` an
    /// absent folder is made (a new node); without, an absent log is refused (a lost disk).
    public static func open(folder: String, create: Bool, segmentBytesMax: Int = 64 << 20) throws(StorageError)
        -> (store: FileLogStore, recovered: [[UInt8]], tornBytes: Int) {
        let recovery = try LogRecovery.recover(folder: folder, create: create)
        let store = try FileLogStore(folder: folder, segmentBytesMax: segmentBytesMax, recovered: recovery)
        return (store, recovery.records, recovery.tornBytes)
    }

    init(folder: String, segmentBytesMax: Int, recovered r: LogRecovery) throws(StorageError) {
        self.folder = folder
        self.segmentBytesMax = segmentBytesMax
        segments = r.segments.map { Segment(index: $0.index, path: $0.path, bytes: $0.bytes, keyMax: $0.keyMax) }
        // Every life writes into a segment of its own: recovery never appends to a file that a
        // crash may have left with anything after its last whole frame.
        let index = (segments.last?.index ?? 0) + 1
        let path = LogRecovery.segmentPath(folder: folder, index: index)
        let fd = try Self.createSegment(path, folder: folder)
        segments.append(Segment(index: index, path: path, bytes: 0, keyMax: 0))
        self.fd = fd
        shared = SyncShared(fd: fd, path: path)
        let context = Unmanaged.passRetained(shared).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let s = Unmanaged<SyncShared>.fromOpaque(raw!).takeRetainedValue()
            s.main()
            return nil
        }, context)
        guard rc == 0 else { throw StorageError("starting the log's sync thread", path: folder, errno: rc) }
    }

    deinit {
        shared.stop.store(true, ordering: .releasing)
        shared.wake()
        pthread_join(thread, nil)
        close(fd)
    }

    public var durability: String { "sync" }

    /// True while written records wait for a sync: the loop then polls instead of sleeping.
    public var awaitingSync: Bool { durableBatch < batchesWritten || !pending.isEmpty }

    public func append(_ record: UnsafeRawBufferPointer, ticket: WriteTicket, key: UInt64) {
        precondition(ticket > appendedMax, "tickets must rise")
        appendedMax = ticket
        LogFrame.append(kind: .record, key: key, payload: record, to: &pending)
        pendingTicket = ticket
        recordsWritten &+= 1
        pendingKeyMax = max(pendingKeyMax, key)
    }

    public func truncate(through key: UInt64) {
        LogFrame.append(kind: .truncation, key: key, payload: UnsafeRawBufferPointer(start: nil, count: 0), to: &pending)
        pendingTruncation = key
    }

    public func takeDurable() -> WriteTicket? {
        if !pending.isEmpty { writeBatch() }
        stopIfSyncFailed()
        let synced = max(rolledThrough, shared.synced.load(ordering: .acquiring))
        if synced > durableBatch {
            durableBatch = synced
            var truncation: UInt64?
            var k = 0
            while k < batches.count, batches[k].batch <= synced {
                if let t = batches[k].ticket { durableTicket = max(durableTicket, t) }
                if let t = batches[k].truncation { truncation = max(truncation ?? 0, t) }
                k += 1
            }
            if recordsSyncedLengths, k > 0 { recordSynced(segment: batches[k - 1].segment, length: batches[k - 1].end) }
            batches.removeFirst(k)
            if let t = truncation { deleteSegments(through: t) }
        }
        guard durableTicket > reported else { return nil }
        reported = durableTicket
        return durableTicket
    }

    /// Writes what was appended since the last batch and asks the sync thread for a sync.
    func writeBatch() {
        let current = segments.count - 1
        if segments[current].bytes > 0, segments[current].bytes + pending.count > segmentBytesMax { roll() }
        let path = segments[segments.count - 1].path
        do {
            try Syscall.writeAll(fd, pending, path: path)
        } catch {
            fatalError("\(error): stopping (records after the last completed sync were never acknowledged)")
        }
        bytesWritten &+= UInt64(pending.count)
        segments[segments.count - 1].bytes += pending.count
        segments[segments.count - 1].keyMax = max(segments[segments.count - 1].keyMax, pendingKeyMax)
        pendingKeyMax = 0
        pending.removeAll(keepingCapacity: true)
        batchesWritten += 1
        let segment = segments[segments.count - 1]
        batches.append((batchesWritten, pendingTicket, pendingTruncation, Int(segment.index), segment.bytes))
        pendingTicket = nil
        pendingTruncation = nil
        shared.requested.store(batchesWritten, ordering: .releasing)
        shared.wake()
    }

    /// Closes the current segment (synced here, so everything in it is durable) and starts the next.
    func roll() {
        let old = segments[segments.count - 1]
        // Linux reports a writeback error once per open file: if the sync thread's fdatasync is
        // in flight and gets it, ours could return 0. Wait for it, sync, then check its outcome.
        while shared.target.withLock({ $0.inFlight }) { usleep(50) }
        Syscall.syncOrStop(fd, path: old.path)
        stopIfSyncFailed()
        if recordsSyncedLengths { recordSynced(segment: Int(old.index), length: old.bytes) }
        // Everything written so far is durable: the next takeDurable reports it.
        rolledThrough = batchesWritten
        let index = old.index + 1
        let path = LogRecovery.segmentPath(folder: folder, index: index)
        do { fd = try Self.createSegment(path, folder: folder) } catch { fatalError("\(error): stopping") }
        segments.append(Segment(index: index, path: path, bytes: 0, keyMax: 0))
        shared.replace(fd: fd, path: path)
    }

    /// A failed fdatasync stops the process (an atomic flag per drain; the message under a lock
    /// only once it is set).
    @inline(__always) func stopIfSyncFailed() {
        guard shared.failed.load(ordering: .acquiring) else { return }
        let failure = shared.failure.withLock { $0 } ?? "unknown"
        fatalError("fdatasync \(failure): the log's state on disk is unknown, stopping")
    }

    func recordSynced(segment: Int, length: Int) {
        let path = LogRecovery.segmentPath(folder: folder, index: UInt64(segment)) + ".synced"
        try? SmallFile.write("\(length)\n", to: path)
    }

    /// Deletes closed segments whose every record is at or below `key` (the marker is durable).
    func deleteSegments(through key: UInt64) {
        while segments.count > 1, segments[0].keyMax <= key {
            unlink(segments[0].path)
            if recordsSyncedLengths { unlink(segments[0].path + ".synced") }
            segments.removeFirst()
            segmentsDeleted &+= 1
        }
    }

    public var segmentCount: Int { segments.count }
    public var diskBytes: Int { segments.reduce(0) { $0 + $1.bytes } }

    static func createSegment(_ path: String, folder: String) throws(StorageError) -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError("create", path: path, errno: errno) }
        // The new file's name is durable only once its folder is.
        let dir = Glibc.open(folder, O_RDONLY | O_DIRECTORY)
        guard dir >= 0 else { throw StorageError("open", path: folder, errno: errno) }
        Syscall.syncOrStop(dir, path: folder)
        close(dir)
        return fd
    }
}

/// What the role's thread and the sync thread share.
final class SyncShared: @unchecked Sendable {
    /// Batches written (role's thread) and synced (sync thread).
    let requested = Atomic<UInt64>(0)
    let synced = Atomic<UInt64>(0)
    let syncs = Atomic<UInt64>(0)
    let stop = Atomic<Bool>(false)
    let failure = Mutex<String?>(nil)
    let failed = Atomic<Bool>(false)
    /// The futex word the sync thread sleeps on; bumped by every wake.
    let word = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
    /// The segment being written, and whether a sync of it is in flight (a replaced descriptor
    /// is closed only once no sync uses it).
    struct Target {
        var fd: Int32
        var path: String
        var inFlight = false
        var retired: [Int32] = []
    }
    let target: Mutex<Target>

    init(fd: Int32, path: String) {
        word.initialize(to: 0)
        target = Mutex(Target(fd: fd, path: path))
    }

    deinit { word.deallocate() }

    func wake() {
        _ = seqcast_atomic_increment_u32(word)
        _ = seqcast_futex_wake(word, 1)
    }

    func replace(fd: Int32, path: String) {
        target.withLock { t in
            if t.inFlight { t.retired.append(t.fd) } else { close(t.fd) }
            t.fd = fd
            t.path = path
        }
    }

    func main() {
        var done: UInt64 = 0
        while true {
            let seen = seqcast_atomic_load_u32(word)
            let wanted = requested.load(ordering: .acquiring)
            if wanted > done {
                let (fd, path) = target.withLock { t in
                    t.inFlight = true
                    return (t.fd, t.path)
                }
                var rc: Int32
                repeat { rc = fdatasync(fd) } while rc != 0 && errno == EINTR
                let e = errno
                target.withLock { t in
                    t.inFlight = false
                    for r in t.retired { close(r) }
                    t.retired.removeAll()
                }
                if rc != 0 {
                    failure.withLock { $0 = "\(path): \(String(cString: strerror(e)))" }
                    failed.store(true, ordering: .releasing)
                    return  // the role's thread stops the process at its next takeDurable
                }
                done = wanted
                syncs.add(1, ordering: .relaxed)
                synced.store(done, ordering: .releasing)
                continue
            }
            if stop.load(ordering: .acquiring) { return }
            _ = seqcast_futex_wait(word, seen, 100_000_000)
        }
    }
}

/// A storage failure a person must act on: names the file, what was found, and what to do.
public struct StorageError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
    init(_ operation: String, path: String, errno code: Int32) {
        description = "\(operation) \(path): \(String(cString: strerror(code)))"
    }
}
