import FuzzSupport
import SeqcastCore
import SeqcastRuntime
import SeqcastWire

/// What a node reads back from its disk. First the log's frame scanner on the raw bytes (a
/// torn or overwritten segment: it must find the valid prefix and report damage, never trap);
/// then the same bytes as a list of records handed to every role that recovers from records,
/// as if they had passed the frames' checksums (a bug that wrote a bad record).
/// The first byte picks the recovering role (low 2 bits); with bit 2 set, the records are
/// written as a log segment with valid frames, damaged where the byte after them says (a cut
/// and a flipped byte: a torn write), scanned, and what the scan found is recovered.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    checkScan(bytes)
    guard size >= 1 else { return 0 }
    var records: [[UInt8]] = []
    for chunk in Chunks(UnsafeRawBufferPointer(rebasing: bytes[1...])) { records.append(Array(chunk)) }
    if bytes[0] & 4 != 0 {
        var segment: [UInt8] = []
        for (k, r) in records.enumerated() {
            r.withUnsafeBytes { LogFrame.append(kind: .record, key: UInt64(k + 1), payload: $0, to: &segment) }
        }
        let damage = records.last?.last.map(Int.init) ?? 0
        if !segment.isEmpty {
            segment[(damage * 7919) % segment.count] ^= UInt8(truncatingIfNeeded: damage | 1)
            segment.removeLast((damage * 31) % (segment.count / 2 + 1))
        }
        records = segment.withUnsafeBytes { s in
            checkScan(s).filter { $0.kind == .record }.map { Array(UnsafeRawBufferPointer(rebasing: s[$0.payload])) }
        }
    }
    let config = FuzzGroup.config
    let now = Instant(nanoseconds: 1_000_000_000)
    switch bytes[0] % 4 {
    case 0: _ = Sequencer(config: config, node: NodeId(1), recovering: records, now: now, startSeed: 7)
    case 1: _ = CommitServer(config: config, node: NodeId(21), recovering: records, now: now)
    case 2:
        var disk = config
        disk.dataStore = .disk
        _ = DataServer(config: disk, node: NodeId(11), incarnation: 2, seed: 3, now: now, recovering: records)
    default:
        _ = Member<ReferenceApplication>.checkpointServer(config: config, node: NodeId(31), incarnation: 2, seed: 3, now: now,
                                                         app: ReferenceApplication(), recovering: records, restarted: true)
    }
    return 0
}

/// Scans `bytes` as a log segment: every frame found lies inside, in order, and none overlaps.
@discardableResult
func checkScan(_ bytes: UnsafeRawBufferPointer) -> [LogFrame.Found] {
    let scanned = LogFrame.scan(bytes)
    var end = 0
    for f in scanned.frames {
        precondition(f.offset >= end && f.end <= bytes.count && f.payload.lowerBound >= f.offset
                     && f.payload.upperBound <= f.end, "a frame outside the bytes or overlapping another")
        end = f.end
    }
    return scanned.frames
}
