import ArgumentParser

/// The `seqcast` command: a role as a process, or a whole group benchmarked on loopback.
@main
struct Seqcast: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seqcast",
        abstract: "Scalable Atomic Multicast: sequenced, committed multicast over UDP.",
        subcommands: [DemoCommand.self, RunCommand.self, PublishCommand.self, TailCommand.self, FeedCommand.self, StatsCommand.self, ConfigCommand.self, LogCommand.self, BenchCommand.self, CapacityCommand.self, EngineBenchCommand.self])
}
