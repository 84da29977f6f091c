import SeqcastCore
import SeqcastNode
import SeqcastTransport
import SeqcastWire

/// Drives a data server as its group would: `publishers` publishers send data datagrams to the
/// data group, each at most `window` messages beyond what the server has reported holding; the
/// generator, as the sequencer, numbers what each report shows held and commits it at once, and
/// heartbeats every millisecond announce the frontier and a checkpoint `checkpointLag` numbers
/// behind it, so the server collects (after the group's collection grace) and its store stays
/// bounded. Work: messages stored and reported (the reports' holdings).
final class DataServerCapacityLoad: CapacityLoad {
    let server: NodeId
    let publishers: SyntheticPublishers
    let window: UInt64
    let checkpointLag: UInt64 = 4_096
    /// Per publisher: the highest counter the server reported holding.
    var reported: [UInt64]
    var heartbeatAt: UInt64 = 0
    var reports: UInt64 = 0
    var progressAt: UInt64 = 0
    /// Data datagrams sent again after a stall.
    var resent: UInt64 = 0

    var played: [PlayedNode] { publishers.played }
    var messages: UInt64 { reported.reduce(0, +) }

    init(layout: GroupLayout, network: (NodeId) -> NetworkConfig, server: NodeId, publishers ids: [NodeId],
         messageBytes: Int, window: UInt64) throws {
        publishers = try SyntheticPublishers(layout: layout, network: network, ids: ids, messageBytes: messageBytes)
        self.server = server
        self.window = window
        reported = Array(repeating: 0, count: ids.count)
    }

    func handle(_ d: Datagram, at node: PlayedNode, now: UInt64) {
        guard d.header.source == server, node === publishers.sequencer, case .dataReport(let r) = d.message else { return }
        reports &+= 1
        for e in r.entries {
            guard let p = publishers.senders.firstIndex(of: e.sender), e.heldThrough > reported[p] else { continue }
            reported[p] = e.heldThrough
            progressAt = now
            publishers.number(p, through: e.heldThrough)
        }
        publishers.commit()
    }

    func feed(now: UInt64) {
        if progressAt == 0 { progressAt = now }  // the stall clock starts with the traffic
        // Nothing is lost on loopback within the window; should data be, send it again from
        // what the server reported (a held body sent again is the same bytes: not a conflict).
        if now &- progressAt > capacityStallNanos {
            for p in publishers.senders.indices where publishers.sentThrough[p] > reported[p] {
                resent &+= (publishers.sentThrough[p] - reported[p]) / UInt64(publishers.perDatagram)
                publishers.sentThrough[p] = reported[p]
            }
            progressAt = now
        }
        for p in publishers.senders.indices {
            while publishers.sentThrough[p] + UInt64(publishers.perDatagram) <= reported[p] + window {
                publishers.send(p)
            }
        }
        if now >= heartbeatAt {
            heartbeatAt = now + 1_000_000
            publishers.heartbeat(checkpointLag: checkpointLag)
        }
    }
}
