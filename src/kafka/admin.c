/* admin.c — topic administration APIs (placeholder until implemented). */
#include "kafka/handlers.h"

static int unsupported(br_kreq *r) { (void)r; return BR_KCLOSE; }
int br_h_create_topics(br_broker *b, br_kreq *r, br_buf *out) { (void)b; (void)out; return unsupported(r); }
int br_h_delete_topics(br_broker *b, br_kreq *r, br_buf *out) { (void)b; (void)out; return unsupported(r); }
int br_h_create_partitions(br_broker *b, br_kreq *r, br_buf *out) { (void)b; (void)out; return unsupported(r); }
int br_h_describe_configs(br_broker *b, br_kreq *r, br_buf *out) { (void)b; (void)out; return unsupported(r); }
int br_h_alter_configs(br_broker *b, br_kreq *r, br_buf *out) { (void)b; (void)out; return unsupported(r); }
int br_h_incremental_alter_configs(br_broker *b, br_kreq *r, br_buf *out) { (void)b; (void)out; return unsupported(r); }
