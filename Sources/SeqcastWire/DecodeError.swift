/// Why a datagram was refused. Every decode failure is one of these: decoding never traps and
/// never allocates by a count the datagram claims. Drivers count drops by `reason`.
public enum DecodeError: Error, Equatable, Sendable {
    /// Fewer bytes remain than the field at `offset` needs.
    case truncated(offset: Int)
    case badMagic
    case unsupportedVersion(UInt8)
    case unknownKind(UInt8)
    /// The header's length disagrees with the datagram's size.
    case lengthMismatch(declared: UInt32, actual: Int)
    /// A count or length is zero where it may not be, overflows, or claims more than is left.
    case badCount(offset: Int)
    /// A field holds a value the format forbids (reserved bits set, counter 0, unknown run kind).
    case badField(offset: Int)
    /// Bytes left over after the body ended.
    case trailingBytes(count: Int)

    /// A short, stable name for drop counters.
    public var reason: String {
        switch self {
        case .truncated: "truncated"
        case .badMagic: "bad-magic"
        case .unsupportedVersion: "bad-version"
        case .unknownKind: "unknown-kind"
        case .lengthMismatch: "length-mismatch"
        case .badCount: "bad-count"
        case .badField: "bad-field"
        case .trailingBytes: "trailing-bytes"
        }
    }
}

/// Why an encode did not fit. Encoding into a caller buffer fails cleanly instead of trapping.
public enum EncodeError: Error, Equatable, Sendable {
    case bufferTooSmall(needed: Int, available: Int)
    case invalidField(String)
}
