import SeqcastWire

/// The stable-storage records of the sequencer and commit servers: batches of runs with the
/// epoch that wrote them, epochs used or promised, and the sequencer's sender table written
/// before a log truncation. Little-endian u64 words through `StorageQueue.put`; a torn tail
/// stops recovery at the last whole record. Layouts in STORAGE.md.
public enum AssignmentRecord {
    /// Runs without an epoch (written before fail-over existed): read as epoch 1.
    static let tagRuns: UInt64 = 1
    static let tagSenders: UInt64 = 2
    /// A commit server's low water: records at or below it were truncated behind a checkpoint.
    static let tagLowWater: UInt64 = 4
    /// Runs written in an epoch: a later record of a higher epoch rebinds the numbers it covers.
    static let tagEpochRuns: UInt64 = 5
    /// An epoch this node started (sequencer) or promised (commit server), durable before use.
    static let tagEpoch: UInt64 = 6
    public static let legacyEpoch = Epoch(1)
    /// The last word of a sequencer's epoch or sender-table record when its sender table may
    /// miss numbering (a life began without its log): recovery must not treat it as exact.
    static let flagTableInexact: UInt64 = 0x494E4558  // "INEX"

    static func putRun(_ run: SequenceRun, into s: inout StorageQueue) {
        let (kind, a, b): (UInt64, UInt64, UInt64)
        switch run.content {
        case .messages(let sender, let c): (kind, a, b) = (0, sender.rawValue, c)
        case .noop: (kind, a, b) = (1, 0, 0)
        case .checkpointInterval(let n): (kind, a, b) = (2, n, 0)
        case .endOfStream(let sender, let c): (kind, a, b) = (3, sender.rawValue, c)
        }
        s.put(run.firstSeq.rawValue)
        s.put(kind << 32 | UInt64(run.count))
        s.put(a)
        s.put(b)
    }

    /// One run as `putRun` wrote it, held to the wire's rules for runs (a record that breaks
    /// them is damage: the reader refuses the record).
    static func readRun(_ r: inout RecordReader) -> SequenceRun? {
        guard let first = r.next(), let kc = r.next(), let a = r.next(), let b = r.next(), kc >> 32 <= 3 else { return nil }
        guard case .run(let run) = SequenceRun.checked(firstSeq: first, count: UInt32(truncatingIfNeeded: kc),
                                                       kind: UInt8(kc >> 32), a: a, b: b) else { return nil }
        return run
    }

    /// Queues one record holding the runs of `queue` from `from` through `through` (the group
    /// commit of the sequencer and of a commit server) and returns its ticket.
    static func write(_ queue: RunQueue, from: SequenceNumber, through: SequenceNumber, epoch: Epoch,
                      into storage: inout StorageQueue) -> WriteTicket {
        var n: UInt64 = 0
        queue.forEachSlice(from: from, through: through) { _ in n += 1; return true }
        storage.begin(key: through.rawValue)
        storage.put(tagEpochRuns)
        storage.put(epoch.rawValue)
        storage.put(n)
        queue.forEachSlice(from: from, through: through) { run in
            putRun(run, into: &storage)
            return true
        }
        return storage.close()
    }

    /// Encodes `runs` as one runs record, as a commit server or the sequencer writes it (for
    /// tests that forge durable records).
    public static func record(of runs: [SequenceRun], epoch: Epoch = legacyEpoch) -> [UInt8] {
        var q = RunQueue(capacity: runs.count)
        for r in runs { _ = q.insert(r) }
        var storage = StorageQueue(arenaBytes: 64 + 32 * runs.count)
        _ = write(q, from: runs.map(\.firstSeq).min()!, through: runs.map(\.lastSeq).max()!, epoch: epoch,
                  into: &storage)
        let bytes = storage.withBytes(of: 0) { Array($0) }
        storage.removeAll()
        return bytes
    }

    /// Queues one record, written in `epoch`, of exactly what one input wrote: the runs it
    /// rebound (`rebound`) and the held runs of `queue` it appended (`appended`, if any).
    static func write(rebound: [SequenceRun], appended: ClosedRange<SequenceNumber>?, of queue: RunQueue,
                      epoch: Epoch, into storage: inout StorageQueue) -> WriteTicket {
        var key: UInt64 = appended?.upperBound.rawValue ?? 0
        var n = UInt64(rebound.count)
        for run in rebound { key = max(key, run.lastSeq.rawValue) }  // no array made on this hot path
        if let a = appended { queue.forEachSlice(from: a.lowerBound, through: a.upperBound) { _ in n += 1; return true } }
        storage.begin(key: key)
        storage.put(tagEpochRuns)
        storage.put(epoch.rawValue)
        storage.put(n)
        for run in rebound { putRun(run, into: &storage) }
        if let a = appended {
            queue.forEachSlice(from: a.lowerBound, through: a.upperBound) { run in
                putRun(run, into: &storage)
                return true
            }
        }
        return storage.close()
    }

    /// Writes the record of an epoch started or promised and returns its ticket.
    static func writeEpoch(_ epoch: Epoch, nonce: UInt64, key: SequenceNumber, tableInexact: Bool = false,
                           into storage: inout StorageQueue) -> WriteTicket {
        storage.begin(key: key.rawValue)
        storage.put(tagEpoch)
        storage.put(epoch.rawValue)
        storage.put(nonce)
        if tableInexact { storage.put(flagTableInexact) }
        return storage.close()
    }

    /// The epoch of an epoch record; nil if it is not one.
    public static func epoch(in bytes: [UInt8]) -> Epoch? {
        var r = RecordReader(bytes)
        guard r.next() == tagEpoch, let e = r.next() else { return nil }
        return Epoch(checked: e)
    }

    /// Decodes a runs record; nil if it is not one or is torn.
    public static func runs(in bytes: [UInt8]) -> [SequenceRun]? { epochRuns(in: bytes)?.runs }

    /// Decodes a runs record with the epoch that wrote it; nil if it is not one or is torn.
    public static func epochRuns(in bytes: [UInt8]) -> (epoch: Epoch, runs: [SequenceRun])? {
        var r = RecordReader(bytes)
        let epoch: Epoch
        switch r.next() {
        case tagRuns?: epoch = legacyEpoch
        case tagEpochRuns?:
            guard let e = r.next().flatMap(Epoch.init(checked:)) else { return nil }
            epoch = e
        default: return nil
        }
        guard let n = r.next(), n <= UInt64(bytes.count / 32) else { return nil }
        var out: [SequenceRun] = []
        for _ in 0..<n {
            guard let run = readRun(&r) else { return nil }
            out.append(run)
        }
        return (epoch, out)
    }
}
