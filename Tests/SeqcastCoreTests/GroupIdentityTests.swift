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
        #expect(server.output.storage.writes.count == 1, "its own group's submit is stored")
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
