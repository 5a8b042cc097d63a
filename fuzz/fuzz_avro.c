/* fuzz_avro.c — libFuzzer harness for the Avro container reader (src/iceberg/avro.c):
 * arbitrary bytes as a whole file, decoded record by record under the file's own
 * schema. Must never crash, hang or read out of bounds; errors are expected. */
#include <stddef.h>
#include <stdint.h>

#include "iceberg/avro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	br_avro_reader r;
	br_err err = { 0 };
	if (br_avro_reader_open(&r, data, size, "fuzz.avro", &err) == 0) {
		br_arena a;
		br_arena_init(&a, 4096);
		br_avro_val v;
		/* bounded so a file of many empty records cannot run for long */
		for (int i = 0; i < 100000 && br_avro_reader_next(&r, &a, &v, &err) == 1; i++)
			br_arena_reset(&a);
		br_arena_free(&a);
	}
	br_avro_reader_free(&r);
	return 0;
}
