import SeqcastRuntime
import SeqcastTransport
import Testing

@Suite("Start-up host checks")
struct HostChecksTests {
    static var healthy: HostFacts {
        var f = HostFacts()
        f.rmemMax = 64 << 20
        f.wmemMax = 64 << 20
        f.memlockBytes = 8 << 20
        f.kernel = (6, 1)
        f.interface = .init(name: "eth0", up: true, multicast: true, loopback: false)
        return f
    }

    @Test("a healthy host gets no warning")
    func healthy() {
        #expect(HostChecks.warnings(network: NetworkConfig(), facts: Self.healthy).isEmpty)
    }

    @Test("each problem gets one warning that names the fix")
    func eachProblem() {
        let cases: [(String, (inout HostFacts) -> Void, String)] = [
            ("small rmem_max", { $0.rmemMax = 212_992 }, "sysctl -w net.core.rmem_max="),
            ("small wmem_max", { $0.wmemMax = 212_992 }, "sysctl -w net.core.wmem_max="),
            ("memlock on an old kernel", { $0.kernel = (5, 4); $0.memlockBytes = 64 << 10 }, "ulimit -l"),
            ("interface down", { $0.interface?.up = false }, "ip link set eth0 up"),
            ("multicast off", { $0.interface?.multicast = false }, "ip link set eth0 multicast on"),
            ("no interface", { $0.interface = nil }, "network.interface"),
        ]
        for (name, change, fix) in cases {
            var f = Self.healthy
            change(&f)
            let w = HostChecks.warnings(network: NetworkConfig(), facts: f)
            #expect(w.count == 1, "\(name): \(w)")
            #expect(w.first?.contains(fix) == true, "\(name): \(w)")
        }
    }

    @Test("what does not apply is not warned about")
    func notApplicable() {
        var f = Self.healthy
        f.rmemMax = 212_992
        f.privileged = true  // SO_RCVBUFFORCE passes the limit
        f.kernel = (6, 1)
        f.memlockBytes = 64 << 10  // newer kernels charge rings to the memory cgroup instead
        f.interface?.multicast = false
        f.interface?.loopback = true  // loopback carries multicast without the flag
        #expect(HostChecks.warnings(network: NetworkConfig(), facts: f).isEmpty)
        var sendmmsg = NetworkConfig()
        sendmmsg.transport = .sendmmsg
        var old = Self.healthy
        old.kernel = (5, 4)
        old.memlockBytes = 64 << 10
        #expect(HostChecks.warnings(network: sendmmsg, facts: old).isEmpty, "no rings without io_uring")
    }

    @Test("this host's facts can be read")
    func readsThisHost() {
        var n = NetworkConfig()
        n.interfaceAddress = "127.0.0.1"
        let f = HostFacts.read(for: n)
        #expect(f.rmemMax != nil && f.kernel != nil)
        #expect(f.interface?.loopback == true, "127.0.0.1 is on lo")
    }
}
