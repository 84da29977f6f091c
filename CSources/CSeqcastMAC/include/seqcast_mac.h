// Datagram authentication (issue 14; measured figures in Sources/SeqcastNode/Authentication/THREAT.md).
//
// HMAC-SHA-256 truncated to 128 bits (RFC 2104, FIPS 198-1) over OpenSSL's SHA-256 (SHA-NI where
// the CPU has it): a PRF, used to derive one GMAC subkey per sender incarnation and key class
// from a configured key, never under a static key for a nonce-based MAC.
//
// GMAC tags the datagrams: six times faster than HMAC-SHA-256 at 1472 bytes here, and safe
// because each subkey sees every nonce (the sender's datagram counter) at most once.
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

// GMAC: the datagram tags (DatagramAuthenticator). A nonce-based MAC: under one key a nonce must
// never repeat, so each key is a subkey for one sender incarnation and key class, derived with
// seqcast_mac_tag (HMAC-SHA-256, a PRF) from the configured key, and the nonce is the sender's
// datagram counter, which never repeats within an incarnation (THREAT.md, "Primitive").

#define SEQCAST_GMAC_KEY_BYTES 16

/// An AES-128 key schedule and its GHASH tables, allocated once (about 1 KiB).
typedef struct seqcast_gmac seqcast_gmac;

/// A context keyed with zeros (set a key before use); NULL when out of memory.
seqcast_gmac *seqcast_gmac_new(void);

/// Wipes and frees `g` (NULL is ignored).
void seqcast_gmac_free(seqcast_gmac *g);

/// Keys `g` (no allocation); 1 on success.
int seqcast_gmac_set_key(seqcast_gmac *g, const uint8_t key[SEQCAST_GMAC_KEY_BYTES]);

/// Keys `g` with the first 16 bytes of HMAC-SHA-256(k, info[0..<len]) (the derived key is wiped);
/// 1 on success.
int seqcast_gmac_derive_key(seqcast_gmac *g, const seqcast_mac_key *k, const void *info, size_t len);

/// The GMAC tag of data[0..<len] with the 96-bit nonce (nonce little-endian, 4 zero bytes).
void seqcast_gmac_tag(seqcast_gmac *g, uint64_t nonce, const void *data, size_t len,
                      uint8_t tag[SEQCAST_MAC_TAG_BYTES]);

/// 1 when the tag of data[0..<len] equals `expected`, compared in constant time; else 0.
int seqcast_gmac_verify(seqcast_gmac *g, uint64_t nonce, const void *data, size_t len,
                        const uint8_t expected[SEQCAST_MAC_TAG_BYTES]);

#ifdef __cplusplus
}
#endif

#endif
