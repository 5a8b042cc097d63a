/* groups.c — group coordinator (placeholder until implemented). */
#include "kafka/handlers.h"

#include <stdlib.h>

struct br_groups { int unused; };
int br_groups_open(br_groups **out, br_broker *b, const char *dir, br_err *err) { (void)b; (void)dir; (void)err; *out = calloc(1, sizeof **out); return 0; }
void br_groups_close(br_groups *g) { free(g); }
void br_groups_tick(br_groups *g, int64_t now_ms) { (void)g; (void)now_ms; }
#define STUB(n) int n(br_broker *b, br_kreq *r, br_buf *out) { (void)b; (void)r; (void)out; return BR_KCLOSE; }
STUB(br_h_find_coordinator) STUB(br_h_join_group) STUB(br_h_sync_group) STUB(br_h_heartbeat)
STUB(br_h_leave_group) STUB(br_h_offset_commit) STUB(br_h_offset_fetch) STUB(br_h_list_groups)
STUB(br_h_describe_groups)
