import SeqcastWire

extension RoleOutput {
    /// Where two bodies for one message id meet (a data server or member already holds `held`):
    /// equal bytes are a duplicate (the network's, a retransmission, a repair); different bytes
    /// are counted as a conflict, the first id kept for the driver to name. The held body stays.
    /// Runs only on duplicates, never on a first arrival.
    @inlinable mutating func compare(_ held: BodyStore.Handle, in bodies: BodyStore, with body: UnsafeRawBufferPointer,
                                     id: MessageId) {
        let same = bodies.withBody(held) { $0.count == body.count && $0.elementsEqual(body) }
        guard !same else { return }
        counters.conflictingBodies &+= 1
        if counters.firstConflict == nil { counters.firstConflict = id }
    }
}
