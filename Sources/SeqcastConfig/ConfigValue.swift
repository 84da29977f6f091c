import Glibc

/// The value syntaxes of a group file's scalars: integers, durations, IP addresses and ports.
enum ConfigValue {
    /// Decimal or 0x-prefixed hex; `_` separators allowed (`1_000_000`, `0x5351`).
    static func integer<T: FixedWidthInteger>(_ text: String, as: T.Type) -> T? {
        let t = text.filter { $0 != "_" }
        if t.hasPrefix("0x") || t.hasPrefix("0X") { return T(t.dropFirst(2), radix: 16) }
        return T(t, radix: 10)
    }

    /// A positive whole number of ns, us (or µs), ms or s, as nanoseconds.
    static func duration(_ text: String) -> UInt64? {
        let units: [(String, UInt64)] = [("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            let number = text.dropLast(unit.count).filter { $0 != " " }
            guard let n = integer(number, as: UInt64.self), n > 0 else { return nil }
            let (v, overflow) = n.multipliedReportingOverflow(by: scale)
            return overflow ? nil : v
        }
        return nil
    }

    /// `host:port` or `[v6-host]:port`, with an IP literal host and a port in 1 … 65535.
    static func endpoint(_ text: String) -> (host: String, port: UInt16)? {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard let p = UInt16(port), p > 0, family(String(host)) != nil else { return nil }
        return (String(host), p)
    }

    /// 4 or 6 for an IP literal, nil for anything else (names are not resolved).
    static func family(_ host: String) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, host, &buffer) == 1 { return 4 }
        if inet_pton(AF_INET6, host, &buffer) == 1 { return 6 }
        return nil
    }

    static func isMulticast(_ host: String) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, host, &buffer) == 1 { return buffer[0] & 0xF0 == 0xE0 }
        if inet_pton(AF_INET6, host, &buffer) == 1 { return buffer[0] == 0xFF }
        return false
    }
}
