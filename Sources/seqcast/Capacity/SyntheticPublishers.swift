import SeqcastBench
import SeqcastCore
import SeqcastNode
import SeqcastTransport
import SeqcastWire

/// Publishers and the sequencer the load generator plays for a data server or a member: each
/// publisher sends data datagrams of `perDatagram` consecutive messages (bench bodies: its node
/// id, the message's index in its stream, the send time) to the data group, as a member's
/// publisher batches them; the sequencer numbers what the load decides is held (`number`), in
/// runs, commits them and sends heartbeats.
final class SyntheticPublishers {
    let nodes: [PlayedNode]
    let sequencer: PlayedNode
    let senders: [SenderId]
    let messageBytes: Int
    let perDatagram: Int
    let encoder: CapacityEncoder
    let body: UnsafeMutableRawBufferPointer
    /// Per publisher: the highest counter sent, and the highest numbered.
    var sentThrough: [UInt64]
    var numberedThrough: [UInt64]
    /// The next sequence number the generator-as-sequencer gives out.
    var nextSeq: UInt64 = 1
    var runBuffer: [SequenceRun] = []
    /// Runs one commit datagram holds.
    let runsMax: Int

    init(layout: GroupLayout, network: (NodeId) -> NetworkConfig, ids: [NodeId], messageBytes: Int) throws {
        nodes = try ids.map { try PlayedNode($0, layout: layout, config: network($0)) }
        let seq = layout.sequencer ?? NodeId(1)
        sequencer = try PlayedNode(seq, layout: layout, config: network(seq))
        senders = ids.map { SenderId(node: $0, incarnation: 1) }
        self.messageBytes = messageBytes
        let room = layout.roleDatagramBytes - Header.byteCount - DataMessage.fixedByteCount
        perDatagram = max(1, min(64, room / (messageBytes + DataMessage.bodyOverhead)))
        guard room >= messageBytes + DataMessage.bodyOverhead else {
            throw CapacityError("--message-size \(messageBytes) does not fit one datagram: capacity runs do not fragment")
        }
        encoder = CapacityEncoder(layout: layout)
        body = .allocate(byteCount: messageBytes, alignment: 8)
        body.initializeMemory(as: UInt8.self, repeating: 0x5A)
        sentThrough = Array(repeating: 0, count: ids.count)
        numberedThrough = Array(repeating: 0, count: ids.count)
        runsMax = RunBatch.runsMax(datagramBytes: layout.roleDatagramBytes)
        runBuffer.reserveCapacity(runsMax)
    }

    deinit {
        encoder.deallocate()
        body.deallocate()
    }

    var committedThrough: UInt64 { nextSeq - 1 }
    var sentTotal: UInt64 { sentThrough.reduce(0, +) }

    /// One data datagram of publisher `p`'s next `perDatagram` messages.
    func send(_ p: Int) {
        let first = sentThrough[p] + 1
        let n = perDatagram
        let sender = senders[p]
        let node = nodes[p].id.rawValue
        let ts = SequenceNumber(committedThrough)
        let b = body
        encoder.send(.data, from: nodes[p], epoch: .none, to: .dataGroup) { w throws(EncodeError) in
            _ = try DataMessage.encodeFixed(sender: sender, firstCounter: first, logicalTs: ts, count: UInt16(n), into: &w)
            for i in 0..<n {
                // No send time: a body sent again must be the same bytes (a held body that
                // differs counts as a conflict), and these runs measure no latency.
                BenchBody.write(into: b, node: node, index: first + UInt64(i), ns: 0)
                try DataMessage.appendBody(UnsafeRawBufferPointer(b), into: &w)
            }
        }
        sentThrough[p] += UInt64(n)
    }

    /// Every played node, the sequencer last: a pass flushes in this order, and data must not
    /// trail its commit.
    var played: [PlayedNode] { nodes + [sequencer] }

    /// Numbers publisher `p`'s messages through `held` (a run), to go out in the next commit
    /// (sent now if the pending commit is full).
    func number(_ p: Int, through held: UInt64) {
        guard held > numberedThrough[p] else { return }
        if runBuffer.count == runsMax { commit() }
        let count = held - numberedThrough[p]
        runBuffer.append(SequenceRun(firstSeq: SequenceNumber(nextSeq), count: UInt32(count),
                                     content: .messages(sender: senders[p], firstCounter: numberedThrough[p] + 1)))
        nextSeq += count
        numberedThrough[p] = held
    }

    /// Sends the runs numbered since the last commit to the commit group.
    func commit() {
        guard !runBuffer.isEmpty else { return }
        let through = SequenceNumber(committedThrough)
        encoder.send(.commit, from: sequencer, epoch: capacityEpoch, to: .commitGroup) { w throws(EncodeError) in
            try RunBatch.encode(committedThrough: through, runs: self.runBuffer, into: &w)
        }
        runBuffer.removeAll(keepingCapacity: true)
    }

    /// The sequencer's heartbeat: the frontier, and a checkpoint `lag` numbers behind it.
    func heartbeat(checkpointLag: UInt64) {
        let c = committedThrough
        let checkpoint = c > checkpointLag ? c - checkpointLag : 0
        encoder.send(.heartbeat, from: sequencer, epoch: capacityEpoch, to: .commitGroup) { w throws(EncodeError) in
            try Heartbeat(committedThrough: SequenceNumber(c), checkpointSeq: SequenceNumber(checkpoint),
                          checkpointBytes: 64).encode(into: &w)
        }
    }
}
