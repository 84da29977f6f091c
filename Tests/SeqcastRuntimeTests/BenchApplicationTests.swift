import Glibc
import SeqcastCore
import SeqcastWire
import Testing
@testable import SeqcastBench
@testable import SeqcastRuntime

@Suite struct BenchApplicationTests {
    func body(node: UInt32, index: UInt64) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 64)
        b.withUnsafeMutableBytes { BenchBody.write(into: $0, node: node, index: index, ns: 5) }
        return b
    }

    func apply(_ app: inout BenchApplication, seq: UInt64, node: UInt32, index: UInt64) {
        let b = body(node: node, index: index)
        b.withUnsafeBytes {
            app.apply(seq: SequenceNumber(seq), id: MessageId(sender: SenderId(node: NodeId(node), incarnation: 1), counter: index), body: $0)
        }
    }

    @Test func perPublisherGapsAndDuplicatesAreFIFOViolations() {
        var app = BenchApplication()
        apply(&app, seq: 1, node: 41, index: 1)
        apply(&app, seq: 2, node: 42, index: 1)
        apply(&app, seq: 3, node: 41, index: 2)
        #expect(app.fifoViolations == 0)
        apply(&app, seq: 4, node: 41, index: 2)  // duplicate
        apply(&app, seq: 5, node: 42, index: 3)  // gap
        #expect(app.fifoViolations == 2)
    }

    @Test func snapshotRestoresDigestAndPublisherPositions() {
        var app = BenchApplication()
        apply(&app, seq: 1, node: 41, index: 1)
        apply(&app, seq: 2, node: 42, index: 1)
        var copy = BenchApplication()
        let restored = copy.restore(app.snapshot())
        #expect(restored)
        #expect(copy.stateDigest == app.stateDigest && copy.deliveredCount == 2)
        apply(&copy, seq: 3, node: 41, index: 2)
        #expect(copy.fifoViolations == 0)
        let truncated = copy.restore(Array(app.snapshot().dropLast()))
        #expect(!truncated)
    }

    func apply(_ app: inout BenchApplication, seq: UInt64, node: UInt32, index: UInt64, publishedNs: UInt64, at now: UInt64) {
        var b = [UInt8](repeating: 0, count: 64)
        b.withUnsafeMutableBytes { BenchBody.write(into: $0, node: node, index: index, ns: publishedNs) }
        app.loopNanos = now
        b.withUnsafeBytes {
            app.apply(seq: SequenceNumber(seq), id: MessageId(sender: SenderId(node: NodeId(node), incarnation: 1), counter: index), body: $0)
        }
    }

    @Test("the measured rate counts messages a checkpoint install moved a member past (it once read 0 commits/s)")
    func rateCountsCheckpointJumps() {
        let measure = BenchMeasurement(fromNanos: 1_000, latency: false)
        // A member that keeps up: 11 messages over 1 s.
        var steady = BenchApplication(measurement: measure)
        for i in 1...11 { apply(&steady, seq: UInt64(i), node: 41, index: UInt64(i), publishedNs: 1_000, at: UInt64(i) * 100_000_000) }
        #expect(abs(steady.measuredRate - 10) < 1e-9)
        // A member that delivered 2 messages, then fell behind and installed a checkpoint at 1 s
        // that covers 1,000 more: the old figure was (2 - 1) / 0.1 s; the state moved 1,001.
        var behind = BenchApplication(measurement: measure)
        apply(&behind, seq: 1, node: 41, index: 1, publishedNs: 1_000, at: 100_000_000)
        apply(&behind, seq: 2, node: 41, index: 2, publishedNs: 1_000, at: 200_000_000)
        var source = BenchApplication(measurement: measure)
        for i in 1...1_002 { apply(&source, seq: UInt64(i), node: 41, index: UInt64(i), publishedNs: 1_000, at: 1) }
        behind.loopNanos = 1_100_000_000
        let restored = behind.restore(source.snapshot())
        #expect(restored)
        #expect(behind.measuredLastDelivered - behind.measuredFirstDelivered == 1_002)
        #expect(abs(behind.measuredRate - 1_001) < 1e-6)
        // Nothing measured yet: no rate, not a trap.
        #expect(BenchApplication(measurement: measure).measuredRate == 0)
    }

    @Test func reportsAreValidJSONStrings() {
        var r = Report()
        r.add("text", "a \"quoted\"\nline\u{1}")
        r.add("n", 3)
        r.add("ok", true)
        #expect(r.description == #"{"text":"a \"quoted\"\nline\u0001","n":3,"ok":true}"#)
    }
}

@Suite struct IncarnationFileTests {
    @Test func everyStartClaimsAHigherIncarnationAndStreamEndsAreRecorded() throws {
        let dir = "/tmp/seqcast-incarnation-test-\(getpid())"
        defer { _ = unlink("\(dir)/incarnation"); _ = rmdir(dir) }
        let file = IncarnationFile(path: "\(dir)/incarnation")
        #expect(file.read() == nil)
        #expect(try file.claim(atLeast: 1) == 1)
        #expect(try file.claim(atLeast: 1) == 2)
        try file.record(9)  // a stream ended: the sender moved to incarnation 9
        #expect(try file.claim(atLeast: 1) == 10)
        #expect(try file.claim(atLeast: 50) == 50, "an explicit floor above the record wins")
        #expect(file.read() == 50)
    }
}
