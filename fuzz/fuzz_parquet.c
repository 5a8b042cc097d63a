/* fuzz_parquet.c — libFuzzer harness for braid's Parquet decoders: the whole
 * reader over a file image (footer Thrift, schema tree, page headers, levels,
 * every value encoding, nested assembly), plus the page-header and RLE
 * decoders fed directly, and a shared (parallel-style) scan in tiny morsels.
 * Any crash, overread, leak or hang is a bug. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "parquet/parquet.h"
#include "parquet/pq_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	br_err err;
	br_pq_reader *r;
	if (br_pq_reader_open_mem(data, size, "fuzz.parquet", &r, &err) == 0) {
		br_pq_reader_set_batch_rows(r, 64);
		br_batch b = { 0 };
		int rc, guard = 0;
		while ((rc = br_pq_reader_next(r, &b, &err)) > 0 && ++guard < 100000) {
			/* dictionary codes, where offered, index their dictionary */
			for (int k = 0; k < b.ncols; k++) {
				const uint32_t *codes;
				const br_col *dict;
				uint64_t id;
				if (!br_pq_reader_dict_codes(r, k, &codes, &dict, &id))
					continue;
				for (int64_t i = 0; i < b.nrows; i++)
					if (codes[i] >= (uint64_t)dict->len)
						abort();
			}
		}
		br_batch_free(&b);
		br_pq_reader_close(r);
	}
	/* a shared scan in morsels of 7 rows: page skipping by header */
	if (br_pq_reader_open_mem(data, size, "fuzz.parquet", &r, &err) == 0) {
		atomic_int next = 0;
		br_pq_reader_share_row_groups(r, &next);
		br_pq_reader_set_morsel_rows(r, 7);
		br_pq_reader_set_batch_rows(r, 64);
		br_batch b = { 0 };
		int guard = 0;
		while (br_pq_reader_next(r, &b, &err) > 0 && ++guard < 100000)
			;
		br_batch_free(&b);
		br_pq_reader_close(r);
	}
	pq_page_header h;
	size_t used;
	br_pq_decode_page_header(data, size, &h, &used, &err);
	if (size > 1) {
		uint32_t out[256];
		br_pq_rle_decode(data + 1, size - 1, data[0] % 33, out, 256, &err);
		int64_t d[256];
		size_t n;
		br_pq_delta_decode(data, size, d, 256, &n, &used, &err);
	}
	return 0;
}
