import SeqcastCore

/// The storage seam of a node: takes the records a role queued (`StorageQueue`), makes them
/// durable in order, and says which ticket is durable. Implemented by the simulator's `SimDisk`, the runtime's `ImmediateLogStore` (none) and `FileLogStore` (sync).
///
/// Contract: tickets are appended in rising order; `takeDurable` returns each durable prefix at
/// most once, rising, so the role's `persisted(_:now:)` sees "durable through t" exactly once per
/// advance. Owned by the thread that owns the node.
public protocol LogStore {
    /// Takes one record (bytes valid only during the call) to make durable.
    mutating func append(_ record: UnsafeRawBufferPointer, ticket: WriteTicket, key: UInt64)
    /// Records whose key is at or below `key` may be deleted once durable (behind a checkpoint).
    mutating func truncate(through key: UInt64)
    /// The highest ticket that became durable since the last call, or nil.
    mutating func takeDurable() -> WriteTicket?
    /// What the store promises, as printed next to every figure measured with it.
    var durability: String { get }
}

/// Durability `none`: a record is "durable" as soon as it is appended and nothing is kept. For
/// benchmarks and for real processes until stable storage lands; every report says `none`.
public struct ImmediateLogStore: LogStore {
    @usableFromInline var appended: WriteTicket?
    @usableFromInline var reported = WriteTicket(0)
    public var recordsAppended: UInt64 = 0

    public init() {}

    @inlinable public mutating func append(_ record: UnsafeRawBufferPointer, ticket: WriteTicket, key: UInt64) {
        precondition(ticket > (appended ?? reported), "tickets must rise")
        appended = ticket
        recordsAppended &+= 1
    }

    public mutating func truncate(through key: UInt64) {}

    @inlinable public mutating func takeDurable() -> WriteTicket? {
        guard let t = appended else { return nil }
        appended = nil
        reported = t
        return t
    }

    public var durability: String { "none" }
}
