import SeqcastWire

/// What `Member.publish` says about one message (Aeron's `offer` outcomes).
public enum PublishResult: Equatable, Sendable {
    /// Accepted under this id; a `.sequenced` event names its number once committed.
    case accepted(MessageId)
    /// The window of unsequenced messages is full: try again after some are committed.
    case backPressured
    /// Larger than `messageBytesMax`.
    case tooLarge
}

/// A member's sending side (Part 1 §6): a bounded window of messages not yet known committed,
/// each kept with its id and first logical timestamp, retransmitted unchanged after a timeout.
///
/// Invariants: window counters are consecutive and ascending; an entry leaves the window only
/// when its commit is delivered or its stream ends (then it moves to the next incarnation).
struct Publisher {
    struct Pending {
        var counter: UInt64
        var logicalTs: SequenceNumber
        var body: BodyStore.Handle
        var sentAt: Instant?
    }

    private(set) var sender: SenderId
    private(set) var nextCounter: UInt64 = 1
    var window: [Pending] = []
    var head = 0
    var flushDue = false
    /// How long a sent message waits for its commit before it is sent again: starts at
    /// `senderRetransmit` and backs off (doubling, jittered, up to `senderRetransmitMax`) while
    /// nothing commits, so a publisher cut off from the sequencer does not resend its whole
    /// window every 15 ms; back to the base as soon as something commits.
    var retransmitBackoff: RetryBackoff
    private(set) var retransmitDelay: Nanoseconds

    init(sender: SenderId, windowMax: Int, timing: GroupConfig.Timing) {
        self.sender = sender
        window.reserveCapacity(windowMax)
        retransmitBackoff = RetryBackoff(base: timing.senderRetransmit, max: timing.senderRetransmitMax)
        retransmitDelay = timing.senderRetransmit
    }

    /// A retransmission round went out: the next one waits longer.
    mutating func retransmitted(_ prng: inout Prng) { retransmitDelay = retransmitBackoff.next(&prng) }

    var count: Int { window.count - head }

    mutating func add(body: BodyStore.Handle, logicalTs: SequenceNumber) -> MessageId {
        let id = MessageId(sender: sender, counter: nextCounter)
        compact()
        window.append(Pending(counter: nextCounter, logicalTs: logicalTs, body: body, sentAt: nil))
        nextCounter += 1
        flushDue = true
        return id
    }

    /// Every message up to `counter` is committed (delivered, or covered by an installed
    /// checkpoint); calls `free` with each one's body handle, oldest first.
    mutating func sequenced(through counter: UInt64, free: (UInt64, BodyStore.Handle) -> Void) {
        let before = head
        while head < window.count, window[head].counter <= counter {
            free(window[head].counter, window[head].body)
            head += 1
        }
        if head > before {
            // Commits arrive again: retransmit on the base schedule.
            retransmitBackoff.reset()
            retransmitDelay = retransmitBackoff.base
        }
    }

    /// The stream ended at `lastCounter`: the rest moves to incarnation `next` with new
    /// counters and the current timestamp. Returns how many moved.
    mutating func restart(as next: SenderId, logicalTs: SequenceNumber) -> Int {
        // Only what is still unsequenced moves; the sequenced prefix goes first.
        window.removeFirst(head)
        head = 0
        sender = next
        nextCounter = 1
        for i in window.indices {
            window[i].counter = nextCounter
            window[i].logicalTs = logicalTs
            window[i].sentAt = nil
            nextCounter += 1
        }
        flushDue = !window.isEmpty
        retransmitBackoff.reset()
        retransmitDelay = retransmitBackoff.base
        return window.count
    }

    mutating func compact() {
        if head > 0, head * 2 >= window.count || window.count == window.capacity {
            window.removeFirst(head)
            head = 0
        }
    }

    /// The earliest retransmission deadline.
    var deadline: Instant? {
        guard head < window.count, let sent = window[head].sentAt else { return flushDue ? .zero : nil }
        return flushDue ? .zero : sent + retransmitDelay
    }
}
