// HMAC-SHA-256/128 with precomputed pads (seqcast_mac.h says why this primitive).
//
// OpenSSL 3 marks the low-level SHA256_* calls deprecated in favour of EVP, but EVP_MD_CTX_copy
// of a provider digest allocates a fresh context per copy: one allocation per datagram. The
// low-level context is a plain struct that copies without allocating, and it runs the same
// assembly (SHA-NI where the CPU has it).
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "seqcast_mac.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>

typedef struct pads {
    SHA256_CTX inner;
    SHA256_CTX outer;
} pads;

_Static_assert(sizeof(pads) <= sizeof(((seqcast_mac_key *)0)->state), "seqcast_mac_key too small");

void seqcast_mac_key_init(seqcast_mac_key *k, const uint8_t key[SEQCAST_MAC_KEY_BYTES]) {
    pads *p = (pads *)k->state;
    unsigned char block[SHA256_CBLOCK];
    memset(block, 0, sizeof block);
    memcpy(block, key, SEQCAST_MAC_KEY_BYTES);  // 32 < 64: the key is used as is, zero-padded
    unsigned char pad[SHA256_CBLOCK];
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = block[i] ^ 0x36;
    SHA256_Init(&p->inner);
    SHA256_Update(&p->inner, pad, sizeof pad);
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = block[i] ^ 0x5c;
    SHA256_Init(&p->outer);
    SHA256_Update(&p->outer, pad, sizeof pad);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
}

void seqcast_mac_key_wipe(seqcast_mac_key *k) { OPENSSL_cleanse(k->state, sizeof k->state); }

static void full_tag(const seqcast_mac_key *k, const void *data, size_t len, unsigned char digest[SHA256_DIGEST_LENGTH]) {
    const pads *p = (const pads *)k->state;
    SHA256_CTX c = p->inner;
    SHA256_Update(&c, data, len);
    SHA256_Final(digest, &c);
    c = p->outer;
    SHA256_Update(&c, digest, SHA256_DIGEST_LENGTH);
    SHA256_Final(digest, &c);
    OPENSSL_cleanse(&c, sizeof c);
}

void seqcast_mac_tag(const seqcast_mac_key *k, const void *data, size_t len, uint8_t tag[SEQCAST_MAC_TAG_BYTES]) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    full_tag(k, data, len, digest);
    memcpy(tag, digest, SEQCAST_MAC_TAG_BYTES);
}

int seqcast_mac_verify(const seqcast_mac_key *k, const void *data, size_t len,
                       const uint8_t expected[SEQCAST_MAC_TAG_BYTES]) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    full_tag(k, data, len, digest);
    return CRYPTO_memcmp(digest, expected, SEQCAST_MAC_TAG_BYTES) == 0;
}

