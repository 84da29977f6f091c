import Testing
@testable import SeqcastCore
import SeqcastWire

/// A run binding `count` numbers from `seq` to counters of `sender` from `counter`.
func messagesRun(_ seq: UInt64, _ count: UInt32, _ sender: SenderId, _ counter: UInt64) -> SequenceRun {
    SequenceRun(firstSeq: SequenceNumber(seq), count: count, content: .messages(sender: sender, firstCounter: counter))
}

@Suite("Ordering: numbering, commit and delivery")
struct OrderingTests {
    @Test("claims 1/7: a message is numbered after K reports, submitted, committed after Q acks, delivered by every member")
    func numberedAfterKCommittedAfterQ() throws {
        var g = TestGroup(members: 3) { $0.reportQuorum = 2 }
        let body = TestGroup.body(1)
        let id = try g.publishAccepted(0, body)
        let (ds1, ds2) = (g.config.dataServers[0], g.config.dataServers[1])
        let (cs1, cs2) = (g.config.commitServers[0], g.config.commitServers[1])

        g.tickDue()  // the publisher flushes on its next tick
        #expect(g.sentPackets(kind: .data, from: g.memberId(0)).map(\.to)
                == g.config.dataServers + [g.memberId(1), g.memberId(2)])
        g.deliverAll()
        #expect(g.sentPackets(kind: .dataReport).isEmpty, "data servers batch before reporting")
        g.advance(by: g.config.timing.reportDelay)
        #expect(g.sentPackets(kind: .dataReport).count == 3)

        // One report: K = 2 is not reached, nothing is numbered or written.
        g.deliverAll(hold: { $0.kind == .dataReport && $0.from != ds1 })
        #expect(g.held.count == 2)
        #expect(g.sequencer.nextSeq == SequenceNumber(1))
        #expect(g.disks[g.sequencerIndex].isEmpty)

        // The second distinct data server's report numbers it.
        g.release(where: { $0.from == ds2 })
        g.deliverAll()
        #expect(g.sequencer.nextSeq == SequenceNumber(2))
        #expect(g.disks[g.sequencerIndex].count == 1)
        #expect(g.sentPackets(kind: .commitSubmit).isEmpty, "nothing revealed before the record is durable")

        g.syncAll()
        let submits = g.sentPackets(kind: .commitSubmit)
        #expect(submits.map(\.to) == g.config.commitServers)
        for s in submits { #expect(s.batch?.runs == [messagesRun(1, 1, id.sender, 1)]) }

        g.deliverAll()
        #expect(g.sentPackets(kind: .commitAck).isEmpty, "commit servers ack only what is durable")
        g.syncAll()
        #expect(g.sentPackets(kind: .commitAck).count == 3)

        // One ack: Q = 2 is not reached.
        g.deliverAll(hold: { $0.kind == .commitAck && $0.from != cs1 })
        #expect(g.sequencer.committedThrough == .zero)
        #expect(g.sentPackets(kind: .commit).isEmpty)

        // The second ack commits, and every member delivers.
        g.release(where: { $0.from == cs2 })
        g.deliverAll()
        #expect(g.sequencer.committedThrough == SequenceNumber(1))
        let commits = g.sentPackets(kind: .commit)
        #expect(Set(commits.map(\.to)) == Set(g.nodes.map(\.id)).subtracting([g.config.sequencer]))
        var expected = ReferenceApplication()
        body.withUnsafeBytes { expected.apply(seq: SequenceNumber(1), id: id, body: $0) }
        for m in 0..<3 {
            #expect(g.memberDeliveries(m) == [Delivery(seq: SequenceNumber(1), id: id, bodyDigest: TestGroup.digest(body),
                                                       stateDigest: expected.stateDigest)])
        }
        #expect(g.events[g.memberIndex(0)].contains(.sequenced(id: id, seq: SequenceNumber(1))))

        // The late report and ack change nothing.
        g.release()
        g.settle()
        #expect(g.sequencer.nextSeq == SequenceNumber(2))
        #expect(g.memberDeliveries(1).count == 1)
    }

    @Test("claim 7: concurrent publishers are delivered in one total order, with one state, by every receiver")
    func sameOrderEverywhere() throws {
        var g = TestGroup(checkpointServers: 1, members: 3)
        var published = 0
        for round in 0..<4 {
            for m in 0..<3 {
                for k in 0..<(1 + (round + m) % 3) {
                    try g.publishAccepted(m, TestGroup.body(round * 100 + m * 10 + k, size: 16 + 8 * k))
                    published += 1
                }
                g.advance(by: .micros(70))
            }
            g.run(for: .micros(300))
        }
        let n = UInt64(published)
        try g.run(until: { $0.allDelivered(through: n) })
        let reference = g.memberDeliveries(0)
        #expect(reference.map(\.seq.rawValue) == Array(1...n))
        #expect(Set(reference.map(\.id)).count == published)
        for r in g.receiverIndices {
            #expect(g.deliveries(r) == reference, "receiver \(g.nodes[r].id)")
            #expect(g.receiver(r).app.stateDigest == reference.last?.stateDigest)
            #expect(g.receiver(r).app.deliveredCount == n)
        }
        g.expectWithinLifetime()
    }

    @Test("claim 3: one data report covers several messages that arrived in separate datagrams")
    func oneReportManyMessages() throws {
        var g = TestGroup(members: 2)
        let ds = g.config.dataServers[0]
        // After a quiet spell the first message is reported at once (adaptive batching)...
        let a = try g.publishAccepted(0, TestGroup.body(1))
        g.tickDue()
        g.deliverAll()
        g.tickDue()  // the data server's report is due at once: it runs after the received batch
        g.deliverAll()
        let first = g.sentPackets(kind: .dataReport, from: ds)
        #expect(first.count == 1)
        #expect(first.first?.reportEntries?.first?.heldThrough == 1)
        // ...and what arrives within `reportDelay` of that report waits for one report.
        g.advance(by: .micros(50))
        try g.publishAccepted(0, TestGroup.body(2))
        g.tickDue()
        g.deliverAll()
        g.advance(by: .micros(50))
        try g.publishAccepted(0, TestGroup.body(3))
        g.tickDue()
        g.deliverAll()
        let data = g.sentPackets(kind: .data, from: g.memberId(0), to: ds)
        #expect(data.compactMap { $0.data?.counters } == [1...1, 2...2, 3...3], "three separate datagrams")
        #expect(g.sentPackets(kind: .dataReport, from: ds).count == 1, "the second report waits")

        g.advance(by: g.config.timing.reportDelay)
        let reports = g.sentPackets(kind: .dataReport, from: ds)
        #expect(reports.count == 2)
        let entries = try #require(reports.last?.reportEntries)
        #expect(entries.count == 1)
        #expect(entries.first?.sender == a.sender)
        #expect(entries.first?.heldThrough == 3, "one entry covers both later counters")

        // All three are numbered in publication order (the sequencer batches what it holds).
        try g.run(until: { $0.allDelivered(through: 3) })
        let first3 = g.sentPackets(kind: .commit).compactMap { $0.batch?.runs.first }.first
        #expect(first3?.firstSeq == SequenceNumber(1))
        #expect(first3.flatMap { $0.messageId(at: SequenceNumber(1)) } == MessageId(sender: a.sender, counter: 1))
    }

    @Test("claims 4/25: one commit submit carries the assignments of several reports")
    func oneSubmitManyAssignments() throws {
        var g = TestGroup(members: 2)
        let a = try g.publishAccepted(0, TestGroup.body(1))
        g.tickDue()
        g.deliverAll()
        g.advance(by: g.config.timing.reportDelay)
        g.deliverAll()  // reports of a: numbered, record written but not durable
        #expect(g.sequencer.nextSeq == SequenceNumber(2))

        g.advance(by: .micros(100))
        let b = try g.publishAccepted(1, TestGroup.body(2))
        try g.publishAccepted(1, TestGroup.body(3))
        g.tickDue()
        g.deliverAll()
        g.advance(by: g.config.timing.reportDelay)
        let laterReports = g.sentPackets(kind: .dataReport).filter { $0.sentAt == g.now }
        #expect(!laterReports.isEmpty)
        #expect(laterReports.allSatisfy { $0.reportEntries?.map(\.sender) == [b.sender] }, "a different report")
        g.deliverAll()
        #expect(g.sequencer.nextSeq == SequenceNumber(4))
        #expect(g.disks[g.sequencerIndex].count == 2)
        #expect(g.sentPackets(kind: .commitSubmit).isEmpty)

        g.syncAll()  // one fsync makes both records durable
        for cs in g.config.commitServers {
            let submits = g.sentPackets(kind: .commitSubmit, to: cs)
            #expect(submits.count == 1)
            #expect(submits.first?.batch?.runs == [messagesRun(1, 1, a.sender, 1), messagesRun(2, 2, b.sender, 1)])
        }
        try g.run(until: { $0.allDelivered(through: 3) })
        #expect(g.memberDeliveries(0).map(\.id) == [a, b, MessageId(sender: b.sender, counter: 2)])
    }

    @Test("claims 5/8: members deliver in sequence order when commits reach them out of order")
    func outOfOrderCommits() throws {
        var g = TestGroup(members: 2)
        let m1 = g.memberId(1)
        let holdCommits: (Packet) -> Bool = { $0.kind == .commit && $0.to == m1 }
        let x = try g.publishAccepted(0, TestGroup.body(1))
        try g.run(until: { $0.sequencer.committedThrough == SequenceNumber(1) }, hold: holdCommits)
        let y = try g.publishAccepted(0, TestGroup.body(2))
        try g.run(until: { $0.sequencer.committedThrough == SequenceNumber(2) }, hold: holdCommits)
        #expect(g.held.count == 2)
        #expect(g.members[1].deliveredThrough == .zero)

        // The commit of 2 arrives first: nothing can be delivered yet.
        g.release(where: { $0.commits(2) })
        g.deliverAll()
        #expect(g.members[1].ledger.announcedThrough == SequenceNumber(2))
        #expect(g.memberDeliveries(1).isEmpty)

        g.release()
        g.deliverAll()
        #expect(g.memberDeliveries(1).map(\.seq.rawValue) == [1, 2])
        #expect(g.memberDeliveries(1).map(\.id) == [x, y])
        #expect(g.memberDeliveries(1) == g.memberDeliveries(0))
        #expect(g.members[1].output.counters.idQueriesSent == 0)
    }

    @Test("per-sender FIFO: a sender's messages are numbered and delivered in counter order")
    func perSenderFifo() throws {
        var g = TestGroup(members: 3)
        let a = try g.publishAccepted(0, TestGroup.body(1))
        g.tickDue()
        for k in 2...3 {
            g.advance(by: .micros(20))
            try g.publishAccepted(0, TestGroup.body(k))
            g.tickDue()
        }
        // The first datagram of a reaches no data server; its retransmission will.
        let cutoff = g.now + .millis(5)
        let dataServers = g.config.dataServers
        let lose: (Packet) -> Bool = { $0.carries(a.sender, counter: 1) && $0.sentAt < cutoff && dataServers.contains($0.to) }
        try g.publishAccepted(1, TestGroup.body(10))
        try g.publishAccepted(2, TestGroup.body(20))
        g.run(for: .millis(5), drop: lose)
        // The data servers hold a:2 and a:3, but a:1 is missing: none of a is numbered yet.
        #expect(g.sequencer.committedThrough == SequenceNumber(2))
        #expect(g.memberDeliveries(1).allSatisfy { $0.id.sender != a.sender })

        try g.run(until: { $0.allDelivered(through: 5) }, drop: lose)
        for r in g.receiverIndices {
            let ofA = g.deliveries(r).filter { $0.id.sender == a.sender }
            #expect(ofA.map(\.id.counter) == [1, 2, 3])
            #expect(ofA.map(\.seq.rawValue) == [3, 4, 5])
        }
        #expect(g.members[0].output.counters.retransmissions >= 1)
    }

    @Test("claim 17: a data message's logical timestamp is the highest committed number its sender knew")
    func logicalTimestamp() throws {
        var g = TestGroup(members: 3)
        let m2 = g.memberId(2)
        // Member 2 hears no commit and no heartbeat at all.
        let deaf: (Packet) -> Bool = { $0.to == m2 && ($0.kind == .commit || $0.kind == .heartbeat) }
        let first = try g.publishAccepted(0, TestGroup.body(1))
        try g.publishAccepted(1, TestGroup.body(2))
        try g.publishAccepted(1, TestGroup.body(3))
        try g.run(until: { $0.members[0].deliveredThrough == SequenceNumber(3) }, drop: deaf)
        #expect(g.sentPackets(kind: .data, from: g.memberId(0)).allSatisfy { $0.data?.logicalTs == .zero })
        #expect(g.members[0].ledger.announcedThrough == SequenceNumber(3))
        #expect(g.members[2].ledger.announcedThrough == .zero)

        let known = try g.publishAccepted(0, TestGroup.body(4))
        let stale = try g.publishAccepted(2, TestGroup.body(5))
        g.tickDue()
        let ds = g.config.dataServers[0]
        let fromKnown = g.sentPackets(kind: .data, from: g.memberId(0), to: ds).compactMap(\.data)
        #expect(fromKnown.last?.counters == known.counter...known.counter)
        #expect(fromKnown.last?.logicalTs == SequenceNumber(3))
        let fromStale = g.sentPackets(kind: .data, from: m2, to: ds).compactMap(\.data)
        #expect(fromStale.last?.counters == stale.counter...stale.counter)
        #expect(fromStale.last?.logicalTs == .zero)

        // The data server reports the oldest pending timestamp it stored.
        g.deliverAll()
        g.advance(by: g.config.timing.reportDelay)
        let entries = g.sentPackets(kind: .dataReport, from: ds).last?.reportEntries ?? []
        #expect(entries.first { $0.sender == known.sender }?.pendingTs == SequenceNumber(3))
        #expect(entries.first { $0.sender == stale.sender }?.pendingTs == .zero)
        #expect(first.counter == 1)
    }

    @Test("claim 1: with K = D, a data server that missed a message fetches it from a peer before the sequencer numbers it")
    func dataServerRepairsFromPeer() throws {
        var g = TestGroup(members: 2) { $0.reportQuorum = 3 }
        let ds3 = g.config.dataServers[2]
        let a1 = try g.publishAccepted(0, TestGroup.body(1))
        let lose: (Packet) -> Bool = { $0.carries(a1.sender, counter: 1) && $0.to == ds3 }
        g.run(for: .millis(1), drop: lose)
        #expect(g.sequencer.nextSeq == SequenceNumber(1), "two of three data servers hold it: K = 3 not reached")

        try g.publishAccepted(0, TestGroup.body(2))
        try g.run(until: { $0.allDelivered(through: 2) }, drop: lose)
        let fetches = g.sentPackets(kind: .messageFetch, from: ds3)
        #expect(!fetches.isEmpty)
        #expect(fetches.allSatisfy { g.isDataServer($0.to) && $0.to != ds3 })
        #expect(g.deliveredPackets(kind: .messageReply, to: ds3).contains { $0.data?.counters.contains(1) ?? false })
        #expect(g.memberDeliveries(1).map(\.id) == [a1, MessageId(sender: a1.sender, counter: 2)])
    }

    @Test("claims 5/8: with every datagram delivered newest-first, every receiver still delivers one total order")
    func reorderedNetwork() throws {
        var g = TestGroup(checkpointServers: 1, members: 3) { $0.checkpointInterval = 5 }
        g.reorder = true
        var published = 0
        for round in 0..<5 {
            for m in 0..<3 {
                for k in 0..<(1 + (round + 2 * m) % 3) {
                    try g.publishAccepted(m, TestGroup.body(round * 100 + m * 10 + k))
                    published += 1
                }
                g.advance(by: .micros(30))
            }
            g.run(for: .micros(150))
        }
        let n = UInt64(published)
        try g.run(until: { $0.allDelivered(through: n) })
        let reference = g.memberDeliveries(0)
        #expect(reference.map(\.seq.rawValue) == Array(1...n))
        for r in g.receiverIndices {
            #expect(g.deliveries(r) == reference, "receiver \(g.nodes[r].id)")
            #expect(g.receiver(r).ledger.conflicts == 0)
        }
        for m in 0..<3 {
            let mine = reference.filter { $0.id.sender == g.members[m].sender }.map(\.id.counter)
            #expect(mine == Array(1...UInt64(mine.count)), "per-sender FIFO")
        }
        g.expectWithinLifetime()
    }

    @Test("idempotence: replaying every datagram ever delivered changes no delivery, number or checkpoint")
    func replayedHistoryChangesNothing() throws {
        var g = TestGroup(checkpointServers: 2, members: 2) { $0.checkpointInterval = 3 }
        for k in 0..<4 {
            try g.publishAccepted(k % 2, TestGroup.body(k))
            try g.publishAccepted(k % 2, TestGroup.body(k + 50))
            g.run(for: .micros(400))
        }
        let j = g.addMember(joining: true)
        try g.publishAccepted(1, TestGroup.body(99))
        try g.run(until: { $0.allDelivered(through: 9) })
        let before = g.receiverIndices.map { g.deliveries($0) }
        let checkpoints = g.receiverIndices.map { g.checkpointsTaken($0).map(\.digest) }
        let nextSeq = g.sequencer.nextSeq

        g.queue.append(contentsOf: g.delivered)
        g.settle()
        g.run(for: .millis(30))
        #expect(g.receiverIndices.map { g.deliveries($0) } == before)
        #expect(g.receiverIndices.map { g.checkpointsTaken($0).map(\.digest) } == checkpoints)
        #expect(g.sequencer.nextSeq == nextSeq)
        #expect(g.sequencer.committedThrough == SequenceNumber(nextSeq.rawValue - 1))
        #expect(g.receiverIndices.allSatisfy { g.receiver($0).ledger.conflicts == 0 })
        #expect(g.commitServers.allSatisfy { $0.output.counters.droppedInconsistent == 0 })
        #expect(!g.members[j].isJoining)
    }
}
