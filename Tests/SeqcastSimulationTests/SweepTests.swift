import Testing
@testable import SeqcastSimulation
import SeqcastCore
import SeqcastWire

/// A small sweep that runs on every `swift test` (the big sweep runs in release from
/// scripts/test). Beyond "no violations" it checks that the faults really happened across the
/// sweep, so a simulator that silently stopped injecting them (and so trivially passes) fails.
@Suite("Seed sweep")
struct SweepTests {
    static let seeds: [UInt64] = Array(1...20)
    static let steps = 3_000

    @Test("20 seeds × 3,000 steps: no violations, and every kind of fault was exercised")
    func sweep() async {
        // Runs spread over the cores; each simulation is independent and deterministic.
        let reports = await withTaskGroup(of: SimulationReport.self, returning: [SimulationReport].self) { group in
            for seed in Self.seeds {
                group.addTask { simulate(seed: seed, steps: Self.steps).report }
            }
            var all: [SimulationReport] = []
            for await r in group { all.append(r) }
            return all.sorted { $0.seed < $1.seed }
        }
        #expect(reports.count == Self.seeds.count)

        for r in reports {
            #expect(r.violations.isEmpty,
                    "reproduce: seqcast-sim --seed \(r.seed) --steps \(Self.steps)\n\(r.violations.joined(separator: "\n"))")
            #expect(r.steps == Self.steps, "seed \(r.seed) stopped after \(r.steps) steps")
            #expect(r.published > 0 && r.committed > 0 && r.delivered > 0, "seed \(r.seed) made no progress")
        }

        func total(_ value: (SimulationReport) -> UInt64) -> UInt64 { reports.reduce(0) { $0 + value($1) } }
        let crashes = total { UInt64($0.crashes) }
        let dropped = total { UInt64($0.datagramsDropped) }
        let duplicated = total { UInt64($0.datagramsDuplicated) }
        let partitions = total { UInt64($0.partitions) }
        let joins = total { UInt64($0.joins) }
        let checkpoints = total { UInt64($0.checkpoints) }
        let idQueries = total(\.idQueries)
        let fetches = total(\.fetches)
        let collected = total { UInt64($0.collected) }
        #expect(crashes > 0, "no node crashed in the sweep")
        #expect(dropped > 0, "no datagram was dropped in the sweep")
        #expect(duplicated > 0, "no datagram was duplicated in the sweep")
        #expect(partitions > 0, "no partition happened in the sweep")
        #expect(joins > 0, "no member joined late in the sweep")
        #expect(checkpoints > 0, "no checkpoint was taken in the sweep")
        #expect(idQueries > 0, "no member sent an id query in the sweep")
        #expect(fetches > 0, "no member fetched a body in the sweep")
        #expect(collected > 0, "no data server collected a message in the sweep")
        // Crashes are drawn for every seed (1 to 5 each), and the late joiner starts in every run.
        #expect(reports.allSatisfy { $0.crashes > 0 }, "a seed ran without any crash")
        #expect(reports.allSatisfy { $0.joins == 1 }, "a seed ran without its late joiner")
    }
}
