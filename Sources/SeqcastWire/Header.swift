/// The fixed 32-byte header every datagram starts with. Layout in WIRE.md.
@frozen public struct Header: Equatable, Sendable {
    public static let magic: UInt32 = 0x5343_5153  // bytes "SQCS"
    /// 4: data report entries carry `committedThrough` (FAILOVER.md's S14 gap); 3 added the
    /// authentication trailer (issue 14); 2 the group fingerprint (issue 8); version 1 had
    /// no fingerprint.
    public static let version: UInt8 = 4
    public static let byteCount = 32
    /// Flags defined by versions 3 and 4. Unknown flag bits are refused on decode.
    public static let flagRepair: UInt16 = 1 << 0
    /// An `AuthTrailer` follows the `length` bytes of the datagram (the node checks and strips it
    /// before a role decodes; the role sees exactly `length` bytes with the bit still set).
    public static let flagAuthTag: UInt16 = 1 << 1
    public static let flagsKnown: UInt16 = flagRepair | flagAuthTag

    public var kind: MessageKind
    public var flags: UInt16
    public var groupId: UInt32
    /// A digest of the group-wide configuration the sender runs with (`GroupLayout.fingerprint`):
    /// processes of one group whose files differ refuse each other's traffic.
    public var fingerprint: UInt32
    public var epoch: Epoch
    public var source: NodeId
    /// Whole datagram length, header included.
    public var length: UInt32

    @inlinable public init(kind: MessageKind, flags: UInt16 = 0, groupId: UInt32, fingerprint: UInt32 = 0, epoch: Epoch,
                           source: NodeId, length: UInt32 = 0) {
        self.kind = kind
        self.flags = flags
        self.groupId = groupId
        self.fingerprint = fingerprint
        self.epoch = epoch
        self.source = source
        self.length = length
    }

    /// Writes the header with a zero length; `Datagram.finish` patches it.
    @inlinable public func encode(into w: inout WireWriter) throws(EncodeError) {
        guard flags & ~Header.flagsKnown == 0 else { throw .invalidField("unknown flag bits") }
        guard epoch.round < Epoch.roundLimit else { throw .invalidField("epoch round at or above 2^47") }
        try w.writeU32(Header.magic)
        try w.writeU8(Header.version)
        try w.writeU8(kind.rawValue)
        try w.writeU16(flags)
        try w.writeU32(groupId)
        try w.writeU32(fingerprint)
        try w.writeU64(epoch.rawValue)
        try w.writeU32(source.rawValue)
        try w.writeU32(length)
    }

    /// Decodes and validates the header against the whole datagram `r.bytes`.
    @inlinable public static func decode(_ r: inout WireReader) throws(DecodeError) -> Header {
        guard try r.readU32() == magic else { throw .badMagic }
        let version = try r.readU8()
        guard version == Header.version else { throw .unsupportedVersion(version) }
        let kindByte = try r.readU8()
        guard let kind = MessageKind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        let flagsOffset = r.offset
        let flags = try r.readU16()
        guard flags & ~flagsKnown == 0 else { throw .badField(offset: flagsOffset) }
        let groupId = try r.readU32()
        let fingerprint = try r.readU32()
        let epochOffset = r.offset
        guard let epoch = Epoch(checked: try r.readU64()) else { throw .badField(offset: epochOffset) }
        let source = NodeId(try r.readU32())
        let length = try r.readU32()
        guard Int(length) == r.bytes.count else { throw .lengthMismatch(declared: length, actual: r.bytes.count) }
        return Header(kind: kind, flags: flags, groupId: groupId, fingerprint: fingerprint, epoch: epoch, source: source,
                      length: length)
    }
}
