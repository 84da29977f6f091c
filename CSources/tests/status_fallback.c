// status_fallback: what AUTO chooses here, forced MMSG reports MMSG with an empty reason,
// invalid arguments fail with a reason, IPv4 address parse/format, and a sender/receiver
// created on one thread work from another (the rings start disabled and bind to the first user).
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "test_util.h"

typedef struct {
    seqcast_sender *snd;
    seqcast_receiver *r;
    int sfd;
    seqcast_addr dst;
    int sent, got;
} xthread;

static void *other_thread(void *p)
{
    xthread *x = p;
    static const char msg[] = "hello from another thread";
    seqcast_send s = {.data = msg, .len = sizeof msg, .dest = x->dst};
    x->sent = seqcast_sender_send(x->snd, x->sfd, &s, 1);
    seqcast_datagram d[4];
    uint64_t deadline = seqcast_monotonic_ns() + 2000000000ull;
    while (x->got == 0 && seqcast_monotonic_ns() < deadline) {
        int n = seqcast_receiver_poll(x->r, d, 4, 100000000);
        if (n < 0) {
            x->got = n;
            break;
        }
        if (n == 1 && d[0].len == sizeof msg && memcmp(d[0].data, msg, sizeof msg) == 0)
            x->got = 1;
    }
    return NULL;
}

// In a child process: io_uring_setup fails with EPERM (a seccomp filter, as under Docker's
// default profile or kernel.io_uring_disabled=2), so AUTO must fall back and forced must fail.
static int fallback_child(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "no_new_privs");
    CHECK(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0, "seccomp: %s", strerror(errno));
    seqcast_status st;
    seqcast_sender *s = seqcast_sender_create(SEQCAST_TRANSPORT_AUTO, 16, &st);
    CHECK(s && st.transport == SEQCAST_TRANSPORT_MMSG && st.error == -EPERM, "fallback sender: %d %d", st.transport,
          st.error);
    INFO("io_uring blocked: AUTO sender -> %s, error %d, reason \"%s\"", transport_name(st.transport), st.error,
         st.reason);
    CHECK(strstr(st.reason, "io_uring unavailable (io_uring_queue_init: Operation not permitted)") &&
              strstr(st.reason, "using sendmmsg/recvmmsg"),
          "reason");
    // The fallback really sends and receives.
    seqcast_addr lo = test_addr("127.0.0.1", 0), dst;
    int rfd = seqcast_socket_open(&lo, 0, 1 << 20, 1), sfd = seqcast_socket_open(&lo, 0, 0, 0);
    CHECK(rfd >= 0 && sfd >= 0 && seqcast_socket_local(rfd, &dst) == 0, "sockets");
    seqcast_receiver *r = seqcast_receiver_create(SEQCAST_TRANSPORT_AUTO, &rfd, NULL, 1, 16, 66000, &st);
    CHECK(r && st.transport == SEQCAST_TRANSPORT_MMSG && st.error == -EPERM && strstr(st.reason, "sendmmsg/recvmmsg"),
          "fallback receiver: %s", st.reason);
    static uint8_t buf[3000];
    seqcast_send x = {.data = buf, .len = sizeof buf, .segment = 1000, .dest = dst};
    CHECK(seqcast_sender_send(s, sfd, &x, 1) == 1, "send");
    seqcast_datagram d[8];
    int n = seqcast_receiver_poll(r, d, 8, 1000000000);
    CHECK(n == 3 && d[0].len == 1000 && d[2].len == 1000, "fallback receive: %d", n);
    seqcast_receiver_destroy(r);
    seqcast_sender_destroy(s);
    CHECK(!seqcast_sender_create(SEQCAST_TRANSPORT_IO_URING, 16, &st) && st.transport == 0 && st.error == -EPERM,
          "forced io_uring must fail");
    CHECK(!seqcast_receiver_create(SEQCAST_TRANSPORT_IO_URING, &rfd, NULL, 1, 16, 66000, &st) && st.error == -EPERM,
          "forced io_uring receiver must fail");
    INFO("io_uring blocked: forced IO_URING -> NULL, \"%s\"", st.reason);
    return 0;
}

int main(void)
{
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0)
        _exit(fallback_child());
    int ws;
    CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "fallback child failed");

    seqcast_status st;
    // AUTO
    seqcast_sender *s = seqcast_sender_create(SEQCAST_TRANSPORT_AUTO, 64, &st);
    CHECK(s, "auto sender: %s", st.reason);
    INFO("AUTO sender chose %s (error %d, reason \"%s\")", transport_name(st.transport), st.error, st.reason);
    CHECK(st.transport == SEQCAST_TRANSPORT_IO_URING, "io_uring works on this machine, AUTO should pick it");
    CHECK(st.reason[0] == 0 && st.error == 0, "no reason without fallback");
    seqcast_sender_destroy(s);

    seqcast_addr lo = test_addr("127.0.0.1", 0);
    int fd = seqcast_socket_open(&lo, 0, 1 << 20, 1);
    CHECK(fd >= 0, "open");
    seqcast_receiver *r = seqcast_receiver_create(SEQCAST_TRANSPORT_AUTO, &fd, NULL, 1, 16, 66000, &st);
    CHECK(r, "auto receiver: %s", st.reason);
    INFO("AUTO receiver chose %s (error %d, reason \"%s\")", transport_name(st.transport), st.error, st.reason);
    CHECK(st.transport == SEQCAST_TRANSPORT_IO_URING && st.reason[0] == 0, "AUTO receiver picks io_uring");
    seqcast_receiver_destroy(r);

    // Forced MMSG
    memset(&st, 0x55, sizeof st);
    s = seqcast_sender_create(SEQCAST_TRANSPORT_MMSG, 64, &st);
    CHECK(s && st.transport == SEQCAST_TRANSPORT_MMSG && st.error == 0 && st.reason[0] == 0, "mmsg sender status");
    seqcast_sender_destroy(s);
    memset(&st, 0x55, sizeof st);
    r = seqcast_receiver_create(SEQCAST_TRANSPORT_MMSG, &fd, NULL, 1, 10, 66000, &st); // non-power-of-two is fine
    CHECK(r && st.transport == SEQCAST_TRANSPORT_MMSG && st.error == 0 && st.reason[0] == 0, "mmsg receiver status");
    seqcast_receiver_destroy(r);
    INFO("forced MMSG: transport mmsg, empty reason");

    // Invalid arguments
    r = seqcast_receiver_create(SEQCAST_TRANSPORT_IO_URING, &fd, NULL, 1, 12, 66000, &st);
    CHECK(!r && st.transport == 0 && st.error == -EINVAL && st.reason[0], "non-power-of-two buffers rejected");
    INFO("invalid: \"%s\"", st.reason);
    r = seqcast_receiver_create(SEQCAST_TRANSPORT_IO_URING, &fd, NULL, 1, 16, 100, &st);
    CHECK(!r && st.error == -EINVAL, "tiny buffers rejected");
    CHECK(!seqcast_sender_create(7, 64, &st) && st.error == -EINVAL, "bad transport rejected");

    // IPv4 addresses
    seqcast_addr a;
    char text[64];
    CHECK(seqcast_addr_parse("239.255.77.1", 4242, &a) == 0 && a.family == 4 && a.ip[0] == 239 && a.ip[3] == 1 &&
              a.port == 4242,
          "parse v4");
    CHECK(strcmp(seqcast_addr_format(&a, text, sizeof text), "239.255.77.1:4242") == 0, "format %s", text);
    CHECK(seqcast_addr_parse("1.2.3", 1, &a) == -EINVAL && seqcast_addr_parse("nonsense", 1, &a) == -EINVAL,
          "bad v4 rejected");
    CHECK(seqcast_ifindex("lo") > 0 && seqcast_ifindex("no-such-if0") == 0, "ifindex");
    CHECK(seqcast_socket_open(&(seqcast_addr){.family = 5}, 0, 0, 0) == -EAFNOSUPPORT, "bad family");

    // Created here, used only by another thread (io_uring SINGLE_ISSUER binds at first use).
    xthread x = {0};
    x.snd = seqcast_sender_create(SEQCAST_TRANSPORT_IO_URING, 8, &st);
    CHECK(x.snd, "sender");
    x.r = seqcast_receiver_create(SEQCAST_TRANSPORT_IO_URING, &fd, NULL, 1, 16, 66000, &st);
    CHECK(x.r, "receiver");
    x.sfd = seqcast_socket_open(&lo, 0, 0, 0);
    CHECK(seqcast_socket_local(fd, &x.dst) == 0, "local");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, &x) == 0, "thread");
    pthread_join(t, NULL);
    CHECK(x.sent == 1 && x.got == 1, "cross-thread use: sent %d got %d", x.sent, x.got);
    INFO("created on the main thread, used from another: ok");
    seqcast_receiver_destroy(x.r);
    seqcast_sender_destroy(x.snd);
    seqcast_socket_close(x.sfd);
    seqcast_socket_close(fd);
    return 0;
}
