/* text.h — values from and to text: the textual forms users type (CSV cells,
 * command-line literals) and JSON (JSON-lines files, the CLI's jsonl output).
 *
 * Text forms per type: boolean true/false (also t/f, 1/0, yes/no); int/long
 * decimal digits; float/double as strtod reads them (also nan, inf); decimal
 * [-]digits[.digits] with at most `scale` fraction digits; date YYYY-MM-DD; time
 * HH:MM:SS[.ffffff]; timestamp YYYY-MM-DD[T ]HH:MM:SS[.ffffff] (timestamptz also
 * takes a Z or +HH:MM offset, converted to UTC); string as is; uuid 8-4-4-4-12
 * hex; fixed/binary as hex (an optional \x prefix). In JSON, numbers are also
 * accepted for timestamps (epoch milliseconds) and dates (days), nested types
 * map to objects (struct, map) and arrays (list). */
#ifndef BR_TYPES_TEXT_H
#define BR_TYPES_TEXT_H

#include <jansson.h>

#include "types/types.h"

/* Parses text of primitive type t; bytes of string/binary results point into
 * scratch (valid until it is reset) or into s. */
int br_value_parse_text(const br_type *t, const char *s, size_t n, br_buf *scratch, br_value *out, br_err *err);
/* Appends one slot to c from text (primitive types) — an empty NULL-marker is
 * the caller's business. */
int br_col_append_text(br_col *c, const char *s, size_t n, br_err *err);
/* Appends one slot to c from a JSON value (json null = SQL null; a required
 * column refuses it). */
int br_col_append_json(br_col *c, bool required, const json_t *j, br_err *err);
/* Slot i of c as JSON text (strings escaped; binary/fixed as hex strings). */
void br_col_format_json(const br_col *c, int64_t i, br_buf *out);
/* Slot i of c as plain text (CSV cells: no quoting here). Null appends nothing. */
void br_col_format_text(const br_col *c, int64_t i, br_buf *out);

#endif
