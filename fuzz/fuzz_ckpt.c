/* fuzz_ckpt.c — libFuzzer harness for the view checkpoint decoders, which read
 * bytes from disk (<data>/sql/views.ckpt): the file (sql/checkpoint.c) and the
 * operator state inside it (flow/ckpt.c and the load hooks of ops.c).
 * Input: a selector byte, then bytes.
 *   bit 0 set: the bytes are a checkpoint file; bit 1 set: its length and
 *              CRC-32C fields are fixed up first, so the body decoder is
 *              reached (otherwise the checksum refuses nearly everything).
 *   bit 0 clear: the bytes are operator state for circuit kind (selector >> 1)
 *              % 7 (join, full join, aggregate, distinct, except all, top-N,
 *              integrate); bit 4 prepends a valid header for that circuit.
 * Checks beyond "no crash": a decoded file's views and tables are within the
 * input; a state that loads can take a step and be saved again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "base/util.h"
#include "flow/ckpt.h"
#include "flow/flow.h"
#include "sql/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct built {
	br_circuit c;
	br_op *ina, *inb;
	br_expr *x[2];
} built;

static br_expr *colx(int i, br_type_id t)
{
	br_expr *e = br_xcalloc(1, sizeof *e);
	e->kind = BR_X_COL;
	e->col = i;
	e->type = t;
	e->pos = -1;
	return e;
}

static void build(built *b, int kind)
{
	memset(b, 0, sizeof *b);
	br_circuit_init(&b->c);
	br_type_id ta[3] = { BR_T_LONG, BR_T_LONG, BR_T_STRING }, tb[2] = { BR_T_LONG, BR_T_LONG };
	b->ina = br_op_input(&b->c, 3, ta);
	b->inb = br_op_input(&b->c, 2, tb);
	int k0[1] = { 0 }, p[1] = { 0 };
	br_op *last = NULL;
	switch (kind) {
	case 0: last = br_op_join(&b->c, b->ina, b->inb, 1, k0, k0); break;
	case 1: last = br_op_join_outer(&b->c, b->ina, b->inb, 1, k0, k0, BR_JOIN_FULL); break;
	case 2: {
		br_agg_spec aggs[] = {
			{ .kind = BR_AGG_COUNT_STAR, .col = -1, .type = BR_T_LONG },
			{ .kind = BR_AGG_SUM, .col = 1, .type = BR_T_LONG },
			{ .kind = BR_AGG_MIN, .col = 1, .type = BR_T_LONG },
			{ .kind = BR_AGG_COUNT, .col = 1, .distinct = true, .type = BR_T_LONG },
			{ .kind = BR_AGG_STRING_AGG, .col = 2, .type = BR_T_STRING, .sep = ",", .seplen = 1 },
		};
		last = br_op_aggregate(&b->c, b->ina, 1, k0, 5, aggs);
		break;
	}
	case 3:
		b->x[0] = colx(0, BR_T_LONG);
		b->x[1] = colx(2, BR_T_STRING);
		last = br_op_distinct(&b->c, br_op_map(&b->c, b->ina, 2, b->x));
		break;
	case 4:
		b->x[0] = colx(0, BR_T_LONG);
		b->x[1] = colx(1, BR_T_LONG);
		last = br_op_setop(&b->c, br_op_map(&b->c, b->ina, 2, b->x), b->inb, BR_SET_EXCEPT_ALL);
		break;
	case 5: {
		br_sort_key sk[1] = { { .col = 1, .desc = true } };
		int kinds[1] = { BR_WIN_ROW_NUMBER };
		last = br_op_window(&b->c, b->ina, 1, p, 1, sk, 1, kinds, 2);
		break;
	}
	default: last = b->ina; break;
	}
	br_op_integrate(&b->c, last);
}

static void unbuild(built *b)
{
	br_circuit_free(&b->c);
	free(b->x[0]);
	free(b->x[1]);
}

static void fuzz_state(int kind, bool header, const uint8_t *data, size_t size)
{
	built b;
	build(&b, kind);
	br_buf in = { 0 };
	if (header) /* the operator count and names of this circuit, then the fuzz bytes as the first state */
		br_buf_uvarint(&in, (uint64_t)b.c.nops);
	br_buf_put(&in, data, size);
	br_err err = { 0 };
	if (!br_circuit_load(&b.c, in.p, in.len, &err)) {
		br_batch da, db;
		br_batch_init(&da, b.ina->out_type, true);
		br_batch_init(&db, b.inb->out_type, true);
		for (int i = 0; i < 4; i++) {
			br_value r[3] = { br_value_i64(BR_T_LONG, i % 2), br_value_i64(BR_T_LONG, i),
					  br_value_bytes(BR_T_STRING, "x", 1) };
			br_batch_append_row(&da, r, i == 3 ? -1 : 1);
			br_batch_append_row(&db, r, 1);
		}
		br_circuit_feed(&b.c, b.ina, &da, &err);
		br_circuit_feed(&b.c, b.inb, &db, &err);
		br_circuit_step(&b.c, &err); /* may fail on a corrupt row key: an error, not a crash */
		br_buf out = { 0 };
		if (br_circuit_save(&b.c, &out, &err))
			abort();
		br_buf_free(&out);
		br_batch_free(&da);
		br_batch_free(&db);
	}
	br_buf_free(&in);
	unbuild(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	data++;
	size--;
	if (!(sel & 1)) {
		fuzz_state((sel >> 1) % 7, sel & 16, data, size);
		return 0;
	}
	uint8_t *p = malloc(size ? size : 1);
	if (size)
		memcpy(p, data, size);
	if ((sel & 2) && size >= 36) {
		br_wr_be64(p + 24, (uint64_t)(size - 36));
		br_wr_be32(p + size - 4, br_crc32c(0, p, size - 4));
	}
	br_sql_ckpt *ck = NULL;
	br_err err = { 0 };
	if (!br_ckpt_decode(p, size, &ck, &err)) { /* takes p */
		for (int i = 0; i < ck->nviews; i++)
			if (ck->views[i].len > size || (ck->views[i].len && (ck->views[i].state < ck->bytes ||
									       ck->views[i].state + ck->views[i].len > ck->bytes + size)))
				abort();
		for (int i = 0; i < ck->ntables; i++)
			if ((size_t)ck->tables[i].nparts > size)
				abort();
		br_ckpt_free(ck);
	} else if (!err.msg[0]) {
		abort();
	}
	return 0;
}

#ifdef FUZZ_CKPT_SEEDS
/* Seeds: real state of each circuit kind after a few steps (selector 2*kind),
 * and a real checkpoint file holding the aggregate's (selector 1). Build:
 *   cc -std=c11 -D_GNU_SOURCE -DFUZZ_CKPT_SEEDS -Isrc fuzz/fuzz_ckpt.c build/libbraid.a $(pkg-config ...) -o /tmp/seeds
 * and run it in fuzz/seeds/fuzz_ckpt/. */
#include <stdio.h>

static void put(const char *name, uint8_t sel, const uint8_t *p, size_t n)
{
	FILE *f = fopen(name, "wb");
	fputc(sel, f);
	fwrite(p, 1, n, f);
	fclose(f);
}

int main(void)
{
	for (int kind = 0; kind < 7; kind++) {
		built b;
		build(&b, kind);
		br_batch da, db;
		br_batch_init(&da, b.ina->out_type, true);
		br_batch_init(&db, b.inb->out_type, true);
		br_err err = { 0 };
		for (int i = 0; i < 12; i++) {
			br_value r[3] = { br_value_i64(BR_T_LONG, i % 3), br_value_i64(BR_T_LONG, i * 7 % 5),
					  br_value_bytes(BR_T_STRING, i % 2 ? "ab" : "c", i % 2 ? 2 : 1) };
			br_batch_append_row(&da, r, i == 5 ? -1 : 1);
			if (i % 3 == 0)
				br_batch_append_row(&db, r, 1);
		}
		br_circuit_feed(&b.c, b.ina, &da, &err);
		br_circuit_feed(&b.c, b.inb, &db, &err);
		br_circuit_step(&b.c, &err);
		br_buf st = { 0 };
		br_circuit_save(&b.c, &st, &err);
		char name[64];
		snprintf(name, sizeof name, "state-%d", kind);
		put(name, (uint8_t)(kind << 1), st.p, st.len);
		if (kind == 2) {
			br_ckpt_writer w;
			br_ckpt_writer_init(&w);
			uint8_t id[16] = { 7 };
			int64_t next[2] = { 12, 3 };
			br_ckpt_add_table(&w, "ev", id, 2, next);
			br_ckpt_add_view(&w, "agg", 1, br_circuit_shape(&b.c), st.p, st.len);
			br_buf f = { 0 };
			br_ckpt_finish(&w, 1, &f);
			put("file", 1, f.p, f.len);
			put("file-fixup", 3, f.p, f.len);
			br_buf_free(&f);
			br_ckpt_writer_free(&w);
		}
		br_buf_free(&st);
		br_batch_free(&da);
		br_batch_free(&db);
		unbuild(&b);
	}
	return 0;
}
#endif
