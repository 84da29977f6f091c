import ArgumentParser
import CSeqcastShim
import Foundation
import Glibc
import SeqcastBench
import SeqcastRuntime
import SeqcastTransport

/// `seqcast engine-bench`: the raw packet engine, no protocol. One sender process (this one,
/// pinned to `--sender-cpu`) multicasts datagrams carrying a 64-bit sequence number, flat out,
/// for `--seconds`; R receiver processes (this executable again, with `--receiver-index`, all
/// pinned to `--receiver-cpu`) count unique datagrams in a bitmap. Built to be compared with the
/// C probe ../shared/limits/mcast.c (`mcast gso <payload> <R> <seconds>`) in the same run:
/// same group set-up, same pinning, same rate definition (datagrams / (last − first arrival)
/// per receiver), same loss definition (1 − unique received / sent). `scripts/bench-engine`
/// runs both, interleaved.
///
/// The engine is driven as a role drives it: every datagram is built in a scratch buffer and
/// staged through the same GSO coalescing as `SendQueue` (a copy per datagram into 64 KiB
/// batch buffers, one segment-offload send per ≤ 64 segments, up to 64 sends per
/// `seqcast_sender_send`); receivers use `ReceivePath` (multishot RECVMSG over provided
/// buffers + GRO with io_uring, ppoll + recvmmsg otherwise) with the role loop's idle policy
/// (`--spin-polls` non-blocking polls, then a blocking one).
struct EngineBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine-bench",
        abstract: "Raw packet-engine throughput: 1 sender → R multicast receivers with GSO/GRO (no protocol).",
        discussion: """
            Examples:
              seqcast engine-bench --receivers 6 --seconds 1
            """,
        shouldDisplay: false)

    @Option(help: "Receiver processes (1…8).") var receivers = 1
    @Option(help: "Datagram payload in bytes (at least 8).") var payload = 1200
    @Option(help: "Seconds the sender sends.") var seconds = 1.5
    @Option(help: "io_uring or sendmmsg (auto: io_uring if the kernel allows it).") var transport = TransportChoice.ioUring
    @Option(help: "Pin the sender to this CPU (-1: unpinned).") var senderCpu = 0
    @Option(help: "Pin every receiver to this CPU (-1: unpinned).") var receiverCpu = 1
    @Option(help: "Multicast group.") var group = "239.255.0.2"
    @Option(help: "Port (default 20000 + pid % 20000, like the probe).") var port: UInt16?
    @Option(help: "GSO sends per seqcast_sender_send (SendQueue's buffers; 16 in the roles).") var sendsPerFlush = 16
    @Option(help: "Non-blocking polls before a receiver blocks (RoleLoop.spinPolls; 8 in the roles).") var spinPolls = 8
    @Option(help: "Kernel receive buffers of a ReceivePath (power of two; 16 in the roles).") var receiveBuffers: UInt32 = 16
    @Flag(help: "Turn UDP GSO/GRO off.") var noGso = false
    @Option(help: "text or json.") var format = "json"
    @Option(help: ArgumentHelp("Internal: run as receiver i.", visibility: .hidden)) var receiverIndex: Int?

    mutating func validate() throws {
        guard (1...8).contains(receivers) else { throw ValidationError("--receivers is 1…8") }
        guard payload >= 8, payload <= 65_000 else { throw ValidationError("--payload is 8…65000") }
        guard (1...64).contains(sendsPerFlush) else { throw ValidationError("--sends-per-flush is 1…64") }
        guard ["text", "json"].contains(format) else { throw ValidationError("--format is text or json") }
    }

    func run() throws {
        if let i = receiverIndex {
            try runReceiver(index: i)
        } else {
            try runSender()
        }
    }

    // MARK: - receiver (child process)

    func runReceiver(index: Int) throws {
        if receiverCpu >= 0 { _ = seqcast_pin_current_thread(Int32(receiverCpu)) }
        guard let port else { throw ValidationError("receiver needs --port") }
        var g = seqcast_addr()
        var iface = seqcast_addr()
        guard seqcast_addr_parse(group, port, &g) == 0, seqcast_addr_parse("127.0.0.1", 0, &iface) == 0 else {
            throw ValidationError("bad group \(group)")
        }
        let fd = seqcast_socket_open(&g, 1, 32 * 1024 * 1024, noGso ? 0 : 1)
        guard fd >= 0 else { throw ValidationError("socket: \(String(cString: strerror(-fd)))") }
        let j = seqcast_socket_join(fd, &g, &iface, 0)
        guard j == 0 else { throw ValidationError("join: \(String(cString: strerror(-j)))") }
        let path = try ReceivePath(sockets: [fd], transport: transport, buffers: receiveBuffers)

        // 2^27 sequence numbers, as the probe (calloc: pages are touched only when used).
        let bitmapBits = 1 << 27
        let bitmap = calloc(bitmapBits / 8, 1)!.assumingMemoryBound(to: UInt8.self)
        var pkts: UInt64 = 0, uniq: UInt64 = 0, dups: UInt64 = 0, bytes: UInt64 = 0
        var firstNs: UInt64 = 0, lastNs: UInt64 = 0
        let cpu0 = processCPUNanos()
        FileHandle.standardOutput.write("ready\n".data(using: .utf8)!)

        var emptyPolls = 0
        while true {
            // RoleLoop's idle policy: spin `spinPolls` non-blocking polls, then block (10 ms).
            let blocking = emptyPolls >= spinPolls
            let n = path.poll(timeoutNanos: blocking ? 10_000_000 : 0)
            if n == 0 {
                emptyPolls += 1
                if blocking, stdinSignalled() { break }
                continue
            }
            emptyPolls = 0
            let now = seqcast_monotonic_ns()
            if pkts == 0 { firstNs = now }
            lastNs = now
            for i in 0..<n {
                let d = path[i]
                let len = Int(d.len)
                pkts &+= 1
                bytes &+= UInt64(len)
                guard len >= 8, let p = d.data else { continue }
                let seq = Int(truncatingIfNeeded: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)))
                if seq >= 0, seq < bitmapBits {
                    let bit = UInt8(1) << UInt8(seq & 7)
                    let b = bitmap[seq >> 3]
                    if b & bit != 0 { dups &+= 1 } else { bitmap[seq >> 3] = b | bit; uniq &+= 1 }
                }
            }
        }
        let cpu = processCPUNanos() - cpu0
        let s = path.stats
        var r = Report()
        r.add("index", index)
        r.add("datagrams", pkts)
        r.add("unique", uniq)
        r.add("duplicates", dups)
        r.add("bytes", bytes)
        r.add("first_ns", firstNs)
        r.add("last_ns", lastNs)
        r.add("cpu_ns", cpu)
        r.add("transport", path.transport)
        r.add("superpackets", s.superpackets)
        r.add("truncated", s.truncated)
        r.add("rearms", s.rearms)
        r.add("no_buffers", s.no_buffers)
        r.add("errors", s.errors)
        r.add("waits", s.waits)
        FileHandle.standardOutput.write((r.description + "\n").data(using: .utf8)!)
        seqcast_socket_close(fd)
    }

    /// The parent writes a byte to (and closes) our stdin when the sender is done.
    func stdinSignalled() -> Bool {
        var p = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        return Glibc.poll(&p, 1, 0) > 0
    }

    // MARK: - sender (this process)

    struct Child {
        var process: Process
        var input: Pipe
        var output: Pipe
    }

    func runSender() throws {
        let port = self.port ?? UInt16(20_000 + Int(getpid()) % 20_000)
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var children: [Child] = []
        for i in 0..<receivers {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            var args = ["engine-bench", "--receiver-index", "\(i)", "--receivers", "\(receivers)",
                        "--payload", "\(payload)", "--transport", transport.rawValue, "--group", group,
                        "--port", "\(port)", "--receiver-cpu", "\(receiverCpu)", "--spin-polls", "\(spinPolls)",
                        "--receive-buffers", "\(receiveBuffers)"]
            if noGso { args.append("--no-gso") }
            p.arguments = args
            let input = Pipe(), output = Pipe()
            p.standardInput = input
            p.standardOutput = output
            try p.run()
            children.append(Child(process: p, input: input, output: output))
        }
        func stopChildren() {
            for c in children {
                try? c.input.fileHandleForWriting.write(contentsOf: Data("x".utf8))
                try? c.input.fileHandleForWriting.close()
            }
        }
        for c in children {
            guard readLine(c.output.fileHandleForReading.fileDescriptor) == "ready" else {
                stopChildren()
                throw ValidationError("a receiver failed to start")
            }
        }
        if senderCpu >= 0 { _ = seqcast_pin_current_thread(Int32(senderCpu)) }

        var dest = seqcast_addr()
        var bind = seqcast_addr()
        var iface = seqcast_addr()
        _ = seqcast_addr_parse(group, port, &dest)
        _ = seqcast_addr_parse("127.0.0.1", 0, &bind)
        _ = seqcast_addr_parse("127.0.0.1", 0, &iface)
        let fd = seqcast_socket_open(&bind, 0, 32 * 1024 * 1024, 0)
        guard fd >= 0, seqcast_socket_multicast_out(fd, &iface, 0, 1) == 0 else {
            stopChildren()
            throw ValidationError("sender socket failed")
        }
        var status = seqcast_status()
        guard let sender = seqcast_sender_create(transport.shimValueForBench, 64, &status) else {
            stopChildren()
            throw ValidationError("sender: " + withUnsafeBytes(of: status.reason) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            })
        }
        let senderTransport = status.transport == Int32(SEQCAST_TRANSPORT_IO_URING) ? "io_uring" : "sendmmsg"
        // The roles' own staging queue (package access), exactly as NodeNetwork uses it.
        var queue = SendQueue(segmentOffload: !noGso, buffersMax: sendsPerFlush)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: payload, alignment: 8)
        scratch.initializeMemory(as: UInt8.self, repeating: 0)
        usleep(20_000)

        var seq: UInt64 = 0
        let cpu0 = processCPUNanos()
        let t0 = seqcast_monotonic_ns()
        let end = t0 + UInt64(seconds * 1e9)
        var t1 = t0
        let raw = UnsafeRawBufferPointer(scratch)
        let key: UInt64 = 1
        while true {
            // A role encodes each datagram into its outbox, then the network stages a copy.
            scratch.storeBytes(of: seq.littleEndian, toByteOffset: 0, as: UInt64.self)
            seq &+= 1
            if !queue.append(raw, to: dest, key: key) {
                queue.flush(sender: sender, fd: fd)
                t1 = seqcast_monotonic_ns()
                if t1 >= end { break }
                _ = queue.append(raw, to: dest, key: key)
            }
        }
        queue.flush(sender: sender, fd: fd)
        t1 = seqcast_monotonic_ns()
        let senderCPU = processCPUNanos() - cpu0
        let sent = queue.datagramsSent
        stopChildren()

        var results: [[String: Any]] = []
        for c in children {
            let data = c.output.fileHandleForReading.readDataToEndOfFile()
            c.process.waitUntilExit()
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
            if let last = lines.last, let obj = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] {
                results.append(obj)
            }
        }
        seqcast_sender_destroy(sender)
        queue.deallocate()
        scratch.deallocate()
        seqcast_socket_close(fd)
        guard results.count == receivers else { throw ValidationError("a receiver left no report") }

        func num(_ r: [String: Any], _ k: String) -> Double { (r[k] as? NSNumber)?.doubleValue ?? 0 }
        let rates = results.map { r -> Double in
            let d = (num(r, "last_ns") - num(r, "first_ns")) / 1e9
            let p = num(r, "datagrams")
            return p > 1 && d > 0 ? (p - 1) / d : 0
        }
        let losses = results.map { sent > 0 ? 100 * (1 - num($0, "unique") / Double(sent)) : 100 }
        let mean = rates.reduce(0, +) / Double(rates.count)
        let sdur = Double(t1 - t0) / 1e9
        var r = Report()
        r.add("transport", senderTransport)
        r.add("receiver_transport", results.first?["transport"] as? String ?? "?")
        r.add("payload", payload)
        r.add("receivers", receivers)
        r.add("segment_offload", !noGso)
        r.add("seconds", sdur)
        r.add("sent", sent)
        r.add("send_errors", queue.sendErrors)
        r.add("send_calls", queue.sendCalls)
        r.add("sent_per_second", Double(sent) / sdur)
        r.add("datagrams_per_second_mean", mean)
        r.add("datagrams_per_second_min", rates.min() ?? 0)
        r.add("mb_per_second_mean", mean * Double(payload) / 1e6)
        r.add("loss_percent_mean", losses.reduce(0, +) / Double(losses.count))
        r.add("loss_percent_max", losses.max() ?? 0)
        r.add("duplicates", UInt64(results.reduce(0) { $0 + num($1, "duplicates") }))
        r.add("sender_cpu_ns_per_datagram", sent > 0 ? Double(senderCPU) / Double(sent) : 0)
        r.add("receiver_cpu_ns_per_datagram", results.map { num($0, "datagrams") > 0 ? num($0, "cpu_ns") / num($0, "datagrams") : 0 }
            .reduce(0, +) / Double(results.count))
        r.add("rx_superpackets", UInt64(results.reduce(0) { $0 + num($1, "superpackets") }))
        r.add("rx_no_buffers", UInt64(results.reduce(0) { $0 + num($1, "no_buffers") }))
        r.add("rx_rearms", UInt64(results.reduce(0) { $0 + num($1, "rearms") }))
        r.add("rx_waits", UInt64(results.reduce(0) { $0 + num($1, "waits") }))
        if format == "json" {
            print(r.description)
        } else {
            print("engine-bench \(senderTransport) \(payload) B 1→\(receivers): \(Int(mean)) datagrams/s per receiver "
                  + "(min \(Int(rates.min() ?? 0))), \(Int(mean * Double(payload) / 1e6)) MB/s, sent \(Int(Double(sent) / sdur))/s, "
                  + "loss \(String(format: "%.2f", losses.reduce(0, +) / Double(losses.count))) %")
        }
    }
}

/// CPU time of this process (user + system), as the probe measures it (getrusage RUSAGE_SELF).
private func processCPUNanos() -> UInt64 {
    let cpu = processCPUSeconds()
    return UInt64((cpu.user + cpu.system) * 1e9)
}

/// One line from a pipe, byte by byte (nil at EOF before a newline).
private func readLine(_ fd: Int32) -> String? {
    var bytes: [UInt8] = []
    var c: UInt8 = 0
    while true {
        let n = read(fd, &c, 1)
        if n <= 0 { return nil }
        if c == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
        bytes.append(c)
    }
}

extension TransportChoice {
    /// `shimValue` is internal to SeqcastRuntime.
    var shimValueForBench: Int32 {
        switch self {
        case .auto: Int32(SEQCAST_TRANSPORT_AUTO)
        case .ioUring: Int32(SEQCAST_TRANSPORT_IO_URING)
        case .sendmmsg: Int32(SEQCAST_TRANSPORT_MMSG)
        }
    }
}

