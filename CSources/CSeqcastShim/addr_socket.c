// Addresses and socket set-up: parse/format, open/bind, multicast join and output options.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim_internal.h"

#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

// ---- layouts Swift relies on --------------------------------------------------------------
_Static_assert(sizeof(seqcast_addr) == 24, "seqcast_addr is 24 bytes");
_Static_assert(offsetof(seqcast_addr, family) == 0, "seqcast_addr.family");
_Static_assert(offsetof(seqcast_addr, reserved) == 1, "seqcast_addr.reserved");
_Static_assert(offsetof(seqcast_addr, port) == 2, "seqcast_addr.port");
_Static_assert(offsetof(seqcast_addr, scope_id) == 4, "seqcast_addr.scope_id");
_Static_assert(offsetof(seqcast_addr, ip) == 8, "seqcast_addr.ip");

_Static_assert(sizeof(seqcast_send) == 48, "seqcast_send is 48 bytes");
_Static_assert(offsetof(seqcast_send, data) == 0, "seqcast_send.data");
_Static_assert(offsetof(seqcast_send, len) == 8, "seqcast_send.len");
_Static_assert(offsetof(seqcast_send, segment) == 12, "seqcast_send.segment");
_Static_assert(offsetof(seqcast_send, reserved) == 14, "seqcast_send.reserved");
_Static_assert(offsetof(seqcast_send, dest) == 16, "seqcast_send.dest");
_Static_assert(offsetof(seqcast_send, result) == 40, "seqcast_send.result");
_Static_assert(offsetof(seqcast_send, reserved2) == 44, "seqcast_send.reserved2");

_Static_assert(sizeof(seqcast_datagram) == 40, "seqcast_datagram is 40 bytes");
_Static_assert(offsetof(seqcast_datagram, data) == 0, "seqcast_datagram.data");
_Static_assert(offsetof(seqcast_datagram, len) == 8, "seqcast_datagram.len");
_Static_assert(offsetof(seqcast_datagram, tag) == 12, "seqcast_datagram.tag");
_Static_assert(offsetof(seqcast_datagram, from) == 16, "seqcast_datagram.from");

_Static_assert(sizeof(seqcast_status) == 168, "seqcast_status is 168 bytes");
_Static_assert(offsetof(seqcast_status, transport) == 0, "seqcast_status.transport");
_Static_assert(offsetof(seqcast_status, error) == 4, "seqcast_status.error");
_Static_assert(offsetof(seqcast_status, reason) == 8, "seqcast_status.reason");

_Static_assert(sizeof(seqcast_receiver_stats) == 56, "seqcast_receiver_stats is 7 x u64");

// ---- values the header and the shim mirror ------------------------------------------------
_Static_assert(SEQCAST_TRANSPORT_AUTO == 0 && SEQCAST_TRANSPORT_IO_URING == 1 && SEQCAST_TRANSPORT_MMSG == 2,
               "transport values are part of the Swift contract");
_Static_assert(UDP_GRO == 104 && UDP_SEGMENT == 103, "UDP_GRO / UDP_SEGMENT");
_Static_assert(IPV6_MULTICAST_ALL == 29, "IPV6_MULTICAST_ALL");
_Static_assert(SOL_UDP == IPPROTO_UDP, "SOL_UDP is IPPROTO_UDP");
_Static_assert(sizeof(((seqcast_addr *)0)->ip) == sizeof(struct in6_addr), "ip holds an in6_addr");

// ---- helpers ------------------------------------------------------------------------------
void seqcast_status_set(seqcast_status *status, int transport, int error, const char *fmt, ...)
{
    if (!status)
        return;
    status->transport = transport;
    status->error = error;
    status->reason[0] = 0;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(status->reason, sizeof status->reason, fmt, ap);
        va_end(ap);
    }
}

unsigned seqcast_pow2_ceil(unsigned v)
{
    unsigned p = 1;
    while (p < v && p < (1u << 31))
        p <<= 1;
    return p;
}

socklen_t seqcast_addr_to_sockaddr(const seqcast_addr *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (a->family == 4) {
        struct sockaddr_in *s = (struct sockaddr_in *)ss;
        s->sin_family = AF_INET;
        s->sin_port = htons(a->port);
        memcpy(&s->sin_addr, a->ip, 4);
        return sizeof *s;
    }
    if (a->family == 6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(a->port);
        s->sin6_scope_id = a->scope_id;
        memcpy(&s->sin6_addr, a->ip, 16);
        return sizeof *s;
    }
    return 0;
}

int seqcast_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, seqcast_addr *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        out->family = 4;
        out->port = ntohs(s->sin_port);
        memcpy(out->ip, &s->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        out->family = 6;
        out->port = ntohs(s->sin6_port);
        out->scope_id = s->sin6_scope_id;
        memcpy(out->ip, &s->sin6_addr, 16);
        return 0;
    }
    return -EAFNOSUPPORT;
}

// ---- addresses ----------------------------------------------------------------------------
int seqcast_addr_parse(const char *text, uint16_t port, seqcast_addr *out)
{
    if (!text || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->port = port;
    if (inet_pton(AF_INET, text, out->ip) == 1) {
        out->family = 4;
        return 0;
    }
    // IPv6, optionally with a "%scope" suffix (interface name or number) for link-local.
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    size_t n = strlen(text);
    if (n >= sizeof buf)
        return -EINVAL;
    memcpy(buf, text, n + 1);
    char *pct = strchr(buf, '%');
    if (pct) {
        *pct++ = 0;
        if (!*pct)
            return -EINVAL;
        char *end;
        unsigned long v = strtoul(pct, &end, 10);
        if (*end == 0)
            out->scope_id = (uint32_t)v;
        else if (!(out->scope_id = if_nametoindex(pct)))
            return -EINVAL;
    }
    if (inet_pton(AF_INET6, buf, out->ip) == 1) {
        out->family = 6;
        return 0;
    }
    memset(out, 0, sizeof *out);
    return -EINVAL;
}

const char *seqcast_addr_format(const seqcast_addr *a, char *buf, size_t len)
{
    if (!buf || len == 0)
        return buf;
    char ip[INET6_ADDRSTRLEN];
    if (a && a->family == 4 && inet_ntop(AF_INET, a->ip, ip, sizeof ip))
        snprintf(buf, len, "%s:%u", ip, a->port);
    else if (a && a->family == 6 && inet_ntop(AF_INET6, a->ip, ip, sizeof ip)) {
        if (a->scope_id)
            snprintf(buf, len, "[%s%%%u]:%u", ip, a->scope_id, a->port);
        else
            snprintf(buf, len, "[%s]:%u", ip, a->port);
    } else
        snprintf(buf, len, "?");
    return buf;
}

unsigned seqcast_ifindex(const char *name)
{
    return name ? if_nametoindex(name) : 0;
}

// ---- sockets ------------------------------------------------------------------------------
static int setint(int fd, int level, int opt, int value)
{
    return setsockopt(fd, level, opt, &value, sizeof value) < 0 ? -errno : 0;
}

static void set_buffer(int fd, int force_opt, int opt, int bytes)
{
    if (setint(fd, SOL_SOCKET, force_opt, bytes) < 0) // needs CAP_NET_ADMIN; ignores rmem_max
        (void)setint(fd, SOL_SOCKET, opt, bytes);     // capped at net.core.[rw]mem_max
}

int seqcast_socket_open(const seqcast_addr *bind_addr, int reuse, int buffer_bytes, int gro)
{
    if (!bind_addr)
        return -EINVAL;
    struct sockaddr_storage ss;
    socklen_t sl = seqcast_addr_to_sockaddr(bind_addr, &ss);
    if (!sl)
        return -EAFNOSUPPORT;
    int v6 = bind_addr->family == 6;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0)
        return -errno;
    int rc;
    if (reuse && (rc = setint(fd, SOL_SOCKET, SO_REUSEADDR, 1)) < 0)
        goto fail;
    if (buffer_bytes > 0) {
        set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, buffer_bytes);
        set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, buffer_bytes);
    }
    if (gro && (rc = setint(fd, SOL_UDP, UDP_GRO, 1)) < 0)
        goto fail;
    if (v6) {
        if ((rc = setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)) < 0)
            goto fail;
        (void)setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0); // kernel >= 4.20; harmless if absent
    } else if ((rc = setint(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0)) < 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
        rc = -errno;
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return rc;
}

int seqcast_socket_join(int fd, const seqcast_addr *group, const seqcast_addr *iface, unsigned ifindex)
{
    if (!group)
        return -EINVAL;
    if (group->family == 4) {
        struct ip_mreqn mr;
        memset(&mr, 0, sizeof mr);
        memcpy(&mr.imr_multiaddr, group->ip, 4);
        if (iface && iface->family == 4)
            memcpy(&mr.imr_address, iface->ip, 4);
        mr.imr_ifindex = (int)ifindex;
        return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) < 0 ? -errno : 0;
    }
    if (group->family == 6) {
        struct ipv6_mreq mr;
        memset(&mr, 0, sizeof mr);
        memcpy(&mr.ipv6mr_multiaddr, group->ip, 16);
        mr.ipv6mr_interface = ifindex ? ifindex : group->scope_id;
        return setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mr, sizeof mr) < 0 ? -errno : 0;
    }
    return -EAFNOSUPPORT;
}

int seqcast_socket_multicast_out(int fd, const seqcast_addr *iface, unsigned ifindex, int ttl)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -errno;
    int rc;
    if (ss.ss_family == AF_INET) {
        struct ip_mreqn mr;
        memset(&mr, 0, sizeof mr);
        if (iface && iface->family == 4)
            memcpy(&mr.imr_address, iface->ip, 4);
        mr.imr_ifindex = (int)ifindex;
        if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr) < 0)
            return -errno;
        if (ttl >= 0 && (rc = setint(fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl)) < 0)
            return rc;
        return setint(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 1);
    }
    if (ss.ss_family == AF_INET6) {
        if (ifindex && (rc = setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)ifindex)) < 0)
            return rc;
        if (ttl >= 0 && (rc = setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl)) < 0)
            return rc;
        return setint(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 1);
    }
    return -EAFNOSUPPORT;
}

int seqcast_socket_local(int fd, seqcast_addr *out)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!out)
        return -EINVAL;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -errno;
    return seqcast_addr_from_sockaddr((struct sockaddr *)&ss, sl, out);
}

void seqcast_socket_close(int fd)
{
    if (fd >= 0)
        close(fd);
}
