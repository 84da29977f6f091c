/// A seeded pseudo-random generator (SplitMix64). Roles take one from their driver so NAK and
/// retransmission jitter are reproducible from a seed; nothing in the core touches system
/// randomness.
@frozen public struct Prng: RandomNumberGenerator, Sendable {
    @usableFromInline var state: UInt64
    @inlinable public init(seed: UInt64) { state = seed }
    @inlinable public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in `0..<bound` (bound > 0); the tiny modulo bias is irrelevant for jitter.
    @inlinable public mutating func below(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "empty range")
        return next() % bound
    }
    /// True with probability `numerator / denominator`.
    @inlinable public mutating func chance(_ numerator: UInt64, in denominator: UInt64) -> Bool {
        below(denominator) < numerator
    }
    /// `base` plus up to `base` of random jitter: the randomised backoff of NAKs and retries.
    @inlinable public mutating func jittered(_ base: Nanoseconds) -> Nanoseconds {
        Nanoseconds(base.value + below(max(base.value, 1)))
    }
}
