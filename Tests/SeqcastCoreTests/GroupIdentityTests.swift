import SeqcastCore
import SeqcastWire
import Testing

/// Every role refuses traffic of another group (another id) and of a process of its own group
/// whose configuration differs (another fingerprint), counting each by reason.
@Suite("Group identity: group id and configuration fingerprint")
struct GroupIdentityTests {
    static var config: GroupConfig {
        var c = GroupConfig(groupId: 0x5351, sequencer: NodeId(1), dataServers: [NodeId(11)],
                            commitServers: [NodeId(21), NodeId(22), NodeId(23)], checkpointServers: [])
        c.fingerprint = 0xA1B2_C3D4
        return c
    }

    /// A commit submit of one run from the sequencer, with the given group identity.
    static func submit(groupId: UInt32, fingerprint: UInt32) -> [UInt8] {
        let run = SequenceRun(firstSeq: SequenceNumber(1), count: 1,
                              content: .messages(sender: SenderId(node: NodeId(41), incarnation: 1), firstCounter: 1))
        return TestGroup.encode(Header(kind: .commitSubmit, groupId: groupId, fingerprint: fingerprint, epoch: Epoch(1),
                                       source: NodeId(1))) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: .zero, runs: [run], into: &w)
        }
    }

    static func receive(_ bytes: [UInt8], by server: inout CommitServer) {
        bytes.withUnsafeBytes { server.receive($0, from: PeerAddress(1), now: Instant(nanoseconds: 1)) }
    }

    @Test("a commit server stores a submit of its own group and fingerprint only")
    func commitServerRefusesForeignTraffic() {
        var server = CommitServer(config: Self.config, node: NodeId(21), now: Instant(nanoseconds: 0))
        Self.receive(Self.submit(groupId: 0x5352, fingerprint: 0xA1B2_C3D4), by: &server)
        Self.receive(Self.submit(groupId: 0x5351, fingerprint: 0x0BAD_F00D), by: &server)
        Self.receive(Self.submit(groupId: 0x5351, fingerprint: 0x0BAD_F00D), by: &server)
        var c = server.output.counters
        #expect(c.datagramsReceived == 3)
        #expect(c.droppedWrongGroup == 1)
        #expect(c.droppedWrongFingerprint == 2)
        #expect(c.firstForeignFingerprint == ForeignFingerprint(source: NodeId(1), groupId: 0x5351, fingerprint: 0x0BAD_F00D))
        #expect(server.output.storage.writes.isEmpty, "nothing foreign is stored")

        Self.receive(Self.submit(groupId: 0x5351, fingerprint: 0xA1B2_C3D4), by: &server)
        c = server.output.counters
        #expect(c.droppedWrongGroup == 1 && c.droppedWrongFingerprint == 2 && c.droppedMalformed == 0)
        // Its own group's submit is stored: the promise of the submit's epoch, then the runs.
        #expect(server.output.storage.writes.count == 2)
        #expect(AssignmentRecord.epoch(in: server.output.storage.withBytes(of: 0) { Array($0) }) != nil)
    }

    @Test("every role's datagrams carry its group id and fingerprint")
    func rolesStampTheirIdentity() throws {
        var server = CommitServer(config: Self.config, node: NodeId(21), now: Instant(nanoseconds: 0))
        Self.receive(Self.submit(groupId: 0x5351, fingerprint: 0xA1B2_C3D4), by: &server)
        let writes = server.output.storage.writes.map(\.ticket)
        for t in writes { server.persisted(t, now: Instant(nanoseconds: 2)) }
        let outbox = server.output.outbox
        let headers = (0..<outbox.entries.count).map { i in outbox.withBytes(of: i) { try? Datagram.decode($0).header } }
        #expect(!headers.isEmpty, "the commit server acked")
        for h in headers {
            #expect(h?.groupId == 0x5351)
            #expect(h?.fingerprint == 0xA1B2_C3D4)
        }
    }
}

@Suite("Commit server: a conflicting binding")
struct CommitConflictTests {
    static func submit(_ runs: [SequenceRun]) -> [UInt8] {
        TestGroup.encode(Header(kind: .commitSubmit, groupId: 0x5351, fingerprint: 0xA1B2_C3D4, epoch: Epoch(1),
                                source: NodeId(1))) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: .zero, runs: runs, into: &w)
        }
    }

    static func run(_ first: UInt64, _ count: UInt32, node: UInt32, counter: UInt64) -> SequenceRun {
        SequenceRun(firstSeq: SequenceNumber(first), count: count,
                    content: .messages(sender: SenderId(node: NodeId(node), incarnation: 1), firstCounter: counter))
    }

    /// Every ack the server has queued, then cleared.
    static func acks(_ server: inout CommitServer) -> [UInt64] {
        let outbox = server.output.outbox
        let acks = (0..<outbox.entries.count).compactMap { i -> UInt64? in
            outbox.withBytes(of: i) { b in
                guard let d = try? Datagram.decode(b), case .commitAck(let a) = d.message else { return nil }
                return a.storedThrough.rawValue
            }
        }
        server.output.outbox.removeAll()
        return acks
    }

    static func deliver(_ bytes: [UInt8], to server: inout CommitServer) {
        GroupIdentityTests.receive(bytes, by: &server)
        for t in server.output.storage.writes.map(\.ticket) { server.persisted(t, now: Instant(nanoseconds: 2)) }
        server.output.storage.removeAll()
    }

    @Test("a number submitted bound differently is counted, and acks never again reach it")
    func conflictStopsAcks() {
        var server = CommitServer(config: GroupIdentityTests.config, node: NodeId(21), now: Instant(nanoseconds: 0))
        Self.deliver(Self.submit([Self.run(1, 5, node: 41, counter: 1)]), to: &server)
        #expect(Self.acks(&server) == [5])

        // Numbers 3…7 bound to another sender (what a restarted sequencer without its log would do).
        Self.deliver(Self.submit([Self.run(1, 2, node: 41, counter: 1), Self.run(3, 5, node: 42, counter: 1)]), to: &server)
        #expect(server.output.counters.droppedInconsistent == 1)
        #expect(server.conflictAt == SequenceNumber(3), "1 and 2 agree; 3 is the first bound differently")
        let afterConflict = Self.acks(&server)
        #expect(afterConflict.allSatisfy { $0 <= 2 }, "no ack credits the conflicting numbers: \(afterConflict)")

        // The log goes on (numbers past the conflict are stored), but acks stay below it.
        Self.deliver(Self.submit([Self.run(8, 4, node: 41, counter: 6)]), to: &server)
        #expect(server.storedThrough == SequenceNumber(11))
        let later = Self.acks(&server)
        #expect(!later.isEmpty && later.allSatisfy { $0 == 2 }, "acks stop at 2: \(later)")
    }
}
