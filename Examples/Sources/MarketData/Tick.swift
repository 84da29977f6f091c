import SeqcastClient

/// One price update: a symbol (up to 8 ASCII bytes), a price in ten-thousandths, and the
/// publisher's tick number (1, 2, … per publisher), as 24 little-endian bytes on the wire.
public struct Tick: Equatable, Sendable {
    public var symbol: String
    public var price: Int64
    public var number: UInt64
    public static let byteCount = 24

    public init(symbol: String, price: Int64, number: UInt64) {
        self.symbol = symbol
        self.price = price
        self.number = number
    }

    public var bytes: [UInt8] {
        var out = Array(symbol.utf8.prefix(8))
        out += [UInt8](repeating: 0, count: 8 - out.count)
        withUnsafeBytes(of: price.littleEndian) { out += $0 }
        withUnsafeBytes(of: number.littleEndian) { out += $0 }
        return out
    }

    /// Reads a tick from borrowed bytes (nil: not a tick).
    public init?(_ b: UnsafeRawBufferPointer) {
        guard b.count == Self.byteCount else { return nil }
        symbol = String(decoding: b[0..<8].prefix { $0 != 0 }, as: UTF8.self)
        price = Int64(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: Int64.self))
        number = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
    }
}

/// The subscriber's replicated state: the last price of every symbol and the last tick number
/// of every publisher, plus the continuity check (a publisher's ticks must rise by exactly one;
/// sequence numbers must rise). A checkpoint carries it, so a late subscriber starts with the
/// same table and goes on checking.
public final class LastPrices: ApplicationState {
    public private(set) var prices: [String: Int64] = [:]
    public private(set) var lastTick: [UInt32: UInt64] = [:]
    public private(set) var lastSequence: UInt64 = 0
    public private(set) var gaps = 0
    public private(set) var applied = 0

    public init() {}

    public func apply(_ d: Delivery) {
        guard let t = Tick(d.bytes) else { return }
        if d.sequence <= lastSequence { gaps += 1 }
        lastSequence = d.sequence
        let last = lastTick[d.sender, default: 0]
        if t.number != last + 1 { gaps += 1 }
        lastTick[d.sender] = max(last, t.number)
        prices[t.symbol] = t.price
        applied += 1
    }

    /// Symbols in order with their prices, one per line (what two subscribers must agree on).
    public var table: String {
        prices.keys.sorted().map { "\($0) \(Double(prices[$0]!) / 10_000)" }.joined(separator: "\n")
    }

    public func snapshot() -> [UInt8] {
        // Text keeps the example short; a real feed would use a binary layout.
        let senders = lastTick.keys.sorted().map { "t \($0) \(lastTick[$0]!)" }
        let symbols = prices.keys.sorted().map { "p \($0) \(prices[$0]!)" }
        return Array((["s \(lastSequence)"] + senders + symbols).joined(separator: "\n").utf8)
    }

    public func restore(_ snapshot: [UInt8], through: UInt64) -> Bool {
        var p: [String: Int64] = [:]
        var t: [UInt32: UInt64] = [:]
        var s: UInt64 = 0
        for line in String(decoding: snapshot, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ")
            switch (f.first, f.count) {
            case ("s", 2): guard let v = UInt64(f[1]) else { return false }; s = v
            case ("t", 3): guard let n = UInt32(f[1]), let v = UInt64(f[2]) else { return false }; t[n] = v
            case ("p", 3): guard let v = Int64(f[2]) else { return false }; p[String(f[1])] = v
            default: return false
            }
        }
        (prices, lastTick, lastSequence) = (p, t, max(s, through))
        return true
    }
}
