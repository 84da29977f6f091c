// ipv6: a v6 unicast round trip over ::1 (GSO + plain) for both transports, plus address
// parse/format. Skips (exit 77) if the kernel has no IPv6 or ::1 is not configured.
#define _GNU_SOURCE
#include "test_util.h"

static uint8_t buf[64 * 1000];
static seqcast_datagram out[256];

static void run(int transport, const seqcast_addr *lo)
{
    int rfd = seqcast_socket_open(lo, 0, 8 << 20, 1);
    CHECK(rfd >= 0, "open receiver: %s", strerror(-rfd));
    int sfd = seqcast_socket_open(lo, 0, 8 << 20, 0);
    CHECK(sfd >= 0, "open sender: %s", strerror(-sfd));
    seqcast_addr dst, src;
    CHECK(seqcast_socket_local(rfd, &dst) == 0 && dst.family == 6 && dst.port, "receiver local");
    CHECK(seqcast_socket_local(sfd, &src) == 0 && src.family == 6, "sender local");

    seqcast_status st;
    seqcast_sender *snd = seqcast_sender_create(transport, 8, &st);
    CHECK(snd, "sender: %s", st.reason);
    uint32_t tag = 6;
    seqcast_receiver *r = seqcast_receiver_create(transport, &rfd, &tag, 1, 16, 65536 + 1024, &st);
    CHECK(r, "receiver: %s", st.reason);

    // 40 x 1000 B GSO + 1 plain 333 B datagram.
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i / 1000 + i);
    seqcast_send s[2];
    memset(s, 0, sizeof s);
    s[0] = (seqcast_send){.data = buf, .len = 40 * 1000, .segment = 1000, .dest = dst};
    s[1] = (seqcast_send){.data = buf, .len = 333, .dest = dst};
    int ok = seqcast_sender_send(snd, sfd, s, 2);
    CHECK(ok == 2, "sent %d (%d, %d)", ok, s[0].result, s[1].result);

    unsigned got = 0;
    uint64_t deadline = seqcast_monotonic_ns() + 3000000000ull;
    while (got < 41) {
        CHECK(seqcast_monotonic_ns() < deadline, "timed out with %u of 41", got);
        int n = seqcast_receiver_poll(r, out, 256, 100000000);
        CHECK(n >= 0, "poll: %s", strerror(-n));
        for (int i = 0; i < n; i++, got++) {
            const seqcast_datagram *d = &out[i];
            unsigned want_len = got < 40 ? 1000 : 333;
            const uint8_t *want = got < 40 ? buf + got * 1000 : buf;
            CHECK(d->len == want_len && memcmp(d->data, want, want_len) == 0, "datagram %u differs", got);
            char a[64], b[64];
            CHECK(test_addr_eq(&d->from, &src), "from %s want %s", seqcast_addr_format(&d->from, a, sizeof a),
                  seqcast_addr_format(&src, b, sizeof b));
            CHECK(d->tag == 6, "tag");
        }
    }
    seqcast_receiver_stats rs;
    seqcast_receiver_stats_get(r, &rs);
    CHECK(rs.superpackets == 2 && rs.datagrams == 41, "coalescing over v6");
    char a[64];
    INFO("%s: 41 datagrams from %s in %llu completions", transport_name(transport),
         seqcast_addr_format(&src, a, sizeof a), (unsigned long long)rs.superpackets);
    seqcast_receiver_destroy(r);
    seqcast_sender_destroy(snd);
    seqcast_socket_close(rfd);
    seqcast_socket_close(sfd);
}

int main(void)
{
    seqcast_addr a;
    char text[80];
    CHECK(seqcast_addr_parse("ff02::1", 9, &a) == 0 && a.family == 6 && a.ip[0] == 0xff && a.ip[15] == 1, "parse");
    CHECK(strcmp(seqcast_addr_format(&a, text, sizeof text), "[ff02::1]:9") == 0, "format %s", text);
    CHECK(seqcast_addr_parse("fe80::1%1", 5, &a) == 0 && a.scope_id == 1, "scope");
    CHECK(seqcast_addr_parse("::1:", 1, &a) == -EINVAL, "bad v6");

    seqcast_addr lo = test_addr("::1", 0);
    int fd = seqcast_socket_open(&lo, 0, 0, 0);
    if (fd < 0) {
        printf("  SKIP: cannot bind [::1]:0 (%s): no IPv6 on this kernel/host\n", strerror(-fd));
        return 77;
    }
    seqcast_socket_close(fd);
    run(SEQCAST_TRANSPORT_IO_URING, &lo);
    run(SEQCAST_TRANSPORT_MMSG, &lo);
    return 0;
}
