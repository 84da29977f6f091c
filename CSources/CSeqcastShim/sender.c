// Batched UDP sending: io_uring SENDMSG (one SQE per datagram/GSO super-packet, one
// io_uring_enter per batch) or sendmmsg. Everything per entry is preallocated at create time;
// seqcast_sender_send allocates nothing and logs nothing.
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shim_internal.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

// A full socket buffer is waited out briefly (at most ~5 ms), then the datagram counts as lost:
// the protocol retransmits, and a role loop must not stall on one slow socket.
enum { SEND_EAGAIN_TRIES = 5, SEND_EAGAIN_POLL_MS = 1 };

typedef union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
} gso_cmsg;

struct seqcast_sender {
    int transport;
    unsigned batch_max;
    int ring_ready;   // ring initialised
    int needs_enable; // created R_DISABLED; enabled by the first send (binds SINGLE_ISSUER)
    struct io_uring ring;
    struct mmsghdr *mm;   // msg_hdr used by both transports
    struct iovec *iov;
    struct sockaddr_storage *names;
    gso_cmsg *ctl;
    unsigned *todo;       // indices still to (re)send in the current chunk
};

seqcast_sender *seqcast_sender_create(int transport, unsigned batch_max, seqcast_status *status)
{
    seqcast_status_set(status, 0, 0, NULL);
    if (transport < SEQCAST_TRANSPORT_AUTO || transport > SEQCAST_TRANSPORT_MMSG || batch_max == 0 ||
        batch_max > 32768) {
        seqcast_status_set(status, 0, -EINVAL, "invalid transport or batch_max");
        return NULL;
    }
    seqcast_sender *s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    s->batch_max = batch_max;
    s->mm = calloc(batch_max, sizeof *s->mm);
    s->iov = calloc(batch_max, sizeof *s->iov);
    s->names = calloc(batch_max, sizeof *s->names);
    s->ctl = calloc(batch_max, sizeof *s->ctl);
    s->todo = calloc(batch_max, sizeof *s->todo);
    if (!s->mm || !s->iov || !s->names || !s->ctl || !s->todo)
        goto nomem;
    for (unsigned i = 0; i < batch_max; i++) {
        struct msghdr *m = &s->mm[i].msg_hdr;
        m->msg_iov = &s->iov[i];
        m->msg_iovlen = 1;
        m->msg_name = &s->names[i];
    }

    if (transport != SEQCAST_TRANSPORT_MMSG) {
        int rc = seqcast_ring_init(&s->ring, batch_max, 0, &s->needs_enable);
        if (rc == 0) {
            s->ring_ready = 1;
            s->transport = SEQCAST_TRANSPORT_IO_URING;
            seqcast_status_set(status, s->transport, 0, NULL);
            return s;
        }
        if (transport == SEQCAST_TRANSPORT_IO_URING) {
            seqcast_status_set(status, 0, rc, "io_uring unavailable (io_uring_queue_init: %s)", strerror(-rc));
            seqcast_sender_destroy(s);
            return NULL;
        }
        s->transport = SEQCAST_TRANSPORT_MMSG;
        seqcast_status_set(status, s->transport, rc,
                           "io_uring unavailable (io_uring_queue_init: %s); using sendmmsg/recvmmsg", strerror(-rc));
        return s;
    }
    s->transport = SEQCAST_TRANSPORT_MMSG;
    seqcast_status_set(status, s->transport, 0, NULL);
    return s;
nomem:
    seqcast_status_set(status, 0, -ENOMEM, "out of memory");
    seqcast_sender_destroy(s);
    return NULL;
}

void seqcast_sender_destroy(seqcast_sender *s)
{
    if (!s)
        return;
    if (s->ring_ready)
        io_uring_queue_exit(&s->ring);
    free(s->mm);
    free(s->iov);
    free(s->names);
    free(s->ctl);
    free(s->todo);
    free(s);
}

// Fills slot i's msghdr for one send. Returns 0 or -errno (bad address).
static int prepare(seqcast_sender *s, unsigned i, seqcast_send *x)
{
    struct msghdr *m = &s->mm[i].msg_hdr;
    socklen_t sl = seqcast_addr_to_sockaddr(&x->dest, &s->names[i]);
    if (!sl)
        return -EAFNOSUPPORT;
    m->msg_namelen = sl;
    s->iov[i].iov_base = (void *)x->data;
    s->iov[i].iov_len = x->len;
    m->msg_flags = 0;
    if (x->segment > 0 && x->len > x->segment) {
        struct cmsghdr *c = &s->ctl[i].align;
        m->msg_control = s->ctl[i].buf;
        m->msg_controllen = sizeof s->ctl[i].buf;
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t seg = x->segment;
        memcpy(CMSG_DATA(c), &seg, sizeof seg);
    } else {
        m->msg_control = NULL;
        m->msg_controllen = 0;
    }
    return 0;
}

static void wait_writable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    (void)poll(&p, 1, SEND_EAGAIN_POLL_MS);
}

// io_uring: sends x[0..n) (n <= batch_max), slot i for x[i]. -EAGAIN results are retried.
static void uring_chunk(seqcast_sender *s, int fd, seqcast_send *x, unsigned n)
{
    unsigned todo_n = 0;
    for (unsigned i = 0; i < n; i++) {
        int rc = prepare(s, i, &x[i]);
        x[i].result = rc;
        if (rc == 0)
            s->todo[todo_n++] = i;
    }
    for (int attempt = 0; todo_n > 0; attempt++) {
        unsigned queued = 0;
        for (unsigned k = 0; k < todo_n; k++) {
            struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
            if (!sqe) // cannot happen: SQ has >= batch_max entries and is empty here
                break;
            unsigned i = s->todo[k];
            // MSG_DONTWAIT: a full socket buffer completes with -EAGAIN (retried briefly below)
            // instead of io_uring parking the send until the socket drains, which would block
            // submit_and_wait, and with it the role loop, for as long as that takes.
            io_uring_prep_sendmsg(sqe, fd, &s->mm[i].msg_hdr, MSG_DONTWAIT);
            io_uring_sqe_set_data64(sqe, i);
            queued++;
        }
        int rc;
        do
            rc = io_uring_submit_and_wait(&s->ring, queued);
        while (rc == -EINTR);
        if (rc < 0) { // the ring itself failed (e.g. -EEXIST: used from a second thread)
            for (unsigned k = 0; k < todo_n; k++)
                x[s->todo[k]].result = rc;
            return;
        }
        unsigned got = 0, again = 0;
        while (got < (unsigned)rc) {
            struct io_uring_cqe *cqe;
            int w = io_uring_wait_cqe(&s->ring, &cqe);
            if (w == -EINTR)
                continue;
            if (w < 0)
                break;
            unsigned head, seen = 0;
            io_uring_for_each_cqe(&s->ring, head, cqe)
            {
                uint64_t i = io_uring_cqe_get_data64(cqe);
                if (i < n) {
                    x[i].result = cqe->res;
                    if (cqe->res == -EAGAIN)
                        s->todo[again++] = (unsigned)i; // todo[] already consumed up to here
                }
                seen++;
            }
            io_uring_cq_advance(&s->ring, seen);
            got += seen;
        }
        todo_n = again;
        if (todo_n == 0 || attempt >= SEND_EAGAIN_TRIES)
            break;
        wait_writable(fd);
    }
}

// sendmmsg: sends x[0..n) (n <= batch_max) until every entry has a result.
static void mmsg_chunk(seqcast_sender *s, int fd, seqcast_send *x, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        int rc = prepare(s, i, &x[i]);
        x[i].result = rc;
        s->todo[i] = rc == 0; // 1: still to send
    }
    unsigned i = 0;
    int eagain = 0;
    while (i < n) {
        if (!s->todo[i]) {
            i++;
            continue;
        }
        unsigned end = i + 1; // the run of sendable entries starting at i
        while (end < n && s->todo[end])
            end++;
        int sent = sendmmsg(fd, &s->mm[i], end - i, 0);
        if (sent > 0) {
            for (int k = 0; k < sent; k++) {
                x[i + k].result = (int32_t)s->mm[i + k].msg_len;
                s->todo[i + k] = 0;
            }
            i += (unsigned)sent;
            eagain = 0;
            continue;
        }
        if (sent == 0 || errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            if (++eagain <= SEND_EAGAIN_TRIES) {
                wait_writable(fd);
                continue;
            }
            x[i].result = -EAGAIN;
        } else
            x[i].result = -errno; // this entry failed; the rest go in the next sendmmsg
        s->todo[i++] = 0;
        eagain = 0;
    }
}

int seqcast_sender_send(seqcast_sender *s, int fd, seqcast_send *sends, unsigned n)
{
    if (!s || (!sends && n))
        return -EINVAL;
    if (s->needs_enable) {
        int rc = seqcast_ring_enable(&s->ring);
        if (rc < 0)
            return rc;
        s->needs_enable = 0;
    }
    for (unsigned off = 0; off < n; off += s->batch_max) {
        unsigned m = n - off < s->batch_max ? n - off : s->batch_max;
        if (s->transport == SEQCAST_TRANSPORT_IO_URING)
            uring_chunk(s, fd, sends + off, m);
        else
            mmsg_chunk(s, fd, sends + off, m);
    }
    int ok = 0;
    for (unsigned i = 0; i < n; i++)
        ok += sends[i].result >= 0;
    return ok;
}
