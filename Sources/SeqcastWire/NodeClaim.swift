/// `nodeClaim`: a process starting with node id `header.source` asks the commit group (which
/// every role hears) whether another process runs with that id; a live one answers `inUse`, on
/// the commit group too, echoing the asker's nonce, and the asker refuses to start (THREAT.md
/// "Unique identities"). Handled by the node driver, never by a role.
@frozen public struct NodeClaim: Equatable, Sendable {
    /// The sending process's start, wall-clock nanoseconds: the older of two claims wins.
    public var startedAt: UInt64
    /// The asker's random nonce; an answer carries the nonce of the claim it answers, so an
    /// answer recorded earlier and replayed matches no later start.
    public var nonce: UInt64
    /// An answer: the sender runs with this id (else a claim, asking).
    public var inUse: Bool

    @inlinable public init(startedAt: UInt64, nonce: UInt64, inUse: Bool) {
        self.startedAt = startedAt
        self.nonce = nonce
        self.inUse = inUse
    }

    @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
        try w.writeU64(startedAt)
        try w.writeU64(nonce)
        try w.writeU8(inUse ? 1 : 0)
        try w.writeZero(7)
    }

    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> NodeClaim {
        let startedAt = try r.readU64()
        let nonce = try r.readU64()
        let offset = r.offset
        let flag = try r.readU8()
        guard flag <= 1 else { throw .badField(offset: offset) }
        try r.readZero(7)
        return NodeClaim(startedAt: startedAt, nonce: nonce, inUse: flag == 1)
    }
}
