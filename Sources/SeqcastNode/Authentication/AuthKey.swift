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

    public static func parse(_ text: String) throws(Problem) -> [AuthKey] {
        var keys: [AuthKey] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            guard fields.count == 2 else { throw Problem(line: n + 1, message: "expected \"<id> <64 hex digits>\"") }
            guard let id = UInt16(fields[0]), id != 0 else {
                throw Problem(line: n + 1, message: "key id \"\(fields[0])\" is not 1…65535")
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

    /// The text of a file holding `keys`, first the one sent under.
    public static func text(_ keys: [AuthKey]) -> String {
        var s = "# seqcast key file: \"<id> <64 hex digits>\" per line; the first is sent under, all are accepted\n"
        for k in keys { s += "\(k.id) " + k.bytes.map { String($0, radix: 16).leftPadded(2) }.joined() + "\n" }
        return s
    }

    static func hexBytes(_ s: Substring) -> [UInt8]? {
        guard s.utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count / 2)
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            guard let b = UInt8(s[i..<j], radix: 16) else { return nil }
            out.append(b)
            i = j
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
