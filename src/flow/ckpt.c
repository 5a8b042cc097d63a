/* ckpt.c — a circuit's operator state as bytes, and back.
 *
 * LAYOUT (all integers are varints, see base/buf.h):
 *   uvarint nops                      must equal the circuit's operator count
 *   per operator, in circuit order:
 *     bytes  name                     vt->name, checked against the operator
 *     bytes  state                    what vt->save wrote (may be empty)
 * A byte string is a uvarint length and the bytes. Each operator's loader
 * gets a cursor over exactly its own state and must consume all of it, so a
 * loader that disagrees with its saver is caught at once rather than by the
 * next operator. Nothing here is a checksum: the file around the blob
 * (sql/checkpoint.c) carries one. The loaders still check every length and
 * count against the bytes that remain (fuzz/fuzz_ckpt.c feeds them garbage).
 *
 * WHAT THE SHAPE HASH IS FOR. State is only meaningful in the circuit that
 * produced it. br_circuit_shape hashes, per operator, its name, input ids,
 * output column types and EXPLAIN text (which names keys, aggregate counts,
 * join kinds...). It does not see expressions (a changed filter constant):
 * the SQL layer also compares the view's SQL text. */
#include <string.h>

#include "base/map.h"
#include "flow/ckpt.h"

void br_ck_bytes(br_buf *out, const void *p, size_t n)
{
	br_buf_uvarint(out, n);
	if (n)
		br_buf_put(out, p, n);
}

const uint8_t *br_ck_get_bytes(br_cur *in, uint32_t *n)
{
	uint64_t len = br_cur_uvarint(in);
	if (in->bad || len > br_cur_left(in)) {
		in->bad = true;
		*n = 0;
		return NULL;
	}
	*n = (uint32_t)len;
	const uint8_t *p = br_cur_take(in, (size_t)len);
	return p ? p : (const uint8_t *)"";
}

uint64_t br_ck_get_count(br_cur *in)
{
	uint64_t n = br_cur_uvarint(in);
	if (in->bad || n > br_cur_left(in)) {
		in->bad = true;
		return 0;
	}
	return n;
}

void br_ck_ztab(br_buf *out, const br_ztab *t)
{
	size_t n = 0, i = 0;
	br_zent *e;
	while ((e = br_ztab_next(t, &i)))
		n += e->w != 0;
	br_buf_uvarint(out, n);
	for (i = 0; (e = br_ztab_next(t, &i));)
		if (e->w) {
			br_ck_bytes(out, e->key, e->klen);
			br_ck_int(out, e->w);
		}
}

int br_ck_get_ztab(br_cur *in, br_ztab *t, br_err *err)
{
	uint64_t n = br_ck_get_count(in);
	for (uint64_t k = 0; k < n && !in->bad; k++) {
		uint32_t len;
		const uint8_t *key = br_ck_get_bytes(in, &len);
		int64_t w = br_ck_get_int(in);
		if (!in->bad) {
			br_zent *e = br_ztab_upsert(t, key, len);
			e->w = br_ck_add(e->w, w);
		}
	}
	return in->bad ? br_errf(err, BR_ECORRUPT, "checkpoint: truncated Z-set") : 0;
}

int br_op_save_none(br_op *op, br_buf *out, br_err *err) { return 0; }
int br_op_load_none(br_op *op, br_cur *in, br_err *err) { return 0; }

uint64_t br_circuit_shape(const br_circuit *c)
{
	br_buf b = { 0 };
	br_buf_printf(&b, "v%d;", BR_CKPT_STATE_VERSION);
	for (int i = 0; i < c->nops; i++) {
		const br_op *op = c->ops[i];
		br_buf_printf(&b, "%d:%s<", i, op->vt->name);
		for (int k = 0; k < op->nin; k++)
			br_buf_printf(&b, "%d,", op->in[k]->id);
		br_buf_printf(&b, ">(");
		for (int k = 0; k < br_op_ncols(op); k++)
			br_buf_printf(&b, "%d,", (int)br_op_col_type(op, k));
		br_buf_printf(&b, ")");
		if (op->vt->explain)
			op->vt->explain(op, &b);
		br_buf_u8(&b, ';');
	}
	uint64_t h = br_hash(b.p, b.len);
	br_buf_free(&b);
	return h;
}

int br_circuit_save(br_circuit *c, br_buf *out, br_err *err)
{
	for (int i = 0; i < c->nops; i++)
		if (!c->ops[i]->vt->save)
			return br_errf(err, BR_EUNSUPPORTED, "operator %d (%s) cannot save its state yet", i,
				       c->ops[i]->vt->name);
	br_buf_uvarint(out, (uint64_t)c->nops);
	br_buf st = { 0 };
	int rc = 0;
	for (int i = 0; i < c->nops && !rc; i++) {
		br_op *op = c->ops[i];
		br_buf_reset(&st);
		rc = op->vt->save(op, &st, err);
		br_ck_bytes(out, op->vt->name, strlen(op->vt->name));
		br_ck_bytes(out, st.p, st.len);
	}
	br_buf_free(&st);
	return rc;
}

int br_circuit_load(br_circuit *c, const uint8_t *p, size_t n, br_err *err)
{
	br_cur in = br_cur_make(p, n);
	uint64_t nops = br_cur_uvarint(&in);
	if (in.bad || nops != (uint64_t)c->nops)
		return br_errf(err, BR_ECORRUPT, "checkpoint: state of %llu operators, the circuit has %d",
			       (unsigned long long)nops, c->nops);
	for (int i = 0; i < c->nops; i++) {
		br_op *op = c->ops[i];
		uint32_t nlen, slen;
		const uint8_t *name = br_ck_get_bytes(&in, &nlen);
		const uint8_t *st = br_ck_get_bytes(&in, &slen);
		if (in.bad)
			return br_errf(err, BR_ECORRUPT, "checkpoint: truncated at operator %d", i);
		if (nlen != strlen(op->vt->name) || memcmp(name, op->vt->name, nlen))
			return br_errf(err, BR_ECORRUPT, "checkpoint: operator %d is %s, the state is of %.*s", i,
				       op->vt->name, (int)(nlen > 64 ? 64 : nlen), (const char *)name);
		if (!op->vt->load)
			return br_errf(err, BR_EUNSUPPORTED, "operator %d (%s) cannot load state", i, op->vt->name);
		br_cur oc = br_cur_make(st, slen);
		int rc = op->vt->load(op, &oc, err);
		if (rc)
			return br_errctx(err, "operator %d (%s)", i, op->vt->name);
		if (oc.bad || br_cur_left(&oc))
			return br_errf(err, BR_ECORRUPT, "checkpoint: operator %d (%s): state %s", i, op->vt->name,
				       oc.bad ? "truncated" : "has trailing bytes");
	}
	if (br_cur_left(&in))
		return br_errf(err, BR_ECORRUPT, "checkpoint: %zu trailing bytes after the operators", br_cur_left(&in));
	return 0;
}
