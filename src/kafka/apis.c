/* apis.c — the table of Kafka APIs braid serves, with the version ranges it
 * answers and where the flexible encoding starts (from the protocol's message
 * specs), and the ApiVersions handler that tells clients about it. */
#include "kafka/handlers.h"

const br_kapi br_kapis[] = {
	/* Produce from v0: librdkafka derives its features (compression among them)
	 * from the version ranges and turns compression off when v0-2 are missing.
	 * Requests v0-2 carry message sets v0/v1, which are refused per partition. */
	{ BR_API_PRODUCE, 0, 9, 9, "Produce", br_h_produce },
	{ BR_API_FETCH, 4, 12, 12, "Fetch", br_h_fetch },
	{ BR_API_LIST_OFFSETS, 0, 7, 6, "ListOffsets", br_h_list_offsets },
	{ BR_API_METADATA, 0, 12, 9, "Metadata", br_h_metadata },
	{ BR_API_OFFSET_COMMIT, 0, 8, 8, "OffsetCommit", br_h_offset_commit },
	{ BR_API_OFFSET_FETCH, 0, 8, 6, "OffsetFetch", br_h_offset_fetch },
	{ BR_API_FIND_COORDINATOR, 0, 4, 3, "FindCoordinator", br_h_find_coordinator },
	{ BR_API_JOIN_GROUP, 0, 7, 6, "JoinGroup", br_h_join_group },
	{ BR_API_HEARTBEAT, 0, 4, 4, "Heartbeat", br_h_heartbeat },
	{ BR_API_LEAVE_GROUP, 0, 4, 4, "LeaveGroup", br_h_leave_group },
	{ BR_API_SYNC_GROUP, 0, 5, 4, "SyncGroup", br_h_sync_group },
	{ BR_API_DESCRIBE_GROUPS, 0, 5, 5, "DescribeGroups", br_h_describe_groups },
	{ BR_API_LIST_GROUPS, 0, 4, 3, "ListGroups", br_h_list_groups },
	{ BR_API_API_VERSIONS, 0, 3, 3, "ApiVersions", br_h_api_versions },
	{ BR_API_CREATE_TOPICS, 0, 7, 5, "CreateTopics", br_h_create_topics },
	{ BR_API_DELETE_TOPICS, 0, 6, 4, "DeleteTopics", br_h_delete_topics },
	{ BR_API_INIT_PRODUCER_ID, 0, 4, 2, "InitProducerId", br_h_init_producer_id },
	{ BR_API_DESCRIBE_CONFIGS, 0, 4, 4, "DescribeConfigs", br_h_describe_configs },
	{ BR_API_ALTER_CONFIGS, 0, 2, 2, "AlterConfigs", br_h_alter_configs },
	{ BR_API_CREATE_PARTITIONS, 0, 3, 2, "CreatePartitions", br_h_create_partitions },
	{ BR_API_INCREMENTAL_ALTER_CONFIGS, 0, 1, 1, "IncrementalAlterConfigs", br_h_incremental_alter_configs },
	{ 0, 0, 0, 0, NULL, NULL },
};

const br_kapi *br_kapi_find(int16_t key)
{
	for (const br_kapi *a = br_kapis; a->fn; a++)
		if (a->key == key)
			return a;
	return NULL;
}

/* ApiVersions v0-3. An unsupported version is answered in the v0 layout with
 * UNSUPPORTED_VERSION and the list, so the client can retry with one we speak. */
int br_h_api_versions(br_broker *b, br_kreq *r, br_buf *out)
{
	(void)b;
	const br_kapi *self = br_kapi_find(BR_API_API_VERSIONS);
	bool ok = r->version >= self->min && r->version <= self->max;
	bool flex = ok && r->version >= 3;
	if (ok && r->version >= 3) {
		br_kr_str(&r->body, true); /* client_software_name */
		br_kr_str(&r->body, true); /* client_software_version */
		br_kr_tags(&r->body, true);
		if (r->body.bad)
			return BR_KCLOSE;
	}
	int32_t n = 0;
	for (const br_kapi *a = br_kapis; a->fn; a++)
		n++;
	br_kw_i16(out, ok ? BR_KE_NONE : BR_KE_UNSUPPORTED_VERSION);
	br_kw_arr(out, flex, n);
	for (const br_kapi *a = br_kapis; a->fn; a++) {
		br_kw_i16(out, a->key);
		br_kw_i16(out, a->min);
		br_kw_i16(out, a->max);
		br_kw_tags(out, flex);
	}
	if (ok && r->version >= 1)
		br_kw_i32(out, 0); /* throttle_time_ms */
	br_kw_tags(out, flex);
	return 0;
}
