/// The one retry schedule of every role (TigerBeetle's `Timeout` in `src/vsr.zig`): the delay
/// starts at `base`, doubles per retry up to `max`, and is jittered by up to its own length so
/// receivers that lost the same datagram do not retry in step (Aeron's NAK delay). Reset when
/// the thing being retried made progress. Used by the id NAK, the body NAK, the join's
/// checkpoint fetch and the publisher's retransmission.
///
/// Invariants: `0 < base <= max`; every delay returned lies in `[d, 2d)` for the unjittered
/// `d = min(base * 2^attempt, max)`.
public struct RetryBackoff: Sendable, Equatable {
    public let base: Nanoseconds
    public let max: Nanoseconds
    /// Retries since the last reset.
    public private(set) var attempt: UInt64 = 0
    /// Doublings at most (2^16 · base is far beyond any configured maximum).
    public static let doublingsMax: UInt64 = 16

    public init(base: Nanoseconds, max: Nanoseconds) {
        precondition(base.value > 0, "a retry delay must be positive")
        precondition(max >= base, "a retry's maximum delay must be at least its base")
        self.base = base
        self.max = max
    }

    /// The unjittered delay of the next retry.
    public var nominal: Nanoseconds {
        Swift.min(base * (1 << Swift.min(attempt, Self.doublingsMax)), max)
    }

    /// The delay before the next retry (jittered); counts the retry.
    public mutating func next(_ prng: inout Prng) -> Nanoseconds {
        let d = nominal
        attempt &+= 1
        let jittered = prng.jittered(d)
        precondition(jittered >= d && jittered.value < 2 * Swift.max(d.value, 1), "jitter out of bounds")
        return jittered
    }

    /// What was retried made progress: the next retry starts from `base` again.
    public mutating func reset() { attempt = 0 }
}
