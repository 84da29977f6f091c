import SeqcastWire

/// The application a member delivers to, injected as a generic parameter (TigerBeetle's
/// `ReplicaType(StateMachine, …)`), so a checkpoint is taken exactly between two deliveries.
/// It must be deterministic: the same stream gives the same `stateDigest` everywhere (S12, S13).
/// The owner constructs it (with whatever it needs: measurement settings, handles of its own)
/// and hands it to the member, which owns it from then on.
public protocol ReplicatedApplication {
    mutating func apply(seq: SequenceNumber, id: MessageId, body: UnsafeRawBufferPointer)
    /// The whole state, for a checkpoint.
    func snapshot() -> [UInt8]
    /// Replaces the state with a snapshot; false if the snapshot is not one of ours.
    mutating func restore(_ snapshot: [UInt8]) -> Bool
    /// Replaces the state with the snapshot of a checkpoint taken after `terminalSeq`; delivery
    /// continues at `terminalSeq + 1`. By default the same as `restore(_:)`.
    mutating func restore(_ snapshot: [UInt8], through terminalSeq: SequenceNumber) -> Bool
    var stateDigest: UInt64 { get }
}

extension ReplicatedApplication {
    public mutating func restore(_ snapshot: [UInt8], through terminalSeq: SequenceNumber) -> Bool { restore(snapshot) }
}

/// The built-in reference application: counts and bytes delivered and a running digest over
/// (sequence number, message id, body). Serves the demo, the simulator and the tests until a
/// library user supplies their own.
public struct ReferenceApplication: ReplicatedApplication, Sendable {
    public private(set) var deliveredCount: UInt64 = 0
    public private(set) var deliveredBytes: UInt64 = 0
    public private(set) var stateDigest: UInt64 = Digest().value

    public init() {}

    public mutating func apply(seq: SequenceNumber, id: MessageId, body: UnsafeRawBufferPointer) {
        stateDigest = Self.step(stateDigest, seq: seq, id: id, bodyDigest: Digest.of(body))
        deliveredCount &+= 1
        deliveredBytes &+= UInt64(body.count)
    }

    /// One step of the running digest; the simulator's checker replays it independently.
    public static func step(_ digest: UInt64, seq: SequenceNumber, id: MessageId, bodyDigest: UInt64) -> UInt64 {
        var d = Digest(value: digest)
        d.add(seq.rawValue)
        d.add(id.sender.rawValue)
        d.add(id.counter)
        d.add(bodyDigest)
        return d.value
    }

    public func snapshot() -> [UInt8] {
        var out: [UInt8] = []
        for v in [0x5245_4641_5050_0001 as UInt64, deliveredCount, deliveredBytes, stateDigest] {
            withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
        }
        return out
    }

    public mutating func restore(_ snapshot: [UInt8]) -> Bool {
        var r = RecordReader(snapshot)
        guard r.next() == 0x5245_4641_5050_0001, let count = r.next(), let bytes = r.next(), let digest = r.next(),
              r.atEnd else { return false }
        deliveredCount = count
        deliveredBytes = bytes
        stateDigest = digest
        return true
    }
}
