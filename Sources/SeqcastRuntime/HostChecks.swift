import Glibc
import SeqcastTransport

/// What a host offers a Seqcast process, read once at start (`HostFacts.read`).
public struct HostFacts: Sendable {
    public var rmemMax: Int?
    public var wmemMax: Int?
    /// Root (SO_RCVBUFFORCE passes the limits above).
    public var privileged = false
    public var memlockBytes: UInt64?
    /// Kernel major and minor.
    public var kernel: (Int, Int)?
    /// The interface that holds the configured multicast address, if any.
    public var interface: Interface?

    public struct Interface: Sendable, Equatable {
        public var name: String
        public var up: Bool
        public var multicast: Bool
        public var loopback: Bool
        public init(name: String, up: Bool, multicast: Bool, loopback: Bool) {
            self.name = name
            self.up = up
            self.multicast = multicast
            self.loopback = loopback
        }
    }

    public init() {}

    /// This host's values for a process that will use `network`.
    public static func read(for network: NetworkConfig) -> HostFacts {
        var f = HostFacts()
        f.rmemMax = readInteger("/proc/sys/net/core/rmem_max")
        f.wmemMax = readInteger("/proc/sys/net/core/wmem_max")
        f.privileged = geteuid() == 0
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(__RLIMIT_MEMLOCK.rawValue), &limit) == 0 { f.memlockBytes = UInt64(limit.rlim_cur) }
        var u = utsname()
        if uname(&u) == 0 {
            let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
            if parts.count == 2 { f.kernel = (parts[0], parts[1]) }
        }
        f.interface = interface(holding: network.interfaceAddress)
        return f
    }

    static func readInteger(_ path: String) -> Int? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 64)
        guard fgets(&line, Int32(line.count), file) != nil else { return nil }
        let text = String(cString: line).filter { !$0.isWhitespace }
        return Int(text)
    }

    static func interface(holding address: String) -> Interface? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sa = entry.pointee.ifa_addr, let text = numericHost(sa), text == address else { continue }
            let flags = entry.pointee.ifa_flags
            return Interface(name: String(cString: entry.pointee.ifa_name), up: flags & UInt32(IFF_UP) != 0,
                             multicast: flags & UInt32(IFF_MULTICAST) != 0,
                             loopback: flags & UInt32(IFF_LOOPBACK) != 0)
        }
        return nil
    }

    static func numericHost(_ sa: UnsafeMutablePointer<sockaddr>) -> String? {
        let family = Int32(sa.pointee.sa_family)
        guard family == AF_INET || family == AF_INET6 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
        guard getnameinfo(sa, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 else { return nil }
        let text = String(cString: buffer)
        return text.split(separator: "%").first.map(String.init)  // fe80::1%eth0 → fe80::1
    }
}

/// Start-up checks that save an operator an afternoon: each finding is a warning with the fix.
public enum HostChecks {
    /// Memory an io_uring process pins for its rings (send ring of up to 1,024 64-byte entries,
    /// receive rings, buffer rings), charged to RLIMIT_MEMLOCK by kernels before 5.12.
    public static let ringLockedBytes: UInt64 = 256 * 1024

    public static func warnings(network: NetworkConfig, facts f: HostFacts) -> [String] {
        var out: [String] = []
        let wanted = network.socketBufferBytes
        if !f.privileged {
            for (name, value) in [("rmem_max", f.rmemMax), ("wmem_max", f.wmemMax)] {
                if let v = value, v < wanted {
                    out.append("net.core.\(name) is \(v) bytes, below the \(wanted) each socket asks for: bursts "
                               + "will be dropped in the kernel (and repaired by NAK, slowly). Fix: "
                               + "sysctl -w net.core.\(name)=\(wanted) (or run as root)")
                }
            }
        }
        if network.transport != .sendmmsg, let (major, minor) = f.kernel, (major, minor) < (5, 12),
           let limit = f.memlockBytes, limit < ringLockedBytes {
            out.append("the locked-memory limit is \(limit / 1024) KiB and kernel \(major).\(minor) charges io_uring's "
                       + "rings to it (about \(ringLockedBytes / 1024) KiB here): ring set-up will fail and the "
                       + "process falls back to sendmmsg. Fix: ulimit -l \(ringLockedBytes / 1024) or more "
                       + "(LimitMEMLOCK= under systemd)")
        }
        if let i = f.interface {
            if !i.up {
                out.append("interface \(i.name) (\(network.interfaceAddress)) is down: no multicast leaves or arrives. "
                           + "Fix: ip link set \(i.name) up")
            } else if !i.multicast && !i.loopback {
                out.append("interface \(i.name) has multicast turned off: joins succeed but nothing arrives. "
                           + "Fix: ip link set \(i.name) multicast on")
            }
        } else {
            out.append("no interface holds \(network.interfaceAddress), the address this node's multicast uses: "
                       + "joining the groups will fail. Fix: network.interface in the group file, or "
                       + "seqcast run --interface ADDRESS for this node")
        }
        return out
    }
}
