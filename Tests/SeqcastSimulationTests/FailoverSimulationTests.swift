import Testing
@testable import SeqcastSimulation
import SeqcastCore
import SeqcastWire

/// Seeds with `seed % 5 == 2` run three sequencer candidates, and the first one dies for good
/// in the second half of the fault phase: standbys detect it by missed heartbeats, seal the
/// commit servers under a new epoch, and the group converges under them (issue 11).
@Suite("Sequencer fail-over in the simulator")
struct FailoverSimulationTests {
    @Test("seed 17: the first candidate dies for good, a standby takes over in a new epoch, every invariant holds")
    func standbyTakesOver() {
        var sim = Simulator(options: SimulationOptions(seed: 17, steps: 20_000))
        let report = sim.run()
        #expect(report.sequencerCandidates == 3)
        #expect(report.violations.isEmpty, "\(report.violations)")
        #expect(report.epochsCommitted >= 2, "a second epoch committed: \(report.faultSummary)")
        let active = sim.activeSequencer
        #expect(active != nil && active?.node != sim.config.sequencer, "a standby is active at the end")
        #expect(report.steps == 20_000)
    }

    @Test("seed 12: the active sequencer is cut off while it runs, a standby takes over, the old one follows after healing")
    func isolatedSequencerIsDeposed() {
        var sim = Simulator(options: SimulationOptions(seed: 12, steps: 20_000))
        let report = sim.run()
        #expect(report.sequencerIsolated)
        #expect(report.violations.isEmpty, "\(report.violations)")
        #expect(report.epochsCommitted >= 2, "\(report.faultSummary)")
        #expect(report.steps == 20_000)
    }

    @Test("ten candidate seeds: no violation, and most of them fail over")
    func candidateSweep() {
        var failedOver = 0
        for k in 0..<10 {
            let seed = UInt64(1_000 + 5 * k + 2)
            var sim = Simulator(options: SimulationOptions(seed: seed, steps: 10_000))
            let report = sim.run()
            #expect(report.violations.isEmpty, "seed \(seed): \(report.violations)")
            if report.epochsCommitted >= 2 { failedOver += 1 }
        }
        #expect(failedOver >= 5, "\(failedOver) of 10 seeds committed under a second epoch")
    }

    @Test("the other seeds run one candidate")
    func oneCandidateElsewhere() {
        #expect(Simulator(options: SimulationOptions(seed: 18, steps: 100)).config.candidates.count == 1)
        #expect(Simulator(options: SimulationOptions(seed: 22, steps: 100)).config.candidates.count == 3)
    }
}
