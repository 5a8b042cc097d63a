/* compress.h — the compression codecs of Kafka record batches and Parquet pages:
 * gzip, snappy (raw and the xerial framing of Java clients), lz4 (frame and raw
 * block), zstd. Every decompressor takes a bound on its output, so a small hostile
 * input cannot expand into gigabytes: past the bound it fails with BR_ELIMIT. */
#ifndef BR_COMPRESS_H
#define BR_COMPRESS_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

/* Values are Kafka's: the low 3 bits of a record batch's attributes. */
enum br_codec {
	BR_CODEC_NONE = 0,
	BR_CODEC_GZIP = 1,
	BR_CODEC_SNAPPY = 2,
	BR_CODEC_LZ4 = 3,
	BR_CODEC_ZSTD = 4,
};

/* "none", "gzip", "snappy", "lz4", "zstd"; "?" for anything else. */
const char *br_codec_name(int codec);
/* Parses one of the names above (Kafka's compression.type values); BR_EINVAL otherwise. */
int br_codec_parse(const char *name, enum br_codec *out, br_err *err);

/* Compresses in[0..n) and APPENDS the result to out. level 0 = the codec's default
 * (gzip 6, zstd 3, lz4 fast; snappy has no levels). The framing is what Kafka
 * expects: gzip member, xerial-framed snappy (as Java clients write it), LZ4 frame
 * with independent 64 KiB blocks, zstd frame with its content size. */
int br_compress(enum br_codec codec, const void *in, size_t n, br_buf *out, int level, br_err *err);

/* Decompresses in[0..n) and APPENDS the result to out; fails with BR_ELIMIT when
 * the output would exceed max_out bytes, BR_ECORRUPT on malformed or truncated
 * input. Accepts what real producers send: gzip or zlib streams (and concatenated
 * gzip members), raw or xerial-framed snappy, concatenated LZ4 / zstd frames and
 * zstd frames without a content size. On failure out->len is left unchanged. */
int br_decompress(enum br_codec codec, const void *in, size_t n, size_t max_out, br_buf *out,
                  br_err *err);

/* The raw formats Parquet uses (SNAPPY = raw snappy, LZ4_RAW = one LZ4 block).
 * Same conventions: append to out, bounded output, out->len unchanged on failure. */
int br_snappy_compress_raw(const void *in, size_t n, br_buf *out, br_err *err);
int br_snappy_decompress_raw(const void *in, size_t n, size_t max_out, br_buf *out, br_err *err);
int br_lz4_compress_block(const void *in, size_t n, br_buf *out, br_err *err);
/* An LZ4 block does not record its decompressed size: the caller passes the exact
 * size it expects (from the page header); anything else is BR_ECORRUPT. */
int br_lz4_decompress_block(const void *in, size_t n, size_t out_len, br_buf *out, br_err *err);

#endif
