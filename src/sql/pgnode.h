/* pgnode.h — reading libpg_query's JSON parse trees: a node is {"Type": {...}},
 * fields may be absent. Shared by the binder, the executor, window.c and
 * sink.c (module-internal, header-only). */
#ifndef BR_SQL_PGNODE_H
#define BR_SQL_PGNODE_H

#include <jansson.h>

static inline json_t *jget(json_t *o, const char *k) { return o ? json_object_get(o, k) : NULL; }

static inline const char *jstr(json_t *o, const char *k)
{
	json_t *v = jget(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The node's type name ("" if it is not a node); *inner its fields. */
static inline const char *ntype(json_t *node, json_t **inner)
{
	*inner = NULL;
	if (!json_is_object(node) || json_object_size(node) != 1)
		return "";
	*inner = json_object_iter_value(json_object_iter(node));
	return json_object_iter_key(json_object_iter(node));
}

/* The byte offset of a node in the statement's text, -1 if it has none. */
static inline int jloc(json_t *inner)
{
	json_t *l = jget(inner, "location");
	return json_is_integer(l) ? (int)json_integer_value(l) : -1;
}

#endif
