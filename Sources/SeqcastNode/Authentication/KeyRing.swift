import CSeqcastMAC
import SeqcastCore

/// The keys of one class a node holds, precomputed for tagging (no allocation per datagram).
/// The first key is sent under; all current keys are accepted, and a key that a reload dropped
/// is still accepted until its retirement deadline (the rotation window).
///
/// Owned by the node's thread.
public final class KeyRing {
    @usableFromInline struct Entry {
        @usableFromInline var id: UInt16
        @usableFromInline var retiresAt: Instant?
    }
    /// Current keys first (the sending key at 0), then retiring ones; at most `slotsMax`.
    @usableFromInline var entries: [Entry] = []
    @usableFromInline let keys: UnsafeMutablePointer<seqcast_mac_key>
    @usableFromInline static let slotsMax = 2 * AuthKeyFile.keysMax
    /// Bumped by every `install`: a subkey derived before it is derived again (a key id a file
    /// reuses for new bytes must never keep verifying under the old ones).
    public private(set) var generation: UInt64 = 0

    public init(_ current: [AuthKey]) {
        precondition(!current.isEmpty && current.count <= AuthKeyFile.keysMax, "1…\(AuthKeyFile.keysMax) keys")
        keys = .allocate(capacity: Self.slotsMax)
        entries.reserveCapacity(Self.slotsMax)
        for k in current { append(k, retiresAt: nil) }
    }

    deinit {
        for i in 0..<entries.count { seqcast_mac_key_wipe(keys + i) }
        keys.deallocate()
    }

    /// The id of the key sent under.
    @inlinable public var sendingId: UInt16 { entries[0].id }
    @inlinable var sendingKey: UnsafePointer<seqcast_mac_key> { UnsafePointer(keys) }
    /// Ids of every key accepted now, sending first.
    public func acceptedIds(now: Instant) -> [UInt16] {
        entries.filter { $0.retiresAt.map { now < $0 } ?? true }.map(\.id)
    }

    /// The key a trailer names, if it is accepted at `now`; `retiring` when it is one a reload
    /// dropped (accepted within the rotation window).
    @inlinable func key(id: UInt16, now: Instant) -> (key: UnsafePointer<seqcast_mac_key>, retiring: Bool)? {
        for i in 0..<entries.count where entries[i].id == id {
            if let r = entries[i].retiresAt {
                guard now < r else { return nil }
                return (UnsafePointer(keys + i), true)
            }
            return (UnsafePointer(keys + i), false)
        }
        return nil
    }

    /// Installs a key file's keys read again: they become current (the first is sent under from
    /// now); keys no longer listed are accepted until `now + window`. A key listed again is
    /// current again. Retiring keys past their deadline are forgotten.
    public func install(_ current: [AuthKey], now: Instant, window: Nanoseconds) {
        precondition(!current.isEmpty && current.count <= AuthKeyFile.keysMax, "1…\(AuthKeyFile.keysMax) keys")
        var kept: [(AuthKey?, Entry, Int)] = []  // (new key bytes or nil to keep slot i's key, entry, old slot)
        for k in current { kept.append((k, Entry(id: k.id, retiresAt: nil), -1)) }
        for (i, e) in entries.enumerated() where !current.contains(where: { $0.id == e.id }) {
            let deadline = e.retiresAt ?? (now + window)
            if now < deadline, kept.count < Self.slotsMax { kept.append((nil, Entry(id: e.id, retiresAt: deadline), i)) }
        }
        // Retiring keys move down to their new slots first (slots only move to lower or equal
        // indices when listed keys are fewer; copy through a scratch to stay simple and safe).
        let scratch = UnsafeMutablePointer<seqcast_mac_key>.allocate(capacity: Self.slotsMax)
        defer {
            for i in 0..<Self.slotsMax { seqcast_mac_key_wipe(scratch + i) }
            scratch.deallocate()
        }
        for (slot, item) in kept.enumerated() {
            if let k = item.0 {
                k.bytes.withUnsafeBufferPointer { seqcast_mac_key_init(scratch + slot, $0.baseAddress!) }
            } else {
                scratch[slot] = keys[item.2]
            }
        }
        for i in 0..<entries.count { seqcast_mac_key_wipe(keys + i) }
        for slot in 0..<kept.count { keys[slot] = scratch[slot] }
        entries = kept.map(\.1)
        generation &+= 1
    }

    func append(_ k: AuthKey, retiresAt: Instant?) {
        k.bytes.withUnsafeBufferPointer { seqcast_mac_key_init(keys + entries.count, $0.baseAddress!) }
        entries.append(Entry(id: k.id, retiresAt: retiresAt))
    }
}
