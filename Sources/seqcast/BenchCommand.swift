import ArgumentParser
import Foundation
import Synchronization
import CSeqcastShim
import SeqcastConfig
import SeqcastCore
import SeqcastNode
import SeqcastBench
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire

/// `seqcast bench`: a whole group on loopback as separate processes, a workload, measurements.
///
/// Phase 1 (throughput): the publishing members publish as fast as back-pressure allows for
/// `--duration` seconds (or `--messages` each); every member reports its delivery rate over the
/// messages published after the warm-up. Phase 2 (latency): a fresh group, publishers at a fixed
/// total rate of `--latency-fraction` (10 %) of phase 1's slowest member; publish-to-delivery
/// latency recorded with HdrHistogram at every member. Both phases check that every member
/// delivered the same sequence (count and digest) with per-publisher FIFO.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Start a whole group on loopback as processes, run a workload, measure commits/s and latency.",
        discussion: """
            Phase 1 publishes as fast as back-pressure allows and measures the rate at the slowest member; \
            phase 2 publishes at a fixed rate (--latency-fraction of phase 1's, open loop: latency counts \
            from each message's due time) and measures publish-to-delivery latency with HdrHistogram. \
            A progress line goes to stderr; --format json prints one JSON object (its keys are stable).

            Examples:
              seqcast bench --duration 2 --format json
              seqcast bench --duration 1 --message-size 16384 --skip-latency
              seqcast bench --open-loop-rate 20000 --duration 2
            """)

    @Option(help: "Seconds each publisher publishes in the throughput phase.") var duration = 5.0
    @Option(help: "Messages per publisher instead of a duration (count mode).") var messages: UInt64?
    @Option(help: "Message size in bytes.") var messageSize = 64
    @Option(help: "Members (node ids 41…); the first --publishers of them publish.") var members = 2
    @Option(help: "Publishing members.") var publishers = 2
    @Option(help: "text or json.") var format = "text"
    @Option(help: "Thread mode of every process.") var threads = ThreadMode.auto
    @Flag(help: "Skip the fixed-rate latency phase.") var skipLatency = false
    @Option(help: "Latency phase rate as a fraction of the measured throughput.") var latencyFraction = 0.1
    @Option(help: ArgumentHelp("Open loop only: publish at this total rate (messages/s) for --duration seconds and "
                               + "measure latency from each message's due time (no throughput phase)."))
    var openLoopRate: Double?
    @Option(help: "Seconds of the latency phase (default: the duration, at most 5).") var latencyDuration: Double?
    @Option(help: "Fraction of the publishing time treated as warm-up (not measured).") var warmup = 0.2
    @Option(help: "Give up (and fail) after this many seconds per phase.") var timeout = 300.0
    @Option(help: "Run node n in network namespace <prefix><n> (made by scripts/netns-group).") var netnsPrefix: String?
    @Option(help: "With --netns-prefix: node n's address is <subnet><n>, on interface eth0.") var netnsSubnet = "10.77.0."
    @Option(help: "Scratch folder for reports and logs.") var scratch: String?
    @Option(help: "Send this many bad datagrams per second to every node during the throughput phase.")
    var hostileRate = 0
    @Option(help: ArgumentHelp("Send this many forged server datagrams per second during the throughput phase (a forged "
                               + "heartbeat, data report, commit and collected fetch miss, from real server ids; THREAT.md)."))
    var forgeRate = 0
    @Option(help: "Tag the forgeries with this group key file's key (a member forging towards servers); they go to servers only.")
    var forgeKey: String?
    @Flag(help: "Children's logs go to files in the scratch folder, not to stderr.") var quiet = false
    @Flag(help: "No live progress line on stderr.") var noProgress = false
    @Option(help: ArgumentHelp("Kill -9 the active sequencer this many seconds into publishing, and again as often, "
                               + "without restarting it (throughput phase; needs --sequencers 2 or more; at most one "
                               + "kill fewer than candidates); reports each fail-over's delivery stall."))
    var killSequencerEvery: Double?
    @Flag(help: "Pin every process to one CPU, round robin (default: the kernel places them).") var pin = false
    @Option(help: ArgumentHelp("Benchmark the group this file describes (its servers, addresses and values; members "
                               + "are those listed, then 41…) instead of one built from the shape options."))
    var config: String?
    @OptionGroup var shape: ShapeOptions
    @OptionGroup var net: ProcessNetworkOptions

    mutating func validate() throws {
        if shape.checkpointInterval == nil {
            // Data servers free bodies only behind a checkpoint: with large (fragmented) messages
            // each takes several slots, so checkpoints must come sooner or the stores fill first.
            let slotsPerMessage = UInt64((messageSize + 1_399) / 1_400)
            shape.checkpointInterval = max(64, min(8_192, UInt64(shape.bodySlots) / (4 * slotsPerMessage)))
        }
        guard publishers >= 1, members >= publishers, members <= 20 else {
            throw ValidationError("need 1 ≤ publishers ≤ members ≤ 20")
        }
        guard messageSize >= BenchBody.byteCount else { throw ValidationError("--message-size must be at least \(BenchBody.byteCount)") }
        guard ["text", "json"].contains(format) else { throw ValidationError("--format is text or json") }
        if let r = openLoopRate, !(r > 0 && r.isFinite) { throw ValidationError("--open-loop-rate must be a positive rate") }
        if let k = killSequencerEvery {
            guard k > 0, config != nil || shape.sequencers >= 2 else {
                throw ValidationError("--kill-sequencer-every needs a positive interval and --sequencers 2 or more")
            }
        }
    }

    struct Phase {
        var members: [[String: Any]] = []
        var servers: [[String: Any]] = []
        var expected: UInt64 = 0
        var failure: String?
        var seconds = 0.0
        var hostileSent: UInt64 = 0
        var forgedSent: UInt64 = 0
        /// Per fail-over (a killed active sequencer): the longest delivery stall around it at
        /// any member, in ms.
        var failoverMillis: [Double] = []

        func number(_ r: [String: Any], _ key: String) -> Double { (r[key] as? NSNumber)?.doubleValue ?? 0 }
        var slowestRate: Double { members.map { number($0, "commits_per_second") }.min() ?? 0 }
        var digestsMatch: Bool {
            guard failure == nil, !members.isEmpty else { return false }
            let digests = Set(members.compactMap { $0["digest"] as? String })
            let counts = Set(members.map { UInt64(number($0, "delivered")) })
            let fifo = members.allSatisfy { number($0, "fifo_violations") == 0 }
            return digests.count == 1 && counts == [expected] && fifo
        }
        func total(_ key: String, servers s: Bool = false) -> UInt64 {
            (s ? servers : members).reduce(0) { $0 + UInt64(number($1, key)) }
        }
    }

    /// The group this run benchmarks: the file's, or one of the shape options; members listed,
    /// and with --netns-prefix every node at its namespace's address.
    func groupLayout() throws -> GroupLayout {
        var l: GroupLayout
        if let path = config {
            do {
                l = try GroupFile.load(path: path)
            } catch {
                throw ValidationError(error.description)
            }
            var next = 0
            while l.members.count < members {
                let id = GroupLayout.standardId(.member, next)
                next += 1
                if l.node(id) == nil { l.add(.member, id) }
            }
        } else {
            l = shape.layout(members: members)
            l.durability = .none
        }
        if let d = shape.durability { l.durability = d }
        try shape.applyKeys(to: &l)
        if netnsPrefix != nil {
            for n in l.nodes { l.setHost("\(netnsSubnet)\(n.id.rawValue)", of: n.id) }
            l.host = "\(netnsSubnet)0"
            l.interfaceAddress = nil
        }
        if let problem = l.problems().first { throw ValidationError("the benchmarked group cannot run: \(problem)") }
        return l
    }

    func run() throws {
        // Ctrl-C or SIGTERM stops the group too (the children run in process groups of their own).
        installStopHandlers()
        let base = scratch ?? "/tmp/seqcast-bench-\(getpid())"
        let layout = try groupLayout()
        let throughput = try phase(name: openLoopRate == nil ? "throughput" : "open loop", dir: base + "/throughput",
                                   layout: layout, rate: openLoopRate, seconds: messages == nil ? duration : nil)
        var latency: Phase? = openLoopRate == nil ? nil : throughput
        if openLoopRate == nil, !skipLatency, throughput.failure == nil, throughput.slowestRate > 0 {
            let rate = throughput.slowestRate * latencyFraction
            latency = try phase(name: "latency", dir: base + "/latency", layout: layout, rate: rate,
                                seconds: latencyDuration ?? min(duration, 5))
        }
        let transport = throughput.members.first?["transport"] as? String ?? "unknown"
        let ok = throughput.digestsMatch && (latency.map(\.digestsMatch) ?? true)
        let delivered = throughput.members.map { UInt64(throughput.number($0, "delivered")) }.min() ?? 0
        var r = Report()
        r.add("commits_per_second", throughput.slowestRate)
        r.add("latency_p50_us", latency.map { l in l.members.map { l.number($0, "latency_p50_us") }.max() ?? 0 } ?? 0)
        r.add("latency_p99_us", latency.map { l in l.members.map { l.number($0, "latency_p99_us") }.max() ?? 0 } ?? 0)
        r.add("latency_rate_per_second", openLoopRate ?? throughput.slowestRate * latencyFraction)
        r.add("transport", transport)
        r.add("durability", layout.durability.rawValue)
        r.add("messages", delivered)
        r.add("digests_match", ok)
        r.add("members", members)
        r.add("publishers", publishers)
        r.add("message_bytes", messageSize)
        r.add("threads", throughput.members.first?["threads"] as? String ?? threads.rawValue)
        r.add("segment_offload", !net.noGso)
        r.add("fifo_violations", throughput.total("fifo_violations") + (latency?.total("fifo_violations") ?? 0))
        r.add("id_queries", throughput.total("id_queries_sent"))
        r.add("fetches", throughput.total("fetches_sent"))
        r.add("repairs_served", throughput.total("repairs_served", servers: true))
        r.add("retransmissions", throughput.total("retransmissions"))
        r.add("retransmits_deferred", throughput.total("retransmits_deferred"))
        // Members that fell behind the collection horizon and rejoined from a checkpoint: their
        // rate counts what the checkpoint moved them past.
        r.add("checkpoints_installed", throughput.total("checkpoints_installed"))
        r.add("sequencers", layout.ids(.sequencer).count)
        r.add("failovers", throughput.failoverMillis.count)
        r.add("failover_stall_ms", raw: "[" + throughput.failoverMillis.map { String(format: "%.1f", $0) }.joined(separator: ",") + "]")
        r.add("repair_throttled", throughput.total("repair_throttled", servers: true) + throughput.total("repair_throttled"))
        r.add("dropped_malformed", throughput.total("dropped_malformed", servers: true) + throughput.total("dropped_malformed"))
        // One message id met with two bodies anywhere (two publishers with one node id).
        r.add("conflicting_bodies", throughput.total("conflicting_bodies", servers: true) + throughput.total("conflicting_bodies"))
        // Another group's datagrams, and this group's from a process with another group file.
        for key in ["dropped_wrong_group", "dropped_wrong_fingerprint"] where hostileRate == 0 {
            r.add(key, throughput.total(key, servers: true) + throughput.total(key))
        }
        r.add("fingerprint", String(layout.fingerprint, radix: 16))
        r.add("group_file", base + "/throughput/group.yaml")
        r.add("throughput_phase_seconds", throughput.seconds)
        // CPU the whole group used in the throughput phase, per message delivered at a member:
        // what a message costs the machine, steadier than a rate on a shared host.
        let cpu = (throughput.members + throughput.servers).reduce(0.0) {
            $0 + throughput.number($1, "cpu_user_seconds") + throughput.number($1, "cpu_system_seconds")
        }
        r.add("group_cpu_seconds", cpu)
        r.add("group_cpu_us_per_message", delivered > 0 ? cpu * 1e6 / Double(delivered) : 0)
        // The same per role: one process's CPU per message, averaged over the role's processes
        // (what a host running one of them pays per message of the group).
        for role in NodeRole.allCases {
            let processes = (throughput.members + throughput.servers).filter { $0["role"] as? String == role.rawValue }
            guard !processes.isEmpty, delivered > 0 else { continue }
            let roleCPU = processes.reduce(0.0) {
                $0 + throughput.number($1, "cpu_user_seconds") + throughput.number($1, "cpu_system_seconds")
            }
            r.add("\(role.rawValue.replacingOccurrences(of: "-", with: "_"))_cpu_us_per_message",
                  roleCPU * 1e6 / Double(delivered) / Double(processes.count))
        }
        if hostileRate > 0 {
            let all = throughput.members + throughput.servers
            let counted = all.filter { p in
                ["dropped_malformed", "dropped_wrong_group", "dropped_unexpected_kind"].contains { throughput.number(p, $0) > 0 }
            }
            r.add("hostile_sent", throughput.hostileSent)
            r.add("dropped_wrong_group", throughput.total("dropped_wrong_group", servers: true) + throughput.total("dropped_wrong_group"))
            r.add("dropped_unexpected_kind",
                  throughput.total("dropped_unexpected_kind", servers: true) + throughput.total("dropped_unexpected_kind"))
            r.add("processes_counting_drops", counted.count)
            r.add("processes", all.count)
        }
        r.add("authentication", layout.security == nil ? "none" : DatagramAuthenticator.algorithm)
        if forgeRate > 0 { r.add("forged_sent", throughput.forgedSent) }
        if layout.security != nil {
            let all = throughput.members + throughput.servers
            for key in AuthCounters().named.map(\.0) + ["auth_key_reloads", "auth_key_reload_failures"] {
                r.add(key, throughput.total(key, servers: true) + throughput.total(key))
            }
            // Every process that dropped something unauthenticated, forged or replayed.
            r.add("processes_counting_auth_drops", all.filter { p in
                AuthCounters().named.contains { $0.0.hasPrefix("auth_dropped_") && throughput.number(p, $0.0) > 0 }
            }.count)
            if hostileRate == 0 { r.add("processes", all.count) }
        }
        if let f = throughput.failure ?? latency?.failure { r.add("failure", f) }
        if format == "json" {
            print(r.description)
        } else {
            printSummary(throughput, latency, layout: layout, ok: ok, transport: transport)
            print("  group file:  \(base)/throughput/group.yaml (fingerprint 0x\(String(layout.fingerprint, radix: 16)); "
                  + "seqcast run <role> --config FILE --node N starts one process of such a group)")
        }
        if !ok { throw ExitCode(1) }
    }

    func printSummary(_ t: Phase, _ l: Phase?, layout: GroupLayout, ok: Bool, transport: String) {
        let committed = t.servers.filter { $0["role"] as? String == "sequencer" }.map { UInt64(t.number($0, "committed_through")) }.max()
        print("seqcast bench: \(members) members (\(publishers) publishing), \(layout.ids(.dataServer).count) data / "
              + "\(layout.ids(.commitServer).count) commit / \(layout.ids(.checkpointServer).count) checkpoint servers, \(transport), "
              + "\(messageSize) B messages, GSO \(net.noGso ? "off" : "on"), durability \(layout.durability.rawValue)"
              + (layout.durability == .none ? " (nothing kept on disk; --durability sync measures the other)" : ""))
        print("  committed:   \(committed.map(String.init) ?? "?") sequence numbers; every member delivered "
              + "\(t.members.map { "\(UInt64(t.number($0, "delivered")))" }.joined(separator: "/"))")
        print("  rate:        \(Int(t.slowestRate)) commits/s at the slowest member (after warm-up)")
        if let l {
            print("  latency:     p50 \(Int(l.members.map { l.number($0, "latency_p50_us") }.max() ?? 0)) µs, "
                  + "p99 \(Int(l.members.map { l.number($0, "latency_p99_us") }.max() ?? 0)) µs "
                  + "at \(Int(openLoopRate ?? t.slowestRate * latencyFraction)) msgs/s (open loop: from each message's due time)")
        }
        print("  per member:")
        var rows = [["node", "delivered", "commits/s", "retransmissions", "id queries", "fetches"]
                    + (l == nil ? [] : ["p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "p99.99 µs", "max µs"])]
        for m in t.members {
            let node = Int(t.number(m, "node"))
            var row = ["\(node)", "\(UInt64(t.number(m, "delivered")))", "\(Int(t.number(m, "commits_per_second")))",
                       "\(UInt64(t.number(m, "retransmissions")))", "\(UInt64(t.number(m, "id_queries_sent")))",
                       "\(UInt64(t.number(m, "fetches_sent")))"]
            if let l {
                let lm = l.members.first { Int(l.number($0, "node")) == node } ?? [:]
                row += ["latency_p50_us", "latency_p90_us", "latency_p99_us", "latency_p999_us", "latency_p9999_us",
                        "latency_max_us"].map { "\(Int(l.number(lm, $0)))" }
            }
            rows.append(row)
        }
        for line in alignedLines(rows) { print("    " + line) }
        print("  repairs:     \(t.total("id_queries_sent")) id queries, \(t.total("fetches_sent")) fetches, "
              + "\(t.total("repairs_served", servers: true)) served, \(t.total("retransmissions")) retransmissions")
        if !t.failoverMillis.isEmpty {
            print("  fail-overs:  \(t.failoverMillis.count) (the active sequencer killed every \(killSequencerEvery ?? 0) s); "
                  + "delivery stall at a member \(t.failoverMillis.map { "\(Int($0.rounded())) ms" }.joined(separator: ", ")) "
                  + "(detection \(layout.timing.sequencerSuspectAfter.value / 1_000_000) ms of each)")
        }
        print("  same order:  \(ok ? "yes" : "NO") (digests, counts, per-publisher FIFO)")
        if let f = t.failure ?? l?.failure { print("  failure:     \(f)") }
    }

    /// Bad input at every node's unicast port and both groups (loopback only).
    func startHostile(layout: GroupLayout) throws -> HostileSender {
        let n = net.config(layout: layout, node: layout.sequencer ?? NodeId(1))
        var targets: [seqcast_addr] = []
        for e in layout.nodes.map(\.endpoint) + [layout.dataGroup, layout.commitGroup] {
            var a = seqcast_addr()
            guard seqcast_addr_parse(e.host, e.port, &a) == 0 else { throw ValidationError("bad address \(e.host)") }
            targets.append(a)
        }
        let h = HostileSender(targets: targets, groupId: layout.groupId, fingerprint: layout.fingerprint,
                              perSecond: hostileRate)
        h.start(interface: n.interfaceAddress)
        return h
    }

    /// Forged server datagrams (`ForgedDatagrams`): to every node and both groups, or, tagged with
    /// a group key, to the servers' unicast ports only (what a rogue member could send them).
    func startForger(layout: GroupLayout) throws -> HostileSender {
        let n = net.config(layout: layout, node: layout.sequencer ?? NodeId(1))
        var auth: DatagramAuthenticator?
        var endpoints = layout.nodes.map(\.endpoint) + [layout.dataGroup, layout.commitGroup]
        if let path = forgeKey {
            let keys: [AuthKey]
            do { keys = try KeyFiles.read(path) } catch { throw ValidationError(error.description) }
            // Its own start as incarnation, like any process: a fixed one would repeat GMAC nonces
            // under one subkey across runs (and a later start than every real process's).
            auth = DatagramAuthenticator(AuthSetup(groupKeys: keys, serverKeys: nil, incarnation: wallClockNanos(),
                                                   datagramBytesMax: layout.roleDatagramBytes))
            endpoints = layout.nodes.filter { $0.role != .member }.map(\.endpoint)
        }
        var targets: [seqcast_addr] = []
        for e in endpoints {
            var a = seqcast_addr()
            guard seqcast_addr_parse(e.host, e.port, &a) == 0 else { throw ValidationError("bad address \(e.host)") }
            targets.append(a)
        }
        let forged = ForgedDatagrams(groupId: layout.groupId, fingerprint: layout.fingerprint,
                                     sequencer: layout.sequencer ?? NodeId(1),
                                     dataServer: layout.ids(.dataServer).first ?? NodeId(11), auth: auth)
        let h = HostileSender(targets: targets, groupId: layout.groupId, fingerprint: layout.fingerprint,
                              perSecond: forgeRate, forged: forged)
        h.start(interface: n.interfaceAddress)
        return h
    }

    func phase(name: String, dir: String, layout: GroupLayout, rate: Double?, seconds: Double?) throws -> Phase {
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let prefix = netnsPrefix
        // Every process of the group reads this one file.
        let file = dir + "/group.yaml"
        try SmallFile.write(GroupFile.render(layout), to: file)
        let common = ["--config", file] + net.arguments + ["--threads", threads.rawValue]
        let launcher = GroupLauncher(scratch: dir, commonArguments: common, quiet: quiet) { node in
            guard let p = prefix else { return (nil, []) }
            return ("\(p)\(node)", [])
        }
        if pin { launcher.pinCPUs = onlineCPUs() }
        var result = Phase()
        defer { launcher.stopAll() }
        for n in layout.nodes where n.role != .member { try launcher.start(n.role, node: n.id.rawValue) }
        usleep(300_000)
        let startAt = monotonicNanos() + 700_000_000
        let publishNanos = seconds.map { $0 * 1e9 } ?? 1e9
        let measureFrom = startAt + UInt64(publishNanos * warmup)
        let expectFile = dir + "/expect"
        for (i, id) in layout.members.prefix(members).enumerated() {
            var extra = ["--message-size", "\(messageSize)", "--start-at-ns", "\(startAt)", "--measure-from-ns", "\(measureFrom)"]
            // The throughput phase measures the delivery rate only (latency comes from phase 2).
            if rate == nil { extra.append("--no-latency") }
            let publishes = i < publishers
            if publishes {
                if let s = seconds { extra += ["--publish-seconds", "\(s)"] } else { extra += ["--publish", "\(messages ?? 0)"] }
                if let r = rate { extra += ["--rate", "\(r / Double(publishers))"] }
            }
            if seconds == nil, let m = messages {
                extra += ["--expect", "\(m * UInt64(publishers))"]
                result.expected = m * UInt64(publishers)
            } else {
                extra += ["--expect-file", expectFile]
            }
            try launcher.start(.member, node: id.rawValue, extra: extra, publishes: publishes)
        }
        var hostile: HostileSender?
        if hostileRate > 0, name == "throughput" {
            hostile = try startHostile(layout: layout)
        }
        var forger: HostileSender?
        if forgeRate > 0, name == "throughput" {
            forger = try startForger(layout: layout)
        }
        // Fail-overs: the active candidate is the first one, then (the next candidate after a
        // failed one takes over first) each next one in turn.
        let candidates = layout.ids(.sequencer)
        var killTimes: [UInt64] = []
        var kills: [UInt64] = []
        if name == "throughput", let every = killSequencerEvery {
            var t = startAt + UInt64(every * 1e9)
            while kills.count < candidates.count - 1, Double(t - startAt) < publishNanos {
                kills.append(t)
                t += UInt64(every * 1e9)
            }
        }
        let began = Date()
        let memberChildren = launcher.children.filter { $0.role == .member }
        var progress = noProgress ? nil : BenchProgress(phase: name, layout: layout)
        defer { progress?.finish() }
        var expectWritten = seconds == nil
        while true {
            usleep(50_000)
            progress?.tick()
            if !expectWritten {
                let counts = memberChildren.compactMap { $0.publishedPath == nil ? nil : launcher.published($0) }
                if counts.count == publishers {
                    result.expected = counts.reduce(0, +)
                    try SmallFile.write("\(result.expected)\n", to: expectFile)
                    expectWritten = true
                }
            }
            if killTimes.count < kills.count, monotonicNanos() >= kills[killTimes.count] {
                let victim = candidates[killTimes.count].rawValue
                if let c = launcher.children.first(where: { $0.node == victim }) {
                    killTimes.append(monotonicNanos())
                    launcher.expectedDead.insert(victim)
                    kill(c.process.processIdentifier, SIGKILL)
                }
            }
            if memberChildren.allSatisfy({ !$0.process.isRunning }) { break }
            if stopRequested.load(ordering: .relaxed) {
                result.failure = "interrupted"
                break
            }
            if let lost = memberChildren.first(where: { !$0.process.isRunning && launcher.report($0) == nil }) {
                // A member that died before reporting (a crashed publisher never says how many
                // it published, so the others would wait for the whole timeout).
                result.failure = "member \(lost.node) exited without a report (status \(lost.process.terminationStatus))"
                break
            }
            if let dead = launcher.anyServerDied {
                result.failure = "\(dead.role.rawValue) \(dead.node) exited (status \(dead.process.terminationStatus))"
                break
            }
            if Date().timeIntervalSince(began) > timeout {
                result.failure = "\(name) phase timed out after \(Int(timeout)) s"
                break
            }
        }
        result.seconds = Date().timeIntervalSince(began)
        result.hostileSent = hostile?.finish() ?? 0
        result.forgedSent = forger?.finish() ?? 0
        launcher.stopAll()
        for c in launcher.children {
            guard let r = launcher.report(c) else {
                if launcher.expectedDead.contains(c.node) { continue }  // killed on purpose: no report
                if result.failure == nil { result.failure = "\(c.role.rawValue) \(c.node) left no report (see \(dir)/\(c.node).log)" }
                continue
            }
            if c.role == .member { result.members.append(r) } else { result.servers.append(r) }
        }
        for t in killTimes {
            // Stalls are [end, length] in monotonic ns: the longest under way at the kill or
            // begun just after it, at any member.
            var longest = 0.0
            for m in result.members {
                for g in (m["delivery_gaps"] as? [[NSNumber]]) ?? [] where g.count == 2 {
                    let end = g[0].uint64Value, length = g[1].uint64Value
                    if end >= t, end &- length <= t + 50_000_000 { longest = max(longest, Double(length) / 1e6) }
                }
            }
            result.failoverMillis.append(longest)
        }
        return result
    }
}
