/* compress.c — gzip (zlib), snappy (libsnappy), lz4 (liblz4 frame + block) and
 * zstd (libzstd) behind one append-to-buffer API with bounded decompression.
 * The framings decoded here come from outside the process, so every length is
 * checked before it is trusted.
 *
 * Formats handled beyond what the libraries do themselves:
 *
 *   xerial snappy (snappy-java's SnappyOutputStream; what Java Kafka clients write):
 *     offset 0   8 bytes  magic 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00
 *     offset 8   be32     version (1)
 *     offset 12  be32     minimum compatible version (1)
 *     then blocks until the end: be32 length L, then L bytes of raw snappy.
 *     Concatenated streams repeat the 16-byte header at a block boundary; it is
 *     skipped. Input without the magic is raw snappy (what librdkafka writes).
 *
 *   gzip: one or more RFC 1952 members back to back (zlib's inflate handles one;
 *     the loop below restarts it for the next member). A zlib (RFC 1950) stream is
 *     accepted too because inflate detects it for free.
 *
 *   LZ4 frame and zstd frame: the libraries parse them; frames may be concatenated
 *     and a zstd frame may omit its content size, so both are decoded as streams
 *     into a buffer that grows up to the caller's bound.
 *
 * Cost: decompression contexts are created per call (a few µs, plus zstd's window
 * buffer); cheap next to the batch sizes Kafka uses. Cache them per thread if a
 * profile ever shows it. */
#include "base/compress.h"

#include <limits.h>
#include <lz4.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "base/util.h"

static const uint8_t xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };
enum { XERIAL_HDR = 16, XERIAL_BLOCK = 32 * 1024 }; /* snappy-java's default block size */

const char *br_codec_name(int codec)
{
	switch (codec) {
	case BR_CODEC_NONE: return "none";
	case BR_CODEC_GZIP: return "gzip";
	case BR_CODEC_SNAPPY: return "snappy";
	case BR_CODEC_LZ4: return "lz4";
	case BR_CODEC_ZSTD: return "zstd";
	default: return "?";
	}
}

int br_codec_parse(const char *name, enum br_codec *out, br_err *err)
{
	for (int c = BR_CODEC_NONE; c <= BR_CODEC_ZSTD; c++)
		if (!strcmp(name, br_codec_name(c))) {
			*out = (enum br_codec)c;
			return 0;
		}
	return br_errf(err, BR_EINVAL, "unknown compression codec '%s' (none, gzip, snappy, lz4, zstd)", name);
}

/* The largest total we may produce: max_out, plus one byte so that "exactly
 * max_out" and "more than max_out" can be told apart. */
static size_t limit_plus_one(size_t max_out) { return max_out == SIZE_MAX ? SIZE_MAX : max_out + 1; }

static int too_big(br_err *err, const char *codec, size_t max_out)
{
	return br_errf(err, BR_ELIMIT, "%s: decompressed data exceeds the limit of %zu bytes", codec, max_out);
}

/* Makes room for the next chunk of streamed output: at least 64 KiB or as much
 * as already produced (doubling), never past the bound. Returns the room. */
static size_t stream_room(br_buf *out, size_t start, size_t max_out)
{
	size_t produced = out->len - start;
	size_t cap = limit_plus_one(max_out) - produced;
	size_t want = BR_MAX(produced, (size_t)64 * 1024);
	if (want > cap)
		want = cap;
	br_buf_reserve(out, want);
	return BR_MIN(out->cap - out->len, cap);
}

/* ---- gzip ---- */

static int gzip_compress(const void *in, size_t n, br_buf *out, int level, br_err *err)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, level ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	                 Z_DEFAULT_STRATEGY) != Z_OK)
		return br_errf(err, BR_ENOMEM, "gzip: deflateInit2 failed");
	size_t start = out->len;
	const uint8_t *src = in;
	size_t left = n;
	int rc;
	do {
		/* zlib counts in uInt: feed at most 1 GiB at a time */
		if (!z.avail_in && left) {
			size_t k = BR_MIN(left, (size_t)1 << 30);
			z.next_in = (Bytef *)src;
			z.avail_in = (uInt)k;
			src += k;
			left -= k;
		}
		br_buf_reserve(out, BR_MAX(deflateBound(&z, z.avail_in), (size_t)64));
		size_t room = BR_MIN(out->cap - out->len, (size_t)1 << 30);
		z.next_out = out->p + out->len;
		z.avail_out = (uInt)room;
		rc = deflate(&z, left ? Z_NO_FLUSH : Z_FINISH);
		out->len += room - z.avail_out;
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
			deflateEnd(&z);
			out->len = start;
			return br_errf(err, BR_EINVAL, "gzip: deflate failed (%d)", rc);
		}
	} while (rc != Z_STREAM_END);
	deflateEnd(&z);
	return 0;
}

static int gzip_decompress(const uint8_t *in, size_t n, size_t max_out, br_buf *out, br_err *err)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	/* 15 + 32: a gzip or zlib header, detected by inflate */
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return br_errf(err, BR_ENOMEM, "gzip: inflateInit2 failed");
	size_t start = out->len, pos = 0;
	int ret = 0;
	for (;;) {
		size_t room = stream_room(out, start, max_out);
		if (!room) {
			ret = too_big(err, "gzip", max_out);
			break;
		}
		room = BR_MIN(room, (size_t)1 << 30);
		size_t in_chunk = BR_MIN(n - pos, (size_t)1 << 30);
		z.next_in = (Bytef *)in + pos;
		z.avail_in = (uInt)in_chunk;
		z.next_out = out->p + out->len;
		z.avail_out = (uInt)room;
		int rc = inflate(&z, Z_NO_FLUSH);
		pos += in_chunk - z.avail_in;
		out->len += room - z.avail_out;
		if (out->len - start > max_out) {
			ret = too_big(err, "gzip", max_out);
			break;
		}
		if (rc == Z_STREAM_END) {
			if (pos == n)
				break;
			/* another gzip member follows (1f 8b), else trailing garbage */
			if (n - pos >= 2 && in[pos] == 0x1f && in[pos + 1] == 0x8b && inflateReset(&z) == Z_OK)
				continue;
			ret = br_errf(err, BR_ECORRUPT, "gzip: %zu unexpected bytes after the end of the stream at byte %zu",
			              n - pos, pos);
			break;
		}
		if (rc == Z_BUF_ERROR && pos == n && z.avail_out) {
			ret = br_errf(err, BR_ECORRUPT, "gzip: input truncated after %zu bytes", n);
			break;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			ret = br_errf(err, BR_ECORRUPT, "gzip: corrupt stream near byte %zu: %s", pos,
			              z.msg ? z.msg : "inflate failed");
			break;
		}
	}
	inflateEnd(&z);
	if (ret)
		out->len = start;
	return ret;
}

/* ---- snappy ---- */

int br_snappy_compress_raw(const void *in, size_t n, br_buf *out, br_err *err)
{
	size_t bound = snappy_max_compressed_length(n);
	br_buf_reserve(out, bound);
	size_t len = bound;
	if (snappy_compress(in, n, (char *)out->p + out->len, &len) != SNAPPY_OK)
		return br_errf(err, BR_EINVAL, "snappy: compression failed");
	out->len += len;
	return 0;
}

int br_snappy_decompress_raw(const void *in, size_t n, size_t max_out, br_buf *out, br_err *err)
{
	size_t len;
	if (snappy_uncompressed_length(in, n, &len) != SNAPPY_OK)
		return br_errf(err, BR_ECORRUPT, "snappy: bad length preamble");
	if (len > max_out)
		return br_errf(err, BR_ELIMIT, "snappy: block declares %zu decompressed bytes, limit is %zu", len,
		               max_out);
	br_buf_reserve(out, BR_MAX(len, (size_t)1)); /* never a NULL base, even for empty output */
	size_t got = len;
	if (snappy_uncompress(in, n, (char *)out->p + out->len, &got) != SNAPPY_OK || got != len)
		return br_errf(err, BR_ECORRUPT, "snappy: corrupt block (%zu bytes compressed, %zu declared)", n, len);
	out->len += len;
	return 0;
}

static int xerial_compress(const uint8_t *in, size_t n, br_buf *out, br_err *err)
{
	size_t start = out->len;
	br_buf_put(out, xerial_magic, sizeof xerial_magic);
	br_buf_be32(out, 1);
	br_buf_be32(out, 1);
	for (size_t pos = 0; pos < n; pos += XERIAL_BLOCK) {
		size_t k = BR_MIN(n - pos, (size_t)XERIAL_BLOCK);
		size_t at = out->len;
		br_buf_be32(out, 0);
		int rc = br_snappy_compress_raw(in + pos, k, out, err);
		if (rc) {
			out->len = start;
			return rc;
		}
		br_wr_be32(out->p + at, (uint32_t)(out->len - at - 4));
	}
	return 0;
}

static bool is_xerial(const uint8_t *in, size_t n)
{
	return n >= XERIAL_HDR && !memcmp(in, xerial_magic, sizeof xerial_magic);
}

static int xerial_decompress(const uint8_t *in, size_t n, size_t max_out, br_buf *out, br_err *err)
{
	size_t start = out->len, pos = XERIAL_HDR;
	while (pos < n) {
		if (n - pos >= XERIAL_HDR && !memcmp(in + pos, xerial_magic, sizeof xerial_magic)) {
			pos += XERIAL_HDR;
			continue;
		}
		if (n - pos < 4) {
			out->len = start;
			return br_errf(err, BR_ECORRUPT, "snappy (xerial): truncated block length at byte %zu", pos);
		}
		uint32_t len = br_rd_be32(in + pos);
		pos += 4;
		if (len > n - pos) {
			out->len = start;
			return br_errf(err, BR_ECORRUPT,
			               "snappy (xerial): block at byte %zu claims %u bytes, only %zu remain", pos - 4,
			               len, n - pos);
		}
		int rc = br_snappy_decompress_raw(in + pos, len, max_out - (out->len - start), out, err);
		if (rc) {
			out->len = start;
			return br_errctx(err, "xerial block at byte %zu", pos - 4);
		}
		pos += len;
	}
	return 0;
}

/* ---- lz4 ---- */

static int lz4_compress(const void *in, size_t n, br_buf *out, int level, br_err *err)
{
	LZ4F_preferences_t prefs;
	memset(&prefs, 0, sizeof prefs);
	/* Java's KafkaLZ4BlockInputStream decodes each block on its own: blocks must be
	 * independent. No content size or checksum: the minimal frame every reader takes. */
	prefs.frameInfo.blockSizeID = LZ4F_max64KB;
	prefs.frameInfo.blockMode = LZ4F_blockIndependent;
	prefs.compressionLevel = level;
	size_t bound = LZ4F_compressFrameBound(n, &prefs);
	br_buf_reserve(out, bound);
	size_t r = LZ4F_compressFrame(out->p + out->len, bound, in, n, &prefs);
	if (LZ4F_isError(r))
		return br_errf(err, BR_EINVAL, "lz4: %s", LZ4F_getErrorName(r));
	out->len += r;
	return 0;
}

static int lz4_decompress(const uint8_t *in, size_t n, size_t max_out, br_buf *out, br_err *err)
{
	LZ4F_dctx *dctx;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
		return br_errf(err, BR_ENOMEM, "lz4: cannot create a decompression context");
	size_t start = out->len, pos = 0, hint = 1;
	int ret = 0;
	if (!n)
		ret = br_errf(err, BR_ECORRUPT, "lz4: empty input");
	while (!ret && pos < n) {
		size_t room = stream_room(out, start, max_out);
		if (!room) {
			ret = too_big(err, "lz4", max_out);
			break;
		}
		size_t src = n - pos, dst = room;
		hint = LZ4F_decompress(dctx, out->p + out->len, &dst, in + pos, &src, NULL);
		if (LZ4F_isError(hint)) {
			ret = br_errf(err, BR_ECORRUPT, "lz4: corrupt frame near byte %zu: %s", pos,
			              LZ4F_getErrorName(hint));
			break;
		}
		pos += src;
		out->len += dst;
		if (out->len - start > max_out)
			ret = too_big(err, "lz4", max_out);
		else if (!src && !dst && room)
			ret = br_errf(err, BR_ECORRUPT, "lz4: decoder made no progress at byte %zu", pos);
	}
	/* hint == 0 means the last frame ended exactly; anything else is a cut frame.
	 * The decoder may still hold buffered output: drain it. */
	while (!ret && hint != 0) {
		size_t room = stream_room(out, start, max_out);
		if (!room) {
			ret = too_big(err, "lz4", max_out);
			break;
		}
		size_t src = 0, dst = room;
		hint = LZ4F_decompress(dctx, out->p + out->len, &dst, in + n, &src, NULL);
		if (LZ4F_isError(hint) || !dst) {
			ret = br_errf(err, BR_ECORRUPT, "lz4: frame truncated after %zu bytes", n);
			break;
		}
		out->len += dst;
		if (out->len - start > max_out)
			ret = too_big(err, "lz4", max_out);
	}
	LZ4F_freeDecompressionContext(dctx);
	if (ret)
		out->len = start;
	return ret;
}

int br_lz4_compress_block(const void *in, size_t n, br_buf *out, br_err *err)
{
	if (n > LZ4_MAX_INPUT_SIZE)
		return br_errf(err, BR_ELIMIT, "lz4: block of %zu bytes is over LZ4's limit", n);
	int bound = LZ4_compressBound((int)n);
	br_buf_reserve(out, (size_t)bound);
	int r = LZ4_compress_default(in, (char *)out->p + out->len, (int)n, bound);
	if (r <= 0)
		return br_errf(err, BR_EINVAL, "lz4: block compression failed");
	out->len += (size_t)r;
	return 0;
}

int br_lz4_decompress_block(const void *in, size_t n, size_t out_len, br_buf *out, br_err *err)
{
	if (n > INT_MAX || out_len > INT_MAX)
		return br_errf(err, BR_ELIMIT, "lz4: block sizes %zu -> %zu over LZ4's limit", n, out_len);
	br_buf_reserve(out, BR_MAX(out_len, (size_t)1));
	int r = LZ4_decompress_safe(in, (char *)out->p + out->len, (int)n, (int)out_len);
	if (r < 0 || (size_t)r != out_len)
		return br_errf(err, BR_ECORRUPT, "lz4: corrupt block (%zu bytes, expected %zu decompressed)", n,
		               out_len);
	out->len += out_len;
	return 0;
}

/* ---- zstd ---- */

static int zstd_compress(const void *in, size_t n, br_buf *out, int level, br_err *err)
{
	size_t bound = ZSTD_compressBound(n);
	br_buf_reserve(out, bound);
	size_t r = ZSTD_compress(out->p + out->len, bound, in, n, level ? level : 3);
	if (ZSTD_isError(r))
		return br_errf(err, BR_EINVAL, "zstd: %s", ZSTD_getErrorName(r));
	out->len += r;
	return 0;
}

static int zstd_decompress(const uint8_t *in, size_t n, size_t max_out, br_buf *out, br_err *err)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	if (!d)
		return br_errf(err, BR_ENOMEM, "zstd: cannot create a decompression context");
	/* The decoder allocates the window a frame header asks for, before any output:
	 * cap it near the output bound (never below 8 MiB, which every compression
	 * level's default window fits; never above zstd's default 128 MiB), so a
	 * 20-byte hostile frame cannot make it allocate 128 MiB for a 1 MiB limit. */
	int wlog = 23;
	while (wlog < 27 && ((size_t)1 << wlog) < max_out)
		wlog++;
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, wlog);
	size_t start = out->len, hint = 1;
	unsigned long long declared = ZSTD_getFrameContentSize(in, n);
	ZSTD_inBuffer ib = { in, n, 0 };
	int ret = 0;
	if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
		if (declared > max_out)
			ret = br_errf(err, BR_ELIMIT, "zstd: frame declares %llu decompressed bytes, limit is %zu",
			              declared, max_out);
		else
			br_buf_reserve(out, (size_t)declared + 1);
	}
	if (!ret && !n)
		ret = br_errf(err, BR_ECORRUPT, "zstd: empty input");
	/* Loop until all input is consumed and the last frame is complete (hint 0);
	 * the decoder may hold output after consuming its input, so keep draining. */
	while (!ret && (ib.pos < ib.size || hint != 0)) {
		size_t room = stream_room(out, start, max_out);
		if (!room) {
			ret = too_big(err, "zstd", max_out);
			break;
		}
		ZSTD_outBuffer ob = { out->p + out->len, room, 0 };
		size_t before = ib.pos;
		hint = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(hint)) {
			if (ZSTD_getErrorCode(hint) == ZSTD_error_frameParameter_windowTooLarge)
				ret = br_errf(err, BR_ELIMIT, "zstd: frame asks for a window over 2^%d bytes (limit %zu)",
				              wlog, max_out);
			else
				ret = br_errf(err, BR_ECORRUPT, "zstd: corrupt frame near byte %zu: %s", ib.pos,
				              ZSTD_getErrorName(hint));
			break;
		}
		out->len += ob.pos;
		if (out->len - start > max_out)
			ret = too_big(err, "zstd", max_out);
		else if (hint != 0 && ib.pos == ib.size && ob.pos < ob.size)
			ret = br_errf(err, BR_ECORRUPT, "zstd: frame truncated after %zu bytes", n);
		else if (ib.pos == before && !ob.pos)
			ret = br_errf(err, BR_ECORRUPT, "zstd: decoder made no progress at byte %zu", ib.pos);
	}
	ZSTD_freeDCtx(d);
	if (ret)
		out->len = start;
	return ret;
}

/* ---- dispatch ---- */

int br_compress(enum br_codec codec, const void *in, size_t n, br_buf *out, int level, br_err *err)
{
	switch (codec) {
	case BR_CODEC_NONE: br_buf_put(out, in, n); return 0;
	case BR_CODEC_GZIP: return gzip_compress(in, n, out, level, err);
	case BR_CODEC_SNAPPY: return xerial_compress(in, n, out, err);
	case BR_CODEC_LZ4: return lz4_compress(in, n, out, level, err);
	case BR_CODEC_ZSTD: return zstd_compress(in, n, out, level, err);
	}
	return br_errf(err, BR_EUNSUPPORTED, "compression codec %d is not supported", (int)codec);
}

int br_decompress(enum br_codec codec, const void *in, size_t n, size_t max_out, br_buf *out,
                  br_err *err)
{
	switch (codec) {
	case BR_CODEC_NONE:
		if (n > max_out)
			return too_big(err, "none", max_out);
		br_buf_put(out, in, n);
		return 0;
	case BR_CODEC_GZIP: return gzip_decompress(in, n, max_out, out, err);
	case BR_CODEC_SNAPPY:
		return is_xerial(in, n) ? xerial_decompress(in, n, max_out, out, err)
		                        : br_snappy_decompress_raw(in, n, max_out, out, err);
	case BR_CODEC_LZ4: return lz4_decompress(in, n, max_out, out, err);
	case BR_CODEC_ZSTD: return zstd_decompress(in, n, max_out, out, err);
	}
	return br_errf(err, BR_EUNSUPPORTED, "compression codec %d is not supported", (int)codec);
}
