import SeqcastWire

/// The datagram decoder on arbitrary bytes: it must never trap, and whatever it accepts must
/// read back in full (every lazy list walked) and split as the trailer rules say.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDatagram(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    _ = AuthTrailer.split(bytes)
    guard let d = try? Datagram.decode(bytes) else { return 0 }
    precondition(Int(d.header.length) == size, "decoded a datagram whose length is not its size")
    var touched: UInt64 = 0
    switch d.message {
    case .data(let m), .messageReply(let m):
        for body in m.bodies { touched &+= UInt64(body.count) }
    case .dataReport(let r):
        for e in r.entries { touched &+= e.heldThrough }
    case .commitSubmit(let b), .commit(let b):
        for run in b.runs { touched &+= run.lastSeq.rawValue }
    case .idReply(let r):
        for run in r.batch.runs { touched &+= run.lastSeq.rawValue }
    case .sealReply(let r):
        for run in r.batch.runs { touched &+= run.lastSeq.rawValue }
    case .checkpointChunk(let c):
        touched &+= UInt64(c.bytes.count)
    default:
        break
    }
    return touched == 0x5eed_5eed_5eed_5eed ? 1 : 0
}
