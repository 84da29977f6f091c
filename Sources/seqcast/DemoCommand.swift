import ArgumentParser

/// `seqcast demo`: the main job on the embedded default (`scripts/demo` runs it): a whole group
/// on loopback as processes, 3 s of publishing as fast as back-pressure allows, then latency at
/// 10 % of that rate, with a live progress line and a summary table. Any `seqcast bench` option
/// may follow and overrides the defaults.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a whole group on loopback (1 sequencer, 3 data, 3 commit, 1 checkpoint server, 2 members) and show it working.",
        discussion: """
            The same run as seqcast bench --duration 3 --quiet: the processes start, both members publish \
            64-byte messages for 3 s while a progress line shows commits/s, deliveries, repairs and p99 \
            latency, then a summary table per member, and whether every member delivered the same \
            sequence. seqcast bench options may follow (seqcast bench --help lists them).

            Examples:
              seqcast demo
              seqcast demo --duration 1 --message-size 1024
            """)

    @Argument(parsing: .allUnrecognized, help: "seqcast bench options (they override the demo's).")
    var benchOptions: [String] = []

    func run() throws {
        var bench = try BenchCommand.parse(["--duration", "3", "--quiet"] + benchOptions)
        try bench.validate()
        try bench.run()
    }
}
