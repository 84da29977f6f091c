import ArgumentParser
import CSeqcastShim
import Foundation
import SeqcastConfig
import SeqcastCore
import SeqcastNode
import SeqcastBench
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire

/// `seqcast capacity`: per-role capacity. One role process runs alone (`seqcast run`, as in a
/// deployment) and a load generator in this process plays the rest of its group on loopback
/// (`CapacityLoad`): the traffic that role would get, within a window of outstanding work, so
/// the role sets the pace. Reported per role: the work per second, the role's CPU time per
/// second, and the work per CPU-second (the figure a deployer sizes hosts by: it does not
/// depend on what else shares the machine).
struct CapacityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capacity",
        abstract: "Drive one role process alone with synthetic traffic on loopback; report what it sustains, per second and per CPU-second.",
        discussion: """
            For each role asked for, starts that one process (seqcast run) and plays the rest of its group from \
            this process: a sequencer gets data reports and acks (work: runs and messages numbered), a data \
            server gets data and commits (messages stored and reported), a commit server gets submits \
            (runs and messages acknowledged), a member gets data and commits (messages delivered). The \
            generator keeps a window of work outstanding, so the role sets the pace; with two CPUs or more \
            the generator runs on CPU 0 and the role on CPU 1. "role CPU" is the role process's CPU seconds \
            per second (1.0 in the shared thread mode: its thread never waited); "per CPU-second" divides the \
            work by them. A run fails \
            if the role made no progress or dropped any of the synthetic traffic.

            Examples:
              seqcast capacity --duration 1
              seqcast capacity --roles member,data-server --duration 2 --format json
            """)

    @Option(help: "Roles to measure, comma-separated: sequencer, data-server, commit-server, member.")
    var roles = "sequencer,data-server,commit-server,member"
    @Option(help: "Seconds measured per role (after the warm-up).") var duration = 2.0
    @Option(help: "Seconds of traffic before measuring.") var warmup = 0.5
    @Option(help: "Message size in bytes (data server, member; at most one datagram's room).") var messageSize = 64
    @Option(help: "Messages per run (sequencer, commit server).") var messagesPerRun: UInt64 = 64
    @Option(help: "Publishers (data server, member).") var publishers = 2
    @Option(help: "Senders in every data report (sequencer) and runs in every submit (commit server).") var senders = 20
    @Option(help: "sync (the role's log is fdatasync'ed: sequencer, commit server) or none.")
    var durability = DurabilityMode.none
    @Flag(help: "Do not pin the generator and the role to CPUs 0 and 1.") var noPin = false
    @Option(help: "The role's threads: shared (one thread: role CPU 1.0 is that thread busy all the time), dedicated or auto.")
    var threads = ThreadMode.shared
    @Option(help: "text or json.") var format = "text"
    @Option(help: "Scratch folder for the group file, reports and logs.") var scratch: String?
    @Option(help: "Node n listens for unicast on base-port + n.") var basePort: UInt16 = 18_400
    @Flag(help: "The role's log goes to a file in the scratch folder, not to stderr.") var quiet = false
    @OptionGroup var net: ProcessNetworkOptions

    static let measurable: [NodeRole] = [.sequencer, .dataServer, .commitServer, .member]
    /// Reports the sequencer load keeps outstanding.
    static let sequencerWindow = 64

    var roleList: [NodeRole] { roles.split(separator: ",").compactMap { NodeRole(rawValue: String($0)) } }

    func validate() throws {
        let names = roles.split(separator: ",").map(String.init)
        guard !names.isEmpty, names.allSatisfy({ n in Self.measurable.contains { $0.rawValue == n } }) else {
            throw ValidationError("--roles takes sequencer, data-server, commit-server and member")
        }
        guard duration > 0, duration <= 600, warmup >= 0, warmup <= 60 else { throw ValidationError("--duration 0-600 s, --warmup 0-60 s") }
        guard messageSize >= 24, messageSize <= 1_400 else { throw ValidationError("--message-size must be between 24 and 1400") }
        guard messagesPerRun >= 1, messagesPerRun <= 1 << 20 else { throw ValidationError("--messages-per-run must be between 1 and 2^20") }
        guard publishers >= 1, publishers <= 20 else { throw ValidationError("--publishers must be between 1 and 20") }
        guard senders >= 1, senders <= 29 else { throw ValidationError("--senders must be between 1 and 29 (one report datagram)") }
        // The sequencer load stamps reports with the frontier it knows: its whole window must
        // lie well within the lifetime, or the lifetime rule, not the role, limits numbering.
        let windowNumbers = UInt64(Self.sequencerWindow) * UInt64(senders) * messagesPerRun
        if roleList.contains(.sequencer), windowNumbers > GroupLayout.standard().lifetime / 2 {
            throw ValidationError("the sequencer's window (\(Self.sequencerWindow) reports × --senders × --messages-per-run = "
                                  + "\(windowNumbers) numbers) must stay within half the lifetime "
                                  + "(\(GroupLayout.standard().lifetime / 2)): lower --messages-per-run or --senders")
        }
        guard ["text", "json"].contains(format) else { throw ValidationError("--format is text or json") }
    }

    func run() throws {
        installStopHandlers()
        let base = scratch ?? "/tmp/seqcast-capacity-\(getpid())"
        var results: [CapacityResult] = []
        for role in roleList {
            guard !stopRequested.load(ordering: .relaxed) else { break }
            results.append(try measure(role, dir: "\(base)/\(role.rawValue)"))
        }
        if format == "json" {
            print("{\"roles\": [" + results.map { $0.report.description }.joined(separator: ", ") + "]}")
        } else {
            printTable(results)
        }
        if let bad = results.first(where: { $0.failure != nil }) {
            logLine("seqcast capacity: \(bad.role.rawValue): \(bad.failure!) (reports and logs: \(base))")
            throw ExitCode(1)
        }
        // The default folder goes once every role passed; a named one, or a failed run's, stays.
        if scratch == nil { try? FileManager.default.removeItem(atPath: base) }
    }

    func layout() -> GroupLayout {
        var l = GroupLayout.standard(members: 1 + publishers)
        l.instance = UInt64.random(in: 1...UInt64.max)
        l.setBasePort(basePort)
        l.durability = durability
        return l
    }

    func measure(_ role: NodeRole, dir: String) throws -> CapacityResult {
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let layout = layout()
        let file = dir + "/group.yaml"
        try SmallFile.write(GroupFile.render(layout), to: file)
        let network = { (id: NodeId) in net.config(layout: layout, node: id) }
        let members = layout.members
        // The role under test: the first of its kind (for a member, 41; the generator publishes as 42…).
        let node: NodeId = role == .member ? members[0] : layout.ids(role)[0]
        let load: CapacityLoad
        let window: UInt64
        switch role {
        case .sequencer:
            window = UInt64(Self.sequencerWindow)
            load = try SequencerCapacityLoad(layout: layout, network: network, senders: senders,
                                             messagesPerRun: messagesPerRun, window: window)
        case .commitServer:
            window = 256
            load = try CommitServerCapacityLoad(layout: layout, network: network, server: node, runsPerSubmit: senders,
                                                messagesPerRun: messagesPerRun, window: window)
        case .dataServer:
            // Below the publishers' window of unsequenced messages (4,096 by default).
            window = UInt64(layout.senderWindow * 7 / 8)
            load = try DataServerCapacityLoad(layout: layout, network: network, server: node,
                                              publishers: Array(members.dropFirst()), messageBytes: messageSize, window: window)
        default:
            // Below the publishers' window of unsequenced messages each (4,096 by default).
            window = UInt64(layout.senderWindow * 7 / 8 * publishers)
            load = try MemberCapacityLoad(layout: layout, network: network, member: node,
                                          publishers: Array(members.dropFirst()), messageBytes: messageSize, window: window)
        }
        let pin = !noPin && onlineCPUs() >= 2
        var extra: [String] = []
        if pin { extra += ["--cpu", "1"] }
        if role == .member { extra += ["--no-latency", "--counters-interval-micros", "200"] }
        let common = ["--config", file] + net.arguments + ["--threads", threads.rawValue]
        let launcher = GroupLauncher(scratch: dir, commonArguments: common, quiet: quiet) { _ in (nil, []) }
        defer { launcher.stopAll() }
        try launcher.start(role, node: node.rawValue, extra: extra)
        let child = launcher.children[0]
        if pin { _ = seqcast_pin_current_thread(0) }
        var result = CapacityResult(role: role, node: node, window: window)
        result.commitServers = layout.ids(.commitServer).count
        let generator = try CapacityGenerator(load: load, transport: net.transport)
        // Ready: the role's loop runs (its counters file exists) and, for a sequencer, it sealed.
        let countersPath = CountersFile.path(group: layout.name, instance: layout.instance, node: node)
        let readyBy = monotonicNanos() + 20_000_000_000
        while !(FileManager.default.fileExists(atPath: countersPath) && load.ready) {
            generator.pass(feeding: false)
            if !child.process.isRunning || monotonicNanos() > readyBy {
                result.failure = child.process.isRunning ? "the role was not ready within 20 s" : "the role process exited at start"
                return result
            }
            usleep(1_000)
        }
        generator.run(seconds: warmup)
        let before = CapacitySample(load: load, pid: child.process.processIdentifier, generator: generator)
        generator.run(seconds: duration)
        let after = CapacitySample(load: load, pid: child.process.processIdentifier, generator: generator)
        launcher.stopAll()
        result.measured(before, after)
        result.resent = (load as? CommitServerCapacityLoad)?.resent ?? (load as? DataServerCapacityLoad)?.resent ?? 0
        if let s = load as? SequencerCapacityLoad, s.streamsEnded > 0 {
            result.failure = "the sequencer ended \(s.streamsEnded) streams by the lifetime rule: the load's timestamps fell behind"
        }
        guard let report = launcher.report(child) else {
            result.failure = "the role process left no report (see \(dir)/\(node.rawValue).log)"
            return result
        }
        result.check(report)
        return result
    }

    func printTable(_ results: [CapacityResult]) {
        print("seqcast capacity: each role alone as a process on loopback, driven by a load generator"
              + (!noPin && onlineCPUs() >= 2 ? " (generator on CPU 0, role on CPU 1)" : "")
              + "; durability \(durability.rawValue), \(messageSize) B messages, \(messagesPerRun) messages per run, "
              + "\(duration) s measured after \(warmup) s")
        var rows = [["role", "work", "per second", "role CPU", "per CPU-second", "CPU µs/message", "generator busy"]]
        func n(_ v: Double) -> String { Int(v.rounded()).formatted() }
        for r in results {
            rows.append([r.role.rawValue, r.workName, n(r.messagesPerSecond), String(format: "%.2f", r.roleCPUPerSecond),
                         n(r.messagesPerCPUSecond), String(format: "%.3f", r.cpuMicrosPerMessage),
                         String(format: "%.0f %%", r.generatorBusy * 100)])
            if r.runsPerSecond > 0 {
                rows.append(["", "runs (\(messagesPerRun) messages each)", n(r.runsPerSecond), "", n(r.runsPerCPUSecond),
                             String(format: "%.3f per run", r.cpuMicrosPerRun), ""])
            }
        }
        for line in alignedLines(rows) { print("  " + line) }
        for r in results {
            if let f = r.failure { print("  \(r.role.rawValue): FAILED: \(f)") }
            if !r.notes.isEmpty { print("  \(r.role.rawValue): " + r.notes.joined(separator: "; ")) }
        }
    }
}
