import SeqcastCore
import SeqcastNode
import SeqcastWire

/// The four forgeries of issue 14, each one well-formed datagram carrying a real server's node
/// id: believed by a group without authentication, each does damage on its own.
/// - a heartbeat whose checkpoint number equals a far frontier: data servers collect committed
///   messages no checkpoint covers, commit servers truncate, members rejoin again and again;
/// - a data report from a data server's id: numbers bound to messages whose bodies exist nowhere;
/// - a commit from the sequencer's id, ahead of the real one: members deliver a message never sent;
/// - a "collected" fetch miss from a data server's id: data servers drop uncommitted messages.
struct ForgedDatagrams {
    let groupId: UInt32
    let fingerprint: UInt32
    let sequencer: NodeId
    let dataServer: NodeId
    /// Sealed with the group key when set: a member of the group forging towards servers.
    let auth: DatagramAuthenticator?
    static let variants = 4
    static let far: UInt64 = 1 << 40

    /// Variant `k % 4` into `b`; returns the bytes to send (in `b`, or in the authenticator's buffer).
    func craft(variant k: Int, into b: UnsafeMutableRawBufferPointer, prng: inout Prng) -> UnsafeRawBufferPointer {
        let epoch = Epoch(round: 1, candidate: 0)
        let fakeSender = SenderId(node: NodeId(4_000 + UInt32(prng.below(100))), incarnation: 1)
        func encoded(_ kind: MessageKind, from source: NodeId, _ body: (inout WireWriter) throws(EncodeError) -> Void) -> Int {
            let h = Header(kind: kind, groupId: groupId, fingerprint: fingerprint, epoch: epoch, source: source)
            return (try? Datagram.encode(h, into: b, body: body)) ?? 0
        }
        let n: Int
        switch k % Self.variants {
        case 0:
            n = encoded(.heartbeat, from: sequencer) { w throws(EncodeError) in
                try Heartbeat(committedThrough: SequenceNumber(Self.far), checkpointSeq: SequenceNumber(Self.far),
                              checkpointBytes: 0).encode(into: &w)
            }
        case 1:
            n = encoded(.dataReport, from: dataServer) { w throws(EncodeError) in
                try DataReport.encode([DataReport.Entry(sender: fakeSender, heldThrough: 1_000, pendingCounter: 0,
                                                        pendingTs: .zero, aheadTs: .zero)], into: &w)
            }
        case 2:
            let first = SequenceNumber(1 + prng.below(1 << 20))
            n = encoded(.commit, from: sequencer) { w throws(EncodeError) in
                try RunBatch.encode(committedThrough: SequenceNumber(first.rawValue + 63), runs: [
                    SequenceRun(firstSeq: first, count: 64, content: .messages(sender: fakeSender, firstCounter: 1))], into: &w)
            }
        default:
            let victim = SenderId(node: NodeId(41 + UInt32(prng.below(2))), incarnation: UInt32(1 + prng.below(4)))
            n = encoded(.fetchMiss, from: dataServer) { w throws(EncodeError) in
                try FetchMiss(sender: victim, firstCounter: 1, count: 100_000, reason: .collected,
                              checkpointSeq: SequenceNumber(Self.far)).encode(into: &w)
            }
        }
        let plain = UnsafeRawBufferPointer(rebasing: b[0..<n])
        guard let auth else { return plain }
        return auth.seal(plain, to: .commitGroup)
    }
}
