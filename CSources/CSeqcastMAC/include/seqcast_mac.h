// Datagram authentication tags: HMAC-SHA-256 truncated to 128 bits (RFC 2104, FIPS 198-1),
// over OpenSSL's SHA-256 (which uses the CPU's SHA extensions where it has them).
//
// Why HMAC-SHA-256 (measured on this machine, issue 14; numbers in Sources/SeqcastNode/THREAT.md):
// it is a PRF-based MAC, so a repeated packet counter or incarnation never exposes the key (a
// Wegman-Carter MAC such as GMAC or Poly1305 under a static key does), and with SHA-NI it was
// the fastest PRF-based MAC OpenSSL or libsodium offered for a 1472-byte datagram but SipHash,
// whose 128-bit variant is little analysed as a MAC.
//
// No allocation after `seqcast_mac_key_init`: the key's inner and outer padded states are
// computed once and each tag starts from a copy of them (a plain struct copy on the stack).
#ifndef SEQCAST_MAC_H
#define SEQCAST_MAC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEQCAST_MAC_TAG_BYTES 16
#define SEQCAST_MAC_KEY_BYTES 32

/// A key with its precomputed HMAC states. Opaque; large enough for two SHA256_CTX.
typedef struct seqcast_mac_key {
    _Alignas(16) unsigned char state[256];
} seqcast_mac_key;

/// Precomputes `k` from a 32-byte key.
void seqcast_mac_key_init(seqcast_mac_key *k, const uint8_t key[SEQCAST_MAC_KEY_BYTES]);

/// Overwrites the key material.
void seqcast_mac_key_wipe(seqcast_mac_key *k);

/// The first 16 bytes of HMAC-SHA-256(key, data[0..<len]) into `tag`.
void seqcast_mac_tag(const seqcast_mac_key *k, const void *data, size_t len, uint8_t tag[SEQCAST_MAC_TAG_BYTES]);

/// 1 when the tag of data[0..<len] equals `expected`, compared in constant time; else 0.
int seqcast_mac_verify(const seqcast_mac_key *k, const void *data, size_t len,
                       const uint8_t expected[SEQCAST_MAC_TAG_BYTES]);


#ifdef __cplusplus
}
#endif

#endif
