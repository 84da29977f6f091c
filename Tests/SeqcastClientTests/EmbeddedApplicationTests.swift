import Testing
@_spi(Benchmarks) @testable import SeqcastClient
import SeqcastCore
import SeqcastWire

/// The application state a test supplies: the bytes it was given and where.
final class RecordingState: ApplicationState {
    var bytes: [UInt8]
    var restored: [(bytes: [UInt8], through: UInt64)] = []
    var accepts = true
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func snapshot() -> [UInt8] { bytes }
    func restore(_ snapshot: [UInt8], through: UInt64) -> Bool {
        restored.append((snapshot, through))
        if accepts { bytes = snapshot }
        return accepts
    }
}

/// How a start position decides what reaches the handler and whether a checkpoint replaces the
/// application's state (the library's part of `SeqcastMember`, without sockets).
@Suite("Embedded application: start positions and checkpoint state")
struct EmbeddedApplicationTests {
    static let sender = SenderId(node: NodeId(41), incarnation: 1)

    /// Applies `seqs` (one body each) and returns the sequence numbers handed to the handler.
    static func apply(_ app: inout EmbeddedApplication, _ seqs: ClosedRange<UInt64>) -> [UInt64] {
        handed(&app, seqs).map(\.sequence)
    }

    /// Applies `seqs` (one body each) and returns what the handler was handed.
    static func handed(_ app: inout EmbeddedApplication, _ seqs: some Sequence<UInt64>) -> [(sequence: UInt64, ordinal: UInt64)] {
        var handed: [(sequence: UInt64, ordinal: UInt64)] = []
        withoutActuallyEscaping({ (d: Delivery) in handed.append((d.sequence, d.ordinal)) }) { h in
            app.handler = h
            for s in seqs {
                [UInt8(truncatingIfNeeded: s)].withUnsafeBytes {
                    app.apply(seq: SequenceNumber(s), id: MessageId(sender: sender, counter: s), body: $0)
                }
            }
            app.handler = nil
        }
        return handed
    }

    /// A checkpoint's snapshot after `through` deliveries of the reference digest, with `user` bytes.
    static func checkpoint(through: UInt64, user: [UInt8]) -> [UInt8] {
        var app = EmbeddedApplication(state: RecordingState(user))
        _ = apply(&app, 1...through)
        return app.snapshot()
    }

    @Test("a snapshot is the group's reference digest (32 bytes) followed by the application's bytes")
    func snapshotLayout() {
        var app = EmbeddedApplication(state: RecordingState([7, 8, 9]))
        _ = Self.apply(&app, 1...5)
        var reference = ReferenceApplication()
        for s in 1...5 as ClosedRange<UInt64> {
            [UInt8(s)].withUnsafeBytes { reference.apply(seq: SequenceNumber(s), id: MessageId(sender: Self.sender, counter: s), body: $0) }
        }
        #expect(app.snapshot() == reference.snapshot() + [7, 8, 9])
        #expect(app.stateDigest == reference.stateDigest)
    }

    @Test("starting after N with a checkpoint at or before N: the state is not replaced, numbers up to N are not handed")
    func resumeAfterStoredNumber() {
        let state = RecordingState([1])
        var app = EmbeddedApplication(state: state)
        app.stateAt = 30
        app.quietThrough = 30
        let image = Self.checkpoint(through: 20, user: [5, 5])
        let restored1 = app.restore(image, through: SequenceNumber(20))
        #expect(restored1)
        #expect(state.restored.isEmpty, "the application's own state already stands at 30")
        #expect(app.events.isEmpty)
        #expect(Self.apply(&app, 21...35) == Array(31...35))
        #expect(app.stateAt == 35)
        #expect(app.stateDigest == Self.checkpointDigest(through: 35), "the group's digest followed every number")
    }

    @Test("starting after N when the group's checkpoint is beyond N: the state is restored and a resynchronisation told")
    func resumeBehindTheHorizonResynchronises() {
        let state = RecordingState([1])
        var app = EmbeddedApplication(state: state)
        app.stateAt = 10
        app.quietThrough = 10
        let restored2 = app.restore(Self.checkpoint(through: 40, user: [4, 0]), through: SequenceNumber(40))
        #expect(restored2)
        #expect(state.restored.count == 1)
        #expect(state.restored.first?.bytes == [4, 0])
        #expect(state.restored.first?.through == 40)
        #expect(app.events == [.resynchronised(from: 10, to: 40)])
        #expect(Self.apply(&app, 41...43) == [41, 42, 43])
    }

    @Test("the start checkpoint is told as a start, not a resynchronisation; later ones are resynchronisations")
    func startCheckpointThenResync() {
        var app = EmbeddedApplication(state: RecordingState([]))
        app.expectingStartCheckpoint = true
        let restored3 = app.restore(Self.checkpoint(through: 8, user: [8]), through: SequenceNumber(8))
        #expect(restored3)
        #expect(Self.apply(&app, 9...10) == [9, 10])
        let restored4 = app.restore(Self.checkpoint(through: 64, user: [64]), through: SequenceNumber(64))
        #expect(restored4)
        #expect(app.events == [.startedFromCheckpoint(through: 8), .resynchronised(from: 10, to: 64)])
    }

    @Test("the live tail restores no application state and hands nothing after its checkpoint until settled")
    func liveTailIsQuietUntilSettled() {
        let state = RecordingState([9])
        var app = EmbeddedApplication(state: state)
        app.expectingStartCheckpoint = true
        app.tailPending = true
        let restored = app.restore(Self.checkpoint(through: 8, user: [8]), through: SequenceNumber(8))
        #expect(restored)
        #expect(state.restored.isEmpty, "the numbers up to the frontier are skipped, so the state is not restored")
        #expect(app.events.isEmpty, "the start is told once the frontier is known")
        #expect(Self.apply(&app, 9...12).isEmpty)
        #expect(app.stateDigest == Self.checkpointDigest(through: 12), "the group's digest still follows every number")
    }

    @Test("a snapshot the application refuses, or one shorter than the digest, is refused")
    func refusedSnapshots() {
        let state = RecordingState([])
        state.accepts = false
        var app = EmbeddedApplication(state: state)
        let digest = app.stateDigest
        let restored6 = app.restore(Self.checkpoint(through: 8, user: [1]), through: SequenceNumber(8))
        #expect(!restored6)
        let restored7 = app.restore([1, 2, 3], through: SequenceNumber(8))
        #expect(!restored7)
        #expect(app.stateDigest == digest, "nothing changed")
        #expect(app.events.isEmpty)
    }

    static func checkpointDigest(through: UInt64) -> UInt64 {
        var app = EmbeddedApplication(state: nil)
        _ = apply(&app, 1...through)
        return app.stateDigest
    }
}
