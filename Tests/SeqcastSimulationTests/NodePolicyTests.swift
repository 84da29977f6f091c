import Testing
@testable import SeqcastSimulation
import SeqcastCore
import SeqcastNode

/// The node's policies (not protocol rules) run in the simulator too: the repair rate limiter
/// and the own-datagram filter live in `Node`, which every simulated node is.
@Suite("Node policies in the simulator")
struct NodePolicyTests {
    @Test("a member throttled by a server's repair rate limiter still converges (seed 15 at 200 replies/s)")
    func throttledRequesterConverges() {
        // At the runtime's default (200,000/s, a burst of 2,000) no seed of a 1,000-seed sweep
        // throttled: a member's repair round asks for at most 8 fetches of 16 replies. A limit
        // of 200/s (a burst of 64) bites in this seed, and the healed group must still converge
        // (the liveness check after the fault phase covers every member).
        var options = SimulationOptions(seed: 15, steps: 20_000)
        options.repairDatagramsPerSecond = 200
        var sim = Simulator(options: options)
        let report = sim.run()
        #expect(report.repairThrottled > 0, "the limiter held back repair replies")
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
