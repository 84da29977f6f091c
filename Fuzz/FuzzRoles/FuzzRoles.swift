import FuzzSupport
import SeqcastCore
import SeqcastNode
import SeqcastWire

/// Every role's receive path behind the node, fed a sequence of datagrams (length-prefixed
/// chunks; the seed corpus holds valid traffic the simulator sent, which the fuzzer mutates).
/// The first byte picks the role and whether the node authenticates (then mutated traffic must
/// die at the tag check, and valid-looking traffic tests the trailer's framing); the second
/// byte advances time between datagrams, so timers fire too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRoles(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard size >= 2 else { return 0 }
    let role = (bytes[0] & 0x7F) % 5, authenticated = bytes[0] & 0x80 != 0, step = UInt64(bytes[1]) * 100_000
    let config = authenticated ? FuzzGroup.authenticated : FuzzGroup.plain
    let auth = authenticated ? FuzzGroup.authenticator(server: role != 4) : nil
    let input = UnsafeRawBufferPointer(rebasing: bytes[2...])
    var now = Instant(nanoseconds: 1_000_000_000)
    func drive<R: ProtocolRole>(_ r: R) {
        var node = Node(id: NodeId(99), role: r, transport: DiscardTransport(), store: ImmediateLogStore(),
                        sink: DiscardSink(), auth: auth, now: now)
        // Live with its id claimed: claims of id 99 are answered by the node, not the role.
        var claim = NodeIdClaim(node: NodeId(99), groupId: config.groupId, fingerprint: config.fingerprint,
                                startedAt: 1, nonce: 1)
        claim.live = true
        node.claim = claim
        for (k, datagram) in Chunks(input).enumerated() {
            node.receive(datagram, from: PeerAddress(UInt64(1 + k % 3)), now: now)
            now = now + Nanoseconds(step)
            if let d = node.nextDeadline, d <= now { node.tick(now: now) }
        }
    }
    switch role {
    case 0: drive(Sequencer(config: config, node: NodeId(1), now: now, startSeed: 5))
    case 1: drive(DataServer(config: config, node: NodeId(11), incarnation: 1, seed: 2, now: now))
    case 2: drive(CommitServer(config: config, node: NodeId(21), now: now))
    case 3: drive(Member<ReferenceApplication>.checkpointServer(config: config, node: NodeId(31), incarnation: 1, seed: 2,
                                                                now: now, app: ReferenceApplication()))
    default: drive(Member(config: config, node: NodeId(41), incarnation: 1, seed: 2, now: now, app: ReferenceApplication()))
    }
    return 0
}
