import SeqcastCore
import SeqcastNode

/// A node's simulated disk, the log store of the simulator and the scenario tests: records in
/// write order, each durable once synced. A crash loses every unsynced record (the only
/// storage fault the durability mode claims to survive today; torn and corrupted records come
/// with the storage issue's record format).
///
/// Syncs are the driver's to schedule: the simulator syncs each write after a drawn delay, the
/// scenario tests when a test says so. `sync(through:)` makes the prefix durable, and the
/// node's next drain reports it to the role once (`takeDurable`).
public struct SimDisk: LogStore {
    public struct Record: Sendable {
        public var ticket: WriteTicket
        public var key: UInt64
        public var bytes: [UInt8]
        public var synced: Bool
    }
    public private(set) var records: [Record] = []
    /// Highest key covered by a synced record (for the S5 checks).
    public private(set) var syncedKeyMax: UInt64 = 0
    /// Records appended since the driver last took them (it schedules their syncs).
    public private(set) var appended: [Record] = []
    var durable: WriteTicket?
    var reported = WriteTicket(0)
    /// The highest ticket the current role appended (a restarted role starts again at 1; the
    /// records of earlier lives on the disk are all synced, so tickets never mix unsynced).
    var appendedMax = WriteTicket(0)

    public init() {}

    public mutating func append(_ record: UnsafeRawBufferPointer, ticket: WriteTicket, key: UInt64) {
        precondition(ticket > appendedMax, "tickets must rise within one life of a role")
        appendedMax = ticket
        records.append(Record(ticket: ticket, key: key, bytes: Array(record), synced: false))
        appended.append(records[records.count - 1])
    }

    /// Truncation deletes only durable records (an unsynced one is still owed to the role).
    public mutating func truncate(through key: UInt64) {
        guard key > 0 else { return }
        records.removeAll { $0.synced && $0.key <= key }
    }

    public mutating func takeDurable() -> WriteTicket? {
        guard let t = durable, t > reported else { return nil }
        durable = nil
        reported = t
        return t
    }

    public var durability: String { "simulated sync" }

    /// The driver takes the records it must schedule syncs for.
    public mutating func takeAppended() -> [Record] {
        defer { appended.removeAll(keepingCapacity: true) }
        return appended
    }

    /// Makes every record up to `ticket` durable; with `report`, the node tells the role on its
    /// next drain (a test may sync without telling, to model an acknowledgement that is lost).
    /// Returns the records this sync made durable, in order (the checker reads a commit
    /// server's, S5).
    @discardableResult
    public mutating func sync(through ticket: WriteTicket, report: Bool = true) -> [Record] {
        var newly: [Record] = []
        for i in records.indices where records[i].ticket <= ticket && !records[i].synced {
            records[i].synced = true
            syncedKeyMax = max(syncedKeyMax, records[i].key)
            newly.append(records[i])
        }
        if report, ticket > reported { durable = max(durable ?? ticket, ticket) }
        return newly
    }

    /// Syncs everything written so far; returns whether anything was unsynced.
    @discardableResult
    public mutating func syncAll(report: Bool = true) -> Bool {
        guard let last = records.last(where: { !$0.synced }) else { return false }
        sync(through: last.ticket, report: report)
        return true
    }

    public var hasUnsynced: Bool { records.contains { !$0.synced } }

    /// A crash: every unsynced record is lost, and nothing is owed to a role any more.
    public mutating func crash() {
        records.removeAll { !$0.synced }
        appended.removeAll()
        durable = nil
    }

    /// What a restarted role recovers from.
    public var syncedBytes: [[UInt8]] { records.filter(\.synced).map(\.bytes) }

    /// A restarted role's tickets start again at 1: forget what was reported to the old one.
    public mutating func restarted() {
        precondition(!hasUnsynced, "a role starts on a disk whose unsynced records were lost")
        reported = WriteTicket(0)
        appendedMax = WriteTicket(0)
        durable = nil
    }
}
