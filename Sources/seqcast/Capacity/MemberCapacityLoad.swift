import Glibc
import SeqcastCore
import SeqcastNode
import SeqcastTransport
import SeqcastRuntime
import SeqcastWire

/// Drives a member as its group would: `publishers` publishers send data datagrams to the data
/// group and the generator, as the sequencer, commits each datagram's messages as it sends them
/// (one commit per pass), with a heartbeat every millisecond. A member answers nothing while it
/// loses nothing, so the window (`window` numbers committed beyond the member's delivered
/// frontier) is kept from the member's live counters file, which the role process refreshes
/// every `--counters-interval-micros` for this run. Work: messages delivered.
final class MemberCapacityLoad: CapacityLoad {
    let publishers: SyntheticPublishers
    let window: UInt64
    let countersPath: String
    var countersFD: Int32 = -1
    var delivered: UInt64 = 0
    var readAt: UInt64 = 0
    var heartbeatAt: UInt64 = 0

    var played: [PlayedNode] { publishers.played }
    var messages: UInt64 { delivered }

    init(layout: GroupLayout, network: (NodeId) -> NetworkConfig, member: NodeId, publishers ids: [NodeId],
         messageBytes: Int, window: UInt64) throws {
        publishers = try SyntheticPublishers(layout: layout, network: network, ids: ids, messageBytes: messageBytes)
        self.window = window
        countersPath = CountersFile.path(group: layout.name, instance: layout.instance, node: member)
    }

    deinit { if countersFD >= 0 { close(countersFD) } }

    func handle(_ d: Datagram, at node: PlayedNode, now: UInt64) {}

    /// The member's delivered frontier, from its counters file (one aligned 8-byte read).
    func readFrontier() {
        if countersFD < 0 { countersFD = open(countersPath, O_RDONLY | O_CLOEXEC) }
        guard countersFD >= 0 else { return }
        var v: UInt64 = 0
        let offset = CountersFile.headerBytes + LiveCounter.frontier.rawValue * CountersFile.slotBytes + CountersFile.labelBytes
        guard pread(countersFD, &v, 8, off_t(offset)) == 8 else { return }
        delivered = max(delivered, UInt64(littleEndian: v))
    }

    func feed(now: UInt64) {
        if now >= readAt {
            readAt = now + 50_000
            readFrontier()
        }
        var sent = false
        // Round robin over the publishers, a datagram each, while the window allows.
        while publishers.committedThrough + UInt64(publishers.perDatagram) <= delivered + window {
            for p in publishers.senders.indices {
                publishers.send(p)
                publishers.number(p, through: publishers.sentThrough[p])
            }
            sent = true
        }
        if sent { publishers.commit() }
        if now >= heartbeatAt {
            heartbeatAt = now + 1_000_000
            publishers.heartbeat(checkpointLag: publishers.committedThrough)
        }
    }
}
