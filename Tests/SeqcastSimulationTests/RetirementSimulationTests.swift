import Testing
@testable import SeqcastSimulation
import SeqcastCore

/// The forgetting rules run under the simulator's faults, and the checker's mirrored rule (S12)
/// and S9 on fail-over duplicates are checked against them: a seed with a short lifetime, whose
/// streams end at gaps and whose crashed members come back as new incarnations.
@Suite("Retired incarnations in the simulator")
struct RetirementSimulationTests {
    @Test("seed 2 (L = 100): members, checkpoint servers and data servers forget incarnations, and every invariant holds")
    func retirementsHappenAndHold() {
        let r = simulate(seed: 2, steps: 20_000)
        #expect(r.violations.isEmpty, "\(r.violations.map(\.description))")
        #expect(r.report.incarnationsRetired > 0, "no incarnation was forgotten: the rules did not run")
        #expect(r.report.streamsEnded > 0 && r.report.checkpoints > 0)
    }
}
