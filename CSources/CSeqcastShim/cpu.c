// Threads, CPUs, NUMA, clocks and futex waits (GNU-only APIs Swift's Glibc module hides).
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim_internal.h"

int seqcast_pin_current_thread(int cpu)
{
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return EINVAL;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0)
        return rc;
    if (numa_available() >= 0 && numa_max_node() > 0) {
        int node = numa_node_of_cpu(cpu);
        if (node >= 0)
            numa_set_preferred(node);
    }
    return 0;
}

int seqcast_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int seqcast_numa_nodes(void)
{
    if (numa_available() < 0)
        return 1;
    int n = numa_max_node() + 1;
    return n > 0 ? n : 1;
}

int seqcast_current_cpu(void)
{
    return sched_getcpu();
}

uint64_t seqcast_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int seqcast_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
    struct timespec ts, *tp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tp = &ts; // FUTEX_WAIT takes a relative timeout
    }
    long rc = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, tp, NULL, 0);
    if (rc == 0)
        return 0;
    if (errno == EINTR)
        return 0; // a spurious wake-up; callers re-check the word anyway
    return -errno;
}

int seqcast_futex_wake(uint32_t *word, int count)
{
    long rc = syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
    return rc < 0 ? -errno : (int)rc;
}

void seqcast_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

uint32_t seqcast_atomic_increment_u32(uint32_t *word) { return __atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST); }

uint32_t seqcast_atomic_load_u32(const uint32_t *word) { return __atomic_load_n(word, __ATOMIC_SEQ_CST); }
