import Foundation
import ArgumentParser
import SeqcastConfig
import SeqcastNode
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire

/// `seqcast config`: write a group file, or check one before any process starts from it.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Write or check a group configuration file.",
        subcommands: [Example.self, Check.self, Keys.self])

    struct Example: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a commented group file for a whole group on loopback (a fresh instance id).",
            discussion: """
                Examples:
                  seqcast config example > group.yaml
                  seqcast config example --data-servers 5 --report-quorum 3 --keys keys > secure.yaml
                  seqcast config example --feed-session SEQCAST001 --base-port 18600 --data-port 18501 --commit-port 18502 > feed.yaml
                """)
        @OptionGroup var shape: ShapeOptions
        @Option(help: "Group name.") var name = "demo"
        @Option(help: "Members listed in the file (more may join unlisted).") var members = 2
        @Option(help: "Add a feed section: the committed stream as MoldUDP64 under this session name (seqcast feed run).")
        var feedSession: String?
        @Option(help: "The feed's downstream multicast group and port.") var feedDownstream = "239.255.83.1:18401"
        @Option(help: "The UDP port feed gateways answer re-requests on.") var feedRequestPort: UInt16 = 18_402

        func run() throws {
            var layout = shape.layout(members: members)
            if let d = shape.durability { layout.durability = d }
            try shape.applyKeys(to: &layout)
            layout.name = name
            if let session = feedSession {
                layout.feed = GroupLayout.Feed(session: session, downstream: try endpoint(feedDownstream, "--feed-downstream"),
                                               requestPort: feedRequestPort)
            }
            if let problem = layout.problems().first { throw ValidationError("these options cannot run: \(problem)") }
            print(GroupFile.render(layout), terminator: "")
        }
    }

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a key file, or rotate the key in one.",
            discussion: """
            A group with a security section names two key files: the group key (every process) and \
            the server key (servers only). Running processes read a changed file within a second.
            Rotation without a restart, on every host: `seqcast config keys FILE --add` (a new key \
            listed second: accepted, not yet sent under), then `--promote` (sent under from now), \
            then `--retire` (the old key leaves the file; processes accept it for the group's \
            key-rotation-window more).

            Examples:
              seqcast config keys new.key
              seqcast config keys new.key --add
            """)
        @Argument(help: "The key file.") var file: String
        @Flag(help: "Add a fresh key after the current one (accepted, not yet sent under).") var add = false
        @Flag(help: "Send under the second key from now (the first becomes second).") var promote = false
        @Flag(help: "Keep only the first key.") var retire = false

        func run() throws {
            guard [add, promote, retire].filter({ $0 }).count <= 1 else { throw ValidationError("at most one of --add, --promote, --retire") }
            guard add || promote || retire else {
                guard !FileManager.default.fileExists(atPath: file) else {
                    throw ValidationError("\(file) exists; --add, --promote or --retire change it")
                }
                try writeKeyFile(file, [AuthKey.random(id: 1)])
                return
            }
            var keys: [AuthKey]
            do {
                keys = try KeyFiles.read(file)
            } catch {
                throw ValidationError(error.description)
            }
            if add {
                guard keys.count < AuthKeyFile.keysMax else { throw ValidationError("\(file) already holds \(keys.count) keys") }
                let id = UInt16(truncatingIfNeeded: (keys.map { Int($0.id) }.max() ?? 0) % 65_535 + 1)
                keys.insert(AuthKey.random(id: id), at: 1)
            } else if promote {
                guard keys.count >= 2 else { throw ValidationError("\(file) holds one key; --add one first") }
                keys.swapAt(0, 1)
            } else {
                keys = [keys[0]]
            }
            try writeKeyFile(file, keys)
            print("\(file): sending under key \(keys[0].id); accepted: \(keys.map(\.id))")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a group file: refuse it with every problem's field and line, or summarise it.",
            discussion: """
                With --node, also check this host for that node: socket buffer limits, the locked-memory \
                limit io_uring needs, and the multicast interface.

                Examples:
                  seqcast config check group.yaml
                  seqcast config check group.yaml --node 11
                """)
        @Argument(help: "The group file.") var file: String
        @Option(help: "Also check this host for running this node.") var node: UInt32?

        func run() throws {
            let layout: GroupLayout
            do {
                layout = try GroupFile.load(path: file)
            } catch {
                print(error.description)
                throw ExitCode(1)
            }
            print("\(file): ok: group \(layout.name) id 0x\(String(layout.groupId, radix: 16)) "
                  + "instance 0x\(String(layout.instance, radix: 16)) fingerprint 0x\(String(layout.fingerprint, radix: 16))")
            for role in [NodeRole.sequencer, .dataServer, .commitServer, .checkpointServer, .member] {
                let nodes = layout.nodes.filter { $0.role == role }
                guard !nodes.isEmpty else { continue }
                print("  \(role.rawValue): " + nodes.map { "\($0.id.rawValue)@\($0.endpoint)" }.joined(separator: ", "))
            }
            if let s = layout.security {
                print("  authenticated: group key \(s.groupKeyFile), server key \(s.serverKeyFile), "
                      + "rotation window \(s.keyRotationWindow.value / 1_000_000_000) s")
            }
            print("  data group \(layout.dataGroup), commit group \(layout.commitGroup), ttl \(layout.ttl); "
                  + "K \(layout.reportQuorum), Q \(layout.commitQuorum.map(String.init) ?? "majority"), "
                  + "N \(layout.checkpointInterval), durability \(layout.durability.rawValue)")
            if let node {
                let problems = layout.problems(forNode: NodeId(node))
                for p in problems { print("  node \(node) cannot run: \(p)") }
                if !problems.isEmpty { throw ExitCode(1) }
                let network = NetworkConfig(layout: layout, node: NodeId(node))
                let warnings = HostChecks.warnings(network: network, facts: HostFacts.read(for: network))
                print("  this host for node \(node): " + (warnings.isEmpty ? "no problems found" : ""))
                for w in warnings { print("  warning: \(w)") }
            }
        }
    }
}
