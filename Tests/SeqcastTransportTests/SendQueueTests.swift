import CSeqcastShim
import Testing
@testable import SeqcastTransport

/// GSO coalescing: which datagrams may share one segment-offload send.
@Suite struct SendQueueTests {
    static func address(_ last: UInt8, port: UInt16) -> seqcast_addr {
        var a = seqcast_addr()
        a.family = 4
        a.port = port
        a.ip = (127, 0, 0, last, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return a
    }

    func stage(_ q: inout SendQueue, _ sizes: [Int], key: UInt64 = 1) {
        let a = Self.address(1, port: 9)
        for n in sizes {
            let bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: n), count: n)
            let staged = bytes.withUnsafeBytes { q.append($0, to: a, key: key) }
            #expect(staged)
        }
    }

    @Test func equalSizedDatagramsShareOneSendAndAShortLastOneClosesIt() {
        var q = SendQueue(segmentOffload: true, buffersMax: 8)
        defer { q.deallocate() }
        stage(&q, [1000, 1000, 1000, 400, 1000])
        #expect(q.batches.count == 2)
        #expect(q.batches[0].count == 4 && q.batches[0].segment == 1000 && q.batches[0].bytes == 3400)
        #expect(q.batches[0].closed)
        #expect(q.batches[1].count == 1)
    }

    @Test func aLargerDatagramStartsANewBatch() {
        var q = SendQueue(segmentOffload: true, buffersMax: 8)
        defer { q.deallocate() }
        stage(&q, [500, 500, 900])
        #expect(q.batches.map(\.count) == [2, 1])
    }

    @Test func batchesStopAtTheSegmentAndByteLimits() {
        var q = SendQueue(segmentOffload: true, buffersMax: 8)
        defer { q.deallocate() }
        stage(&q, Array(repeating: 100, count: SendQueue.segmentsMax + 1))
        #expect(q.batches.map(\.count) == [SendQueue.segmentsMax, 1])
        var big = SendQueue(segmentOffload: true, buffersMax: 8)
        defer { big.deallocate() }
        stage(&big, Array(repeating: 1472, count: 50))
        #expect(big.batches.allSatisfy { $0.bytes <= SendQueue.bytesMax })
        #expect(big.batches.map(\.count) == [44, 6])
    }

    @Test func destinationsInterleaveWithoutMixing() {
        var q = SendQueue(segmentOffload: true, buffersMax: 8)
        defer { q.deallocate() }
        stage(&q, [200], key: 1)
        stage(&q, [200], key: 2)
        stage(&q, [200], key: 1)
        #expect(q.batches.count == 2)
        #expect(q.batches[0].key == 1 && q.batches[0].count == 2)
        #expect(q.batches[1].key == 2 && q.batches[1].count == 1)
    }

    @Test func withoutOffloadEveryDatagramIsItsOwnSend() {
        var q = SendQueue(segmentOffload: false, buffersMax: 8)
        defer { q.deallocate() }
        stage(&q, [300, 300, 300])
        #expect(q.batches.map(\.count) == [1, 1, 1])
    }

    @Test func aFullQueueRefusesUntilFlushed() {
        var q = SendQueue(segmentOffload: false, buffersMax: 2)
        defer { q.deallocate() }
        stage(&q, [10, 10])
        let a = Self.address(1, port: 9)
        let refused = [UInt8](repeating: 0, count: 10).withUnsafeBytes { q.append($0, to: a, key: 1) }
        #expect(!refused)
    }
}

@Suite struct PeerTableTests {
    @Test func ipv4AddressesRoundTripWithoutATable() {
        var t = PeerTable()
        let a = SendQueueTests.address(7, port: 18_441)
        let p = t.peer(a)!
        let back = t.address(p)!
        #expect(back.family == 4 && back.port == 18_441 && back.ip.3 == 7 && back.ip.0 == 127)
        #expect(p.rawValue & PeerTable.ipv6Bit == 0)
    }

    @Test func ipv6AddressesGetStableTableEntries() {
        var t = PeerTable()
        var a = seqcast_addr()
        #expect(seqcast_addr_parse("fe80::1", 5000, &a) == 0)
        var b = a
        b.port = 5001
        let pa = t.peer(a)!, pb = t.peer(b)!
        #expect(pa != pb)
        #expect(t.peer(a) == pa)
        #expect(t.address(pb)?.port == 5001)
    }
}
