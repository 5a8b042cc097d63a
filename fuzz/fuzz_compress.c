/* fuzz_compress.c — libFuzzer harness for the decompressors (base/compress).
 * Input: one selector byte (codec, or raw snappy / LZ4 block), then compressed
 * bytes (for the LZ4 block, a be16 decompressed size first). Whatever decompresses must compress and decompress back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/compress.h"

enum { LIMIT = 1 << 20 };

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int sel = data[0] % 7;
	data++;
	size--;
	br_buf out = { 0 }, z = { 0 }, back = { 0 };
	br_err err;
	int rc;
	br_buf_put(&out, "#", 1); /* output is appended after what is there */
	switch (sel) {
	case 5: rc = br_snappy_decompress_raw(data, size, LIMIT, &out, &err); break;
	case 6: /* an LZ4 block needs its decompressed size from outside: be16 prefix */
		if (size < 2)
			goto done;
		rc = br_lz4_decompress_block(data + 2, size - 2, br_rd_be16(data), &out, &err);
		break;
	default: rc = br_decompress((enum br_codec)sel, data, size, LIMIT, &out, &err); break;
	}
	if (rc) {
		check(out.len == 1 && err.msg[0]);
		goto done;
	}
	check(out.len - 1 <= LIMIT);
	enum br_codec c = sel >= 5 ? BR_CODEC_ZSTD : (enum br_codec)sel;
	check(br_compress(c, out.p + 1, out.len - 1, &z, 1, &err) == 0);
	check(br_decompress(c, z.p, z.len, out.len - 1, &back, &err) == 0);
	check(back.len == out.len - 1 && (!back.len || !memcmp(back.p, out.p + 1, back.len)));
done:
	br_buf_free(&out);
	br_buf_free(&z);
	br_buf_free(&back);
	return 0;
}
