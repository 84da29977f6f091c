// io_uring set-up shared by the sender and the receiver.
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim_internal.h"

// Tries SINGLE_ISSUER|DEFER_TASKRUN (started disabled, see below), then plain rings on -EINVAL
// (kernels before 6.1). Never SQPOLL. Returns 0 or -errno of the last attempt.
//
// IORING_SETUP_R_DISABLED: with SINGLE_ISSUER the kernel binds the ring to the task that
// creates it, unless the ring starts disabled, in which case it binds to the task that enables
// it. The shim enables lazily on the first send/poll, so a sender/receiver may be created on
// one thread and then used (only) by another, which is what a Swift caller that spawns pinned
// threads does. Registration (the buffer ring) works on a disabled ring.
int seqcast_ring_init(void *ring_, unsigned entries, unsigned cq_entries, int *needs_enable)
{
    struct io_uring *ring = ring_;
    static const unsigned attempts[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        0,
    };
    int rc = -EINVAL;
    for (unsigned i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        p.flags = attempts[i];
        if (cq_entries) {
            p.flags |= IORING_SETUP_CQSIZE;
            p.cq_entries = cq_entries;
        }
        rc = io_uring_queue_init_params(entries, ring, &p);
        if (rc == 0) {
            *needs_enable = (attempts[i] & IORING_SETUP_R_DISABLED) != 0;
            return 0;
        }
        if (rc != -EINVAL)
            return rc; // EPERM (io_uring_disabled), ENOMEM, ENOSYS: no point retrying
    }
    return rc;
}

// io_uring_enable_rings() is declared by liburing 2.3 but missing from its export map
// (undefined reference at link time), so register IORING_REGISTER_ENABLE_RINGS directly.
int seqcast_ring_enable(void *ring_)
{
    struct io_uring *ring = ring_;
    long rc = syscall(__NR_io_uring_register, ring->ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    return rc < 0 ? -errno : 0;
}
