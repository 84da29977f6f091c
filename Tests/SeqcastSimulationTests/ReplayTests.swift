import Testing
@testable import SeqcastSimulation
import SeqcastCore
import SeqcastWire

/// Runs one simulation and returns its report and the checker's final frontier and violations.
func simulate(seed: UInt64, steps: Int, faults: Bool = true, collectionLagPercent: Int? = nil)
    -> (report: SimulationReport, frontier: UInt64, violations: [InvariantChecker.Violation]) {
    var options = SimulationOptions(seed: seed, steps: steps)
    options.faults = faults
    options.collectionLagPercent = collectionLagPercent
    var sim = Simulator(options: options)
    let report = sim.run()
    return (report, sim.checker.frontier, sim.checker.violations)
}

/// Every stored field of a report as "label=value", by reflection, so a field added to
/// `SimulationReport` later is compared too without touching this test.
func fields(of report: SimulationReport, except excluded: Set<String> = []) -> [String] {
    Mirror(reflecting: report).children.compactMap { child in
        guard let label = child.label, !excluded.contains(label) else { return nil }
        return "\(label)=\(String(reflecting: child.value))"
    }
}

/// A run is a pure function of its seed: replaying a seed reproduces it exactly, which is what
/// makes a failing seed worth reporting.
@Suite("Deterministic replay")
struct ReplayTests {
    static let steps = 2_000

    @Test("the same seed twice gives identical reports", arguments: [7, 42] as [UInt64])
    func sameSeedSameRun(seed: UInt64) {
        let first = simulate(seed: seed, steps: Self.steps)
        let second = simulate(seed: seed, steps: Self.steps)
        // Reflection covers every field; the explicit ones document what matters most.
        #expect(fields(of: first.report) == fields(of: second.report))
        #expect(first.report.seed == seed)
        #expect(first.report.steps == second.report.steps)
        #expect(first.report.violations == second.report.violations)
        #expect(first.report.published == second.report.published)
        #expect(first.report.committed == second.report.committed)
        #expect(first.report.delivered == second.report.delivered)
        #expect(first.report.datagramsSent == second.report.datagramsSent)
        #expect(first.report.datagramsDropped == second.report.datagramsDropped)
        #expect(first.report.datagramsDuplicated == second.report.datagramsDuplicated)
        #expect(first.report.crashes == second.report.crashes)
        #expect(first.report.partitions == second.report.partitions)
        #expect(first.report.idQueries == second.report.idQueries)
        #expect(first.report.fetches == second.report.fetches)
        #expect(first.report.checkpoints == second.report.checkpoints)
        #expect(first.report.joins == second.report.joins)
        #expect(first.report.streamsEnded == second.report.streamsEnded)
        #expect(first.report.collected == second.report.collected)
        #expect(first.report.simulatedMicros == second.report.simulatedMicros)
        #expect(first.frontier == second.frontier)
        #expect(first.violations == second.violations)
        // And the run did something worth comparing.
        #expect(first.report.steps == Self.steps)
        #expect(first.report.published > 0)
        #expect(first.report.committed > 0)
        #expect(first.report.datagramsSent > 0)
    }

    @Test("different seeds give different runs")
    func differentSeedsDiffer() {
        let a = simulate(seed: 7, steps: Self.steps).report
        let b = simulate(seed: 8, steps: Self.steps).report
        // Not just the seed field: the runs themselves differ.
        #expect(fields(of: a, except: ["seed"]) != fields(of: b, except: ["seed"]))
        #expect(a.datagramsSent != b.datagramsSent || a.simulatedMicros != b.simulatedMicros
                    || a.published != b.published)
    }

    @Test("without faults nothing crashes, drops, duplicates or partitions", arguments: [1, 2] as [UInt64])
    func noFaults(seed: UInt64) {
        let r = simulate(seed: seed, steps: Self.steps, faults: false).report
        #expect(r.violations.isEmpty, "\(r.violations)")
        #expect(r.crashes == 0)
        #expect(r.datagramsDropped == 0)
        #expect(r.datagramsDuplicated == 0)
        #expect(r.partitions == 0)
        #expect(r.steps == Self.steps)
        #expect(r.committed > 0)
        #expect(r.delivered > 0)
    }
}
