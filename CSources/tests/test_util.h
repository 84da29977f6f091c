// Tiny assertion helpers for the shim's C tests (built by scripts/test-c).
#ifndef SEQCAST_TEST_UTIL_H
#define SEQCAST_TEST_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "seqcast_shim.h"

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                      \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define INFO(...)                                                                                  \
    do {                                                                                           \
        printf("  ");                                                                              \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        fflush(stdout);                                                                            \
    } while (0)

// A UDP port the kernel just handed out on 127.0.0.1 (and took back): very likely unused.
static inline uint16_t test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
        perror("test_free_port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static inline seqcast_addr test_addr(const char *ip, uint16_t port)
{
    seqcast_addr a;
    int rc = seqcast_addr_parse(ip, port, &a);
    CHECK(rc == 0, "parse %s: %d", ip, rc);
    return a;
}

static inline int test_addr_eq(const seqcast_addr *a, const seqcast_addr *b)
{
    size_t n = a->family == 4 ? 4 : 16;
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, n) == 0;
}

static inline const char *transport_name(int t)
{
    return t == SEQCAST_TRANSPORT_IO_URING ? "io_uring" : t == SEQCAST_TRANSPORT_MMSG ? "mmsg" : "none";
}

static inline void print_stats(const char *label, const seqcast_receiver *r)
{
    seqcast_receiver_stats st;
    seqcast_receiver_stats_get(r, &st);
    INFO("%s: datagrams=%llu superpackets=%llu truncated=%llu rearms=%llu no_buffers=%llu errors=%llu waits=%llu",
         label, (unsigned long long)st.datagrams, (unsigned long long)st.superpackets,
         (unsigned long long)st.truncated, (unsigned long long)st.rearms, (unsigned long long)st.no_buffers,
         (unsigned long long)st.errors, (unsigned long long)st.waits);
}

#endif
