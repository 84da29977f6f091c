import Testing
@testable import SeqcastSimulation
import SeqcastCore

/// Scale runs (`ScaleRun.swift`): many members under loss only. Small here (the table with 10,
/// 100 and 1,000 members is `seqcast-sim --scale`); what is asserted is that every member
/// delivers everything, that loss is what makes the servers' repair load, and that it grows with
/// the number of receivers.
@Suite("Scale runs in the simulator")
struct ScaleSimulationTests {
    func scaleRun(members: Int, loss: UInt64, millis: UInt64 = 40) -> SimulationReport {
        var s = ScaleOptions(members: members)
        s.lossPercent = loss
        s.publishMillis = millis
        var o = SimulationOptions(seed: 1, steps: 50_000_000)
        o.scale = s
        var sim = Simulator(options: o)
        return sim.run()
    }

    @Test("every member delivers every committed message once; repairs come from loss and grow with the members")
    func repairLoadFollowsLossAndReceivers() throws {
        let lossless = scaleRun(members: 10, loss: 0)
        let few = scaleRun(members: 10, loss: 2)
        let many = scaleRun(members: 40, loss: 2)
        for r in [lossless, few, many] {
            #expect(r.violations.isEmpty, "\(r.violations)")
            let m = try #require(r.scale)
            // Two publishers at a message per 500 µs each (on average) over the window.
            #expect((120...200).contains(r.published), "published \(r.published) in 40 ms")
            #expect(m.committed >= 100)
            // No crash, no fail-over: each member delivers each message exactly once (the checker
            // has already refused a second delivery), so deliveries are messages times members.
            #expect(UInt64(m.deliveries) == UInt64(r.published) * UInt64(m.members))
            #expect(m.latencyMicros.count == m.deliveries && m.latency(0.5) > 0)
        }
        let quiet = try #require(lossless.scale), lossy = try #require(few.scale), wide = try #require(many.scale)
        #expect(quiet.memberIdQueries + quiet.memberFetches == 0, "members asked for repairs without any loss")
        #expect(lossy.memberIdQueries + lossy.memberFetches > 0 && lossy.dataServerRepairs + lossy.commitServerRepairs > 0)
        #expect(wide.dataServerRepairs + wide.commitServerRepairs > lossy.dataServerRepairs + lossy.commitServerRepairs,
                "four times the receivers under the same loss made no more repair requests")
        #expect(lossy.latency(0.99) > quiet.latency(0.99), "loss did not lengthen the tail")
    }
}

/// The collection grace (`CollectionGrace`) as the scale run measures it: without it, members
/// repairing a loss just behind a new checkpoint find bodies collected and install the
/// checkpoint instead of delivering them.
@Suite("Collection grace in a scale run")
struct CollectionGraceScaleTests {
    @Test("with the grace no member resynchronises across checkpoints under 1 % loss; without it some do")
    func graceKeepsLaggingMembersDelivering() throws {
        func resyncs(grace: Nanoseconds?) throws -> (UInt64, SimulationReport) {
            var s = ScaleOptions(members: 100)
            s.publishMillis = 300
            s.collectionGrace = grace
            var o = SimulationOptions(seed: 1, steps: 50_000_000)
            o.scale = s
            var sim = Simulator(options: o)
            let r = sim.run()
            #expect(r.violations.isEmpty, "\(r.violations)")
            return (try #require(r.scale).memberResyncs, r)
        }
        let (without, _) = try resyncs(grace: Nanoseconds(0))
        let (with, r) = try resyncs(grace: nil)
        #expect(without > 0, "collecting at once made no member resynchronise: the run shows nothing")
        #expect(with == 0)
        let m = try #require(r.scale)
        #expect(UInt64(m.deliveries) == UInt64(r.published) * UInt64(m.members), "every member delivered every message")
    }
}
