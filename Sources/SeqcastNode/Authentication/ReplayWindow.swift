/// What a sender's datagram counter says about a datagram already authenticated.
@frozen public enum ReplayVerdict: Equatable {
    case fresh
    /// The counter was seen in this incarnation.
    case replayed
    /// The counter is below the window: too old to tell, refused.
    case tooOld
    /// An earlier incarnation of the sender (it restarted since).
    case staleIncarnation
}

/// The counters one sender's datagrams were accepted under, within its latest incarnation: the
/// highest, and a bitmap of the `bits` below it (RFC 6479's ring of words, so advancing clears
/// words instead of shifting the whole bitmap). Datagrams may arrive reordered by up to `span`
/// counters; older ones are refused as too old.
@frozen public struct ReplayWindow {
    @usableFromInline static let words = 16
    /// Counters accepted below the highest: one word less than the ring, since the word the
    /// highest counter is in is shared with counters above the window's bottom.
    public static let span: UInt64 = UInt64(words - 1) * 64

    @usableFromInline var incarnation: UInt64 = 0
    @usableFromInline var top: UInt64 = 0
    @usableFromInline var ring: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                 UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    public init() {}

    /// Records `counter` of `incarnation` if it is fresh. Only called after the datagram's tag
    /// verified, so only a key holder can move the window.
    @inlinable public mutating func accept(incarnation inc: UInt64, counter c: UInt64) -> ReplayVerdict {
        if inc != incarnation {
            guard inc > incarnation else { return .staleIncarnation }
            incarnation = inc
            top = 0
            withRing { for i in 0..<Self.words { $0[i] = 0 } }
        }
        guard c != 0 else { return .tooOld }
        if c > top {
            let oldWord = top >> 6, newWord = c >> 6
            let clear = min(newWord - oldWord, UInt64(Self.words))
            if clear > 0 {
                withRing { r in for i in 1...clear { r[Int((oldWord &+ i) & UInt64(Self.words - 1))] = 0 } }
            }
            top = c
        } else if top - c >= Self.span {
            return .tooOld
        }
        let word = Int((c >> 6) & UInt64(Self.words - 1)), bit = UInt64(1) << (c & 63)
        return withRing { r in
            if r[word] & bit != 0 { return .replayed }
            r[word] |= bit
            return .fresh
        }
    }

    @inlinable mutating func withRing<R>(_ body: (UnsafeMutableBufferPointer<UInt64>) -> R) -> R {
        withUnsafeMutableBytes(of: &ring) { body($0.bindMemory(to: UInt64.self)) }
    }
}
