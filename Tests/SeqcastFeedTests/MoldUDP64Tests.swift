import SeqcastFeed
import Testing

@Suite struct MoldUDP64Tests {
    let session = MoldUDP64.Session("SEQCAST01")!

    func packet(_ sequence: UInt64, _ messages: [[UInt8]], count: UInt16? = nil) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20 + messages.reduce(0) { $0 + 2 + $1.count })
        out.withUnsafeMutableBytes { b in
            MoldUDP64.writeHeader(b.baseAddress!, session: session, sequence: sequence, count: count ?? UInt16(messages.count))
            var at = 20
            for m in messages { at += m.withUnsafeBytes { MoldUDP64.writeMessage(b.baseAddress! + at, $0) } }
        }
        return out
    }

    @Test func headerIsTheSpecificationsLayout() {
        // Session padded with spaces, big-endian sequence and count, then length-prefixed messages.
        let bytes = packet(0x0102_0304_0506_0708, [[0xAA, 0xBB]])
        #expect(Array(bytes[0..<10]) == Array("SEQCAST01 ".utf8))
        #expect(Array(bytes[10..<18]) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(Array(bytes[18..<20]) == [0, 1])
        #expect(Array(bytes[20...]) == [0, 2, 0xAA, 0xBB])
        #expect(session.description == "SEQCAST01 ")
    }

    @Test func packetRoundTripsItsMessagesWithTheirNumbers() throws {
        let bytes = packet(41, [[1], [], [2, 3, 4]])
        var seen: [(UInt64, [UInt8])] = []
        try bytes.withUnsafeBytes { b in
            let p = try MoldUDP64.Packet(b)
            #expect(p.session == session && p.sequence == 41 && p.count == 3)
            p.forEachMessage { seen.append(($0, Array($1))) }
        }
        #expect(seen.map(\.0) == [41, 42, 43])
        #expect(seen.map(\.1) == [[1], [], [2, 3, 4]])
    }

    @Test func everyLengthIsChecked() {
        func decode(_ b: [UInt8]) -> MoldUDP64.DecodeError? {
            b.withUnsafeBytes { r -> MoldUDP64.DecodeError? in
                do throws(MoldUDP64.DecodeError) {
                    _ = try MoldUDP64.Packet(r)
                    return nil
                } catch {
                    return error
                }
            }
        }
        #expect(decode(Array(repeating: 0x20, count: 19)) == .short(19))
        var overrun = packet(1, [[1, 2, 3]])
        overrun.removeLast()
        #expect(decode(overrun) == .messageOverruns(index: 0))
        #expect(decode(packet(1, [[1]]) + [9]) == .trailingBytes(1))
        #expect(decode(packet(1, [[1]], count: 2)) == .messageOverruns(index: 1))
        #expect(decode(packet(7, [[1]], count: 0)) == .controlWithMessages)
        #expect(decode(packet(7, [], count: 0)) == nil)
        #expect(decode(packet(7, [], count: 0xFFFF)) == nil)
    }

    @Test func requestsAreExactlyAHeader() {
        let r = MoldUDP64.Request(session: session, sequence: 9, count: 3)
        #expect(r.bytes.withUnsafeBytes { MoldUDP64.Request($0) } == r)
        #expect((r.bytes + [0]).withUnsafeBytes { MoldUDP64.Request($0) } == nil)
        #expect(MoldUDP64.Request(session: session, sequence: 9, count: 0).bytes.withUnsafeBytes { MoldUDP64.Request($0) } == nil)
        #expect(MoldUDP64.Request(session: session, sequence: 0, count: 1).bytes.withUnsafeBytes { MoldUDP64.Request($0) } == nil)
    }

    @Test func sessionsAreTenPrintableBytes() {
        #expect(MoldUDP64.Session("") == nil)
        #expect(MoldUDP64.Session("ELEVENCHARS") == nil)
        #expect(MoldUDP64.Session("A\u{1}") == nil)
        #expect(MoldUDP64.Session("A") != MoldUDP64.Session("B"))
    }
}
