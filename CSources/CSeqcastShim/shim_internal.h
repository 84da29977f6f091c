// Internal helpers shared by the shim's .c files. Not part of the public (Swift-visible) header.
// Every .c file defines _GNU_SOURCE before its first include, so this header may use GNU APIs.
#ifndef SEQCAST_SHIM_INTERNAL_H
#define SEQCAST_SHIM_INTERNAL_H

#include <stddef.h>
#include <sys/socket.h>
#include "seqcast_shim.h"

/// seqcast_addr -> sockaddr_in / sockaddr_in6. Returns the sockaddr length, or 0 for a bad family.
socklen_t seqcast_addr_to_sockaddr(const seqcast_addr *a, struct sockaddr_storage *ss);
/// sockaddr_in / sockaddr_in6 -> seqcast_addr. 0, or -EAFNOSUPPORT (out zeroed).
int seqcast_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, seqcast_addr *out);

/// Fills a status (transport, error, printf-style reason). status may be NULL.
void seqcast_status_set(seqcast_status *status, int transport, int error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/// Rounds up to a power of two (0 -> 1).
unsigned seqcast_pow2_ceil(unsigned v);

/// Ring set-up flags the shim tries first; the retry drops them on -EINVAL.
/// Rings start disabled (IORING_SETUP_R_DISABLED) so that SINGLE_ISSUER binds them to the
/// thread of the first send/poll, not to the thread that created them.
int seqcast_ring_init(void *ring /* struct io_uring * */, unsigned entries, unsigned cq_entries,
                      int *needs_enable);
/// Enables a ring created with IORING_SETUP_R_DISABLED (binds SINGLE_ISSUER to the caller).
int seqcast_ring_enable(void *ring /* struct io_uring * */);

#endif
