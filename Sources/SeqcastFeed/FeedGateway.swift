import CSeqcastShim
import Logging
import SeqcastClient
import SeqcastConfig
import SeqcastCore
import SeqcastNode
import SeqcastRuntime
import SeqcastTransport

/// A MoldUDP64 gateway (FEED.md): a member of the group that republishes the committed stream
/// as MoldUDP64 packets on the feed's downstream multicast group and answers re-requests on its
/// request port from the messages it retains. A message's MoldUDP64 number is its `ordinal`,
/// the group's own count of messages (kept in checkpoints), so every gateway, a restarted one
/// and a late one included, numbers alike; each packet carries one message, so packets are a
/// pure function of the committed stream and A/B gateways emit the same bytes. An empty
/// message is the session's end marker (`seqcast feed end-session`).
///
/// One thread owns a gateway: `run` or repeated `step`s.
public final class FeedGateway {
    public struct Options {
        /// Where the member starts: after the last number this gateway sent before it stopped
        /// (its data folder's `feed-position`), else the latest checkpoint (a late gateway
        /// continues the numbering from there), or the beginning.
        public var start = StartPosition.latestCheckpoint
        /// Overrides the file's downstream group (a B feed beside an A feed).
        public var downstream: Endpoint?
        /// Overrides the file's request port (two gateways on one host).
        public var requestPort: UInt16?
        /// The address the request port binds (default: the group's member host).
        public var requestHost: String?
        /// UDP segment offload for the downstream: fewer system calls per packet, but a capture
        /// on the sending host (loopback included) sees several packets as one datagram, which
        /// no MoldUDP64 reader parses; receivers get separate datagrams either way.
        public var segmentOffload = false
        public var member = SeqcastMember.Options()
        public init() {}
    }

    /// What the gateway did, for its summary and tests.
    public struct Counters: Sendable {
        public var packets: UInt64 = 0
        public var messages: UInt64 = 0
        public var heartbeats: UInt64 = 0
        public var endOfSessionPackets: UInt64 = 0
        /// Times the member was resynchronised from a checkpoint (it fell behind what the group
        /// retains): numbers skipped downstream that no retention here can fill.
        public var resynchronisations: UInt64 = 0
        /// Messages committed after the session's end marker: not sent.
        public var afterEnd: UInt64 = 0
        /// Messages larger than a UDP datagram can carry in MoldUDP64: not sent.
        public var oversized: UInt64 = 0
        public var requests: UInt64 = 0
        public var messagesReplayed: UInt64 = 0
        public var replyPackets: UInt64 = 0
        /// Requested messages refused by the per-requester rate.
        public var replayThrottled: UInt64 = 0
        /// Requests for numbers no longer (or not yet) retained.
        public var requestsBeyondRetention: UInt64 = 0
        public var requestsMalformed: UInt64 = 0
        public var requestsOtherSession: UInt64 = 0
    }

    public let member: SeqcastMember
    public let feed: GroupLayout.Feed
    public let session: MoldUDP64.Session
    public private(set) var counters = Counters()
    /// The next MoldUDP64 number (0 until the member's start is known).
    public private(set) var next: UInt64 = 0
    /// The end marker's number once the session ended.
    public private(set) var endedAt: UInt64?
    public let downstream: Endpoint
    public let requestAddress: String

    var retention: FeedRetention
    let downstreamAddress: seqcast_addr
    let sendFd: Int32
    let requestFd: Int32
    let sender: OpaquePointer
    var downstreamQueue: SendQueue
    var replyQueue: SendQueue
    let requests: ReceivePath
    let scratch: UnsafeMutableRawBufferPointer
    var limiter: RepairLimiter
    var lastSentNs: UInt64 = 0
    /// The Seqcast number of the last message staged, and of the last one handed to the kernel.
    var stagedSequence: UInt64 = 0
    var sentSequence: UInt64 = 0
    /// Where `feed-position` stands, and when it was written.
    var recordedSequence: UInt64 = 0
    var recordedAtNs: UInt64 = 0
    /// `<data folder>/feed-position`: the Seqcast number of the last message sent, so a
    /// restart resumes after it instead of after a checkpoint it may have passed unsent.
    public let positionPath: String
    public let log: Logger

    public init(configFile: String, node: UInt32, options: Options = Options()) throws {
        let layout: GroupLayout
        do {
            layout = try GroupFile.load(path: configFile)
        } catch {
            throw SeqcastFeedError("\(error)")
        }
        guard let feed = layout.feed else { throw SeqcastFeedError("\(configFile) has no feed section: a gateway needs one") }
        guard let session = MoldUDP64.Session(feed.session) else { throw SeqcastFeedError("feed.session \(feed.session) is not a MoldUDP64 session") }
        self.feed = feed
        self.session = session
        log = options.member.logger
        downstream = options.downstream ?? feed.downstream
        let host = options.requestHost ?? layout.host
        let port = options.requestPort ?? feed.requestPort
        requestAddress = "\(host):\(port)"
        var dest = seqcast_addr()
        var bind = seqcast_addr()
        var iface = seqcast_addr()
        let ifaceHost = layout.interfaceAddress ?? layout.host
        guard seqcast_addr_parse(downstream.host, downstream.port, &dest) == 0 else { throw SeqcastFeedError("downstream \(downstream): not an address") }
        guard seqcast_addr_parse(host, port, &bind) == 0, seqcast_addr_parse(ifaceHost, 0, &iface) == 0 else {
            throw SeqcastFeedError("request address \(host):\(port) or interface \(ifaceHost): not an address")
        }
        downstreamAddress = dest
        let ifindex = layout.interfaceName.map { seqcast_ifindex($0) } ?? 0
        var local = seqcast_addr()
        _ = seqcast_addr_parse(ifaceHost, 0, &local)
        let out = seqcast_socket_open(&local, 0, 8 << 20, 0)
        guard out >= 0 else { throw SeqcastFeedError("downstream socket: errno \(-out)") }
        let m = seqcast_socket_multicast_out(out, &iface, ifindex, Int32(layout.ttl))
        guard m == 0 else {
            seqcast_socket_close(out)
            throw SeqcastFeedError("downstream multicast on \(ifaceHost): errno \(-m)")
        }
        sendFd = out
        let r = seqcast_socket_open(&bind, 0, 8 << 20, 0)
        guard r >= 0 else {
            seqcast_socket_close(out)
            throw SeqcastFeedError("request port \(host):\(port): cannot bind (errno \(-r)); another gateway on this host needs --request-port")
        }
        requestFd = r
        var status = seqcast_status()
        let choice = TransportChoice(rawValue: options.member.transport) ?? .auto
        guard let s = seqcast_sender_create(choice.shimValue, 64, &status) else {
            seqcast_socket_close(out)
            seqcast_socket_close(r)
            throw SeqcastFeedError("sender: errno \(status.error)")
        }
        sender = s
        do {
            requests = try ReceivePath(sockets: [r], transport: choice)
        } catch {
            seqcast_sender_destroy(s)
            seqcast_socket_close(out)
            seqcast_socket_close(r)
            throw SeqcastFeedError("request port receiver: \(error)")
        }
        downstreamQueue = SendQueue(segmentOffload: options.segmentOffload)
        replyQueue = SendQueue(segmentOffload: false, buffersMax: 4)
        scratch = .allocate(byteCount: 65_536, alignment: 8)
        limiter = RepairLimiter(perSecond: feed.requesterMessagesPerSecond)
        retention = FeedRetention(messages: feed.retentionMessages, bytes: FeedRetention.bytes(forMessages: feed.retentionMessages))
        var o = options.member
        o.start = options.start
        positionPath = SeqcastMember.dataDirectory(layout: layout, node: node, options: o) + "/feed-position"
        var resumeAfter: UInt64?
        if case .latestCheckpoint = options.start, let n = SmallFile.readNumber(positionPath), n > 0 {
            o.start = .after(n)
            resumeAfter = n
        }
        do {
            member = try SeqcastMember(layout: layout, node: node, options: o)
        } catch {
            // No deinit runs for an init that throws: what was opened closes here.
            downstreamQueue.deallocate()
            replyQueue.deallocate()
            seqcast_sender_destroy(s)
            seqcast_socket_close(out)
            seqcast_socket_close(r)
            scratch.deallocate()
            throw error
        }
        let log = self.log
        if let n = resumeAfter { log.notice("seqcast feed: resuming after \(n), the last number this gateway sent") }
        recordedSequence = resumeAfter ?? 0
        member.onEvent = { [unowned self] event in
            switch event {
            case .startedFromCheckpoint(let through):
                log.notice("seqcast feed: started from the checkpoint after \(through)")
            case .resynchronised(let from, let to):
                counters.resynchronisations &+= 1
                log.warning("seqcast feed: resynchronised from the checkpoint after \(to): numbers after \(from) are skipped downstream")
            default: break
            }
        }
    }

    deinit {
        member.close()
        downstreamQueue.deallocate()
        replyQueue.deallocate()
        seqcast_sender_destroy(sender)
        seqcast_socket_close(sendFd)
        seqcast_socket_close(requestFd)
        scratch.deallocate()
    }

    /// One duty cycle: deliveries become packets, requests are answered, an idle feed beats.
    /// Waits at most `wait` for the group when there is nothing to do.
    public func step(waitingAtMost wait: Duration = .milliseconds(1)) {
        if next == 0 { connectIfReady() }
        member.poll(limit: 4_096, waitingAtMost: wait) { d in self.republish(d) }
        if next == 0 { connectIfReady() }
        flushDownstream()
        answerRequests()
        let now = seqcast_monotonic_ns()
        if next > 0, now &- lastSentNs >= feed.heartbeat.value { beat(now: now) }
        if sentSequence > recordedSequence, now &- recordedAtNs >= Self.positionPeriodNs { recordPosition(now: now) }
    }

    /// Once the member's start is settled, the next number is known: heartbeats may leave.
    func connectIfReady() {
        guard member.isConnected else { return }
        next = member.messagesCounted + 1
        log.notice("seqcast feed: connected; the next number is \(next)")
    }

    /// How often `feed-position` is written (durably) while numbers are sent.
    static let positionPeriodNs: UInt64 = 200_000_000

    func recordPosition(now: UInt64) {
        do throws(FileError) {
            try SmallFile.write("\(sentSequence)\n", to: positionPath, durable: true)
            recordedSequence = sentSequence
        } catch {
            log.error("seqcast feed: cannot record the position in \(positionPath): \(error.description)")
        }
        recordedAtNs = now
    }

    /// Runs until `stop` says so, then lets the member close.
    public func run(until stop: () -> Bool) {
        while !stop() { step() }
        flushDownstream()
        if sentSequence > recordedSequence { recordPosition(now: seqcast_monotonic_ns()) }
    }

    func republish(_ d: Delivery) {
        if d.bytes.isEmpty {
            if endedAt == nil {
                endedAt = d.ordinal
                next = d.ordinal
                log.notice("seqcast feed: the session \(feed.session) ended at \(d.ordinal) (the end marker committed at \(d.sequence))")
                lastSentNs = 0  // the end-of-session packet leaves now
            }
            return
        }
        if endedAt != nil {
            counters.afterEnd &+= 1
            return
        }
        next = d.ordinal + 1
        stagedSequence = d.sequence
        guard d.bytes.count <= 65_507 - MoldUDP64.headerBytes - 2 else {
            counters.oversized &+= 1
            return
        }
        let p = scratch.baseAddress!
        MoldUDP64.writeHeader(p, session: session, sequence: d.ordinal, count: 1)
        let n = MoldUDP64.headerBytes + MoldUDP64.writeMessage(p + MoldUDP64.headerBytes, d.bytes)
        let packet = UnsafeRawBufferPointer(start: p, count: n)
        if !downstreamQueue.append(packet, to: downstreamAddress, key: 1) {
            downstreamQueue.flush(sender: sender, fd: sendFd)
            _ = downstreamQueue.append(packet, to: downstreamAddress, key: 1)
        }
        retention.append(d.ordinal, d.bytes)
        counters.packets &+= 1
        counters.messages &+= 1
    }

    func flushDownstream() {
        guard downstreamQueue.hasStaged else { return }
        downstreamQueue.flush(sender: sender, fd: sendFd)
        sentSequence = stagedSequence
        lastSentNs = seqcast_monotonic_ns()
    }

    /// A heartbeat (count 0, the next number) or, once the session ended, its end marker.
    func beat(now: UInt64) {
        let p = scratch.baseAddress!
        if let end = endedAt {
            MoldUDP64.writeHeader(p, session: session, sequence: end, count: MoldUDP64.endOfSessionCount)
            counters.endOfSessionPackets &+= 1
        } else {
            MoldUDP64.writeHeader(p, session: session, sequence: next, count: 0)
            counters.heartbeats &+= 1
        }
        _ = downstreamQueue.append(UnsafeRawBufferPointer(start: p, count: MoldUDP64.headerBytes), to: downstreamAddress, key: 1)
        flushDownstream()
        lastSentNs = now
    }

    /// Each request is answered with downstream packets of up to `packetBytes` holding the
    /// numbers asked for that are retained, as many as the requester's rate allows.
    func answerRequests() {
        let n = requests.poll(timeoutNanos: 0)
        guard n > 0 else { return }
        let now = seqcast_monotonic_ns()
        for i in 0..<n {
            let d = requests[i]
            guard let data = d.data else { continue }
            guard let r = MoldUDP64.Request(UnsafeRawBufferPointer(start: data, count: Int(d.len))) else {
                counters.requestsMalformed &+= 1
                continue
            }
            guard r.session == session else {
                counters.requestsOtherSession &+= 1
                continue
            }
            counters.requests &+= 1
            guard retention.message(r.sequence) != nil else {
                counters.requestsBeyondRetention &+= 1
                continue
            }
            reply(r, to: d.from, now: now)
        }
        if replyQueue.hasStaged { replyQueue.flush(sender: sender, fd: requestFd) }
    }

    func reply(_ r: MoldUDP64.Request, to requester: seqcast_addr, now: UInt64) {
        let peer = Self.peerKey(requester)
        let last = r.sequence + UInt64(r.count) - 1
        var seq = r.sequence
        let p = scratch.baseAddress!
        while seq <= last, retention.message(seq) != nil {
            var at = MoldUDP64.headerBytes
            var count: UInt16 = 0
            let first = seq
            while seq <= last, let m = retention.message(seq) {
                guard count == 0 || at + 2 + m.count <= feed.packetBytes else { break }
                guard limiter.allow(peer: peer, now: now) else {
                    counters.replayThrottled &+= last - seq + 1
                    seq = last + 1
                    break
                }
                at += MoldUDP64.writeMessage(p + at, m)
                count += 1
                seq += 1
            }
            guard count > 0 else { break }
            MoldUDP64.writeHeader(p, session: session, sequence: first, count: count)
            let packet = UnsafeRawBufferPointer(start: p, count: at)
            if !replyQueue.append(packet, to: requester, key: peer) {
                replyQueue.flush(sender: sender, fd: requestFd)
                _ = replyQueue.append(packet, to: requester, key: peer)
            }
            counters.replyPackets &+= 1
            counters.messagesReplayed &+= UInt64(count)
        }
    }

    static func peerKey(_ a: seqcast_addr) -> UInt64 {
        var d = Digest()
        withUnsafeBytes(of: a.ip) { b in
            d.add(b.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
            d.add(b.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
        d.add(UInt64(a.port))
        return d.value
    }
}

public struct SeqcastFeedError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
