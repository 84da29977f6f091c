import CSeqcastMAC
import SeqcastCore
import SeqcastWire

/// Why the node dropped a datagram before its role saw it, and what it accepted (single writer).
public struct AuthCounters: Sendable, Equatable {
    /// Datagrams whose tag verified and whose counter was fresh: handed to the role.
    public var accepted: UInt64 = 0
    /// Of those, accepted under a key a reload dropped (inside the rotation window).
    public var acceptedRetiringKey: UInt64 = 0
    /// No `flagAuthTag`: an unauthenticated sender (or one of a group without authentication).
    public var missing: UInt64 = 0
    /// The flag is set but the bytes after `length` are no trailer.
    public var malformed: UInt64 = 0
    /// The tag needed is under a key id this node does not accept (never had, or retired).
    public var unknownKey: UInt64 = 0
    /// A server was sent a kind only servers may send, without a server tag: a member (or
    /// anyone with the group key) trying to steer a server.
    public var serverTagRequired: UInt64 = 0
    /// The tag does not match: forged or altered in flight.
    public var badTag: UInt64 = 0
    /// A valid datagram seen before (a replay or a network duplicate).
    public var replayed: UInt64 = 0
    /// A counter below the sender's window.
    public var tooOld: UInt64 = 0
    /// An earlier incarnation of a sender that restarted since.
    public var staleIncarnation: UInt64 = 0
    /// A valid datagram from one sender more than `peersMax` allows.
    public var peerTableFull: UInt64 = 0
    /// A valid datagram carrying this node's own id from another incarnation: a second process
    /// runs with this node id (another host; on one host the unicast port is taken).
    public var sameNodeId: UInt64 = 0
    /// GMAC subkeys derived (not a drop): for receiving, once per sender incarnation, key and
    /// key class seen, plus once per datagram whose cached subkey did not fit (a forged or stale
    /// incarnation, a node claim); for sending, once per key and incarnation this node sends under.
    public var subkeysDerived: UInt64 = 0
    public init() {}

    public var dropped: UInt64 {
        missing + malformed + unknownKey + serverTagRequired + badTag + replayed + tooOld + staleIncarnation + peerTableFull
            + sameNodeId
    }

    /// Every counter with its report name.
    public var named: [(String, UInt64)] {
        [("auth_accepted", accepted), ("auth_accepted_retiring_key", acceptedRetiringKey),
         ("auth_dropped_missing", missing), ("auth_dropped_malformed", malformed),
         ("auth_dropped_unknown_key", unknownKey), ("auth_dropped_server_tag_required", serverTagRequired),
         ("auth_dropped_bad_tag", badTag), ("auth_dropped_replayed", replayed), ("auth_dropped_too_old", tooOld),
         ("auth_dropped_stale_incarnation", staleIncarnation), ("auth_dropped_peer_table_full", peerTableFull),
         ("auth_dropped_same_node_id", sameNodeId), ("auth_subkeys_derived", subkeysDerived)]
    }
}

/// What a node authenticates with: its keys, whether it is a server, its incarnation.
public struct AuthSetup {
    /// The group key: every process of the group holds it.
    public var groupKeys: [AuthKey]
    /// The server key: servers only (nil at a member).
    public var serverKeys: [AuthKey]?
    /// This process's start, in wall-clock nanoseconds: higher on every restart of the node.
    public var incarnation: UInt64
    /// Senders whose replay windows are kept (each key class counts apart).
    public var peersMax: Int
    /// The largest datagram a role writes (the trailer comes on top).
    public var datagramBytesMax: Int
    /// This node's id: a verified datagram carrying it from another incarnation is another
    /// process using the same id (nil: not checked).
    public var node: NodeId?

    public init(groupKeys: [AuthKey], serverKeys: [AuthKey]?, incarnation: UInt64, peersMax: Int = 4_096,
                datagramBytesMax: Int, node: NodeId? = nil) {
        self.node = node
        self.groupKeys = groupKeys
        self.serverKeys = serverKeys
        self.incarnation = incarnation
        self.peersMax = peersMax
        self.datagramBytesMax = datagramBytesMax
    }
}

/// Tags every datagram a node sends and checks every datagram it receives (THREAT.md).
///
/// Sending: a member tags under the group key only. A server tags a datagram for one server
/// (`Destination.node`) under the server key only, and one for a multicast group or a
/// requester's address under both keys (members check the group tag, servers the server tag).
///
/// Receiving: a server accepts a kind members send (data, message fetch, id query, checkpoint
/// fetch) under either tag (the server tag when there is one), every other kind only under the
/// server tag; a member checks the group tag. Then the sender's counter must be fresh in the
/// replay window of that sender and key class: a member holding the group key can move only the
/// group-class windows, never the ones server datagrams are checked against.
///
/// Allocates nothing per datagram: keys are precomputed, the sealing buffer and the windows are
/// sized at start. Owned by the node's thread.
public final class DatagramAuthenticator {
    /// The tag algorithm, as reports and the group fingerprint name it.
    public static let algorithm = "aes128-gmac-subkeys"
    public let groupKeys: KeyRing
    public let serverKeys: KeyRing?
    public let incarnation: UInt64
    public var counters = AuthCounters()
    @usableFromInline var counter: UInt64 = 0
    @usableFromInline var sendIncarnation: UInt64
    @usableFromInline let scratch: UnsafeMutableRawBufferPointer
    @usableFromInline var windowIndex: HashTable<PeerClass, Int>
    @usableFromInline var windows: [ReplayWindow]
    /// Windows made per key class (group, server): each at most `peersMax`, so members filling
    /// the group class never crowd out servers.
    @usableFromInline var windowsPerClass = (group: 0, server: 0)
    @usableFromInline let peersMax: Int
    @usableFromInline let node: UInt32?
    /// Whether the last datagram `open` accepted verified under the server key.
    public var lastOpenedUnderServerKey = false
    /// The incarnation last heard using this node's id, if any (said, never acted on).
    public var otherIncarnation: UInt64?
    /// The subkeys this node tags under (group, server), derived again when the sending key,
    /// the ring's generation or the incarnation changes.
    @usableFromInline var sendingGroup: Subkey
    @usableFromInline var sendingServer: Subkey?
    /// The subkey of each window's sender (same index as `windows`): the sender's latest
    /// incarnation seen fresh, under the key it last used.
    @usableFromInline var receiving: [Subkey?]
    /// Where a subkey not cached is derived and a datagram checked before it is trusted; swapped
    /// into `receiving` when the datagram was fresh.
    @usableFromInline var spare: OpaquePointer

    public init(_ setup: AuthSetup) {
        node = setup.node?.rawValue
        groupKeys = KeyRing(setup.groupKeys)
        serverKeys = setup.serverKeys.map { KeyRing($0) }
        incarnation = setup.incarnation
        sendIncarnation = setup.incarnation
        scratch = .allocate(byteCount: setup.datagramBytesMax + AuthTrailer.byteCountMax, alignment: 16)
        peersMax = setup.peersMax
        windowIndex = HashTable(minimumCapacity: 2 * setup.peersMax)
        windows = []
        windows.reserveCapacity(2 * setup.peersMax)
        receiving = []
        receiving.reserveCapacity(2 * setup.peersMax)
        spare = Subkey.makeContext()
        sendingGroup = Subkey(context: Subkey.makeContext(), source: 0, keyId: 0, incarnation: 0, generation: 0)
        sendingServer = setup.serverKeys.map { _ in
            Subkey(context: Subkey.makeContext(), source: 0, keyId: 0, incarnation: 0, generation: 0)
        }
    }

    deinit {
        scratch.deallocate()
        seqcast_gmac_free(spare)
        seqcast_gmac_free(sendingGroup.context)
        if let s = sendingServer { seqcast_gmac_free(s.context) }
        for s in receiving { if let s { seqcast_gmac_free(s.context) } }
    }

    @inlinable public var isServer: Bool { serverKeys != nil }

    /// Kinds a member sends to servers: servers accept them under the group key.
    @inlinable public static func memberSends(_ kindByte: UInt8) -> Bool {
        switch MessageKind(rawValue: kindByte) {
        // A node claim too, so a member's start is heard by servers; a server acts only on
        // claims under the server key (`NodeIdClaim.consider`).
        case .data, .messageFetch, .idQuery, .checkpointFetch, .nodeClaim: true
        default: false
        }
    }

    // MARK: sending

    /// `bytes` (one datagram a role wrote) with the flag set and a trailer appended, in a buffer
    /// valid until the next call.
    @inlinable public func seal(_ bytes: UnsafeRawBufferPointer, to destination: Destination) -> UnsafeRawBufferPointer {
        let n = bytes.count
        // Checked against the trailer this datagram gets: a member's data datagram uses the
        // room its single tag leaves (GroupConfig.memberDataExtraBytes).
        let server = serverKeys
        var group = true
        if server != nil, case .node = destination { group = false }
        let trailerBytes = AuthTrailer.fixedByteCount + AuthTrailer.tagByteCount * ((group ? 1 : 0) + (server != nil ? 1 : 0))
        precondition(n >= Header.byteCount && n + trailerBytes <= scratch.count, "datagram larger than configured")
        scratch.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: n)
        let flags = UInt16(littleEndian: scratch.loadUnaligned(fromByteOffset: 6, as: UInt16.self)) | Header.flagAuthTag
        scratch.storeBytes(of: flags.littleEndian, toByteOffset: 6, as: UInt16.self)
        if counter == UInt64.max {  // never in practice; a counter must not repeat in an incarnation
            sendIncarnation &+= 1
            counter = 0
        }
        counter &+= 1
        // A server's datagram for one server needs no group tag; a member has no server key.
        let t = AuthTrailer(incarnation: sendIncarnation, counter: counter,
                            groupKeyId: group ? groupKeys.sendingId : 0, serverKeyId: server?.sendingId ?? 0)
        t.writeFixed(into: scratch, at: n)
        let covered = n + AuthTrailer.fixedByteCount
        let base = scratch.baseAddress!
        let source = UInt32(littleEndian: scratch.loadUnaligned(fromByteOffset: 24, as: UInt32.self))
        if group {
            refreshSending(&sendingGroup, ring: groupKeys, server: false, source: source)
            seqcast_gmac_tag(sendingGroup.context, counter, base, covered,
                             (base + n + t.groupTagOffset).assumingMemoryBound(to: UInt8.self))
        }
        if let server, var s = sendingServer {
            refreshSending(&s, ring: server, server: true, source: source)
            sendingServer = s
            seqcast_gmac_tag(s.context, counter, base, covered,
                             (base + n + t.serverTagOffset).assumingMemoryBound(to: UInt8.self))
        }
        assert(t.byteCount == trailerBytes)
        return UnsafeRawBufferPointer(start: base, count: n + t.byteCount)
    }

    /// Derives `s` again when the ring's sending key, its generation, this node's incarnation or
    /// the header's sender changed since (a reload, a counter wrap; never per datagram otherwise).
    /// Receivers derive from the header's sender, so that is what the subkey is bound to.
    @inlinable func refreshSending(_ s: inout Subkey, ring: KeyRing, server: Bool, source: UInt32) {
        guard !s.isFor(keyId: ring.sendingId, incarnation: sendIncarnation, generation: ring.generation)
                || s.source != source else { return }
        Subkey.derive(into: s.context, from: ring.sendingKey, server: server, keyId: ring.sendingId,
                      source: source, incarnation: sendIncarnation)
        counters.subkeysDerived &+= 1
        s.source = source
        s.keyId = ring.sendingId
        s.incarnation = sendIncarnation
        s.generation = ring.generation
    }

    // MARK: receiving

    /// The role's part of a received datagram, or nil when it is dropped (counted by reason).
    ///
    /// `windows: false` checks the tag only: no replay window moves, no subkey is cached, no
    /// same-node-id drop. For node claims (`NodeIdClaim`), which are about another process
    /// with this very id and must never move the windows its datagrams, or this node's, are
    /// checked against; their replays are harmless (an answer names the claim's nonce).
    @inlinable public func open(_ datagram: UnsafeRawBufferPointer, now: Instant, windows moving: Bool = true)
        -> UnsafeRawBufferPointer? {
        let trailer: AuthTrailer, length: Int
        switch AuthTrailer.split(datagram) {
        case .missing:
            counters.missing &+= 1
            return nil
        case .malformed:
            counters.malformed &+= 1
            return nil
        case .framed(let t, let l):
            trailer = t
            length = l
        }
        let kind = datagram[5]
        let useServer: Bool
        if let _ = serverKeys, trailer.serverKeyId != 0 {
            useServer = true
        } else if isServer, !Self.memberSends(kind) {
            counters.serverTagRequired &+= 1
            return nil
        } else {
            useServer = false
        }
        let ring = useServer ? serverKeys! : groupKeys
        let keyId = useServer ? trailer.serverKeyId : trailer.groupKeyId
        guard keyId != 0, let (key, retiring) = ring.key(id: keyId, now: now) else {
            counters.unknownKey &+= 1
            return nil
        }
        let base = datagram.baseAddress!
        let source = UInt32(littleEndian: datagram.loadUnaligned(fromByteOffset: 24, as: UInt32.self))
        let tagAt = length + (useServer ? trailer.serverTagOffset : trailer.groupTagOffset)
        // The sender's cached subkey when it is for this incarnation and key; else one derived
        // into the spare context, trusted only once the datagram proves fresh.
        let cachedAt = windowIndex[PeerClass(source: source, server: useServer)]
        let context: OpaquePointer
        var derived = false
        if let c = cachedAt, let k = receiving[c],
           k.isFor(keyId: keyId, incarnation: trailer.incarnation, generation: ring.generation) {
            context = k.context
        } else {
            Subkey.derive(into: spare, from: key, server: useServer, keyId: keyId, source: source,
                          incarnation: trailer.incarnation)
            context = spare
            derived = true
            counters.subkeysDerived &+= 1
        }
        guard seqcast_gmac_verify(context, trailer.counter, base, length + AuthTrailer.fixedByteCount,
                                  (base + tagAt).assumingMemoryBound(to: UInt8.self)) == 1 else {
            counters.badTag &+= 1
            return nil
        }
        guard moving else {
            counters.accepted &+= 1
            lastOpenedUnderServerKey = useServer
            return UnsafeRawBufferPointer(start: base, count: length)
        }
        if source == node, trailer.incarnation != sendIncarnation {
            // Not ours (our own multicast is dropped by address before this, and carries our
            // incarnation): a second process with this node id. Never acted on.
            counters.sameNodeId &+= 1
            otherIncarnation = trailer.incarnation
            return nil
        }
        switch window(source: source, server: useServer) {
        case nil:
            counters.peerTableFull &+= 1
            return nil
        case let i?:
            switch windows[i].accept(incarnation: trailer.incarnation, counter: trailer.counter) {
            case .fresh: break
            case .replayed:
                counters.replayed &+= 1
                return nil
            case .tooOld:
                counters.tooOld &+= 1
                return nil
            case .staleIncarnation:
                counters.staleIncarnation &+= 1
                return nil
            }
            if derived { keep(spareFor: i, source: source, keyId: keyId, incarnation: trailer.incarnation, generation: ring.generation) }
        }
        counters.accepted &+= 1
        lastOpenedUnderServerKey = useServer
        if retiring { counters.acceptedRetiringKey &+= 1 }
        return UnsafeRawBufferPointer(start: base, count: length)
    }

    /// Makes the spare context (just verified a fresh datagram) window `i`'s subkey; the one it
    /// replaces becomes the spare, or a new spare is made the first time a sender is seen.
    @inlinable func keep(spareFor i: Int, source: UInt32, keyId: UInt16, incarnation: UInt64, generation: UInt64) {
        let old = receiving[i]?.context
        receiving[i] = Subkey(context: spare, source: source, keyId: keyId, incarnation: incarnation,
                              generation: generation)
        spare = old ?? Subkey.makeContext()
    }

    /// The window of `source` in one key class, made on first sight; nil when the table is full.
    @inlinable func window(source: UInt32, server: Bool) -> Int? {
        let key = PeerClass(source: source, server: server)
        if let i = windowIndex[key] { return i }
        guard (server ? windowsPerClass.server : windowsPerClass.group) < peersMax else { return nil }
        if server { windowsPerClass.server += 1 } else { windowsPerClass.group += 1 }
        windows.append(ReplayWindow())
        receiving.append(nil)
        windowIndex.insert(key, windows.count - 1)
        return windows.count - 1
    }
}

/// A sender and the key class its datagrams were verified under.
@usableFromInline struct PeerClass: TableKey {
    @usableFromInline var raw: UInt64
    @inlinable init(source: UInt32, server: Bool) { raw = UInt64(source) << 1 | (server ? 1 : 0) }
    @inlinable var tableHash: UInt64 {
        var h = raw &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return h &* 0xBF58_476D_1CE4_E5B9
    }
}
