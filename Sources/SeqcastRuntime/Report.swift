/// A flat JSON object written by hand (keys in insertion order), for the one-line reports
/// processes print: no Foundation in the runtime library.
public struct Report: Sendable, CustomStringConvertible {
    public private(set) var fields: [(String, String)] = []
    public init() {}

    public mutating func add(_ key: String, _ value: some BinaryInteger) { fields.append((key, "\(value)")) }
    public mutating func add(_ key: String, _ value: Double) {
        fields.append((key, value.isFinite ? "\((value * 1000).rounded() / 1000)" : "null"))
    }
    public mutating func add(_ key: String, _ value: Bool) { fields.append((key, value ? "true" : "false")) }
    public mutating func add(_ key: String, _ value: String) { fields.append((key, Self.quote(value))) }
    /// A value that is already JSON (a nested object or array).
    public mutating func add(_ key: String, raw: String) { fields.append((key, raw)) }

    public subscript(_ key: String) -> String? { fields.last { $0.0 == key }?.1 }

    public var description: String {
        "{" + fields.map { "\(Self.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    public static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(c.value, radix: 16).count) + String(c.value, radix: 16) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }
}
