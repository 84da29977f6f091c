import ArgumentParser
import SeqcastRuntime
import SeqcastSimulation

/// `seqcast-sim --scale 10,100,1000`: one scale run per member count (same seed), as the table
/// issue 13 asks for. Rates are per simulated second of the publishing window.
extension SeqcastSim {
    func runScale(_ counts: [Int]) throws {
        let s = seed ?? 1
        print("scale runs: seed \(s), \(scalePublishers) publishers, 64 B every \(scaleGapMicros) µs each (mean), "
              + "\(scaleLossPercent) % loss on every datagram to every receiver, \(scaleMillis) ms simulated; "
              + "repair requests received per server per simulated second; commit-to-delivery latency in simulated µs")
        print(row(["members", "published", "delivered per member", "per data server", "per commit server", "per checkpoint server",
                   "member NAKs/s", "resyncs", "throttled", "latency p50", "p99", "max", "steps", "wall s", "peak RSS so far, MiB"]))
        var violations = 0
        for count in counts {
            var scaleOptions = ScaleOptions(members: count)
            scaleOptions.publishers = scalePublishers
            scaleOptions.lossPercent = scaleLossPercent
            scaleOptions.publishGapMicros = scaleGapMicros
            scaleOptions.publishMillis = scaleMillis
            scaleOptions.collectionGrace = scaleCollectionGraceMillis.map { .millis($0) }
            var options = SimulationOptions(seed: s, steps: 500_000_000)
            options.scale = scaleOptions
            options.repairDatagramsPerSecond = repairRate
            options.authenticate = authenticate
            let started = ContinuousClock.now
            var sim = Simulator(options: options)
            let r = sim.run()
            let wall = ContinuousClock.now - started
            guard let m = r.scale else { continue }
            let seconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
            let naks = m.memberIdQueries + m.memberFetches
            print(row([
                "\(count)", "\(r.published)", fixed(Double(m.deliveries) / Double(count)),
                fixed(m.perServerPerSecond(m.dataServerRepairs, servers: m.dataServers)),
                fixed(m.perServerPerSecond(m.commitServerRepairs, servers: m.commitServers)),
                fixed(m.perServerPerSecond(m.checkpointServerRepairs, servers: m.checkpointServers)),
                fixed(m.perMemberPerSecond(naks)), "\(m.memberResyncs)", "\(m.repairThrottled)",
                "\(m.latency(0.5))", "\(m.latency(0.99))", "\(m.latencyMicros.last ?? 0)",
                "\(r.steps + r.graceSteps)", fixed(seconds), "\((ProcessMemory.residentKiB()?.peak ?? 0) / 1024)",
            ]))
            if !r.violations.isEmpty {
                violations += r.violations.count
                print("  \(count) members FAILED:")
                for v in r.violations { print("    \(v)") }
            }
        }
        print("reproduce: seqcast-sim --scale \(counts.map(String.init).joined(separator: ",")) --seed \(s) "
              + "--scale-publishers \(scalePublishers) --scale-gap-micros \(scaleGapMicros) "
              + "--scale-loss-percent \(scaleLossPercent) --scale-millis \(scaleMillis)"
              + (scaleCollectionGraceMillis.map { " --scale-collection-grace-millis \($0)" } ?? ""))
        print("runs=\(counts.count) violations=\(violations)")
        if violations > 0 { throw ExitCode.failure }
    }

    func row(_ cells: [String]) -> String { "| " + cells.joined(separator: " | ") + " |" }

    func fixed(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
