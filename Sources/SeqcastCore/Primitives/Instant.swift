/// A point on the driver's monotonic clock, in nanoseconds. The core never reads a clock: every
/// input carries `now`, so a run is a pure function of its inputs (quinn-proto's rule).
@frozen public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64
    @inlinable public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }
    public static let zero = Instant(nanoseconds: 0)
    @inlinable public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    @inlinable public static func + (a: Instant, d: Nanoseconds) -> Instant {
        Instant(nanoseconds: a.nanoseconds &+ d.value)
    }
    @inlinable public func since(_ earlier: Instant) -> Nanoseconds {
        Nanoseconds(nanoseconds >= earlier.nanoseconds ? nanoseconds - earlier.nanoseconds : 0)
    }
    public var description: String { "\(nanoseconds / 1_000)us" }
}

/// A span of time in nanoseconds.
@frozen public struct Nanoseconds: Hashable, Comparable, Sendable {
    public var value: UInt64
    @inlinable public init(_ value: UInt64) { self.value = value }
    @inlinable public static func micros(_ v: UInt64) -> Nanoseconds { Nanoseconds(v * 1_000) }
    @inlinable public static func millis(_ v: UInt64) -> Nanoseconds { Nanoseconds(v * 1_000_000) }
    @inlinable public static func < (a: Nanoseconds, b: Nanoseconds) -> Bool { a.value < b.value }
    @inlinable public static func * (a: Nanoseconds, k: UInt64) -> Nanoseconds { Nanoseconds(a.value &* k) }
}
