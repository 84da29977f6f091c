import ArgumentParser
import SeqcastNode
import SeqcastSimulation
import SeqcastWire

/// `seqcast-sim`: replay one seed or sweep many. Every run ends with
/// `seeds=N steps=<total> violations=<count>` and exits non-zero on any violation; a failing
/// seed prints the one command that reproduces it.
@main
struct SeqcastSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seqcast-sim",
        abstract: "Deterministic simulation of a Seqcast group with faults, checking the protocol's invariants.")

    @Option(help: "Replay one seed (decimal or 0x-hex).", transform: parseSeed)
    var seed: UInt64?

    @Option(help: "Sweep this many seeds, from --first-seed.")
    var seeds: Int?

    @Option(name: .customLong("first-seed"), help: "First seed of a sweep (decimal or 0x-hex).", transform: parseSeed)
    var firstSeed: UInt64 = 1

    @Option(help: "Steps per seed (a step is one delivered datagram, fired timer or completed write).")
    var steps: Int = 20_000

    @Flag(name: .customLong("no-faults"), help: "No loss, duplication, partitions or crashes.")
    var noFaults = false

    @Option(help: "Repair replies per second a node sends one requester (the runtime's default unless given).")
    var repairRate = RepairLimiter.perSecondDefault

    @Flag(help: "Print a readable summary of each run.")
    var summary = false

    @Flag(inversion: .prefixedNo, help: "Every node tags and checks datagrams (default: in the seeds with seed % 13 == 5).")
    var authenticate: Bool?

    @Option(name: .customLong("collection-lag-percent"),
            help: "The share of a store (percent) the publish gate lets the group commit ahead of the collected checkpoint (default 50).")
    var collectionLagPercent: Int?

    @Option(help: ArgumentHelp("Write the fuzz targets' seed corpus (Fuzz/corpus) from this run: the datagrams each node "
                               + "received (FuzzRoles) and the records its disk kept (FuzzRecords)."))
    var fuzzCorpus: String?

    @Option(help: ArgumentHelp("Scale runs instead: for each member count (comma-separated, at most "
                               + "\(GroupLayout.standardMembersMax)), a group under steady loss only; prints servers' repair "
                               + "load and commit-to-delivery latency per count (seed: --seed, default 1).",
                               valueName: "members,..."),
            transform: parseCounts)
    var scale: [Int]?

    @Option(name: .customLong("scale-loss-percent"), help: "Scale runs: the loss on every datagram to every receiver.")
    var scaleLossPercent: UInt64 = 1

    @Option(name: .customLong("scale-publishers"), help: "Scale runs: members that publish.")
    var scalePublishers = 2

    @Option(name: .customLong("scale-gap-micros"), help: "Scale runs: each publisher's mean gap between 64 B messages.")
    var scaleGapMicros: UInt64 = 500

    @Option(name: .customLong("scale-millis"), help: "Scale runs: simulated milliseconds of publishing.")
    var scaleMillis: UInt64 = 200

    @Option(name: .customLong("scale-collection-grace-millis"),
            help: "Scale runs: the servers' collection grace (default: the group default; 0 collects at once).")
    var scaleCollectionGraceMillis: UInt64?

    func validate() throws {
        if let counts = scale {
            guard seeds == nil else { throw ValidationError("--scale runs one seed (--seed), not a sweep") }
            guard counts.allSatisfy({ (1...GroupLayout.standardMembersMax).contains($0) }) else {
                throw ValidationError("--scale member counts must be 1...\(GroupLayout.standardMembersMax)")
            }
            guard (1...counts.min()!).contains(scalePublishers) else {
                throw ValidationError("--scale-publishers must be 1 to the smallest member count")
            }
            guard scaleLossPercent < 100, scaleGapMicros >= 1, scaleMillis >= 1 else {
                throw ValidationError("--scale-loss-percent below 100, --scale-gap-micros and --scale-millis positive")
            }
            return
        }
        guard (seed == nil) != (seeds == nil) else { throw ValidationError("give either --seed S or --seeds N") }
        guard steps >= 1 else { throw ValidationError("--steps must be positive") }
        if let n = seeds, n < 1 { throw ValidationError("--seeds must be positive") }
        if let p = collectionLagPercent, !(1...100).contains(p) { throw ValidationError("--collection-lag-percent must be 1...100") }
    }

    func run() throws {
        if let counts = scale { return try runScale(counts) }
        let list: [UInt64] = seed.map { [$0] } ?? (0..<UInt64(seeds!)).map { firstSeed &+ $0 }
        var totalSteps = 0
        var violations = 0
        for s in list {
            var options = SimulationOptions(seed: s, steps: steps)
            options.faults = !noFaults
            options.repairDatagramsPerSecond = repairRate
            options.authenticate = authenticate
            options.collectionLagPercent = collectionLagPercent
            var sim = Simulator(options: options)
            var received: [NodeId: [[UInt8]]] = [:]
            if fuzzCorpus != nil { sim.deliveryTap = { to, bytes in received[to, default: []].append(bytes) } }
            let r = sim.run()
            if let dir = fuzzCorpus { try FuzzCorpus.write(dir: dir, sim: sim, seed: s, received: received) }
            totalSteps += r.steps
            if summary { printSummary(r) }
            if !r.violations.isEmpty {
                violations += r.violations.count
                print("seed \(s) FAILED at or before step \(r.steps):")
                for v in r.violations { print("  \(v)") }
                print("reproduce: seqcast-sim --seed \(s) --steps \(steps)\(noFaults ? " --no-faults" : "")\(authenticate.map { $0 ? " --authenticate" : " --no-authenticate" } ?? "")\(collectionLagPercent.map { " --collection-lag-percent \($0)" } ?? "")")
            }
        }
        print("seeds=\(list.count) steps=\(totalSteps) violations=\(violations)")
        if violations > 0 { throw ExitCode.failure }
    }

    func printSummary(_ r: SimulationReport) {
        print("""
            seed \(r.seed): \(r.steps) steps
              published \(r.published), committed through \(r.committed), delivered \(r.delivered) (all members)
              faults: \(r.faultSummary)
              repair: id queries \(r.idQueries), body fetches \(r.fetches); joins \(r.joins), checkpoints \(r.checkpoints), \
            streams ended \(r.streamsEnded), collected \(r.collected), incarnations retired \(r.incarnationsRetired)
              invariants checked after every step: \(r.violations.isEmpty ? "all held" : "\(r.violations.count) violated")
            """)
    }
}

/// "10,100,1000" → [10, 100, 1000].
func parseCounts(_ text: String) throws -> [Int] {
    let counts = text.split(separator: ",").map { Int(String($0.filter { $0 != " " })) }
    guard !counts.isEmpty, counts.allSatisfy({ $0 != nil }) else { throw ValidationError("not a list of counts: \(text)") }
    return counts.map { $0! }
}

/// Seeds are decimal, or hexadecimal with a 0x prefix.
func parseSeed(_ text: String) throws -> UInt64 {
    let value = text.hasPrefix("0x") || text.hasPrefix("0X") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    guard let v = value else { throw ValidationError("not a seed: \(text)") }
    return v
}
