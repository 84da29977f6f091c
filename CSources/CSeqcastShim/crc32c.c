// CRC32C for the log record format (STORAGE.md): the SSE4.2 crc32 instruction eight bytes at a
// time where the CPU has it, a byte-wise table otherwise. The record checksum is computed once
// per record written and once per record recovered, so the table path is only a fallback.
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "seqcast_shim.h"

#define CRC32C_POLY_REFLECTED 0x82F63B78u

// Set up once, whichever thread asks first (the role's and a log's sync thread both may).
static uint32_t table[256];
static int hardware;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void setup(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ ((c & 1) ? CRC32C_POLY_REFLECTED : 0);
        table[i] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    hardware = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
    if (getenv("SEQCAST_CRC32C_TABLE")) hardware = 0;  // tests: the table path on any CPU
}

static uint32_t crc_table(uint32_t crc, const uint8_t *p, size_t len) {
    while (len--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const uint8_t *p, size_t len) {
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

int seqcast_crc32c_hardware(void) {
    pthread_once(&once, setup);
    return hardware;
}

uint32_t seqcast_crc32c(uint32_t crc, const void *data, size_t len) {
    pthread_once(&once, setup);
    uint32_t c = ~crc;
#if defined(__x86_64__)
    if (hardware) return ~crc_sse42(c, data, len);
#endif
    return ~crc_table(c, data, len);
}
