// engine_roundtrip: sender + receiver for each transport (io_uring forced, mmsg forced).
//   multicast: GSO sends with different segment sizes (full segments + a short last one) plus
//   plain datagrams, to 3 sockets joined to one group, all in one receiver: every datagram
//   reaches each socket exactly once, in order, bytes intact.
//   unicast: to a 4th socket on 127.0.0.1:ephemeral in the same receiver; `from` is the sender.
//   waiting: poll(0) does not block; poll(50 ms) on silence times out after ~50 ms.
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "test_util.h"

#define GROUP "239.255.77.1"
#define IFACE "127.0.0.1"
#define NRECV 3
#define ROUNDS 20
#define MAXD 4096 // datagrams per round, upper bound

typedef struct {
    uint16_t segment;
    unsigned len;
} shape;

// Per round: GSO with full segments + short last, exact multiples, single datagrams.
static const shape shapes[] = {
    {1200, 1200 * 5 + 300}, {1000, 1000 * 3}, {0, 500}, {1400, 1400 * 46 + 9},
    {64, 64 * 64},          {0, 1472},        {512, 600}, {9000, 9000 * 7 + 17},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

typedef struct {
    uint32_t seq;
    uint32_t len;
} expect_t;

static uint8_t sendmem[NSHAPES][65536];
static expect_t expect[MAXD];
static unsigned nexpect;
static seqcast_datagram out[1024];

static uint8_t pattern(uint32_t seq, unsigned i) { return (uint8_t)(seq * 131u + i * 7u + 3u); }

static void fill(uint8_t *p, uint32_t seq, unsigned len)
{
    if (len >= 4)
        memcpy(p, &seq, 4);
    for (unsigned i = 4; i < len; i++)
        p[i] = pattern(seq, i);
}

// Builds one round's sends; returns the datagram count, appending to expect[].
static unsigned build(seqcast_send *s, uint32_t *seq, const seqcast_addr *dest)
{
    unsigned count = 0;
    for (unsigned k = 0; k < NSHAPES; k++) {
        unsigned seg = shapes[k].segment ? shapes[k].segment : shapes[k].len;
        unsigned off = 0;
        while (off < shapes[k].len) {
            unsigned l = shapes[k].len - off < seg ? shapes[k].len - off : seg;
            fill(sendmem[k] + off, *seq, l);
            expect[nexpect++] = (expect_t){*seq, l};
            (*seq)++;
            off += l;
            count++;
        }
        memset(&s[k], 0, sizeof s[k]);
        s[k].data = sendmem[k];
        s[k].len = shapes[k].len;
        s[k].segment = shapes[k].segment;
        s[k].dest = *dest;
    }
    return count;
}

static void verify(const seqcast_datagram *d, const expect_t *e, const seqcast_addr *from)
{
    CHECK(d->len == e->len, "seq %u: len %u want %u", e->seq, d->len, e->len);
    uint32_t got;
    memcpy(&got, d->data, 4);
    CHECK(got == e->seq, "tag %u: got seq %u want %u (lost, duplicated or reordered)", d->tag, got, e->seq);
    const uint8_t *p = d->data;
    for (unsigned i = 4; i < e->len; i++)
        CHECK(p[i] == pattern(e->seq, i), "seq %u byte %u corrupted", e->seq, i);
    char a[64], b[64];
    CHECK(test_addr_eq(&d->from, from), "from %s want %s", seqcast_addr_format(&d->from, a, sizeof a),
          seqcast_addr_format(from, b, sizeof b));
}

typedef struct {
    int fd;
    seqcast_addr dst;
} late_send;

// Sends one 100-byte datagram after 30 ms with plain sendto (so the poll below must block).
static void *send_late(void *p)
{
    late_send *l = p;
    struct timespec ts = {0, 30000000};
    nanosleep(&ts, NULL);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(l->dst.port)};
    memcpy(&a.sin_addr, l->dst.ip, 4);
    static const uint8_t msg[100] = {42};
    if (sendto(l->fd, msg, sizeof msg, 0, (struct sockaddr *)&a, sizeof a) != sizeof msg)
        perror("sendto");
    return NULL;
}

static void run(int transport)
{
    printf("  [%s]\n", transport_name(transport));
    uint16_t port = test_free_port();
    seqcast_addr group = test_addr(GROUP, port), iface = test_addr(IFACE, 0), lo0 = test_addr(IFACE, 0);
    int fds[NRECV + 1];
    uint32_t tags[NRECV + 1];
    for (int i = 0; i < NRECV; i++) {
        fds[i] = seqcast_socket_open(&group, 1, 16 << 20, 1);
        CHECK(fds[i] >= 0, "open %d: %s", i, strerror(-fds[i]));
        int rc = seqcast_socket_join(fds[i], &group, &iface, 0);
        CHECK(rc == 0, "join: %s", strerror(-rc));
        tags[i] = 100 + (uint32_t)i;
    }
    fds[NRECV] = seqcast_socket_open(&lo0, 0, 16 << 20, 1); // unicast, ephemeral port
    CHECK(fds[NRECV] >= 0, "open unicast: %s", strerror(-fds[NRECV]));
    tags[NRECV] = 200;
    seqcast_addr ucast;
    CHECK(seqcast_socket_local(fds[NRECV], &ucast) == 0 && ucast.port != 0, "unicast local");

    int sfd = seqcast_socket_open(&lo0, 0, 16 << 20, 0);
    CHECK(sfd >= 0, "open sender");
    CHECK(seqcast_socket_multicast_out(sfd, &iface, 0, 1) == 0, "multicast_out");
    seqcast_addr src;
    CHECK(seqcast_socket_local(sfd, &src) == 0, "sender local");

    seqcast_status st;
    seqcast_sender *snd = seqcast_sender_create(transport, 4, &st); // batch 4 < 8 sends: chunking
    CHECK(snd && st.transport == transport, "sender: %s", st.reason);
    seqcast_receiver *r = seqcast_receiver_create(transport, fds, tags, NRECV + 1, 32, 65536 + 1024, &st);
    CHECK(r && st.transport == transport && st.reason[0] == 0, "receiver: %s", st.reason);

    // Waiting behaviour on silence.
    uint64_t t0 = seqcast_monotonic_ns();
    CHECK(seqcast_receiver_poll(r, out, 64, 0) == 0, "poll(0) on silence");
    uint64_t t1 = seqcast_monotonic_ns();
    CHECK(seqcast_receiver_poll(r, out, 64, 50000000) == 0, "poll(50ms) on silence");
    uint64_t t2 = seqcast_monotonic_ns();
    CHECK(t1 - t0 < 20000000, "poll(0) blocked %llu ns", (unsigned long long)(t1 - t0));
    CHECK(t2 - t1 >= 45000000 && t2 - t1 < 1000000000, "poll(50ms) took %llu ns", (unsigned long long)(t2 - t1));
    seqcast_receiver_stats rs;
    seqcast_receiver_stats_get(r, &rs);
    CHECK(rs.waits >= 1, "waits counted");

    // A negative timeout waits until something arrives.
    late_send l = {.fd = sfd, .dst = ucast};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, send_late, &l) == 0, "thread");
    t0 = seqcast_monotonic_ns();
    int m0 = seqcast_receiver_poll(r, out, 64, -1);
    t1 = seqcast_monotonic_ns();
    pthread_join(th, NULL);
    CHECK(m0 == 1 && out[0].len == 100 && ((const uint8_t *)out[0].data)[0] == 42 && out[0].tag == 200,
          "poll(-1) got %d", m0);
    CHECK(t1 - t0 >= 20000000, "poll(-1) returned after %llu ns, before the send", (unsigned long long)(t1 - t0));
    uint64_t extra = 1; // that datagram counts in the totals below

    unsigned pos[NRECV + 1] = {0};
    uint32_t seq = 0;
    unsigned total_mc = 0, total_uc = 0;
    for (int round = 0; round < ROUNDS; round++) {
        nexpect = 0;
        seqcast_send s[NSHAPES];
        int unicast = round % 4 == 3; // every 4th round goes to the unicast socket
        unsigned n = build(s, &seq, unicast ? &ucast : &group);
        int ok = seqcast_sender_send(snd, sfd, s, NSHAPES);
        for (unsigned k = 0; k < NSHAPES; k++)
            CHECK(s[k].result == (int32_t)s[k].len, "send %u: %d", k, s[k].result);
        CHECK(ok == (int)NSHAPES, "sent %d", ok);
        memset(pos, 0, sizeof pos);
        unsigned want = unicast ? n : n * NRECV, got = 0;
        uint64_t deadline = seqcast_monotonic_ns() + 5000000000ull;
        while (got < want) {
            CHECK(seqcast_monotonic_ns() < deadline, "round %d: timed out with %u of %u", round, got, want);
            int m = seqcast_receiver_poll(r, out, round % 2 ? 1024 : 37, 100000000);
            CHECK(m >= 0, "poll: %s", strerror(-m));
            for (int i = 0; i < m; i++) {
                unsigned t = out[i].tag == 200 ? NRECV : out[i].tag - 100;
                CHECK(t <= NRECV, "bad tag %u", out[i].tag);
                CHECK((t == NRECV) == unicast, "datagram on the wrong socket (tag %u)", out[i].tag);
                CHECK(pos[t] < n, "tag %u: more than %u datagrams", out[i].tag, n);
                verify(&out[i], &expect[pos[t]++], &src);
            }
            got += (unsigned)m;
        }
        if (unicast)
            total_uc += n;
        else
            total_mc += n;
    }
    CHECK(seqcast_receiver_poll(r, out, 1024, 30000000) == 0, "no duplicates after the last round");
    seqcast_receiver_stats_get(r, &rs);
    CHECK(rs.datagrams == (uint64_t)total_mc * NRECV + total_uc + extra, "datagrams %llu", (unsigned long long)rs.datagrams);
    CHECK(rs.superpackets < rs.datagrams, "GRO coalescing");
    CHECK(rs.truncated == 0 && rs.errors == 0, "no truncation/errors");
    INFO("%u multicast datagrams x %d sockets + %u unicast datagrams, from %s", total_mc, NRECV, total_uc,
         seqcast_addr_format(&src, (char[64]){0}, 64));
    print_stats(transport_name(transport), r);

    seqcast_receiver_destroy(r);
    seqcast_sender_destroy(snd);
    for (int i = 0; i <= NRECV; i++)
        seqcast_socket_close(fds[i]);
    seqcast_socket_close(sfd);
}

int main(void)
{
    run(SEQCAST_TRANSPORT_IO_URING);
    run(SEQCAST_TRANSPORT_MMSG);
    return 0;
}
