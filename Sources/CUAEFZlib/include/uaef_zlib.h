#ifndef UAEF_ZLIB_H
#define UAEF_ZLIB_H

#include <stddef.h>
#include <stdint.h>

/// Inflates the raw DEFLATE stream (RFC 1951, as a ZIP entry of method 8 holds it) of `input`
/// into `output`, through the system's zlib. Returns the number of bytes written, or -1 when the
/// stream is damaged, -2 when it inflates to more than `output_capacity` bytes, -3 when it ends
/// before its last block.
long uaef_inflate_raw(const uint8_t *input, size_t input_length, uint8_t *output, size_t output_capacity);

/// Deflates `input` as a raw DEFLATE stream into `output` (level 6); returns the bytes written,
/// or -1 when `output_capacity` is too small (`uaef_deflate_bound` bytes always suffice).
long uaef_deflate_raw(const uint8_t *input, size_t input_length, uint8_t *output, size_t output_capacity);

/// The most bytes `uaef_deflate_raw` can write for `input_length` bytes.
size_t uaef_deflate_bound(size_t input_length);

#endif
