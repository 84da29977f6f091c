import Foundation
import SeqcastCore
import SeqcastNode
import SeqcastSimulation
import SeqcastWire

/// The fuzz targets' seed corpus, cut from a simulated run (Fuzz/README.md says how it is used):
/// valid traffic and valid records, which libFuzzer then mutates. Inputs are the targets' own
/// framing: a role byte, then u16-length-prefixed chunks.
enum FuzzCorpus {
    /// Role bytes as the targets read them (FuzzRoles: `pick & 0x7F`, bit 7 authenticated).
    static func roleIndex(_ role: NodeRole) -> UInt8 {
        switch role {
        case .sequencer: 0
        case .dataServer: 1
        case .commitServer: 2
        case .checkpointServer: 3
        case .member: 4
        }
    }

    static func chunked(_ head: [UInt8], _ items: some Sequence<[UInt8]>) -> [UInt8] {
        var out = head
        for item in items {
            let n = min(item.count, Int(UInt16.max))
            out += [UInt8(n & 0xFF), UInt8(n >> 8)] + item.prefix(n)
        }
        return out
    }

    static func write(dir: String, sim: Simulator, seed: UInt64, received: [NodeId: [[UInt8]]]) throws {
        let fm = FileManager.default
        for sub in ["FuzzRoles", "FuzzRecords"] { try fm.createDirectory(atPath: "\(dir)/\(sub)", withIntermediateDirectories: true) }
        let authenticated = sim.layout.security != nil
        for n in sim.layout.nodes {
            // Windows of 24 datagrams from the start, the middle and late in the run.
            let got = received[n.id] ?? []
            for start in [0, got.count / 3, 2 * got.count / 3] where start < got.count {
                let window = got[start..<min(got.count, start + 24)]
                let head = [roleIndex(n.role) | (authenticated ? 0x80 : 0), 10]
                let name = "\(n.role.rawValue)-\(n.id.rawValue)-\(authenticated ? "auth" : "plain")-\(seed)-\(start)"
                fm.createFile(atPath: "\(dir)/FuzzRoles/\(name)", contents: Data(chunked(head, window)))
            }
            // FuzzRecords: 0 sequencer, 1 commit server, 2 data server (disk), 3 checkpoint server.
            let recordRole: UInt8? = switch n.role {
            case .sequencer: 0
            case .commitServer: 1
            case .dataServer: sim.layout.dataStore == .disk ? 2 : nil
            case .checkpointServer: 3
            case .member: nil
            }
            let records = sim.syncedRecords(of: n.id)
            if let r = recordRole, !records.isEmpty {
                let name = "\(n.role.rawValue)-\(n.id.rawValue)-\(seed)"
                fm.createFile(atPath: "\(dir)/FuzzRecords/\(name)", contents: Data(chunked([r], records.suffix(40))))
            }
        }
    }
}
