/* render: the bodies of control replies, written from what a request's act found. */
#include "render.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devid.h"
#include "error.h"
#include "hlc.h"
#include "index.h"
#include "protocol.h"
#include "rid.h"
#include "trail.h"
#include "util.h"
#include "version.h"

static void
put_time(struct wbuf *w, const char *k, uint64_t hlc)
{
	char t[32];

	hlc_format(t, hlc);
	wire_put_kv_str(w, k, t);
}

static void
put_author(struct wbuf *w, const char *k, const uint8_t author[32])
{
	char id[DEVID_TEXTLEN + 1];

	devid_encode(id, author);
	wire_put_kv_str(w, k, id);
}

static void
put_rid(struct wbuf *w, const char *k, const uint8_t rid[RID_LEN])
{
	char t[RID_TEXTLEN + 1];

	rid_encode(t, rid);
	wire_put_kv_str(w, k, t);
}

static void
put_circle_id(struct wbuf *w, const char *k, const uint8_t id[CS_CIRCLELEN])
{
	char hex[2 * CS_CIRCLELEN + 1];

	hex_encode(hex, id, CS_CIRCLELEN);
	wire_put_kv_str(w, k, hex);
}

/* Records. */

/* One surviving value of a conflict: 3 keys. */
static void
put_survivor(struct wbuf *w, const struct store_value *v, int existence)
{
	wire_put_map(w, 3);
	if (existence)
		wire_put_kv_bool(w, "deleted", !v->alive);
	else
		wire_put_kv_str(w, "value", v->value);
	put_author(w, "author", v->author);
	put_time(w, "time", v->hlc);
}

size_t
render_count_conflicts(const struct store_record *r)
{
	size_t n = r->exist_conflict ? 1 : 0;

	for (size_t i = 0; i < r->nfields; i++)
		if (!r->fields[i].is_set && r->fields[i].ndistinct > 1)
			n++;
	return n;
}

/* The values of one conflict: of field f, or of the existence (NULL). */
static void
put_conflict_values(struct wbuf *w, const struct store_record *r,
    const struct store_field *f)
{
	const struct store_value *vals = f ? f->vals : r->exist;
	size_t n = f ? f->nvals : r->nexist;

	wire_put_cstr(w, "values");
	wire_put_array(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_survivor(w, &vals[i], f == NULL);
}

static void
put_conflicts(struct wbuf *w, const struct store_record *r)
{
	wire_put_cstr(w, "conflicts");
	wire_put_array(w, (uint32_t)render_count_conflicts(r));
	if (r->exist_conflict) {
		wire_put_map(w, 2);
		wire_put_kv_str(w, "field", NULL);
		put_conflict_values(w, r, NULL);
	}
	for (size_t i = 0; i < r->nfields; i++) {
		const struct store_field *f = &r->fields[i];

		if (f->is_set || f->ndistinct <= 1)
			continue;
		wire_put_map(w, 2);
		wire_put_kv_str(w, "field", f->name);
		put_conflict_values(w, r, f);
	}
}

static size_t
count_kind(const struct store_record *r, int is_set)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nfields; i++)
		if (r->fields[i].is_set == is_set && r->fields[i].nvals > 0)
			n++;
	return n;
}

/* Distinct elements of a set field (its values are sorted by element). */
static size_t
count_distinct(const struct store_field *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nvals; i++)
		if (i == 0 || strcmp(f->vals[i].value, f->vals[i - 1].value))
			n++;
	return n;
}

/*
 * A record: 9 keys, and "notes" (with_notes: notes[0..nnotes)) and
 * "matched" (matched != NULL) if given, and room for extra more keys that
 * the caller writes after it.
 */
static void
put_record(struct wbuf *w, const struct store_record *r, int with_notes,
    const struct store_record *const *notes, size_t nnotes,
    const struct store_field **matched, size_t nmatched, uint32_t extra)
{
	char circle[2 * CS_CIRCLELEN + 1];
	size_t nfields = count_kind(r, 0), nsets = count_kind(r, 1);

	wire_put_map(w, 9 + (with_notes ? 1 : 0) + (matched ? 1 : 0) + extra);
	wire_put_kv_str(w, "collection", r->collection);
	put_rid(w, "id", r->rid);
	hex_encode(circle, r->circle, CS_CIRCLELEN);
	wire_put_kv_str(w, "circle", circle);
	put_time(w, "created", r->created);
	put_time(w, "updated", r->updated);
	wire_put_kv_bool(w, "deleted", r->deleted);

	wire_put_cstr(w, "fields");
	wire_put_map(w, (uint32_t)nfields);
	for (size_t i = 0; i < r->nfields; i++) {
		const struct store_field *f = &r->fields[i];

		if (!f->is_set && f->nvals > 0)
			wire_put_kv_str(w, f->name, f->vals[0].value);
	}
	wire_put_cstr(w, "sets");
	wire_put_map(w, (uint32_t)nsets);
	for (size_t i = 0; i < r->nfields; i++) {
		const struct store_field *f = &r->fields[i];

		if (!f->is_set || f->nvals == 0)
			continue;
		wire_put_cstr(w, f->name);
		wire_put_array(w, (uint32_t)count_distinct(f));
		for (size_t j = 0; j < f->nvals; j++)
			if (j == 0 || strcmp(f->vals[j].value,
			    f->vals[j - 1].value))
				wire_put_cstr(w, f->vals[j].value);
	}
	put_conflicts(w, r);
	if (with_notes) {
		wire_put_cstr(w, "notes");
		wire_put_array(w, (uint32_t)nnotes);
		for (size_t i = 0; i < nnotes; i++)
			put_record(w, notes[i], 0, NULL, 0, NULL, 0, 0);
	}
	if (matched) {
		wire_put_cstr(w, "matched");
		wire_put_array(w, (uint32_t)nmatched);
		for (size_t i = 0; i < nmatched; i++)
			wire_put_cstr(w, matched[i]->name);
	}
}

void
render_get(struct wbuf *w, union render_result *res)
{
	struct render_get *g = &res->get;

	put_record(w, g->rec, g->with_notes, g->notes, g->nnotes, NULL, 0,
	    0);
	free(g->notes);
}

void
render_ls(struct wbuf *w, union render_result *res)
{
	struct render_list *l = &res->list;

	wire_put_array(w, (uint32_t)l->n);
	for (size_t i = 0; i < l->n; i++)
		put_record(w, l->recs[i], 0, NULL, 0, NULL, 0, 0);
	free(l->recs);
}

void
render_find(struct wbuf *w, union render_result *res)
{
	struct render_list *l = &res->list;
	const struct store_field *matched[RENDER_MAX_MATCHED];

	wire_put_array(w, (uint32_t)l->n);
	for (size_t i = 0; i < l->n; i++) {
		size_t m = index_match(l->recs[i], l->find, l->find_len,
		    matched, RENDER_MAX_MATCHED);

		put_record(w, l->recs[i], 0, NULL, 0, matched,
		    m < RENDER_MAX_MATCHED ? m : RENDER_MAX_MATCHED, 0);
	}
	free(l->recs);
}

void
render_conflicts(struct wbuf *w, union render_result *res)
{
	struct render_list *l = &res->list;
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += render_count_conflicts(l->recs[i]);
	wire_put_array(w, (uint32_t)n);
	for (size_t i = 0; i < l->n; i++) {
		const struct store_record *rec = l->recs[i];

		for (size_t j = 0; j <= rec->nfields; j++) {
			/* j == nfields stands for the existence register. */
			const struct store_field *f = j < rec->nfields ?
			    &rec->fields[j] : NULL;

			if (f ? f->is_set || f->ndistinct <= 1 :
			    !rec->exist_conflict)
				continue;
			wire_put_map(w, 4);
			wire_put_kv_str(w, "collection", rec->collection);
			put_rid(w, "id", rec->rid);
			wire_put_kv_str(w, "field", f ? f->name : NULL);
			put_conflict_values(w, rec, f);
		}
	}
	free(l->recs);
}

/*
 * What a history entry shows as "op", tracking the existence so far in
 * *last_alive.  NULL for the bookkeeping EXIST that every update writes.
 */
static const char *
hist_op(const struct store_hist *h, int *last_alive)
{
	const char *op = NULL;

	switch (h->kind) {
	case OP_SET: return "set";
	case OP_ADD: return "add";
	case OP_REM: return "remove";
	case OP_EXIST:
		if (!h->alive)
			op = "delete";
		else if (h->nrefs == 0)
			op = "create";
		else if (!*last_alive)
			op = "restore";
		*last_alive = h->alive;
		return op;
	}
	return NULL;
}

/*
 * The store lists a change set's ops in their stored order; a reader
 * expects "create" or "delete" to come first.  Entries of one change set
 * are adjacent: move its EXIST to the front of the run.
 */
static void
exist_first(struct store_hist *h, size_t n)
{
	size_t start = 0, i, j;

	while (start < n) {
		for (i = start + 1; i < n && h[i].seq == h[start].seq &&
		    memcmp(h[i].author, h[start].author, 32) == 0; i++)
			;
		for (j = start + 1; j < i; j++) {
			if (h[j].kind == OP_EXIST) {
				struct store_hist t = h[j];

				memmove(&h[start + 1], &h[start],
				    (j - start) * sizeof(*h));
				h[start] = t;
				break;
			}
		}
		start = i;
	}
}

/* A record's history h[0..n) as log shows it (reorders h). */
static void
put_history(struct wbuf *w, struct store_hist *h, size_t n)
{
	size_t shown = 0;
	int alive;

	exist_first(h, n);
	alive = 1;
	for (size_t i = 0; i < n; i++)
		shown += hist_op(&h[i], &alive) != NULL;
	wire_put_array(w, (uint32_t)shown);
	alive = 1;
	for (size_t i = 0; i < n; i++) {
		const char *op = hist_op(&h[i], &alive);
		int field = h[i].kind != OP_EXIST;

		if (op == NULL)
			continue;
		wire_put_map(w, 8);
		put_time(w, "time", h[i].hlc);
		wire_put_kv_u64(w, "hlc", h[i].hlc);
		put_author(w, "author", h[i].author);
		wire_put_kv_u64(w, "seq", h[i].seq);
		wire_put_kv_str(w, "op", op);
		wire_put_kv_str(w, "field", field ? h[i].field : NULL);
		wire_put_kv_str(w, "value", field ? h[i].value : NULL);
		wire_put_kv_u64(w, "replaced", h[i].nrefs);
	}
}

/* A purged record's one entry: the op that erased it, not what it was. */
static void
put_purged(struct wbuf *w, struct circle_purged *g)
{
	wire_put_array(w, 1);
	wire_put_map(w, 8);
	if (g->hlc != 0)
		put_time(w, "time", g->hlc);
	else
		wire_put_kv_str(w, "time", NULL);
	wire_put_kv_u64(w, "hlc", g->hlc);
	put_author(w, "author", g->author);
	wire_put_kv_u64(w, "seq", g->seq);
	wire_put_kv_str(w, "op", g->retention ? "retention" : "purge");
	wire_put_kv_str(w, "field", NULL);
	wire_put_kv_str(w, "value", g->reason);
	wire_put_kv_u64(w, "replaced", 0);
	circle_purged_free(g);
}

void
render_log(struct wbuf *w, union render_result *res)
{
	if (res->log.is_purged) {
		put_purged(w, &res->log.purged);
		return;
	}
	put_history(w, res->log.h, res->log.n);
	store_history_free(res->log.h, res->log.n);
}

/* Writes. */

void
render_put(struct wbuf *w, union render_result *res)
{
	const struct render_written *r = &res->written;
	int has_case = r->case_id[0] != '\0';

	wire_put_map(w, has_case ? 4 : 3);
	wire_put_kv_str(w, "collection", r->collection);
	put_rid(w, "id", r->rid);
	wire_put_kv_bool(w, "created", r->created);
	if (has_case)
		wire_put_kv_str(w, "case", r->case_id);
}

void
render_note(struct wbuf *w, union render_result *res)
{
	render_put(w, res);
}

void
render_rm(struct wbuf *w, union render_result *res)
{
	const struct render_written *r = &res->written;

	wire_put_map(w, 2);
	wire_put_kv_str(w, "collection", r->collection);
	put_rid(w, "id", r->rid);
}

/* The daemon. */

/* Each peer's replica digest when we last synced, next to ours. */
static void
put_status_peers(struct wbuf *w, const struct store_peer *sp, size_t n)
{
	wire_put_cstr(w, "peers");
	wire_put_array(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		char dev[DEVID_TEXTLEN + 1], hex[65], t[32];
		int has = 0;

		for (int k = 0; k < 32; k++)
			has |= sp[i].digest[k];
		devid_encode(dev, sp[i].device);
		hex_encode(hex, sp[i].digest, 32);
		hlc_format(t, HLC_MAKE(sp[i].last_sync_ms, 0));
		wire_put_map(w, 3);
		wire_put_kv_str(w, "device", dev);
		wire_put_kv_str(w, "digest", has ? hex : NULL);
		wire_put_kv_str(w, "last_sync", sp[i].last_sync_ms ? t : NULL);
	}
}

void
render_status(struct wbuf *w, union render_result *res)
{
	struct render_status *s = &res->status;
	char hex[65], id[DEVID_TEXTLEN + 1];
	struct wire_map m;

	devid_encode(id, s->device);
	wire_map_init(&m);
	wire_map_str(&m, "device", id);
	wire_map_str(&m, "data_dir", s->dir);
	wire_map_str(&m, "version", SAMEN_VERSION);
	wire_map_u64(&m, "protocol", SAMEN_PROTOCOL_VERSION);
	wire_map_u64(&m, "schema", SAMEN_SCHEMA_VERSION);
	wire_map_u64(&m, "pid", (uint64_t)getpid());
	wire_map_u64(&m, "uptime_s", s->uptime_s);
	wire_map_bool(&m, "locked", s->locked);
	wire_map_bool(&m, "passphrase", s->passphrase);
	wire_map_bool(&m, "revoked", s->revoked);
	wire_map_u64(&m, "records", s->stats.records);
	wire_map_u64(&m, "changesets", s->stats.changesets);
	wire_map_u64(&m, "audit_changesets", s->stats.audit);
	wire_map_u64(&m, "pending", s->stats.pending);
	wire_map_u64(&m, "held", s->stats.held);
	wire_map_u64(&m, "bad", s->stats.bad);
	wire_map_u64(&m, "flagged", s->stats.flagged);
	wire_map_u64(&m, "quarantined", s->stats.quarantined);
	wire_map_u64(&m, "purged_dropped", s->stats.purged_dropped);
	wire_map_u64(&m, "purges_refused", s->purges_refused);
	hex_encode(hex, s->digest, sizeof(s->digest));
	wire_map_str(&m, "replica_digest", hex);
	hex_encode(hex, s->shared, sizeof(s->shared));
	wire_map_str(&m, "shared_digest", hex);
	wire_map_str(&m, "listen", s->listen);
	wire_map_u64(&m, "zap_refused", s->zap_refused);
	wire_map_u64(&m, "rejected", s->rejected);
	wire_map_u64(&m, "handshake_failed", s->handshake_failed);
	wire_map_u64(&m, "dropped", s->dropped);
	wire_map_u64(&m, "held_by_peers", s->held_by);
	wire_map_u64(&m, "held_by_peers_ahead_ms", s->held_by_ahead_ms);
	put_status_peers(wire_map_entry(&m), s->peers, s->npeers);
	wire_map_put(w, &m);
	store_peer_list_free(s->peers, s->npeers);
}

void
render_rebuild(struct wbuf *w, union render_result *res)
{
	char hex[65];

	hex_encode(hex, res->rebuild.digest, sizeof(res->rebuild.digest));
	wire_put_map(w, 2);
	wire_put_kv_str(w, "replica_digest", hex);
	wire_put_kv_u64(w, "changesets", res->rebuild.changesets);
}

void
render_unlock(struct wbuf *w, union render_result *res)
{
	(void)res;
	wire_put_map(w, 1);
	wire_put_kv_bool(w, "unlocked", 1);
}

void
render_lock(struct wbuf *w, union render_result *res)
{
	(void)res;
	wire_put_map(w, 1);
	wire_put_kv_bool(w, "locked", 1);
}

static void
put_rids(struct wbuf *w, const char *k, uint8_t (*rids)[RID_LEN], size_t n)
{
	char t[RID_TEXTLEN + 1];

	wire_put_cstr(w, k);
	wire_put_array(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		rid_encode(t, rids[i]);
		wire_put_cstr(w, t);
	}
}

void
render_handover(struct wbuf *w, union render_result *res)
{
	struct render_handover *h = &res->handover;

	wire_put_map(w, 4);
	put_author(w, "from", h->from);
	put_author(w, "to", h->to);
	put_rids(w, "moved", h->moved, h->nmoved);
	put_rids(w, "conflicts", h->conflicts, h->nconflicts);
	free(h->moved);
	free(h->conflicts);
}

/* Peers. */

void
render_peer_add(struct wbuf *w, union render_result *res)
{
	char dev[DEVID_TEXTLEN + 1];

	devid_encode(dev, res->peer.device);
	wire_put_map(w, 2);
	wire_put_kv_str(w, "device", dev);
	wire_put_kv_str(w, "addr", res->peer.addr);
}

void
render_peer_rm(struct wbuf *w, union render_result *res)
{
	char dev[DEVID_TEXTLEN + 1];

	devid_encode(dev, res->peer.device);
	wire_put_map(w, 1);
	wire_put_kv_str(w, "device", dev);
}

static void
put_kv_time(struct wbuf *w, const char *k, uint64_t ms)
{
	char t[32];

	if (ms == 0) {
		wire_put_kv_str(w, k, NULL);
		return;
	}
	hlc_format(t, HLC_MAKE(ms, 0));
	wire_put_kv_str(w, k, t);
}

static void
put_session(struct wbuf *w, const struct peers_session_stat *s)
{
	static const char *const names[] = { "running", "done", "failed" };

	wire_put_map(w, 11);
	wire_put_kv_u64(w, "round", s->round);
	wire_put_kv_str(w, "state", names[s->state]);
	wire_put_kv_str(w, "error", s->error);
	wire_put_kv_u64(w, "sent", s->sent);
	wire_put_kv_u64(w, "received", s->received);
	wire_put_kv_u64(w, "rejected", s->rejected);
	wire_put_kv_u64(w, "bytes_sent", s->bytes_sent);
	wire_put_kv_u64(w, "bytes_received", s->bytes_received);
	wire_put_cstr(w, "in_sync");
	wire_put_bool(w, s->in_sync);
	wire_put_kv_u64(w, "held", s->held_by);
	wire_put_kv_u64(w, "held_ahead_ms", s->held_by_ahead_ms);
}

/* What a peer holds back of ours and we of its (docs/sync.md, "A clock
 * ahead"): two more keys of a peer ls entry. */
static void
put_held(struct wbuf *w, const struct peers_stat *st)
{
	wire_put_kv_u64(w, "held_from_peer", st->held_from);
	wire_put_cstr(w, "held_by_peer");
	if (st->held_by == 0) {
		wire_put_nil(w);
		return;
	}
	wire_put_map(w, 3);
	wire_put_kv_u64(w, "count", st->held_by);
	wire_put_kv_u64(w, "ahead_ms", st->held_by_ahead_ms);
	put_kv_time(w, "at", st->held_by_ms);
}

void
render_peer_ls(struct wbuf *w, union render_result *res)
{
	static const char *const conns[] = { "idle", "inbound", "connecting",
	    "connected" };
	struct render_peers *p = &res->peers;
	const struct peers_stat *st = p->st;

	if (p->live) {
		wire_put_array(w, (uint32_t)p->n);
		for (size_t i = 0; i < p->n; i++) {
			char id[DEVID_TEXTLEN + 1], hex[65];

			devid_encode(id, st[i].device);
			wire_put_map(w, 11);
			wire_put_kv_str(w, "device", id);
			wire_put_kv_str(w, "addr", st[i].addr);
			wire_put_kv_str(w, "state", conns[st[i].conn]);
			put_kv_time(w, "last_sync", st[i].last_sync_ms);
			wire_put_kv_u64(w, "sent", st[i].sent);
			wire_put_kv_u64(w, "received", st[i].received);
			wire_put_kv_u64(w, "rejected", st[i].rejected);
			hex_encode(hex, st[i].digest, 32);
			wire_put_kv_str(w, "digest", st[i].has_digest ? hex :
			    NULL);
			wire_put_cstr(w, "session");
			if (st[i].has_session)
				put_session(w, &st[i].session);
			else
				wire_put_nil(w);
			put_held(w, &st[i]);
		}
		peers_snapshot_free(p->st, p->n);
		return;
	}
	wire_put_array(w, (uint32_t)p->n);
	for (size_t i = 0; i < p->n; i++) {
		char dev[DEVID_TEXTLEN + 1];

		devid_encode(dev, p->sp[i].device);
		wire_put_map(w, 3);
		wire_put_kv_str(w, "device", dev);
		wire_put_kv_str(w, "addr", p->sp[i].addr);
		wire_put_kv_str(w, "state", "idle");
	}
	store_peer_list_free(p->sp, p->n);
}

/* Circles. */

static const char *
role_name(enum roster_role r)
{
	switch (r) {
	case ROSTER_ADMIN:
		return "admin";
	case ROSTER_MEMBER:
		return "member";
	case ROSTER_RELAY:
		return "relay";
	default:
		return NULL;
	}
}

static const char *
state_name(enum roster_state s)
{
	switch (s) {
	case ROSTER_CURRENT:
		return "current";
	case ROSTER_REMOVED:
		return "removed";
	case ROSTER_REVOKED:
		return "revoked";
	default:
		return NULL;
	}
}

/*
 * An epoch id, a number (ids are derived, not counted: any of 2^31, the
 * CLI shows them as 8 hex digits); null for none.
 */
static void
put_epoch(struct wbuf *w, const char *k, uint32_t epoch)
{
	wire_put_cstr(w, k);
	if (epoch != 0)
		wire_put_u64(w, epoch);
	else
		wire_put_nil(w);
}

void
render_circle_new(struct wbuf *w, union render_result *res)
{
	wire_put_map(w, 3);
	put_circle_id(w, "circle", res->circle.id);
	wire_put_kv_str(w, "name", res->circle.name);
	put_epoch(w, "epoch", res->circle.epoch);
}

/* add, role: the circle, the device and its role now. */
static void
put_role_reply(struct wbuf *w, union render_result *res)
{
	wire_put_map(w, 4);
	put_circle_id(w, "circle", res->circle.id);
	wire_put_kv_str(w, "name", res->circle.name);
	put_author(w, "device", res->circle.device);
	wire_put_kv_str(w, "role", role_name(res->circle.role));
}

void
render_circle_add(struct wbuf *w, union render_result *res)
{
	put_role_reply(w, res);
}

void
render_circle_role(struct wbuf *w, union render_result *res)
{
	put_role_reply(w, res);
}

void
render_circle_rm(struct wbuf *w, union render_result *res)
{
	wire_put_map(w, 5);
	put_circle_id(w, "circle", res->circle.id);
	wire_put_kv_str(w, "name", res->circle.name);
	put_author(w, "device", res->circle.device);
	put_epoch(w, "epoch", res->circle.epoch);
	wire_put_kv_u64(w, "cut", res->circle.cut);
}

void
render_circle_accept(struct wbuf *w, union render_result *res)
{
	wire_put_map(w, 4);
	put_circle_id(w, "circle", res->circle.id);
	wire_put_kv_str(w, "name", res->circle.name);
	put_author(w, "device", res->circle.device);
	wire_put_kv_u64(w, "cut", res->circle.cut);
}

void
render_circle_use(struct wbuf *w, union render_result *res)
{
	wire_put_map(w, 2);
	put_circle_id(w, "circle", res->circle.id);
	wire_put_kv_str(w, "name", res->circle.name);
}

void
render_circle_quarantine(struct wbuf *w, union render_result *res)
{
	struct render_quarantine *q = &res->quarantine;

	wire_put_array(w, (uint32_t)q->n);
	for (size_t i = 0; i < q->n; i++) {
		const struct circle_held *h = &q->held[i];

		wire_put_map(w, 6);
		put_author(w, "author", h->author);
		wire_put_kv_u64(w, "seq", h->seq);
		put_time(w, "time", h->hlc);
		put_epoch(w, "epoch", h->epoch);
		wire_put_kv_u64(w, "chunks", h->nchunks);
		wire_put_cstr(w, "records");
		if (!h->readable) {
			wire_put_nil(w);
			continue;
		}
		wire_put_array(w, (uint32_t)h->nrecs);
		for (size_t k = 0; k < h->nrecs; k++) {
			wire_put_map(w, 2);
			wire_put_kv_str(w, "collection",
			    h->recs[k].collection);
			put_rid(w, "id", h->recs[k].rid);
		}
	}
	circle_held_free(q->held, q->n);
}

void
render_device_revoke(struct wbuf *w, union render_result *res)
{
	wire_put_map(w, 2);
	put_author(w, "device", res->revoke.device);
	wire_put_kv_u64(w, "circles", res->revoke.ncircles);
}

static void
put_members(struct wbuf *w, const struct roster *r)
{
	const struct roster_member *m;
	size_t n = 0;

	m = r != NULL ? roster_members(r, &n) : NULL;
	wire_put_cstr(w, "members");
	wire_put_array(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		wire_put_map(w, 5);
		put_author(w, "device", m[i].device);
		wire_put_kv_str(w, "role", role_name(m[i].role));
		wire_put_kv_str(w, "state", state_name(m[i].state));
		if (m[i].has_adder)
			put_author(w, "added_by", m[i].added_by);
		else
			wire_put_kv_str(w, "added_by", NULL);
		wire_put_cstr(w, "cut");
		if (m[i].state == ROSTER_CURRENT)
			wire_put_nil(w);
		else
			wire_put_u64(w, m[i].cut_seq);
	}
}

/* How the ops of its members chain counted. */
static void
put_ops(struct wbuf *w, const struct roster *r)
{
	static const char *const names[ROSTER_NVERDICTS] = {
		[ROSTER_VALID] = "valid",
		[ROSTER_WAITING] = "waiting",
		[ROSTER_MALFORMED] = "malformed",
		[ROSTER_UNAUTHORIZED] = "unauthorized",
		[ROSTER_FILTERED] = "filtered",
	};

	wire_put_cstr(w, "ops");
	if (r == NULL) {
		wire_put_nil(w);
		return;
	}
	wire_put_map(w, ROSTER_NVERDICTS);
	for (int v = 0; v < ROSTER_NVERDICTS; v++)
		wire_put_kv_u64(w, names[v], roster_count(r,
		    (enum roster_verdict)v));
}

/* The retention policies, and how many purges count. */
static void
put_erasure(struct wbuf *w, const struct roster *r)
{
	const struct roster_retention *rt = NULL;
	size_t n = 0, shown = 0, np = 0;

	if (r != NULL) {
		rt = roster_retentions(r, &n);
		(void)roster_purges(r, &np);
	}
	for (size_t i = 0; i < n; i++)
		shown += rt[i].keep != 0;
	wire_put_cstr(w, "retention");
	wire_put_array(w, (uint32_t)shown);
	for (size_t i = 0; i < n; i++) {
		if (rt[i].keep == 0)
			continue;	/* set to none */
		wire_put_map(w, 2);
		wire_put_kv_str(w, "collection", rt[i].coll);
		wire_put_kv_u64(w, "days", rt[i].keep);
	}
	wire_put_kv_u64(w, "purges", np);
}

/* Why a shared circle has no roster here, or nil. */
static const char *
roster_error(const struct circle_info *c)
{
	if (c == NULL || c->roster_rc == 0)
		return NULL;
	if (c->roster_rc == SAMEN_ETOOBIG)
		return "too many membership ops";
	return samen_strerror(c->roster_rc);
}

static void
put_circle(struct wbuf *w, const struct render_circle_item *it)
{
	const struct circle_info *c = it->info;

	wire_put_map(w, 15);
	put_circle_id(w, "circle", c ? c->id : it->priv->id);
	wire_put_kv_str(w, "name", c ? c->name : "private");
	wire_put_kv_str(w, "kind", c ? "shared" : "private");
	put_epoch(w, "epoch", c ? c->epoch : it->priv->epoch);
	wire_put_kv_u64(w, "epochs", c ? c->nepochs : 1);
	wire_put_kv_bool(w, "default", it->is_default);
	wire_put_kv_str(w, "role", c ? role_name(c->role) : "admin");
	wire_put_kv_str(w, "state", c ? state_name(c->state) : "current");
	wire_put_kv_bool(w, "writable", c ? c->writable : 1);
	wire_put_kv_u64(w, "quarantined", c ? c->quarantined : 0);
	wire_put_kv_str(w, "unresolved", roster_error(c));
	put_members(w, c ? c->r : NULL);
	put_ops(w, c ? c->r : NULL);
	put_erasure(w, c ? c->r : NULL);
}

void
render_circle_ls(struct wbuf *w, union render_result *res)
{
	struct render_circles *c = &res->circles;

	wire_put_array(w, (uint32_t)c->n);
	for (size_t i = 0; i < c->n; i++)
		put_circle(w, &c->items[i]);
	free(c->items);
}

/* Metrics: the text in a map, so that keys can be added beside it. */
void
render_metrics(struct wbuf *w, union render_result *res)
{
	struct render_metrics *m = &res->metrics;

	wire_put_map(w, 1);
	wire_put_cstr(w, "text");
	wire_put_str(w, m->text, m->len);
	free(m->text);
}

/* Export and import. */

/* A record of an export: with its history when asked. */
static void
put_export_item(struct wbuf *w, struct render_export_item *it)
{
	put_record(w, it->rec, 0, NULL, 0, NULL, 0, it->with_history ? 1 : 0);
	if (!it->with_history)
		return;
	wire_put_cstr(w, "history");
	put_history(w, it->h, it->nh);
	store_history_free(it->h, it->nh);
	it->h = NULL;
	it->nh = 0;
}

void
render_export(struct wbuf *w, union render_result *res)
{
	struct render_export *e = &res->export;

	wire_put_map(w, 4 + (e->subject ? 2 : 0) + (e->has_columns ? 1 : 0));
	put_author(w, "device", e->device);
	put_time(w, "time", e->now);
	if (e->subject) {
		wire_put_cstr(w, "subject");
		if (e->has_subject)
			put_export_item(w, &e->subj);
		else
			wire_put_nil(w);
	}
	if (e->has_columns) {
		wire_put_cstr(w, "columns");
		wire_put_array(w, (uint32_t)e->ncols);
		for (size_t i = 0; i < e->ncols; i++) {
			wire_put_map(w, 2);
			wire_put_kv_str(w, "field", e->cols[i].name);
			wire_put_kv_bool(w, "set", e->cols[i].is_set);
		}
	}
	wire_put_cstr(w, "records");
	wire_put_array(w, (uint32_t)e->n);
	for (size_t i = 0; i < e->n; i++)
		put_export_item(w, &e->items[i]);
	if (e->subject) {
		wire_put_cstr(w, "audit");
		wire_put_array(w, (uint32_t)e->nevents);
		for (size_t i = 0; i < e->nevents; i++) {
			const struct render_event *ev = &e->events[i];

			wire_put_map(w, 6);
			put_time(w, "time", ev->hlc);
			put_author(w, "device", ev->device);
			wire_put_kv_str(w, "action", ev->action);
			wire_put_kv_str(w, "what", ev->what);
			wire_put_kv_str(w, "collection", ev->rec->collection);
			put_rid(w, "id", ev->rec->rid);
		}
	}
	wire_put_kv_str(w, "next", e->has_next ? e->next : NULL);
	free(e->items);
	free(e->events);
	free(e->cols);
}

void
render_import(struct wbuf *w, union render_result *res)
{
	struct render_import *m = &res->import;

	wire_put_map(w, 5);
	wire_put_kv_str(w, "collection", m->collection);
	wire_put_kv_u64(w, "rows", m->n);
	wire_put_kv_u64(w, "imported", m->dry_run ? 0 : m->n);
	wire_put_kv_bool(w, "dry_run", m->dry_run);
	wire_put_cstr(w, "ids");
	wire_put_array(w, m->dry_run ? 0 : (uint32_t)m->n);
	for (size_t i = 0; !m->dry_run && i < m->n; i++) {
		char t[RID_TEXTLEN + 1];

		rid_encode(t, m->rids[i]);
		wire_put_cstr(w, t);
	}
	free(m->rids);
}

/* Erasure. */

void
render_purge(struct wbuf *w, union render_result *res)
{
	struct render_purge *p = &res->purge;
	char hex[2 * CS_IDLEN + 1];

	wire_put_map(w, 6);
	put_circle_id(w, "circle", p->done.id);
	wire_put_kv_str(w, "name", p->done.name);
	hex_encode(hex, p->done.op, CS_IDLEN);
	wire_put_kv_str(w, "op", p->done.local ? NULL : hex);
	wire_put_kv_bool(w, "local", p->done.local);
	wire_put_kv_u64(w, "tags", p->done.ntags);
	wire_put_cstr(w, "records");
	wire_put_array(w, (uint32_t)p->n);
	for (size_t i = 0; i < p->n; i++) {
		wire_put_map(w, 2);
		wire_put_kv_str(w, "collection", p->recs[i].collection);
		put_rid(w, "id", p->recs[i].rid);
	}
	free(p->recs);
}

void
render_retention(struct wbuf *w, union render_result *res)
{
	struct render_retention *r = &res->retention;

	wire_put_map(w, r->due ? 3 : 4);
	put_circle_id(w, "circle", r->id);
	wire_put_kv_str(w, "name", r->name);
	if (!r->due) {
		wire_put_kv_str(w, "collection", r->collection);
		wire_put_kv_u64(w, "days", r->days);
		return;
	}
	wire_put_cstr(w, "due");
	wire_put_array(w, (uint32_t)r->n);
	for (size_t i = 0; i < r->n; i++) {
		wire_put_map(w, 4);
		wire_put_kv_str(w, "collection", r->items[i].collection);
		put_rid(w, "id", r->items[i].rid);
		put_time(w, "updated", r->items[i].updated);
		wire_put_kv_u64(w, "days", r->items[i].days);
	}
	free(r->items);
}

/* The read audit. */

void
render_audit(struct wbuf *w, union render_result *res)
{
	struct trail_list *l = res->audit.list;

	wire_put_map(w, 2);
	wire_put_cstr(w, "events");
	wire_put_array(w, (uint32_t)l->n);
	for (size_t i = 0; i < l->n; i++) {
		const struct trail_entry *e = &l->e[i];

		wire_put_map(w, 7);
		put_time(w, "time", e->hlc);
		wire_put_kv_u64(w, "hlc", e->hlc);
		put_author(w, "device", e->device);
		put_circle_id(w, "circle", e->circle);
		wire_put_kv_str(w, "action", e->action == TRAIL_READ ?
		    "read" : "write");
		wire_put_kv_str(w, "what", e->what);
		wire_put_cstr(w, "records");
		wire_put_array(w, (uint32_t)e->nrecs);
		for (size_t k = 0; k < e->nrecs; k++) {
			wire_put_map(w, 2);
			wire_put_kv_str(w, "collection", e->recs[k].collection);
			put_rid(w, "id", e->recs[k].rid);
		}
	}
	wire_put_kv_bool(w, "truncated", l->truncated);
	trail_list_free(l);
	free(l);
}
