import SeqcastCore
import SeqcastNode
import SeqcastWire
import Testing

/// One node id, one process (issue 14): the decisions of a claim (`NodeIdClaim`) and what the
/// authenticator lets through. On real processes: scripts/netns-hosts starts a second process
/// with a live member's id on another namespace host and expects it refused.
@Suite("Node id claims")
struct NodeIdClaimTests {
    static func claim(_ node: UInt32 = 41, startedAt: UInt64 = 1_000, nonce: UInt64 = 77, live: Bool = false) -> NodeIdClaim {
        var c = NodeIdClaim(node: NodeId(node), groupId: 5, fingerprint: 0xF00D, startedAt: startedAt, nonce: nonce)
        c.live = live
        return c
    }

    static func header(_ source: UInt32 = 41, fingerprint: UInt32 = 0xF00D) -> Header {
        Header(kind: .nodeClaim, groupId: 5, fingerprint: fingerprint, epoch: Epoch(1), source: NodeId(source))
    }

    @Test("a live process answers every claim of its id with the asker's nonce, and never refuses itself")
    func liveAnswers() {
        let live = Self.claim(live: true)
        let asking = NodeClaim(startedAt: 5, nonce: 9, inUse: false)  // even an older start: live wins
        #expect(live.hear(Self.header(), asking) == .answer(NodeClaim(startedAt: 1_000, nonce: 9, inUse: true)))
        #expect(live.hear(Self.header(), NodeClaim(startedAt: 5, nonce: 77, inUse: true)) == .ignore)
    }

    @Test("a claiming process refuses on an answer to its own nonce only; a replayed answer is ignored")
    func claimingRefuses() {
        let c = Self.claim()
        #expect(c.hear(Self.header(), NodeClaim(startedAt: 400, nonce: 77, inUse: true)) == .refuse(startedAt: 400))
        #expect(c.hear(Self.header(), NodeClaim(startedAt: 400, nonce: 76, inUse: true)) == .ignore,
                "an answer to another start (recorded, replayed)")
    }

    @Test("two processes claiming at once: the older start (then the lower nonce) answers; a claim alone never refuses")
    func simultaneousClaims() {
        let c = Self.claim(startedAt: 1_000, nonce: 77)
        // An older claim may be this node's earlier life replayed: wait for an answer instead.
        #expect(c.hear(Self.header(), NodeClaim(startedAt: 999, nonce: 1_000, inUse: false)) == .ignore)
        #expect(c.hear(Self.header(), NodeClaim(startedAt: 1_000, nonce: 76, inUse: false)) == .ignore)
        #expect(c.hear(Self.header(), NodeClaim(startedAt: 1_001, nonce: 1, inUse: false))
            == .answer(NodeClaim(startedAt: 1_000, nonce: 1, inUse: true)))
        #expect(c.hear(Self.header(), NodeClaim(startedAt: 1_000, nonce: 78, inUse: false))
            == .answer(NodeClaim(startedAt: 1_000, nonce: 78, inUse: true)))
        #expect(c.hear(Self.header(), NodeClaim(startedAt: 1_000, nonce: 77, inUse: false)) == .ignore, "its own claim")
        // The younger, answered by the older, refuses.
        let younger = Self.claim(startedAt: 1_001, nonce: 1)
        #expect(younger.hear(Self.header(), NodeClaim(startedAt: 1_000, nonce: 1, inUse: true)) == .refuse(startedAt: 1_000))
    }

    @Test("claims of other ids, or of another group configuration, are ignored")
    func otherIdsIgnored() {
        let live = Self.claim(live: true)
        let asking = NodeClaim(startedAt: 5, nonce: 9, inUse: false)
        #expect(live.hear(Self.header(42), asking) == .ignore)
        #expect(live.hear(Self.header(fingerprint: 1), asking) == .ignore)
    }

    @Test("the wire form round-trips, and a flag byte other than 0 or 1 is refused")
    func wire() throws {
        let c = Self.claim()
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { c.encode(NodeClaim(startedAt: 3, nonce: 4, inUse: true), into: $0) }
        #expect(n == Header.byteCount + 24)
        let d = try buffer.withUnsafeBytes { try Datagram.decode(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        guard case .nodeClaim(let back) = d.message else { Issue.record("not a claim"); return }
        #expect(back == NodeClaim(startedAt: 3, nonce: 4, inUse: true) && d.header.source == NodeId(41))
        buffer[Header.byteCount + 16] = 2
        #expect(throws: DecodeError.self) { try buffer.withUnsafeBytes { _ = try Datagram.decode(UnsafeRawBufferPointer(rebasing: $0[..<n])) } }
    }

    static func key(_ id: UInt16, _ fill: UInt8) -> AuthKey { AuthKey(id: id, bytes: [UInt8](repeating: fill, count: 32)) }

    static func auth(node: UInt32, server: Bool, incarnation: UInt64) -> DatagramAuthenticator {
        DatagramAuthenticator(AuthSetup(groupKeys: [key(1, 0xA1)], serverKeys: server ? [key(1, 0x5E)] : nil,
                                        incarnation: incarnation, peersMax: 16, datagramBytesMax: 1_416,
                                        node: NodeId(node)))
    }

    /// `claim`'s datagram asking (or `message`), sealed by `sender` for the commit group.
    static func sealedClaim(_ claim: NodeIdClaim, _ message: NodeClaim? = nil, by sender: DatagramAuthenticator) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { claim.encode(message ?? claim.claim, into: $0) }
        return buffer.withUnsafeBytes { Array(sender.seal(UnsafeRawBufferPointer(rebasing: $0[..<n]), to: .commitGroup)) }
    }

    @Test("authenticated: a second member with this id is heard (not dropped as same-node-id); a server heeds only server-keyed answers")
    func authenticatedClaims() {
        let liveMember = Self.claim(41, startedAt: 1_000, nonce: 1, live: true)
        let liveAuth = Self.auth(node: 41, server: false, incarnation: 1_000)
        let newcomer = Self.claim(41, startedAt: 2_000, nonce: 2)
        let wire = Self.sealedClaim(newcomer, by: Self.auth(node: 41, server: false, incarnation: 2_000))
        let verdict = wire.withUnsafeBytes { liveMember.consider($0, auth: liveAuth, now: Instant(nanoseconds: 1)) }
        #expect(verdict == .answer(NodeClaim(startedAt: 1_000, nonce: 2, inUse: true)))
        #expect(liveAuth.counters.sameNodeId == 0)
        // Server 11: a rogue member's answer for id 11 under the group key cannot stop its start.
        let starting = Self.claim(11, startedAt: 5_000, nonce: 3)
        let serverAuth = Self.auth(node: 11, server: true, incarnation: 5_000)
        let inUse = NodeClaim(startedAt: 1, nonce: 3, inUse: true)
        let liveServer = Self.claim(11, startedAt: 1, nonce: 4, live: true)
        let forged = Self.sealedClaim(liveServer, inUse, by: Self.auth(node: 11, server: false, incarnation: 1))
        #expect(forged.withUnsafeBytes { starting.consider($0, auth: serverAuth, now: Instant(nanoseconds: 1)) } == .ignore)
        let real = Self.sealedClaim(liveServer, inUse, by: Self.auth(node: 11, server: true, incarnation: 1))
        #expect(real.withUnsafeBytes { starting.consider($0, auth: serverAuth, now: Instant(nanoseconds: 1)) } == .refuse(startedAt: 1))
        var altered = real
        altered[Header.byteCount] ^= 1
        #expect(altered.withUnsafeBytes { starting.consider($0, auth: serverAuth, now: Instant(nanoseconds: 1)) } == nil)
    }

    /// A heartbeat-shaped datagram from `source` sealed by `a` (what a live node sends).
    static func sealedTraffic(from source: UInt32, by a: DatagramAuthenticator) -> [UInt8] {
        let c = NodeIdClaim(node: NodeId(source), groupId: 5, fingerprint: 0xF00D, startedAt: 0, nonce: 0)
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { b in
            try! Datagram.encode(Header(kind: .heartbeat, groupId: 5, fingerprint: 0xF00D, epoch: Epoch(1),
                                        source: c.node), into: b) { w throws(EncodeError) in
                try Heartbeat(committedThrough: SequenceNumber(9), checkpointSeq: .zero, checkpointBytes: 0).encode(into: &w)
            }
        }
        return buffer.withUnsafeBytes { Array(a.seal(UnsafeRawBufferPointer(rebasing: $0[..<n]), to: .commitGroup)) }
    }

    @Test("authenticated claims move no replay window: the newcomer still hears the live answer after its own claim, and everyone still hears the live node")
    func claimsMoveNoWindow() {
        let liveAuth = Self.auth(node: 43, server: false, incarnation: 1_000)
        let live = Self.claim(43, startedAt: 1_000, nonce: 1, live: true)
        let newAuth = Self.auth(node: 43, server: false, incarnation: 2_000)
        let newcomer = Self.claim(43, startedAt: 2_000, nonce: 2)
        let bystander = Self.auth(node: 44, server: false, incarnation: 500)
        let now = Instant(nanoseconds: 1)
        // The live node has been heard by the bystander before.
        #expect(Self.sealedTraffic(from: 43, by: liveAuth).withUnsafeBytes { bystander.open($0, now: now) } != nil)
        let probe = Self.sealedClaim(newcomer, by: newAuth)
        // Its own claim comes back to the newcomer (multicast loopback) and reaches everyone.
        #expect(probe.withUnsafeBytes { newcomer.consider($0, auth: newAuth, now: now) } == .ignore)
        let bystanderClaim = Self.claim(44, startedAt: 500, nonce: 9, live: true)
        #expect(probe.withUnsafeBytes { bystanderClaim.consider($0, auth: bystander, now: now) } == .ignore)
        guard case .answer(let answer)? = probe.withUnsafeBytes({ live.consider($0, auth: liveAuth, now: now) }) else {
            Issue.record("the live node did not answer")
            return
        }
        let reply = Self.sealedClaim(live, answer, by: liveAuth)
        #expect(reply.withUnsafeBytes { newcomer.consider($0, auth: newAuth, now: now) } == .refuse(startedAt: 1_000),
                "the older incarnation's answer is not dropped as stale")
        // Nobody's window moved to the newcomer's incarnation: the live node is still heard.
        #expect(Self.sealedTraffic(from: 43, by: liveAuth).withUnsafeBytes { bystander.open($0, now: now) } != nil)
        #expect(bystander.counters.staleIncarnation == 0 && newAuth.counters.staleIncarnation == 0)
    }
}
