/// One 32-byte key of a key class with the id the trailer names it by.
public struct AuthKey: Equatable, Sendable {
    public static let byteCount = 32
    /// 1…65535 (0 in a trailer means "no tag").
    public var id: UInt16
    public var bytes: [UInt8]

    public init(id: UInt16, bytes: [UInt8]) {
        precondition(id != 0 && bytes.count == Self.byteCount, "a key has a non-zero id and 32 bytes")
        self.id = id
        self.bytes = bytes
    }
}

/// A key file: one key per line, `<id> <64 hex digits>`, `#` comments and blank lines allowed.
/// The first key is the one this process sends under; every key listed is accepted. Rotating
/// a key without a restart: list the new key second on every host (accepted, not yet used),
/// then move it first; when the old key is dropped from the file, processes keep accepting it
/// for the group's `security.key-rotation-window` after they read the file again.
public enum AuthKeyFile {
    public static let keysMax = 4

    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Reads the file's bytes as ASCII lines (a CR before the LF is allowed); anything else in
    /// a key line is refused with its line number, never trapped on.
    public static func parse(_ text: String) throws(Problem) -> [AuthKey] {
        var keys: [AuthKey] = []
        let lines = Array(text.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (n, raw) in lines.enumerated() {
            let line = raw.prefix { $0 != UInt8(ascii: "#") }
            let fields = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D })
            if fields.isEmpty { continue }
            guard fields.count == 2 else { throw Problem(line: n + 1, message: "expected \"<id> <64 hex digits>\"") }
            guard let id = decimal(fields[0]), id != 0 else {
                throw Problem(line: n + 1, message: "key id \"\(String(decoding: fields[0], as: UTF8.self))\" is not 1…65535")
            }
            guard let bytes = hexBytes(fields[1]), bytes.count == AuthKey.byteCount else {
                throw Problem(line: n + 1, message: "the key is not 64 hex digits (32 bytes)")
            }
            guard !keys.contains(where: { $0.id == id }) else { throw Problem(line: n + 1, message: "key id \(id) is listed twice") }
            guard keys.count < keysMax else { throw Problem(line: n + 1, message: "more than \(keysMax) keys") }
            keys.append(AuthKey(id: id, bytes: bytes))
        }
        guard !keys.isEmpty else { throw Problem(line: 0, message: "no key") }
        return keys
    }

    static func decimal(_ digits: ArraySlice<UInt8>) -> UInt16? {
        guard !digits.isEmpty, digits.count <= 5 else { return nil }
        var v: UInt32 = 0
        for d in digits {
            guard d >= 0x30, d <= 0x39 else { return nil }
            v = v * 10 + UInt32(d - 0x30)
        }
        return v <= UInt32(UInt16.max) ? UInt16(v) : nil
    }

    static func hexBytes(_ digits: ArraySlice<UInt8>) -> [UInt8]? {
        guard digits.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = digits.startIndex
        while i < digits.endIndex {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    /// The text of a file holding `keys`, first the one sent under.
    public static func text(_ keys: [AuthKey]) -> String {
        var s = "# seqcast key file: \"<id> <64 hex digits>\" per line; the first is sent under, all are accepted\n"
        for k in keys { s += "\(k.id) " + k.bytes.map { String($0, radix: 16).leftPadded(2) }.joined() + "\n" }
        return s
    }

}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
