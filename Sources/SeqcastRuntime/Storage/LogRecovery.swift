import Glibc

/// Reads a log folder back after a restart (STORAGE.md): every segment in order, every frame
/// checked. The last segment may end in a torn write (a crash while writing): it is cut back to
/// its last whole frame and recovery goes on. Anything else (a bad frame with valid frames after
/// it, a damaged segment that is not the last) is refused with the file and offset, never
/// skipped and never truncated: those records may have been acknowledged.
///
/// Truncation markers apply to the records before them: a record whose key is at or below a
/// later marker's is not returned (its segment may still exist until it fills).
public struct LogRecovery {
    struct SegmentFile {
        var index: UInt64
        var path: String
        var bytes: Int
        var keyMax: UInt64
    }
    var segments: [SegmentFile] = []
    var records: [[UInt8]] = []
    /// Bytes cut from the last segment's torn tail (0: none).
    var tornBytes = 0

    static func segmentPath(folder: String, index: UInt64) -> String {
        let digits = String(index)
        return "\(folder)/\(String(repeating: "0", count: max(0, 20 - digits.count)))\(digits).log"
    }

    static func recover(folder: String, create: Bool) throws(StorageError) -> LogRecovery {
        if create {
            if mkdir(folder, 0o755) != 0, errno != EEXIST { throw StorageError("create", path: folder, errno: errno) }
        } else {
            var st = stat()
            guard stat(folder, &st) == 0 else {
                throw StorageError("\(folder): the log is missing (\(String(cString: strerror(errno)))); refusing to start "
                    + "empty on a group that has history. Restore the folder, or re-create the node with --init on an "
                    + "empty folder (a sequencer must then wait for fail-over, which is not built yet)")
            }
        }
        var r = LogRecovery()
        let indexes = try segmentIndexes(folder)
        // Records and markers in log order; the markers are applied afterwards, in one pass
        // from the end (a marker per checkpoint over 10^6 records must not cost 10^6 each).
        var found: [(key: UInt64, bytes: [UInt8]?)] = []
        for (position, index) in indexes.enumerated() {
            let path = segmentPath(folder: folder, index: index)
            let bytes = try readAll(path)
            let isLast = position == indexes.count - 1
            let (frames, damage) = bytes.withUnsafeBytes { LogFrame.scan($0) }
            var keyMax: UInt64 = 0
            for f in frames {
                switch f.kind {
                case .record:
                    keyMax = max(keyMax, f.key)
                    found.append((f.key, Array(bytes[f.payload])))
                case .truncation:
                    found.append((f.key, nil))
                }
            }
            var length = bytes.count
            switch damage {
            case nil:
                break
            case .corrupt(let offset, let next, let reason)?:
                throw StorageError("\(path): corrupt record at byte \(offset) (\(reason)) with valid records after it "
                    + "(from byte \(next)); refusing to start rather than skip or cut acknowledged records. Restore the "
                    + "folder from a replica or re-create the node (seqcast run ... --init on an empty folder)")
            case .tornTail(let offset)?:
                guard isLast else {
                    throw StorageError("\(path): damaged at byte \(offset) of \(bytes.count), and it is not the last "
                        + "segment (later segments exist, so this one was complete once); refusing to start")
                }
                length = offset
                r.tornBytes = bytes.count - offset
                try cut(path, to: offset)
            }
            // What a crash left in the page cache but never synced is synced now: the role acts on
            // what it recovers, so a later power loss must not take it back.
            try syncFile(path)
            if getenv("SEQCAST_LOG_RECORD_SYNCED").map({ String(cString: $0) == "1" }) ?? false {
                try? SmallFile.write("\(length)\n", to: path + ".synced")
            }
            r.segments.append(SegmentFile(index: index, path: path, bytes: length, keyMax: keyMax))
        }
        var truncatedThrough: UInt64 = 0
        var kept: [[UInt8]] = []
        for entry in found.reversed() {
            guard let bytes = entry.bytes else {
                truncatedThrough = max(truncatedThrough, entry.key)
                continue
            }
            if truncatedThrough == 0 || entry.key > truncatedThrough { kept.append(bytes) }
        }
        r.records = kept.reversed()
        return r
    }

    /// What a log folder holds, read only (nothing cut or synced): `seqcast log inspect`.
    public struct SegmentSummary: Sendable {
        public var path: String
        public var bytes: Int
        public var records: Int
        public var markers: Int
        public var keyMax: UInt64
        public var damage: LogFrame.Damage?
    }

    public static func inspect(folder: String) throws(StorageError) -> [SegmentSummary] {
        var out: [SegmentSummary] = []
        for index in try segmentIndexes(folder) {
            let path = segmentPath(folder: folder, index: index)
            let bytes = try readAll(path)
            let (frames, damage) = bytes.withUnsafeBytes { LogFrame.scan($0) }
            let records = frames.filter { $0.kind == .record }
            out.append(SegmentSummary(path: path, bytes: bytes.count, records: records.count,
                                      markers: frames.count - records.count, keyMax: records.map(\.key).max() ?? 0,
                                      damage: damage))
        }
        return out
    }

    static func segmentIndexes(_ folder: String) throws(StorageError) -> [UInt64] {
        guard let dir = opendir(folder) else { throw StorageError("open", path: folder, errno: errno) }
        defer { closedir(dir) }
        var indexes: [UInt64] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasSuffix(".log"), let index = UInt64(name.dropLast(4)) else { continue }
            indexes.append(index)
        }
        return indexes.sorted()
    }

    static func readAll(_ path: String) throws(StorageError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError("open", path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StorageError("stat", path: path, errno: errno) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { b in pread(fd, b.baseAddress! + offset, b.count - offset, off_t(offset)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw StorageError("read", path: path, errno: n == 0 ? EIO : errno) }
            offset += n
        }
        return bytes
    }

    static func syncFile(_ path: String) throws(StorageError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError("open", path: path, errno: errno) }
        defer { close(fd) }
        Syscall.syncOrStop(fd, path: path)
    }

    /// Cuts a torn tail and makes the cut durable before anything is written after it.
    static func cut(_ path: String, to length: Int) throws(StorageError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError("open", path: path, errno: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw StorageError("truncate", path: path, errno: errno) }
        Syscall.syncOrStop(fd, path: path)
    }
}
