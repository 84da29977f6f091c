// Batched UDP receiving with GRO super-packets split into datagrams.
//   io_uring: ONE ring; one multishot IORING_OP_RECVMSG per socket, all selecting from one
//             provided-buffer ring (bgid 1). Ordered per socket; nothing to re-arm unless the
//             kernel ends a multishot (no buffers, CQ overflow), then it is armed again.
//   mmsg:     ppoll over the sockets, then recvmmsg(MSG_DONTWAIT) on each readable one.
// Buffers handed out by one poll are given back at the start of the next, so `data` pointers
// stay valid until then. seqcast_receiver_poll allocates nothing and logs nothing.
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shim_internal.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

enum {
    RECV_BGID = 1,
    RECV_CTL_BYTES = 64, // room for the UDP_GRO cmsg (CMSG_SPACE(sizeof(int)) = 24) and spare
    RECV_MAX_BUFFERS = 32768,
};

typedef union {
    char buf[RECV_CTL_BYTES];
    struct cmsghdr align;
} recv_cmsg;

struct seqcast_receiver {
    int transport;
    unsigned nfds;
    int *fds;
    uint32_t *tags;
    unsigned nbuf;
    unsigned buf_bytes;
    unsigned char *bufmem; // nbuf * buf_bytes
    seqcast_receiver_stats st;

    // io_uring
    int ring_ready;
    int needs_enable;
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    struct msghdr tmpl;  // multishot template: name + control sizes, no iov
    uint16_t *recycle;   // buffer ids handed out by the last poll (returned by the next)
    unsigned nrecycle;
    unsigned head_skip;  // segments of the CQ-head completion already handed out

    // mmsg
    struct mmsghdr *mm;
    struct iovec *iov;
    struct sockaddr_storage *names;
    recv_cmsg *ctl;
    unsigned *mm_fd;     // socket index per received entry
    struct pollfd *pfds;
    unsigned pend_head, pend_tail, pend_skip; // received entries not yet handed out
};

// ---- create / destroy ---------------------------------------------------------------------
static void arm(seqcast_receiver *r, unsigned idx)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) { // SQ full (it has >= nfds entries, so only if the caller never polls)
        io_uring_submit(&r->ring);
        sqe = io_uring_get_sqe(&r->ring);
        if (!sqe) {
            r->st.errors++;
            return;
        }
    }
    io_uring_prep_recvmsg_multishot(sqe, r->fds[idx], &r->tmpl, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = RECV_BGID;
    io_uring_sqe_set_data64(sqe, idx);
}

static int uring_setup(seqcast_receiver *r, const char **what)
{
    unsigned sq = seqcast_pow2_ceil(r->nfds < 4 ? 4 : r->nfds);
    unsigned cq = seqcast_pow2_ceil(2 * r->nbuf + 2 * r->nfds);
    if (cq < 2 * sq)
        cq = 2 * sq;
    if (cq > 65536)
        cq = 65536;
    *what = "io_uring_queue_init";
    int rc = seqcast_ring_init(&r->ring, sq, cq, &r->needs_enable);
    if (rc < 0)
        return rc;
    r->ring_ready = 1;

    *what = "buffer ring allocation";
    size_t br_bytes = (size_t)r->nbuf * sizeof(struct io_uring_buf);
    long page = sysconf(_SC_PAGESIZE);
    void *mem = NULL;
    if (posix_memalign(&mem, page > 0 ? (size_t)page : 4096, br_bytes) != 0)
        return -ENOMEM;
    memset(mem, 0, br_bytes);
    r->br = mem;
    r->recycle = calloc(r->nbuf, sizeof *r->recycle);
    if (!r->recycle)
        return -ENOMEM;

    *what = "io_uring_register_buf_ring";
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (unsigned long)(uintptr_t)r->br;
    reg.ring_entries = r->nbuf;
    reg.bgid = RECV_BGID;
    rc = io_uring_register_buf_ring(&r->ring, &reg, 0);
    if (rc < 0)
        return rc;
    io_uring_buf_ring_init(r->br);
    int mask = io_uring_buf_ring_mask(r->nbuf);
    for (unsigned i = 0; i < r->nbuf; i++)
        io_uring_buf_ring_add(r->br, r->bufmem + (size_t)i * r->buf_bytes, r->buf_bytes, (unsigned short)i, mask,
                              (int)i);
    io_uring_buf_ring_advance(r->br, (int)r->nbuf);

    memset(&r->tmpl, 0, sizeof r->tmpl);
    r->tmpl.msg_namelen = sizeof(struct sockaddr_storage);
    r->tmpl.msg_controllen = RECV_CTL_BYTES;
    // Queued now, submitted by the first poll (the ring may still be disabled).
    for (unsigned i = 0; i < r->nfds; i++)
        arm(r, i);
    return 0;
}

static int mmsg_setup(seqcast_receiver *r)
{
    r->mm = calloc(r->nbuf, sizeof *r->mm);
    r->iov = calloc(r->nbuf, sizeof *r->iov);
    r->names = calloc(r->nbuf, sizeof *r->names);
    r->ctl = calloc(r->nbuf, sizeof *r->ctl);
    r->mm_fd = calloc(r->nbuf, sizeof *r->mm_fd);
    r->pfds = calloc(r->nfds, sizeof *r->pfds);
    if (!r->mm || !r->iov || !r->names || !r->ctl || !r->mm_fd || !r->pfds)
        return -ENOMEM;
    for (unsigned i = 0; i < r->nbuf; i++) {
        r->iov[i].iov_base = r->bufmem + (size_t)i * r->buf_bytes;
        r->iov[i].iov_len = r->buf_bytes;
        struct msghdr *m = &r->mm[i].msg_hdr;
        m->msg_iov = &r->iov[i];
        m->msg_iovlen = 1;
        m->msg_name = &r->names[i];
        m->msg_control = r->ctl[i].buf;
    }
    for (unsigned i = 0; i < r->nfds; i++) {
        r->pfds[i].fd = r->fds[i];
        r->pfds[i].events = POLLIN;
    }
    return 0;
}

static void release_uring(seqcast_receiver *r)
{
    if (r->ring_ready)
        io_uring_queue_exit(&r->ring); // cancels the multishots, drops the buffer ring
    r->ring_ready = 0;
    free(r->br);
    r->br = NULL;
    free(r->recycle);
    r->recycle = NULL;
}

void seqcast_receiver_destroy(seqcast_receiver *r)
{
    if (!r)
        return;
    release_uring(r);
    free(r->mm);
    free(r->iov);
    free(r->names);
    free(r->ctl);
    free(r->mm_fd);
    free(r->pfds);
    free(r->bufmem);
    free(r->fds);
    free(r->tags);
    free(r);
}

seqcast_receiver *seqcast_receiver_create(int transport, const int *fds, const uint32_t *tags, unsigned nfds,
                                          unsigned buffers, unsigned buffer_bytes, seqcast_status *status)
{
    seqcast_status_set(status, 0, 0, NULL);
    unsigned overhead = (unsigned)(sizeof(struct io_uring_recvmsg_out) + sizeof(struct sockaddr_storage)) +
                        RECV_CTL_BYTES;
    if (transport < SEQCAST_TRANSPORT_AUTO || transport > SEQCAST_TRANSPORT_MMSG || !fds || nfds == 0 ||
        buffers == 0 || buffers > RECV_MAX_BUFFERS || buffer_bytes <= overhead) {
        seqcast_status_set(status, 0, -EINVAL,
                           "invalid receiver arguments (need sockets, 1..%u buffers, buffer_bytes > %u)",
                           RECV_MAX_BUFFERS, overhead);
        return NULL;
    }
    if (transport != SEQCAST_TRANSPORT_MMSG && (buffers & (buffers - 1))) {
        seqcast_status_set(status, 0, -EINVAL, "buffers must be a power of two (got %u)", buffers);
        return NULL;
    }
    seqcast_receiver *r = calloc(1, sizeof *r);
    if (!r)
        goto nomem;
    r->nfds = nfds;
    r->nbuf = buffers;
    r->buf_bytes = buffer_bytes;
    r->fds = calloc(nfds, sizeof *r->fds);
    r->tags = calloc(nfds, sizeof *r->tags);
    void *mem = NULL;
    if (!r->fds || !r->tags || posix_memalign(&mem, 4096, (size_t)buffers * buffer_bytes) != 0)
        goto nomem;
    r->bufmem = mem;
    for (unsigned i = 0; i < nfds; i++) {
        r->fds[i] = fds[i];
        r->tags[i] = tags ? tags[i] : i;
    }

    int io_err = 0;
    const char *what = "";
    if (transport != SEQCAST_TRANSPORT_MMSG) {
        io_err = uring_setup(r, &what);
        if (io_err == 0) {
            r->transport = SEQCAST_TRANSPORT_IO_URING;
            seqcast_status_set(status, r->transport, 0, NULL);
            return r;
        }
        release_uring(r);
        if (transport == SEQCAST_TRANSPORT_IO_URING) {
            seqcast_status_set(status, 0, io_err, "io_uring unavailable (%s: %s)", what, strerror(-io_err));
            seqcast_receiver_destroy(r);
            return NULL;
        }
    }
    int rc = mmsg_setup(r);
    if (rc < 0)
        goto nomem;
    r->transport = SEQCAST_TRANSPORT_MMSG;
    if (io_err)
        seqcast_status_set(status, r->transport, io_err, "io_uring unavailable (%s: %s); using sendmmsg/recvmmsg",
                           what, strerror(-io_err));
    else
        seqcast_status_set(status, r->transport, 0, NULL);
    return r;
nomem:
    seqcast_status_set(status, 0, -ENOMEM, "out of memory");
    seqcast_receiver_destroy(r);
    return NULL;
}

void seqcast_receiver_stats_get(const seqcast_receiver *r, seqcast_receiver_stats *out)
{
    if (r && out)
        *out = r->st;
}

// ---- splitting ------------------------------------------------------------------------------
// Segments of a payload of `len` bytes with GRO size `gso` (0: not coalesced).
static inline unsigned segments_of(unsigned len, unsigned gso)
{
    if (gso == 0 || len <= gso)
        return 1;
    return (len + gso - 1) / gso;
}

// Emits segments [*skip, nseg) of one payload while room remains. Returns 1 if all were emitted.
static inline int emit(seqcast_receiver *r, seqcast_datagram *out, unsigned max, unsigned *count,
                       const unsigned char *payload, unsigned len, unsigned gso, uint32_t tag,
                       const seqcast_addr *from, unsigned *skip)
{
    unsigned nseg = segments_of(len, gso);
    unsigned seg = nseg == 1 ? len : gso;
    unsigned k = *skip;
    for (; k < nseg && *count < max; k++) {
        unsigned off = k * seg;
        seqcast_datagram *d = &out[(*count)++];
        d->data = payload + off;
        d->len = len - off < seg ? len - off : seg;
        d->tag = tag;
        d->from = *from;
    }
    r->st.datagrams += k - *skip;
    if (k < nseg) {
        *skip = k;
        return 0;
    }
    *skip = 0;
    return 1;
}

// ---- io_uring poll --------------------------------------------------------------------------
static int uring_poll(seqcast_receiver *r, seqcast_datagram *out, unsigned max, int64_t timeout_ns)
{
    struct io_uring *ring = &r->ring;
    if (r->needs_enable) {
        int rc = seqcast_ring_enable(ring); // binds SINGLE_ISSUER to this thread
        if (rc < 0)
            return rc;
        r->needs_enable = 0;
    }
    if (r->nrecycle) {
        int mask = io_uring_buf_ring_mask(r->nbuf);
        for (unsigned k = 0; k < r->nrecycle; k++) {
            uint16_t bid = r->recycle[k];
            io_uring_buf_ring_add(r->br, r->bufmem + (size_t)bid * r->buf_bytes, r->buf_bytes, bid, mask, (int)k);
        }
        io_uring_buf_ring_advance(r->br, (int)r->nrecycle);
        r->nrecycle = 0;
    }
    if (max == 0)
        return 0;

    // One non-blocking enter: submits re-arms and runs deferred completions (DEFER_TASKRUN
    // posts CQEs only when this task enters the kernel, so a bare peek would see nothing).
    int rc = io_uring_submit_and_get_events(ring);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
        return rc;
    if (io_uring_cq_ready(ring) == 0 && timeout_ns != 0) {
        struct io_uring_cqe *cqe;
        r->st.waits++;
        if (timeout_ns > 0) {
            struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
            rc = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
        } else
            rc = io_uring_submit_and_wait(ring, 1);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
            return rc;
    }

    unsigned count = 0;
    struct io_uring_cqe *cqe;
    while (count < max && io_uring_peek_cqe(ring, &cqe) == 0 && cqe) {
        unsigned idx = (unsigned)io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        unsigned flags = cqe->flags;
        if (idx >= r->nfds) { // not ours (cannot happen); drop
            io_uring_cqe_seen(ring, cqe);
            continue;
        }
        if (flags & IORING_CQE_F_BUFFER) {
            uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
            unsigned char *buf = r->bufmem + (size_t)bid * r->buf_bytes;
            struct io_uring_recvmsg_out *o = res > 0 ? io_uring_recvmsg_validate(buf, res, &r->tmpl) : NULL;
            if (!o) {
                if (res >= 0)
                    r->st.errors++;
            } else {
                unsigned plen = io_uring_recvmsg_payload_length(o, res, &r->tmpl);
                if ((o->flags & MSG_TRUNC) || o->payloadlen > plen) {
                    r->st.truncated++;
                } else {
                    unsigned gso = 0;
                    for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, &r->tmpl); c;
                         c = io_uring_recvmsg_cmsg_nexthdr(o, &r->tmpl, c))
                        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
                            c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                            int v;
                            memcpy(&v, CMSG_DATA(c), sizeof v);
                            gso = v > 0 ? (unsigned)v : 0;
                        }
                    unsigned nseg = segments_of(plen, gso);
                    // A super-packet that does not fit stays in the CQ for the next call; only
                    // when even an empty batch cannot hold it is it handed out in parts.
                    if (r->head_skip == 0 && count > 0 && nseg > max - count)
                        break;
                    seqcast_addr from;
                    socklen_t nl = o->namelen < r->tmpl.msg_namelen ? o->namelen : r->tmpl.msg_namelen;
                    if (seqcast_addr_from_sockaddr(io_uring_recvmsg_name(o), nl, &from) < 0)
                        memset(&from, 0, sizeof from);
                    if (!emit(r, out, max, &count, io_uring_recvmsg_payload(o, &r->tmpl), plen, gso, r->tags[idx],
                              &from, &r->head_skip))
                        break; // partly handed out: keep the CQE (and its buffer) for the next call
                    r->st.superpackets++;
                }
            }
            r->recycle[r->nrecycle++] = bid;
        } else if (res < 0) {
            if (res == -ENOBUFS)
                r->st.no_buffers++;
            else if (res != -ECANCELED)
                r->st.errors++;
        }
        if (!(flags & IORING_CQE_F_MORE)) { // the multishot ended: arm it again (submitted next call)
            r->st.rearms++;
            arm(r, idx);
        }
        io_uring_cqe_seen(ring, cqe);
    }
    return (int)count;
}

// ---- recvmmsg poll --------------------------------------------------------------------------
static unsigned mmsg_gso(struct msghdr *m)
{
    unsigned gso = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int v;
            memcpy(&v, CMSG_DATA(c), sizeof v);
            gso = v > 0 ? (unsigned)v : 0;
        }
    return gso;
}

static void mmsg_emit_pending(seqcast_receiver *r, seqcast_datagram *out, unsigned max, unsigned *count)
{
    while (r->pend_head < r->pend_tail && *count < max) {
        unsigned i = r->pend_head;
        struct msghdr *m = &r->mm[i].msg_hdr;
        if (m->msg_flags & MSG_TRUNC) {
            r->st.truncated++;
            r->pend_head++;
            continue;
        }
        unsigned len = r->mm[i].msg_len, gso = mmsg_gso(m);
        if (r->pend_skip == 0 && *count > 0 && segments_of(len, gso) > max - *count)
            return; // whole super-packets only, unless the batch is empty
        seqcast_addr from;
        if (seqcast_addr_from_sockaddr(m->msg_name, m->msg_namelen, &from) < 0)
            memset(&from, 0, sizeof from);
        if (!emit(r, out, max, count, r->iov[i].iov_base, len, gso, r->tags[r->mm_fd[i]], &from, &r->pend_skip))
            return;
        r->st.superpackets++;
        r->pend_head++;
    }
}

static int mmsg_poll(seqcast_receiver *r, seqcast_datagram *out, unsigned max, int64_t timeout_ns)
{
    unsigned count = 0;
    if (max == 0)
        return 0;
    if (r->pend_head < r->pend_tail) { // left over from the last call: hand those out first
        mmsg_emit_pending(r, out, max, &count);
        return (int)count;
    }
    struct timespec zero = {0, 0};
    int n = ppoll(r->pfds, r->nfds, &zero, NULL);
    if (n == 0 && timeout_ns != 0) {
        r->st.waits++;
        struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
        n = ppoll(r->pfds, r->nfds, timeout_ns > 0 ? &ts : NULL, NULL);
    }
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    if (n == 0)
        return 0;

    unsigned used = 0, ready = (unsigned)n;
    for (unsigned f = 0; f < r->nfds && used < r->nbuf && ready > 0; f++) {
        if (!(r->pfds[f].revents & (POLLIN | POLLERR)))
            continue;
        unsigned share = (r->nbuf - used) / ready--;
        if (share == 0)
            share = 1;
        for (unsigned i = used; i < used + share; i++) {
            r->mm[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
            r->mm[i].msg_hdr.msg_controllen = RECV_CTL_BYTES;
            r->mm[i].msg_hdr.msg_flags = 0;
        }
        int k = recvmmsg(r->fds[f], &r->mm[used], share, MSG_DONTWAIT, NULL);
        if (k < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                r->st.errors++; // e.g. ECONNREFUSED from an ICMP error on a unicast socket
            continue;
        }
        for (int j = 0; j < k; j++)
            r->mm_fd[used + (unsigned)j] = f;
        used += (unsigned)k;
    }
    r->pend_head = 0;
    r->pend_tail = used;
    r->pend_skip = 0;
    mmsg_emit_pending(r, out, max, &count);
    return (int)count;
}

int seqcast_receiver_poll(seqcast_receiver *r, seqcast_datagram *out, unsigned max, int64_t timeout_ns)
{
    if (!r || (!out && max))
        return -EINVAL;
    if (r->transport == SEQCAST_TRANSPORT_IO_URING)
        return uring_poll(r, out, max, timeout_ns);
    return mmsg_poll(r, out, max, timeout_ns);
}
