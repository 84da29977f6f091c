import CSeqcastMAC
import SeqcastCore
import SeqcastNode
import SeqcastWire
import Testing

/// A heartbeat-shaped datagram of `kind` from `source` (the authenticator reads only the header).
private func datagram(_ kind: MessageKind, source: UInt32 = 7, frontier: UInt64 = 100) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: 256)
    let n = buffer.withUnsafeMutableBytes { b in
        try! Datagram.encode(Header(kind: kind, groupId: 1, epoch: Epoch(1), source: NodeId(source)), into: b) { w throws(EncodeError) in
            try Heartbeat(committedThrough: SequenceNumber(frontier), checkpointSeq: .zero, checkpointBytes: 0).encode(into: &w)
        }
    }
    return Array(buffer[0..<n])
}

private func key(_ id: UInt16, _ fill: UInt8) -> AuthKey { AuthKey(id: id, bytes: [UInt8](repeating: fill, count: 32)) }

private func server(incarnation: UInt64 = 1_000, group: [AuthKey] = [key(1, 0xA1)], server: [AuthKey] = [key(1, 0x5E)])
    -> DatagramAuthenticator {
    DatagramAuthenticator(AuthSetup(groupKeys: group, serverKeys: server, incarnation: incarnation, peersMax: 16,
                                    datagramBytesMax: 1_416))
}

private func member(incarnation: UInt64 = 2_000, group: [AuthKey] = [key(1, 0xA1)]) -> DatagramAuthenticator {
    DatagramAuthenticator(AuthSetup(groupKeys: group, serverKeys: nil, incarnation: incarnation, peersMax: 16,
                                    datagramBytesMax: 1_416))
}

/// Seals `bytes` at `sender` and returns the datagram as it travels.
private func sealed(_ sender: DatagramAuthenticator, _ bytes: [UInt8], to d: Destination = .commitGroup) -> [UInt8] {
    bytes.withUnsafeBytes { Array(sender.seal($0, to: d)) }
}

/// What the receiver hands its role, or nil when dropped.
private func opened(_ receiver: DatagramAuthenticator, _ wire: [UInt8], now: UInt64 = 1) -> [UInt8]? {
    wire.withUnsafeBytes { receiver.open($0, now: Instant(nanoseconds: now)).map { Array($0) } }
}

@Suite("Datagram authentication")
struct DatagramAuthTests {
    @Test("subkeys are derived with HMAC-SHA-256 truncated to 16 bytes (RFC 4231 test case 2)")
    func hmacVector() {
        // Key "Jefe" (HMAC pads a short key with zeros to the block, as 28 zero bytes do here).
        var raw = Array("Jefe".utf8) + [UInt8](repeating: 0, count: 28)
        var k = seqcast_mac_key()
        raw.withUnsafeMutableBufferPointer { seqcast_mac_key_init(&k, $0.baseAddress!) }
        let message = Array("what do ya want for nothing?".utf8)
        var tag = [UInt8](repeating: 0, count: 16)
        message.withUnsafeBytes { m in tag.withUnsafeMutableBufferPointer { seqcast_mac_tag(&k, m.baseAddress, m.count, $0.baseAddress!) } }
        let hex = tag.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        #expect(hex == "5bdcc146bf60754e6a042426089575c7")
        message.withUnsafeBytes { m in tag.withUnsafeBufferPointer { #expect(seqcast_mac_verify(&k, m.baseAddress, m.count, $0.baseAddress!) == 1) } }
        tag[15] ^= 1
        message.withUnsafeBytes { m in tag.withUnsafeBufferPointer { #expect(seqcast_mac_verify(&k, m.baseAddress, m.count, $0.baseAddress!) == 0) } }
    }

    @Test("GMAC is AES-128-GCM over associated data: the GCM paper's test case 1, and a vector from Python's cryptography")
    func gmacVectors() {
        let g = seqcast_gmac_new()!
        defer { seqcast_gmac_free(g) }
        func tag(key: [UInt8], nonce: UInt64, _ data: [UInt8]) -> String {
            #expect(key.withUnsafeBufferPointer { seqcast_gmac_set_key(g, $0.baseAddress!) } == 1)
            var t = [UInt8](repeating: 0, count: 16)
            data.withUnsafeBytes { d in t.withUnsafeMutableBufferPointer { seqcast_gmac_tag(g, nonce, d.baseAddress, d.count, $0.baseAddress!) } }
            return t.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
        // McGrew and Viega, "The Galois/Counter Mode of Operation", test case 1: K = 0, IV = 0, nothing.
        #expect(tag(key: [UInt8](repeating: 0, count: 16), nonce: 0, []) == "58e2fccefa7e3061367f1d57a4e7455a")
        // AESGCM(bytes(range(16))).encrypt(pack('<Q', 0x0102030405060708) + bytes(4), b"", aad) with
        // aad = b"seqcast datagram authenticated by GMAC" * 3 (114 bytes, not a multiple of 16).
        let aad = Array(String(repeating: "seqcast datagram authenticated by GMAC", count: 3).utf8)
        #expect(tag(key: Array(0..<16), nonce: 0x0102_0304_0506_0708, aad) == "db4d8e9cb27af7507159c4af0551999e")
        var expected = [UInt8](repeating: 0, count: 16)
        aad.withUnsafeBytes { d in expected.withUnsafeMutableBufferPointer { seqcast_gmac_tag(g, 9, d.baseAddress, d.count, $0.baseAddress!) } }
        #expect(aad.withUnsafeBytes { d in expected.withUnsafeBufferPointer { seqcast_gmac_verify(g, 9, d.baseAddress, d.count, $0.baseAddress!) } } == 1)
        #expect(aad.withUnsafeBytes { d in expected.withUnsafeBufferPointer { seqcast_gmac_verify(g, 10, d.baseAddress, d.count, $0.baseAddress!) } } == 0,
                "another nonce is another tag")
    }

    @Test("the subkey is HMAC-SHA-256(key, label, class, key id, sender, incarnation): a vector from Python")
    func subkeyVector() {
        // hmac.new(b"\xa1" * 32, b"seqcast gmac v1\0" + bytes([1, 0]) + pack('<H', 3) + pack('<I', 12)
        //          + pack('<Q', 1000), sha256).digest()[:16], then the GMAC of `aad` under it, nonce 5.
        var master = seqcast_mac_key()
        var raw = [UInt8](repeating: 0xA1, count: 32)
        raw.withUnsafeMutableBufferPointer { seqcast_mac_key_init(&master, $0.baseAddress!) }
        var info = Array("seqcast gmac v1".utf8) + [0, 1, 0, 3, 0, 12, 0, 0, 0]
        info += withUnsafeBytes(of: UInt64(1_000).littleEndian, Array.init)
        #expect(info.count == 32)
        let g = seqcast_gmac_new()!
        defer { seqcast_gmac_free(g) }
        #expect(info.withUnsafeBytes { seqcast_gmac_derive_key(g, &master, $0.baseAddress, $0.count) } == 1)
        let aad = Array(String(repeating: "seqcast datagram authenticated by GMAC", count: 3).utf8)
        var t = [UInt8](repeating: 0, count: 16)
        aad.withUnsafeBytes { d in t.withUnsafeMutableBufferPointer { seqcast_gmac_tag(g, 5, d.baseAddress, d.count, $0.baseAddress!) } }
        #expect(t.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() == "4849bcccce78cb37b1ab96d7bbc9cd3a")
    }

    @Test("subkeys: one per sender incarnation, derived once and cached; a forged incarnation never evicts the cached one")
    func subkeysPerIncarnation() {
        let a = server(incarnation: 50), b = server(incarnation: 5)
        let plain = datagram(.heartbeat)
        let first = sealed(a, plain, to: .node(NodeId(2)))
        #expect(a.counters.subkeysDerived == 1, "the sender derives its server subkey once")
        for _ in 0..<100 { #expect(opened(b, sealed(a, plain, to: .node(NodeId(2)))) != nil) }
        #expect(a.counters.subkeysDerived == 1)
        #expect(b.counters.subkeysDerived == 1, "the receiver derives once for the sender's incarnation")
        // Same counter, another incarnation: another subkey, so another tag over otherwise equal bytes.
        let other = server(incarnation: 51)
        let twin = sealed(other, plain, to: .node(NodeId(2)))
        #expect(Array(first[plain.count + 24..<first.count]) != Array(twin[plain.count + 24..<twin.count]))
        // Someone moves a datagram to a made-up incarnation: derived, refused, not cached.
        var forged = sealed(a, plain, to: .node(NodeId(2)))
        forged[plain.count] ^= 0x40
        #expect(opened(b, forged) == nil)
        #expect(b.counters.badTag == 1 && b.counters.subkeysDerived == 2)
        #expect(opened(b, sealed(a, plain, to: .node(NodeId(2)))) != nil)
        #expect(b.counters.subkeysDerived == 2, "the genuine sender's subkey stayed cached")
        // The sender restarts: its new incarnation is derived once, then cached in its place.
        #expect(opened(b, sealed(other, plain, to: .node(NodeId(2)))) != nil)
        #expect(opened(b, sealed(other, plain, to: .node(NodeId(2)))) != nil)
        #expect(b.counters.subkeysDerived == 3)
    }

    @Test("a sealed datagram opens to exactly the role's bytes, flag set; the trailer is 24 + 16 per tag")
    func roundTrip() {
        let a = server(), b = server(incarnation: 5)
        let plain = datagram(.heartbeat)
        let toGroup = sealed(a, plain, to: .commitGroup)
        #expect(toGroup.count == plain.count + 56, "a multicast from a server carries both tags")
        let toServer = sealed(a, plain, to: .node(NodeId(21)))
        #expect(toServer.count == plain.count + 40, "a datagram for one server carries the server tag only")
        var expected = plain
        expected[6] |= UInt8(Header.flagAuthTag)
        #expect(opened(b, toGroup) == expected)
        #expect(opened(b, toServer) == expected)
        let m = member()
        #expect(opened(m, toGroup) == expected, "a member checks the group tag of a multicast")
        #expect(opened(m, toServer) == nil, "a member holds no server key")
        #expect(m.counters.unknownKey == 1)
        #expect(b.counters.accepted == 2)
    }

    @Test("a member cannot steer a server: server kinds under the group key are refused, member kinds accepted")
    func memberCannotSteerServers() {
        let m = member(), s = server()
        for kind in [MessageKind.heartbeat, .commit, .dataReport, .commitSubmit, .commitAck, .fetchMiss, .messageReply,
                     .idReply, .checkpointReport, .seal, .sealReply, .checkpointChunk] {
            #expect(opened(s, sealed(m, datagram(kind, source: 11))) == nil, "\(kind)")
        }
        #expect(s.counters.serverTagRequired == 12)
        for kind in [MessageKind.data, .messageFetch, .idQuery, .checkpointFetch] {
            #expect(opened(s, sealed(m, datagram(kind, source: 41))) != nil, "\(kind)")
        }
        #expect(s.counters.accepted == 4)
        // Another member takes every kind under the group key: THREAT.md says what that leaves.
        #expect(opened(member(incarnation: 9), sealed(m, datagram(.commit))) != nil)
    }

    @Test("any altered byte is a bad tag; a group without the flag or a cut trailer is counted apart")
    func alteredOrMissing() {
        let a = server(), b = server(incarnation: 5)
        let wire = sealed(a, datagram(.heartbeat), to: .node(NodeId(2)))
        for i in 0..<wire.count where i != 6 && !(28..<32).contains(i) {  // flags and length change the framing
            var bad = wire
            bad[i] ^= 0x5A
            #expect(opened(b, bad) == nil, "byte \(i)")
        }
        #expect(b.counters.badTag + b.counters.malformed + b.counters.unknownKey == UInt64(wire.count - 5))
        #expect(b.counters.badTag >= UInt64(wire.count - 5 - 8), "only the key ids and reserved bytes frame differently")
        #expect(opened(b, datagram(.heartbeat)) == nil)
        #expect(b.counters.missing == 1)
        #expect(opened(b, Array(wire.dropLast(16))) == nil)
        #expect(b.counters.malformed >= 1)
        #expect(opened(b, wire) != nil, "the original still verifies")
    }

    @Test("replays, reordering within the window, old counters and old incarnations")
    func replayWindow() {
        let a = server(incarnation: 50), b = server(incarnation: 5)
        let plain = datagram(.heartbeat)
        let wires = (0..<2_000).map { _ in sealed(a, plain, to: .node(NodeId(2))) }
        #expect(opened(b, wires[10]) != nil)
        #expect(opened(b, wires[10]) == nil, "the same datagram again")
        #expect(b.counters.replayed == 1)
        #expect(opened(b, wires[3]) != nil, "reordered, inside the window")
        #expect(opened(b, wires[1_999]) != nil)
        #expect(opened(b, wires[1_999 - Int(ReplayWindow.span) + 1]) != nil, "the window's oldest counter")
        #expect(opened(b, wires[100]) == nil, "below the window")
        #expect(b.counters.tooOld == 1)
        // The sender restarts: a higher incarnation resets the window, the earlier one is stale.
        let restarted = server(incarnation: 51)
        #expect(opened(b, sealed(restarted, plain, to: .node(NodeId(2)))) != nil)
        #expect(opened(b, wires[1_998]) == nil)
        #expect(b.counters.staleIncarnation == 1)
    }

    @Test("a member's forged high incarnation under the group key does not move the server-class window")
    func keyClassesHaveTheirOwnWindows() {
        let s11 = server(incarnation: 100), s12 = server(incarnation: 7)
        // A member claims source 11 with a huge incarnation on a kind servers take from members.
        let rogue = member(incarnation: .max)
        #expect(opened(s12, sealed(rogue, datagram(.messageFetch, source: 11))) != nil)
        // Server 11's own datagrams (server tag) are still fresh at server 12.
        #expect(opened(s12, sealed(s11, datagram(.messageFetch, source: 11), to: .node(NodeId(12)))) != nil)
        #expect(opened(s12, sealed(s11, datagram(.heartbeat, source: 11), to: .node(NodeId(12)))) != nil)
        #expect(s12.counters.staleIncarnation == 0)
    }

    @Test("rotation: a dropped key is accepted for the window, then refused; the new key is sent under")
    func rotation() {
        let oldKey = key(1, 0x11), newKey = key(2, 0x22)
        let a = server(group: [oldKey], server: [oldKey]), b = server(incarnation: 5, group: [oldKey], server: [oldKey])
        let window = Nanoseconds(10_000)
        // Step 1 everywhere: the new key listed second (accepted, not sent under).
        b.serverKeys!.install([oldKey, newKey], now: Instant(nanoseconds: 100), window: window)
        // Step 2 at the sender only: it sends under the new key; b already accepts it.
        a.serverKeys!.install([newKey, oldKey], now: Instant(nanoseconds: 100), window: window)
        #expect(a.serverKeys!.sendingId == 2)
        let underNew = sealed(a, datagram(.heartbeat), to: .node(NodeId(2)))
        #expect(opened(b, underNew, now: 200) != nil)
        // Step 3 at b: the old key leaves its file; still accepted for the window.
        let olderSender = server(incarnation: 2_000, group: [oldKey], server: [oldKey])  // a later start of source 7
        b.serverKeys!.install([newKey], now: Instant(nanoseconds: 1_000), window: window)
        #expect(b.serverKeys!.acceptedIds(now: Instant(nanoseconds: 1_000)) == [2, 1])
        #expect(opened(b, sealed(olderSender, datagram(.heartbeat), to: .node(NodeId(2))), now: 10_999) != nil)
        #expect(b.counters.acceptedRetiringKey == 1)
        #expect(opened(b, sealed(olderSender, datagram(.heartbeat), to: .node(NodeId(2))), now: 11_000) == nil)
        #expect(b.counters.unknownKey == 1)
        #expect(b.serverKeys!.acceptedIds(now: Instant(nanoseconds: 11_000)) == [2])
    }

    @Test("the peer table is bounded per key class: senders past peers-max are dropped and counted, servers keep room")
    func peerTableBound() {
        let b = server(incarnation: 1)  // peersMax 16 per class
        for source in 1...40 {
            _ = opened(b, sealed(member(incarnation: 3), datagram(.data, source: UInt32(source))))
        }
        #expect(b.counters.accepted == 16)
        #expect(b.counters.peerTableFull == 24)
        // Members filled the group class; servers' datagrams (server class) still get windows.
        for source in 100...110 {
            #expect(opened(b, sealed(server(incarnation: 3), datagram(.heartbeat, source: UInt32(source)), to: .node(NodeId(1)))) != nil)
        }
    }

    @Test("key files with CRLF line ends or bytes that are not ASCII are read or refused, never trapped on")
    func keyFileBytes() throws {
        let hex = String(repeating: "ab", count: 32)
        #expect(try AuthKeyFile.parse("1 \(hex)\r\n2 \(String(repeating: "cd", count: 32))\r\n").map(\.id) == [1, 2])
        for text in ["1 " + String(repeating: "é", count: 32), "1 " + String(repeating: "a", count: 63) + "é", "1 \(hex)é"] {
            #expect(throws: AuthKeyFile.Problem.self) { try AuthKeyFile.parse(text) }
        }
    }

    @Test("key files: ids, hex, duplicates and bounds are checked; text() reads back")
    func keyFiles() throws {
        let keys = [key(3, 0xAB), key(9, 0x01)]
        #expect(try AuthKeyFile.parse(AuthKeyFile.text(keys)) == keys)
        let bad: [(String, String)] = [
            ("", "no key"), ("0 " + String(repeating: "ab", count: 32), "not 1…65535"),
            ("1 abc", "64 hex"), ("1 " + String(repeating: "zz", count: 32), "64 hex"),
            ("1 " + String(repeating: "ab", count: 32) + "\n1 " + String(repeating: "cd", count: 32), "twice"),
            ("1 2 3", "expected"),
        ]
        for (text, message) in bad {
            #expect(throws: AuthKeyFile.Problem.self, "\(text)") { try AuthKeyFile.parse(text) }
            do { _ = try AuthKeyFile.parse(text) } catch { #expect(error.message.contains(message), "\(error)") }
        }
    }

    @Test("a second process with this node id is noticed (its tags verify, its incarnation differs) and never believed")
    func sameNodeIdElsewhere() {
        func node41(_ incarnation: UInt64) -> DatagramAuthenticator {
            DatagramAuthenticator(AuthSetup(groupKeys: [key(1, 0xA1)], serverKeys: nil, incarnation: incarnation,
                                            peersMax: 16, datagramBytesMax: 1_416, node: NodeId(41)))
        }
        let first = node41(100), second = node41(200)
        #expect(opened(first, sealed(second, datagram(.data, source: 41))) == nil)
        #expect(first.counters.sameNodeId == 1 && first.otherIncarnation == 200)
        // An earlier life's datagram replayed looks the same: counted, never acted on.
        #expect(opened(second, sealed(first, datagram(.data, source: 41))) == nil)
        #expect(second.counters.sameNodeId == 1 && second.otherIncarnation == 100)
        // Its own datagram (looped back by another path) is not another process.
        #expect(opened(first, sealed(first, datagram(.data, source: 41))) != nil)
        #expect(first.counters.sameNodeId == 1)
    }
}
