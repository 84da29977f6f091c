import Glibc
import Testing
@testable import SeqcastRuntime
import SeqcastWire

/// The counters file `seqcast stats` reads: what a process writes is what a reader sees, by
/// label, with the process's identity; a file without its magic is not read.
@Suite("Counters file (seqcast stats)")
struct CountersFileTests {
    static func folder() -> String {
        var template = Array("/tmp/seqcast-counters-test.XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    @Test("values set by the writer are read back by label, with node, role, group and a live pid")
    func roundTrip() throws {
        let dir = Self.folder()
        let file = try CountersFile(group: "feed", instance: 0xabc, node: NodeId(31), role: "checkpoint-server",
                                    labels: LiveCounter.labels, directory: dir)
        file.set(LiveCounter.frontier.rawValue, 12_345)
        file.set(LiveCounter.windowOccupancy.rawValue, 7)
        file.stamp(99)
        let all = CountersSnapshot.all(in: dir)
        #expect(all.count == 1)
        let s = try #require(all.first)
        #expect(s.path == "\(dir)/feed-abc-31.counters")
        #expect((s.node, s.role, s.group) == (31, "checkpoint-server", "feed"))
        #expect(s.pid == UInt32(getpid()))
        #expect(s.alive)
        #expect(s.updatedMonotonicNanos == 99)
        #expect(s.values.map(\.label) == LiveCounter.labels)
        #expect(s.value("frontier") == 12_345)
        #expect(s.value("window_occupancy") == 7)
        #expect(s.value("naks_sent") == 0)
        file.set(LiveCounter.frontier.rawValue, 12_346)
        #expect(CountersSnapshot.read(path: s.path)?.value("frontier") == 12_346, "a reader sees the latest store")
        file.remove()
        #expect(CountersSnapshot.all(in: dir).isEmpty)
        rmdir(dir)
    }

    @Test("a file of another kind, or cut short, is not taken for a counters file")
    func foreignFilesIgnored() throws {
        let dir = Self.folder()
        let path = "\(dir)/other-1.counters"
        try SmallFile.write(String(repeating: "x", count: CountersFile.fileBytes), to: path)
        #expect(CountersSnapshot.read(path: path) == nil)
        try SmallFile.write("short", to: path)
        #expect(CountersSnapshot.read(path: path) == nil)
        #expect(CountersSnapshot.all(in: dir).isEmpty)
        unlink(path)
        rmdir(dir)
    }
}
