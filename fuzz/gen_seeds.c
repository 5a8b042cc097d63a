/* gen_seeds.c — writes the seed inputs under fuzz/seeds/ (committed; rerun after a
 * format change). Not part of the build:
 *   cc -std=c11 -D_GNU_SOURCE -Isrc -o build/gen_seeds fuzz/gen_seeds.c build/libbraid.a \
 *      $(pkg-config --libs libzstd liblz4 zlib snappy) && build/gen_seeds fuzz/seeds */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compress.h"
#include "log/records.h"
#include "kafka/wire.h"

static const char *root;

static void put(const char *harness, const char *name, const br_buf *b)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s/%s", root, harness, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(b->p, 1, b->len, f) != b->len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static void batch(br_buf *out, enum br_codec codec, int n, bool append_time)
{
	br_rb_opts o;
	br_rb_opts_default(&o);
	o.codec = codec;
	o.log_append_time = append_time;
	br_rb_builder b;
	br_rb_builder_init(&b, &o);
	br_rec_header h = { (const uint8_t *)"h", 1, (const uint8_t *)"v", 1 };
	for (int i = 0; i < n; i++) {
		char k[16], v[64];
		snprintf(k, sizeof k, "k%d", i);
		int vl = snprintf(v, sizeof v, "{\"id\":%d,\"name\":\"braid\"}", i);
		br_rb_add(&b, 1700000000000 + i, i == 1 ? NULL : k, (int32_t)strlen(k), i == 2 ? NULL : v, vl, &h,
		             i % 2);
	}
	br_err err;
	if (br_rb_finish(&b, out, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	br_rb_builder_free(&b);
}

static void hdr(br_buf *b, int16_t key, int16_t ver, bool flex)
{
	br_kw_i16(b, key);
	br_kw_i16(b, ver);
	br_kw_i32(b, 7);
	br_kw_str(b, false, "fuzz");
	if (flex)
		br_kw_tags(b, true);
}

int main(int argc, char **argv)
{
	root = argc > 1 ? argv[1] : "fuzz/seeds";
	br_buf b = { 0 };
	br_err err;
	/* fuzz_batch: flags byte, then batches */
	for (int c = BR_CODEC_NONE; c <= BR_CODEC_ZSTD; c++) {
		br_buf_reset(&b);
		br_buf_u8(&b, c == 0 ? 0x80 : 0);
		batch(&b, (enum br_codec)c, 4, false);
		batch(&b, BR_CODEC_NONE, 1, c == 1);
		char name[32];
		snprintf(name, sizeof name, "%s.bin", br_codec_name(c));
		put("fuzz_batch", name, &b);
	}
	/* fuzz_compress: selector byte, then compressed bytes */
	const char *text = "hello hello hello braid, hello lake";
	for (int sel = 0; sel < 7; sel++) {
		br_buf_reset(&b);
		br_buf_u8(&b, (uint8_t)sel);
		if (sel == 5)
			br_snappy_compress_raw(text, strlen(text), &b, &err);
		else if (sel == 6 && (br_buf_be16(&b, (uint16_t)strlen(text)), 1))
			br_lz4_compress_block(text, strlen(text), &b, &err);
		else
			br_compress((enum br_codec)sel, text, strlen(text), &b, 0, &err);
		char name[32];
		snprintf(name, sizeof name, "sel%d.bin", sel);
		put("fuzz_compress", name, &b);
	}
	/* fuzz_request: request frames without the size prefix */
	br_buf_reset(&b);
	hdr(&b, 18, 0, false); /* ApiVersions v0 */
	put("fuzz_request", "apiversions_v0.bin", &b);
	br_buf_reset(&b);
	hdr(&b, 18, 3, true); /* ApiVersions v3: flexible */
	br_kw_str(&b, true, "librdkafka");
	br_kw_str(&b, true, "2.0.2");
	br_kw_tags(&b, true);
	put("fuzz_request", "apiversions_v3.bin", &b);
	br_buf_reset(&b);
	hdr(&b, 3, 1, false); /* Metadata v1, one topic */
	br_kw_arr(&b, false, 1);
	br_kw_str(&b, false, "t");
	put("fuzz_request", "metadata_v1.bin", &b);
	br_buf_reset(&b);
	hdr(&b, 19, 0, false); /* CreateTopics v0 */
	br_kw_arr(&b, false, 1);
	br_kw_str(&b, false, "t");
	br_kw_i32(&b, 2);
	br_kw_i16(&b, 1);
	br_kw_arr(&b, false, 0);
	br_kw_arr(&b, false, 0);
	br_kw_i32(&b, 1000);
	put("fuzz_request", "createtopics_v0.bin", &b);
	for (int c = BR_CODEC_NONE; c <= BR_CODEC_ZSTD; c += 2) {
		br_buf rec = { 0 };
		batch(&rec, (enum br_codec)c, 3, false);
		br_buf_reset(&b);
		hdr(&b, 0, 3, false); /* Produce v3 */
		br_kw_str(&b, false, NULL);
		br_kw_i16(&b, -1);
		br_kw_i32(&b, 1000);
		br_kw_arr(&b, false, 1);
		br_kw_str(&b, false, "t");
		br_kw_arr(&b, false, 1);
		br_kw_i32(&b, 0);
		br_kw_bytes(&b, false, rec.p, (int32_t)rec.len);
		char name[32];
		snprintf(name, sizeof name, "produce_v3_%s.bin", br_codec_name(c));
		put("fuzz_request", name, &b);
		br_buf_free(&rec);
	}
	br_buf_reset(&b);
	hdr(&b, 1, 4, false); /* Fetch v4 */
	br_kw_i32(&b, -1);
	br_kw_i32(&b, 0);
	br_kw_i32(&b, 1);
	br_kw_i32(&b, 1 << 20);
	br_kw_i8(&b, 0);
	br_kw_arr(&b, false, 1);
	br_kw_str(&b, false, "t");
	br_kw_arr(&b, false, 1);
	br_kw_i32(&b, 0);
	br_kw_i64(&b, 0);
	br_kw_i32(&b, 1 << 20);
	put("fuzz_request", "fetch_v4.bin", &b);
	br_buf_reset(&b);
	hdr(&b, 2, 1, false); /* ListOffsets v1, latest */
	br_kw_i32(&b, -1);
	br_kw_arr(&b, false, 1);
	br_kw_str(&b, false, "t");
	br_kw_arr(&b, false, 1);
	br_kw_i32(&b, 0);
	br_kw_i64(&b, -1);
	put("fuzz_request", "listoffsets_v1.bin", &b);
	br_buf_free(&b);
	return 0;
}
