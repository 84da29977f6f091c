/// MoldUDP64 (Nasdaq's MoldUDP64 1.00), the only place its bytes are written and read here.
/// A downstream packet: session (10 bytes, ASCII, right-padded with spaces), the sequence number
/// of its first message (8, big-endian), the message count (2, big-endian), then per message a
/// 2-byte big-endian length and the bytes. Count 0 is a heartbeat and 0xFFFF the end of the
/// session (the number is then the next one expected); no messages follow either. A
/// re-request is the 20-byte header alone: the first number wanted and how many. FEED.md has
/// how Seqcast numbers and packs them.
public enum MoldUDP64 {
    public static let headerBytes = 20
    public static let sessionBytes = 10
    public static let endOfSessionCount: UInt16 = 0xFFFF

    /// The session field: exactly 10 bytes.
    public struct Session: Equatable, Sendable, CustomStringConvertible {
        public let bytes: (UInt64, UInt16)
        public init?(_ name: String) {
            let utf8 = Array(name.utf8)
            guard !utf8.isEmpty, utf8.count <= sessionBytes, utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
            let padded = utf8 + Array(repeating: 0x20, count: sessionBytes - utf8.count)
            self.init(raw: padded.withUnsafeBytes { UnsafeRawBufferPointer($0) })
        }
        /// The first 10 bytes of `raw`.
        public init(raw: UnsafeRawBufferPointer) {
            bytes = (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        }
        public static func == (a: Session, b: Session) -> Bool { a.bytes.0 == b.bytes.0 && a.bytes.1 == b.bytes.1 }
        public func write(to p: UnsafeMutableRawPointer) {
            p.storeBytes(of: bytes.0, toByteOffset: 0, as: UInt64.self)
            p.storeBytes(of: bytes.1, toByteOffset: 8, as: UInt16.self)
        }
        public var description: String {
            var raw = [UInt8](repeating: 0, count: sessionBytes)
            raw.withUnsafeMutableBytes { write(to: $0.baseAddress!) }
            return String(decoding: raw, as: UTF8.self)
        }
    }

    /// Writes a header at `p` (20 bytes).
    public static func writeHeader(_ p: UnsafeMutableRawPointer, session: Session, sequence: UInt64, count: UInt16) {
        session.write(to: p)
        p.storeBytes(of: sequence.bigEndian, toByteOffset: 10, as: UInt64.self)
        p.storeBytes(of: count.bigEndian, toByteOffset: 18, as: UInt16.self)
    }

    /// Writes one message block (length, bytes) at `p`; returns the bytes written.
    public static func writeMessage(_ p: UnsafeMutableRawPointer, _ message: UnsafeRawBufferPointer) -> Int {
        precondition(message.count <= Int(UInt16.max - 1), "a MoldUDP64 message holds at most 65534 bytes")
        p.storeBytes(of: UInt16(message.count).bigEndian, as: UInt16.self)
        if let base = message.baseAddress, message.count > 0 { (p + 2).copyMemory(from: base, byteCount: message.count) }
        return 2 + message.count
    }

    /// Why a datagram is not a packet Seqcast reads.
    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case short(Int)
        case messageOverruns(index: Int)
        case trailingBytes(Int)
        case controlWithMessages
        public var description: String {
            switch self {
            case .short(let n): "\(n) bytes: shorter than the 20-byte header"
            case .messageOverruns(let i): "message \(i)'s length runs past the datagram"
            case .trailingBytes(let n): "\(n) bytes after the last message"
            case .controlWithMessages: "a heartbeat or end-of-session packet with bytes after its header"
            }
        }
    }

    /// A downstream packet, read in place (the messages borrow the datagram).
    public struct Packet {
        public let session: Session
        public let sequence: UInt64
        public let count: UInt16
        let body: UnsafeRawBufferPointer

        public var isHeartbeat: Bool { count == 0 }
        public var isEndOfSession: Bool { count == endOfSessionCount }

        /// Checks every length against the datagram; messages are then read without checks.
        public init(_ d: UnsafeRawBufferPointer) throws(DecodeError) {
            guard d.count >= headerBytes else { throw .short(d.count) }
            session = Session(raw: d)
            sequence = UInt64(bigEndian: d.loadUnaligned(fromByteOffset: 10, as: UInt64.self))
            count = UInt16(bigEndian: d.loadUnaligned(fromByteOffset: 18, as: UInt16.self))
            body = UnsafeRawBufferPointer(rebasing: d[headerBytes...])
            if count == 0 || count == endOfSessionCount {
                guard body.isEmpty else { throw .controlWithMessages }
                return
            }
            var at = 0
            for i in 0..<Int(count) {
                guard at + 2 <= body.count else { throw .messageOverruns(index: i) }
                let n = Int(UInt16(bigEndian: body.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                guard at + 2 + n <= body.count else { throw .messageOverruns(index: i) }
                at += 2 + n
            }
            guard at == body.count else { throw .trailingBytes(body.count - at) }
        }

        /// Each message with its sequence number, in order.
        public func forEachMessage(_ body: (UInt64, UnsafeRawBufferPointer) -> Void) {
            guard !isHeartbeat, !isEndOfSession else { return }
            var at = 0
            for i in 0..<UInt64(count) {
                let n = Int(UInt16(bigEndian: self.body.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                body(sequence + i, UnsafeRawBufferPointer(rebasing: self.body[(at + 2)..<(at + 2 + n)]))
                at += 2 + n
            }
        }
    }

    /// A re-request: exactly a header, count 1 … 0xFFFE.
    public struct Request: Equatable {
        public let session: Session
        public let sequence: UInt64
        public let count: UInt16
        public init?(_ d: UnsafeRawBufferPointer) {
            guard d.count == headerBytes else { return nil }
            session = Session(raw: d)
            sequence = UInt64(bigEndian: d.loadUnaligned(fromByteOffset: 10, as: UInt64.self))
            count = UInt16(bigEndian: d.loadUnaligned(fromByteOffset: 18, as: UInt16.self))
            guard count > 0, count < endOfSessionCount, sequence > 0 else { return nil }
        }
        public init(session: Session, sequence: UInt64, count: UInt16) {
            self.session = session
            self.sequence = sequence
            self.count = count
        }
        public var bytes: [UInt8] {
            var out = [UInt8](repeating: 0, count: headerBytes)
            out.withUnsafeMutableBytes { MoldUDP64.writeHeader($0.baseAddress!, session: session, sequence: sequence, count: count) }
            return out
        }
    }
}
