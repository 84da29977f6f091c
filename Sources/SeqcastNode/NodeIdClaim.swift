import SeqcastCore
import SeqcastWire

/// One node id, one process (issue 14, THREAT.md "Unique identities"). A process starting asks
/// the commit group, which every role hears, whether its id is live (a `nodeClaim`); a live
/// process answers `inUse`, echoing the asker's nonce, and the asker refuses to start. Only
/// such an answer refuses a start: a claim recorded earlier and replayed, or any other
/// datagram, never does. Two processes claiming at once: the older start (then the lower
/// nonce) answers the other's claim, so the younger refuses. A live process answers every
/// claim of its id and never stops because of one (a forged or replayed datagram must not
/// stop a running node). On one host the unicast port already refuses a second
/// process; this is for another host (members bind the group's default host, often a wildcard).
///
/// Pure decisions; the node driver (`Node`) answers while the role runs, the runtime claims
/// before the role starts.
public struct NodeIdClaim: Sendable {
    public let node: NodeId
    public let groupId: UInt32
    public let fingerprint: UInt32
    /// This process's start, wall-clock nanoseconds.
    public let startedAt: UInt64
    public let nonce: UInt64
    /// Past the claiming period: answers claims, never refuses.
    public var live = false

    public init(node: NodeId, groupId: UInt32, fingerprint: UInt32, startedAt: UInt64, nonce: UInt64) {
        self.node = node
        self.groupId = groupId
        self.fingerprint = fingerprint
        self.startedAt = startedAt
        self.nonce = nonce
    }

    public enum Verdict: Equatable, Sendable {
        /// Not about this node's id, this process's own, or a stale answer: nothing to do.
        case ignore
        /// Another process claims this id: tell it (to its address) that this one runs.
        case answer(NodeClaim)
        /// A process started earlier runs with this id (or claims it first): do not start.
        case refuse(startedAt: UInt64)
    }

    /// The claim this process sends while claiming.
    public var claim: NodeClaim { NodeClaim(startedAt: startedAt, nonce: nonce, inUse: false) }

    public var header: Header {
        Header(kind: .nodeClaim, groupId: groupId, fingerprint: fingerprint, epoch: Epoch(1), source: node)
    }

    /// What a verified claim or answer from `header.source` means here.
    public func hear(_ header: Header, _ c: NodeClaim) -> Verdict {
        guard header.source == node, header.groupId == groupId, header.fingerprint == fingerprint else { return .ignore }
        if c.inUse {
            // Only an answer to this start's nonce counts: a recorded answer, replayed, names another.
            return !live && c.nonce == nonce ? .refuse(startedAt: c.startedAt) : .ignore
        }
        if c.startedAt == startedAt, c.nonce == nonce { return .ignore }  // our own claim, come back
        let answer = Verdict.answer(NodeClaim(startedAt: startedAt, nonce: c.nonce, inUse: true))
        if live { return answer }
        // Claiming too: the older start answers, the younger waits for that answer (a claim
        // alone never refuses: it may be a replay of this node's earlier life).
        let otherIsOlder = c.startedAt < startedAt || (c.startedAt == startedAt && c.nonce < nonce)
        return otherIsOlder ? .ignore : answer
    }

    /// Decides about a received datagram of kind `nodeClaim`: verified first when the group
    /// authenticates, tag only (no replay window moves: a claim is about another process with
    /// this id); a server acts only on claims under the server key, so a member cannot stop a
    /// server's start. Nil when it is not one this node can read (dropped, counted by the
    /// authenticator, or malformed).
    public func consider(_ bytes: UnsafeRawBufferPointer, auth: DatagramAuthenticator?, now: Instant) -> Verdict? {
        // Claims of other ids are not even opened (the header's source, before any check).
        guard bytes.count >= Header.byteCount,
              UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 24, as: UInt32.self)) == node.rawValue else {
            return .ignore
        }
        var inner = bytes
        if let a = auth {
            guard let opened = a.open(bytes, now: now, windows: false) else { return nil }
            if a.isServer, !a.lastOpenedUnderServerKey { return .ignore }
            inner = opened
        }
        guard let d = try? Datagram.decode(inner), case .nodeClaim(let c) = d.message else { return nil }
        return hear(d.header, c)
    }

    /// `nodeClaim` as the first byte of the kind field says (before any decoding or tag check).
    @inlinable public static func isClaim(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count > 5 && bytes[5] == MessageKind.nodeClaim.rawValue
    }

    /// Encodes `c` from this node into `buffer`; its length.
    public func encode(_ c: NodeClaim, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        do {
            return try Datagram.encode(header, into: buffer) { w throws(EncodeError) in try c.encode(into: &w) }
        } catch {
            preconditionFailure("a node claim fits any datagram buffer: \(error)")
        }
    }
}
