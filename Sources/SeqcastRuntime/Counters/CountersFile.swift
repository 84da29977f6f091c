import Glibc
import SeqcastWire

/// A process's live counters in shared memory, read by `seqcast stats` (AeronStat's cnc file, in
/// spirit): one small file per running node, mapped by the process and by any reader.
///
///     0    magic "SQCNTRS1" (u64)          8  layout version (u32) = 1, slots (u32)
///     16   pid (u32), node id (u32)        24 start, wall-clock ns (u64)
///     32   role name (24 bytes, NUL-padded) 56 group name (32 bytes, NUL-padded)
///     88   last update, CLOCK_MONOTONIC ns (u64)      96…127 reserved (0)
///     128  slots: each a label (56 bytes, NUL-padded) and a value (u64)
///
/// Little-endian; every value is an aligned 8-byte store, so a reader sees each value whole
/// (not all of them from the same instant). The labels are written once, at creation; the
/// values by the role's thread, a few times a second, copied from the counters it keeps anyway
/// (the hot path pays nothing more). The file goes away when the process stops cleanly; a
/// reader tells a file whose process is gone by its pid.
public final class CountersFile {
    public static let magic: UInt64 = 0x3153_5254_4E43_5153  // "SQCNTRS1"
    public static let headerBytes = 128
    public static let slotBytes = 64
    public static let labelBytes = 56
    public static let slotsMax = 64
    public static let fileBytes = headerBytes + slotsMax * slotBytes

    /// Where counters files live unless `SEQCAST_COUNTERS_DIR` names another folder.
    public static var directory: String {
        getenv("SEQCAST_COUNTERS_DIR").map { String(cString: $0) } ?? "/dev/shm/seqcast"
    }

    public let path: String
    let base: UnsafeMutableRawPointer
    public let labels: [String]

    /// Creates (or replaces) the node's file with these labels, values 0: named after the group,
    /// its instance (two groups of one name on a host do not meet) and the node.
    public init(group: String, instance: UInt64, node: NodeId, role: String, labels: [String],
                directory: String = CountersFile.directory) throws(StorageError) {
        precondition(labels.count <= Self.slotsMax && labels.allSatisfy { $0.utf8.count < Self.labelBytes })
        if mkdir(directory, 0o755) != 0, errno != EEXIST { throw StorageError("create", path: directory, errno: errno) }
        path = Self.path(group: group, instance: instance, node: node, directory: directory)
        let temporary = path + ".new"
        let fd = open(temporary, O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError("create", path: temporary, errno: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(Self.fileBytes)) == 0 else { throw StorageError("size", path: temporary, errno: errno) }
        guard let p = mmap(nil, Self.fileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            throw StorageError("map", path: temporary, errno: errno)
        }
        base = p
        self.labels = labels
        func put(_ v: UInt64, at o: Int) { base.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt64.self) }
        func put32(_ v: UInt32, at o: Int) { base.storeBytes(of: v.littleEndian, toByteOffset: o, as: UInt32.self) }
        func text(_ s: String, at o: Int, max: Int) {
            for (i, b) in s.utf8.prefix(max - 1).enumerated() { base.storeBytes(of: b, toByteOffset: o + i, as: UInt8.self) }
        }
        put32(1, at: 8)
        put32(UInt32(labels.count), at: 12)
        put32(UInt32(getpid()), at: 16)
        put32(node.rawValue, at: 20)
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        put(UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec), at: 24)
        text(role, at: 32, max: 24)
        text(group, at: 56, max: 32)
        for (i, label) in labels.enumerated() { text(label, at: Self.headerBytes + i * Self.slotBytes, max: Self.labelBytes) }
        // Published whole: a reader never finds a file without its magic and labels.
        put(Self.magic, at: 0)
        guard rename(temporary, path) == 0 else { throw StorageError("rename", path: temporary, errno: errno) }
    }

    /// Where the file of a node of this group lives.
    public static func path(group: String, instance: UInt64, node: NodeId, directory: String = CountersFile.directory)
        -> String {
        "\(directory)/\(group)-\(String(instance, radix: 16))-\(node.rawValue).counters"
    }

    deinit { munmap(base, Self.fileBytes) }

    /// Sets slot `i` (one aligned store).
    @inline(__always) public func set(_ i: Int, _ value: UInt64) {
        base.storeBytes(of: value.littleEndian, toByteOffset: Self.headerBytes + i * Self.slotBytes + Self.labelBytes,
                        as: UInt64.self)
    }

    /// Marks the values as published at `monotonicNanos`.
    public func stamp(_ monotonicNanos: UInt64) {
        base.storeBytes(of: monotonicNanos.littleEndian, toByteOffset: 88, as: UInt64.self)
    }

    /// The process stops: its counters go with it.
    public func remove() { unlink(path) }
}

/// One counters file as a reader sees it.
public struct CountersSnapshot: Sendable {
    public var path: String
    public var pid: UInt32
    public var node: UInt32
    public var role: String
    public var group: String
    public var startedWallNanos: UInt64
    public var updatedMonotonicNanos: UInt64
    public var values: [(label: String, value: UInt64)]
    /// Whether the process that writes the file still runs.
    public var alive: Bool { kill(pid_t(pid), 0) == 0 || errno == EPERM }

    public func value(_ label: String) -> UInt64? { values.first { $0.label == label }?.value }

    /// Reads one file; nil if it is not a counters file (or not whole yet).
    public static func read(path: String) -> CountersSnapshot? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: CountersFile.fileBytes)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n == CountersFile.fileBytes else { return nil }
        return bytes.withUnsafeBytes { b -> CountersSnapshot? in
            func u64(_ o: Int) -> UInt64 { UInt64(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
            func u32(_ o: Int) -> UInt32 { UInt32(littleEndian: b.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
            func text(_ o: Int, _ max: Int) -> String { String(decoding: b[o..<o + max].prefix { $0 != 0 }, as: UTF8.self) }
            guard u64(0) == CountersFile.magic, u32(8) == 1 else { return nil }
            let slots = Int(u32(12))
            guard slots <= CountersFile.slotsMax else { return nil }
            let values = (0..<slots).map { i -> (label: String, value: UInt64) in
                let o = CountersFile.headerBytes + i * CountersFile.slotBytes
                return (text(o, CountersFile.labelBytes), u64(o + CountersFile.labelBytes))
            }
            return CountersSnapshot(path: path, pid: u32(16), node: u32(20), role: text(32, 24), group: text(56, 32),
                                    startedWallNanos: u64(24), updatedMonotonicNanos: u64(88), values: values)
        }
    }

    /// Every counters file in `directory`, by group and node.
    public static func all(in directory: String = CountersFile.directory) -> [CountersSnapshot] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found: [CountersSnapshot] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".counters"), let s = read(path: "\(directory)/\(name)") else { continue }
            found.append(s)
        }
        return found.sorted { ($0.group, $0.node) < ($1.group, $1.node) }
    }
}
