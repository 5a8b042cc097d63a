/* groups.c — the Kafka group coordinator: FindCoordinator, the classic consumer
 * group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, DescribeGroups,
 * ListGroups) and committed offsets (OffsetCommit, OffsetFetch; stored by groups_store.c).
 *
 * THE GROUP STATE MACHINE follows Kafka's classic coordinator:
 *
 *   Empty --join--> PreparingRebalance --all joined / rebalance timeout--> CompletingRebalance
 *   CompletingRebalance --leader's SyncGroup--> Stable
 *   Stable / CompletingRebalance --join with new metadata, leave, session expiry--> PreparingRebalance
 *   PreparingRebalance --no member left--> Empty (generation still advances)
 *
 * In PreparingRebalance every JoinGroup waits (its response is deferred) until all
 * known members have rejoined, or the rebalance timeout (the largest of the members')
 * passes; members that did not rejoin are then removed. The generation advances, a
 * protocol every member supports is chosen (members vote for their first supported
 * choice, ties go to the leader's order), and every waiting JoinGroup is answered;
 * only the leader's response lists the members with their metadata. Followers'
 * SyncGroup waits until the leader's SyncGroup brings the assignments.
 *
 * A member's session expires when nothing (heartbeat, join, sync, commit) came from
 * it for session.timeout.ms, except while its JoinGroup or SyncGroup is waiting.
 * Kafka bounds the session timeout with group.min/max.session.timeout.ms (6 s and
 * 300 s by default); braid accepts 1 s .. 300 s so that tests can expire members
 * quickly. Dead exists only as the answer for unknown groups: braid is the only
 * coordinator, so COORDINATOR_NOT_AVAILABLE and NOT_COORDINATOR are never answered
 * (except NOT_COORDINATOR to requests still waiting at shutdown).
 *
 * New dynamic members of JoinGroup v4+ first get MEMBER_ID_REQUIRED with their id
 * (KIP-394) and count as pending until they join with it or their session passes.
 * Static members (group.instance.id, KIP-345) skip that step; when one restarts it
 * takes over its old place under a new member id (the old id is fenced), and a
 * Stable group is not rebalanced for it unless the chosen protocol would change.
 *
 * Group membership lives in memory only (Kafka also persists it): after a restart a
 * group is Empty at generation 0 with its committed offsets, and former members get
 * UNKNOWN_MEMBER_ID and rejoin, as after a coordinator fail-over.
 *
 * Everything runs on the broker's loop thread. A waiting response is a br_kslot; a
 * request that is answered while its own handler runs writes straight into the
 * handler's output instead (W_CURRENT), so only truly waiting requests are deferred.
 * Cost: groups are a hash map; members of a group are an array scanned linearly
 * (groups have tens of members, and every operation on one already touches all). */
#include "kafka/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/map.h"
#include "base/util.h"
#include "kafka/groups_store.h"

#define MIN_SESSION_MS 1000
#define MAX_SESSION_MS 300000
#define MAX_CLIENT_ID_IN_MEMBER_ID 128

enum { ST_EMPTY, ST_PREPARING, ST_COMPLETING, ST_STABLE, ST_DEAD };
static const char *const state_names[] = { "Empty", "PreparingRebalance", "CompletingRebalance",
	                                       "Stable", "Dead" };

/* How a member's JoinGroup or SyncGroup is waiting. */
enum { W_NONE, W_CURRENT, W_SLOT };

/* An owned byte string; p NULL = null. */
typedef struct bstr {
	char *p;
	int32_t len;
} bstr;

typedef struct gproto {
	bstr name, meta;
} gproto;

typedef struct member {
	bstr id, instance_id, client_id, client_host, protocol_type;
	int32_t session_ms, rebalance_ms;
	gproto *protos;
	int32_t nprotos;
	bstr assignment;
	int64_t hb_deadline;
	int join_wait, sync_wait;
	br_kslot *join_slot, *sync_slot;
	int16_t join_ver, sync_ver;
} member;

typedef struct pending {
	bstr id;
	int64_t deadline;
} pending;

typedef struct group {
	bstr id;
	int state;
	int32_t generation;
	bstr protocol_type, protocol, leader;
	member **m;
	size_t nm, capm;
	pending *pend;
	size_t npend, cappend;
	int64_t rebalance_deadline, delay_until;
} group;

struct br_groups {
	br_broker *b;
	br_gstore *store;
	br_map groups; /* group id -> group* */
	int64_t initial_delay_ms;
	int64_t now;
	br_buf *cur_out;   /* output of the handler running now */
	bool cur_answered; /* whether a W_CURRENT response was written to cur_out */
};

/* ---- small helpers ---- */

static bstr bs_k(br_kstr s)
{
	bstr b = { NULL, -1 };
	if (s.len < 0)
		return b;
	b.p = br_xmalloc((size_t)s.len + 1);
	memcpy(b.p, s.p, (size_t)s.len);
	b.p[s.len] = 0;
	b.len = s.len;
	return b;
}
static bstr bs_n(const char *p, int32_t len) { return bs_k((br_kstr){ p, len }); }
static bstr bs_z(const char *z) { return bs_n(z, (int32_t)strlen(z)); }
static void bs_free(bstr *b)
{
	free(b->p);
	b->p = NULL;
	b->len = -1;
}
static void bs_set(bstr *b, bstr v)
{
	bs_free(b);
	*b = v;
}
static br_kstr ks(bstr b) { return (br_kstr){ b.p, b.p ? b.len : -1 }; }
static bool bs_eqk(bstr b, br_kstr s)
{
	if (!b.p || s.len < 0)
		return !b.p && s.len < 0;
	return b.len == s.len && !memcmp(b.p, s.p, (size_t)s.len);
}
static bool bs_eq(bstr a, bstr b) { return bs_eqk(a, ks(b)); }
/* Classic versions have no null for these strings: write "" instead. */
static void put_str_nn(br_buf *o, bool f, bstr s) { br_kw_strn(o, f, s.p ? s.p : "", s.p ? s.len : 0); }

static br_groups *G(br_broker *b) { return br_broker_groups(b); }

/* ---- members ---- */

static void member_free(member *m)
{
	bs_free(&m->id);
	bs_free(&m->instance_id);
	bs_free(&m->client_id);
	bs_free(&m->client_host);
	bs_free(&m->protocol_type);
	bs_free(&m->assignment);
	for (int32_t i = 0; i < m->nprotos; i++) {
		bs_free(&m->protos[i].name);
		bs_free(&m->protos[i].meta);
	}
	free(m->protos);
	free(m);
}

static member *find_member(group *g, br_kstr id)
{
	for (size_t i = 0; i < g->nm; i++)
		if (bs_eqk(g->m[i]->id, id))
			return g->m[i];
	return NULL;
}

static member *find_instance(group *g, br_kstr iid)
{
	if (iid.len < 0)
		return NULL;
	for (size_t i = 0; i < g->nm; i++)
		if (bs_eqk(g->m[i]->instance_id, iid))
			return g->m[i];
	return NULL;
}

/* Kafka's isStaticMemberFenced: the instance id belongs to another member id. */
static bool fenced(group *g, br_kstr mid, br_kstr iid)
{
	member *m = find_instance(g, iid);
	return m && !bs_eqk(m->id, mid);
}

static const gproto *member_proto(const member *m, bstr name)
{
	for (int32_t i = 0; i < m->nprotos; i++)
		if (bs_eq(m->protos[i].name, name))
			return &m->protos[i];
	return NULL;
}

static bool member_supports(const member *m, br_kstr name)
{
	for (int32_t i = 0; i < m->nprotos; i++)
		if (bs_eqk(m->protos[i].name, name))
			return true;
	return false;
}

/* The protocols of a JoinGroup request, borrowed from the request buffer. */
typedef struct kproto {
	br_kstr name, meta;
} kproto;

static bool same_protocols(const member *m, const kproto *p, int32_t n)
{
	if (m->nprotos != n)
		return false;
	for (int32_t i = 0; i < n; i++)
		if (!bs_eqk(m->protos[i].name, p[i].name) || !bs_eqk(m->protos[i].meta, p[i].meta))
			return false;
	return true;
}

static void set_protocols(member *m, const kproto *p, int32_t n)
{
	for (int32_t i = 0; i < m->nprotos; i++) {
		bs_free(&m->protos[i].name);
		bs_free(&m->protos[i].meta);
	}
	free(m->protos);
	m->protos = br_xcalloc((size_t)(n ? n : 1), sizeof *m->protos);
	for (int32_t i = 0; i < n; i++) {
		m->protos[i].name = bs_k(p[i].name);
		m->protos[i].meta = p[i].meta.len < 0 ? bs_n("", 0) : bs_k(p[i].meta);
	}
	m->nprotos = n;
}

static bool is_leader(const group *g, const member *m) { return g->leader.p && bs_eq(g->leader, m->id); }

/* ---- responses ---- */

static void deliver(br_groups *gs, int *wait, br_kslot **slot, const br_buf *body)
{
	if (*wait == W_CURRENT) {
		br_buf_put(gs->cur_out, body->p, body->len);
		gs->cur_answered = true;
	} else if (*wait == W_SLOT) {
		br_kslot_finish(*slot, body);
	}
	*wait = W_NONE;
	*slot = NULL;
}

/* JoinGroup response body. members: the group whose members the leader gets, or NULL. */
static void put_join(br_buf *o, int16_t v, int16_t err, const group *g, bstr member_id, bool with_members)
{
	bool f = v >= 6;
	bstr null = { NULL, -1 };
	bool ok = err == BR_KE_NONE && g;
	if (v >= 2)
		br_kw_i32(o, 0);
	br_kw_i16(o, err);
	br_kw_i32(o, ok ? g->generation : -1);
	if (v >= 7) {
		br_kw_kstr(o, f, ks(ok ? g->protocol_type : null));
		br_kw_kstr(o, f, ks(ok ? g->protocol : null));
	} else {
		put_str_nn(o, f, ok ? g->protocol : null);
	}
	put_str_nn(o, f, ok ? g->leader : null);
	put_str_nn(o, f, member_id);
	if (!ok || !with_members) {
		br_kw_arr(o, f, 0);
	} else {
		br_kw_arr(o, f, (int32_t)g->nm);
		for (size_t i = 0; i < g->nm; i++) {
			const member *m = g->m[i];
			const gproto *p = member_proto(m, g->protocol);
			br_kw_kstr(o, f, ks(m->id));
			if (v >= 5)
				br_kw_kstr(o, f, ks(m->instance_id));
			br_kw_bytes(o, f, p ? p->meta.p : "", p ? p->meta.len : 0);
			br_kw_tags(o, f);
		}
	}
	br_kw_tags(o, f);
}

static void put_sync(br_buf *o, int16_t v, int16_t err, const group *g, bstr assignment)
{
	bool f = v >= 4;
	bstr null = { NULL, -1 };
	if (v >= 1)
		br_kw_i32(o, 0);
	br_kw_i16(o, err);
	if (v >= 5) {
		br_kw_kstr(o, f, ks(err == BR_KE_NONE && g ? g->protocol_type : null));
		br_kw_kstr(o, f, ks(err == BR_KE_NONE && g ? g->protocol : null));
	}
	if (err == BR_KE_NONE && assignment.p)
		br_kw_bytes(o, f, assignment.p, assignment.len);
	else
		br_kw_bytes(o, f, "", 0);
	br_kw_tags(o, f);
}

static void finish_join_err(br_groups *gs, member *m, int16_t err)
{
	if (m->join_wait == W_NONE)
		return;
	br_buf o = { 0 };
	put_join(&o, m->join_ver, err, NULL, m->id, false);
	deliver(gs, &m->join_wait, &m->join_slot, &o);
	br_buf_free(&o);
}

static void finish_sync(br_groups *gs, group *g, member *m, int16_t err)
{
	if (m->sync_wait == W_NONE)
		return;
	br_buf o = { 0 };
	put_sync(&o, m->sync_ver, err, g, m->assignment);
	deliver(gs, &m->sync_wait, &m->sync_slot, &o);
	br_buf_free(&o);
}

/* ---- the state machine ---- */

static group *group_new(br_groups *gs, br_kstr id)
{
	group *g = br_xcalloc(1, sizeof *g);
	g->id = bs_k(id);
	g->protocol_type = g->protocol = g->leader = (bstr){ NULL, -1 };
	g->state = ST_EMPTY;
	br_map_put(&gs->groups, id.p, (size_t)id.len, g);
	return g;
}

static group *find_group(br_groups *gs, br_kstr id)
{
	return id.len < 0 ? NULL : br_map_get(&gs->groups, id.p, (size_t)id.len);
}

static void group_free(group *g)
{
	for (size_t i = 0; i < g->nm; i++)
		member_free(g->m[i]);
	free(g->m);
	for (size_t i = 0; i < g->npend; i++)
		bs_free(&g->pend[i].id);
	free(g->pend);
	bs_free(&g->id);
	bs_free(&g->protocol_type);
	bs_free(&g->protocol);
	bs_free(&g->leader);
	free(g);
}

static bool all_joined(const group *g)
{
	for (size_t i = 0; i < g->nm; i++)
		if (g->m[i]->join_wait == W_NONE)
			return false;
	return g->npend == 0;
}

/* The protocol for the next generation: among the leader's protocols that every
 * member supports, the one most members list first (ties: the leader's order).
 * Returns a name owned by the leader member, or NULL if none is common. */
static const bstr *choose_protocol(const group *g)
{
	const member *l = g->m[0];
	for (size_t i = 0; i < g->nm; i++)
		if (is_leader(g, g->m[i]))
			l = g->m[i];
	int32_t best = -1, best_votes = 0;
	for (int32_t c = 0; c < l->nprotos; c++) {
		br_kstr name = ks(l->protos[c].name);
		bool all = true;
		for (size_t i = 0; i < g->nm && all; i++)
			all = member_supports(g->m[i], name);
		if (!all)
			continue;
		int32_t votes = 0;
		for (size_t i = 0; i < g->nm; i++) {
			/* a member votes for its first protocol that is a candidate */
			const member *m = g->m[i];
			for (int32_t k = 0; k < m->nprotos; k++) {
				bool cand = true;
				for (size_t j = 0; j < g->nm && cand; j++)
					cand = member_supports(g->m[j], ks(m->protos[k].name));
				if (cand) {
					votes += bs_eqk(m->protos[k].name, name);
					break;
				}
			}
		}
		if (best < 0 || votes > best_votes) {
			best = c;
			best_votes = votes;
		}
	}
	return best >= 0 ? &l->protos[best].name : NULL;
}

static void select_protocol(group *g)
{
	/* joins are checked against the members' common protocols, so there is one */
	const bstr *p = choose_protocol(g);
	bs_set(&g->protocol, p ? bs_k(ks(*p)) : (bstr){ NULL, -1 });
}

static void remove_member(br_groups *gs, group *g, member *m, int16_t err);

/* The join phase is over: drop members that did not rejoin, start the next
 * generation and answer every waiting JoinGroup. */
static void complete_join(br_groups *gs, group *g)
{
	for (size_t i = g->nm; i-- > 0;)
		if (g->m[i]->join_wait == W_NONE)
			remove_member(gs, g, g->m[i], BR_KE_UNKNOWN_MEMBER_ID);
	g->generation++;
	g->rebalance_deadline = g->delay_until = 0;
	if (!g->nm) {
		g->state = ST_EMPTY;
		bs_free(&g->protocol);
		bs_free(&g->leader);
		br_info("group %.*s: generation %d, empty", g->id.len, g->id.p, g->generation);
		return;
	}
	if (!find_member(g, ks(g->leader)))
		bs_set(&g->leader, bs_k(ks(g->m[0]->id)));
	select_protocol(g);
	g->state = ST_COMPLETING;
	br_info("group %.*s: generation %d with %zu members, protocol %.*s", g->id.len, g->id.p,
	        g->generation, g->nm, g->protocol.len, g->protocol.p ? g->protocol.p : "");
	br_buf o = { 0 };
	for (size_t i = 0; i < g->nm; i++) {
		member *m = g->m[i];
		bs_free(&m->assignment);
		m->hb_deadline = gs->now + m->session_ms;
		br_buf_reset(&o);
		put_join(&o, m->join_ver, BR_KE_NONE, g, m->id, is_leader(g, m));
		deliver(gs, &m->join_wait, &m->join_slot, &o);
	}
	br_buf_free(&o);
}

static void try_complete_join(br_groups *gs, group *g)
{
	if (g->state != ST_PREPARING)
		return;
	if ((all_joined(g) && gs->now >= g->delay_until) || gs->now >= g->rebalance_deadline)
		complete_join(gs, g);
}

static void prepare_rebalance(br_groups *gs, group *g, const char *why)
{
	if (g->state == ST_COMPLETING)
		for (size_t i = 0; i < g->nm; i++)
			finish_sync(gs, g, g->m[i], BR_KE_REBALANCE_IN_PROGRESS);
	int64_t timeout = 0;
	for (size_t i = 0; i < g->nm; i++)
		timeout = BR_MAX(timeout, g->m[i]->rebalance_ms);
	g->delay_until = g->state == ST_EMPTY ? gs->now + gs->initial_delay_ms : 0;
	g->rebalance_deadline = gs->now + BR_MAX(timeout, g->delay_until ? gs->initial_delay_ms : 0);
	br_info("group %.*s: rebalancing from generation %d (%s)", g->id.len, g->id.p, g->generation, why);
	g->state = ST_PREPARING;
}

/* Kafka's removeMemberAndUpdateGroup, minus the update (see member_left). Waiting
 * requests of the member are answered with err. */
static void remove_member(br_groups *gs, group *g, member *m, int16_t err)
{
	finish_join_err(gs, m, err);
	finish_sync(gs, g, m, err);
	if (is_leader(g, m))
		bs_free(&g->leader);
	for (size_t i = 0; i < g->nm; i++)
		if (g->m[i] == m) {
			memmove(&g->m[i], &g->m[i + 1], (g->nm - i - 1) * sizeof *g->m);
			g->nm--;
			break;
		}
	member_free(m);
}

static void member_left(br_groups *gs, group *g, const char *why)
{
	if (g->state == ST_STABLE || g->state == ST_COMPLETING)
		prepare_rebalance(gs, g, why);
	try_complete_join(gs, g);
}

static void remove_pending(group *g, size_t i)
{
	bs_free(&g->pend[i].id);
	g->pend[i] = g->pend[--g->npend];
}

static ssize_t find_pending(group *g, br_kstr id)
{
	for (size_t i = 0; i < g->npend; i++)
		if (bs_eqk(g->pend[i].id, id))
			return (ssize_t)i;
	return -1;
}

static bstr new_member_id(br_kstr client_id)
{
	uint8_t rnd[16];
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		/* no entropy source: uniqueness is all that matters here */
		static uint64_t ctr;
		uint64_t t = (uint64_t)br_mono_ns() ^ ++ctr;
		memcpy(rnd, &t, 8);
		memcpy(rnd + 8, &ctr, 8);
	}
	int32_t cl = client_id.len > 0 ? BR_MIN(client_id.len, MAX_CLIENT_ID_IN_MEMBER_ID) : 0;
	bstr b;
	b.len = cl + 1 + 36;
	b.p = br_xmalloc((size_t)b.len + 1);
	if (cl)
		memcpy(b.p, client_id.p, (size_t)cl);
	char *q = b.p + cl;
	*q++ = '-';
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*q++ = '-';
		q += sprintf(q, "%02x", rnd[i]);
	}
	return b;
}

static member *add_member(br_groups *gs, group *g, bstr id, br_kreq *r, br_kstr iid, br_kstr ptype,
                          int32_t sess, int32_t reb, const kproto *p, int32_t np)
{
	member *m = br_xcalloc(1, sizeof *m);
	m->id = id;
	m->instance_id = bs_k(iid);
	m->client_id = r->client_id.len >= 0 ? bs_k(r->client_id) : bs_z("");
	m->client_host = bs_z(r->conn ? br_kconn_peer(r->conn) : "");
	m->protocol_type = bs_k(ptype);
	m->assignment = (bstr){ NULL, -1 };
	m->session_ms = sess;
	m->rebalance_ms = reb;
	set_protocols(m, p, np);
	m->hb_deadline = gs->now + sess;
	if (g->nm == g->capm) {
		g->capm = g->capm ? 2 * g->capm : 4;
		g->m = br_xrealloc(g->m, g->capm * sizeof *g->m);
	}
	g->m[g->nm++] = m;
	if (!g->protocol_type.p || g->nm == 1)
		bs_set(&g->protocol_type, bs_k(ptype));
	if (!g->leader.p)
		bs_set(&g->leader, bs_k(ks(id)));
	return m;
}

/* Kafka's supportsProtocols: an empty group takes anything non-empty; otherwise the
 * type must match and one of the joiner's protocols must be supported by everyone. */
static bool supports(const group *g, br_kstr ptype, const kproto *p, int32_t np, const member *except)
{
	if (ptype.len <= 0 || np <= 0)
		return false;
	size_t others = 0;
	for (size_t i = 0; i < g->nm; i++)
		others += g->m[i] != except;
	if (!others)
		return true;
	if (!bs_eqk(g->protocol_type, ptype))
		return false;
	for (int32_t k = 0; k < np; k++) {
		bool all = true;
		for (size_t i = 0; i < g->nm && all; i++)
			all = g->m[i] == except || member_supports(g->m[i], p[k].name);
		if (all)
			return true;
	}
	return false;
}

/* Called whenever the state might allow finishing a rebalance or expiring members. */
static void group_tick(br_groups *gs, group *g)
{
	for (size_t i = g->npend; i-- > 0;)
		if (gs->now >= g->pend[i].deadline) {
			remove_pending(g, i);
			try_complete_join(gs, g);
		}
	for (size_t i = g->nm; i-- > 0;) {
		member *m = g->m[i];
		if ((m->join_wait == W_SLOT && !br_kslot_alive(m->join_slot)) ||
		    (m->sync_wait == W_SLOT && !br_kslot_alive(m->sync_slot))) {
			/* its connection closed while it waited: it cannot receive the answer,
			 * so waiting for its session to expire would only delay everyone */
			br_info("group %.*s: member %.*s disconnected", g->id.len, g->id.p, m->id.len, m->id.p);
			remove_member(gs, g, m, BR_KE_UNKNOWN_MEMBER_ID);
			member_left(gs, g, "member disconnected");
			i = BR_MIN(i, g->nm);
			continue;
		}
		if (m->join_wait != W_NONE || m->sync_wait != W_NONE) {
			m->hb_deadline = gs->now + m->session_ms;
			continue;
		}
		if (gs->now >= m->hb_deadline) {
			br_info("group %.*s: member %.*s session timed out", g->id.len, g->id.p, m->id.len, m->id.p);
			remove_member(gs, g, m, BR_KE_UNKNOWN_MEMBER_ID);
			member_left(gs, g, "session timeout");
			i = BR_MIN(i, g->nm); /* member_left may have removed more */
		}
	}
	try_complete_join(gs, g);
}

/* ---- lifetime ---- */

int br_groups_open(br_groups **out, br_broker *b, const char *dir, br_err *err)
{
	*out = NULL;
	br_groups *gs = br_xcalloc(1, sizeof *gs);
	gs->b = b;
	gs->now = br_now_ms();
	const br_broker_opts *o = b ? br_broker_options(b) : NULL;
	gs->initial_delay_ms = o && o->group_initial_rebalance_delay_ms > 0 ? o->group_initial_rebalance_delay_ms : 0;
	int rc = br_gstore_open(&gs->store, dir, err);
	if (rc) {
		free(gs);
		return rc;
	}
	const char *id;
	int32_t len;
	for (size_t i = 0; br_gstore_next_group(gs->store, &i, &id, &len);)
		group_new(gs, (br_kstr){ id, len });
	*out = gs;
	return 0;
}

void br_groups_close(br_groups *gs)
{
	if (!gs)
		return;
	br_map_slot *s;
	for (size_t i = 0; br_map_next(&gs->groups, &i, &s);) {
		group *g = s->val;
		for (size_t j = 0; j < g->nm; j++) {
			/* clients look for the coordinator again and retry */
			finish_join_err(gs, g->m[j], BR_KE_NOT_COORDINATOR);
			finish_sync(gs, g, g->m[j], BR_KE_NOT_COORDINATOR);
		}
		group_free(g);
	}
	br_map_free(&gs->groups);
	br_gstore_close(gs->store);
	free(gs);
}

void br_groups_tick(br_groups *gs, int64_t now_ms)
{
	gs->now = now_ms;
	gs->cur_out = NULL;
	br_map_slot *s;
	for (size_t i = 0; br_map_next(&gs->groups, &i, &s);) {
		group *g = s->val;
		group_tick(gs, g);
		/* forget groups with neither members nor offsets (Kafka marks them Dead) */
		if (g->state == ST_EMPTY && !g->nm && !g->npend &&
		    !br_gstore_has_group(gs->store, g->id.p, g->id.len)) {
			br_map_del(&gs->groups, g->id.p, (size_t)g->id.len);
			group_free(g);
		}
	}
}

/* Sets up the handler-time context; returns the coordinator. */
static br_groups *begin(br_broker *b, br_kreq *r, br_buf *out)
{
	br_groups *gs = G(b);
	gs->now = r->now_ms ? r->now_ms : br_now_ms();
	gs->cur_out = out;
	gs->cur_answered = false;
	return gs;
}

/* ---- FindCoordinator ---- */

int br_h_find_coordinator(br_broker *b, br_kreq *r, br_buf *out)
{
	int16_t v = r->version;
	bool f = r->flex;
	br_cur *c = &r->body;
	if (v > 4)
		return BR_KCLOSE;
	const br_broker_opts *o = br_broker_options(b);
	const char *host = br_broker_advertised_host(b);
	int32_t port = br_broker_port(b);
	if (v < 4) {
		br_kr_str(c, f); /* the key: every group and transaction is ours */
		int8_t type = v >= 1 ? br_kr_i8(c) : 0;
		br_kr_tags(c, f);
		if (c->bad)
			return BR_KCLOSE;
		int16_t err = type == 0 || type == 1 ? BR_KE_NONE : BR_KE_INVALID_REQUEST;
		if (v >= 1)
			br_kw_i32(out, 0);
		br_kw_i16(out, err);
		if (v >= 1)
			br_kw_str(out, f, err ? "unknown coordinator key type" : NULL);
		br_kw_i32(out, err ? -1 : o->node_id);
		br_kw_str(out, f, err ? "" : host);
		br_kw_i32(out, err ? -1 : port);
		br_kw_tags(out, f);
		return 0;
	}
	int8_t type = br_kr_i8(c);
	int32_t n = br_kr_arr(c, f, 1);
	br_kw_i32(out, 0);
	br_kw_arr(out, f, n < 0 ? 0 : n);
	int16_t err = type == 0 || type == 1 ? BR_KE_NONE : BR_KE_INVALID_REQUEST;
	for (int32_t i = 0; i < n && !c->bad; i++) {
		br_kstr k = br_kr_str(c, f);
		br_kw_kstr(out, f, k.len < 0 ? (br_kstr){ "", 0 } : k);
		br_kw_i32(out, err ? -1 : o->node_id);
		br_kw_str(out, f, err ? "" : host);
		br_kw_i32(out, err ? -1 : port);
		br_kw_i16(out, err);
		br_kw_str(out, f, err ? "unknown coordinator key type" : NULL);
		br_kw_tags(out, f);
	}
	br_kr_tags(c, f);
	br_kw_tags(out, f);
	return c->bad ? BR_KCLOSE : 0;
}

/* ---- JoinGroup ---- */

/* Ends a group handler: answered now, or deferred with the member's waiting slot. */
static int end_wait(br_groups *gs, br_kreq *r, member *m, bool join)
{
	gs->cur_out = NULL;
	if (gs->cur_answered || !m)
		return 0;
	br_kslot *s = br_kreq_defer(r);
	if (join) {
		m->join_wait = W_SLOT;
		m->join_slot = s;
	} else {
		m->sync_wait = W_SLOT;
		m->sync_slot = s;
	}
	return BR_KDEFER;
}

/* Makes m wait in the join phase with this request. */
static void join_wait(br_groups *gs, member *m, int16_t v)
{
	if (m->join_wait != W_NONE) /* a retried JoinGroup replaces the older one */
		finish_join_err(gs, m, BR_KE_REBALANCE_IN_PROGRESS);
	m->join_wait = W_CURRENT;
	m->join_ver = v;
}

int br_h_join_group(br_broker *b, br_kreq *r, br_buf *out)
{
	int16_t v = r->version;
	bool f = r->flex;
	br_cur *c = &r->body;
	if (v > 7)
		return BR_KCLOSE;
	br_kstr gid = br_kr_str(c, f);
	int32_t sess = br_kr_i32(c);
	int32_t reb = v >= 1 ? br_kr_i32(c) : sess;
	br_kstr mid = br_kr_str(c, f);
	br_kstr iid = v >= 5 ? br_kr_str(c, f) : (br_kstr){ NULL, -1 };
	br_kstr ptype = br_kr_str(c, f);
	int32_t np = br_kr_arr(c, f, f ? 3 : 6);
	kproto *p = br_xcalloc((size_t)(np > 0 ? np : 1), sizeof *p);
	for (int32_t i = 0; i < np && !c->bad; i++) {
		p[i].name = br_kr_str(c, f);
		p[i].meta = br_kr_bytes(c, f);
		br_kr_tags(c, f);
	}
	br_kr_tags(c, f);
	if (c->bad) {
		free(p);
		return BR_KCLOSE;
	}
	if (np < 0)
		np = 0;
	if (mid.len < 0)
		mid = (br_kstr){ "", 0 };
	if (reb <= 0)
		reb = sess;

	br_groups *gs = begin(b, r, out);
	bstr mid_b = bs_k(mid);
	int16_t err = BR_KE_NONE;
	member *m = NULL;
	group *g = find_group(gs, gid);
	if (gid.len <= 0) {
		err = BR_KE_INVALID_GROUP_ID;
	} else if (sess < MIN_SESSION_MS || sess > MAX_SESSION_MS) {
		err = BR_KE_INVALID_SESSION_TIMEOUT;
	} else if (!g && mid.len > 0) {
		err = BR_KE_UNKNOWN_MEMBER_ID;
	} else {
		if (!g)
			g = group_new(gs, gid);
		member *known = mid.len > 0 ? find_member(g, mid) : NULL;
		if (!supports(g, ptype, p, np, known)) {
			err = BR_KE_INCONSISTENT_GROUP_PROTOCOL;
		} else if (mid.len == 0) {
			member *st = find_instance(g, iid);
			if (st) {
				/* a static member restarted: it takes over its old place under a new id;
				 * the old id is fenced from now on */
				bstr nid = new_member_id(r->client_id);
				bstr old_leader = bs_k(ks(g->leader));
				finish_join_err(gs, st, BR_KE_FENCED_INSTANCE_ID);
				finish_sync(gs, g, st, BR_KE_FENCED_INSTANCE_ID);
				if (is_leader(g, st))
					bs_set(&g->leader, bs_k(ks(nid)));
				bs_set(&st->id, nid);
				bs_set(&mid_b, bs_k(ks(nid)));
				m = st;
				m->session_ms = sess;
				m->rebalance_ms = reb;
				m->hb_deadline = gs->now + sess;
				set_protocols(m, p, np);
				const bstr *next = g->state == ST_STABLE ? choose_protocol(g) : NULL;
				if (next && bs_eq(*next, g->protocol)) {
					/* as Kafka: no rebalance while Stable if the protocol stays. The
					 * answer names the old leader id, so that a restarted leader
					 * does not compute an assignment a Stable group would never
					 * hand out; it syncs and gets its old assignment back. */
					bstr tmp = g->leader;
					g->leader = old_leader;
					put_join(out, v, BR_KE_NONE, g, m->id, false);
					g->leader = tmp;
					gs->cur_answered = true;
				} else {
					join_wait(gs, m, v);
					if (g->state != ST_PREPARING)
						prepare_rebalance(gs, g, "static member rejoined");
					try_complete_join(gs, g);
				}
				bs_free(&old_leader);
			} else if (v >= 4 && iid.len < 0) {
				/* KIP-394: hand out the id first, so a client that dies before it
				 * receives the id leaves no member behind */
				bstr nid = new_member_id(r->client_id);
				if (g->npend == g->cappend) {
					g->cappend = g->cappend ? 2 * g->cappend : 4;
					g->pend = br_xrealloc(g->pend, g->cappend * sizeof *g->pend);
				}
				g->pend[g->npend++] = (pending){ nid, gs->now + sess };
				bs_set(&mid_b, bs_k(ks(nid)));
				err = BR_KE_MEMBER_ID_REQUIRED;
			} else {
				bstr nid = new_member_id(r->client_id);
				bs_set(&mid_b, bs_k(ks(nid)));
				m = add_member(gs, g, nid, r, iid, ptype, sess, reb, p, np);
				join_wait(gs, m, v);
				if (g->state != ST_PREPARING)
					prepare_rebalance(gs, g, "new member joined");
				try_complete_join(gs, g);
			}
		} else {
			ssize_t pi = find_pending(g, mid);
			if (pi >= 0) {
				remove_pending(g, (size_t)pi);
				m = add_member(gs, g, bs_k(mid), r, iid, ptype, sess, reb, p, np);
				join_wait(gs, m, v);
				if (g->state != ST_PREPARING)
					prepare_rebalance(gs, g, "new member joined");
				try_complete_join(gs, g);
			} else if (!known) {
				err = BR_KE_UNKNOWN_MEMBER_ID;
			} else if (fenced(g, mid, iid)) {
				err = BR_KE_FENCED_INSTANCE_ID;
			} else {
				m = known;
				m->session_ms = sess;
				m->rebalance_ms = reb;
				m->hb_deadline = gs->now + sess;
				switch (g->state) {
				case ST_PREPARING:
					set_protocols(m, p, np);
					join_wait(gs, m, v);
					try_complete_join(gs, g);
					break;
				case ST_COMPLETING:
				case ST_STABLE:
					if (same_protocols(m, p, np) && (g->state == ST_COMPLETING || !is_leader(g, m))) {
						/* a retry (e.g. a lost response) or a follower rejoining with
						 * nothing new: answer with the current generation */
						put_join(out, v, BR_KE_NONE, g, m->id, is_leader(g, m));
						gs->cur_answered = true;
					} else {
						set_protocols(m, p, np);
						join_wait(gs, m, v);
						prepare_rebalance(gs, g, is_leader(g, m) ? "leader rejoined" : "member metadata changed");
						try_complete_join(gs, g);
					}
					break;
				default:
					err = BR_KE_UNKNOWN_MEMBER_ID;
					m = NULL;
				}
			}
		}
	}
	if (err != BR_KE_NONE) {
		m = NULL;
		put_join(out, v, err, NULL, mid_b, false);
		gs->cur_answered = true;
	}
	bs_free(&mid_b);
	free(p);
	return end_wait(gs, r, m, true);
}

/* ---- SyncGroup ---- */

int br_h_sync_group(br_broker *b, br_kreq *r, br_buf *out)
{
	int16_t v = r->version;
	bool f = r->flex;
	br_cur *c = &r->body;
	if (v > 5)
		return BR_KCLOSE;
	br_kstr gid = br_kr_str(c, f);
	int32_t gen = br_kr_i32(c);
	br_kstr mid = br_kr_str(c, f);
	br_kstr iid = v >= 3 ? br_kr_str(c, f) : (br_kstr){ NULL, -1 };
	br_kstr ptype = v >= 5 ? br_kr_str(c, f) : (br_kstr){ NULL, -1 };
	br_kstr pname = v >= 5 ? br_kr_str(c, f) : (br_kstr){ NULL, -1 };
	int32_t na = br_kr_arr(c, f, f ? 3 : 6);
	kproto *a = br_xcalloc((size_t)(na > 0 ? na : 1), sizeof *a);
	for (int32_t i = 0; i < na && !c->bad; i++) {
		a[i].name = br_kr_str(c, f);
		a[i].meta = br_kr_bytes(c, f);
		br_kr_tags(c, f);
	}
	br_kr_tags(c, f);
	if (c->bad) {
		free(a);
		return BR_KCLOSE;
	}
	br_groups *gs = begin(b, r, out);
	group *g = find_group(gs, gid);
	member *m = g ? find_member(g, mid) : NULL;
	int16_t err = BR_KE_NONE;
	if (gid.len <= 0)
		err = BR_KE_INVALID_GROUP_ID;
	else if (!m)
		err = BR_KE_UNKNOWN_MEMBER_ID;
	else if (fenced(g, mid, iid))
		err = BR_KE_FENCED_INSTANCE_ID;
	else if (gen != g->generation)
		err = BR_KE_ILLEGAL_GENERATION;
	else if ((ptype.len >= 0 && !bs_eqk(g->protocol_type, ptype)) ||
	         (pname.len >= 0 && !bs_eqk(g->protocol, pname)))
		err = BR_KE_INCONSISTENT_GROUP_PROTOCOL;
	else if (g->state == ST_PREPARING)
		err = BR_KE_REBALANCE_IN_PROGRESS;
	else if (g->state != ST_COMPLETING && g->state != ST_STABLE)
		err = BR_KE_UNKNOWN_MEMBER_ID;
	if (err) {
		put_sync(out, v, err, NULL, (bstr){ NULL, -1 });
		free(a);
		gs->cur_out = NULL;
		return 0;
	}
	m->hb_deadline = gs->now + m->session_ms;
	if (g->state == ST_STABLE) {
		put_sync(out, v, BR_KE_NONE, g, m->assignment);
		free(a);
		gs->cur_out = NULL;
		return 0;
	}
	if (m->sync_wait != W_NONE)
		finish_sync(gs, g, m, BR_KE_REBALANCE_IN_PROGRESS);
	m->sync_wait = W_CURRENT;
	m->sync_ver = v;
	if (is_leader(g, m)) {
		for (size_t i = 0; i < g->nm; i++) {
			member *x = g->m[i];
			bs_set(&x->assignment, bs_n("", 0));
			for (int32_t k = 0; k < na; k++)
				if (bs_eqk(x->id, a[k].name) && a[k].meta.len >= 0) {
					bs_set(&x->assignment, bs_k(a[k].meta));
					break;
				}
		}
		g->state = ST_STABLE;
		br_info("group %.*s: generation %d stable", g->id.len, g->id.p, g->generation);
		for (size_t i = 0; i < g->nm; i++)
			finish_sync(gs, g, g->m[i], BR_KE_NONE);
	}
	free(a);
	return end_wait(gs, r, m, false);
}

/* ---- Heartbeat ---- */

int br_h_heartbeat(br_broker *b, br_kreq *r, br_buf *out)
{
	int16_t v = r->version;
	bool f = r->flex;
	br_cur *c = &r->body;
	if (v > 4)
		return BR_KCLOSE;
	br_kstr gid = br_kr_str(c, f);
	int32_t gen = br_kr_i32(c);
	br_kstr mid = br_kr_str(c, f);
	br_kstr iid = v >= 3 ? br_kr_str(c, f) : (br_kstr){ NULL, -1 };
	br_kr_tags(c, f);
	if (c->bad)
		return BR_KCLOSE;
	br_groups *gs = begin(b, r, out);
	gs->cur_out = NULL;
	group *g = find_group(gs, gid);
	member *m = g ? find_member(g, mid) : NULL;
	int16_t err = BR_KE_NONE;
	if (gid.len <= 0)
		err = BR_KE_INVALID_GROUP_ID;
	else if (g && fenced(g, mid, iid))
		err = BR_KE_FENCED_INSTANCE_ID;
	else if (!m)
		err = BR_KE_UNKNOWN_MEMBER_ID;
	else if (gen != g->generation)
		err = BR_KE_ILLEGAL_GENERATION;
	else {
		m->hb_deadline = gs->now + m->session_ms;
		if (g->state == ST_PREPARING)
			err = BR_KE_REBALANCE_IN_PROGRESS;
		else if (g->state == ST_EMPTY)
			err = BR_KE_UNKNOWN_MEMBER_ID;
	}
	if (v >= 1)
		br_kw_i32(out, 0);
	br_kw_i16(out, err);
	br_kw_tags(out, f);
	return 0;
}

/* ---- LeaveGroup ---- */

static int16_t leave_one(br_groups *gs, group *g, br_kstr mid, br_kstr iid)
{
	if (!g)
		return BR_KE_UNKNOWN_MEMBER_ID;
	member *m;
	if (iid.len >= 0) {
		m = find_instance(g, iid);
		if (!m)
			return BR_KE_UNKNOWN_MEMBER_ID;
		if (mid.len > 0 && !bs_eqk(m->id, mid))
			return BR_KE_FENCED_INSTANCE_ID;
	} else {
		m = find_member(g, mid);
		if (!m) {
			ssize_t pi = find_pending(g, mid);
			if (pi < 0)
				return BR_KE_UNKNOWN_MEMBER_ID;
			remove_pending(g, (size_t)pi);
			try_complete_join(gs, g);
			return BR_KE_NONE;
		}
	}
	br_info("group %.*s: member %.*s left", g->id.len, g->id.p, m->id.len, m->id.p);
	remove_member(gs, g, m, BR_KE_UNKNOWN_MEMBER_ID);
	member_left(gs, g, "member left");
	return BR_KE_NONE;
}

int br_h_leave_group(br_broker *b, br_kreq *r, br_buf *out)
{
	int16_t v = r->version;
	bool f = r->flex;
	br_cur *c = &r->body;
	if (v > 4)
		return BR_KCLOSE;
	br_groups *gs = begin(b, r, out);
	gs->cur_out = NULL;
	br_kstr gid = br_kr_str(c, f);
	group *g = gid.len > 0 ? find_group(gs, gid) : NULL;
	if (v < 3) {
		br_kstr mid = br_kr_str(c, f);
		if (c->bad)
			return BR_KCLOSE;
		int16_t err = gid.len <= 0 ? BR_KE_INVALID_GROUP_ID : leave_one(gs, g, mid, (br_kstr){ NULL, -1 });
		if (v >= 1)
			br_kw_i32(out, 0);
		br_kw_i16(out, err);
		return 0;
	}
	int32_t n = br_kr_arr(c, f, f ? 3 : 4);
	br_buf ms = { 0 };
	br_kw_arr(&ms, f, n < 0 ? 0 : n);
	for (int32_t i = 0; i < n && !c->bad; i++) {
		br_kstr mid = br_kr_str(c, f);
		br_kstr iid = br_kr_str(c, f);
		br_kr_tags(c, f);
		if (c->bad)
			break;
		int16_t err = gid.len <= 0 ? BR_KE_INVALID_GROUP_ID : leave_one(gs, g, mid, iid);
		br_kw_kstr(&ms, f, mid.len < 0 ? (br_kstr){ "", 0 } : mid);
		br_kw_kstr(&ms, f, iid);
		br_kw_i16(&ms, err);
		br_kw_tags(&ms, f);
	}
	br_kr_tags(c, f);
	if (c->bad) {
		br_buf_free(&ms);
		return BR_KCLOSE;
	}
	br_kw_i32(out, 0);
	br_kw_i16(out, gid.len <= 0 ? BR_KE_INVALID_GROUP_ID : BR_KE_NONE);
	br_buf_put(out, ms.p, ms.len);
	br_kw_tags(out, f);
	br_buf_free(&ms);
	return 0;
}

/* ---- DescribeGroups / ListGroups ---- */

int br_h_describe_groups(br_broker *b, br_kreq *r, br_buf *out)
{
	int16_t v = r->version;
	bool f = r->flex;
	br_cur *c = &r->body;
	if (v > 5)
		return BR_KCLOSE;
	br_groups *gs = begin(b, r, out);
	gs->cur_out = NULL;
	int32_t n = br_kr_arr(c, f, 1);
	br_buf body = { 0 };
	br_kw_arr(&body, f, n < 0 ? 0 : n);
	/* the ids are read first: IncludeAuthorizedOperations follows them */
	br_kstr *ids = br_xcalloc((size_t)(n > 0 ? n : 1), sizeof *ids);
	for (int32_t i = 0; i < n && !c->bad; i++)
		ids[i] = br_kr_str(c, f);
	bool auth = v >= 3 ? br_kr_bool(c) : false;
	br_kr_tags(c, f);
	if (c->bad) {
		free(ids);
		br_buf_free(&body);
		return BR_KCLOSE;
	}
	for (int32_t i = 0; i < n; i++) {
		group *g = find_group(gs, ids[i]);
		bool stable = g && g->state == ST_STABLE;
		br_kw_i16(&body, ids[i].len <= 0 ? BR_KE_INVALID_GROUP_ID : BR_KE_NONE);
		br_kw_kstr(&body, f, ids[i].len < 0 ? (br_kstr){ "", 0 } : ids[i]);
		br_kw_str(&body, f, state_names[g ? g->state : ST_DEAD]);
		put_str_nn(&body, f, g ? g->protocol_type : (bstr){ NULL, -1 });
		put_str_nn(&body, f, stable ? g->protocol : (bstr){ NULL, -1 });
		br_kw_arr(&body, f, g ? (int32_t)g->nm : 0);
		for (size_t k = 0; g && k < g->nm; k++) {
			member *m = g->m[k];
			const gproto *p = stable ? member_proto(m, g->protocol) : NULL;
			br_kw_kstr(&body, f, ks(m->id));
			if (v >= 4)
				br_kw_kstr(&body, f, ks(m->instance_id));
			put_str_nn(&body, f, m->client_id);
			put_str_nn(&body, f, m->client_host);
			br_kw_bytes(&body, f, p ? p->meta.p : "", p ? p->meta.len : 0);
			br_kw_bytes(&body, f, stable && m->assignment.p ? m->assignment.p : "",
			            stable && m->assignment.p ? m->assignment.len : 0);
			br_kw_tags(&body, f);
		}
		if (v >= 3) /* READ, DESCRIBE, DELETE: there is no authorizer */
			br_kw_i32(&body, auth ? (1 << 3 | 1 << 8 | 1 << 6) : INT32_MIN);
		br_kw_tags(&body, f);
	}
	if (v >= 1)
		br_kw_i32(out, 0);
	br_buf_put(out, body.p, body.len);
	br_kw_tags(out, f);
	br_buf_free(&body);
	free(ids);
	return 0;
}

static int cmp_group(const void *a, const void *b)
{
	const group *x = *(group *const *)a, *y = *(group *const *)b;
	int c = memcmp(x->id.p, y->id.p, (size_t)BR_MIN(x->id.len, y->id.len));
	return c ? c : (x->id.len > y->id.len) - (x->id.len < y->id.len);
}

int br_h_list_groups(br_broker *b, br_kreq *r, br_buf *out)
{
	int16_t v = r->version;
	bool f = r->flex;
	br_cur *c = &r->body;
	if (v > 4)
		return BR_KCLOSE;
	br_groups *gs = begin(b, r, out);
	gs->cur_out = NULL;
	int32_t nf = v >= 4 ? br_kr_arr(c, f, 1) : -1;
	br_kstr *filt = br_xcalloc((size_t)(nf > 0 ? nf : 1), sizeof *filt);
	for (int32_t i = 0; i < nf && !c->bad; i++)
		filt[i] = br_kr_str(c, f);
	br_kr_tags(c, f);
	if (c->bad) {
		free(filt);
		return BR_KCLOSE;
	}
	group **list = br_xcalloc(gs->groups.count + 1, sizeof *list);
	size_t n = 0;
	br_map_slot *s;
	for (size_t i = 0; br_map_next(&gs->groups, &i, &s);) {
		group *g = s->val;
		bool keep = nf <= 0;
		for (int32_t k = 0; k < nf && !keep; k++) {
			const char *st = state_names[g->state];
			keep = filt[k].len == (int32_t)strlen(st) && !strncasecmp(filt[k].p, st, (size_t)filt[k].len);
		}
		if (keep)
			list[n++] = g;
	}
	qsort(list, n, sizeof *list, cmp_group);
	if (v >= 1)
		br_kw_i32(out, 0);
	br_kw_i16(out, BR_KE_NONE);
	br_kw_arr(out, f, (int32_t)n);
	for (size_t i = 0; i < n; i++) {
		br_kw_kstr(out, f, ks(list[i]->id));
		put_str_nn(out, f, list[i]->protocol_type);
		if (v >= 4)
			br_kw_str(out, f, state_names[list[i]->state]);
		br_kw_tags(out, f);
	}
	br_kw_tags(out, f);
	free(list);
	free(filt);
	return 0;
}

/* ---- OffsetCommit ---- */

int br_h_offset_commit(br_broker *b, br_kreq *r, br_buf *out)
{
	int16_t v = r->version;
	bool f = r->flex;
	br_cur *c = &r->body;
	if (v > 8)
		return BR_KCLOSE;
	br_kstr gid = br_kr_str(c, f);
	int32_t gen = v >= 1 ? br_kr_i32(c) : -1;
	br_kstr mid = v >= 1 ? br_kr_str(c, f) : (br_kstr){ "", 0 };
	br_kstr iid = v >= 7 ? br_kr_str(c, f) : (br_kstr){ NULL, -1 };
	if (v >= 2 && v <= 4)
		br_kr_i64(c); /* retention time: braid keeps offsets until the group is deleted */
	if (mid.len < 0)
		mid = (br_kstr){ "", 0 };

	br_groups *gs = begin(b, r, out);
	gs->cur_out = NULL;
	group *g = gid.len >= 0 ? find_group(gs, gid) : NULL;
	int16_t gerr = BR_KE_NONE;
	if (gid.len < 0)
		gerr = BR_KE_INVALID_GROUP_ID;
	else if (!g)
		gerr = gen < 0 ? BR_KE_NONE : BR_KE_ILLEGAL_GENERATION;
	else if (fenced(g, mid, iid))
		gerr = BR_KE_FENCED_INSTANCE_ID;
	else if (gen < 0 && g->state == ST_EMPTY)
		gerr = BR_KE_NONE; /* a simple consumer (assign + commit) */
	else if (g->state == ST_COMPLETING)
		gerr = BR_KE_REBALANCE_IN_PROGRESS;
	else {
		member *m = find_member(g, mid);
		if (!m)
			gerr = BR_KE_UNKNOWN_MEMBER_ID;
		else if (gen != g->generation)
			gerr = BR_KE_ILLEGAL_GENERATION;
		else
			m->hb_deadline = gs->now + m->session_ms;
	}

	/* Two passes: decode and validate everything, store once (one fdatasync), then
	 * answer with each partition's outcome. */
	br_cur start = *c;
	size_t total = 0;
	int32_t nt = br_kr_arr(c, f, f ? 2 : 6);
	for (int32_t t = 0; t < nt && !c->bad; t++) {
		br_kr_str(c, f);
		int32_t np = br_kr_arr(c, f, f ? 14 : 14);
		for (int32_t i = 0; i < np && !c->bad; i++) {
			br_kr_i32(c);
			br_kr_i64(c);
			if (v >= 6)
				br_kr_i32(c);
			if (v == 1)
				br_kr_i64(c);
			br_kr_str(c, f);
			br_kr_tags(c, f);
			total++;
		}
		br_kr_tags(c, f);
	}
	br_kr_tags(c, f);
	if (c->bad)
		return BR_KCLOSE;

	br_gcommit *cm = br_xcalloc(total ? total : 1, sizeof *cm);
	int16_t *errs = br_xcalloc(total ? total : 1, sizeof *errs);
	size_t ncm = 0, k = 0;
	*c = start;
	nt = br_kr_arr(c, f, 1);
	for (int32_t t = 0; t < nt; t++) {
		br_kstr topic = br_kr_str(c, f);
		int32_t np = br_kr_arr(c, f, 1);
		for (int32_t i = 0; i < np; i++, k++) {
			br_gcommit x = { gid.p, gid.len, { 0 } };
			x.o.topic = topic.p;
			x.o.topic_len = topic.len;
			x.o.partition = br_kr_i32(c);
			x.o.offset = br_kr_i64(c);
			x.o.leader_epoch = v >= 6 ? br_kr_i32(c) : -1;
			int64_t ts = v == 1 ? br_kr_i64(c) : -1;
			br_kstr meta = br_kr_str(c, f);
			br_kr_tags(c, f);
			x.o.commit_ms = ts >= 0 ? ts : br_now_ms();
			x.o.meta = meta.p;
			x.o.meta_len = meta.len < 0 ? 0 : meta.len;
			if (meta.len < 0)
				x.o.meta = NULL;
			errs[k] = gerr;
			if (!errs[k] && (topic.len <= 0 || topic.len > BR_GSTORE_MAX_NAME || x.o.partition < 0))
				errs[k] = BR_KE_UNKNOWN_TOPIC_OR_PARTITION;
			else if (!errs[k] && meta.len > BR_GSTORE_MAX_METADATA)
				errs[k] = BR_KE_OFFSET_METADATA_TOO_LARGE;
			else if (!errs[k] && gid.len > BR_GSTORE_MAX_NAME)
				errs[k] = BR_KE_INVALID_GROUP_ID;
			if (!errs[k])
				cm[ncm++] = x;
		}
		br_kr_tags(c, f);
	}
	br_kr_tags(c, f);
	if (ncm) {
		br_err e;
		if (br_gstore_commit(gs->store, cm, ncm, &e)) {
			br_warn("group %.*s: offset commit failed: %s", gid.len, gid.p, e.msg);
			for (size_t i = 0; i < total; i++)
				if (!errs[i])
					errs[i] = BR_KE_UNKNOWN_SERVER_ERROR;
		} else if (!g) {
			group_new(gs, gid);
		}
	}

	/* third pass: the response mirrors the request's topics and partitions */
	*c = start;
	if (v >= 3)
		br_kw_i32(out, 0);
	nt = br_kr_arr(c, f, 1);
	br_kw_arr(out, f, nt < 0 ? 0 : nt);
	k = 0;
	for (int32_t t = 0; t < nt; t++) {
		br_kw_kstr(out, f, br_kr_str(c, f));
		int32_t np = br_kr_arr(c, f, 1);
		br_kw_arr(out, f, np < 0 ? 0 : np);
		for (int32_t i = 0; i < np; i++, k++) {
			br_kw_i32(out, br_kr_i32(c));
			br_kr_i64(c);
			if (v >= 6)
				br_kr_i32(c);
			if (v == 1)
				br_kr_i64(c);
			br_kr_str(c, f);
			br_kr_tags(c, f);
			br_kw_i16(out, errs[k]);
			br_kw_tags(out, f);
		}
		br_kr_tags(c, f);
		br_kw_tags(out, f);
	}
	br_kw_tags(out, f);
	free(cm);
	free(errs);
	return 0;
}

/* ---- OffsetFetch ---- */

static void put_fetched(br_buf *o, int16_t v, bool f, const br_goffset *x, int32_t partition)
{
	br_kw_i32(o, partition);
	br_kw_i64(o, x ? x->offset : -1);
	if (v >= 5)
		br_kw_i32(o, x ? x->leader_epoch : -1);
	/* Kafka stores null metadata as "" and answers "" for offsets never committed */
	br_kw_strn(o, f, x && x->meta ? x->meta : "", x && x->meta ? x->meta_len : 0);
	br_kw_i16(o, BR_KE_NONE);
	br_kw_tags(o, f);
}

/* Writes the topics array of one group: the requested partitions, or (topics null)
 * every committed partition. Reads the request's topics from c. */
static void fetch_group(br_groups *gs, int16_t v, bool f, br_kstr gid, br_cur *c, br_buf *o)
{
	int32_t nt = br_kr_arr(c, f, 1);
	if (c->bad)
		return;
	if (nt >= 0) {
		br_kw_arr(o, f, nt);
		for (int32_t t = 0; t < nt && !c->bad; t++) {
			br_kstr topic = br_kr_str(c, f);
			br_kw_kstr(o, f, topic.len < 0 ? (br_kstr){ "", 0 } : topic);
			int32_t np = br_kr_arr(c, f, 4);
			br_kw_arr(o, f, np < 0 ? 0 : np);
			for (int32_t i = 0; i < np && !c->bad; i++) {
				int32_t p = br_kr_i32(c);
				const br_goffset *x = gid.len >= 0 && topic.len >= 0
				                          ? br_gstore_get(gs->store, gid.p, gid.len, topic.p, topic.len, p)
				                          : NULL;
				put_fetched(o, v, f, x, p);
			}
			br_kr_tags(c, f);
			br_kw_tags(o, f);
		}
		return;
	}
	const br_goffset **all = NULL;
	size_t n = gid.len >= 0 ? br_gstore_group_offsets(gs->store, gid.p, gid.len, &all) : 0;
	int32_t ntopics = 0;
	for (size_t i = 0; i < n; i++)
		ntopics += i == 0 || all[i]->topic_len != all[i - 1]->topic_len ||
		           memcmp(all[i]->topic, all[i - 1]->topic, (size_t)all[i]->topic_len);
	br_kw_arr(o, f, ntopics);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && all[j]->topic_len == all[i]->topic_len &&
		       !memcmp(all[j]->topic, all[i]->topic, (size_t)all[i]->topic_len))
			j++;
		br_kw_strn(o, f, all[i]->topic, all[i]->topic_len);
		br_kw_arr(o, f, (int32_t)(j - i));
		for (size_t k = i; k < j; k++)
			put_fetched(o, v, f, all[k], all[k]->partition);
		br_kw_tags(o, f);
		i = j;
	}
	free(all);
}

int br_h_offset_fetch(br_broker *b, br_kreq *r, br_buf *out)
{
	int16_t v = r->version;
	bool f = r->flex;
	br_cur *c = &r->body;
	if (v > 8)
		return BR_KCLOSE;
	br_groups *gs = begin(b, r, out);
	gs->cur_out = NULL;
	if (v >= 3)
		br_kw_i32(out, 0);
	if (v < 8) {
		br_kstr gid = br_kr_str(c, f);
		fetch_group(gs, v, f, gid, c, out);
		if (v >= 7)
			br_kr_bool(c); /* RequireStable: braid has no pending transactional offsets */
		br_kr_tags(c, f);
		if (c->bad)
			return BR_KCLOSE;
		if (v >= 2)
			br_kw_i16(out, BR_KE_NONE);
		br_kw_tags(out, f);
		return 0;
	}
	int32_t ng = br_kr_arr(c, f, 2);
	br_kw_arr(out, f, ng < 0 ? 0 : ng);
	for (int32_t i = 0; i < ng && !c->bad; i++) {
		br_kstr gid = br_kr_str(c, f);
		br_kw_kstr(out, f, gid.len < 0 ? (br_kstr){ "", 0 } : gid);
		fetch_group(gs, v, f, gid, c, out);
		br_kr_tags(c, f);
		br_kw_i16(out, BR_KE_NONE);
		br_kw_tags(out, f);
	}
	br_kr_bool(c);
	br_kr_tags(c, f);
	if (c->bad)
		return BR_KCLOSE;
	br_kw_tags(out, f);
	return 0;
}
