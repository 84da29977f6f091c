import SeqcastCore
import SeqcastNode
import SeqcastTransport
import SeqcastWire

/// Drives a commit server as its sequencer would: submits of `runsPerSubmit` runs of
/// `messagesPerRun` messages each (one run per sender, as a busy group's reports make them),
/// at most `window` submits unacknowledged; a heartbeat every tenth acknowledged submit
/// announces the frontier and a checkpoint five submits behind it, so the log is truncated
/// (after the group's truncation grace) and stays bounded. Work: runs and messages acknowledged.
final class CommitServerCapacityLoad: CapacityLoad {
    let runsPerSubmit: Int
    let messagesPerRun: UInt64
    let window: UInt64
    let server: NodeId
    let sequencer: PlayedNode
    let encoder: CapacityEncoder
    var runBuffer: [SequenceRun]
    /// Submits sent (submit k binds numbers (k-1)·S+1 … k·S, S numbers per submit).
    var sent: UInt64 = 0
    var ackedThrough: UInt64 = 0
    var heartbeatsSent: UInt64 = 0
    var progressAt: UInt64 = 0
    var resent: UInt64 = 0

    var played: [PlayedNode] { [sequencer] }
    var messages: UInt64 { ackedThrough }
    var runs: UInt64 { ackedThrough / messagesPerRun }
    var seqsPerSubmit: UInt64 { UInt64(runsPerSubmit) * messagesPerRun }

    init(layout: GroupLayout, network: (NodeId) -> NetworkConfig, server: NodeId, runsPerSubmit: Int, messagesPerRun: UInt64,
         window: UInt64) throws {
        let seq = layout.sequencer ?? NodeId(1)
        sequencer = try PlayedNode(seq, layout: layout, config: network(seq))
        encoder = CapacityEncoder(layout: layout)
        self.server = server
        self.runsPerSubmit = runsPerSubmit
        self.messagesPerRun = messagesPerRun
        self.window = window
        runBuffer = (0..<runsPerSubmit).map { i in
            SequenceRun(firstSeq: SequenceNumber(1), count: UInt32(messagesPerRun),
                        content: .messages(sender: SenderId(node: NodeId(1_000 + UInt32(i)), incarnation: 1), firstCounter: 1))
        }
    }

    deinit { encoder.deallocate() }

    func handle(_ d: Datagram, at node: PlayedNode, now: UInt64) {
        guard d.header.source == server, case .commitAck(let a) = d.message else { return }
        if a.storedThrough.rawValue > ackedThrough {
            ackedThrough = a.storedThrough.rawValue
            progressAt = now
        }
    }

    func feed(now: UInt64) {
        if progressAt == 0 { progressAt = now }  // the stall clock starts with the traffic
        let acked = ackedThrough / seqsPerSubmit
        while sent < acked + window {
            sent += 1
            submit(sent)
        }
        // Nothing is lost on loopback within the window; should a submit be, send the
        // unacknowledged ones again rather than stall.
        if now &- progressAt > capacityStallNanos, sent > acked {
            for k in (acked + 1)...sent { submit(k) }
            resent &+= sent - acked
            progressAt = now
        }
        if acked / 10 > heartbeatsSent {
            heartbeatsSent = acked / 10
            let frontier = acked * seqsPerSubmit
            let checkpoint = frontier > 5 * seqsPerSubmit ? frontier - 5 * seqsPerSubmit : 0
            encoder.send(.heartbeat, from: sequencer, epoch: capacityEpoch, to: .commitGroup) { w throws(EncodeError) in
                try Heartbeat(committedThrough: SequenceNumber(frontier), checkpointSeq: SequenceNumber(checkpoint),
                              checkpointBytes: 64).encode(into: &w)
            }
        }
    }

    /// Submit `k`: run i holds sender i's counters (k-1)·m+1 … k·m.
    func submit(_ k: UInt64) {
        let m = messagesPerRun
        for i in 0..<runsPerSubmit {
            runBuffer[i].firstSeq = SequenceNumber((k - 1) * seqsPerSubmit + 1 + UInt64(i) * m)
            runBuffer[i].content = .messages(sender: SenderId(node: NodeId(1_000 + UInt32(i)), incarnation: 1),
                                             firstCounter: (k - 1) * m + 1)
        }
        let committed = SequenceNumber(ackedThrough)
        encoder.send(.commitSubmit, from: sequencer, epoch: capacityEpoch, to: .node(server)) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: committed, runs: self.runBuffer, into: &w)
        }
    }
}
