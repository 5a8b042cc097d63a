/* ckpt.h — saving and loading a circuit's operator state (the bytes a view
 * checkpoint carries; the file around them is sql/checkpoint.c's). The layout
 * is in ckpt.c; operators write their own state through the vt save/load
 * hooks with the helpers below. Knows nothing of files, SQL or Kafka. */
#ifndef BR_FLOW_CKPT_H
#define BR_FLOW_CKPT_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "flow/flow.h"

/* Bumped whenever any operator's saved layout changes: older state is then
 * refused (the view rebuilds) instead of misread. */
#define BR_CKPT_STATE_VERSION 1

/* A hash of the circuit's shape: per operator its kind, inputs, output column
 * types and EXPLAIN text. State saved from a circuit of another shape (the
 * view's SQL or the planner changed) must not be loaded into this one. */
uint64_t br_circuit_shape(const br_circuit *c);
/* Appends every operator's state to out. BR_EUNSUPPORTED (with the operator's
 * name) when an operator has no save hook: such a circuit is not saved. */
int br_circuit_save(br_circuit *c, br_buf *out, br_err *err);
/* Loads state saved from a circuit of the same shape into c, freshly built
 * and never stepped. BR_ECORRUPT on bytes that do not parse; after a failed
 * load the circuit must be freed, not used. */
int br_circuit_load(br_circuit *c, const uint8_t *p, size_t n, br_err *err);

/* Helpers for the hooks: a byte string is a uvarint length then the bytes;
 * integers are zig-zag varints. A cursor that ran out is `bad` (check once). */
void br_ck_bytes(br_buf *out, const void *p, size_t n);
const uint8_t *br_ck_get_bytes(br_cur *in, uint32_t *n);
static inline void br_ck_int(br_buf *out, int64_t v) { br_buf_varint(out, v); }
static inline int64_t br_ck_get_int(br_cur *in) { return br_cur_varint(in); }
/* Weights from a checkpoint are added wrapping: a corrupt weight must not be
 * undefined behaviour (the checksum keeps real files from ever getting here). */
static inline int64_t br_ck_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
/* A count that the rest of the input must be able to hold (at least one byte
 * per item), so a corrupt count cannot make a loop run for long. */
uint64_t br_ck_get_count(br_cur *in);
/* The entries of t with a non-zero weight: count, then (key, weight) each. */
void br_ck_ztab(br_buf *out, const br_ztab *t);
int br_ck_get_ztab(br_cur *in, br_ztab *t, br_err *err);
/* Hooks for operators without state (their save writes nothing). */
int br_op_save_none(br_op *op, br_buf *out, br_err *err);
int br_op_load_none(br_op *op, br_cur *in, br_err *err);

#endif
