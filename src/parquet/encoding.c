/* encoding.c — Parquet's integer encodings (parquet-format Encodings.md):
 * the RLE / bit-packed hybrid used for levels, dictionary indices and
 * booleans, and DELTA_BINARY_PACKED. Decoders are bounded by their input and by
 * the number of values the page header promised, so a lying page can neither
 * read outside its bytes nor spin.
 *
 * RLE / bit-packed hybrid: a sequence of runs, each starting with a ULEB128
 *   header. header & 1 == 0: an RLE run of (header >> 1) copies of one value
 *   stored in ceil(bit_width / 8) bytes little-endian. header & 1 == 1:
 *   (header >> 1) groups of 8 values bit-packed LSB first, bit_width bits
 *   each (the last group may be padded).
 * DELTA_BINARY_PACKED: header <block size> <miniblocks per block> <total
 *   count> <first value (zig-zag)>, all ULEB128; then blocks of <min delta
 *   (zig-zag)> <one bit-width byte per miniblock> <miniblocks bit-packed>.
 *   Values are first + running sum of (min delta + packed delta), with
 *   two's complement wrap-around. */
#include <string.h>

#include "pq_internal.h"

/* ------------------------------------------------------------- packing */

void br_pq_bitpack(const uint32_t *v, size_t n, int bit_width, br_buf *out)
{
	size_t groups = (n + 7) / 8;
	size_t bytes = groups * (size_t)bit_width;
	uint8_t *p = br_buf_grow(out, bytes);
	uint64_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < groups * 8; i++) {
		uint64_t x = i < n ? v[i] : 0;
		acc |= x << bits;
		bits += bit_width;
		while (bits >= 8) {
			p[o++] = (uint8_t)acc;
			acc >>= 8;
			bits -= 8;
		}
	}
}

/* Values [i, i + 8) of width W from p: each is one unaligned 64-bit load
 * shifted into place (W + 7 <= 64 bits always fit), so there is no
 * per-value branch and the compiler unrolls the group for each constant W.
 * Reads 8 bytes at the last value's byte offset: callers leave the group
 * that could reach past the input to unpack_slow. */
static inline void unpack8(const uint8_t *p, int W, uint32_t *out)
{
	const uint64_t mask = W == 32 ? 0xffffffffu : ((1u << W) - 1);
	for (int k = 0; k < 8; k++) {
		size_t bit = (size_t)k * (size_t)W;
		uint64_t x;
		memcpy(&x, p + bit / 8, 8);
		out[k] = (uint32_t)((x >> (bit % 8)) & mask);
	}
}

static void unpack_slow(const uint8_t *p, int bw, uint32_t *out, size_t n)
{
	uint64_t acc = 0, mask = (bw == 32) ? 0xffffffffu : ((1u << bw) - 1);
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		while (bits < bw) {
			acc |= (uint64_t)*p++ << bits;
			bits += 8;
		}
		out[i] = (uint32_t)(acc & mask);
		acc >>= bw;
		bits -= bw;
	}
}

/* Whole groups of 8 with a constant width: one copy of the loop per width. */
#define UNPACK_W(W) \
	case W: \
		for (size_t g = 0; g < groups; g++) \
			unpack8(p + g * W, W, out + g * 8); \
		break;

/* Unpacks n values of width bw (<= 32) from p, which holds at least
 * ceil(n * bw / 8) bytes. Groups of 8 are unpacked with 64-bit loads while at
 * least 8 bytes remain past the group's last value; the tail value by value.
 * Dictionary indices and levels pass through here: it is the inner loop of
 * a scan. */
static void unpack32(const uint8_t *p, int bw, uint32_t *out, size_t n)
{
	if (bw == 0) {
		memset(out, 0, n * sizeof *out);
		return;
	}
	size_t bytes = (n * (size_t)bw + 7) / 8;
	/* group g reads up to byte g * bw + bw + 7: keep that inside the input */
	size_t groups = n / 8;
	while (groups > 0 && groups * (size_t)bw + 8 > bytes)
		groups--;
	switch (bw) {
	UNPACK_W(1) UNPACK_W(2) UNPACK_W(3) UNPACK_W(4) UNPACK_W(5) UNPACK_W(6) UNPACK_W(7) UNPACK_W(8)
	UNPACK_W(9) UNPACK_W(10) UNPACK_W(11) UNPACK_W(12) UNPACK_W(13) UNPACK_W(14) UNPACK_W(15) UNPACK_W(16)
	UNPACK_W(17) UNPACK_W(18) UNPACK_W(19) UNPACK_W(20) UNPACK_W(21) UNPACK_W(22) UNPACK_W(23) UNPACK_W(24)
	UNPACK_W(25) UNPACK_W(26) UNPACK_W(27) UNPACK_W(28) UNPACK_W(29) UNPACK_W(30) UNPACK_W(31) UNPACK_W(32)
	default:
		groups = 0;
	}
	size_t done = groups * 8;
	unpack_slow(p + groups * (size_t)bw, bw, out + done, n - done);
}
#undef UNPACK_W

/* Same for widths up to 64 (delta encoding). */
static void unpack64(const uint8_t *p, int bw, uint64_t *out, size_t n)
{
	unsigned __int128 acc = 0;
	uint64_t mask = bw == 64 ? ~(uint64_t)0 : (((uint64_t)1 << bw) - 1);
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		while (bits < bw) {
			acc |= (unsigned __int128)*p++ << bits;
			bits += 8;
		}
		out[i] = (uint64_t)acc & mask;
		acc >>= bw;
		bits -= bw;
	}
}

/* ---------------------------------------------------------------- RLE */

static size_t run_at(const uint32_t *v, size_t n, size_t i)
{
	size_t j = i + 1;
	while (j < n && v[j] == v[i])
		j++;
	return j - i;
}

void br_pq_rle_encode(const uint32_t *v, size_t n, int bit_width, br_buf *out)
{
	size_t vbytes = (size_t)(bit_width + 7) / 8;
	size_t i = 0;
	while (i < n) {
		size_t run = run_at(v, n, i);
		if (run >= 8) {
			br_buf_uvarint(out, (uint64_t)run << 1);
			uint32_t x = v[i];
			for (size_t b = 0; b < vbytes; b++)
				br_buf_u8(out, (uint8_t)(x >> (8 * b)));
			i += run;
			continue;
		}
		/* Bit-pack groups of 8 until a run of 8 equal values starts: runs
		 * shorter than that cost more as RLE than packed. */
		size_t start = i, groups = 0;
		while (i < n) {
			i = BR_MIN(i + 8, n);
			groups++;
			if (i >= n || run_at(v, n, i) >= 8)
				break;
		}
		br_buf_uvarint(out, (uint64_t)groups << 1 | 1);
		br_pq_bitpack(v + start, i - start, bit_width, out);
	}
}

int br_pq_rle_decode(const uint8_t *p, size_t len, int bit_width, uint32_t *out, size_t n, br_err *err)
{
	if (bit_width < 0 || bit_width > 32)
		return br_errf(err, BR_ECORRUPT, "RLE bit width %d out of range", bit_width);
	br_cur c = br_cur_make(p, len);
	size_t got = 0, vbytes = (size_t)(bit_width + 7) / 8;
	uint32_t limit_mask = bit_width == 32 ? 0 : ~((1u << bit_width) - 1);
	while (got < n) {
		uint64_t h = br_cur_uvarint(&c);
		if (c.bad)
			return br_errf(err, BR_ECORRUPT, "RLE data ends after %zu of %zu values", got, n);
		if (h & 1) {
			uint64_t groups = h >> 1;
			size_t want = n - got;
			uint64_t vals = groups * 8;
			if (groups > (uint64_t)SIZE_MAX / 64)
				return br_errf(err, BR_ECORRUPT, "RLE bit-packed run of %llu groups is too long",
					       (unsigned long long)groups);
			size_t take = vals < want ? (size_t)vals : want;
			size_t need = (take * (size_t)bit_width + 7) / 8;
			size_t full = (size_t)groups * (size_t)bit_width;
			if (need > br_cur_left(&c))
				return br_errf(err, BR_ECORRUPT, "RLE bit-packed run at byte %zu is truncated", c.pos);
			unpack32(c.p + c.pos, bit_width, out + got, take);
			c.pos += BR_MIN(full, br_cur_left(&c));
			got += take;
		} else {
			uint64_t run = h >> 1;
			uint32_t x = 0;
			const uint8_t *vb = br_cur_take(&c, vbytes);
			if (!vb)
				return br_errf(err, BR_ECORRUPT, "RLE run value at byte %zu is truncated", c.pos);
			for (size_t b = 0; b < vbytes; b++)
				x |= (uint32_t)vb[b] << (8 * b);
			if (x & limit_mask)
				return br_errf(err, BR_ECORRUPT, "RLE value %u exceeds bit width %d", x, bit_width);
			size_t take = run < n - got ? (size_t)run : n - got;
			for (size_t k = 0; k < take; k++)
				out[got + k] = x;
			got += take;
		}
	}
	return 0;
}

bool br_pq_rle_all_equal(const uint8_t *p, size_t len, int bit_width, uint32_t value, size_t n)
{
	if (bit_width < 1 || bit_width > 32)
		return false;
	br_cur c = br_cur_make(p, len);
	size_t got = 0, vbytes = (size_t)(bit_width + 7) / 8;
	while (got < n) {
		uint64_t h = br_cur_uvarint(&c);
		if (c.bad || (h & 1))
			return false;
		const uint8_t *vb = br_cur_take(&c, vbytes);
		if (!vb)
			return false;
		uint32_t x = 0;
		for (size_t b = 0; b < vbytes; b++)
			x |= (uint32_t)vb[b] << (8 * b);
		if (x != value)
			return false;
		uint64_t run = h >> 1;
		got += run < n - got ? (size_t)run : n - got;
	}
	return true;
}

/* -------------------------------------------------------------- delta */

static int64_t unzz(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }
static uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

int br_pq_delta_decode(const uint8_t *p, size_t len, int64_t *out, size_t max, size_t *n_out, size_t *used,
		    br_err *err)
{
	br_cur c = br_cur_make(p, len);
	uint64_t block = br_cur_uvarint(&c), minis = br_cur_uvarint(&c), total = br_cur_uvarint(&c);
	uint64_t first = (uint64_t)unzz(br_cur_uvarint(&c));
	if (c.bad)
		return br_errf(err, BR_ECORRUPT, "DELTA_BINARY_PACKED header truncated");
	if (block == 0 || block > (1u << 20) || block % 128 || minis == 0 || block % minis ||
	    (block / minis) % 8)
		return br_errf(err, BR_ECORRUPT, "DELTA_BINARY_PACKED: block size %llu / %llu miniblocks is invalid",
			       (unsigned long long)block, (unsigned long long)minis);
	if (total > max)
		return br_errf(err, BR_ECORRUPT, "DELTA_BINARY_PACKED: %llu values where at most %zu expected",
			       (unsigned long long)total, max);
	size_t per = (size_t)(block / minis), count = 0;
	uint64_t tmp[1024];
	uint64_t last = first;
	if (total > 0)
		out[count++] = (int64_t)first;
	while (count < total) {
		uint64_t min_delta = (uint64_t)unzz(br_cur_uvarint(&c));
		const uint8_t *widths = br_cur_take(&c, (size_t)minis);
		if (c.bad)
			return br_errf(err, BR_ECORRUPT, "DELTA_BINARY_PACKED block header truncated at byte %zu", c.pos);
		for (size_t m = 0; m < minis && count < total; m++) {
			int bw = widths[m];
			if (bw > 64)
				return br_errf(err, BR_ECORRUPT, "DELTA_BINARY_PACKED bit width %d", bw);
			size_t bytes = per * (size_t)bw / 8;
			size_t take = BR_MIN(per, (size_t)total - count);
			size_t need = (take * (size_t)bw + 7) / 8;
			if (need > br_cur_left(&c))
				return br_errf(err, BR_ECORRUPT, "DELTA_BINARY_PACKED miniblock truncated at byte %zu", c.pos);
			for (size_t done = 0; done < take;) {
				size_t k = BR_MIN(take - done, BR_ARRAY_LEN(tmp));
				/* k is a multiple of 8 unless it is the tail, so byte offsets stay whole */
				unpack64(c.p + c.pos + done * (size_t)bw / 8, bw, tmp, k);
				for (size_t q = 0; q < k; q++) {
					last += min_delta + tmp[q];
					out[count++] = (int64_t)last;
				}
				done += k;
			}
			c.pos += BR_MIN(bytes, br_cur_left(&c));
		}
	}
	*n_out = (size_t)total;
	*used = c.pos;
	return 0;
}

void br_pq_delta_encode(const int64_t *v, size_t n, br_buf *out)
{
	const size_t block = 128, minis = 4, per = 32;
	br_buf_uvarint(out, block);
	br_buf_uvarint(out, minis);
	br_buf_uvarint(out, n);
	br_buf_uvarint(out, zz(n ? v[0] : 0));
	uint64_t d[128];
	for (size_t i = 1; i < n; i += block) {
		size_t k = BR_MIN(block, n - i);
		int64_t mind = INT64_MAX;
		for (size_t j = 0; j < k; j++) {
			int64_t delta = (int64_t)((uint64_t)v[i + j] - (uint64_t)v[i + j - 1]);
			d[j] = (uint64_t)delta;
			if (delta < mind)
				mind = delta;
		}
		br_buf_uvarint(out, zz(mind));
		int widths[4] = { 0 };
		for (size_t j = 0; j < k; j++) {
			d[j] -= (uint64_t)mind;
			int w = pq_bit_width(d[j]);
			if (w > widths[j / per])
				widths[j / per] = w;
		}
		for (size_t m = 0; m < minis; m++)
			br_buf_u8(out, (uint8_t)widths[m]);
		for (size_t m = 0; m * per < k; m++) {
			/* widths reach 64 bits, so pack with a 128-bit accumulator */
			int bw = widths[m];
			unsigned __int128 acc = 0;
			int bits = 0;
			for (size_t j = 0; j < per; j++) {
				uint64_t x = m * per + j < k ? d[m * per + j] : 0;
				acc |= (unsigned __int128)x << bits;
				bits += bw;
				while (bits >= 8) {
					br_buf_u8(out, (uint8_t)acc);
					acc >>= 8;
					bits -= 8;
				}
			}
		}
	}
}
