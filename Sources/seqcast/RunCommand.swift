import ArgumentParser
import Glibc
import Logging
import SeqcastClient
import SeqcastConfig
import SeqcastCore
import SeqcastNode
import SeqcastBench
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire
import Synchronization

/// `seqcast run <role>`: one role as a process, until its plan is done or SIGTERM/SIGINT.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one role of a group as a process.",
        discussion: """
            Roles: sequencer, data-server, commit-server, checkpoint-server, member. The group file \
            (seqcast config example > group.yaml) lists every server with its node id and address; every \
            process of the group is given the same file. A server runs until SIGTERM or SIGINT; a member \
            until its plan is done (--publish, --expect). Prints a one-line JSON report when it stops. \
            The first start of a node formats its data folder (--init); a restart runs without it.

            Examples:
              seqcast run checkpoint-server --config group.yaml --node 31 --data-dir data/31 --init   (runs until stopped)
              seqcast run member --config group.yaml --node 45 --data-dir data/45 --init --publish 10000 --expect 0
            """)

    @Argument(help: "sequencer | data-server | commit-server | checkpoint-server | member") var role: NodeRole
    @Option(help: "The group configuration file (the same for every process of the group).") var config: String
    @Option(help: "This node's id (a server's is listed in the file).") var node: UInt32
    @OptionGroup var net: ProcessNetworkOptions
    @Option(help: "This node's multicast interface address, if not the file's (or the node's own address).")
    var interface: String?
    @Option(help: "Threads: shared (one thread), dedicated (pinned I/O + role threads, SPSC ring), auto (shared below 4 CPUs).")
    var threads = ThreadMode.auto
    @Option(help: "Pin the role's thread to this CPU.") var cpu: Int?
    @Option(help: "Non-blocking polls before a loop blocks in the kernel.") var spinPolls = 8
    @Flag(help: "Member: start from the group's latest checkpoint.") var join = false
    @Option(help: "Lowest incarnation to take (the state file's next one is used if higher).") var incarnation: UInt32 = 1
    @Option(help: "Where data folders live unless --data-dir is given (<state-dir>/<group name>-<node>).")
    var stateDir = "/var/tmp/seqcast"
    @Option(help: "The node's data folder: its incarnation and, with durability sync, its log. Restarting with the same folder recovers the node.")
    var dataDir: String?
    @Flag(name: .customLong("init"), help: "Format a new node's empty data folder first (refused if it holds anything); a restart runs without it.")
    var initialize = false
    @Option(help: "Member: messages to publish.") var publish: UInt64 = 0
    @Option(help: "Member: stop publishing after this many seconds.") var publishSeconds: Double?
    @Option(help: "Member: messages per second (default: as fast as back-pressure allows).") var rate: Double?
    @Option(help: "Member: message size in bytes (at least 24).") var messageSize = 64
    @Option(help: "Member: deliveries to wait for before reporting.") var expect: UInt64?
    @Option(help: "Member: read the deliveries to wait for from this file once it exists.") var expectFile: String?
    @Option(help: "Member: write how many messages were published here when publishing stops.") var publishedFile: String?
    @Option(help: "Member: start publishing at this CLOCK_MONOTONIC nanosecond.") var startAtNs: UInt64 = 0
    @Option(help: "Member: measure latency and rate of messages published from this CLOCK_MONOTONIC nanosecond.")
    var measureFromNs: UInt64?
    @Flag(inversion: .prefixedNo, help: "Member: record publish-to-delivery latency (a clock read per delivery).")
    var latency = true
    @Option(help: "Also write the closing report to this file.") var reportFile: String?
    @Option(help: "Lowest level logged to stderr: trace, debug, info, notice, warning, error, critical.")
    var logLevel = Logger.Level.info
    @Option(help: "Seconds to claim the node id on the commit group before starting: a process already running with it elsewhere answers, and this one refuses to start (0: do not claim).")
    var claimSeconds = 0.3
    @Option(help: ArgumentHelp("Microseconds between refreshes of the node's live counters file (seqcast stats; "
                               + "seqcast capacity reads a member's frontier from it)."))
    var countersIntervalMicros: UInt64 = 100_000

    func validate() throws {
        if let r = rate, !(r > 0 && r.isFinite) { throw ValidationError("--rate must be a positive number of messages per second") }
        if let s = publishSeconds, !(s > 0 && s.isFinite) { throw ValidationError("--publish-seconds must be positive") }
        guard countersIntervalMicros >= 100, countersIntervalMicros <= 60_000_000 else {
            throw ValidationError("--counters-interval-micros must be between 100 and 60000000")
        }
        guard claimSeconds >= 0, claimSeconds <= 60 else { throw ValidationError("--claim-seconds must be between 0 and 60") }
        guard messageSize >= BenchBody.byteCount, messageSize <= 64 * 1024 else {
            throw ValidationError("--message-size must be between \(BenchBody.byteCount) and 65536")
        }
    }

    func run() throws {
        var o = RoleProcessOptions(role: role, node: NodeId(node))
        let layout: GroupLayout
        do {
            layout = try GroupFile.load(path: config)
        } catch {
            throw ValidationError(error.description)
        }
        o.layout = layout
        o.network = net.config(layout: layout, node: NodeId(node), interface: interface)
        o.threads = threads
        o.cpu = cpu
        o.spinPolls = spinPolls
        o.joining = join
        o.incarnation = incarnation
        o.stateDirectory = stateDir
        o.dataDirectory = dataDir
        o.initialize = initialize
        o.claimPeriod = Nanoseconds(UInt64(claimSeconds * 1e9))
        o.countersInterval = Nanoseconds(countersIntervalMicros * 1_000)
        o.plan.publishCount = publishSeconds != nil && publish == 0 ? UInt64.max : publish
        o.plan.publishSeconds = publishSeconds
        o.plan.rate = rate
        o.plan.messageBytes = max(messageSize, BenchBody.byteCount)
        o.plan.expectTotal = expect
        o.plan.expectFile = expectFile
        o.plan.publishedFile = publishedFile
        o.plan.startAtNanos = startAtNs
        o.measurement = BenchMeasurement(fromNanos: measureFromNs ?? 1, latency: latency)
        installStopHandlers()
        bootstrapLogging(level: logLevel)
        let report = try runRoleProcess(o, log: LogLines.to(Logger(label: "seqcast[\(role.rawValue) \(node)]")))
        let text = report.description
        print(text)
        fflush(nil)
        if let path = reportFile { try SmallFile.write(text + "\n", to: path) }
    }
}

func installStopHandlers() {
    _ = stopRequested.load(ordering: .relaxed)
    signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
    signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
    signal(SIGUSR1) { _ in takeOverRequested.store(true, ordering: .relaxed) }
}

/// One line to standard error, unbuffered.
func logLine(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
