import CSeqcastShim
import Glibc
import SeqcastCore
import SeqcastNode
import SeqcastRuntime
import SeqcastTransport
import SeqcastWire

/// A node the load generator of `seqcast capacity` plays: a socket bound to the node's address
/// in the group file (so the role under test sends it what it would send that node) and no
/// multicast group, since the generator need not hear its own multicasts. Sends are staged
/// through the runtime's `NodeNetwork` (coalesced for GSO) and flushed once per pass; the
/// generator receives on every played node's socket through one `ReceivePath`.
final class PlayedNode {
    let id: NodeId
    let network: NodeNetwork

    init(_ id: NodeId, layout: GroupLayout, config: NetworkConfig) throws {
        self.id = id
        // The previous role's process may have just exited: an io_uring instance releases its
        // sockets some milliseconds after its process is gone, so the port can still be taken.
        var attempt = 0
        while true {
            do {
                network = try NodeNetwork(config: config, layout: layout, node: id, groups: [])
                break
            } catch {
                attempt += 1
                guard attempt < 100 else { throw CapacityError("cannot play node \(id.rawValue): \(error)") }
                usleep(20_000)
            }
        }
    }
}

struct CapacityError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The synthetic traffic that drives one role: what the rest of the group would send it, within
/// a window of outstanding work, and the role's answers counted as the work it did. Single
/// threaded (the generator's thread); every pass it hears what arrived, then feeds more.
protocol CapacityLoad: AnyObject {
    /// The nodes the generator plays (their sockets are polled every pass).
    var played: [PlayedNode] { get }
    /// Messages the role has demonstrably handled so far (numbered, acknowledged, reported or
    /// delivered), as its own datagrams or counters show.
    var messages: UInt64 { get }
    /// Runs handled so far (sequencer and commit server; 0 where a run means nothing).
    var runs: UInt64 { get }
    /// Whether the role is ready for traffic (a sequencer has sealed its epoch).
    var ready: Bool { get }
    /// One datagram the role sent to `node`.
    func handle(_ d: Datagram, at node: PlayedNode, now: UInt64)
    /// Sends what the window allows and whatever is due (heartbeats, retransmissions).
    func feed(now: UInt64)
}

extension CapacityLoad {
    var runs: UInt64 { 0 }
    var ready: Bool { true }
}

/// One reusable datagram buffer; encodes a datagram from a played node and stages it.
struct CapacityEncoder {
    let groupId: UInt32
    let fingerprint: UInt32
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 8)

    init(layout: GroupLayout) {
        groupId = layout.groupId
        fingerprint = layout.fingerprint
    }

    func send(_ kind: MessageKind, from node: PlayedNode, epoch: Epoch, to destination: Destination,
              body: (inout WireWriter) throws(EncodeError) -> Void) {
        let h = Header(kind: kind, groupId: groupId, fingerprint: fingerprint, epoch: epoch, source: node.id)
        let n: Int
        do {
            n = try Datagram.encode(h, into: buffer, body: body)
        } catch {
            fatalError("capacity load: encoding a \(kind) failed: \(error)")
        }
        node.network.send(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), kind: kind, to: destination)
    }

    func deallocate() { buffer.deallocate() }
}

/// No progress for this long makes a load send its outstanding input again. Nothing is lost on
/// loopback within the windows, so it is a safety net, set well above an fdatasync's worst case
/// here (a sync run once resent every submit at 20 ms).
let capacityStallNanos: UInt64 = 250_000_000

/// The first epoch a sequencer of this group starts (round 1, the first candidate).
let capacityEpoch = Epoch(round: 1, candidate: 0)

/// CPU time a process has used, user plus system, from /proc/<pid>/stat (clock ticks).
func cpuSeconds(ofProcess pid: Int32) -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return nil }
    // After the command name: state is field 3; utime and stime are fields 14 and 15.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// CPU time of the calling thread.
func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
