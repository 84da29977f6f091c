import SeqcastWire

/// Values keyed by message id, laid out by counter: each active sender gets a lane, a ring of
/// slots indexed by counter over a sliding window, so a stream's consecutive counters are
/// consecutive memory and a lookup is an index (no hashing, no probing). Counters outside a
/// lane's window (behind it, or ahead while old values still hold it) go to a hash table: a
/// rare path.
///
/// Used for a member's pending bodies and a data server's store, where ids arrive, wait and
/// leave in nearly counter order. The interface is the part of `HashTable` the roles use.
///
/// Invariants: a key is in at most one place (its lane's window or the overflow table); a
/// lane's window is `[base, base + capacity)` and its values lie in `[low, base + capacity)`;
/// an empty lane may be kept (for reuse by any sender) while there are at most 8 lanes.
public struct CounterTable<Value> {
    @usableFromInline struct Lane {
        @usableFromInline var sender: SenderId
        @usableFromInline var base: UInt64
        /// The lowest counter holding a value (exact while the lane is not empty).
        @usableFromInline var low: UInt64
        @usableFromInline var slots: [Value?]
        @usableFromInline var count = 0
        @usableFromInline init(sender: SenderId, first counter: UInt64, capacity: Int) {
            self.sender = sender
            // A quarter of the window below the first counter seen: reordered or repaired
            // lower counters still land in the lane.
            base = counter > UInt64(capacity / 4) ? counter - UInt64(capacity / 4) : 0
            low = counter
            slots = Array(repeating: nil, count: capacity)
        }
        @inlinable func covers(_ counter: UInt64) -> Bool {
            counter >= base && counter - base < UInt64(slots.count)
        }
    }

    public let laneCapacity: Int
    /// Lanes kept while idle before empty ones are freed.
    static var idleLanesMax: Int { 8 }
    @usableFromInline let mask: UInt64
    @usableFromInline var lanes: [Lane] = []
    /// Lane index by sender (the few active ones).
    @usableFromInline var laneOf: HashTable<SenderId, Int>
    @usableFromInline var overflow: HashTable<MessageId, Value>
    public private(set) var count = 0

    /// - Parameter laneCapacity: counters one sender's window covers (rounded up to a power of two).
    public init(laneCapacity: Int = 16_384, overflowCapacity: Int = 256) {
        var c = 64
        while c < laneCapacity { c <<= 1 }
        self.laneCapacity = c
        mask = UInt64(c - 1)
        laneOf = HashTable(minimumCapacity: 16)
        overflow = HashTable(minimumCapacity: overflowCapacity)
    }

    public var isEmpty: Bool { count == 0 }
    /// Entries held outside the lanes (diagnosis).
    public var overflowCount: Int { overflow.count }
    public var laneCount: Int { lanes.count }

    /// Whether any counter of `sender` is held (its lane, or the overflow table: a rare path
    /// that walks it only when it holds anything).
    public func holdsAny(of sender: SenderId) -> Bool {
        if let l = laneOf[sender], lanes[l].count > 0 { return true }
        guard !overflow.isEmpty else { return false }
        var found = false
        overflow.forEach { id, _ in if id.sender == sender { found = true } }
        return found
    }

    public subscript(id: MessageId) -> Value? {
        get {
            if let l = laneOf[id.sender], lanes[l].covers(id.counter), let v = lanes[l].slots[Int(id.counter & mask)] {
                return v
            }
            return overflow.isEmpty ? nil : overflow[id]
        }
        set {
            if let v = newValue { insert(id, v) } else { removeValue(forKey: id) }
        }
    }

    public mutating func insert(_ id: MessageId, _ value: Value) {
        // Keep one place per key: a window that moved may now cover a key held in the overflow.
        if !overflow.isEmpty, overflow.removeValue(forKey: id) != nil { count -= 1 }
        let c = id.counter
        guard let l = laneOf[id.sender] else {
            if let idle = lanes.firstIndex(where: { $0.count == 0 }) {
                // Reuse an idle lane's slots (all empty): no allocation, no page faults.
                laneOf.removeValue(forKey: lanes[idle].sender)
                lanes[idle].sender = id.sender
                lanes[idle].base = c > UInt64(laneCapacity / 4) ? c - UInt64(laneCapacity / 4) : 0
                lanes[idle].low = c
                laneOf[id.sender] = idle
                lanes[idle].slots[Int(c & mask)] = value
                lanes[idle].count = 1
            } else {
                laneOf[id.sender] = lanes.count
                var lane = Lane(sender: id.sender, first: c, capacity: laneCapacity)
                lane.slots[Int(c & mask)] = value
                lane.count = 1
                lanes.append(lane)
            }
            count += 1
            return
        }
        if !lanes[l].covers(c) { slide(l, toward: c) }
        guard lanes[l].covers(c) else {
            overflow.insert(id, value)
            count += 1
            return
        }
        let i = Int(c & mask)
        if lanes[l].slots[i] == nil {
            lanes[l].count += 1
            count += 1
            if c < lanes[l].low { lanes[l].low = c }
        }
        lanes[l].slots[i] = value
    }

    /// Moves lane `l`'s window up so that `counter` fits, if no value would leave it (values
    /// are never dropped: what still does not fit goes to the overflow table).
    @usableFromInline mutating func slide(_ l: Int, toward counter: UInt64) {
        let cap = UInt64(lanes[l].slots.count)
        // Differences, not `base + cap`: a lane near 2^64 (a counter from the wire) overflowed.
        let base = lanes[l].base
        guard counter >= base, counter - base >= cap else { return }
        let newBase = counter - cap + 1
        if lanes[l].count == 0 || lanes[l].low >= newBase {
            lanes[l].base = newBase
            lanes[l].low = max(lanes[l].low, newBase)
        }
    }

    /// The counters of `sender` held in `from...through`, ascending: walks the sender's lane and
    /// the overflow table, not the range. For ranges far wider than what is held (a commit run
    /// of 2^32 counters from the wire once made a data server look each one up).
    public func heldCounters(of sender: SenderId, from: UInt64, through: UInt64) -> [UInt64] {
        guard from <= through else { return [] }
        var out: [UInt64] = []
        if let l = laneOf[sender] {
            let lane = lanes[l]
            for i in 0..<lane.slots.count where lane.slots[i] != nil {
                let c = lane.base &+ ((UInt64(i) &- lane.base) & mask)
                if c >= from, c <= through { out.append(c) }
            }
        }
        if !overflow.isEmpty {
            for (id, _) in overflow.entries where id.sender == sender && id.counter >= from && id.counter <= through {
                out.append(id.counter)
            }
        }
        return out.sorted()
    }

    @discardableResult
    public mutating func removeValue(forKey id: MessageId) -> Value? {
        let c = id.counter
        if let l = laneOf[id.sender], lanes[l].covers(c), lanes[l].slots[Int(c & mask)] != nil {
            var old: Value? = nil
            swap(&old, &lanes[l].slots[Int(c & mask)])
            lanes[l].count -= 1
            count -= 1
            if lanes[l].count == 0 {
                // Kept for reuse (a stream's pending set empties and refills all the time);
                // only a crowd of idle lanes (many ended incarnations) is trimmed.
                if lanes.count > Self.idleLanesMax { dropLane(l) }
            } else if c == lanes[l].low {
                // Amortized: `low` only walks forward over slots emptied behind it.
                var low = c + 1
                while lanes[l].slots[Int(low & mask)] == nil { low += 1 }
                lanes[l].low = low
            }
            return old
        }
        guard !overflow.isEmpty, let old = overflow.removeValue(forKey: id) else { return nil }
        count -= 1
        return old
    }

    /// An empty lane goes (the last lane takes its index), so ended streams leave nothing behind.
    mutating func dropLane(_ l: Int) {
        laneOf.removeValue(forKey: lanes[l].sender)
        let last = lanes.count - 1
        if l != last {
            lanes.swapAt(l, last)
            laneOf[lanes[l].sender] = l
        }
        lanes.removeLast()
    }

    public mutating func removeAll() {
        lanes.removeAll()
        laneOf.removeAll()
        overflow.removeAll()
        count = 0
    }

    /// Every key (allocates: for rare paths, not per message).
    public var allKeys: [MessageId] { entries.map(\.key) }

    /// Every entry (allocates: for rare paths, not per message).
    public var entries: [(key: MessageId, value: Value)] {
        var out: [(key: MessageId, value: Value)] = []
        out.reserveCapacity(count)
        for lane in lanes {
            for k in 0..<UInt64(lane.slots.count) {
                let c = lane.base + k
                if let v = lane.slots[Int(c & mask)] { out.append((MessageId(sender: lane.sender, counter: c), v)) }
            }
        }
        out.append(contentsOf: overflow.entries)
        return out
    }
}
