// The packet engine's C surface: io_uring (liburing) and sendmmsg/recvmmsg batched UDP with
// GSO/GRO, multicast socket set-up, thread pinning and futex waits.
//
// Swift sees only this header: plain functions, POD structs and opaque handles. liburing.h is
// included in the .c files alone, because it defines _GNU_SOURCE before the system headers and
// a module built that way clashes with Swift's Glibc module; its CQ iteration and CPU_SET are
// function-like macros Swift cannot import, and the GNU-only calls (pthread_setaffinity_np,
// sched_getcpu) are invisible through Swift's Glibc. See ../../../README.md (CSources).
#ifndef SEQCAST_SHIM_H
#define SEQCAST_SHIM_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- addresses ---------------------------------------------------------------------------
/// An IPv4 or IPv6 UDP address, independent of sockaddr layouts (which Swift handles badly).
/// `family` is 4 or 6; IPv4 uses the first 4 bytes of `ip`; all fields in host order except
/// `ip`, which is network order (as written: 127.0.0.1 is {127,0,0,1}).
typedef struct seqcast_addr {
    uint8_t family;
    uint8_t reserved;
    uint16_t port;
    uint32_t scope_id;
    uint8_t ip[16];
} seqcast_addr;

/// Parses "1.2.3.4" or "ff02::1" (no port) into *out with `port`. 0 on success, -EINVAL.
int seqcast_addr_parse(const char *text, uint16_t port, seqcast_addr *out);
/// Formats as "ip:port" or "[ip]:port" into buf. Returns buf.
const char *seqcast_addr_format(const seqcast_addr *a, char *buf, size_t len);
/// if_nametoindex; 0 if unknown.
unsigned seqcast_ifindex(const char *name);

// ---- sockets -----------------------------------------------------------------------------
/// Opens a non-blocking UDP socket of a's family bound to `bind` (reuse: SO_REUSEADDR, so
/// several processes on one host can bind the same multicast group and port), asks for
/// `buffer_bytes` send and receive buffers (SO_*BUFFORCE as root, else SO_*BUF), turns UDP_GRO
/// on (if `gro`), IP_MULTICAST_ALL / IPV6_MULTICAST_ALL off. Returns the fd or -errno.
int seqcast_socket_open(const seqcast_addr *bind, int reuse, int buffer_bytes, int gro);
/// Joins `group` on the interface (IPv4: by `iface` address; IPv6: by ifindex). 0 or -errno.
int seqcast_socket_join(int fd, const seqcast_addr *group, const seqcast_addr *iface, unsigned ifindex);
/// Outgoing multicast: interface (IPv4 address / IPv6 ifindex), TTL (hops), loopback on. 0 or -errno.
int seqcast_socket_multicast_out(int fd, const seqcast_addr *iface, unsigned ifindex, int ttl);
/// The address the socket is bound to (to learn an ephemeral port). 0 or -errno.
int seqcast_socket_local(int fd, seqcast_addr *out);
void seqcast_socket_close(int fd);

// ---- transports --------------------------------------------------------------------------
enum {
    SEQCAST_TRANSPORT_AUTO = 0,     // io_uring if it sets up, else the fallback (logged once by the caller)
    SEQCAST_TRANSPORT_IO_URING = 1,
    SEQCAST_TRANSPORT_MMSG = 2,     // sendmmsg / poll + recvmmsg
};

/// What a create call chose, and why it fell back (empty reason if it did not).
typedef struct seqcast_status {
    int32_t transport;  // SEQCAST_TRANSPORT_IO_URING or SEQCAST_TRANSPORT_MMSG, 0 on failure
    int32_t error;      // -errno of the io_uring set-up that failed (or of the whole create)
    char reason[160];
} seqcast_status;

// ---- sending -----------------------------------------------------------------------------
/// One send: `len` bytes at `data` to `dest`. With `segment` > 0 and len > segment the kernel
/// splits it into datagrams of `segment` bytes, the last shorter (UDP GSO); at most 64
/// segments. `result` is filled with bytes sent or -errno.
typedef struct seqcast_send {
    const void *data;
    uint32_t len;
    uint16_t segment;
    uint16_t reserved;
    seqcast_addr dest;
    int32_t result;
    uint32_t reserved2;
} seqcast_send;

typedef struct seqcast_sender seqcast_sender;
/// A sender for one thread (io_uring rings are created SINGLE_ISSUER|DEFER_TASKRUN where the
/// kernel has them, never SQPOLL). `batch_max`: most sends per call.
seqcast_sender *seqcast_sender_create(int transport, unsigned batch_max, seqcast_status *status);
void seqcast_sender_destroy(seqcast_sender *s);
/// Sends sends[0..n) from fd in one batch (one io_uring_enter or one sendmmsg per batch_max),
/// waiting until the kernel has taken them all. Returns how many succeeded (result >= 0).
int seqcast_sender_send(seqcast_sender *s, int fd, seqcast_send *sends, unsigned n);

// ---- receiving ---------------------------------------------------------------------------
/// One received datagram (GRO super-packets are already split into their segments).
/// `data` stays valid until the next seqcast_receiver_poll or _destroy.
typedef struct seqcast_datagram {
    const void *data;
    uint32_t len;
    uint32_t tag;       // the tag given with the socket
    seqcast_addr from;
} seqcast_datagram;

typedef struct seqcast_receiver_stats {
    uint64_t datagrams;      // segments handed out
    uint64_t superpackets;   // receive completions / recvmmsg entries (GRO coalesces many)
    uint64_t truncated;      // dropped: larger than a buffer (MSG_TRUNC)
    uint64_t rearms;         // multishot ended (e.g. -ENOBUFS) and was armed again
    uint64_t no_buffers;     // completions that reported -ENOBUFS
    uint64_t errors;         // other receive errors
    uint64_t waits;          // times the caller blocked in the kernel
} seqcast_receiver_stats;

typedef struct seqcast_receiver seqcast_receiver;
/// A receiver for one thread over `nfds` sockets. io_uring: one multishot RECVMSG per socket
/// over a provided-buffer ring of `buffers` (power of two) buffers of `buffer_bytes` (at least
/// 65536 + headers, so a whole GRO super-packet fits). Fallback: poll + recvmmsg into the same
/// number of buffers.
seqcast_receiver *seqcast_receiver_create(int transport, const int *fds, const uint32_t *tags, unsigned nfds,
                                          unsigned buffers, unsigned buffer_bytes, seqcast_status *status);
void seqcast_receiver_destroy(seqcast_receiver *r);
/// Hands out up to `max` datagrams. Waits at most timeout_ns for the first (0: do not block;
/// negative: wait forever). Returns the count (0 on timeout) or -errno. Buffers handed out by
/// the previous call are recycled first.
int seqcast_receiver_poll(seqcast_receiver *r, seqcast_datagram *out, unsigned max, int64_t timeout_ns);
void seqcast_receiver_stats_get(const seqcast_receiver *r, seqcast_receiver_stats *out);

// ---- threads, CPUs, NUMA, waiting ----------------------------------------------------------
/// Pins the calling thread to `cpu` and prefers its NUMA node (a no-op for NUMA with one node). 0 or errno.
int seqcast_pin_current_thread(int cpu);
int seqcast_online_cpus(void);
/// NUMA nodes (1 where libnuma reports none).
int seqcast_numa_nodes(void);
int seqcast_current_cpu(void);
/// CLOCK_MONOTONIC in nanoseconds.
uint64_t seqcast_monotonic_ns(void);
/// futex wait while *word == expected, at most timeout_ns (negative: forever). 0, or -errno (-ETIMEDOUT, -EAGAIN).
int seqcast_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);
/// Wakes up to `count` waiters on word.
int seqcast_futex_wake(uint32_t *word, int count);
/// Atomically adds 1 to *word (sequentially consistent) and returns the new value; a futex
/// word shared between threads is written only through this and read through the next.
uint32_t seqcast_atomic_increment_u32(uint32_t *word);
uint32_t seqcast_atomic_load_u32(const uint32_t *word);
/// A CPU pause for spin loops.
void seqcast_cpu_relax(void);

// ---- checksums ------------------------------------------------------------------------------
/// CRC32C (Castagnoli, reflected, as in iSCSI/ext4) of `len` bytes, continuing from `crc` (0 to
/// start; the result of one call feeds the next). SSE4.2's crc32 instruction where the CPU has
/// it (checked once), a table otherwise; both give the same value.
uint32_t seqcast_crc32c(uint32_t crc, const void *data, size_t len);
/// 1 if the hardware path is in use.
int seqcast_crc32c_hardware(void);

#ifdef __cplusplus
}
#endif
#endif
