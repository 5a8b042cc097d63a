/* codec.c — page compression for Parquet, over src/base/compress.h: SNAPPY is
 * raw snappy, GZIP a gzip member (zlib streams accepted), ZSTD a zstd frame,
 * LZ4_RAW one LZ4 block. Parquet states each page's decompressed size in its
 * header, so decompression is bounded by it and must produce exactly it.
 * With a br_pq_dctx, zstd pages are decoded in one shot into the exact output
 * size by a context kept across pages: no window buffer (the output is the
 * window) and no context set up per page, which on small pages cost as much
 * as the decoding. */
#include <limits.h>

#include <zstd.h>

#include "base/compress.h"
#include "pq_internal.h"

static const char *codec_name(int codec)
{
	static const char *const names[] = { "UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW" };
	return codec >= 0 && codec < 8 ? names[codec] : "unknown";
}

int br_pq_compress(int codec, int level, const void *in, size_t n, br_buf *out, br_err *err)
{
	if (n > INT_MAX)
		return br_errf(err, BR_ELIMIT, "page of %zu bytes is too large", n);
	switch (codec) {
	case PQ_CODEC_UNCOMPRESSED:
		br_buf_put(out, in, n);
		return 0;
	case PQ_CODEC_ZSTD:
		return br_compress(BR_CODEC_ZSTD, in, n, out, level, err);
	case PQ_CODEC_GZIP:
		return br_compress(BR_CODEC_GZIP, in, n, out, level, err);
	case PQ_CODEC_SNAPPY:
		return br_snappy_compress_raw(in, n, out, err);
	case PQ_CODEC_LZ4_RAW:
		return br_lz4_compress_block(in, n, out, err);
	default:
		return br_errf(err, BR_EUNSUPPORTED, "codec %s is not supported for writing", codec_name(codec));
	}
}

void br_pq_dctx_free(br_pq_dctx *c)
{
	ZSTD_freeDCtx(c->zstd);
	c->zstd = NULL;
}

/* One-shot zstd into exactly out_len bytes: a frame that would produce more
 * fails (dstSize_tooSmall) before writing past the buffer. */
static int zstd_page(br_pq_dctx *c, const void *in, size_t n, size_t out_len, br_buf *out, br_err *err)
{
	if (!c->zstd && !(c->zstd = ZSTD_createDCtx()))
		return br_errf(err, BR_ENOMEM, "zstd: cannot create a decompression context");
	if (!n)
		return br_errf(err, BR_ECORRUPT, "zstd: empty input");
	uint8_t *dst = br_pq_take(out, out_len);
	size_t got = ZSTD_decompressDCtx(c->zstd, dst, out_len, in, n);
	out->len -= out_len;
	if (ZSTD_isError(got))
		return br_errf(err, BR_ECORRUPT, "zstd: %s", ZSTD_getErrorName(got));
	out->len += got;
	return 0;
}

int br_pq_decompress(int codec, br_pq_dctx *ctx, const void *in, size_t n, size_t out_len, br_buf *out,
		     br_err *err)
{
	size_t start = out->len;
	int rc;
	if (codec == PQ_CODEC_ZSTD && ctx)
		codec = -PQ_CODEC_ZSTD;
	switch (codec) {
	case -PQ_CODEC_ZSTD:
		rc = zstd_page(ctx, in, n, out_len, out, err);
		codec = PQ_CODEC_ZSTD;
		break;
	case PQ_CODEC_UNCOMPRESSED:
		if (n != out_len)
			return br_errf(err, BR_ECORRUPT, "uncompressed page: %zu bytes, header says %zu", n, out_len);
		br_buf_put(out, in, n);
		return 0;
	case PQ_CODEC_ZSTD:
		rc = br_decompress(BR_CODEC_ZSTD, in, n, out_len, out, err);
		break;
	case PQ_CODEC_GZIP:
		rc = br_decompress(BR_CODEC_GZIP, in, n, out_len, out, err);
		break;
	case PQ_CODEC_SNAPPY:
		rc = br_snappy_decompress_raw(in, n, out_len, out, err);
		break;
	case PQ_CODEC_LZ4_RAW:
		if (n > INT_MAX || out_len > INT_MAX)
			return br_errf(err, BR_ELIMIT, "lz4 page too large");
		rc = br_lz4_decompress_block(in, n, out_len, out, err);
		break;
	default:
		return br_errf(err, BR_EUNSUPPORTED, "codec %s is not supported", codec_name(codec));
	}
	if (rc)
		return br_errctx(err, "%s page", codec_name(codec));
	if (out->len - start != out_len) {
		size_t got = out->len - start;
		out->len = start;
		return br_errf(err, BR_ECORRUPT, "%s page: %zu bytes decompressed, header says %zu", codec_name(codec), got,
			       out_len);
	}
	return 0;
}
