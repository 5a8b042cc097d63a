/* test_groups.c — unit tests for the group coordinator (src/kafka/groups.c) and its
 * offset store (src/kafka/groups_store.c). The handlers run against a fake broker:
 * this file defines the few broker.h functions groups.c calls, with deferred
 * responses captured in fake slots, so a whole rebalance can be driven by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "kafka/groups_store.h"
#include "kafka/handlers.h"

/* ---- the fake broker ---- */

struct br_kslot {
	br_buf body;
	bool done, dead; /* dead: the connection closed */
	struct br_kslot *next;
};

static br_groups *fake_groups;
static br_broker_opts fake_opts;
static struct br_kslot *all_slots;
static char fake_broker_obj;
#define FB ((br_broker *)&fake_broker_obj)

br_kslot *br_kreq_defer(br_kreq *req)
{
	(void)req;
	struct br_kslot *s = br_xcalloc(1, sizeof *s);
	s->next = all_slots;
	all_slots = s;
	return s;
}
void br_kslot_finish(br_kslot *s, const br_buf *body)
{
	assert_false(s->done);
	br_buf_put(&s->body, body->p, body->len);
	s->done = true;
}
bool br_kslot_alive(const br_kslot *s) { return !s->dead; }
const char *br_kconn_peer(const br_kconn *c) { (void)c; return "/127.0.0.1"; }
br_groups *br_broker_groups(br_broker *b) { (void)b; return fake_groups; }
const br_broker_opts *br_broker_options(const br_broker *b) { (void)b; return &fake_opts; }
const char *br_broker_advertised_host(const br_broker *b) { (void)b; return "127.0.0.1"; }
int br_broker_port(const br_broker *b) { (void)b; return 9099; }

static void free_slots(void)
{
	while (all_slots) {
		struct br_kslot *n = all_slots->next;
		br_buf_free(&all_slots->body);
		free(all_slots);
		all_slots = n;
	}
}

static char tmpdir[256];

static void setup_dir(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/braid-test-groups-%d", (int)getpid());
	br_remove_tree(tmpdir, NULL);
}

static void open_groups(void)
{
	br_err e;
	fake_opts.node_id = 7;
	int rc = br_groups_open(&fake_groups, FB, tmpdir, &e);
	if (rc)
		fail_msg("open: %s", e.msg);
}

static void close_groups(void)
{
	br_groups_close(fake_groups);
	fake_groups = NULL;
	free_slots();
}

/* Calls a handler; the response body lands in out (reset first). */
static int call(br_khandler fn, int16_t key, int16_t v, bool flex, const br_buf *req, br_buf *out, int64_t now)
{
	br_kreq r = { 0 };
	r.key = key;
	r.version = v;
	r.flex = flex;
	r.client_id = (br_kstr){ "cli", 3 };
	r.body = br_cur_make(req->p, req->len);
	r.now_ms = now;
	br_buf_reset(out);
	return fn(FB, &r, out);
}

/* ---- the offset store ---- */

static br_gcommit mk(const char *group, const char *topic, int32_t p, int64_t off, const char *meta)
{
	br_gcommit c = { group, (int32_t)strlen(group), { 0 } };
	c.o.topic = topic;
	c.o.topic_len = (int32_t)strlen(topic);
	c.o.partition = p;
	c.o.offset = off;
	c.o.leader_epoch = 3;
	c.o.commit_ms = 1234;
	c.o.meta = meta;
	c.o.meta_len = meta ? (int32_t)strlen(meta) : 0;
	return c;
}

static void check_off(br_gstore *s, const char *g, const char *t, int32_t p, int64_t want, const char *meta)
{
	const br_goffset *o = br_gstore_get(s, g, (int32_t)strlen(g), t, (int32_t)strlen(t), p);
	if (want < 0) {
		assert_null(o);
		return;
	}
	assert_non_null(o);
	assert_int_equal(o->offset, want);
	assert_int_equal(o->leader_epoch, 3);
	if (meta) {
		assert_non_null(o->meta);
		assert_int_equal(o->meta_len, strlen(meta));
		assert_memory_equal(o->meta, meta, strlen(meta));
	} else {
		assert_null(o->meta);
	}
}

static void test_store_roundtrip(void **state)
{
	(void)state;
	setup_dir();
	br_err e;
	br_gstore *s;
	assert_int_equal(br_gstore_open(&s, tmpdir, &e), 0);
	br_gcommit c[] = { mk("g1", "t", 0, 10, "m0"), mk("g1", "t", 1, 11, NULL), mk("g2", "t", 0, 20, ""),
		               mk("g1", "u", 0, 5, "x") };
	assert_int_equal(br_gstore_commit(s, c, 4, &e), 0);
	br_gcommit c2 = mk("g1", "t", 0, 15, "m1");
	assert_int_equal(br_gstore_commit(s, &c2, 1, &e), 0);
	br_gstore_close(s);

	assert_int_equal(br_gstore_open(&s, tmpdir, &e), 0);
	check_off(s, "g1", "t", 0, 15, "m1");
	check_off(s, "g1", "t", 1, 11, NULL);
	check_off(s, "g2", "t", 0, 20, "");
	check_off(s, "g1", "u", 0, 5, "x");
	check_off(s, "g1", "t", 2, -1, NULL);
	check_off(s, "g3", "t", 0, -1, NULL);
	const br_goffset **all;
	size_t n = br_gstore_group_offsets(s, "g1", 2, &all);
	assert_int_equal(n, 3);
	assert_int_equal(all[0]->partition, 0);
	assert_int_equal(all[1]->partition, 1);
	assert_memory_equal(all[2]->topic, "u", 1);
	free(all);
	int groups = 0;
	const char *id;
	int32_t len;
	for (size_t i = 0; br_gstore_next_group(s, &i, &id, &len);)
		groups++;
	assert_int_equal(groups, 2);
	/* a group id with a NUL and a slash is only a key, never a path */
	br_gcommit odd = { "a/\0../b", 7, mk("", "t", 0, 1, NULL).o };
	assert_int_equal(br_gstore_commit(s, &odd, 1, &e), 0);
	br_gstore_close(s);
	assert_int_equal(br_gstore_open(&s, tmpdir, &e), 0);
	assert_non_null(br_gstore_get(s, "a/\0../b", 7, "t", 1, 0));
	br_gstore_close(s);
	br_remove_tree(tmpdir, NULL);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void test_store_torn_tail(void **state)
{
	(void)state;
	setup_dir();
	br_err e;
	br_gstore *s;
	char path[300];
	snprintf(path, sizeof path, "%s/offsets.log", tmpdir);
	assert_int_equal(br_gstore_open(&s, tmpdir, &e), 0);
	br_gcommit a = mk("g", "t", 0, 1, "a"), b = mk("g", "t", 1, 2, "b");
	assert_int_equal(br_gstore_commit(s, &a, 1, &e), 0);
	off_t after_a = file_size(path);
	assert_int_equal(br_gstore_commit(s, &b, 1, &e), 0);
	off_t after_b = file_size(path);
	br_gstore_close(s);

	/* torn: the last record loses its last 3 bytes */
	assert_int_equal(truncate(path, after_b - 3), 0);
	assert_int_equal(br_gstore_open(&s, tmpdir, &e), 0);
	check_off(s, "g", "t", 0, 1, "a");
	check_off(s, "g", "t", 1, -1, NULL);
	assert_int_equal(file_size(path), after_a);
	/* appends after the cut are found again */
	assert_int_equal(br_gstore_commit(s, &b, 1, &e), 0);
	br_gstore_close(s);
	assert_int_equal(br_gstore_open(&s, tmpdir, &e), 0);
	check_off(s, "g", "t", 1, 2, "b");
	br_gstore_close(s);

	/* CRC mismatch: flip a byte in the last record's payload */
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t x;
	assert_int_equal(pread(fd, &x, 1, after_b - 2), 1);
	x ^= 0x40;
	assert_int_equal(pwrite(fd, &x, 1, after_b - 2), 1);
	/* and garbage after it */
	assert_int_equal(pwrite(fd, "\xff\xff\xff\xff garbage", 12, after_b), 12);
	close(fd);
	assert_int_equal(br_gstore_open(&s, tmpdir, &e), 0);
	check_off(s, "g", "t", 0, 1, "a");
	check_off(s, "g", "t", 1, -1, NULL);
	assert_int_equal(file_size(path), after_a);
	br_gstore_close(s);

	/* a header torn before it was complete: the file starts over */
	assert_int_equal(truncate(path, 3), 0);
	assert_int_equal(br_gstore_open(&s, tmpdir, &e), 0);
	check_off(s, "g", "t", 0, -1, NULL);
	br_gstore_close(s);

	/* not our file: refused, not overwritten */
	assert_int_equal(br_write_file_atomic(path, "NOTOURS!xxxx", 12, &e), 0);
	assert_int_equal(br_gstore_open(&s, tmpdir, &e), BR_ECORRUPT);
	assert_int_equal(file_size(path), 12);
	br_remove_tree(tmpdir, NULL);
}

static void test_store_compaction(void **state)
{
	(void)state;
	setup_dir();
	br_err e;
	br_gstore *s;
	char path[300];
	snprintf(path, sizeof path, "%s/offsets.log", tmpdir);
	assert_int_equal(br_gstore_open(&s, tmpdir, &e), 0);
	br_gstore_set_compact_min(s, 4096);
	int64_t peak = 0;
	for (int i = 0; i < 2000; i++) {
		br_gcommit c[2] = { mk("grp", "topic", i % 3, i, "meta"), mk("other", "topic", 0, -i, NULL) };
		assert_int_equal(br_gstore_commit(s, c, 2, &e), 0);
		peak = BR_MAX(peak, br_gstore_file_bytes(s));
		assert_int_equal(br_gstore_file_bytes(s), file_size(path));
	}
	/* 4000 records of ~50 bytes were written; the file never held many more than 4 KiB */
	assert_true(peak < 8192);
	assert_true(br_gstore_file_bytes(s) <= 4 * br_gstore_live_bytes(s) || br_gstore_file_bytes(s) <= 4096);
	br_gstore_close(s);
	assert_int_equal(br_gstore_open(&s, tmpdir, &e), 0);
	check_off(s, "grp", "topic", 0, 1998, "meta");
	check_off(s, "grp", "topic", 1, 1999, "meta");
	check_off(s, "grp", "topic", 2, 1997, "meta");
	const br_goffset *o = br_gstore_get(s, "other", 5, "topic", 5, 0);
	assert_non_null(o);
	assert_int_equal(o->offset, -1999);
	/* explicit compaction keeps exactly the live records */
	assert_int_equal(br_gstore_compact(s, &e), 0);
	assert_int_equal(br_gstore_file_bytes(s), br_gstore_live_bytes(s));
	assert_int_equal(file_size(path), br_gstore_live_bytes(s));
	assert_false(br_path_exists("/tmp/offsets.log.tmp") && 0);
	br_gstore_close(s);
	assert_int_equal(br_gstore_open(&s, tmpdir, &e), 0);
	check_off(s, "grp", "topic", 2, 1997, "meta");
	br_gstore_close(s);
	br_remove_tree(tmpdir, NULL);
}

/* ---- the protocol ---- */

static void put_join(br_buf *b, int16_t v, const char *group, int32_t sess, int32_t reb, const char *mid,
                     const char *iid, const char *proto, const char *meta)
{
	bool f = v >= 6;
	br_kw_str(b, f, group);
	br_kw_i32(b, sess);
	if (v >= 1)
		br_kw_i32(b, reb);
	br_kw_str(b, f, mid);
	if (v >= 5)
		br_kw_str(b, f, iid);
	br_kw_str(b, f, "consumer");
	br_kw_arr(b, f, 1);
	br_kw_str(b, f, proto);
	br_kw_bytes(b, f, meta, (int32_t)strlen(meta));
	br_kw_tags(b, f);
	br_kw_tags(b, f);
}

typedef struct jresp {
	int16_t err;
	int32_t gen;
	char protocol[64], leader[200], member[200];
	int32_t nmembers;
	char meta0[64];
} jresp;

static void cpy(char *dst, size_t cap, br_kstr s)
{
	snprintf(dst, cap, "%.*s", s.len < 0 ? 0 : s.len, s.len < 0 ? "" : s.p);
}

static jresp parse_join(int16_t v, const br_buf *o)
{
	bool f = v >= 6;
	jresp j = { 0 };
	br_cur c = br_cur_make(o->p, o->len);
	if (v >= 2)
		br_kr_i32(&c);
	j.err = br_kr_i16(&c);
	j.gen = br_kr_i32(&c);
	if (v >= 7)
		br_kr_str(&c, f);
	cpy(j.protocol, sizeof j.protocol, br_kr_str(&c, f));
	cpy(j.leader, sizeof j.leader, br_kr_str(&c, f));
	cpy(j.member, sizeof j.member, br_kr_str(&c, f));
	j.nmembers = br_kr_arr(&c, f, 1);
	for (int32_t i = 0; i < j.nmembers; i++) {
		br_kr_str(&c, f);
		if (v >= 5)
			br_kr_str(&c, f);
		br_kstr m = br_kr_bytes(&c, f);
		if (i == 0)
			cpy(j.meta0, sizeof j.meta0, m);
		br_kr_tags(&c, f);
	}
	br_kr_tags(&c, f);
	assert_false(c.bad);
	assert_int_equal(br_cur_left(&c), 0);
	return j;
}

static void put_sync(br_buf *b, int16_t v, const char *group, int32_t gen, const char *mid, int n,
                     const char *const *ids, const char *const *asg)
{
	bool f = v >= 4;
	br_kw_str(b, f, group);
	br_kw_i32(b, gen);
	br_kw_str(b, f, mid);
	if (v >= 3)
		br_kw_str(b, f, NULL);
	if (v >= 5) {
		br_kw_str(b, f, "consumer");
		br_kw_str(b, f, "range");
	}
	br_kw_arr(b, f, n);
	for (int i = 0; i < n; i++) {
		br_kw_str(b, f, ids[i]);
		br_kw_bytes(b, f, asg[i], (int32_t)strlen(asg[i]));
		br_kw_tags(b, f);
	}
	br_kw_tags(b, f);
}

static int16_t parse_sync(int16_t v, const br_buf *o, char *asg, size_t cap)
{
	bool f = v >= 4;
	br_cur c = br_cur_make(o->p, o->len);
	if (v >= 1)
		br_kr_i32(&c);
	int16_t err = br_kr_i16(&c);
	if (v >= 5) {
		br_kr_str(&c, f);
		br_kr_str(&c, f);
	}
	cpy(asg, cap, br_kr_bytes(&c, f));
	br_kr_tags(&c, f);
	assert_false(c.bad);
	assert_int_equal(br_cur_left(&c), 0);
	return err;
}

static int16_t heartbeat(const char *group, int32_t gen, const char *mid, int64_t now)
{
	br_buf q = { 0 }, o = { 0 };
	br_kw_str(&q, false, group);
	br_kw_i32(&q, gen);
	br_kw_str(&q, false, mid);
	br_kw_str(&q, false, NULL);
	assert_int_equal(call(br_h_heartbeat, BR_API_HEARTBEAT, 3, false, &q, &o, now), 0);
	br_cur c = br_cur_make(o.p, o.len);
	br_kr_i32(&c);
	int16_t err = br_kr_i16(&c);
	assert_false(c.bad);
	br_buf_free(&q);
	br_buf_free(&o);
	return err;
}

/* JoinGroup v5 of a new member: MEMBER_ID_REQUIRED first, then the real join.
 * Returns the handler's code of the second call; the member id goes to mid. */
static int join_new(const char *group, int32_t sess, int32_t reb, const char *meta, char *mid, int64_t now,
                    br_buf *out)
{
	br_buf q = { 0 };
	put_join(&q, 5, group, sess, reb, "", NULL, "range", meta);
	assert_int_equal(call(br_h_join_group, BR_API_JOIN_GROUP, 5, false, &q, out, now), 0);
	jresp j = parse_join(5, out);
	assert_int_equal(j.err, BR_KE_MEMBER_ID_REQUIRED);
	assert_true(strlen(j.member) > 4);
	assert_memory_equal(j.member, "cli-", 4);
	strcpy(mid, j.member);
	br_buf_reset(&q);
	put_join(&q, 5, group, sess, reb, mid, NULL, "range", meta);
	int rc = call(br_h_join_group, BR_API_JOIN_GROUP, 5, false, &q, out, now);
	br_buf_free(&q);
	return rc;
}

static void test_rebalance(void **state)
{
	(void)state;
	setup_dir();
	open_groups();
	br_buf o = { 0 }, q = { 0 };
	char m1[200], m2[200], asg[64];
	int64_t t = 1000000;

	/* a lone member: the join completes at once, it leads generation 1 */
	assert_int_equal(join_new("g", 10000, 20000, "meta1", m1, t, &o), 0);
	jresp j = parse_join(5, &o);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.gen, 1);
	assert_string_equal(j.leader, m1);
	assert_string_equal(j.member, m1);
	assert_string_equal(j.protocol, "range");
	assert_int_equal(j.nmembers, 1);
	assert_string_equal(j.meta0, "meta1");
	const char *ids1[] = { m1 }, *as1[] = { "A1" };
	put_sync(&q, 3, "g", 1, m1, 1, ids1, as1);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 3, false, &q, &o, t), 0);
	assert_int_equal(parse_sync(3, &o, asg, sizeof asg), 0);
	assert_string_equal(asg, "A1");
	assert_int_equal(heartbeat("g", 1, m1, t + 1000), BR_KE_NONE);
	assert_int_equal(heartbeat("g", 0, m1, t + 1000), BR_KE_ILLEGAL_GENERATION);
	assert_int_equal(heartbeat("g", 1, "nobody", t + 1000), BR_KE_UNKNOWN_MEMBER_ID);
	assert_int_equal(heartbeat("nogroup", 1, m1, t + 1000), BR_KE_UNKNOWN_MEMBER_ID);

	/* a second member: its join waits for the first to rejoin */
	t += 2000;
	assert_int_equal(join_new("g", 10000, 20000, "meta2", m2, t, &o), BR_KDEFER);
	struct br_kslot *s2 = all_slots;
	assert_false(s2->done);
	assert_int_equal(heartbeat("g", 1, m1, t), BR_KE_REBALANCE_IN_PROGRESS);
	br_buf_reset(&q);
	put_join(&q, 5, "g", 10000, 20000, m1, NULL, "range", "meta1");
	assert_int_equal(call(br_h_join_group, BR_API_JOIN_GROUP, 5, false, &q, &o, t), 0);
	j = parse_join(5, &o);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.gen, 2);
	assert_string_equal(j.leader, m1);
	assert_int_equal(j.nmembers, 2);
	assert_true(s2->done);
	j = parse_join(5, &s2->body);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.gen, 2);
	assert_string_equal(j.member, m2);
	assert_string_equal(j.leader, m1);
	assert_int_equal(j.nmembers, 0);

	/* follower's SyncGroup waits for the leader's */
	const char *ids2[] = { m1, m2 }, *as2[] = { "A1", "A2" };
	br_buf_reset(&q);
	put_sync(&q, 3, "g", 2, m2, 0, NULL, NULL);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 3, false, &q, &o, t), BR_KDEFER);
	struct br_kslot *sy2 = all_slots;
	assert_int_equal(heartbeat("g", 2, m2, t), BR_KE_NONE); /* CompletingRebalance */
	br_buf_reset(&q);
	put_sync(&q, 3, "g", 1, m1, 2, ids2, as2);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 3, false, &q, &o, t), 0);
	assert_int_equal(parse_sync(3, &o, asg, sizeof asg), BR_KE_ILLEGAL_GENERATION);
	br_buf_reset(&q);
	put_sync(&q, 3, "g", 2, m1, 2, ids2, as2);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 3, false, &q, &o, t), 0);
	assert_int_equal(parse_sync(3, &o, asg, sizeof asg), 0);
	assert_string_equal(asg, "A1");
	assert_true(sy2->done);
	assert_int_equal(parse_sync(3, &sy2->body, asg, sizeof asg), 0);
	assert_string_equal(asg, "A2");

	/* a follower rejoining with the same metadata in Stable gets the current generation */
	br_buf_reset(&q);
	put_join(&q, 5, "g", 10000, 20000, m2, NULL, "range", "meta2");
	assert_int_equal(call(br_h_join_group, BR_API_JOIN_GROUP, 5, false, &q, &o, t), 0);
	j = parse_join(5, &o);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.gen, 2);

	/* m2's session expires (m1 keeps heartbeating): rebalance, m1 alone at generation 3 */
	t += 6000;
	assert_int_equal(heartbeat("g", 2, m1, t), BR_KE_NONE);
	br_groups_tick(fake_groups, t);
	t += 5000;
	br_groups_tick(fake_groups, t);
	assert_int_equal(heartbeat("g", 2, m1, t), BR_KE_REBALANCE_IN_PROGRESS);
	assert_int_equal(heartbeat("g", 2, m2, t), BR_KE_UNKNOWN_MEMBER_ID);
	br_buf_reset(&q);
	put_join(&q, 5, "g", 10000, 20000, m1, NULL, "range", "meta1");
	assert_int_equal(call(br_h_join_group, BR_API_JOIN_GROUP, 5, false, &q, &o, t), 0);
	j = parse_join(5, &o);
	assert_int_equal(j.gen, 3);
	assert_int_equal(j.nmembers, 1);

	/* m1 leaves: the group becomes Empty */
	br_buf_reset(&q);
	br_kw_str(&q, false, "g");
	br_kw_arr(&q, false, 1);
	br_kw_str(&q, false, m1);
	br_kw_str(&q, false, NULL);
	assert_int_equal(call(br_h_leave_group, BR_API_LEAVE_GROUP, 3, false, &q, &o, t), 0);
	br_cur c = br_cur_make(o.p, o.len);
	br_kr_i32(&c);
	assert_int_equal(br_kr_i16(&c), 0);
	assert_int_equal(br_kr_arr(&c, false, 1), 1);
	br_kr_str(&c, false);
	br_kr_str(&c, false);
	assert_int_equal(br_kr_i16(&c), 0);
	assert_int_equal(heartbeat("g", 3, m1, t), BR_KE_UNKNOWN_MEMBER_ID);

	/* ListGroups v4 with a states filter */
	br_buf_reset(&q);
	br_kw_arr(&q, true, 1);
	br_kw_str(&q, true, "empty");
	br_kw_tags(&q, true);
	assert_int_equal(call(br_h_list_groups, BR_API_LIST_GROUPS, 4, true, &q, &o, t), 0);
	c = br_cur_make(o.p, o.len);
	br_kr_i32(&c);
	assert_int_equal(br_kr_i16(&c), 0);
	assert_int_equal(br_kr_arr(&c, true, 1), 1);
	assert_true(br_kstr_eq(br_kr_str(&c, true), "g"));
	assert_true(br_kstr_eq(br_kr_str(&c, true), "consumer"));
	assert_true(br_kstr_eq(br_kr_str(&c, true), "Empty"));

	br_buf_free(&o);
	br_buf_free(&q);
	close_groups();
	br_remove_tree(tmpdir, NULL);
}

static void test_rebalance_timeout_and_errors(void **state)
{
	(void)state;
	setup_dir();
	open_groups();
	br_buf o = { 0 }, q = { 0 };
	char m1[200], m2[200], m3[200];
	int64_t t = 5000000;
	assert_int_equal(join_new("h", 30000, 4000, "x", m1, t, &o), 0);
	const char *ids[] = { m1 }, *as[] = { "" };
	put_sync(&q, 3, "h", 1, m1, 1, ids, as);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 3, false, &q, &o, t), 0);

	/* bad session timeouts and protocols */
	br_buf_reset(&q);
	put_join(&q, 5, "h", 500, 4000, "", NULL, "range", "x");
	assert_int_equal(call(br_h_join_group, BR_API_JOIN_GROUP, 5, false, &q, &o, t), 0);
	assert_int_equal(parse_join(5, &o).err, BR_KE_INVALID_SESSION_TIMEOUT);
	br_buf_reset(&q);
	put_join(&q, 5, "h", 10000, 4000, "", "static-1", "roundrobin", "x");
	assert_int_equal(call(br_h_join_group, BR_API_JOIN_GROUP, 5, false, &q, &o, t), 0);
	assert_int_equal(parse_join(5, &o).err, BR_KE_INCONSISTENT_GROUP_PROTOCOL);
	br_buf_reset(&q);
	put_join(&q, 5, "h", 10000, 4000, "ghost", NULL, "range", "x");
	assert_int_equal(call(br_h_join_group, BR_API_JOIN_GROUP, 5, false, &q, &o, t), 0);
	assert_int_equal(parse_join(5, &o).err, BR_KE_UNKNOWN_MEMBER_ID);

	/* m2 joins (flexible v7 this time, whose first answer is also MEMBER_ID_REQUIRED) */
	br_buf_reset(&q);
	put_join(&q, 7, "h", 30000, 4000, "", NULL, "range", "y");
	assert_int_equal(call(br_h_join_group, BR_API_JOIN_GROUP, 7, true, &q, &o, t), 0);
	jresp j = parse_join(7, &o);
	assert_int_equal(j.err, BR_KE_MEMBER_ID_REQUIRED);
	strcpy(m2, j.member);
	br_buf_reset(&q);
	put_join(&q, 7, "h", 30000, 4000, m2, NULL, "range", "y");
	assert_int_equal(call(br_h_join_group, BR_API_JOIN_GROUP, 7, true, &q, &o, t), BR_KDEFER);
	struct br_kslot *s2 = all_slots;
	/* m3 takes a member id and never comes back: it must not block the rebalance forever */
	br_buf_reset(&q);
	put_join(&q, 5, "h", 30000, 4000, "", NULL, "range", "z");
	assert_int_equal(call(br_h_join_group, BR_API_JOIN_GROUP, 5, false, &q, &o, t), 0);
	strcpy(m3, parse_join(5, &o).member);
	(void)m3;
	/* m1 never rejoins: after the rebalance timeout (4 s) it is dropped */
	br_groups_tick(fake_groups, t + 3000);
	assert_false(s2->done);
	br_groups_tick(fake_groups, t + 4100);
	assert_true(s2->done);
	j = parse_join(7, &s2->body);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.gen, 2);
	assert_string_equal(j.leader, m2);
	assert_int_equal(j.nmembers, 1);
	assert_int_equal(heartbeat("h", 1, m1, t + 4200), BR_KE_UNKNOWN_MEMBER_ID);
	/* a sync from the previous generation */
	br_buf_reset(&q);
	put_sync(&q, 5, "h", 1, m2, 0, NULL, NULL);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 5, true, &q, &o, t + 4200), 0);
	char asg[16];
	assert_int_equal(parse_sync(5, &o, asg, sizeof asg), BR_KE_ILLEGAL_GENERATION);
	br_buf_reset(&q);
	put_sync(&q, 5, "h", 2, m2, 0, NULL, NULL);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 5, true, &q, &o, t + 4200), 0);
	assert_int_equal(parse_sync(5, &o, asg, sizeof asg), 0);

	/* a waiting JoinGroup is answered (not leaked) when the coordinator closes */
	br_buf_reset(&q);
	assert_int_equal(join_new("h", 30000, 4000, "w", m3, t + 4300, &o), BR_KDEFER);
	s2 = all_slots;
	br_buf_free(&o);
	br_buf_free(&q);
	br_groups_close(fake_groups);
	assert_true(s2->done);
	assert_int_equal(parse_join(5, &s2->body).err, BR_KE_NOT_COORDINATOR);
	fake_groups = NULL;
	free_slots();
	br_remove_tree(tmpdir, NULL);
}

static int join_static(const char *group, const char *iid, const char *mid, const char *meta, int64_t now,
                       br_buf *out)
{
	br_buf q = { 0 };
	put_join(&q, 5, group, 10000, 20000, mid, iid, "range", meta);
	int rc = call(br_h_join_group, BR_API_JOIN_GROUP, 5, false, &q, out, now);
	br_buf_free(&q);
	return rc;
}

/* Static members (group.instance.id): no MEMBER_ID_REQUIRED round, a restart takes
 * the old place without a rebalance, and the old member id is fenced. */
static void test_static_members(void **state)
{
	(void)state;
	setup_dir();
	open_groups();
	br_buf o = { 0 }, q = { 0 };
	char s1[200], s2[200], s1b[200], asg[16];
	int64_t t = 7000000;
	assert_int_equal(join_static("st", "i1", "", "m1", t, &o), 0);
	jresp j = parse_join(5, &o);
	assert_int_equal(j.err, 0);
	strcpy(s1, j.member);
	assert_string_equal(j.leader, s1);
	const char *ids1[] = { s1 }, *as1[] = { "A" };
	put_sync(&q, 3, "st", 1, s1, 1, ids1, as1);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 3, false, &q, &o, t), 0);
	assert_int_equal(join_static("st", "i2", "", "m2", t, &o), BR_KDEFER);
	struct br_kslot *w2 = all_slots;
	assert_int_equal(join_static("st", "i1", s1, "m1", t, &o), 0); /* the leader rejoins */
	assert_true(w2->done);
	strcpy(s2, parse_join(5, &w2->body).member);
	const char *ids[] = { s1, s2 }, *as[] = { "A1", "A2" };
	br_buf_reset(&q);
	put_sync(&q, 3, "st", 2, s2, 0, NULL, NULL);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 3, false, &q, &o, t), BR_KDEFER);
	br_buf_reset(&q);
	put_sync(&q, 3, "st", 2, s1, 2, ids, as);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 3, false, &q, &o, t), 0);

	/* the leader restarts: same instance id, no member id. Answered at once with the
	 * same generation and the old leader id (so it does not assign), no rebalance */
	assert_int_equal(join_static("st", "i1", "", "m1", t + 100, &o), 0);
	j = parse_join(5, &o);
	assert_int_equal(j.err, 0);
	assert_int_equal(j.gen, 2);
	strcpy(s1b, j.member);
	assert_string_not_equal(s1b, s1);
	assert_string_equal(j.leader, s1);
	assert_int_equal(j.nmembers, 0);
	assert_int_equal(heartbeat("st", 2, s2, t + 100), BR_KE_NONE);
	assert_int_equal(heartbeat("st", 2, s1, t + 100), BR_KE_UNKNOWN_MEMBER_ID);
	br_buf_reset(&q);
	br_kw_str(&q, false, "st");
	br_kw_i32(&q, 2);
	br_kw_str(&q, false, s1);
	br_kw_str(&q, false, "i1");
	assert_int_equal(call(br_h_heartbeat, BR_API_HEARTBEAT, 3, false, &q, &o, t + 100), 0);
	assert_int_equal(br_rd_be16(o.p + 4), BR_KE_FENCED_INSTANCE_ID);
	br_buf_reset(&q);
	put_sync(&q, 3, "st", 2, s1b, 0, NULL, NULL);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 3, false, &q, &o, t + 100), 0);
	assert_int_equal(parse_sync(3, &o, asg, sizeof asg), 0);
	assert_string_equal(asg, "A1");

	/* LeaveGroup v3 by instance id with a stale member id is fenced; with the right one
	 * the member goes and the group rebalances */
	br_buf_reset(&q);
	br_kw_str(&q, false, "st");
	br_kw_arr(&q, false, 1);
	br_kw_str(&q, false, s1);
	br_kw_str(&q, false, "i1");
	assert_int_equal(call(br_h_leave_group, BR_API_LEAVE_GROUP, 3, false, &q, &o, t + 200), 0);
	assert_int_equal(br_rd_be16(o.p + o.len - 2), BR_KE_FENCED_INSTANCE_ID);
	/* LeaveGroup v0 (no throttle time, a single member) */
	br_buf_reset(&q);
	br_kw_str(&q, false, "st");
	br_kw_str(&q, false, s1b);
	assert_int_equal(call(br_h_leave_group, BR_API_LEAVE_GROUP, 0, false, &q, &o, t + 200), 0);
	assert_int_equal(o.len, 2);
	assert_int_equal(br_rd_be16(o.p), 0);
	assert_int_equal(heartbeat("st", 2, s2, t + 200), BR_KE_REBALANCE_IN_PROGRESS);

	/* s3 joins (and leads: the leader left), s2 rejoins; then s2's connection drops
	 * while its SyncGroup waits: the next tick removes it instead of waiting for
	 * its session to expire */
	char s3[200];
	assert_int_equal(join_new("st", 10000, 20000, "m3", s3, t + 300, &o), BR_KDEFER);
	struct br_kslot *w3 = all_slots;
	assert_int_equal(join_static("st", "i2", s2, "m2", t + 300, &o), 0);
	assert_true(w3->done);
	j = parse_join(5, &w3->body);
	assert_int_equal(j.gen, 3);
	assert_string_equal(j.leader, s3);
	br_buf_reset(&q);
	put_sync(&q, 3, "st", 3, s2, 0, NULL, NULL);
	assert_int_equal(call(br_h_sync_group, BR_API_SYNC_GROUP, 3, false, &q, &o, t + 300), BR_KDEFER);
	all_slots->dead = true;
	br_groups_tick(fake_groups, t + 400);
	/* s2 is gone, s3 must rejoin */
	assert_int_equal(heartbeat("st", 3, s2, t + 400), BR_KE_UNKNOWN_MEMBER_ID);
	assert_int_equal(heartbeat("st", 3, s3, t + 400), BR_KE_REBALANCE_IN_PROGRESS);

	br_buf_free(&o);
	br_buf_free(&q);
	close_groups();
	br_remove_tree(tmpdir, NULL);
}

/* OffsetCommit v8 (flexible) then OffsetFetch v8 (all partitions) and v1 (named). */
static void test_offsets_via_handlers(void **state)
{
	(void)state;
	setup_dir();
	open_groups();
	br_buf o = { 0 }, q = { 0 };
	int64_t t = 9000000;
	/* simple consumer commit: generation -1, no member */
	br_kw_str(&q, true, "sg");
	br_kw_i32(&q, -1);
	br_kw_str(&q, true, "");
	br_kw_str(&q, true, NULL);
	br_kw_arr(&q, true, 2);
	const char *topics[] = { "b-topic", "a-topic" };
	for (int k = 0; k < 2; k++) {
		br_kw_str(&q, true, topics[k]);
		br_kw_arr(&q, true, 2);
		for (int p = 0; p < 2; p++) {
			br_kw_i32(&q, p);
			br_kw_i64(&q, 100 * k + p);
			br_kw_i32(&q, -1);
			br_kw_str(&q, true, p ? NULL : "meta");
			br_kw_tags(&q, true);
		}
		br_kw_tags(&q, true);
	}
	br_kw_tags(&q, true);
	assert_int_equal(call(br_h_offset_commit, BR_API_OFFSET_COMMIT, 8, true, &q, &o, t), 0);
	br_cur c = br_cur_make(o.p, o.len);
	br_kr_i32(&c);
	assert_int_equal(br_kr_arr(&c, true, 1), 2);
	for (int k = 0; k < 2; k++) {
		assert_true(br_kstr_eq(br_kr_str(&c, true), topics[k]));
		assert_int_equal(br_kr_arr(&c, true, 1), 2);
		for (int p = 0; p < 2; p++) {
			assert_int_equal(br_kr_i32(&c), p);
			assert_int_equal(br_kr_i16(&c), 0);
			br_kr_tags(&c, true);
		}
		br_kr_tags(&c, true);
	}
	br_kr_tags(&c, true);
	assert_false(c.bad);
	assert_int_equal(br_cur_left(&c), 0);

	/* a commit with a generation for a group nobody joined */
	br_buf_reset(&q);
	br_kw_str(&q, false, "sg2");
	br_kw_i32(&q, 3);
	br_kw_str(&q, false, "m");
	br_kw_str(&q, false, NULL);
	br_kw_arr(&q, false, 1);
	br_kw_str(&q, false, "t");
	br_kw_arr(&q, false, 1);
	br_kw_i32(&q, 0);
	br_kw_i64(&q, 5);
	br_kw_i32(&q, -1);
	br_kw_str(&q, false, NULL);
	assert_int_equal(call(br_h_offset_commit, BR_API_OFFSET_COMMIT, 7, false, &q, &o, t), 0);
	assert_int_equal(br_rd_be16(o.p + o.len - 2), BR_KE_ILLEGAL_GENERATION);

	/* restart the coordinator: offsets come back from disk */
	close_groups();
	open_groups();

	br_buf_reset(&q);
	br_kw_arr(&q, true, 1);
	br_kw_str(&q, true, "sg");
	br_kw_arr(&q, true, -1);
	br_kw_tags(&q, true);
	br_kw_bool(&q, false);
	br_kw_tags(&q, true);
	assert_int_equal(call(br_h_offset_fetch, BR_API_OFFSET_FETCH, 8, true, &q, &o, t), 0);
	c = br_cur_make(o.p, o.len);
	br_kr_i32(&c);
	assert_int_equal(br_kr_arr(&c, true, 1), 1);
	assert_true(br_kstr_eq(br_kr_str(&c, true), "sg"));
	assert_int_equal(br_kr_arr(&c, true, 1), 2);
	const char *sorted[] = { "a-topic", "b-topic" };
	for (int k = 0; k < 2; k++) {
		assert_true(br_kstr_eq(br_kr_str(&c, true), sorted[k]));
		assert_int_equal(br_kr_arr(&c, true, 1), 2);
		for (int p = 0; p < 2; p++) {
			assert_int_equal(br_kr_i32(&c), p);
			assert_int_equal(br_kr_i64(&c), 100 * (1 - k) + p);
			assert_int_equal(br_kr_i32(&c), -1);
			assert_true(br_kstr_eq(br_kr_str(&c, true), p ? "" : "meta"));
			assert_int_equal(br_kr_i16(&c), 0);
			br_kr_tags(&c, true);
		}
		br_kr_tags(&c, true);
	}
	assert_int_equal(br_kr_i16(&c), 0);
	br_kr_tags(&c, true);
	br_kr_tags(&c, true);
	assert_false(c.bad);
	assert_int_equal(br_cur_left(&c), 0);

	/* v1: named partitions, one never committed */
	br_buf_reset(&q);
	br_kw_str(&q, false, "sg");
	br_kw_arr(&q, false, 1);
	br_kw_str(&q, false, "a-topic");
	br_kw_arr(&q, false, 2);
	br_kw_i32(&q, 1);
	br_kw_i32(&q, 9);
	assert_int_equal(call(br_h_offset_fetch, BR_API_OFFSET_FETCH, 1, false, &q, &o, t), 0);
	c = br_cur_make(o.p, o.len);
	assert_int_equal(br_kr_arr(&c, false, 1), 1);
	br_kr_str(&c, false);
	assert_int_equal(br_kr_arr(&c, false, 1), 2);
	assert_int_equal(br_kr_i32(&c), 1);
	assert_int_equal(br_kr_i64(&c), 101);
	br_kr_str(&c, false);
	assert_int_equal(br_kr_i16(&c), 0);
	assert_int_equal(br_kr_i32(&c), 9);
	assert_int_equal(br_kr_i64(&c), -1);
	br_kr_str(&c, false);
	assert_int_equal(br_kr_i16(&c), 0);
	assert_int_equal(br_cur_left(&c), 0);

	/* DescribeGroups v5 of the simple group and of an unknown one */
	br_buf_reset(&q);
	br_kw_arr(&q, true, 2);
	br_kw_str(&q, true, "sg");
	br_kw_str(&q, true, "nope");
	br_kw_bool(&q, false);
	br_kw_tags(&q, true);
	assert_int_equal(call(br_h_describe_groups, BR_API_DESCRIBE_GROUPS, 5, true, &q, &o, t), 0);
	c = br_cur_make(o.p, o.len);
	br_kr_i32(&c);
	assert_int_equal(br_kr_arr(&c, true, 1), 2);
	assert_int_equal(br_kr_i16(&c), 0);
	assert_true(br_kstr_eq(br_kr_str(&c, true), "sg"));
	assert_true(br_kstr_eq(br_kr_str(&c, true), "Empty"));
	br_kr_str(&c, true);
	br_kr_str(&c, true);
	assert_int_equal(br_kr_arr(&c, true, 1), 0);
	br_kr_i32(&c);
	br_kr_tags(&c, true);
	assert_int_equal(br_kr_i16(&c), 0);
	assert_true(br_kstr_eq(br_kr_str(&c, true), "nope"));
	assert_true(br_kstr_eq(br_kr_str(&c, true), "Dead"));

	/* FindCoordinator v4 (batched) and v0 */
	br_buf_reset(&q);
	br_kw_i8(&q, 0);
	br_kw_arr(&q, true, 2);
	br_kw_str(&q, true, "sg");
	br_kw_str(&q, true, "x");
	br_kw_tags(&q, true);
	assert_int_equal(call(br_h_find_coordinator, BR_API_FIND_COORDINATOR, 4, true, &q, &o, t), 0);
	c = br_cur_make(o.p, o.len);
	br_kr_i32(&c);
	assert_int_equal(br_kr_arr(&c, true, 1), 2);
	assert_true(br_kstr_eq(br_kr_str(&c, true), "sg"));
	assert_int_equal(br_kr_i32(&c), 7);
	assert_true(br_kstr_eq(br_kr_str(&c, true), "127.0.0.1"));
	assert_int_equal(br_kr_i32(&c), 9099);
	assert_int_equal(br_kr_i16(&c), 0);
	br_buf_reset(&q);
	br_kw_str(&q, false, "sg");
	assert_int_equal(call(br_h_find_coordinator, BR_API_FIND_COORDINATOR, 0, false, &q, &o, t), 0);
	assert_int_equal(o.len, 2 + 4 + 2 + 9 + 4);

	/* a truncated request closes the connection instead of being half-read */
	br_buf_reset(&q);
	br_kw_str(&q, false, "sg");
	br_kw_arr(&q, false, 1000);
	assert_int_equal(call(br_h_offset_commit, BR_API_OFFSET_COMMIT, 2, false, &q, &o, t), BR_KCLOSE);

	br_buf_free(&o);
	br_buf_free(&q);
	close_groups();
	br_remove_tree(tmpdir, NULL);
}

/* Truncated, bit-flipped and random requests to every handler at every version:
 * each must answer or ask to close the connection, never crash or read out of
 * bounds (run under ASan+UBSan by `make unit-asan`). */
static void test_garbage_requests(void **state)
{
	(void)state;
	setup_dir();
	open_groups();
	struct {
		br_khandler fn;
		int16_t key, maxv, flexv;
	} apis[] = {
		{ br_h_find_coordinator, BR_API_FIND_COORDINATOR, 4, 3 }, { br_h_join_group, BR_API_JOIN_GROUP, 7, 6 },
		{ br_h_sync_group, BR_API_SYNC_GROUP, 5, 4 },             { br_h_heartbeat, BR_API_HEARTBEAT, 4, 4 },
		{ br_h_leave_group, BR_API_LEAVE_GROUP, 4, 4 },           { br_h_offset_commit, BR_API_OFFSET_COMMIT, 8, 8 },
		{ br_h_offset_fetch, BR_API_OFFSET_FETCH, 8, 6 },         { br_h_list_groups, BR_API_LIST_GROUPS, 4, 3 },
		{ br_h_describe_groups, BR_API_DESCRIBE_GROUPS, 5, 5 },
	};
	/* seeds: valid requests that mutations start from */
	br_buf seeds[6] = { 0 };
	put_join(&seeds[0], 5, "fz", 10000, 10000, "", NULL, "range", "meta");
	put_join(&seeds[1], 7, "fz", 10000, 10000, "", "inst", "range", "meta");
	const char *ids[] = { "a", "b" }, *as[] = { "x", "y" };
	put_sync(&seeds[2], 5, "fz", 1, "a", 2, ids, as);
	put_sync(&seeds[3], 3, "fz", 1, "a", 2, ids, as);
	br_buf *c = &seeds[4]; /* OffsetCommit v2 */
	br_kw_str(c, false, "fz");
	br_kw_i32(c, -1);
	br_kw_str(c, false, "");
	br_kw_i64(c, -1);
	br_kw_arr(c, false, 1);
	br_kw_str(c, false, "t");
	br_kw_arr(c, false, 2);
	for (int p = 0; p < 2; p++) {
		br_kw_i32(c, p);
		br_kw_i64(c, 10);
		br_kw_str(c, false, p ? NULL : "m");
	}
	c = &seeds[5]; /* OffsetFetch v8 */
	br_kw_arr(c, true, 2);
	br_kw_str(c, true, "fz");
	br_kw_arr(c, true, 1);
	br_kw_str(c, true, "t");
	br_kw_arr(c, true, 2);
	br_kw_i32(c, 0);
	br_kw_i32(c, 1);
	br_kw_tags(c, true);
	br_kw_tags(c, true);
	br_kw_str(c, true, "fz");
	br_kw_arr(c, true, -1);
	br_kw_tags(c, true);
	br_kw_bool(c, false);
	br_kw_tags(c, true);
	uint32_t rnd = 12345;
	br_buf q = { 0 }, o = { 0 };
	int64_t t = 20000000;
	for (int iter = 0; iter < 30000; iter++) {
		rnd = rnd * 1103515245u + 12345u;
		size_t a = (rnd >> 8) % BR_ARRAY_LEN(apis);
		int16_t v = (int16_t)((rnd >> 16) % (uint32_t)(apis[a].maxv + 1));
		br_buf_reset(&q);
		if (iter % 2) {
			const br_buf *sd = &seeds[(rnd >> 4) % BR_ARRAY_LEN(seeds)];
			br_buf_put(&q, sd->p, sd->len);
			int flips = 1 + (int)((rnd >> 20) % 4);
			for (int k = 0; k < flips && q.len; k++) {
				rnd = rnd * 1103515245u + 12345u;
				q.p[(rnd >> 8) % q.len] ^= (uint8_t)(1u << ((rnd >> 4) % 8));
			}
			if ((rnd >> 28) % 2)
				q.len = (rnd >> 12) % (q.len + 1);
		} else {
			size_t n = (rnd >> 4) % 64;
			for (size_t k = 0; k < n; k++) {
				rnd = rnd * 1103515245u + 12345u;
				br_buf_u8(&q, (uint8_t)(rnd >> 16));
			}
		}
		int rc = call(apis[a].fn, apis[a].key, v, v >= apis[a].flexv, &q, &o, t + iter);
		assert_true(rc == 0 || rc == BR_KDEFER || rc == BR_KCLOSE);
		if (iter % 1000 == 0)
			br_groups_tick(fake_groups, t + iter);
	}
	for (size_t k = 0; k < BR_ARRAY_LEN(seeds); k++)
		br_buf_free(&seeds[k]);
	br_buf_free(&q);
	br_buf_free(&o);
	close_groups();
	br_remove_tree(tmpdir, NULL);
}

int main(void)
{
	br_log_level = BR_LOG_WARN + 1; /* the torn-tail tests warn on purpose */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_roundtrip),
		cmocka_unit_test(test_store_torn_tail),
		cmocka_unit_test(test_store_compaction),
		cmocka_unit_test(test_rebalance),
		cmocka_unit_test(test_rebalance_timeout_and_errors),
		cmocka_unit_test(test_static_members),
		cmocka_unit_test(test_offsets_via_handlers),
		cmocka_unit_test(test_garbage_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
