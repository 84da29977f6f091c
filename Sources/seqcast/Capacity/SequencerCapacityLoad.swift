import SeqcastCore
import SeqcastNode
import SeqcastTransport
import SeqcastWire

/// Drives a sequencer as the rest of its group would: the commit servers answer its seal (an
/// empty log) and acknowledge every submit as it arrives; K data servers report `senders`
/// senders each holding `messagesPerRun` more messages per report (so every report is numbered
/// as `senders` runs), at most `window` reports not yet numbered; the checkpoint server reports
/// a checkpoint every checkpoint interval, so the sequencer's log is truncated as in a group.
/// Work: runs and messages numbered (the submits the first commit server receives).
final class SequencerCapacityLoad: CapacityLoad {
    let senders: Int
    let messagesPerRun: UInt64
    let window: UInt64
    let sequencer: NodeId
    let dataServers: [PlayedNode]
    let commitServers: [PlayedNode]
    let checkpointServer: PlayedNode?
    let checkpointInterval: UInt64
    let commitQuorum: Int
    let encoder: CapacityEncoder
    var entries: [DataReport.Entry]
    var epoch = Epoch.none
    var sealedBy: Set<NodeId> = []
    var reportsSent: UInt64 = 0
    var numberedThrough: UInt64 = 0
    var runsNumbered: UInt64 = 0
    /// End-of-stream runs the sequencer numbered: the lifetime rule ended a stream, so the
    /// load's timestamps fell behind its numbering (the run fails).
    var streamsEnded: UInt64 = 0
    var checkpointReported: UInt64 = 0
    var progressAt: UInt64 = 0

    var played: [PlayedNode] { dataServers + commitServers + (checkpointServer.map { [$0] } ?? []) }
    var messages: UInt64 { numberedThrough }
    var runs: UInt64 { runsNumbered }
    var ready: Bool { sealedBy.count >= commitQuorum }
    var seqsPerReport: UInt64 { UInt64(senders) * messagesPerRun }

    init(layout: GroupLayout, network: (NodeId) -> NetworkConfig, senders: Int, messagesPerRun: UInt64,
         window: UInt64) throws {
        let config = try layout.config()
        sequencer = config.sequencer
        // K of the data servers report (the sequencer numbers what K hold); every commit server acks.
        dataServers = try config.dataServers.prefix(config.reportQuorum).map { try PlayedNode($0, layout: layout, config: network($0)) }
        commitServers = try config.commitServers.map { try PlayedNode($0, layout: layout, config: network($0)) }
        checkpointServer = try config.checkpointServers.first.map { try PlayedNode($0, layout: layout, config: network($0)) }
        checkpointInterval = config.checkpointInterval
        commitQuorum = config.commitQuorum
        encoder = CapacityEncoder(layout: layout)
        self.senders = senders
        self.messagesPerRun = messagesPerRun
        self.window = window
        entries = (0..<senders).map { i in
            DataReport.Entry(sender: SenderId(node: NodeId(1_000 + UInt32(i)), incarnation: 1), heldThrough: 0,
                             pendingCounter: 1, pendingTs: .zero, aheadTs: .zero)
        }
    }

    deinit { encoder.deallocate() }

    func handle(_ d: Datagram, at node: PlayedNode, now: UInt64) {
        guard d.header.source == sequencer else { return }
        switch d.message {
        case .seal(let s):
            epoch = max(epoch, d.header.epoch)
            sealedBy.insert(node.id)
            let e = d.header.epoch
            encoder.send(.sealReply, from: node, epoch: e, to: .node(sequencer)) { w throws(EncodeError) in
                try SealReply.encode(lowWater: .zero, storedThrough: .zero, pageThrough: .zero, runsEpoch: .none,
                                     nonce: s.nonce, committedThrough: .zero, runs: EmptyCollection<SequenceRun>(),
                                     into: &w)
            }
        case .commitSubmit(let batch):
            var last = SequenceNumber.zero
            var fresh: UInt64 = 0
            for run in batch.runs {
                last = max(last, run.lastSeq)
                if case .endOfStream = run.content, node === commitServers[0], run.lastSeq.rawValue > numberedThrough {
                    streamsEnded &+= 1
                }
                if run.lastSeq.rawValue > numberedThrough, node === commitServers[0] { fresh += 1 }
            }
            let e = d.header.epoch
            encoder.send(.commitAck, from: node, epoch: e, to: .node(sequencer)) { w throws(EncodeError) in
                try CommitAck(storedThrough: last).encode(into: &w)
            }
            if node === commitServers[0], last.rawValue > numberedThrough {
                numberedThrough = last.rawValue
                runsNumbered &+= fresh
                progressAt = now
            }
        default:
            break
        }
    }

    func feed(now: UInt64) {
        if progressAt == 0 { progressAt = now }  // the stall clock starts with the traffic
        guard ready else { return }
        let numberedReports = numberedThrough / seqsPerReport
        while reportsSent < numberedReports + window {
            reportsSent += 1
            report(reportsSent)
        }
        // Reports are idempotent (cumulative holdings): repeat the last if numbering stalled.
        if now &- progressAt > capacityStallNanos {
            report(reportsSent)
            progressAt = now
        }
        // The checkpoint server's report of each checkpoint the frontier passed (the acks have
        // committed everything numbered).
        let checkpoint = numberedThrough / checkpointInterval * checkpointInterval
        if let c = checkpointServer, checkpoint > checkpointReported {
            checkpointReported = checkpoint
            encoder.send(.checkpointReport, from: c, epoch: epoch, to: .node(sequencer)) { w throws(EncodeError) in
                try CheckpointReport(terminalSeq: SequenceNumber(checkpoint), byteCount: 64, digest: checkpoint)
                    .encode(into: &w)
            }
        }
    }

    /// Report `k` from each reporting data server: every sender holds counters 1 … k·m. Its
    /// lowest counter not known committed (every number the sequencer submitted is acked at
    /// once, so committed) follows the whole reports numbered so far, stamped with the frontier
    /// known now, as a data server reports them. (Claiming the new run's first counter instead
    /// says everything below it is committed: the sequencer skips what the window holds.)
    func report(_ k: UInt64) {
        let m = messagesPerRun
        let committed = numberedThrough / seqsPerReport * m
        for i in entries.indices {
            entries[i].heldThrough = k * m
            entries[i].pendingCounter = committed + 1
            entries[i].pendingTs = SequenceNumber(numberedThrough)
        }
        for server in dataServers {
            encoder.send(.dataReport, from: server, epoch: epoch, to: .node(sequencer)) { w throws(EncodeError) in
                try DataReport.encode(self.entries, incarnation: 1, into: &w)
            }
        }
    }
}
