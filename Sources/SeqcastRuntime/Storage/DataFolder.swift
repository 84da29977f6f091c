import Glibc
import SeqcastWire

/// A node's data folder (STORAGE.md): what it keeps across restarts, and who it belongs to.
///
///     DIR/seqcast-node     which group instance, node and role the folder was made for, and a
///                          random id of its own (written once, by `--init`)
///     DIR/lock             held (flock) while a process runs on the folder
///     DIR/incarnation      the node's incarnation (IncarnationFile)
///     DIR/log/             the role's log segments (FileLogStore), durability sync
///
/// A folder is made explicitly (`create`, for `seqcast run … --init`), never on the fly: a role
/// that finds no folder refuses to start, so a restart with a wrong path or a lost disk cannot
/// silently bring up an empty sequencer on a group that has history.
///
/// The lock is held until `unlock()` or the process exits (a process holds its folder for life).
public struct DataFolder: Sendable {
    public struct Identity: Equatable, Sendable {
        public var groupInstance: UInt64
        public var groupId: UInt32
        public var node: NodeId
        public var role: String
        public var folderId: UInt64
        public init(groupInstance: UInt64, groupId: UInt32, node: NodeId, role: String, folderId: UInt64) {
            self.groupInstance = groupInstance
            self.groupId = groupId
            self.node = node
            self.role = role
            self.folderId = folderId
        }
    }

    public let path: String
    public let identity: Identity
    let lockFd: Int32

    public var logFolder: String { path + "/log" }
    public var incarnationPath: String { path + "/incarnation" }
    static let identityFile = "seqcast-node"

    /// Formats an empty (or absent) folder for this node. Refuses a folder with anything in it.
    public static func create(path: String, identity: Identity) throws(StorageError) {
        try makeFolders(path)
        let entries = try entries(of: path)
        guard entries.isEmpty else {
            throw StorageError("--init refused: \(path) is not empty (holds \(entries.sorted().prefix(4).joined(separator: ", "))"
                + "\(entries.count > 4 ? ", …" : "")); --init formats a new node's empty folder. To restart this node, run "
                + "without --init; to re-create it, empty the folder first")
        }
        do {
            try SmallFile.write(Self.render(identity), to: "\(path)/\(identityFile)", durable: true)
        } catch {
            throw StorageError("\(error)")
        }
    }

    /// Opens and locks the folder of an existing node, checking it was made for this group and node.
    public static func open(path: String, groupInstance: UInt64, groupId: UInt32, node: NodeId,
                            role: String) throws(StorageError) -> DataFolder {
        guard let text = SmallFile.read("\(path)/\(identityFile)") else {
            var st = stat()
            let exists = stat(path, &st) == 0
            throw StorageError("\(path): \(exists ? "not a node's data folder (no \(identityFile) file)" : "no such folder"); "
                + "a role never starts empty on its own: a new node's folder is made with `seqcast run \(role) … --init`"
                + " (a restarted node must be given the folder it ran with)")
        }
        guard let id = parse(text) else { throw StorageError("\(path)/\(identityFile): unreadable (\(text.prefix(80)))") }
        guard id.groupInstance == groupInstance, id.groupId == groupId else {
            throw StorageError("\(path) belongs to group 0x\(String(id.groupId, radix: 16)) instance "
                + "0x\(String(id.groupInstance, radix: 16)), not this file's group 0x\(String(groupId, radix: 16)) instance "
                + "0x\(String(groupInstance, radix: 16)): a folder serves one group only")
        }
        guard id.node == node, id.role == role else {
            throw StorageError("\(path) was made for node \(id.node.rawValue) (\(id.role)), not node \(node.rawValue) (\(role))")
        }
        let lockPath = "\(path)/lock"
        let fd = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError("open", path: lockPath, errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = SmallFile.read(lockPath).map { " (pid \($0.filter(\.isNumber)))" } ?? ""
            close(fd)
            throw StorageError("\(path) is in use by another process\(holder): one process per data folder")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return DataFolder(path: path, identity: id, lockFd: fd)
    }

    init(path: String, identity: Identity, lockFd: Int32) {
        self.path = path
        self.identity = identity
        self.lockFd = lockFd
    }

    /// Gives the folder up (tests; a process keeps it until it exits).
    public func unlock() { close(lockFd) }

    /// A random folder id (the standard library's generator, seeded by the kernel).
    public static func randomId() -> UInt64 { UInt64.random(in: 1...UInt64.max) }

    /// Whether `path` does not exist or holds nothing (a folder `create` would accept).
    public static func isEmptyOrAbsent(path: String) -> Bool {
        guard access(path, F_OK) == 0 else { return errno == ENOENT }
        return (try? entries(of: path))?.isEmpty ?? false
    }

    static func render(_ i: Identity) -> String {
        """
        format: 1
        group-instance: 0x\(String(i.groupInstance, radix: 16))
        group-id: 0x\(String(i.groupId, radix: 16))
        node: \(i.node.rawValue)
        role: \(i.role)
        folder-id: 0x\(String(i.folderId, radix: 16))

        """
    }

    static func parse(_ text: String) -> Identity? {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: " ") }
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        func hex(_ k: String) -> UInt64? { fields[k].flatMap { $0.hasPrefix("0x") ? UInt64($0.dropFirst(2), radix: 16) : nil } }
        guard fields["format"] == "1", let instance = hex("group-instance"), let gid = hex("group-id"),
              let group = UInt32(exactly: gid), let node = fields["node"].flatMap({ UInt32($0) }),
              let role = fields["role"], let folderId = hex("folder-id") else { return nil }
        return Identity(groupInstance: instance, groupId: group, node: NodeId(node), role: role, folderId: folderId)
    }

    /// `mkdir -p`.
    static func makeFolders(_ path: String) throws(StorageError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0, errno != EEXIST { throw StorageError("create", path: prefix, errno: errno) }
        }
    }

    static func entries(of path: String) throws(StorageError) -> [String] {
        guard let dir = opendir(path) else { throw StorageError("open", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return s
    }
}
extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> Substring { String(self).trimmingCharacters(in: set) }
}
