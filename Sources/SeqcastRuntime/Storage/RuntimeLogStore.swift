import SeqcastCore
import SeqcastNode

/// The runtime's log store: durability `none` (nothing kept, `ImmediateLogStore`) or `sync`
/// (`FileLogStore`), chosen per group. One concrete type, so the role loop is specialised once;
/// the branch per record costs nothing next to the record's encoding.
public struct RuntimeLogStore: LogStore {
    var immediate = ImmediateLogStore()
    public let file: FileLogStore?

    public init(file: FileLogStore? = nil) { self.file = file }

    public mutating func append(_ record: UnsafeRawBufferPointer, ticket: WriteTicket, key: UInt64) {
        if let file { file.append(record, ticket: ticket, key: key) } else { immediate.append(record, ticket: ticket, key: key) }
    }

    public mutating func truncate(through key: UInt64) {
        if let file { file.truncate(through: key) } else { immediate.truncate(through: key) }
    }

    public mutating func takeDurable() -> WriteTicket? {
        if let file { file.takeDurable() } else { immediate.takeDurable() }
    }

    public var durability: String { file?.durability ?? immediate.durability }

    /// Records wait for a sync: the loop must come back soon to report them durable.
    public var awaitingSync: Bool { file?.awaitingSync ?? false }
}
