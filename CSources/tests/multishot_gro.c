// multishot_gro: one multishot IORING_OP_RECVMSG with provided buffers + UDP_GRO on loopback
// multicast (239.255.77.1 via 127.0.0.1). Proves: every datagram exactly once and in order,
// coalescing (superpackets < datagrams), re-arming after -ENOBUFS with a tiny buffer ring, and
// truncation accounting when a super-packet does not fit a buffer.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "test_util.h"

#define GROUP "239.255.77.1"
#define IFACE "127.0.0.1"
#define SEG 1200u
#define NSEG 54u // 54 x 1200 = 64800 B: the most 1200-B segments that fit one UDP payload (65507)
#define SUPER (SEG * NSEG)
#define MAXBATCH 16u

static uint8_t sendbuf[MAXBATCH][SUPER];
static seqcast_datagram out[512];

static uint8_t pattern(uint32_t seq, unsigned i) { return (uint8_t)(seq * 31u + i); }

static void fill(uint8_t *p, uint32_t seq, unsigned len)
{
    memcpy(p, &seq, 4);
    for (unsigned i = 4; i < len; i++)
        p[i] = pattern(seq, i);
}

static void verify(const seqcast_datagram *d, uint32_t seq, unsigned len, const seqcast_addr *from)
{
    CHECK(d->len == len, "seq %u: len %u, want %u", seq, d->len, len);
    uint32_t got;
    memcpy(&got, d->data, 4);
    CHECK(got == seq, "out of order / duplicate: got seq %u, want %u", got, seq);
    const uint8_t *p = d->data;
    for (unsigned i = 4; i < len; i++)
        CHECK(p[i] == pattern(seq, i), "seq %u: byte %u corrupted", seq, i);
    CHECK(d->tag == 7, "tag %u", d->tag);
    CHECK(test_addr_eq(&d->from, from), "from mismatch");
}

typedef struct {
    int rfd, sfd;
    seqcast_addr group, src;
    seqcast_sender *snd;
} rig;

static rig rig_open(void)
{
    rig g;
    uint16_t port = test_free_port();
    g.group = test_addr(GROUP, port);
    seqcast_addr iface = test_addr(IFACE, 0);
    g.rfd = seqcast_socket_open(&g.group, 1, 32 << 20, 1);
    CHECK(g.rfd >= 0, "open receiver: %s", strerror(-g.rfd));
    int rc = seqcast_socket_join(g.rfd, &g.group, &iface, 0);
    CHECK(rc == 0, "join: %s", strerror(-rc));
    seqcast_addr any = test_addr(IFACE, 0);
    g.sfd = seqcast_socket_open(&any, 0, 32 << 20, 0);
    CHECK(g.sfd >= 0, "open sender: %s", strerror(-g.sfd));
    rc = seqcast_socket_multicast_out(g.sfd, &iface, 0, 1);
    CHECK(rc == 0, "multicast_out: %s", strerror(-rc));
    CHECK(seqcast_socket_local(g.sfd, &g.src) == 0, "local");
    seqcast_status st;
    g.snd = seqcast_sender_create(SEQCAST_TRANSPORT_IO_URING, MAXBATCH, &st);
    CHECK(g.snd, "sender: %s", st.reason);
    return g;
}

static void rig_close(rig *g)
{
    seqcast_sender_destroy(g->snd);
    seqcast_socket_close(g->rfd);
    seqcast_socket_close(g->sfd);
}

// Sends `batch` super-packets (NSEG x SEG) starting at *seq.
static void send_supers(rig *g, uint32_t *seq, unsigned batch)
{
    seqcast_send s[MAXBATCH];
    memset(s, 0, sizeof s);
    for (unsigned b = 0; b < batch; b++) {
        for (unsigned k = 0; k < NSEG; k++)
            fill(sendbuf[b] + k * SEG, *seq + b * NSEG + k, SEG);
        s[b].data = sendbuf[b];
        s[b].len = SUPER;
        s[b].segment = SEG;
        s[b].dest = g->group;
    }
    int ok = seqcast_sender_send(g->snd, g->sfd, s, batch);
    for (unsigned b = 0; b < batch; b++)
        CHECK(s[b].result == (int32_t)SUPER, "send result %d (%s)", s[b].result,
              s[b].result < 0 ? strerror(-s[b].result) : "short");
    CHECK(ok == (int)batch, "sent %d of %u", ok, batch);
    *seq += batch * NSEG;
}

// Polls until `want` more datagrams arrived, verifying each against *next. max cycles.
static void receive(seqcast_receiver *r, const rig *g, uint32_t *next, uint32_t want, unsigned max_cycle)
{
    static const unsigned maxes[] = {512, 20, 77, 54, 1};
    uint32_t end = *next + want;
    uint64_t deadline = seqcast_monotonic_ns() + 5000000000ull;
    unsigned call = 0;
    while (*next < end) {
        CHECK(seqcast_monotonic_ns() < deadline, "timed out: got up to seq %u, want %u", *next, end);
        unsigned max = max_cycle ? maxes[call++ % 5] : 512;
        int n = seqcast_receiver_poll(r, out, max, 50000000);
        CHECK(n >= 0, "poll: %s", strerror(-n));
        CHECK((unsigned)n <= max, "poll returned %d > max %u", n, max);
        for (int i = 0; i < n; i++)
            verify(&out[i], (*next)++, SEG, &g->src);
        CHECK(*next <= end, "more datagrams than sent");
    }
}

// 4. A sender thread streams while the receiver polls (arrivals race with re-arms), with a
//    4-buffer ring and a window of at most WINDOW super-packets in flight (no socket overflow).
#define STREAM_SUPERS 1000u
#define WINDOW 24u
static _Atomic uint32_t stream_received; // datagrams verified so far
static uint8_t streambuf[4][SUPER];

static void *stream_sender(void *p)
{
    rig *g = p;
    uint32_t seq = 0;
    for (unsigned n = 0; n < STREAM_SUPERS; n++) {
        while (seq - atomic_load(&stream_received) > WINDOW * NSEG)
            sched_yield();
        uint8_t *b = streambuf[n % 4];
        for (unsigned k = 0; k < NSEG; k++)
            fill(b + k * SEG, seq + k, SEG);
        seqcast_send s = {.data = b, .len = SUPER, .segment = SEG, .dest = g->group};
        if (seqcast_sender_send(g->snd, g->sfd, &s, 1) != 1) {
            fprintf(stderr, "stream send: %d\n", s.result);
            exit(1);
        }
        seq += NSEG;
    }
    return NULL;
}

int main(void)
{
    seqcast_status st;
    seqcast_receiver_stats rs;

    // 1. Enough buffers: exactly once, in order, coalesced. Varying `max` exercises leaving a
    //    super-packet in the CQ and handing one out in parts.
    {
        rig g = rig_open();
        uint32_t tag = 7;
        seqcast_receiver *r =
            seqcast_receiver_create(SEQCAST_TRANSPORT_IO_URING, &g.rfd, &tag, 1, 64, 65536 + 512, &st);
        CHECK(r, "receiver: %s", st.reason);
        CHECK(st.transport == SEQCAST_TRANSPORT_IO_URING, "transport %d", st.transport);
        CHECK(seqcast_receiver_poll(r, out, 512, 0) == 0, "nothing yet");
        uint32_t seq = 0, next = 0;
        for (int round = 0; round < 25; round++) {
            send_supers(&g, &seq, 8);
            receive(r, &g, &next, 8 * NSEG, 1);
        }
        CHECK(seqcast_receiver_poll(r, out, 512, 20000000) == 0, "no extra datagrams (duplicates)");
        seqcast_receiver_stats_get(r, &rs);
        print_stats("64 x 65 KiB buffers", r);
        CHECK(rs.datagrams == seq, "datagrams %llu != sent %u", (unsigned long long)rs.datagrams, seq);
        CHECK(rs.superpackets < rs.datagrams, "no coalescing");
        CHECK(rs.superpackets == 25 * 8, "expected one completion per GSO send, got %llu",
              (unsigned long long)rs.superpackets);
        CHECK(rs.truncated == 0 && rs.errors == 0, "truncated/errors");
        seqcast_receiver_destroy(r);
        rig_close(&g);
    }

    // 2. Tiny buffer ring (2 buffers) with 16 super-packets queued at once: the multishot runs
    //    out of buffers (-ENOBUFS, no IORING_CQE_F_MORE) and must be re-armed.
    {
        rig g = rig_open();
        uint32_t tag = 7;
        seqcast_receiver *r = seqcast_receiver_create(SEQCAST_TRANSPORT_IO_URING, &g.rfd, &tag, 1, 2, 65536 + 512, &st);
        CHECK(r, "receiver: %s", st.reason);
        uint32_t seq = 0, next = 0;
        for (int round = 0; round < 4; round++) {
            send_supers(&g, &seq, 16);
            receive(r, &g, &next, 16 * NSEG, 0);
        }
        seqcast_receiver_stats_get(r, &rs);
        uint64_t rearms_before = rs.rearms;
        // Later datagrams still arrive after the re-arms.
        send_supers(&g, &seq, 3);
        receive(r, &g, &next, 3 * NSEG, 1);
        CHECK(seqcast_receiver_poll(r, out, 512, 20000000) == 0, "no duplicates");
        seqcast_receiver_stats_get(r, &rs);
        print_stats("2 buffers (re-arm)", r);
        CHECK(rs.rearms > 0, "expected the multishot to end and be re-armed");
        CHECK(rs.no_buffers > 0, "expected -ENOBUFS completions");
        CHECK(rearms_before > 0, "re-arms happened before the last batch");
        CHECK(rs.datagrams == seq, "datagrams %llu != sent %u", (unsigned long long)rs.datagrams, seq);
        seqcast_receiver_destroy(r);
        rig_close(&g);
    }

    // 3. Buffers too small for a super-packet (4096 B vs 54 x 1200 B): counted as truncated and
    //    dropped whole; small datagrams sent afterwards are still delivered intact.
    {
        rig g = rig_open();
        uint32_t tag = 7;
        seqcast_receiver *r = seqcast_receiver_create(SEQCAST_TRANSPORT_IO_URING, &g.rfd, &tag, 1, 8, 4096, &st);
        CHECK(r, "receiver: %s", st.reason);
        uint32_t seq = 0;
        send_supers(&g, &seq, 4);
        // Then 4 plain datagrams of SEG bytes (no GSO) that fit.
        seqcast_send s[4];
        memset(s, 0, sizeof s);
        for (unsigned i = 0; i < 4; i++) {
            fill(sendbuf[i], seq + i, SEG);
            s[i].data = sendbuf[i];
            s[i].len = SEG;
            s[i].dest = g.group;
        }
        CHECK(seqcast_sender_send(g.snd, g.sfd, s, 4) == 4, "send singles");
        uint32_t next = seq; // the super-packets are expected to be dropped
        receive(r, &g, &next, 4, 0);
        CHECK(seqcast_receiver_poll(r, out, 512, 20000000) == 0, "nothing else (no partial data)");
        seqcast_receiver_stats_get(r, &rs);
        print_stats("4096-B buffers (truncation)", r);
        CHECK(rs.truncated == 4, "truncated %llu, want 4", (unsigned long long)rs.truncated);
        CHECK(rs.datagrams == 4, "datagrams %llu, want 4", (unsigned long long)rs.datagrams);
        seqcast_receiver_destroy(r);
        rig_close(&g);
    }

    {
        rig g = rig_open();
        uint32_t tag = 7;
        seqcast_receiver *r = seqcast_receiver_create(SEQCAST_TRANSPORT_IO_URING, &g.rfd, &tag, 1, 4, 65536 + 512, &st);
        CHECK(r, "receiver: %s", st.reason);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, stream_sender, &g) == 0, "thread");
        uint32_t next = 0;
        uint64_t t0 = seqcast_monotonic_ns(), deadline = t0 + 20000000000ull;
        while (next < STREAM_SUPERS * NSEG) {
            CHECK(seqcast_monotonic_ns() < deadline, "stream timed out at seq %u", next);
            int n = seqcast_receiver_poll(r, out, next % 3 ? 512 : 100, 100000000);
            CHECK(n >= 0, "poll: %s", strerror(-n));
            for (int i = 0; i < n; i++)
                verify(&out[i], next++, SEG, &g.src);
            atomic_store(&stream_received, next);
        }
        pthread_join(t, NULL);
        double secs = (seqcast_monotonic_ns() - t0) / 1e9;
        CHECK(seqcast_receiver_poll(r, out, 512, 20000000) == 0, "no duplicates");
        seqcast_receiver_stats_get(r, &rs);
        print_stats("streaming, 4 buffers", r);
        INFO("streamed %u datagrams in %.2f s (%.2f M datagrams/s)", next, secs, next / secs / 1e6);
        CHECK(rs.datagrams == STREAM_SUPERS * NSEG && rs.superpackets < rs.datagrams, "counts");
        seqcast_receiver_destroy(r);
        rig_close(&g);
    }
    return 0;
}
