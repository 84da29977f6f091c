import SeqcastWire

/// The stable-storage records of the sequencer and commit servers: batches of runs, and the
/// sequencer's sender table written before a log truncation. Little-endian u64 words through
/// `StorageQueue.put`; a torn tail stops recovery at the last whole record.
public enum AssignmentRecord {
    static let tagRuns: UInt64 = 1
    static let tagSenders: UInt64 = 2
    /// A commit server's low water: records at or below it were truncated behind a checkpoint.
    static let tagLowWater: UInt64 = 4

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

    static func readRun(_ r: inout RecordReader) -> SequenceRun? {
        guard let first = r.next(), let kc = r.next(), let a = r.next(), let b = r.next() else { return nil }
        let count = UInt32(truncatingIfNeeded: kc)
        guard count >= 1, first >= 1 else { return nil }
        let content: SequenceRun.Content
        switch kc >> 32 {
        case 0: content = .messages(sender: SenderId(rawValue: a), firstCounter: b)
        case 1: content = .noop
        case 2: content = .checkpointInterval(a)
        case 3: content = .endOfStream(sender: SenderId(rawValue: a), lastCounter: b)
        default: return nil
        }
        return SequenceRun(firstSeq: SequenceNumber(first), count: count, content: content)
    }

    /// Queues one record holding the runs of `queue` from `from` through `through` (the group
    /// commit of the sequencer and of a commit server) and returns its ticket.
    static func write(_ queue: RunQueue, from: SequenceNumber, through: SequenceNumber,
                      into storage: inout StorageQueue) -> WriteTicket {
        var n: UInt64 = 0
        queue.forEachSlice(from: from, through: through) { _ in n += 1; return true }
        storage.begin(key: through.rawValue)
        storage.put(tagRuns)
        storage.put(n)
        queue.forEachSlice(from: from, through: through) { run in
            putRun(run, into: &storage)
            return true
        }
        return storage.close()
    }

    /// Encodes `runs` as one runs record, as a commit server or the sequencer writes it (for
    /// tests that forge durable records).
    public static func record(of runs: [SequenceRun]) -> [UInt8] {
        var q = RunQueue(capacity: runs.count)
        for r in runs { _ = q.insert(r) }
        var storage = StorageQueue(arenaBytes: 64 + 32 * runs.count)
        _ = write(q, from: runs.map(\.firstSeq).min()!, through: runs.map(\.lastSeq).max()!, into: &storage)
        let bytes = storage.withBytes(of: 0) { Array($0) }
        storage.removeAll()
        return bytes
    }

    /// Decodes a runs record; nil if it is not one or is torn.
    public static func runs(in bytes: [UInt8]) -> [SequenceRun]? {
        var r = RecordReader(bytes)
        guard r.next() == tagRuns, let n = r.next(), n <= UInt64(bytes.count / 32) else { return nil }
        var out: [SequenceRun] = []
        for _ in 0..<n {
            guard let run = readRun(&r) else { return nil }
            out.append(run)
        }
        return out
    }
}
