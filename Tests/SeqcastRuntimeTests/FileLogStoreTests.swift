import Foundation
import Glibc
import Testing
import SeqcastCore
import SeqcastWire
@testable import SeqcastRuntime

/// The log on disk: records come back as written, a torn tail is cut, a corrupt record in the
/// middle is refused (never skipped), truncation forgets what it should, and group commit covers
/// many records per sync. Real files in a temporary folder, real fdatasync.
@Suite("File log store")
struct FileLogStoreTests {
    static func folder() -> String {
        let dir = "/tmp/seqcast-logtest-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        mkdir(dir, 0o755)
        return dir
    }

    static func record(_ i: Int, size: Int? = nil) -> [UInt8] {
        (0..<(size ?? (1 + i * 7 % 90))).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
    }

    /// Appends records with tickets 1…, waits until the last is durable.
    static func write(_ store: FileLogStore, _ records: [[UInt8]], keys: [UInt64]? = nil, from first: UInt64 = 1) {
        for (i, r) in records.enumerated() {
            r.withUnsafeBytes { store.append($0, ticket: WriteTicket(first + UInt64(i)), key: keys?[i] ?? UInt64(i + 1)) }
        }
        waitDurable(store, WriteTicket(first + UInt64(records.count) - 1))
    }

    static func waitDurable(_ store: FileLogStore, _ ticket: WriteTicket) {
        var durable = WriteTicket(0)
        let deadline = Date().addingTimeInterval(10)
        while durable < ticket, Date() < deadline {
            if let t = store.takeDurable() { durable = t }
            usleep(200)
        }
        #expect(durable == ticket, "every record durable within 10 s")
    }

    static func segments(_ log: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: log)) ?? []).filter { $0.hasSuffix(".log") }.sorted()
            .map { "\(log)/\($0)" }
    }

    @Test("records come back in order after a restart, each life in a segment of its own")
    func roundTrip() throws {
        let log = Self.folder() + "/log"
        let first = (0..<50).map { Self.record($0) }
        do {
            let (store, recovered, torn) = try FileLogStore.open(folder: log, create: true)
            #expect(recovered.isEmpty && torn == 0)
            Self.write(store, first)
            #expect(store.syncs >= 1)
        }
        let second = (50..<60).map { Self.record($0) }
        do {
            let (store, recovered, _) = try FileLogStore.open(folder: log, create: false)
            #expect(recovered == first)
            Self.write(store, second)
        }
        let (_, recovered, torn) = try FileLogStore.open(folder: log, create: false)
        #expect(recovered == first + second)
        #expect(torn == 0)
        #expect(Self.segments(log).count == 3, "one segment per life")
    }

    @Test("group commit: records appended while a sync is in flight share the next one")
    func groupCommit() throws {
        let (store, _, _) = try FileLogStore.open(folder: Self.folder() + "/log", create: true)
        // One record per drain, as a busy role produces them: 2,000 records, far fewer syncs.
        var ticket: UInt64 = 0
        for i in 0..<2_000 {
            ticket += 1
            Self.record(i).withUnsafeBytes { store.append($0, ticket: WriteTicket(ticket), key: ticket) }
            _ = store.takeDurable()
        }
        Self.waitDurable(store, WriteTicket(ticket))
        #expect(store.syncs < 2_000, "syncs \(store.syncs) for 2,000 records")
        #expect(store.recordsWritten == 2_000)
    }

    @Test("a missing log is refused without create (a lost disk never starts empty)")
    func missingLog() {
        let log = Self.folder() + "/log"
        #expect(throws: StorageError.self) { try FileLogStore.open(folder: log, create: false) }
        do {
            _ = try FileLogStore.open(folder: log, create: false)
        } catch {
            #expect(error.description.contains("the log is missing"))
        }
    }

    /// Five records written and closed; returns the segment and each frame's offset.
    static func fiveRecords() throws -> (log: String, segment: String, offsets: [Int], records: [[UInt8]]) {
        let log = folder() + "/log"
        let records = (0..<5).map { record($0, size: 40 + $0) }
        do {
            let (store, _, _) = try FileLogStore.open(folder: log, create: true)
            write(store, records)
        }
        let segment = segments(log).last!
        var offsets: [Int] = []
        var o = 0
        for r in records {
            offsets.append(o)
            o += LogFrame.frameBytes(payload: r.count)
        }
        return (log, segment, offsets, records)
    }

    static func cut(_ path: String, to length: Int) { truncate(path, off_t(length)) }

    static func flip(_ path: String, at offset: Int) {
        let fd = open(path, O_RDWR)
        var b: UInt8 = 0
        pread(fd, &b, 1, off_t(offset))
        b ^= 0x40
        pwrite(fd, &b, 1, off_t(offset))
        close(fd)
    }

    static func size(_ path: String) -> Int {
        var st = stat()
        stat(path, &st)
        return Int(st.st_size)
    }

    // Offsets inside the last frame, by field: the length, the key, the payload checksum, the
    // header checksum, the body, and the frame's first byte (a cut exactly between frames).
    static let fieldOffsets: [(String, Int)] = [("magic", 2), ("length", 5), ("key", 11), ("kind", 16),
                                                ("payload checksum", 22), ("header checksum", 30), ("body", 40)]

    @Test("a torn last write is cut back to the last whole record, wherever the tear falls")
    func tornTail() throws {
        for (field, inFrame) in Self.fieldOffsets + [("frame boundary", 0)] {
            let (log, segment, offsets, records) = try Self.fiveRecords()
            Self.cut(segment, to: offsets[4] + inFrame)
            let (_, recovered, torn) = try FileLogStore.open(folder: log, create: false)
            #expect(recovered == Array(records.prefix(4)), "torn inside the \(field)")
            #expect(torn == inFrame, "the tear (\(inFrame) bytes) is cut, inside the \(field)")
            #expect(Self.size(segment) == offsets[4], "the file ends at the last whole record")
        }
    }

    @Test("a damaged last record (bit flipped, not cut) with nothing after it is a torn tail")
    func flippedLastRecord() throws {
        for (field, inFrame) in Self.fieldOffsets {
            let (log, segment, offsets, records) = try Self.fiveRecords()
            Self.flip(segment, at: offsets[4] + inFrame)
            let (_, recovered, _) = try FileLogStore.open(folder: log, create: false)
            #expect(recovered == Array(records.prefix(4)), "last record damaged in the \(field)")
        }
    }

    @Test("a corrupt record in the middle is refused, naming the file and offset, and nothing is cut")
    func corruptMiddle() throws {
        for (field, inFrame) in Self.fieldOffsets {
            let (log, segment, offsets, _) = try Self.fiveRecords()
            let before = Self.size(segment)
            Self.flip(segment, at: offsets[2] + inFrame)
            do {
                _ = try FileLogStore.open(folder: log, create: false)
                Issue.record("a corrupt record in the \(field) was accepted")
            } catch {
                #expect(error.description.contains("corrupt record at byte \(offsets[2])"), "\(field): \(error)")
                #expect(error.description.contains(segment))
            }
            #expect(Self.size(segment) == before, "nothing was truncated (\(field))")
            // `seqcast log inspect` shows the same, read only.
            let summary = try LogRecovery.inspect(folder: log).first { $0.path == segment }
            if case .corrupt(let offset, let next, _)? = summary?.damage {
                #expect(offset == offsets[2] && next == offsets[3])
            } else {
                Issue.record("inspect did not report the corrupt record (\(field))")
            }
            #expect(summary?.records == 2)
        }
    }

    @Test("damage at the end of a segment that is not the last is refused (it was complete once)")
    func damagedEarlierSegment() throws {
        let log = Self.folder() + "/log"
        do {
            let (store, _, _) = try FileLogStore.open(folder: log, create: true)
            Self.write(store, [Self.record(1), Self.record(2)])
        }
        do {
            let (store, _, _) = try FileLogStore.open(folder: log, create: false)
            Self.write(store, [Self.record(3)])
        }
        let first = Self.segments(log)[0]
        Self.cut(first, to: Self.size(first) - 3)
        #expect(throws: StorageError.self) { try FileLogStore.open(folder: log, create: false) }
    }

    @Test("truncation: records at or below a marker's key are not recovered; whole segments behind it are deleted")
    func truncation() throws {
        let log = Self.folder() + "/log"
        let records = (0..<40).map { Self.record($0, size: 100) }
        do {
            // Small segments, so the log rolls every few records.
            let (store, _, _) = try FileLogStore.open(folder: log, create: true, segmentBytesMax: 600)
            // One record per batch, as a role writes them, so segments hold a few records each.
            for i in 0..<30 { Self.write(store, [records[i]], keys: [UInt64(i + 1)], from: UInt64(i + 1)) }
            #expect(store.segmentCount > 4)
            store.truncate(through: 20)
            for i in 30..<40 { Self.write(store, [records[i]], keys: [UInt64(i + 1)], from: UInt64(i + 1)) }
            #expect(store.segmentsDeleted > 0, "segments behind key 20 went")
        }
        let (_, recovered, _) = try FileLogStore.open(folder: log, create: false)
        #expect(recovered == Array(records[20..<40]), "keys 21…40 remain")
    }
}

@Suite("Data folder")
struct DataFolderTests {
    static let identity = DataFolder.Identity(groupInstance: 0xabc, groupId: 0x5351, node: NodeId(21),
                                              role: "commit-server", folderId: 7)

    @Test("a node's folder is made by create only, checked against group and node, and locked")
    func lifecycle() throws {
        let path = FileLogStoreTests.folder() + "/node"
        // Never made: refused, and the message says how to make one.
        do {
            _ = try DataFolder.open(path: path, groupInstance: 0xabc, groupId: 0x5351, node: NodeId(21), role: "commit-server")
            Issue.record("opened a folder that was never made")
        } catch {
            #expect(error.description.contains("--init"))
        }
        try DataFolder.create(path: path, identity: Self.identity)
        let folder = try DataFolder.open(path: path, groupInstance: 0xabc, groupId: 0x5351, node: NodeId(21),
                                         role: "commit-server")
        #expect(folder.identity == Self.identity)
        // In use: a second open is refused until the first lets go.
        #expect(throws: StorageError.self) {
            try DataFolder.open(path: path, groupInstance: 0xabc, groupId: 0x5351, node: NodeId(21), role: "commit-server")
        }
        folder.unlock()
        // Another group's instance, another node: refused.
        #expect(throws: StorageError.self) {
            try DataFolder.open(path: path, groupInstance: 0xdef, groupId: 0x5351, node: NodeId(21), role: "commit-server")
        }
        #expect(throws: StorageError.self) {
            try DataFolder.open(path: path, groupInstance: 0xabc, groupId: 0x5351, node: NodeId(22), role: "commit-server")
        }
        // --init on a folder that holds anything: refused.
        #expect(throws: StorageError.self) { try DataFolder.create(path: path, identity: Self.identity) }
        let again = try DataFolder.open(path: path, groupInstance: 0xabc, groupId: 0x5351, node: NodeId(21),
                                        role: "commit-server")
        again.unlock()
    }
}
