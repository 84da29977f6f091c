// futex_pin: futex wait times out with -ETIMEDOUT, -EAGAIN on a changed word, a wake from
// another thread releases a waiter; pinning to CPU 0 then seqcast_current_cpu() == 0.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "test_util.h"

static _Atomic uint32_t word;
static atomic_int woke;

static void *waker(void *p)
{
    (void)p;
    struct timespec ts = {0, 30000000};
    nanosleep(&ts, NULL);
    atomic_store(&word, 1);
    atomic_store(&woke, seqcast_futex_wake((uint32_t *)&word, 1));
    return NULL;
}

int main(void)
{
    uint64_t t0 = seqcast_monotonic_ns();
    int rc = seqcast_futex_wait((uint32_t *)&word, 0, 20000000);
    uint64_t dt = seqcast_monotonic_ns() - t0;
    CHECK(rc == -ETIMEDOUT, "wait: %d", rc);
    CHECK(dt >= 19000000 && dt < 1000000000, "timed out after %llu ns", (unsigned long long)dt);
    INFO("futex wait(20 ms) -> -ETIMEDOUT after %.1f ms", dt / 1e6);
    CHECK(seqcast_futex_wait((uint32_t *)&word, 5, 20000000) == -EAGAIN, "changed word -> -EAGAIN");

    pthread_t t;
    CHECK(pthread_create(&t, NULL, waker, NULL) == 0, "thread");
    t0 = seqcast_monotonic_ns();
    while (atomic_load(&word) == 0) {
        rc = seqcast_futex_wait((uint32_t *)&word, 0, -1); // forever
        CHECK(rc == 0 || rc == -EAGAIN, "wait: %d", rc);
    }
    dt = seqcast_monotonic_ns() - t0;
    pthread_join(t, NULL);
    CHECK(dt >= 20000000, "released too early (%llu ns)", (unsigned long long)dt);
    CHECK(atomic_load(&woke) <= 1, "woke %d", atomic_load(&woke));
    INFO("wake from another thread released the waiter after %.1f ms (woken: %d)", dt / 1e6, atomic_load(&woke));

    int cpus = seqcast_online_cpus(), nodes = seqcast_numa_nodes();
    CHECK(cpus >= 1 && nodes >= 1, "cpus %d nodes %d", cpus, nodes);
    for (int cpu = cpus - 1; cpu >= 0; cpu--) { // end on CPU 0
        rc = seqcast_pin_current_thread(cpu);
        CHECK(rc == 0, "pin %d: %s", cpu, strerror(rc));
        CHECK(seqcast_current_cpu() == cpu, "pinned to %d, running on %d", cpu, seqcast_current_cpu());
    }
    CHECK(seqcast_pin_current_thread(-1) == EINVAL, "bad cpu");
    for (int i = 0; i < 100; i++)
        seqcast_cpu_relax();
    INFO("online cpus %d, numa nodes %d, pinned to each; now on cpu %d", cpus, nodes, seqcast_current_cpu());
    return 0;
}
