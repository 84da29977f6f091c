import SeqcastWire

/// A key the protocol's hot tables use: a cheap, well-mixed hash instead of SipHash.
/// Keys come from the network, but every table is bounded by the store that holds its values,
/// so a collision flood costs probes, never memory.
public protocol TableKey: Equatable {
    var tableHash: UInt64 { get }
}

extension MessageId: TableKey {
    /// Groups of 8 consecutive counters of a sender land in 8 adjacent slots (one hashed group
    /// position, the counter's low bits inside it): a stream's next counters are looked up in
    /// order, so they share cache lines instead of missing once each.
    @inlinable public var tableHash: UInt64 {
        var h = sender.rawValue &* 0x9E37_79B9_7F4A_7C15 ^ (counter >> 3) &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 32
        h = h &* 0xD6E8_FEB8_6659_FD93
        h ^= h >> 29
        return h << 3 | counter & 7
    }
}

extension SenderId: TableKey {
    /// The node id sits in the high half: fold it down before multiplying (a product's low bits
    /// depend only on the factor's low bits, and the slot is taken from the low bits).
    @inlinable public var tableHash: UInt64 {
        var h = (rawValue ^ rawValue >> 32) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return h &* 0xBF58_476D_1CE4_E5B9
    }
}

/// An open-addressing hash table (linear probing, backward-shift deletion) with the part of
/// `Dictionary`'s interface the roles use. It replaces `Dictionary` on the per-message paths
/// (a member's pending bodies, a data server's store, per-sender positions), where SipHash and
/// its seeding cost more than the rest of the work: a lookup here is a multiply and a probe or
/// two. Capacity is reserved up front; it doubles (allocating) only past that.
public struct HashTable<Key: TableKey, Value> {
    @usableFromInline var keys: [Key?]
    @usableFromInline var values: [Value?]
    @usableFromInline var mask: Int
    public private(set) var count = 0

    public init(minimumCapacity: Int = 16) {
        var capacity = 16
        while capacity < minimumCapacity * 2 { capacity <<= 1 }
        keys = Array(repeating: nil, count: capacity)
        values = Array(repeating: nil, count: capacity)
        mask = capacity - 1
    }

    public var isEmpty: Bool { count == 0 }

    public mutating func reserveCapacity(_ n: Int) {
        if n * 2 > keys.count { resize(to: n * 2) }
    }

    /// The slot holding `key`, or the empty slot where it would go (negative: -(slot+1)).
    @inlinable func find(_ key: Key) -> Int {
        var i = Int(truncatingIfNeeded: key.tableHash) & mask
        while let k = keys[i] {
            if k == key { return i }
            i = (i + 1) & mask
        }
        return -(i + 1)
    }

    public subscript(key: Key) -> Value? {
        @inlinable get {
            let i = find(key)
            return i >= 0 ? values[i] : nil
        }
        set {
            if let v = newValue { insert(key, v) } else { _ = removeValue(forKey: key) }
        }
    }

    public subscript(key: Key, default fallback: @autoclosure () -> Value) -> Value {
        @inlinable get {
            let i = find(key)
            return i >= 0 ? values[i]! : fallback()
        }
        set { insert(key, newValue) }
    }

    /// In-place update of an existing value (no copy of what it holds); false if absent.
    @inlinable @discardableResult
    public mutating func update(_ key: Key, _ body: (inout Value) -> Void) -> Bool {
        let i = find(key)
        guard i >= 0 else { return false }
        var v: Value? = nil
        swap(&v, &values[i])
        body(&v!)
        swap(&v, &values[i])
        return true
    }

    /// Moves an existing value out for in-place work (no copy of what it holds); the slot stays
    /// reserved until `moveIn`, and nothing may be inserted or removed in between.
    @inlinable public mutating func moveOut(_ key: Key) -> (slot: Int, value: Value)? {
        let i = find(key)
        guard i >= 0 else { return nil }
        var v: Value? = nil
        swap(&v, &values[i])
        return (i, v!)
    }

    @inlinable public mutating func moveIn(slot: Int, _ value: Value) {
        var v: Value? = value
        swap(&v, &values[slot])
    }

    public mutating func insert(_ key: Key, _ value: Value) {
        var i = find(key)
        if i >= 0 {
            values[i] = value
            return
        }
        if (count + 1) * 2 > keys.count {
            resize(to: keys.count * 2)
            i = find(key)
        }
        let slot = -(i + 1)
        keys[slot] = key
        values[slot] = value
        count += 1
    }

    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        var i = find(key)
        guard i >= 0 else { return nil }
        var old: Value? = nil
        swap(&old, &values[i])
        keys[i] = nil
        count -= 1
        // Backward shift: pull later members of the probe run into the hole, so lookups never
        // stop early at it (no tombstones to accumulate).
        var j = i
        while true {
            j = (j + 1) & mask
            guard let k = keys[j] else { break }
            let home = Int(truncatingIfNeeded: k.tableHash) & mask
            // Move k if its home is not cyclically within (i, j].
            let inRange = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if !inRange {
                keys[i] = k
                values.swapAt(i, j)
                keys[j] = nil
                i = j
            }
        }
        return old
    }

    /// Removes every entry `shouldRemove` picks, allocating nothing. Each entry is judged at
    /// least once (a removal shifts later entries back into the hole, so the slot is judged
    /// again), and the result depends only on the predicate, not on the table's layout.
    public mutating func removeAll(where shouldRemove: (Key, Value) -> Bool) {
        var i = 0
        while i < keys.count {
            if let k = keys[i], shouldRemove(k, values[i]!) {
                removeValue(forKey: k)
                continue  // whatever moved into slot i is judged next
            }
            i += 1
        }
    }

    /// Calls `body` with every entry, allocating nothing.
    public func forEach(_ body: (Key, Value) -> Void) {
        for i in keys.indices {
            if let k = keys[i] { body(k, values[i]!) }
        }
    }

    public mutating func removeAll() {
        for i in keys.indices where keys[i] != nil {
            keys[i] = nil
            values[i] = nil
        }
        count = 0
    }

    mutating func resize(to capacity: Int) {
        var c = 16
        while c < capacity { c <<= 1 }
        let oldKeys = keys
        var oldValues = values
        keys = Array(repeating: nil, count: c)
        values = Array(repeating: nil, count: c)
        mask = c - 1
        count = 0
        for i in oldKeys.indices {
            if let k = oldKeys[i] {
                var v: Value? = nil
                swap(&v, &oldValues[i])
                insert(k, v!)
            }
        }
    }

    /// Every key (allocates: for rare paths, not per message).
    public var allKeys: [Key] { keys.compactMap { $0 } }

    /// Every entry (allocates: for rare paths, not per message).
    public var entries: [(key: Key, value: Value)] {
        keys.indices.compactMap { i in keys[i].map { ($0, values[i]!) } }
    }
}
