import ArgumentParser
import CSeqcastShim
import Glibc
import Logging
import SeqcastClient
import SeqcastConfig
import SeqcastFeed
import SeqcastNode
import SeqcastRuntime

/// `seqcast feed`: the committed stream as a MoldUDP64 feed (FEED.md).
struct FeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feed",
        abstract: "Republish the committed stream as MoldUDP64: gateways, the session's end, a feed handler.",
        discussion: """
            The group file's feed section names the session, the downstream multicast group and the \
            request port. A gateway (`feed run`) is a member that sends every committed message as a \
            MoldUDP64 packet numbered by the group's message count, so gateways started anywhere, at \
            any time, emit the same bytes for the same numbers; it answers re-requests from what it \
            retains.
            """,
        subcommands: [Run.self, EndSession.self, Listen.self, Bench.self])

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a MoldUDP64 gateway until SIGTERM or SIGINT; its counters are printed as JSON at exit.",
            discussion: """
                Examples:
                  seqcast feed run --config feed.yaml --node 61   (runs until stopped)
                  seqcast feed run --config feed.yaml --node 62 --downstream 239.255.83.2:18401 --request-port 18403   (runs until stopped)
                """)
        @OptionGroup var member: MemberJoinOptions
        @Option(help: "Downstream group HOST:PORT instead of the file's (a B feed).") var downstream: String?
        @Option(help: "Request port instead of the file's (two gateways on one host).") var requestPort: UInt16?
        @Flag(help: "Start from the group's first message instead of the latest checkpoint.") var fromBeginning = false
        @Flag(help: "UDP segment offload downstream (fewer system calls; a capture on this host sees packets merged).")
        var gso = false

        func run() throws {
            var o = FeedGateway.Options()
            o.member = member.options(start: .latestCheckpoint)
            o.start = fromBeginning ? .beginning : .latestCheckpoint
            if let downstream { o.downstream = try endpoint(downstream, "--downstream") }
            o.requestPort = requestPort
            o.segmentOffload = gso
            let gateway: FeedGateway
            do {
                gateway = try FeedGateway(configFile: member.config, node: member.node, options: o)
            } catch {
                throw ValidationError("\(error)")
            }
            installStopHandlers()
            gateway.log.notice("seqcast feed: session \(gateway.feed.session) to \(gateway.downstream), re-requests on \(gateway.requestAddress)")
            gateway.run { stopRequested.load(ordering: .relaxed) }
            let c = gateway.counters
            var r = Report()
            r.add("next", gateway.next)
            r.add("ended_at", gateway.endedAt ?? 0)
            r.add("packets", c.packets)
            r.add("messages", c.messages)
            r.add("heartbeats", c.heartbeats)
            r.add("end_of_session_packets", c.endOfSessionPackets)
            r.add("resynchronisations", c.resynchronisations)
            r.add("after_end", c.afterEnd)
            r.add("oversized", c.oversized)
            r.add("requests", c.requests)
            r.add("reply_packets", c.replyPackets)
            r.add("messages_replayed", c.messagesReplayed)
            r.add("replay_throttled", c.replayThrottled)
            r.add("requests_beyond_retention", c.requestsBeyondRetention)
            r.add("requests_malformed", c.requestsMalformed)
            r.add("requests_other_session", c.requestsOtherSession)
            print(r.description)
        }
    }

    struct EndSession: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "end-session",
            abstract: "End the feed's session: every gateway sends MoldUDP64's end-of-session once the marker commits.",
            discussion: """
                Publishes the group's end marker (an empty message) and waits for its commit. Gateways \
                send the end-of-session packet only for it, never because one of them stopped.

                Example:
                  seqcast feed end-session --config feed.yaml --node 49
                """)
        @OptionGroup var member: MemberJoinOptions
        @Option(help: "Seconds to wait for the marker to commit.") var timeout = 30.0

        func run() throws {
            let m = try member.open(start: .liveTail)
            defer { m.close() }
            guard m.feed != nil else { throw ValidationError("\(member.config) has no feed section") }
            let deadline = seqcast_monotonic_ns() + UInt64(timeout * 1e9)
            while true {
                if case .accepted = m.publish([]) { break }
                guard seqcast_monotonic_ns() < deadline else { throw ValidationError("the group did not take the end marker within \(timeout) s") }
                m.poll(limit: 1_024, waitingAtMost: .milliseconds(2)) { _ in }
            }
            guard m.flush(timeout: .milliseconds(Int64(timeout * 1_000))) else {
                throw ValidationError("the end marker was not committed within \(timeout) s")
            }
            logLine("seqcast feed end-session: the end marker committed")
        }
    }

    struct Listen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A MoldUDP64 feed handler: join the downstream group(s), re-request gaps, print a JSON summary.",
            discussion: """
                Hands messages on in order from --from, recovering gaps from the gateways' request \
                ports, until the session's end (or --count messages); prints how many, the first and \
                last numbers, an FNV-1a digest over each message's length and bytes, and its counters.

                Examples:
                  seqcast feed listen --config feed.yaml --timeout 10
                  seqcast feed listen --config feed.yaml --downstream 239.255.83.1:18401 --downstream 239.255.83.2:18401 --gateway 127.0.0.1:18402 --gateway 127.0.0.1:18403 --print
                """)
        @Option(help: "The group file (session, downstream group, request port).") var config: String
        @Option(help: "Downstream HOST:PORT to join (repeatable; default the file's).") var downstream: [String] = []
        @Option(help: "Gateway request HOST:PORT (repeatable; default the file's request port on its member host).")
        var gateway: [String] = []
        @Option(help: "The first number wanted.") var from: UInt64 = 1
        @Option(help: "Stop after this many messages (default: at the session's end).") var count: UInt64?
        @Option(help: "Give up after this many seconds.") var timeout = 60.0
        @Flag(help: "Print each message as its number, a tab and its bytes.") var print = false

        func run() throws {
            let layout: GroupLayout
            do { layout = try GroupFile.load(path: config) } catch { throw ValidationError("\(error)") }
            guard let feed = layout.feed, let session = MoldUDP64.Session(feed.session) else {
                throw ValidationError("\(config) has no feed section")
            }
            let downs = try downstream.isEmpty ? [feed.downstream] : downstream.map { try endpoint($0, "--downstream") }
            let gates = try gateway.isEmpty ? [Endpoint(host: layout.host, port: feed.requestPort)] : gateway.map { try endpoint($0, "--gateway") }
            let handler: FeedHandler
            do {
                handler = try FeedHandler(session: session, downstreams: downs, gateways: gates,
                                          interface: layout.interfaceAddress ?? layout.host, from: from)
            } catch {
                throw ValidationError("\(error)")
            }
            installStopHandlers()
            var digest: UInt64 = 0xCBF2_9CE4_8422_2325
            var messages: UInt64 = 0
            var first: UInt64 = 0
            var last: UInt64 = 0
            var out = OutputBuffer()
            var firstNs: UInt64 = 0
            let deadline = seqcast_monotonic_ns() + UInt64(timeout * 1e9)
            while !stopRequested.load(ordering: .relaxed), !handler.complete, count.map({ messages < $0 }) ?? true,
                  seqcast_monotonic_ns() < deadline {
                handler.step(waitNs: 2_000_000) { seq, m in
                    if messages == 0 {
                        first = seq
                        firstNs = seqcast_monotonic_ns()
                    }
                    last = seq
                    messages += 1
                    digest = FeedDigest.add(digest, m)
                    if print {
                        out.append("\(seq)\t")
                        out.bytes.append(contentsOf: m)
                        out.bytes.append(10)
                    }
                }
                out.flush()
            }
            let seconds = Double(seqcast_monotonic_ns() - firstNs) / 1e9
            let c = handler.counters
            var r = Report()
            r.add("messages", messages)
            r.add("first", first)
            r.add("last", last)
            r.add("digest", String(digest, radix: 16))
            r.add("ended", handler.endsAt != nil)
            r.add("ends_at", handler.endsAt ?? 0)
            r.add("complete", handler.complete)
            r.add("messages_per_second", messages > 1 && seconds > 0 ? Double(messages) / seconds : 0)
            r.add("packets", c.packets)
            r.add("heartbeats", c.heartbeats)
            r.add("end_of_session_packets", c.endOfSession)
            r.add("duplicates", c.duplicates)
            r.add("malformed", c.malformed)
            r.add("other_session", c.otherSession)
            r.add("gaps", c.gapsSeen)
            r.add("requests_sent", c.requestsSent)
            r.add("recovered", c.recovered)
            r.add("held_ahead", c.heldAhead)
            Swift.print(r.description)
            let wanted = count.map { messages >= $0 } ?? handler.complete
            if !wanted { throw ExitCode.failure }
        }
    }
}

extension FeedCommand {
    /// The gateway as a benchmark: one process publishes, receives its own deliveries as a member
    /// and the same messages from the feed as a feed handler, busy-polling both, so each
    /// message's member delivery and feed arrival are timed on one clock. Messages out per second
    /// (a flood), then at a fixed rate the latency from publish to member delivery, to feed
    /// arrival, and the difference per message: what the gateway adds.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure a running gateway: feed messages/s out, and the latency it adds over a member (p50/p99), as JSON.",
            discussion: """
                Needs the group's servers and one gateway running (`seqcast feed run`).

                Example:
                  seqcast feed bench --config feed.yaml --node 48 --messages 5000 --rate 2000
                """)
        @OptionGroup var member: MemberJoinOptions
        @Option(help: "Messages in the flood phase (and in the rate phase, at most 10 s of it).") var messages = 100_000
        @Option(help: "Messages per second in the latency phase.") var rate = 10_000
        @Option(help: "Message size in bytes (at least 16).") var messageSize = 64

        func run() throws {
            let m = try member.open(start: .liveTail)
            defer { m.close() }
            guard let feed = m.feed, let session = MoldUDP64.Session(feed.session) else { throw ValidationError("\(member.config) has no feed section") }
            let layout: GroupLayout
            do { layout = try GroupFile.load(path: member.config) } catch { throw ValidationError("\(error)") }
            let deadline = seqcast_monotonic_ns() + 20_000_000_000
            while !m.isConnected {
                guard seqcast_monotonic_ns() < deadline else { throw ValidationError("the member did not connect") }
                m.poll(limit: 1_024, waitingAtMost: .milliseconds(2)) { _ in }
            }
            let handler = try FeedHandler(session: session, downstreams: [feed.downstream],
                                          gateways: [Endpoint(host: layout.host, port: feed.requestPort)],
                                          interface: layout.interfaceAddress ?? layout.host, from: m.messagesCounted + 1)
            let size = max(16, min(messageSize, m.largestMessageBytes))
            var body = [UInt8](repeating: 0x61, count: size)
            var report = Report()
            for (phase, count, perSecond) in [("flood", messages, 0), ("rate", min(messages, rate * 10), rate)] {
                var published = 0
                var memberAt: [UInt64: UInt64] = [:]
                var memberLatency: [UInt64] = []
                var feedLatency: [UInt64] = []
                var added: [UInt64] = []
                var fed = 0
                var firstFed: UInt64 = 0
                var lastFed: UInt64 = 0
                let start = seqcast_monotonic_ns()
                let stop = start + 60_000_000_000
                while fed < count, seqcast_monotonic_ns() < stop {
                    let now = seqcast_monotonic_ns()
                    let due = perSecond == 0 ? count : min(count, Int((now - start) * UInt64(perSecond) / 1_000_000_000) + 1)
                    while published < due {
                        // The stamp: when the message was due (open loop) or published (flood).
                        let stamp = perSecond == 0 ? seqcast_monotonic_ns() : start + UInt64(published) * 1_000_000_000 / UInt64(perSecond)
                        withUnsafeBytes(of: stamp.littleEndian) { body.replaceSubrange(0..<8, with: $0) }
                        withUnsafeBytes(of: UInt64(0x5345_5143_4645_4544).littleEndian) { body.replaceSubrange(8..<16, with: $0) }
                        guard case .accepted = m.publish(body) else { break }
                        published += 1
                    }
                    m.poll(limit: 4_096) { d in
                        guard d.bytes.count >= 16, d.bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self) == UInt64(0x5345_5143_4645_4544).littleEndian else { return }
                        let t = seqcast_monotonic_ns()
                        let stamp = UInt64(littleEndian: d.bytes.loadUnaligned(as: UInt64.self))
                        memberAt[d.ordinal] = t
                        memberLatency.append(t &- stamp)
                    }
                    handler.step(waitNs: 0) { seq, bytes in
                        guard bytes.count >= 16, bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self) == UInt64(0x5345_5143_4645_4544).littleEndian else { return }
                        let t = seqcast_monotonic_ns()
                        let stamp = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
                        feedLatency.append(t &- stamp)
                        if let at = memberAt.removeValue(forKey: seq) { added.append(t > at ? t - at : 0) }
                        if fed == 0 { firstFed = t }
                        lastFed = t
                        fed += 1
                    }
                }
                guard fed == count else { throw ValidationError("\(phase): the feed handed \(fed) of \(count) messages within 60 s") }
                func percentile(_ v: [UInt64], _ p: Double) -> Double {
                    guard !v.isEmpty else { return 0 }
                    let s = v.sorted()
                    return Double(s[min(s.count - 1, Int(Double(s.count) * p))]) / 1_000
                }
                if perSecond == 0 {
                    report.add("flood_messages", count)
                    report.add("feed_messages_per_second", Double(count - 1) / (Double(lastFed - firstFed) / 1e9))
                } else {
                    report.add("rate_messages", count)
                    report.add("rate_per_second", perSecond)
                    report.add("member_p50_us", percentile(memberLatency, 0.5))
                    report.add("member_p99_us", percentile(memberLatency, 0.99))
                    report.add("feed_p50_us", percentile(feedLatency, 0.5))
                    report.add("feed_p99_us", percentile(feedLatency, 0.99))
                    report.add("added_p50_us", percentile(added, 0.5))
                    report.add("added_p99_us", percentile(added, 0.99))
                }
            }
            report.add("message_bytes", size)
            report.add("feed_requests_sent", handler.counters.requestsSent)
            Swift.print(report.description)
        }
    }
}

/// FNV-1a over each message's 2-byte big-endian length and its bytes (what `feed listen`
/// prints, so a test can compute the same over what it published).
enum FeedDigest {
    static func add(_ d: UInt64, _ m: UnsafeRawBufferPointer) -> UInt64 {
        var h = d
        func byte(_ b: UInt8) { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        byte(UInt8(m.count >> 8))
        byte(UInt8(m.count & 0xFF))
        for b in m { byte(b) }
        return h
    }
}

func endpoint(_ text: String, _ option: String) throws -> Endpoint {
    guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
        throw ValidationError("\(option) \(text): expected HOST:PORT")
    }
    var host = Substring(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
    return Endpoint(host: String(host), port: port)
}
