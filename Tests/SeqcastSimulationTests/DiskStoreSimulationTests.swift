import Testing
@testable import SeqcastSimulation
import SeqcastCore

/// Seeds divisible by 3 run data servers with the disk store: a body is held only once synced,
/// and a crashed data server reads back what its disk kept (unsynced records lost).
@Suite("Data servers' disk store in the simulator")
struct DiskStoreSimulationTests {
    @Test("seed 48: a data server crashes, restarts from its disk, and every invariant holds")
    func dataServerRecoversFromDisk() {
        // (Seed 42 until sequencers joined the commit group, which moved every seed's draws.)
        var sim = Simulator(options: SimulationOptions(seed: 48, steps: 20_000))
        let report = sim.run()
        #expect(report.dataStoreDisk)
        #expect(report.dataServerRecoveries >= 1, "a data server came back with bodies from its disk")
        #expect(report.violations.isEmpty, "\(report.violations)")
        #expect(report.steps == 20_000)
    }

    @Test("the memory store is the rest of the seeds")
    func memoryStoreElsewhere() {
        let report = Simulator(options: SimulationOptions(seed: 43, steps: 100)).report
        #expect(!report.dataStoreDisk)
    }
}
