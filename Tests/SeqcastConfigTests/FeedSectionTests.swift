import SeqcastConfig
import SeqcastCore
import SeqcastNode
import Testing

@Suite("The group file's feed section")
struct FeedSectionTests {
    func layout() -> GroupLayout {
        var l = GroupLayout.standard(dataServers: 3, commitServers: 3, checkpointServers: 1, members: 0)
        l.name = "feed"
        l.groupId = 0x7e58
        l.instance = 0x42
        return l
    }

    func refusal(_ text: String) -> String? {
        do {
            _ = try GroupFile.parse(text, source: "feed.yaml")
            return nil
        } catch {
            return error.description
        }
    }

    @Test("every field survives the round trip")
    func roundTrip() throws {
        var l = layout()
        var f = GroupLayout.Feed(session: "SEQCAST01", downstream: Endpoint(host: "239.255.83.1", port: 18_401), requestPort: 18_402)
        f.packetBytes = 9_000
        f.heartbeat = Nanoseconds(250_000_000)
        f.retentionMessages = 12_345
        f.requesterMessagesPerSecond = 777
        l.feed = f
        let parsed = try GroupFile.parse(GroupFile.render(l))
        #expect(parsed.feed == f)
        #expect(parsed.feed?.messageBytesMax == 9_000 - 22)
        #expect(try GroupFile.parse(GroupFile.render(layout())).feed == nil)
    }

    @Test("a bad session, packet size or port is refused with its field")
    func refusals() throws {
        var l = layout()
        l.feed = GroupLayout.Feed(session: "SEQCAST01", downstream: Endpoint(host: "239.255.83.1", port: 18_401), requestPort: 18_402)
        let text = GroupFile.render(l)
        func with(_ find: String, _ line: String) -> String {
            text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.contains(find) ? line : String($0) }
                .joined(separator: "\n")
        }
        #expect(refusal(text) == nil)
        #expect(refusal(with("session:", "  session: ELEVENCHARS"))?.contains("feed.session") == true)
        #expect(refusal(with("session:", "  session: \"A B\""))?.contains("feed.session") == true)
        #expect(refusal(with("packet-bytes:", "  packet-bytes: 20"))?.contains("feed.packet-bytes") == true)
        #expect(refusal(with("request-port:", "  request-port: \(l.dataGroup.port)"))?.contains("feed.request-port") == true)
        #expect(refusal(with("downstream:", "  downstream: \"127.0.0.1:18401\""))?.contains("feed.downstream") == true)
        #expect(refusal(with("heartbeat:", "  heartbeat: 10us"))?.contains("feed.heartbeat") == true)
    }
}
