/* codec.c — page compression for Parquet: UNCOMPRESSED, SNAPPY (raw snappy),
 * GZIP (a gzip member; zlib streams are accepted too), ZSTD and LZ4_RAW (one
 * LZ4 block). Calls the libraries directly until src/base/compress.h lands on
 * main; then these two functions become thin wrappers over it.
 * Decompression is bounded by the size the page header states. */
#include <limits.h>
#include <lz4.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "pq_internal.h"

static const char *codec_name(int codec)
{
	static const char *const names[] = { "UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW" };
	return codec >= 0 && codec < 8 ? names[codec] : "unknown";
}

static int gzip_compress(const void *in, size_t n, br_buf *out, int level, br_err *err)
{
	z_stream z = { 0 };
	if (deflateInit2(&z, level ? level : 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return br_errf(err, BR_ENOMEM, "gzip: deflateInit2 failed");
	size_t bound = deflateBound(&z, (uLong)n) + 32;
	uint8_t *dst = br_pq_take(out, bound);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = dst;
	z.avail_out = (uInt)bound;
	int rc = deflate(&z, Z_FINISH);
	size_t produced = bound - z.avail_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		out->len -= bound;
		return br_errf(err, BR_EIO, "gzip: deflate failed (%d)", rc);
	}
	out->len -= bound - produced;
	return 0;
}

int br_pq_compress(int codec, int level, const void *in, size_t n, br_buf *out, br_err *err)
{
	if (n > INT_MAX)
		return br_errf(err, BR_ELIMIT, "page of %zu bytes is too large", n);
	switch (codec) {
	case PQ_CODEC_UNCOMPRESSED:
		br_buf_put(out, in, n);
		return 0;
	case PQ_CODEC_ZSTD: {
		size_t bound = ZSTD_compressBound(n);
		uint8_t *dst = br_pq_take(out, bound);
		size_t r = ZSTD_compress(dst, bound, in, n, level ? level : 3);
		if (ZSTD_isError(r)) {
			out->len -= bound;
			return br_errf(err, BR_EIO, "zstd: %s", ZSTD_getErrorName(r));
		}
		out->len -= bound - r;
		return 0;
	}
	case PQ_CODEC_SNAPPY: {
		size_t bound = snappy_max_compressed_length(n), clen = bound;
		uint8_t *dst = br_pq_take(out, bound);
		if (snappy_compress(in, n, (char *)dst, &clen) != SNAPPY_OK) {
			out->len -= bound;
			return br_errf(err, BR_EIO, "snappy: compression failed");
		}
		out->len -= bound - clen;
		return 0;
	}
	case PQ_CODEC_GZIP:
		return gzip_compress(in, n, out, level, err);
	case PQ_CODEC_LZ4_RAW: {
		int bound = LZ4_compressBound((int)n);
		uint8_t *dst = br_pq_take(out, (size_t)bound);
		int r = LZ4_compress_default(in, (char *)dst, (int)n, bound);
		if (r <= 0) {
			out->len -= (size_t)bound;
			return br_errf(err, BR_EIO, "lz4: compression failed");
		}
		out->len -= (size_t)(bound - r);
		return 0;
	}
	default:
		return br_errf(err, BR_EUNSUPPORTED, "codec %s is not supported for writing", codec_name(codec));
	}
}

int br_pq_decompress(int codec, const void *in, size_t n, size_t out_len, br_buf *out, br_err *err)
{
	size_t start = out->len;
	uint8_t *dst;
	switch (codec) {
	case PQ_CODEC_UNCOMPRESSED:
		if (n != out_len)
			return br_errf(err, BR_ECORRUPT, "uncompressed page: %zu bytes, header says %zu", n, out_len);
		br_buf_put(out, in, n);
		return 0;
	case PQ_CODEC_ZSTD: {
		dst = br_pq_take(out, out_len);
		size_t r = ZSTD_decompress(dst, out_len, in, n);
		if (ZSTD_isError(r) || r != out_len) {
			out->len = start;
			return br_errf(err, BR_ECORRUPT, "zstd page: %s (expected %zu bytes)",
				       ZSTD_isError(r) ? ZSTD_getErrorName(r) : "wrong size", out_len);
		}
		return 0;
	}
	case PQ_CODEC_SNAPPY: {
		size_t ulen;
		if (snappy_uncompressed_length(in, n, &ulen) != SNAPPY_OK || ulen != out_len)
			return br_errf(err, BR_ECORRUPT, "snappy page: bad header or size (expected %zu bytes)", out_len);
		dst = br_pq_take(out, out_len);
		if (snappy_uncompress(in, n, (char *)dst, &ulen) != SNAPPY_OK || ulen != out_len) {
			out->len = start;
			return br_errf(err, BR_ECORRUPT, "snappy page: corrupt data");
		}
		return 0;
	}
	case PQ_CODEC_GZIP: {
		z_stream z = { 0 };
		if (inflateInit2(&z, 15 + 32) != Z_OK)
			return br_errf(err, BR_ENOMEM, "gzip: inflateInit2 failed");
		dst = br_pq_take(out, out_len);
		z.next_in = (Bytef *)in;
		z.avail_in = (uInt)n;
		z.next_out = dst;
		z.avail_out = (uInt)out_len;
		int rc = inflate(&z, Z_FINISH);
		size_t produced = out_len - z.avail_out;
		inflateEnd(&z);
		if (rc != Z_STREAM_END || produced != out_len) {
			out->len = start;
			return br_errf(err, BR_ECORRUPT, "gzip page: %s (expected %zu bytes)",
				       rc == Z_STREAM_END ? "wrong size" : "corrupt or truncated stream", out_len);
		}
		return 0;
	}
	case PQ_CODEC_LZ4_RAW: {
		if (n > INT_MAX || out_len > INT_MAX)
			return br_errf(err, BR_ELIMIT, "lz4 page too large");
		dst = br_pq_take(out, out_len);
		int r = LZ4_decompress_safe(in, (char *)dst, (int)n, (int)out_len);
		if (r < 0 || (size_t)r != out_len) {
			out->len = start;
			return br_errf(err, BR_ECORRUPT, "lz4_raw page: corrupt data (expected %zu bytes)", out_len);
		}
		return 0;
	}
	default:
		return br_errf(err, BR_EUNSUPPORTED, "codec %s is not supported", codec_name(codec));
	}
}
