import Testing
@_spi(Benchmarks) @testable import SeqcastClient
import SeqcastCore
import SeqcastWire

/// `Delivery.ordinal`: the group's count of messages, without holes where sequence numbers
/// jump, continued from a checkpoint's count (what a MoldUDP64 gateway numbers by).
@Suite("Delivery ordinals")
struct DeliveryOrdinalTests {
    static func ordinals(_ app: inout EmbeddedApplication, _ seqs: [UInt64]) -> [UInt64] {
        EmbeddedApplicationTests.handed(&app, seqs).map(\.ordinal)
    }

    @Test("ordinals count messages, not sequence numbers")
    func noHoles() {
        var app = EmbeddedApplication(state: nil)
        // Numbers 3, 4 and 8 … 9 went to no-ops or control runs: the messages are still 1, 2, 3, …
        #expect(Self.ordinals(&app, [1, 2, 5, 6, 7, 10]) == [1, 2, 3, 4, 5, 6])
    }

    @Test("a member started from a checkpoint continues the checkpoint's count")
    func continuedFromACheckpoint() {
        var writer = EmbeddedApplication(state: nil)
        _ = Self.ordinals(&writer, Array(1...9) + [12])
        let snapshot = writer.snapshot()
        var joiner = EmbeddedApplication(state: nil)
        joiner.expectingStartCheckpoint = true
        let restored = joiner.restore(snapshot, through: SequenceNumber(12))
        #expect(restored)
        #expect(Self.ordinals(&joiner, [13, 15]) == [11, 12])
        #expect(Self.ordinals(&writer, [13, 15]) == [11, 12])
    }
}
