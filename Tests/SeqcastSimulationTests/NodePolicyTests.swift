import Testing
@testable import SeqcastSimulation
import SeqcastCore
import SeqcastNode

/// The node's policies (not protocol rules) run in the simulator too: the repair rate limiter
/// and the own-datagram filter live in `Node`, which every simulated node is.
@Suite("Node policies in the simulator")
struct NodePolicyTests {
    @Test("at the runtime's default repair limit, a requester throttled in a repair storm still converges (seed 40)")
    func throttledRequesterConverges() {
        // Seed 40 draws a small store (192 slots): stores fill, members re-fetch what they could
        // not keep, and the servers' limiters (200,000/s, a burst of 2,000) hold back thousands
        // of replies; the healed group must still converge (the liveness check covers every
        // member). With the default 4,096 slots no seed of a 1,000-seed sweep throttled.
        var sim = Simulator(options: SimulationOptions(seed: 40, steps: 20_000))
        let report = sim.run()
        #expect(sim.options.repairDatagramsPerSecond == RepairLimiter.perSecondDefault)
        #expect(report.repairThrottled > 0, "the limiter held back repair replies")
        #expect(report.storeFullDrops > 0, "the store filled")
        #expect(report.violations.isEmpty, "\(report.violations)")
        #expect(report.steps == 20_000)
    }

    @Test("every simulated node drops its own looped-back multicast before its role sees it")
    func ownLoopbackFiltered() {
        var sim = Simulator(options: SimulationOptions(seed: 7, steps: 3_000))
        let report = sim.run()
        #expect(report.violations.isEmpty, "\(report.violations)")
        #expect(report.ownLoopback > 0)
    }
}
