#ifndef UAEF_SHA256_H
#define UAEF_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// SHA-256 (FIPS 180-4) on the x86-64 SHA extensions, for the ledger's millions of small
/// hashes: the state lives on the caller's stack, so a hash allocates nothing. Only for public
/// data (events, tree nodes); secrets go through swift-crypto.
typedef struct {
    uint32_t state[8];
    uint64_t length;
    uint8_t buffer[64];
} uaef_sha256_context;

/// Whether this CPU has the SHA extensions (and this build can use them). When false, the
/// functions below must not be called.
bool uaef_sha256_hardware_available(void);

void uaef_sha256_init(uaef_sha256_context *context);
void uaef_sha256_update(uaef_sha256_context *context, const void *data, size_t count);
/// Writes the 32-byte digest; the context is spent.
void uaef_sha256_final(uaef_sha256_context *context, uint8_t digest[32]);

#endif
