/* wire.h — Kafka protocol primitives: the readers and writers for the protocol's
 * types (fixed ints, varints, strings, bytes, arrays, UUIDs, tagged fields) in both
 * the classic and the "flexible" (compact, KIP-482) encodings, and the error codes.
 *
 * A request is read with a br_cur: reads past the end mark the cursor bad and
 * return zero/empty values, so a handler reads its whole request and checks
 * `c->bad` once. Strings and bytes point into the request buffer (no copy).
 * Array counts are checked against the bytes left, so a hostile count cannot make
 * a handler loop or allocate beyond the frame it was sent. */
#ifndef BR_KAFKA_WIRE_H
#define BR_KAFKA_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct br_kstr {
	const char *p;
	int32_t len; /* -1 = null */
} br_kstr;

static inline bool br_kstr_eq(br_kstr s, const char *z)
{
	size_t n = strlen(z);
	return s.len >= 0 && (size_t)s.len == n && !memcmp(s.p, z, n);
}

int8_t br_kr_i8(br_cur *c);
int16_t br_kr_i16(br_cur *c);
int32_t br_kr_i32(br_cur *c);
int64_t br_kr_i64(br_cur *c);
bool br_kr_bool(br_cur *c);
/* STRING / NULLABLE_STRING (flex: COMPACT_STRING, length+1 as uvarint). */
br_kstr br_kr_str(br_cur *c, bool flex);
/* BYTES / NULLABLE_BYTES (flex: COMPACT_BYTES). */
br_kstr br_kr_bytes(br_cur *c, bool flex);
/* ARRAY count (flex: COMPACT_ARRAY, n+1 as uvarint). -1 = null. Each element is at
 * least min_elem_bytes long: a count that cannot fit in the remaining bytes marks
 * the cursor bad and returns 0. */
int32_t br_kr_arr(br_cur *c, bool flex, int min_elem_bytes);
void br_kr_uuid(br_cur *c, uint8_t out[16]);
/* Skips a tagged-field section when flex (unknown tags are ignored, as the spec says). */
void br_kr_tags(br_cur *c, bool flex);

void br_kw_i8(br_buf *b, int8_t v);
void br_kw_i16(br_buf *b, int16_t v);
void br_kw_i32(br_buf *b, int32_t v);
void br_kw_i64(br_buf *b, int64_t v);
void br_kw_bool(br_buf *b, bool v);
/* len -1 writes null (nullable types only). */
void br_kw_strn(br_buf *b, bool flex, const char *s, int32_t len);
void br_kw_str(br_buf *b, bool flex, const char *s); /* NULL = null */
void br_kw_kstr(br_buf *b, bool flex, br_kstr s);
void br_kw_bytes(br_buf *b, bool flex, const void *p, int32_t len);
void br_kw_arr(br_buf *b, bool flex, int32_t n); /* -1 = null */
void br_kw_uuid(br_buf *b, const uint8_t id[16]);
void br_kw_tags(br_buf *b, bool flex); /* an empty tagged-field section */

/* Error codes from the protocol guide (the subset braid answers with). */
enum {
	BR_KE_UNKNOWN_SERVER_ERROR = -1,
	BR_KE_NONE = 0,
	BR_KE_OFFSET_OUT_OF_RANGE = 1,
	BR_KE_CORRUPT_MESSAGE = 2,
	BR_KE_UNKNOWN_TOPIC_OR_PARTITION = 3,
	BR_KE_INVALID_FETCH_SIZE = 4,
	BR_KE_LEADER_NOT_AVAILABLE = 5,
	BR_KE_NOT_LEADER_OR_FOLLOWER = 6,
	BR_KE_REQUEST_TIMED_OUT = 7,
	BR_KE_MESSAGE_TOO_LARGE = 10,
	BR_KE_OFFSET_METADATA_TOO_LARGE = 12,
	BR_KE_COORDINATOR_LOAD_IN_PROGRESS = 14,
	BR_KE_COORDINATOR_NOT_AVAILABLE = 15,
	BR_KE_NOT_COORDINATOR = 16,
	BR_KE_INVALID_TOPIC_EXCEPTION = 17,
	BR_KE_RECORD_LIST_TOO_LARGE = 18,
	BR_KE_INVALID_REQUIRED_ACKS = 21,
	BR_KE_ILLEGAL_GENERATION = 22,
	BR_KE_INCONSISTENT_GROUP_PROTOCOL = 23,
	BR_KE_INVALID_GROUP_ID = 24,
	BR_KE_UNKNOWN_MEMBER_ID = 25,
	BR_KE_INVALID_SESSION_TIMEOUT = 26,
	BR_KE_REBALANCE_IN_PROGRESS = 27,
	BR_KE_INVALID_COMMIT_OFFSET_SIZE = 28,
	BR_KE_UNSUPPORTED_VERSION = 35,
	BR_KE_TOPIC_ALREADY_EXISTS = 36,
	BR_KE_INVALID_PARTITIONS = 37,
	BR_KE_INVALID_REPLICATION_FACTOR = 38,
	BR_KE_INVALID_REQUEST = 42,
	BR_KE_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
	BR_KE_POLICY_VIOLATION = 44,
	BR_KE_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
	BR_KE_DUPLICATE_SEQUENCE_NUMBER = 46,
	BR_KE_INVALID_PRODUCER_EPOCH = 47,
	BR_KE_INVALID_TXN_STATE = 48,
	BR_KE_INVALID_PRODUCER_ID_MAPPING = 49,
	BR_KE_INVALID_TRANSACTION_TIMEOUT = 50,
	BR_KE_CONCURRENT_TRANSACTIONS = 51,
	BR_KE_INVALID_CONFIG = 40,
	BR_KE_NOT_CONTROLLER = 41,
	BR_KE_SECURITY_DISABLED = 54,
	BR_KE_GROUP_ID_NOT_FOUND = 69,
	BR_KE_UNKNOWN_PRODUCER_ID = 59,
	BR_KE_NON_EMPTY_GROUP = 68,
	BR_KE_FETCH_SESSION_ID_NOT_FOUND = 70,
	BR_KE_INVALID_FETCH_SESSION_EPOCH = 71,
	BR_KE_MEMBER_ID_REQUIRED = 79,
	BR_KE_GROUP_MAX_SIZE_REACHED = 81,
	BR_KE_FENCED_INSTANCE_ID = 82,
	BR_KE_INVALID_RECORD = 87,
	BR_KE_KAFKA_STORAGE_ERROR = 56,
	BR_KE_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
	BR_KE_UNKNOWN_TOPIC_ID = 100,
	BR_KE_INCONSISTENT_TOPIC_ID = 103,
};

#endif
