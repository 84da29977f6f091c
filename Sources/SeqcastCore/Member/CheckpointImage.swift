import SeqcastWire

/// The content of a checkpoint (Part 1 §7): format version, terminal sequence number, the
/// checkpoint interval in force, the per-incarnation delivered counters with the numbers of
/// their last bindings (so a joiner makes the same de-duplication decisions and forgets the
/// same incarnations, `StreamTables`), the streams that ended (so a publisher that installs a
/// checkpoint still learns its stream ended), and the application snapshot. Digested whole.
///
/// Layout (little-endian 64-bit words; STORAGE.md "Checkpoint image"): version, terminal
/// number, interval, n, n × (sender, counter, last number, last message number), e,
/// e × (sender, last counter), snapshot length, snapshot bytes.
struct CheckpointImage: Equatable {
    /// The digest of what drives de-duplication and stream ends (`CheckpointTables`).
    var tablesDigest: UInt64 { CheckpointTables.digest(interval: interval, delivered: delivered, ended: ended) }

    /// Version 2: delivered entries carry their last binding numbers (32 bytes, were 16).
    static let version: UInt64 = 0x4350_0002
    var terminalSeq: SequenceNumber
    var interval: UInt64
    var delivered: [(SenderId, DeliveredStream)]
    var ended: [(SenderId, UInt64)]
    var snapshot: [UInt8]

    static func == (a: CheckpointImage, b: CheckpointImage) -> Bool {
        a.terminalSeq == b.terminalSeq && a.interval == b.interval && a.snapshot == b.snapshot
            && a.delivered.map { $0.0 } == b.delivered.map { $0.0 } && a.delivered.map { $0.1 } == b.delivered.map { $0.1 }
            && a.ended.map { $0.0 } == b.ended.map { $0.0 } && a.ended.map { $0.1 } == b.ended.map { $0.1 }
    }

    func encode() -> [UInt8] {
        var out: [UInt8] = []
        func put(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(Self.version)
        put(terminalSeq.rawValue)
        put(interval)
        put(UInt64(delivered.count))
        for (s, d) in delivered {
            put(s.rawValue)
            put(d.counter)
            put(d.lastSeq)
            put(d.lastMessageSeq)
        }
        put(UInt64(ended.count))
        for (s, c) in ended {
            put(s.rawValue)
            put(c)
        }
        put(UInt64(snapshot.count))
        out.append(contentsOf: snapshot)
        return out
    }

    static func decode(_ bytes: [UInt8]) -> CheckpointImage? {
        var r = RecordReader(bytes)
        guard r.next() == version, let t = r.next(), let interval = r.next(), interval >= 1, let n = r.next(),
              n <= UInt64(bytes.count / 32) else { return nil }
        var delivered: [(SenderId, DeliveredStream)] = []
        for _ in 0..<n {
            guard let s = r.next(), let c = r.next(), let last = r.next(), let lastMessage = r.next(),
                  lastMessage <= last, last <= t else { return nil }
            delivered.append((SenderId(rawValue: s), DeliveredStream(counter: c, lastSeq: last, lastMessageSeq: lastMessage)))
        }
        guard let e = r.next(), e <= UInt64(bytes.count / 16) else { return nil }
        var ended: [(SenderId, UInt64)] = []
        for _ in 0..<e {
            guard let s = r.next(), let c = r.next() else { return nil }
            ended.append((SenderId(rawValue: s), c))
        }
        guard let len = r.next(), len == UInt64(bytes.count - (32 + Int(n) * 32 + 8 + Int(e) * 16 + 8)) else { return nil }
        let snapshot = Array(bytes[(bytes.count - Int(len))...])
        return CheckpointImage(terminalSeq: SequenceNumber(t), interval: interval, delivered: delivered, ended: ended,
                               snapshot: snapshot)
    }
}

/// The part of a checkpoint that decides what a joiner delivers and skips: the interval in
/// force, the delivered counter (and last binding numbers) per sender incarnation and the ended
/// streams. Its digest
/// travels with `checkpointTaken`, so the simulator's checker can compare it with the tables
/// the committed stream implies (S12), not only the application's state.
public enum CheckpointTables {
    /// Order-independent input: both tables are sorted by sender here.
    public static func digest(interval: UInt64, delivered: [(SenderId, DeliveredStream)], ended: [(SenderId, UInt64)]) -> UInt64 {
        var d = Digest()
        d.add(interval)
        d.add(UInt64(delivered.count))
        for (s, stream) in delivered.sorted(by: { $0.0 < $1.0 }) {
            d.add(s.rawValue)
            d.add(stream.counter)
            d.add(stream.lastSeq)
            d.add(stream.lastMessageSeq)
        }
        d.add(UInt64(ended.count))
        for (s, c) in ended.sorted(by: { $0.0 < $1.0 }) {
            d.add(s.rawValue)
            d.add(c)
        }
        return d.value
    }
}
