/// A decoded datagram: header plus a typed message view. `decode` is the only entry point for
/// received bytes; `encode` the only way bytes are produced.
@frozen public struct Datagram {
    @frozen public enum Message {
        case data(DataMessage)
        case dataReport(DataReport)
        case commitSubmit(RunBatch)
        case commitAck(CommitAck)
        case commit(RunBatch)
        case heartbeat(Heartbeat)
        case checkpointReport(CheckpointReport)
        case idQuery(IdQuery)
        case idReply(IdReply)
        case messageFetch(MessageFetch)
        case messageReply(DataMessage)
        case fetchMiss(FetchMiss)
        case checkpointFetch(CheckpointFetch)
        case checkpointChunk(CheckpointChunk)
        case seal(Seal)
        case sealReply(SealReply)
        case nodeClaim(NodeClaim)
    }

    public var header: Header
    public var message: Message

    @inlinable init(header: Header, message: Message) {
        self.header = header
        self.message = message
    }

    /// Decodes a whole datagram. Views inside the result borrow `bytes`.
    @inlinable public static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> Datagram {
        var r = WireReader(bytes)
        let header = try Header.decode(&r)
        let message: Message
        switch header.kind {
        case .data: message = .data(try DataMessage.decode(&r))
        case .dataReport: message = .dataReport(try DataReport.decode(&r))
        case .commitSubmit: message = .commitSubmit(try RunBatch.decode(&r))
        case .commitAck: message = .commitAck(try CommitAck.decode(&r))
        case .commit: message = .commit(try RunBatch.decode(&r))
        case .heartbeat: message = .heartbeat(try Heartbeat.decode(&r))
        case .checkpointReport: message = .checkpointReport(try CheckpointReport.decode(&r))
        case .idQuery: message = .idQuery(try IdQuery.decode(&r))
        case .idReply: message = .idReply(try IdReply.decode(&r))
        case .messageFetch: message = .messageFetch(try MessageFetch.decode(&r))
        case .messageReply: message = .messageReply(try DataMessage.decode(&r))
        case .fetchMiss: message = .fetchMiss(try FetchMiss.decode(&r))
        case .checkpointFetch: message = .checkpointFetch(try CheckpointFetch.decode(&r))
        case .checkpointChunk: message = .checkpointChunk(try CheckpointChunk.decode(&r))
        case .seal: message = .seal(try Seal.decode(&r))
        case .sealReply: message = .sealReply(try SealReply.decode(&r))
        case .nodeClaim: message = .nodeClaim(try NodeClaim.decode(&r))
        }
        guard r.remaining == 0 else { throw .trailingBytes(count: r.remaining) }
        return Datagram(header: header, message: message)
    }

    /// Encodes `header` and the body written by `body` into `buffer`, patches the length, and
    /// returns the datagram's size.
    @inlinable public static func encode(_ header: Header, into buffer: UnsafeMutableRawBufferPointer,
                                         body: (inout WireWriter) throws(EncodeError) -> Void) throws(EncodeError) -> Int {
        var w = WireWriter(buffer)
        try header.encode(into: &w)
        try body(&w)
        guard w.offset <= Int(UInt32.max) else { throw .invalidField("datagram too long") }
        w.patchU32(UInt32(w.offset), at: Header.byteCount - 4)
        return w.offset
    }
}
