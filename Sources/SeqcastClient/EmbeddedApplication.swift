import SeqcastCore
import SeqcastRuntime
import SeqcastWire

/// The replicated application inside an embedded member: the group's reference digest (what
/// every member of a group computes alike, so a library member and a `seqcast run` member of the
/// same group agree) and the owner's handler and state. A snapshot is the reference digest's 32
/// bytes followed by the owner's `ApplicationState` bytes (the benchmark application's
/// snapshots have the same prefix, so a library member can join a benchmark group too).
///
/// Visible to the benchmarks' delivery rig through `@_spi(Benchmarks)` (not to applications).
@_spi(Benchmarks) public struct EmbeddedApplication: ReplicatedApplication {
    var reference = ReferenceApplication()
    /// The poll's handler, set only while a poll runs (the member delivers only then).
    @_spi(Benchmarks) public var handler: ((Delivery) -> Void)?
    /// Numbers up to here are applied to the digest but not handed to the handler (a start
    /// position's catch-up).
    var quietThrough: UInt64 = 0
    /// Where the application's state stands: the last number handed, or the start position.
    var stateAt: UInt64 = 0
    /// `.liveTail`: after its checkpoint, nothing is handed until the owner set `quietThrough`
    /// to the frontier the member knew then.
    var tailPending = false
    /// The first checkpoint installed is the start the owner asked for (not a fall-back).
    var expectingStartCheckpoint = false
    /// Messages handed during the current poll.
    @_spi(Benchmarks) public var handed = 0
    /// Events of restores, for the owner's `onEvent`.
    var events: [MemberEvent] = []
    let state: ApplicationState?

    static let referenceBytes = 32

    @_spi(Benchmarks) public init(state: ApplicationState?) {
        self.state = state
        events.reserveCapacity(4)
    }

    @_spi(Benchmarks) public var stateDigest: UInt64 { reference.stateDigest }
    @_spi(Benchmarks) public var deliveredCount: UInt64 { reference.deliveredCount }

    @_spi(Benchmarks) public mutating func apply(seq: SequenceNumber, id: MessageId, body: UnsafeRawBufferPointer) {
        reference.apply(seq: seq, id: id, body: body)
        let s = seq.rawValue
        guard s > quietThrough else { return }
        stateAt = s
        handed &+= 1
        handler?(Delivery(sequence: s, ordinal: reference.deliveredCount, id: id, bytes: body))
    }

    @_spi(Benchmarks) public func snapshot() -> [UInt8] { reference.snapshot() + (state?.snapshot() ?? []) }

    @_spi(Benchmarks) public mutating func restore(_ snapshot: [UInt8]) -> Bool { restore(snapshot, through: .zero) }

    @_spi(Benchmarks) public mutating func restore(_ snapshot: [UInt8], through terminal: SequenceNumber) -> Bool {
        guard snapshot.count >= Self.referenceBytes else { return false }
        var restored = ReferenceApplication()
        guard restored.restore(Array(snapshot[..<Self.referenceBytes])) else { return false }
        let t = terminal.rawValue
        if tailPending {
            // The live tail: nothing up to the frontier is handed, so the application's state
            // is not restored either (it would miss what lies between); `settle` says where
            // deliveries start.
            reference = restored
            quietThrough = .max
            return true
        }
        if t <= stateAt {
            // Started after a number the application's state already covers: catch up quietly.
            reference = restored
            quietThrough = max(quietThrough, stateAt)
            return true
        }
        if let state, !state.restore(Array(snapshot[Self.referenceBytes...]), through: t) { return false }
        reference = restored
        events.append(expectingStartCheckpoint ? .startedFromCheckpoint(through: t) : .resynchronised(from: stateAt, to: t))
        expectingStartCheckpoint = false
        stateAt = t
        return true
    }
}

/// The embedded member's event sink: the events an application hears, and the incarnation
/// file a stream's end must reach before its republished messages leave.
struct EmbeddedWorkload: LoopWorkload {
    typealias Role = Member<EmbeddedApplication>
    var events: [MemberEvent] = []
    let incarnationFile: IncarnationFile
    /// A stream end whose next incarnation could not be recorded: the member closes (reusing an
    /// incarnation after a restart would lose messages).
    var stateFailure: String?

    init(incarnationFile: IncarnationFile) {
        self.incarnationFile = incarnationFile
        events.reserveCapacity(1_024)
    }

    mutating func step(_ role: inout Role, now: Instant) -> Instant? { nil }

    mutating func observe(_ event: RoleEvent, now: Instant) {
        switch event {
        case .sequenced(let id, let seq):
            events.append(.committed(id: id, sequence: seq.rawValue))
        case .streamEnded(let ended, let last, let next, let moved, _):
            do throws(FileError) {
                try incarnationFile.record(next.incarnation)
            } catch {
                stateFailure = error.description
            }
            events.append(.streamEnded(ended: ended, lastCounter: last, next: next, republished: moved))
        default:
            break
        }
    }

    func finished(_ role: Role) -> Bool { stateFailure != nil }
}
