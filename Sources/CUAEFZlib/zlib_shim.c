#include "uaef_zlib.h"

#include <limits.h>
#include <zlib.h>

/// Points `stream` at `input` and `output`.
static void uaef_zlib_buffers(z_stream *stream, const uint8_t *input, size_t input_length, uint8_t *output,
                              size_t output_capacity) {
    stream->next_in = (Bytef *)input;
    stream->avail_in = (uInt)input_length;
    stream->next_out = output;
    stream->avail_out = (uInt)output_capacity;
}

long uaef_inflate_raw(const uint8_t *input, size_t input_length, uint8_t *output, size_t output_capacity) {
    if (input_length > UINT_MAX || output_capacity > UINT_MAX) return -2;
    z_stream stream = {0};
    if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) return -1;
    uaef_zlib_buffers(&stream, input, input_length, output, output_capacity);
    int status = inflate(&stream, Z_FINISH);
    long written = (long)stream.total_out;
    inflateEnd(&stream);
    if (status == Z_STREAM_END) return written;
    if (status == Z_BUF_ERROR && stream.avail_out == 0) return -2;
    if (status == Z_BUF_ERROR) return -3;
    return -1;
}

long uaef_deflate_raw(const uint8_t *input, size_t input_length, uint8_t *output, size_t output_capacity) {
    if (input_length > UINT_MAX || output_capacity > UINT_MAX) return -1;
    z_stream stream = {0};
    if (deflateInit2(&stream, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
    uaef_zlib_buffers(&stream, input, input_length, output, output_capacity);
    int status = deflate(&stream, Z_FINISH);
    long written = (long)stream.total_out;
    deflateEnd(&stream);
    return status == Z_STREAM_END ? written : -1;
}

size_t uaef_deflate_bound(size_t input_length) {
    z_stream stream = {0};
    if (deflateInit2(&stream, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return input_length + 1024;
    size_t bound = deflateBound(&stream, (uLong)input_length);
    deflateEnd(&stream);
    return bound;
}
