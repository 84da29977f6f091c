import SeqcastWire

/// A data server's disk store (`GroupConfig.dataStore == .disk`, STORAGE.md): every body it
/// stores is also written to its log, and counts as held (reported to the sequencer) only once
/// that record is durable. A restarted data server reads its bodies back. Records are keyed by
/// write order; the log is truncated behind the oldest body still stored, so disk use follows
/// the store (bodies go behind checkpoints, orphans after their lifetime).
struct DiskHoldings {
    /// Body record: tag, key, sender, counter, logical timestamp, bytes.
    static let bodyTag: UInt64 = 0x5344_424F_4459  // "SDBODY"
    /// Collected record: tag, key, sender, counter through which the sender's bodies were
    /// collected (a restart must not take them back: it could not learn they were committed).
    static let collectedTag: UInt64 = 0x5344_434F_4C4C  // "SDCOLL"
    /// Keys and counters a running server writes stay far below 2^63 (keys rise by one per
    /// record, counters are the wire's, which never overflow); a record beyond is damage.
    static func plausible(key: UInt64, counter: UInt64) -> Bool { key < 1 << 63 && counter < 1 << 63 }
    /// Bodies written and not yet durable, in ticket order, and kept aside until they are (the
    /// memory store's path stays as it was: `store` holds only what may be reported).
    var awaiting: [(ticket: WriteTicket, id: MessageId)] = []
    var awaitingHead = 0
    var awaitingBodies = CounterTable<StoredMessage>()
    /// Each stored body's record key; the write order of live and collected records.
    var keys = CounterTable<UInt64>()
    var order: [(key: UInt64, id: MessageId)] = []
    var orderHead = 0
    var nextKey: UInt64 = 1
    var truncatedThrough: UInt64 = 0

    /// The oldest record still needed: everything before it may go.
    mutating func truncationPoint() -> UInt64 {
        while orderHead < order.count, keys[order[orderHead].id] != order[orderHead].key { orderHead += 1 }
        if orderHead > 4_096, orderHead * 2 > order.count {
            order.removeFirst(orderHead)
            orderHead = 0
        }
        return (orderHead < order.count ? order[orderHead].key : nextKey) - 1
    }
}

extension DataServer {
    /// Writes a just-stored body to the log (disk mode; not while recovering it).
    @inline(never) mutating func writeBody(_ id: MessageId, _ m: StoredMessage, body: UnsafeRawBufferPointer) {
        let key = disk.nextKey
        disk.nextKey += 1
        output.storage.begin(key: key)
        output.storage.put(DiskHoldings.bodyTag)
        output.storage.put(key)
        output.storage.put(id.sender.rawValue)
        output.storage.put(id.counter)
        output.storage.put(m.logicalTs.rawValue)
        output.storage.put(raw: body)
        let ticket = output.storage.close()
        disk.awaiting.append((ticket, id))
        disk.awaitingBodies[id] = m
        noteOnDisk(id, key: key)
    }

    @inline(never) mutating func noteOnDisk(_ id: MessageId, key: UInt64) {
        disk.keys[id] = key
        disk.order.append((key, id))
        disk.nextKey = max(disk.nextKey, key + 1)
    }

    /// Bodies whose records are durable now count as held (and are reported).
    mutating func bodiesPersisted(through ticket: WriteTicket, now: Instant) {
        var touched: SenderId?
        while disk.awaitingHead < disk.awaiting.count, disk.awaiting[disk.awaitingHead].ticket <= ticket {
            let id = disk.awaiting[disk.awaitingHead].id
            disk.awaitingHead += 1
            guard let m = disk.awaitingBodies.removeValue(forKey: id) else { continue }
            // Collected (or its stream ended) while its write was in flight: not kept.
            if isHeldOrObsolete(id) {
                bodies.free(m.body)
                forgetOnDisk(id)
                continue
            }
            store[id] = m
            if touched != id.sender {
                if let s = touched { advancePrefixes(s) }
                touched = id.sender
            }
        }
        if let s = touched { advancePrefixes(s) }
        if disk.awaitingHead == disk.awaiting.count {
            disk.awaiting.removeAll(keepingCapacity: true)
            disk.awaitingHead = 0
        }
        if reportAt == nil, senderOrder.contains(where: { senders[$0]!.dirty }) {
            let earliestNext = lastReportAt.map { $0 + config.timing.reportDelay } ?? now
            reportAt = max(now, earliestNext)
        }
    }

    /// The sender's bodies through `counter` are collected: recorded, so a restart skips them.
    @inline(never) mutating func writeCollected(_ sender: SenderId, through counter: UInt64) {
        let key = disk.nextKey
        disk.nextKey += 1
        output.storage.begin(key: key)
        output.storage.put(DiskHoldings.collectedTag)
        output.storage.put(key)
        output.storage.put(sender.rawValue)
        output.storage.put(counter)
        _ = output.storage.close()
    }

    /// A collected body's record is dead.
    @inline(never) mutating func forgetOnDisk(_ id: MessageId) {
        _ = disk.keys.removeValue(forKey: id)
    }

    /// Truncates the log behind the oldest live body (on refresh ticks: a marker at most per refresh).
    mutating func truncateDisk() {
        let through = disk.truncationPoint()
        guard through > disk.truncatedThrough else { return }
        disk.truncatedThrough = through
        output.storage.truncate(through: through)
    }

    /// Reads bodies back from this server's log after a restart; they are durable already.
    /// Bodies a later record says were collected are skipped (and stay collected).
    mutating func recoverBodies(_ records: [[UInt8]]) {
        var collected: [SenderId: UInt64] = [:]
        for bytes in records {
            var r = RecordReader(bytes)
            guard r.next() == DiskHoldings.collectedTag, let key = r.next(), let sender = r.next(),
                  let counter = r.next() else { continue }
            guard DiskHoldings.plausible(key: key, counter: counter) else {
                output.counters.recordsRefused &+= 1
                continue
            }
            collected[SenderId(rawValue: sender), default: 0] = max(collected[SenderId(rawValue: sender), default: 0], counter)
            disk.nextKey = max(disk.nextKey, key + 1)
        }
        for s in collected.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            senders[s] = SenderHoldings()
            senderOrder.append(s)
            senders.update(s) {
                $0.collectedThrough = collected[s]!
                $0.committedThrough = collected[s]!
            }
            advancePrefixes(s)
        }
        for bytes in records {
            var r = RecordReader(bytes)
            guard r.next() == DiskHoldings.bodyTag, let key = r.next(), let sender = r.next(), let counter = r.next(),
                  let ts = r.next(), let body = r.nextBytes() else { continue }  // not a body record
            guard DiskHoldings.plausible(key: key, counter: counter), counter != 0 else {
                output.counters.recordsRefused &+= 1
                continue
            }
            disk.nextKey = max(disk.nextKey, key + 1)
            let id = MessageId(sender: SenderId(rawValue: sender), counter: counter)
            _ = body.withUnsafeBytes { store(id, logicalTs: SequenceNumber(ts), body: $0, recoveredKey: key) }
        }
    }
}
