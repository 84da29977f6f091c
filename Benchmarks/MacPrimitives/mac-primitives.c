// Datagram tag candidates on this machine (issue 14; the table in THREAT.md): ns per tag for an
// 88-byte and a 1472-byte datagram, each from a precomputed key and no allocation per tag where
// the library allows it, and Ed25519 sign/verify for the signature question. Built and run by
// scripts/bench-mac (libsodium's candidates only when its headers are installed).
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "seqcast_mac.h"
#include <openssl/cmac.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#ifdef HAVE_SODIUM
#include <sodium.h>
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static unsigned char key[32] = {1, 2, 3}, buf[2048], out[64], iv[12];
enum { N = 1000000 };

static void report(const char *name, size_t n, double seconds, int count) {
    printf("%5zu B  %-34s %8.1f ns\n", n, name, seconds / count * 1e9);
}

static void hmac_openssl(size_t n) {
    SHA256_CTX ipad, opad;
    unsigned char block[64] = {0}, pad[64];
    memcpy(block, key, 32);
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
    SHA256_Init(&ipad);
    SHA256_Update(&ipad, pad, 64);
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
    SHA256_Init(&opad);
    SHA256_Update(&opad, pad, 64);
    double t = now();
    for (int i = 0; i < N; i++) {
        buf[0] = (unsigned char)i;
        SHA256_CTX c = ipad;
        unsigned char d[32];
        SHA256_Update(&c, buf, n);
        SHA256_Final(d, &c);
        c = opad;
        SHA256_Update(&c, d, 32);
        SHA256_Final(out, &c);
    }
    report("HMAC-SHA-256, OpenSSL (SHA-NI)", n, now() - t, N);
}

static void cmac_openssl(size_t n) {
    CMAC_CTX *base = CMAC_CTX_new(), *work = CMAC_CTX_new();
    CMAC_Init(base, key, 16, EVP_aes_128_cbc(), NULL);
    double t = now();
    for (int i = 0; i < N; i++) {
        size_t l;
        buf[0] = (unsigned char)i;
        CMAC_CTX_copy(work, base);
        CMAC_Update(work, buf, n);
        CMAC_Final(work, out, &l);
    }
    report("AES-128-CMAC, OpenSSL", n, now() - t, N);
    CMAC_CTX_free(base);
    CMAC_CTX_free(work);
}

static void aead_aad(const char *name, const EVP_CIPHER *cipher, size_t n) {
    EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(x, cipher, NULL, key, NULL);
    double t = now();
    for (int i = 0; i < N; i++) {
        int l;
        memcpy(iv, &i, sizeof i);
        EVP_EncryptInit_ex(x, NULL, NULL, NULL, iv);
        EVP_EncryptUpdate(x, NULL, &l, buf, (int)n);
        EVP_EncryptFinal_ex(x, out, &l);
        EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, out);
    }
    report(name, n, now() - t, N);
    EVP_CIPHER_CTX_free(x);
}

// What the datagrams carry (CSources/CSeqcastMAC/gmac.c), and a subkey derivation (once per
// sender incarnation, or per datagram claiming an incarnation not cached).
static void shipped_gmac(size_t n) {
    seqcast_gmac *g = seqcast_gmac_new();
    seqcast_mac_key master;
    seqcast_mac_key_init(&master, key);
    seqcast_gmac_derive_key(g, &master, buf, 32);
    double t = now();
    for (int i = 0; i < N; i++) {
        buf[0] = (unsigned char)i;
        seqcast_gmac_tag(g, (uint64_t)i, buf, n, out);
    }
    report("GMAC, seqcast_gmac_tag (shipped)", n, now() - t, N);
    if (n == 88) {
        enum { D = 200000 };
        t = now();
        for (int i = 0; i < D; i++) {
            buf[24] = (unsigned char)i;
            seqcast_gmac_derive_key(g, &master, buf, 32);
        }
        report("subkey derivation (HMAC + AES key)", 32, now() - t, D);
    }
    seqcast_gmac_free(g);
}

#ifdef HAVE_SODIUM
static void sodium_candidates(size_t n) {
    crypto_auth_hmacsha256_state hs;
    crypto_auth_hmacsha256_init(&hs, key, 32);
    double t = now();
    for (int i = 0; i < N; i++) {
        buf[0] = (unsigned char)i;
        crypto_auth_hmacsha256_state s = hs;
        crypto_auth_hmacsha256_update(&s, buf, n);
        crypto_auth_hmacsha256_final(&s, out);
    }
    report("HMAC-SHA-256, libsodium", n, now() - t, N);
    crypto_generichash_state bs;
    crypto_generichash_init(&bs, key, 32, 16);
    t = now();
    for (int i = 0; i < N; i++) {
        buf[0] = (unsigned char)i;
        crypto_generichash_state s = bs;
        crypto_generichash_update(&s, buf, n);
        crypto_generichash_final(&s, out, 16);
    }
    report("keyed BLAKE2b, libsodium", n, now() - t, N);
    t = now();
    for (int i = 0; i < N; i++) {
        buf[0] = (unsigned char)i;
        crypto_shorthash_siphashx24(out, buf, n, key);
    }
    report("SipHash-2-4-128, libsodium", n, now() - t, N);
}
#endif

static void ed25519(void) {
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    EVP_PKEY_keygen_init(pc);
    EVP_PKEY_keygen(pc, &k);
    unsigned char m[200] = {1}, sig[64];
    size_t sl = 64;
    enum { S = 20000 };
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    double t = now();
    for (int i = 0; i < S; i++) {
        m[0] = (unsigned char)i;
        EVP_DigestSignInit(c, NULL, NULL, NULL, k);
        sl = 64;
        EVP_DigestSign(c, sig, &sl, m, sizeof m);
    }
    printf("  200 B  %-34s %8.1f us\n", "Ed25519 sign, OpenSSL", (now() - t) / S * 1e6);
    int ok = 0;
    t = now();
    for (int i = 0; i < S; i++) {
        EVP_DigestVerifyInit(c, NULL, NULL, NULL, k);
        ok += EVP_DigestVerify(c, sig, sl, m, sizeof m);
    }
    printf("  200 B  %-34s %8.1f us (%d verified)\n", "Ed25519 verify, OpenSSL", (now() - t) / S * 1e6, ok);
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(pc);
}

int main(void) {
#ifdef HAVE_SODIUM
    if (sodium_init() < 0) return 1;
#endif
    size_t sizes[] = {88, 1472};
    for (int s = 0; s < 2; s++) {
        size_t n = sizes[s];
        hmac_openssl(n);
        shipped_gmac(n);
        cmac_openssl(n);
        aead_aad("AES-128-GCM, associated data only", EVP_aes_128_gcm(), n);
        aead_aad("ChaCha20-Poly1305, assoc. data only", EVP_chacha20_poly1305(), n);
#ifdef HAVE_SODIUM
        sodium_candidates(n);
#endif
    }
    ed25519();
    return 0;
}
