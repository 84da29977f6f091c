import SeqcastCore
import SeqcastWire

/// One scheduled happening in the simulated world.
enum SimEvent {
    /// A datagram arrives at node `to` (index), sent by `from`.
    case datagram(to: Int, from: NodeId, bytes: [UInt8])
    /// A node's timer; stale if `generation` no longer matches the node's.
    case wake(node: Int, generation: UInt64)
    /// A storage write became durable; stale if the node crashed since (`life` changed).
    case synced(node: Int, life: UInt64, ticket: WriteTicket)
    /// A publisher publishes its next message.
    case publish(node: Int)
    case crash(node: Int)
    /// A crash never followed by a restart (the first sequencer candidate, where standbys exist).
    case crashForGood(node: Int)
    case restart(node: Int)
    /// A member starts late and joins from a checkpoint.
    case start(node: Int)
    case partitionStart
    /// Cuts one node off from everyone else while it keeps running (an active sequencer
    /// isolated: a standby takes over and two sequencers run at once until it heals).
    case isolate(node: Int)
    case partitionEnd
}

/// A binary min-heap of events by (time, insertion order): equal times keep insertion order,
/// so a run is a pure function of its seed.
struct EventQueue {
    private var heap: [(at: Instant, order: UInt64, event: SimEvent)] = []
    private var nextOrder: UInt64 = 0

    var count: Int { heap.count }

    mutating func push(_ event: SimEvent, at: Instant) {
        heap.append((at, nextOrder, event))
        nextOrder += 1
        var i = heap.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard less(i, p) else { break }
            heap.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> (at: Instant, event: SimEvent)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < heap.count, less(l, m) { m = l }
            if r < heap.count, less(r, m) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return (top.at, top.event)
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        (heap[a].at, heap[a].order) < (heap[b].at, heap[b].order)
    }
}
