import Foundation
import SeqcastNode
import SeqcastBench
import SeqcastRuntime
import SeqcastTransport

/// Starts a whole group as separate processes of this executable (`seqcast run …`), optionally
/// each in its own network namespace, and collects their reports from files in a scratch folder.
final class GroupLauncher {
    struct Child {
        var node: UInt32
        var role: NodeRole
        var process: Process
        var reportPath: String
        var publishedPath: String?
    }

    let executable: String
    let scratch: String
    let commonArguments: [String]
    /// Per node: the namespace to run in (nil: this one) and extra arguments (interface, host).
    let placement: (UInt32) -> (netns: String?, arguments: [String])
    let quiet: Bool
    /// Pin each process to one CPU, round robin over the machine's CPUs (nil: let the kernel place them).
    var pinCPUs: Int?
    private(set) var children: [Child] = []

    init(scratch: String, commonArguments: [String], quiet: Bool,
         placement: @escaping (UInt32) -> (netns: String?, arguments: [String])) {
        executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        self.scratch = scratch
        self.commonArguments = commonArguments
        self.quiet = quiet
        self.placement = placement
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    }

    func start(_ role: NodeRole, node: UInt32, extra: [String] = [], publishes: Bool = false) throws {
        let report = "\(scratch)/\(node).json"
        let published = publishes ? "\(scratch)/\(node).published" : nil
        for path in [report, published].compactMap({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
        // A fresh group: each node formats its own folder in the scratch directory.
        var args = ["run", role.rawValue, "--node", "\(node)"] + commonArguments + extra + ["--report-file", report]
            + ["--data-dir", "\(scratch)/data/\(node)", "--init"]
        if let p = published { args += ["--published-file", p] }
        let (netns, placed) = placement(node)
        args += placed
        if let cpus = pinCPUs { args += ["--cpu", "\(children.count % cpus)"] }
        let p = Process()
        if let ns = netns {
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = ["netns", "exec", ns, executable] + args
        } else {
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = args
        }
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        if quiet {
            let log = "\(scratch)/\(node).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            p.standardError = FileHandle(forWritingAtPath: log) ?? FileHandle.nullDevice
        }
        try p.run()
        children.append(Child(node: node, role: role, process: p, reportPath: report, publishedPath: published))
    }

    /// A child's published count, once it has stopped publishing.
    func published(_ c: Child) -> UInt64? {
        guard let path = c.publishedPath, let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func report(_ c: Child) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: c.reportPath),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return obj
    }

    /// Asks every child still running to stop (SIGTERM), waits up to `grace`, then kills.
    func stopAll(grace: TimeInterval = 5) {
        for c in children where c.process.isRunning { kill(c.process.processIdentifier, SIGTERM) }
        let until = Date().addingTimeInterval(grace)
        while children.contains(where: { $0.process.isRunning }), Date() < until { usleep(20_000) }
        for c in children where c.process.isRunning { kill(c.process.processIdentifier, SIGKILL) }
        for c in children { c.process.waitUntilExit() }
    }

    /// Nodes this run killed on purpose (fail-over measurements): not a server that died.
    var expectedDead: Set<UInt32> = []

    var anyServerDied: Child? {
        children.first { $0.role != .member && !$0.process.isRunning && !expectedDead.contains($0.node) }
    }
}
