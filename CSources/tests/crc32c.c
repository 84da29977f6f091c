// crc32c: the record checksum against the standard check value ("123456789" -> 0xE3069283,
// RFC 3720 B.4's vectors), chaining (two calls equal one), and the hardware and table paths
// agreeing on every length 0..300 at every alignment 0..7. Runs itself a second time with
// SEQCAST_CRC32C_TABLE=1, so the shim's table path is checked on a CPU with SSE4.2 too.
#define _GNU_SOURCE
#include "test_util.h"

// The table path, written again here on purpose: the shim's hardware path must agree with it.
static uint32_t reference(const uint8_t *p, size_t len) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ ((c & 1) ? 0x82F63B78u : 0);
    }
    return ~c;
}

int main(int argc, char **argv) {
    (void)argc;
    CHECK(seqcast_crc32c(0, "123456789", 9) == 0xE3069283u, "check value");
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    CHECK(seqcast_crc32c(0, zeros, 32) == 0x8A9136AAu, "32 zero bytes");
    CHECK(seqcast_crc32c(0, ones, 32) == 0x62A8AB43u, "32 0xff bytes");
    uint8_t buf[320];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 31 + 7);
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len <= 300; len++) CHECK(seqcast_crc32c(0, buf + off, len) == reference(buf + off, len), "offset %zu length %zu", off, len);
    uint32_t half = seqcast_crc32c(0, buf, 100);
    CHECK(seqcast_crc32c(half, buf + 100, 200) == seqcast_crc32c(0, buf, 300), "chaining");
    printf("crc32c: ok (%s path)\n", seqcast_crc32c_hardware() ? "sse4.2" : "table");
    if (!getenv("SEQCAST_CRC32C_TABLE")) {
        fflush(stdout);
        setenv("SEQCAST_CRC32C_TABLE", "1", 1);
        execv("/proc/self/exe", argv);
        CHECK(0, "re-exec for the table path failed: %s", strerror(errno));
    }
    CHECK(!seqcast_crc32c_hardware(), "SEQCAST_CRC32C_TABLE=1 selects the table path");
    return 0;
}
