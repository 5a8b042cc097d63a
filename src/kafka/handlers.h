/* handlers.h — one function per Kafka API, and the table of supported versions.
 * Files: produce.c/fetch.c/meta.c (data path + metadata), admin.c (topic admin),
 * groups.c (group coordinator and committed offsets). */
#ifndef BR_KAFKA_HANDLERS_H
#define BR_KAFKA_HANDLERS_H

#include "kafka/broker.h"

enum {
	BR_API_PRODUCE = 0, BR_API_FETCH = 1, BR_API_LIST_OFFSETS = 2, BR_API_METADATA = 3,
	BR_API_OFFSET_COMMIT = 8, BR_API_OFFSET_FETCH = 9, BR_API_FIND_COORDINATOR = 10,
	BR_API_JOIN_GROUP = 11, BR_API_HEARTBEAT = 12, BR_API_LEAVE_GROUP = 13,
	BR_API_SYNC_GROUP = 14, BR_API_DESCRIBE_GROUPS = 15, BR_API_LIST_GROUPS = 16,
	BR_API_SASL_HANDSHAKE = 17, BR_API_API_VERSIONS = 18, BR_API_CREATE_TOPICS = 19,
	BR_API_DELETE_TOPICS = 20, BR_API_INIT_PRODUCER_ID = 22, BR_API_DESCRIBE_CONFIGS = 32,
	BR_API_ALTER_CONFIGS = 33, BR_API_CREATE_PARTITIONS = 37, BR_API_INCREMENTAL_ALTER_CONFIGS = 44,
};

typedef struct br_kapi {
	int16_t key;
	int16_t min, max;   /* versions served */
	int16_t flex_min;   /* first flexible version (-1 = none) */
	const char *name;
	br_khandler fn;
} br_kapi;

/* The API table, sorted by key; NULL-fn terminated. */
extern const br_kapi br_kapis[];
const br_kapi *br_kapi_find(int16_t key);

int br_h_api_versions(br_broker *b, br_kreq *r, br_buf *out);
int br_h_metadata(br_broker *b, br_kreq *r, br_buf *out);
int br_h_produce(br_broker *b, br_kreq *r, br_buf *out);
int br_h_fetch(br_broker *b, br_kreq *r, br_buf *out);
int br_h_list_offsets(br_broker *b, br_kreq *r, br_buf *out);
int br_h_init_producer_id(br_broker *b, br_kreq *r, br_buf *out);
/* admin.c */
int br_h_create_topics(br_broker *b, br_kreq *r, br_buf *out);
int br_h_delete_topics(br_broker *b, br_kreq *r, br_buf *out);
int br_h_create_partitions(br_broker *b, br_kreq *r, br_buf *out);
int br_h_describe_configs(br_broker *b, br_kreq *r, br_buf *out);
int br_h_alter_configs(br_broker *b, br_kreq *r, br_buf *out);
int br_h_incremental_alter_configs(br_broker *b, br_kreq *r, br_buf *out);
/* groups.c */
int br_h_find_coordinator(br_broker *b, br_kreq *r, br_buf *out);
int br_h_join_group(br_broker *b, br_kreq *r, br_buf *out);
int br_h_sync_group(br_broker *b, br_kreq *r, br_buf *out);
int br_h_heartbeat(br_broker *b, br_kreq *r, br_buf *out);
int br_h_leave_group(br_broker *b, br_kreq *r, br_buf *out);
int br_h_offset_commit(br_broker *b, br_kreq *r, br_buf *out);
int br_h_offset_fetch(br_broker *b, br_kreq *r, br_buf *out);
int br_h_list_groups(br_broker *b, br_kreq *r, br_buf *out);
int br_h_describe_groups(br_broker *b, br_kreq *r, br_buf *out);

/* groups.c: lifetime of the coordinator (committed offsets in <data>/groups). */
int br_groups_open(br_groups **out, br_broker *b, const char *dir, br_err *err);
void br_groups_close(br_groups *g);
/* Called about every 100 ms: session and rebalance timeouts. */
void br_groups_tick(br_groups *g, int64_t now_ms);

#endif
