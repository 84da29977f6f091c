import Testing
@testable import SeqcastSimulation
import SeqcastCore
import SeqcastWire

/// A seed that once made the simulator report a violation, with the step count it failed at.
struct RegressionSeed: Sendable, CustomTestStringConvertible {
    let seed: UInt64
    let steps: Int
    /// The publish gate it failed with, when not the default (`--collection-lag-percent`).
    let collectionLagPercent: Int?
    init(_ seed: UInt64, _ steps: Int, collectionLagPercent: Int? = nil) {
        self.seed = seed
        self.steps = steps
        self.collectionLagPercent = collectionLagPercent
    }
    var options: String { collectionLagPercent.map { " --collection-lag-percent \($0)" } ?? "" }
    var testDescription: String { "seed \(seed), \(steps) steps\(options)" }
}

/// Seeds that failed during development. Each is replayed at the step count it failed at and
/// must now hold every invariant (and liveness after healing).
///
/// RULE: every future failing seed is added here together with its fix, in the same change:
/// `RegressionSeed(seed, steps)` with a comment naming the bug it found (and the fix). The
/// reproduce line printed by `seqcast-sim` gives both numbers. Never remove a seed; if the
/// simulator's draw changes so a seed no longer reaches the old schedule, keep it anyway (it is
/// cheap) and add the new failing seed as well.
enum RegressionSeeds {
    /// Found while building the simulator, the member's repair and the join path (their fixes
    /// predate this list).
    static let all: [RegressionSeed] = [
        RegressionSeed(3, 5_000),
        RegressionSeed(4, 5_000),
        RegressionSeed(6, 5_000),
        RegressionSeed(9, 5_000),
        RegressionSeed(14, 5_000),
        RegressionSeed(16, 5_000),
        RegressionSeed(22, 5_000),
        RegressionSeed(25, 5_000),
        RegressionSeed(26, 5_000),
        RegressionSeed(28, 5_000),
        RegressionSeed(49, 5_000),
        RegressionSeed(55, 5_000),
        RegressionSeed(76, 5_000),
        RegressionSeed(95, 5_000),
        RegressionSeed(176, 5_000),
        RegressionSeed(215, 5_000),
        // Found after faults were spread over the whole fault phase:
        // 140: a stream-end republish and a restart both took incarnation n+1 (ids reused);
        //      the sender's state file now records the republish incarnation.
        RegressionSeed(140, 10_000),
        // 53: id queries asked for one small hole per round trip; they now span to the frontier.
        RegressionSeed(53, 10_000),
        // 77859: a restarted data server never learned that counters behind a checkpoint were
        //        committed, so its prefix never advanced (K=2 stalled); peers' "collected" answers
        //        now teach it.
        RegressionSeed(77_859, 10_000),
        // 200859: a commit server that started with a hole (it accepted runs above numbers Q
        //         others had committed) recovered a low water from its first record, so members
        //         rejoined from a checkpoint nobody had; the low water is now its own record.
        RegressionSeed(200_859, 10_000),
        // 201944: a commit run overlapping a data server's known commits was dropped whole, so
        //         its new tail never counted as committed; stale reports stalled the stream.
        RegressionSeed(201_944, 10_000),
        // Found when every sequencer start began to seal the commit servers (issue 11):
        // 155: a re-proposal's earlier run arriving after a later one rebound (dropped) what the
        //      new epoch had already rewritten; a rebind now happens only where the epoch's
        //      proposals start.
        RegressionSeed(155, 10_000),
        // 2047934685 and 2047935084: a commit server took a gap over numbers only an older
        //      epoch had committed, after rebinding them; a later recovery found nobody holding
        //      them and filled committed numbers with no-ops (S8). Gaps now need the current
        //      epoch's frontier.
        RegressionSeed(2_047_934_685, 20_000),
        RegressionSeed(2_047_935_084, 20_000),
        // Found with sequencer candidates (seed % 5 == 2):
        // 2047934587: a candidate sealed a majority under a newer epoch and died; the active one
        //      never learned (acks went to the dead candidate) and no standby suspected it, so
        //      nothing committed again. A commit server now answers a stale submit with an ack
        //      of its promised epoch, and the stale sequencer steps down and later takes over.
        RegressionSeed(2_047_934_587, 20_000),
        // 1006633232 and 1006633442: checks too strict for two sequencers at once. A late
        //      commit of acks given before a seal (safe: the seal's answers listed them), and a
        //      deposed older epoch still submitting numbers a newer one committed (fenced). S11
        //      is now per commit server (no ack below a promised epoch), S8 per epoch.
        RegressionSeed(1_006_633_232, 20_000),
        RegressionSeed(1_006_633_442, 20_000),
        // 2047934717, 1006633712, 1006633757 (a candidate cut off while active): the deposed one
        //      still announced its own, lower, frontier; S10 is per epoch, as §7 states it.
        RegressionSeed(2_047_934_717, 20_000),
        RegressionSeed(1_006_633_712, 20_000),
        RegressionSeed(1_006_633_757, 20_000),
        // 2047934487: a standby whose view of a sender lagged committed a message a second time
        //      at a later number, as §5.3-6 allows; the checker took it for S1. It now checks
        //      S15 instead: members skip the later number, and the reference does too.
        RegressionSeed(2_047_934_487, 20_000),
        // Found when a new checkpoint began to heartbeat at once (collection came sooner):
        // 65867: a standby took over knowing nothing of a sender whose first 17 counters were
        //      committed and truncated behind a checkpoint; it waited at counter 1 for a
        //      timestamp no data server reports (they count it committed) for good. The
        //      servers' lowest uncommitted counters now move the sender's next counter on.
        RegressionSeed(65_867, 10_000),
        // 1002 with the publish gate at three quarters of a store: a standby whose view lacked
        //      a sender's last commits (truncated behind a checkpoint; no data server held its
        //      next counter, so no pending counter told) ended the stream below a committed
        //      counter, and data servers deleted committed bodies as orphans (S14). Report
        //      entries now carry the highest counter each server saw committed (wire version 4).
        RegressionSeed(1_002, 10_000, collectionLagPercent: 75),
        // 393702 (found in a sweep after that change moved the timings): a data server restarted
        //      from its disk skipped its ledger to a commit server's low water but kept checkpoint
        //      0, so bodies it then deleted behind that low water under the lifetime rule counted
        //      as committed ones deleted as orphans (S14). A low water now raises the server's
        //      checkpoint (commit servers truncate only behind an agreed checkpoint).
        RegressionSeed(393_702, 10_000),
        // L2 and L1 (a member stalled for good): once collection waited a grace time after a
        //      checkpoint (`CollectionGrace`), a member lagging behind the checkpoint asked for a
        //      body of an incarnation the data servers had forgotten (`forgetRetired`), and they
        //      answered "not held" where before forgetting they said "collected": it asked again
        //      for ever instead of resynchronising. A forgotten incarnation's counters are now
        //      answered "collected".
        RegressionSeed(1_245_443, 10_000),
    ]
}

@Suite("Regression seeds")
struct RegressionSeedTests {
    @Test("a once-failing seed now holds every invariant", arguments: RegressionSeeds.all)
    func replay(_ entry: RegressionSeed) {
        let (report, _, _) = simulate(seed: entry.seed, steps: entry.steps, collectionLagPercent: entry.collectionLagPercent)
        #expect(report.violations.isEmpty,
                "reproduce: seqcast-sim --seed \(entry.seed) --steps \(entry.steps)\(entry.options)\n\(report.violations.joined(separator: "\n"))")
        // The run went the whole distance (it did not stop early on an empty event queue).
        #expect(report.steps == entry.steps)
    }

    @Test("the list has no duplicate seeds")
    func noDuplicates() {
        let seeds = RegressionSeeds.all.map(\.seed)
        #expect(Set(seeds).count == seeds.count)
    }
}
