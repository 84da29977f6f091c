import Glibc
import SeqcastCore
import SeqcastNode
import SeqcastWire

/// A key file could not be used; the process refuses to start (or, on a reload, keeps its keys).
public struct KeyFileError: Error, CustomStringConvertible {
    public var path: String
    public var problem: String
    public var description: String { "key file \(path): \(problem)" }
}

/// Reads the key files a group's `security` section names, and reads them again when they change.
public enum KeyFiles {
    /// The authenticator a node of `role` runs with, or nil when the group has no `security`.
    /// Members read only the group key file; servers both. The incarnation is the wall clock,
    /// so every restart of a node counts above the last.
    public static func authenticator(for layout: GroupLayout, role: NodeRole, node: NodeId) throws(KeyFileError)
        -> DatagramAuthenticator? {
        guard let s = layout.security else { return nil }
        let group = try read(s.groupKeyFile)
        let server = role == .member ? nil : try read(s.serverKeyFile)
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        let incarnation = UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
        return DatagramAuthenticator(AuthSetup(groupKeys: group, serverKeys: server, incarnation: incarnation,
                                               peersMax: s.peersMax, datagramBytesMax: layout.roleDatagramBytes, node: node))
    }

    /// A key file's keys (at most 4 KiB are read: four keys and their comments fit).
    public static func read(_ path: String) throws(KeyFileError) -> [AuthKey] {
        guard let text = SmallFile.read(path) else { throw KeyFileError(path: path, problem: "missing, empty or unreadable") }
        do {
            return try AuthKeyFile.parse(text)
        } catch {
            throw KeyFileError(path: path, problem: error.description)
        }
    }
}

/// Notices a changed key file (its modification time or size) and installs its keys: checked
/// at most once a second by the role loop, never per datagram. A file that no longer parses
/// keeps the keys in use and is said. The first check reads the files once more, quietly: a
/// change written between the start's read and this watch's first look is not missed.
public struct KeyFileWatch {
    let auth: DatagramAuthenticator
    let groupPath: String
    let serverPath: String?
    let window: Nanoseconds
    var groupStamp: Stamp?
    var serverStamp: Stamp?
    var nextCheck = Instant.zero
    var first = true
    public private(set) var reloads = 0
    public private(set) var failures = 0

    struct Stamp: Equatable {
        var seconds: Int
        var nanos: Int
        var size: Int
    }

    public init(auth: DatagramAuthenticator, security: GroupLayout.Security) {
        self.auth = auth
        groupPath = security.groupKeyFile
        serverPath = auth.isServer ? security.serverKeyFile : nil
        window = security.keyRotationWindow
    }

    static func stamp(_ path: String) -> Stamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Stamp(seconds: st.st_mtim.tv_sec, nanos: st.st_mtim.tv_nsec, size: Int(st.st_size))
    }

    /// At most once a second: installs a key file that changed. Returns what to tell a person.
    public mutating func check(now: Instant) -> String? {
        guard now >= nextCheck else { return nil }
        nextCheck = now + Nanoseconds(1_000_000_000)
        var said: [String] = []
        defer { first = false }
        let g = Self.stamp(groupPath)
        if first || g != groupStamp {
            groupStamp = g
            said.append(reload(groupPath, into: auth.groupKeys, now: now))
        }
        if let serverPath, let ring = auth.serverKeys {
            let s = Self.stamp(serverPath)
            if first || s != serverStamp {
                serverStamp = s
                said.append(reload(serverPath, into: ring, now: now))
            }
        }
        said.removeAll { $0.isEmpty }
        return said.isEmpty ? nil : said.joined(separator: "; ")
    }

    mutating func reload(_ path: String, into ring: KeyRing, now: Instant) -> String {
        do {
            let keys = try KeyFiles.read(path)
            ring.install(keys, now: now, window: window)
            if first { return "" }
            reloads += 1
            return "read \(path) again: sending under key \(ring.sendingId), accepting \(ring.acceptedIds(now: now))"
        } catch {
            failures += 1
            return "\(error); keeping keys \(ring.acceptedIds(now: now))"
        }
    }
}
