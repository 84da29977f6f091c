import CSeqcastShim

/// The one record format of every log on disk (STORAGE.md): a 32-byte header, then the payload
/// padded with zeros to a multiple of 8.
///
///     0  u32  magic 0x524C5153 ("SQLR")     16 u8   kind (1 record, 2 truncation marker)
///     4  u32  payload length                17 3B   zero
///     8  u64  key                           20 u32  CRC32C of the payload
///                                           24 u32  zero
///                                           28 u32  CRC32C of bytes 0..<28
///
/// The header has its own checksum so that a corrupted length is caught before it is believed:
/// recovery can then tell a torn tail (nothing valid after the damage) from a corrupt record in
/// the middle of a log (valid records after it), which it refuses to skip.
public enum LogFrame {
    public static let magic: UInt32 = 0x524C_5153
    public static let headerBytes = 32
    /// A single record may not exceed this (a checkpoint of `checkpointBytesMax` fits).
    public static let payloadBytesMax = 256 * 1024 * 1024

    public enum Kind: UInt8, Sendable {
        /// A role's record (`StorageQueue`), with the key it gave.
        case record = 1
        /// Records before this marker whose key is at or below its key are deleted.
        case truncation = 2
    }

    /// Bytes a frame of `payload` bytes takes.
    public static func frameBytes(payload: Int) -> Int { headerBytes + (payload + 7) / 8 * 8 }

    /// Appends one frame to `out`.
    public static func append(kind: Kind, key: UInt64, payload: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        precondition(payload.count <= payloadBytesMax, "a record of \(payload.count) bytes is over the log's limit")
        let payloadCRC = seqcast_crc32c(0, payload.baseAddress, payload.count)
        var header = [UInt8](repeating: 0, count: headerBytes)
        put32(&header, 0, magic)
        put32(&header, 4, UInt32(payload.count))
        for i in 0..<8 { header[8 + i] = UInt8(truncatingIfNeeded: key >> (8 * UInt64(i))) }
        header[16] = kind.rawValue
        put32(&header, 20, payloadCRC)
        let headerCRC = header.withUnsafeBytes { seqcast_crc32c(0, $0.baseAddress, 28) }
        put32(&header, 28, headerCRC)
        out.append(contentsOf: header)
        out.append(contentsOf: payload)
        out.append(contentsOf: repeatElement(0, count: (8 - payload.count % 8) % 8))
    }

    /// One frame found in a file.
    public struct Found: Sendable {
        public var offset: Int
        public var kind: Kind
        public var key: UInt64
        public var payload: Range<Int>
        public var end: Int
    }

    /// What a scan of one file's bytes found after its last whole frame.
    public enum Damage: Equatable, Sendable {
        /// Bytes at `offset` that are not a whole, valid frame, and nothing valid after them: a
        /// write that did not finish (recovery cuts the file there).
        case tornTail(offset: Int)
        /// A bad frame at `offset` with a valid frame after it at `nextValid`: never skipped.
        case corrupt(offset: Int, nextValid: Int, reason: String)
    }

    /// Every whole frame from the start, and what ended the scan (nil: the end of the bytes).
    public static func scan(_ bytes: UnsafeRawBufferPointer) -> (frames: [Found], damage: Damage?) {
        var frames: [Found] = []
        var offset = 0
        while offset < bytes.count {
            switch frame(at: offset, in: bytes) {
            case .success(let f):
                frames.append(f)
                offset = f.end
            case .failure(let reason):
                if let next = nextValidFrame(after: offset, in: bytes) {
                    return (frames, .corrupt(offset: offset, nextValid: next, reason: reason.text))
                }
                return (frames, .tornTail(offset: offset))
            }
        }
        return (frames, nil)
    }

    struct Reason: Error { var text: String }

    /// The frame at `offset`, checked: header checksum first, then the length, then the payload's.
    static func frame(at offset: Int, in b: UnsafeRawBufferPointer) -> Result<Found, Reason> {
        guard b.count - offset >= headerBytes else { return .failure(Reason(text: "a partial header")) }
        guard get32(b, offset) == magic else { return .failure(Reason(text: "no record header (bad magic)")) }
        let headerCRC = seqcast_crc32c(0, b.baseAddress! + offset, 28)
        guard get32(b, offset + 28) == headerCRC else { return .failure(Reason(text: "header checksum mismatch")) }
        guard let kind = Kind(rawValue: b[offset + 16]) else { return .failure(Reason(text: "unknown record kind \(b[offset + 16])")) }
        let length = Int(get32(b, offset + 4))
        guard length <= payloadBytesMax else { return .failure(Reason(text: "record length \(length) over the limit")) }
        let end = offset + frameBytes(payload: length)
        guard end <= b.count else { return .failure(Reason(text: "record of \(length) bytes cut short")) }
        let start = offset + headerBytes
        let payloadCRC = seqcast_crc32c(0, b.baseAddress! + start, length)
        guard get32(b, offset + 20) == payloadCRC else { return .failure(Reason(text: "payload checksum mismatch")) }
        var key: UInt64 = 0
        for i in 0..<8 { key |= UInt64(b[offset + 8 + i]) << (8 * UInt64(i)) }
        return .success(Found(offset: offset, kind: kind, key: key, payload: start..<(start + length), end: end))
    }

    /// The first offset after `offset` (frames start at multiples of 8) holding a valid frame.
    static func nextValidFrame(after offset: Int, in b: UnsafeRawBufferPointer) -> Int? {
        var o = (offset / 8 + 1) * 8
        while o + headerBytes <= b.count {
            if get32(b, o) == magic, case .success = frame(at: o, in: b) { return o }
            o += 8
        }
        return nil
    }

    static func put32(_ a: inout [UInt8], _ at: Int, _ v: UInt32) {
        for i in 0..<4 { a[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
    }

    static func get32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(b[at + i]) << (8 * UInt32(i)) }
        return v
    }
}
