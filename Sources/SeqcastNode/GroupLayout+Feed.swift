import SeqcastCore

/// The file's `feed` section: the group's committed stream republished as MoldUDP64 by
/// gateways (`seqcast feed run`). A group with a feed refuses, at publish, a message that does
/// not fit one MoldUDP64 packet; an empty message is the session's end marker.
extension GroupLayout {
    public struct Feed: Sendable, Equatable {
        /// MoldUDP64's session field: exactly 10 bytes on the wire (ASCII, right-padded with spaces).
        public var session: String
        /// Where gateways multicast the downstream packets.
        public var downstream: Endpoint
        /// The UDP port each gateway answers re-requests on (on its host's address).
        public var requestPort: UInt16
        /// The largest downstream or reply datagram (20-byte header, then 2-byte-length messages).
        public var packetBytes = 1_472
        /// An idle gateway sends a heartbeat (no messages, the next number) this often.
        public var heartbeat = Nanoseconds(1_000_000_000)
        /// Messages a gateway keeps for re-requests (the most recent).
        public var retentionMessages = 1 << 20
        /// Messages a gateway replays per requester (by address) per second; more is dropped and counted.
        public var requesterMessagesPerSecond = 100_000
        public init(session: String, downstream: Endpoint, requestPort: UInt16) {
            self.session = session
            self.downstream = downstream
            self.requestPort = requestPort
        }

        /// MoldUDP64's header: session (10), sequence number (8), message count (2).
        public static let headerBytes = 20
        /// The largest message a feed carries: one message in one packet.
        public var messageBytesMax: Int { packetBytes - Self.headerBytes - 2 }
    }
}
