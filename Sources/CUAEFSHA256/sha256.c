#include "uaef_sha256.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

bool uaef_sha256_hardware_available(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    const bool ssse3 = ecx & bit_SSSE3, sse41 = ecx & bit_SSE4_1;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    return ssse3 && sse41 && (ebx & bit_SHA);
}

/// Runs the compression function over `blocks` 64-byte blocks: four rounds per
/// SHA256RNDS2 pair, the message schedule by SHA256MSG1/MSG2 (Intel's SHA extensions guide).
__attribute__((target("sha,sse4.1,ssse3"))) static void compress(uint32_t state[8], const uint8_t *data,
                                                                 size_t blocks) {
    const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    // The state as the instructions take it: ABEF and CDGH.
    __m128i cdab = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xB1);
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1B);
    __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
    __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
    // Four rounds of group `g` on the message words `w`.
#define ROUNDS(g, w)                                                                                   \
    do {                                                                                               \
        __m128i message = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&round_constants[4 * (g)])); \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, message);                                             \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(message, 0x0E));                    \
    } while (0)
    // The words four groups on from those in `w0`, out of the four groups `w0` to `w3`.
#define SCHEDULE(w0, w1, w2, w3)                                                                       \
    w0 = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4)), w3)
    for (; blocks > 0; blocks--, data += 64) {
        const __m128i abef_before = abef, cdgh_before = cdgh;
        __m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 0)), byte_swap);
        __m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16)), byte_swap);
        __m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 32)), byte_swap);
        __m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 48)), byte_swap);
        for (int group = 0; group < 12; group += 4) {
            ROUNDS(group, w0);
            SCHEDULE(w0, w1, w2, w3);
            ROUNDS(group + 1, w1);
            SCHEDULE(w1, w2, w3, w0);
            ROUNDS(group + 2, w2);
            SCHEDULE(w2, w3, w0, w1);
            ROUNDS(group + 3, w3);
            SCHEDULE(w3, w0, w1, w2);
        }
        ROUNDS(12, w0);
        ROUNDS(13, w1);
        ROUNDS(14, w2);
        ROUNDS(15, w3);
        abef = _mm_add_epi32(abef, abef_before);
        cdgh = _mm_add_epi32(cdgh, cdgh_before);
    }
#undef ROUNDS
#undef SCHEDULE
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(feba, dchg, 0xF0));
    _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(dchg, feba, 8));
}

#else

bool uaef_sha256_hardware_available(void) { return false; }

static void compress(uint32_t state[8], const uint8_t *data, size_t blocks) {
    (void)state;
    (void)data;
    (void)blocks;
    __builtin_trap();
}

#endif

void uaef_sha256_init(uaef_sha256_context *context) {
    static const uint32_t initial[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    memcpy(context->state, initial, sizeof initial);
    context->length = 0;
}

void uaef_sha256_update(uaef_sha256_context *context, const void *data, size_t count) {
    const uint8_t *bytes = data;
    size_t buffered = context->length % 64;
    context->length += count;
    if (buffered > 0) {
        size_t take = 64 - buffered < count ? 64 - buffered : count;
        memcpy(context->buffer + buffered, bytes, take);
        bytes += take;
        count -= take;
        if (buffered + take < 64) return;
        compress(context->state, context->buffer, 1);
    }
    if (count >= 64) {
        compress(context->state, bytes, count / 64);
        bytes += count - count % 64;
        count %= 64;
    }
    memcpy(context->buffer, bytes, count);
}

void uaef_sha256_final(uaef_sha256_context *context, uint8_t digest[32]) {
    const uint64_t bits = context->length * 8;
    size_t buffered = context->length % 64;
    context->buffer[buffered++] = 0x80;
    if (buffered > 56) {
        memset(context->buffer + buffered, 0, 64 - buffered);
        compress(context->state, context->buffer, 1);
        buffered = 0;
    }
    memset(context->buffer + buffered, 0, 56 - buffered);
    for (int byte = 0; byte < 8; byte++) context->buffer[56 + byte] = (uint8_t)(bits >> (56 - 8 * byte));
    compress(context->state, context->buffer, 1);
    for (int word = 0; word < 8; word++) {
        for (int byte = 0; byte < 4; byte++) {
            digest[4 * word + byte] = (uint8_t)(context->state[word] >> (24 - 8 * byte));
        }
    }
}
