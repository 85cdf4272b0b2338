/* ctl: the control requests: decode, act on store and index, reply; group commit. */
#include "ctl.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "changeset.h"
#include "devid.h"
#include "durable.h"
#include "error.h"
#include "hlc.h"
#include "log.h"
#include "peer.h"
#include "ops.h"
#include "protocol.h"
#include "rid.h"
#include "sync.h"
#include "testhook.h"
#include "util.h"
#include "version.h"
#include "wire.h"

#define MAX_MATCHED 64

/*
 * A reply waiting for its batch's commit, then (in waiting) for the sync
 * of every lazy commit up to ticket.
 */
struct held {
	struct api_req *req;
	int code;
	char *msg;
	struct wbuf body;
	int has_body;
	uint64_t ticket;
	int wrote;		/* its batch changed records: nudge the peers */
};

struct ctl {
	struct ctl_env env;
	struct hlc clock;
	uint64_t started_ms;
	struct store_circle circle;	/* the private circle, once unlocked */
	int have_circle;
	int unlocking;
	struct peers *peers;		/* NULL until started */

	/* Every circle we hold (keys in memory while unlocked), and what
	 * the members chains say about the shared ones. */
	struct store_circle *circles;
	size_t ncircles;
	struct circle_view *views;
	size_t nviews;
	uint8_t default_circle[CS_CIRCLELEN];
	int has_default;
	int circles_dirty;		/* refresh after the batch commits */

	/* The batch being handled. */
	int in_txn;
	int lazy;			/* its commit is store_commit_lazy */
	struct held *held;
	size_t nheld;
	size_t capheld;
	int64_t *touched;
	size_t ntouched;
	size_t captouched;
	/*
	 * Replies sent only once the disk has every commit before them
	 * (ctl_durable), in order: waiting[wfirst..nwaiting).
	 */
	uint64_t ticket;		/* the last lazy commit's */
	uint64_t synced;		/* the last ticket synced */
	int sync_failed;
	struct held *waiting;
	size_t wfirst, nwaiting, capwaiting;
	struct group *groups;		/* one per circle written (group_add) */
	size_t ngroups;
	struct wbuf scratch;		/* a chunk's plaintext, wiped after */
	uint8_t rnd[102 * RID_RANDOM];	/* for new_rid */
	size_t nrnd;

	/*
	 * The index loads on the thread pool after unlock, while sync already
	 * serves.  Until it is in, control requests wait in deferred, and the
	 * records that peers change are noted in reload, to be read again.
	 */
	struct index_load *load;	/* non-NULL while loading */
	struct api_req **deferred;
	size_t ndeferred;
	size_t capdeferred;
	int64_t *reload;
	size_t nreload;
	size_t capreload;
	int closing;
	int index_bad;	/* it could not be loaded: reads are refused */
};

/* A shared circle as its members chain describes it. */
struct member {
	uint8_t device[32];
	int admin;
	uint8_t added_by[32];
	char key1[2 * (CS_KEYLEN + crypto_box_SEALBYTES) + 1];	/* hex */
};

struct circle_view {
	uint8_t id[CS_CIRCLELEN];
	uint8_t chain[CS_CIRCLELEN];	/* its members chain */
	char name[OPS_MAX_FIELD + 1];
	uint8_t creator[32];
	int valid;			/* the circle record checks out */
	struct member *members;
	size_t nmembers;
};

/* What a handler produces. */
struct result {
	int code;
	char *msg;		/* allocated, or NULL */
	struct wbuf *body;	/* the handler writes one value here, if code 0 */
};

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
fail(struct result *res, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct result *res, int code, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	free(res->msg);
	res->msg = xstrdup(buf);
	res->code = code;
	return code;
}

/* Output helpers. */

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

static size_t
count_conflicts(const struct store_record *r)
{
	size_t n = r->exist_conflict ? 1 : 0;

	for (size_t i = 0; i < r->nfields; i++)
		if (!r->fields[i].is_set && r->fields[i].ndistinct > 1)
			n++;
	return n;
}

/* The conflicts array of a record (without collection and id). */
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
	wire_put_array(w, (uint32_t)count_conflicts(r));
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

static void put_record(struct ctl *c, struct wbuf *w,
    const struct store_record *r, int with_notes,
    const struct store_field **matched, size_t nmatched);

static int
is_note_of(const struct store_record *r, const char *case_id)
{
	const struct store_field *f;

	if (r->deleted && !r->exist_conflict)
		return 0;
	if (strcmp(r->collection, "note") != 0)
		return 0;
	f = index_field(r, "case", 0);
	return f && f->nvals > 0 && strcmp(f->vals[0].value, case_id) == 0;
}

static void
put_notes(struct ctl *c, struct wbuf *w, const struct store_record *r)
{
	char id[RID_TEXTLEN + 1];
	size_t n = 0, total = index_count(c->env.index);

	rid_encode(id, r->rid);
	for (size_t i = 0; i < total; i++)
		n += is_note_of(index_at(c->env.index, i), id);
	wire_put_cstr(w, "notes");
	wire_put_array(w, (uint32_t)n);
	for (size_t i = 0; i < total; i++) {
		const struct store_record *note = index_at(c->env.index, i);

		if (is_note_of(note, id))
			put_record(c, w, note, 0, NULL, 0);
	}
}

static void
put_record(struct ctl *c, struct wbuf *w, const struct store_record *r,
    int with_notes, const struct store_field **matched, size_t nmatched)
{
	char circle[2 * CS_CIRCLELEN + 1];
	size_t nfields = count_kind(r, 0), nsets = count_kind(r, 1);

	wire_put_map(w, 9 + (with_notes ? 1 : 0) + (matched ? 1 : 0));
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
	if (with_notes)
		put_notes(c, w, r);
	if (matched) {
		wire_put_cstr(w, "matched");
		wire_put_array(w, (uint32_t)nmatched);
		for (size_t i = 0; i < nmatched; i++)
			wire_put_cstr(w, matched[i]->name);
	}
}

/* Argument decoding. */

static int
get_cstr(struct wire_reader *r, char *out, size_t cap)
{
	const char *s;
	size_t n;

	if (wire_get_str(r, &s, &n, cap - 1))
		return r->err;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

static int
get_collection(struct wire_reader *r, struct result *res, char *out)
{
	if (get_cstr(r, out, OPS_MAX_COLLECTION + 1))
		return fail(res, SAMEN_EPROTO, "malformed collection");
	if (!ops_collection_valid(out, strlen(out)))
		return fail(res, SAMEN_EINVAL, "invalid collection name '%s'",
		    out);
	return 0;
}

static int
get_rid(struct wire_reader *r, struct result *res, uint8_t rid[RID_LEN])
{
	char text[RID_TEXTLEN + 1];

	if (get_cstr(r, text, sizeof(text)) ||
	    rid_decode(rid, text, strlen(text)) != 0)
		return fail(res, SAMEN_EINVAL, "invalid record id");
	return 0;
}

/* The live record (collection, rid) from the index, or an error. */
static int is_members_chain(struct ctl *c, const uint8_t id[CS_CIRCLELEN]);

static const struct store_record *
lookup(struct ctl *c, struct result *res, const char *collection,
    const uint8_t rid[RID_LEN], int allow_deleted)
{
	const struct store_record *r;
	char text[RID_TEXTLEN + 1];

	rid_encode(text, rid);
	r = index_get(c->env.index, collection, rid);
	if (r == NULL || is_members_chain(c, r->circle)) {
		fail(res, SAMEN_ENOTFOUND, "no %s with id %s", collection,
		    text);
		return NULL;
	}
	if (!allow_deleted && r->deleted && !r->exist_conflict) {
		fail(res, SAMEN_EDELETED, "%s %s was deleted (samen log %s %s "
		    "shows its history)", collection, text, collection, text);
		return NULL;
	}
	return r;
}

static int
need_keys(struct ctl *c, struct result *res)
{
	if (vault_locked(c->env.vault) || !c->have_circle)
		return fail(res, SAMEN_ELOCKED,
		    "the daemon is locked: run 'samen unlock'");
	return 0;
}

/* Unlocked, with the whole index: never answer from a partial one. */
static int
need_unlocked(struct ctl *c, struct result *res)
{
	if (need_keys(c, res))
		return res->code;
	if (c->index_bad)
		return fail(res, SAMEN_ESTORE, "the replica could not be read "
		    "into memory (see samend's log): run 'samen rebuild'");
	return 0;
}

/* Circles: the ones we hold, and what their members chains say. */

static int
is_members_chain(struct ctl *c, const uint8_t id[CS_CIRCLELEN])
{
	for (size_t i = 0; i < c->ncircles; i++)
		if (c->circles[i].kind == STORE_CIRCLE_MEMBERS &&
		    memcmp(c->circles[i].id, id, CS_CIRCLELEN) == 0)
			return 1;
	return 0;
}

/* A circle records may be written to (private or shared), by id. */
static const struct store_circle *
circle_by_id(struct ctl *c, const uint8_t id[CS_CIRCLELEN])
{
	if (c->have_circle && memcmp(c->circle.id, id, CS_CIRCLELEN) == 0)
		return &c->circle;
	for (size_t i = 0; i < c->ncircles; i++)
		if (c->circles[i].kind == STORE_CIRCLE_SHARED &&
		    memcmp(c->circles[i].id, id, CS_CIRCLELEN) == 0)
			return &c->circles[i];
	return NULL;
}

static const struct circle_view *
view_by_id(struct ctl *c, const uint8_t id[CS_CIRCLELEN])
{
	for (size_t i = 0; i < c->nviews; i++)
		if (memcmp(c->views[i].id, id, CS_CIRCLELEN) == 0)
			return &c->views[i];
	return NULL;
}

/* "private", or a shared circle's name (NULL if unknown or ambiguous). */
static const struct store_circle *
circle_by_name(struct ctl *c, const char *name)
{
	const struct store_circle *found = NULL;

	if (strcmp(name, "private") == 0)
		return c->have_circle ? &c->circle : NULL;
	for (size_t i = 0; i < c->nviews; i++) {
		if (!c->views[i].valid || strcmp(c->views[i].name, name) != 0)
			continue;
		if (found != NULL)
			return NULL;
		found = circle_by_id(c, c->views[i].id);
	}
	return found;
}

static const struct store_circle *
circle_default(struct ctl *c)
{
	const struct store_circle *d;

	if (c->has_default && (d = circle_by_id(c, c->default_circle)) != NULL)
		return d;
	return c->have_circle ? &c->circle : NULL;
}

static const struct member *
view_member(const struct circle_view *v, const uint8_t device[32])
{
	for (size_t i = 0; i < v->nmembers; i++)
		if (memcmp(v->members[i].device, device, 32) == 0)
			return &v->members[i];
	return NULL;
}

static void
views_free(struct ctl *c)
{
	for (size_t i = 0; i < c->nviews; i++)
		free(c->views[i].members);
	free(c->views);
	c->views = NULL;
	c->nviews = 0;
}

static int
hex_decode(uint8_t *out, size_t n, const char *hex)
{
	if (hex == NULL || strlen(hex) != 2 * n)
		return -1;
	return sodium_hex2bin(out, n, hex, 2 * n, NULL, NULL, NULL);
}

/*
 * The latest value author ever set for field, from the record's history
 * rather than its live state: in a members chain only the admin's writes
 * count, and nobody else's write may hide or kill them.
 */
static const char *
hist_latest(const struct store_hist *h, size_t n, const uint8_t author[32],
    const char *field)
{
	const char *v = NULL;

	for (size_t i = 0; i < n; i++)	/* oldest first */
		if (h[i].kind == OP_SET && h[i].value != NULL &&
		    memcmp(h[i].author, author, 32) == 0 &&
		    strcmp(h[i].field, field) == 0)
			v = h[i].value;
	return v;
}

/* 1 if author's latest word on the record's existence is a delete. */
static int
hist_deleted(const struct store_hist *h, size_t n, const uint8_t author[32])
{
	int deleted = 0;

	for (size_t i = 0; i < n; i++)
		if (h[i].kind == OP_EXIST &&
		    memcmp(h[i].author, author, 32) == 0)
			deleted = !h[i].alive;
	return deleted;
}

/* The circle record: its creator must be the one its id derives from. */
static void
view_circle(struct circle_view *v, const struct store_hist *h, size_t n)
{
	for (size_t i = 0; i < n && !v->valid; i++) {
		const char *salt, *name;
		uint8_t pk[32], sb[16], id[CS_CIRCLELEN];

		if (h[i].kind != OP_SET || strcmp(h[i].field, "creator") != 0 ||
		    h[i].value == NULL ||
		    devid_decode(pk, h[i].value, strlen(h[i].value)) != 0 ||
		    memcmp(pk, h[i].author, 32) != 0)
			continue;
		salt = hist_latest(h, n, pk, "salt");
		name = hist_latest(h, n, pk, "name");
		if (hex_decode(sb, sizeof(sb), salt) != 0 || name == NULL ||
		    !ops_field_valid(name, strlen(name)))
			continue;
		sync_circle_id(id, pk, sb);
		if (memcmp(id, v->id, CS_CIRCLELEN) != 0)
			continue;
		snprintf(v->name, sizeof(v->name), "%s", name);
		memcpy(v->creator, pk, 32);
		v->valid = 1;
	}
}

static void
view_member_record(struct circle_view *v, const struct store_hist *h,
    size_t n)
{
	const char *dev, *role, *by, *key;
	struct member m;

	dev = hist_latest(h, n, v->creator, "device");
	memset(&m, 0, sizeof(m));
	if (dev == NULL || hist_deleted(h, n, v->creator) ||
	    devid_decode(m.device, dev, strlen(dev)) != 0 ||
	    view_member(v, m.device) != NULL)
		return;
	role = hist_latest(h, n, v->creator, "role");
	by = hist_latest(h, n, v->creator, "added_by");
	key = hist_latest(h, n, v->creator, "key1");
	m.admin = role != NULL && strcmp(role, "admin") == 0 &&
	    memcmp(m.device, v->creator, 32) == 0;
	if (by != NULL)
		(void)devid_decode(m.added_by, by, strlen(by));
	if (key != NULL && strlen(key) < sizeof(m.key1))
		strcpy(m.key1, key);
	v->members = xreallocarray(v->members, v->nmembers + 1,
	    sizeof(*v->members));
	v->members[v->nmembers++] = m;
}

/*
 * Reads a members chain from its records' histories: the circle record
 * (whose id must derive from its creator and salt) and the member records
 * as the creator, the circle's only admin for now, wrote them.  What other
 * members wrote into the chain is ignored.
 */
static void
view_build(struct ctl *c, struct circle_view *v)
{
	struct store_record **recs;
	size_t total;

	/* From the store, not the index: it may still be loading. */
	if (store_circle_records(c->env.store, v->chain, &recs, &total) != 0) {
		log_warnx("could not read a members chain");
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < total; i++) {
			const struct store_record *r = recs[i];
			struct store_hist *h;
			size_t n;

			if (strcmp(r->collection, pass == 0 ? "circle" :
			    "member") != 0)
				continue;
			if (pass == 1 && !v->valid)
				goto out;
			if (store_history(c->env.store, r->rkey, &h, &n) != 0)
				continue;
			if (pass == 0 && !v->valid)
				view_circle(v, h, n);
			else if (pass == 1)
				view_member_record(v, h, n);
			store_history_free(h, n);
		}
	}
out:
	store_record_list_free(recs, total);
}

/*
 * Our sealed key for circle v, if the admin wrote one for us and we lack
 * the key: opens it and stores the circle.  Returns 1 if a key was added.
 */
static int
take_key(struct ctl *c, const struct circle_view *v)
{
	const uint8_t *sk = vault_sign_sk(c->env.vault);
	const uint8_t *me = vault_public_key(c->env.vault);
	uint8_t cpk[32], csk[32], sealed[CS_KEYLEN + crypto_box_SEALBYTES];
	const struct member *m;
	struct store_circle sc;
	int rc, added = 0;

	if (!v->valid || (m = view_member(v, me)) == NULL ||
	    circle_by_id(c, v->id) != NULL ||
	    hex_decode(sealed, sizeof(sealed), m->key1) != 0)
		return 0;
	if (crypto_sign_ed25519_pk_to_curve25519(cpk, me) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(csk, sk) != 0)
		return 0;
	memset(&sc, 0, sizeof(sc));
	if (crypto_box_seal_open(sc.key, sealed, sizeof(sealed), cpk,
	    csk) != 0)
		log_warnx("circle %s: the key sealed to us does not open",
		    v->name);
	else {
		memcpy(sc.id, v->id, CS_CIRCLELEN);
		sc.epoch = 1;
		sc.name = xstrdup(v->name);
		sc.kind = STORE_CIRCLE_SHARED;
		if ((rc = store_circle_put(c->env.store, &sc)) != 0)
			log_warnx("circle %s: could not store its key: %s",
			    v->name, samen_strerror(rc));
		else {
			log_info("joined circle %s", v->name);
			added = 1;
		}
		store_circle_clear(&sc);
	}
	sodium_memzero(csk, sizeof(csk));
	return added;
}

static void touched_cb(void *arg, int64_t rkey);
static int refresh_touched(struct ctl *c);

/*
 * Re-reads the circles and rebuilds the views; takes any key sealed to us
 * (which makes more change sets readable: merges them too).  Call after
 * anything that may have changed a members chain.
 */
static int
refresh_circles(struct ctl *c)
{
	int rc = 0, again = 1;

	for (int round = 0; again && round < 4; round++) {
		again = 0;
		store_circle_list_free(c->circles, c->ncircles);
		c->circles = NULL;
		c->ncircles = 0;
		views_free(c);
		if ((rc = store_circle_list(c->env.store, &c->circles,
		    &c->ncircles)) != 0)
			return rc;
		for (size_t i = 0; i < c->ncircles; i++) {
			struct circle_view *v;

			if (c->circles[i].kind != STORE_CIRCLE_MEMBERS)
				continue;
			c->views = xreallocarray(c->views, c->nviews + 1,
			    sizeof(*c->views));
			v = &c->views[c->nviews++];
			memset(v, 0, sizeof(*v));
			memcpy(v->id, c->circles[i].base, CS_CIRCLELEN);
			memcpy(v->chain, c->circles[i].id, CS_CIRCLELEN);
			view_build(c, v);
		}
		for (size_t i = 0; i < c->nviews; i++)
			again |= take_key(c, &c->views[i]);
		if (again) {
			if ((rc = store_begin(c->env.store)) != 0)
				return rc;
			rc = store_merge_pending(c->env.store, touched_cb, c);
			if (rc == 0)
				rc = store_commit(c->env.store);
			if (rc != 0) {
				store_rollback(c->env.store);
				c->ntouched = 0;
				return rc;
			}
			(void)refresh_touched(c);
		}
	}
	if (c->peers != NULL)
		peers_refresh(c->peers);
	return 0;
}

/* Writing: a chunk per record written, a change set per circle per batch. */

struct op_list {
	struct op ops[CTL_MAX_ASSIGNS + 1];
	uint32_t n;
	uint8_t *refs;		/* all refs, contiguous */
	size_t nrefs;
	size_t caprefs;
};

/* Empty, with ops[0..nops) zeroed: not all CTL_MAX_ASSIGNS + 1 of them,
 * 16 KB that a put would clear for its two or three ops. */
static void
oplist_init(struct op_list *l, uint32_t nops)
{
	memset(l->ops, 0, nops * sizeof(l->ops[0]));
	l->n = 0;
	l->refs = NULL;
	l->nrefs = 0;
	l->caprefs = 0;
}

static void
oplist_free(struct op_list *l)
{
	free(l->refs);
}

/* Appends the vids of vals (those matching element, if given) as refs. */
static size_t
add_refs(struct op_list *l, const struct store_value *vals, size_t n,
    const char *element)
{
	size_t added = 0;

	for (size_t i = 0; i < n; i++) {
		if (element && strcmp(vals[i].value, element) != 0)
			continue;
		if (l->nrefs == l->caprefs) {
			l->caprefs = l->caprefs ? l->caprefs * 2 : 16;
			l->refs = xreallocarray(l->refs, l->caprefs, VID_LEN);
		}
		memcpy(l->refs + l->nrefs * VID_LEN, vals[i].vid, VID_LEN);
		l->nrefs++;
		added++;
	}
	return added;
}

/*
 * Ops refer to their refs by offset while the array may still grow: store
 * offsets in the pointer field's place first, fix them up when done.
 */
struct op_ref {
	size_t first;
	size_t count;
};

static void
push_rkey(int64_t **a, size_t *n, size_t *cap, int64_t rkey)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*a = xreallocarray(*a, *cap, sizeof(**a));
	}
	(*a)[(*n)++] = rkey;
}

static void
touched_cb(void *arg, int64_t rkey)
{
	struct ctl *c = arg;

	push_rkey(&c->touched, &c->ntouched, &c->captouched, rkey);
}

static void abort_batch(struct ctl *c, int code);

static int
begin_write(struct ctl *c, struct result *res)
{
	int rc;

	if (c->in_txn)
		return 0;
	c->lazy = c->env.durable != NULL;
	rc = c->lazy ? store_begin_lazy(c->env.store) :
	    store_begin(c->env.store);
	if (rc != 0)
		return fail(res, rc, "storage error: %s", samen_strerror(rc));
	c->in_txn = 1;
	return 0;
}

/*
 * Group commit signs once per circle per batch.  The writes of one batch to
 * one circle become the chunks of one change set, built, signed, stored and
 * merged when the batch commits (flush), or earlier when a write must read
 * a record that already has a chunk in the open group (group_settle): vids
 * name (change set, chunk, op), so that record's new values have no vids
 * until the change set exists, and a write that replaces them must see
 * them.  A group holds each chunk's plaintext (ops_encode), unencrypted:
 * the rtag, the nonce and the encryption come at the build.  Groups live
 * only inside ctl_batch; their memory is kept for the next batch.
 */
struct group_chunk {
	uint8_t rid[RID_LEN];
	char collection[OPS_MAX_COLLECTION + 1];
	size_t off, len;		/* its plaintext in group.plain */
};

struct group {
	uint8_t circle[CS_CIRCLELEN];
	struct wbuf plain;		/* the chunks' plaintexts, in order */
	struct group_chunk *chunks;
	uint32_t nchunks;
	uint32_t capchunks;
	size_t payload;			/* bound on the encoded payload */
	uint32_t *slots;		/* rid hash: chunk index + 1, 0 empty */
	size_t nslots;			/* a power of 2, >= 2 * capchunks */
};

/* Encoded size of a chunk around plaintext of len bytes, at most:
 * [rtag bin8, nonce bin8, ciphertext bin32] in a fixarray. */
#define GROUP_CHUNK_OVERHEAD (1 + 2 + CS_RTAGLEN + 2 + CS_NONCELEN + 5 + \
	CS_ABYTES)
#define GROUP_PAYLOAD_HEAD 5		/* the payload's array32 header */
#define GROUP_KEEP (256u << 10)		/* plaintext buffer kept between batches */

static size_t
group_hash(const uint8_t rid[RID_LEN], size_t nslots)
{
	uint64_t x;

	/* The rid's last 8 bytes are random (rid.h) or a hash (members). */
	memcpy(&x, rid + RID_LEN - 8, 8);
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (size_t)x & (nslots - 1);
}

/* The slot of (collection, rid) in g: holding its chunk, or empty. */
static uint32_t *
group_slot(struct group *g, const char *collection,
    const uint8_t rid[RID_LEN])
{
	size_t i = group_hash(rid, g->nslots);

	for (;; i = (i + 1) & (g->nslots - 1)) {
		const struct group_chunk *gc;

		if (g->slots[i] == 0)
			return &g->slots[i];
		gc = &g->chunks[g->slots[i] - 1];
		if (memcmp(gc->rid, rid, RID_LEN) == 0 &&
		    strcmp(gc->collection, collection) == 0)
			return &g->slots[i];
	}
}

/* Empties w, wiping what it held (plaintext of people's records). */
static void
wipe_reset(struct wbuf *w)
{
	if (wire_len(w) > 0)
		sodium_memzero((void *)wire_data(w), wire_len(w));
	wire_reset(w);
}

static void
group_reset(struct group *g)
{
	wipe_reset(&g->plain);
	if (g->nchunks > 0)
		memset(g->slots, 0, g->nslots * sizeof(*g->slots));
	g->nchunks = 0;
	g->payload = GROUP_PAYLOAD_HEAD;
}

static struct group *
group_find(struct ctl *c, const uint8_t circle[CS_CIRCLELEN])
{
	for (size_t i = 0; i < c->ngroups; i++)
		if (memcmp(c->groups[i].circle, circle, CS_CIRCLELEN) == 0)
			return &c->groups[i];
	return NULL;
}

static struct group *
group_of(struct ctl *c, const uint8_t circle[CS_CIRCLELEN])
{
	struct group *g;

	if ((g = group_find(c, circle)) != NULL)
		return g;
	c->groups = xreallocarray(c->groups, c->ngroups + 1,
	    sizeof(*c->groups));
	g = &c->groups[c->ngroups++];
	memset(g, 0, sizeof(*g));
	memcpy(g->circle, circle, CS_CIRCLELEN);
	wire_init(&g->plain);
	g->payload = GROUP_PAYLOAD_HEAD;
	return g;
}

static void
groups_free(struct ctl *c)
{
	for (size_t i = 0; i < c->ngroups; i++) {
		group_reset(&c->groups[i]);
		wire_free(&c->groups[i].plain);
		free(c->groups[i].chunks);
		free(c->groups[i].slots);
	}
	free(c->groups);
	c->groups = NULL;
	c->ngroups = 0;
}

/* Forgets every open group without building it (the batch rolled back). */
static void
groups_drop(struct ctl *c)
{
	for (size_t i = 0; i < c->ngroups; i++)
		group_reset(&c->groups[i]);
}

/* The circle a group writes to: one we write records to, or a members
 * chain.  By id: c->circles may have been read again since. */
static const struct store_circle *
group_circle(struct ctl *c, const uint8_t id[CS_CIRCLELEN])
{
	const struct store_circle *sc;

	if ((sc = circle_by_id(c, id)) != NULL)
		return sc;
	for (size_t i = 0; i < c->ncircles; i++)
		if (c->circles[i].kind == STORE_CIRCLE_MEMBERS &&
		    memcmp(c->circles[i].id, id, CS_CIRCLELEN) == 0)
			return &c->circles[i];
	return NULL;
}

/*
 * Builds, signs, stores and merges g's change set, and empties g.  On
 * failure the batch's transaction may hold half of it: the whole batch is
 * rolled back, every reply held so far becomes the error (abort_batch), and
 * res (if not NULL) says so too.
 */
static int
group_close(struct ctl *c, struct group *g, struct result *res)
{
	const struct store_circle *circ;
	struct cs_header h;
	struct cs_plain *plain;
	struct wbuf hw, payw;
	uint8_t id[CS_IDLEN], *nonces;
	uint64_t head;
	uint32_t n = g->nchunks;
	int rc;

	if (n == 0)
		return 0;
	if ((circ = group_circle(c, g->circle)) == NULL) {
		rc = SAMEN_ELOCKED;
		goto fail;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.author, vault_public_key(c->env.vault), 32);
	memcpy(h.circle, circ->id, CS_CIRCLELEN);
	h.epoch = circ->epoch;
	if ((rc = store_cs_head(c->env.store, h.author, h.circle, &head,
	    h.prev)) != 0)
		goto fail;
	h.seq = head + 1;
	h.hlc = hlc_now(&c->clock, wall_ms());

	plain = xreallocarray(NULL, n, sizeof(*plain));
	nonces = xreallocarray(NULL, n, CS_NONCELEN);
	for (uint32_t i = 0; i < n; i++) {
		const struct group_chunk *gc = &g->chunks[i];

		changeset_rtag(plain[i].rtag, circ->key, gc->collection,
		    strlen(gc->collection), gc->rid);
		plain[i].data = wire_data(&g->plain) + gc->off;
		plain[i].len = gc->len;
	}
	randombytes_buf(nonces, (size_t)n * CS_NONCELEN);
	wire_init(&hw);
	wire_init(&payw);
	changeset_build(&hw, &payw, id, &h, vault_sign_sk(c->env.vault),
	    circ->key, plain, n, nonces);
	/* Merged from the plaintexts in hand, in the batch's transaction;
	 * the merge call only reports what it touched (nothing else
	 * pends). */
	rc = store_cs_insert_own(c->env.store, &h, id, wire_data(&hw),
	    wire_len(&hw), wire_data(&payw), wire_len(&payw), plain, n);
	if (rc == 0)
		rc = store_merge_pending(c->env.store, touched_cb, c);
	wire_free(&hw);
	wire_free(&payw);
	free(plain);
	free(nonces);
	if (rc == 0) {
		size_t used = wire_len(&g->plain);

		group_reset(g);
		/* Kept for the next batch, unless a big one left it large. */
		if (used > GROUP_KEEP) {
			wire_free(&g->plain);
			wire_init(&g->plain);
		}
		return 0;
	}
fail:
	log_warnx("a change set of %u writes could not be stored: %s; the "
	    "batch's %zu requests are refused", n, samen_strerror(rc),
	    c->nheld);
	/* Half of it may be in the transaction: drop the batch. */
	abort_batch(c, rc);
	if (res != NULL)
		fail(res, rc, "could not store the change: %s",
		    samen_strerror(rc));
	return rc;
}

/* Closes every open group (see group_close). */
static int
groups_close(struct ctl *c, struct result *res)
{
	int rc;

	for (size_t i = 0; i < c->ngroups; i++)
		if ((rc = group_close(c, &c->groups[i], res)) != 0)
			return rc;
	return 0;
}

/*
 * Before a write reads record (collection, rid) of circle from the store:
 * if the open group holds a chunk of it, builds the group, so that the
 * store holds that record's new values and their vids.
 */
static int
group_settle(struct ctl *c, struct result *res,
    const uint8_t circle[CS_CIRCLELEN], const char *collection,
    const uint8_t rid[RID_LEN])
{
	struct group *g = group_find(c, circle);

	if (g == NULL || g->nchunks == 0 ||
	    *group_slot(g, collection, rid) == 0)
		return 0;
	return group_close(c, g, res);
}

static void
group_grow(struct group *g)
{
	g->capchunks = g->capchunks ? g->capchunks * 2 : 64;
	g->chunks = xreallocarray(g->chunks, g->capchunks, sizeof(*g->chunks));
	free(g->slots);
	g->nslots = (size_t)g->capchunks * 2;
	g->slots = xcalloc(g->nslots, sizeof(*g->slots));
	for (uint32_t i = 0; i < g->nchunks; i++)
		*group_slot(g, g->chunks[i].collection, g->chunks[i].rid) =
		    i + 1;
}

/*
 * Adds chunk to the open group of circ, closing that group first if the
 * chunk would take it past the format's limits (CS_MAX_CHUNKS chunks,
 * CS_MAX_PAYLOAD bytes of payload).  The caller has settled the record
 * (group_settle): a group holds at most one chunk per record.
 */
static int
group_add(struct ctl *c, struct result *res, const struct store_circle *circ,
    const struct ops_chunk *chunk)
{
	struct group *g = group_of(c, circ->id);
	struct group_chunk *gc;
	size_t len;
	uint32_t *slot;

	/* Encoded aside first: whether it fits decides where it goes. */
	wipe_reset(&c->scratch);
	ops_encode(&c->scratch, chunk);
	len = wire_len(&c->scratch);
	if (len + GROUP_CHUNK_OVERHEAD + GROUP_PAYLOAD_HEAD > CS_MAX_PAYLOAD ||
	    len + CS_ABYTES > CS_MAX_CHUNK) {
		wipe_reset(&c->scratch);
		return fail(res, SAMEN_ETOOBIG, "the change is too big for "
		    "one change set");
	}
	if (g->nchunks > 0 && (g->nchunks == CS_MAX_CHUNKS ||
	    g->payload + len + GROUP_CHUNK_OVERHEAD > CS_MAX_PAYLOAD) &&
	    group_close(c, g, res) != 0) {
		wipe_reset(&c->scratch);
		return res->code;
	}
	if (g->nchunks == g->capchunks)
		group_grow(g);
	slot = group_slot(g, chunk->collection, chunk->rid);
	assert(*slot == 0);
	gc = &g->chunks[g->nchunks];
	memcpy(gc->rid, chunk->rid, RID_LEN);
	memcpy(gc->collection, chunk->collection, chunk->collection_len);
	gc->collection[chunk->collection_len] = '\0';
	gc->off = wire_len(&g->plain);
	gc->len = len;
	wire_put_raw(&g->plain, wire_data(&c->scratch), len);
	wipe_reset(&c->scratch);
	*slot = ++g->nchunks;
	g->payload += len + GROUP_CHUNK_OVERHEAD;
	return 0;
}

static void
put_write_result(struct result *res, const char *collection,
    const uint8_t rid[RID_LEN], int created, const char *case_id)
{
	wire_put_map(res->body, case_id ? 4 : 3);
	wire_put_kv_str(res->body, "collection", collection);
	put_rid(res->body, "id", rid);
	wire_put_kv_bool(res->body, "created", created);
	if (case_id)
		wire_put_kv_str(res->body, "case", case_id);
}

/*
 * A new record's id.  Its 80 random bits come from a pool refilled with
 * one randombytes_buf (a getrandom system call) per 102 ids rather than
 * one per id: they only make ids unique, they guard nothing.
 */
static void
new_rid(struct ctl *c, uint8_t rid[RID_LEN])
{
	if (c->nrnd < RID_RANDOM) {
		randombytes_buf(c->rnd, sizeof(c->rnd));
		c->nrnd = sizeof(c->rnd);
	}
	c->nrnd -= RID_RANDOM;
	rid_make(rid, wall_ms(), c->rnd + c->nrnd);
}

/*
 * The shared core of put, rm and note: a change set for record (collection,
 * rid) whose current state is cur (NULL when creating), with the existence
 * op first and then the field ops in l.
 */
static int
write_record(struct ctl *c, struct result *res,
    const struct store_circle *circ, const char *collection,
    const uint8_t rid[RID_LEN], const struct store_record *cur, int alive,
    struct op_list *l, struct op_ref *refs)
{
	struct ops_chunk chunk;
	struct op_ref exist_ref;

	/* The existence op replaces every existence value we see. */
	exist_ref.first = l->nrefs;
	exist_ref.count = cur ? add_refs(l, cur->exist, cur->nexist, NULL) : 0;
	memmove(&l->ops[1], &l->ops[0], l->n * sizeof(l->ops[0]));
	memmove(&refs[1], &refs[0], l->n * sizeof(refs[0]));
	memset(&l->ops[0], 0, sizeof(l->ops[0]));
	l->ops[0].type = OP_EXIST;
	l->ops[0].alive = alive;
	refs[0] = exist_ref;
	l->n++;
	for (uint32_t i = 0; i < l->n; i++) {
		l->ops[i].refs = refs[i].count ?
		    l->refs + refs[i].first * VID_LEN : NULL;
		l->ops[i].nrefs = (uint32_t)refs[i].count;
	}
	memset(&chunk, 0, sizeof(chunk));
	chunk.collection = collection;
	chunk.collection_len = strlen(collection);
	memcpy(chunk.rid, rid, RID_LEN);
	chunk.ops = l->ops;
	chunk.nops = l->n;
	if (begin_write(c, res))
		return res->code;
	return group_add(c, res, circ, &chunk);
}

static int
handle_put(struct ctl *c, struct wire_reader *r, struct result *res)
{
	char collection[OPS_MAX_COLLECTION + 1];
	uint8_t rid[RID_LEN];
	struct store_record *cur = NULL;
	struct op_list l;
	struct op_ref refs[CTL_MAX_ASSIGNS + 1];
	const struct store_circle *circ;
	char cname[OPS_MAX_FIELD + 1] = "";
	uint32_t nassign, nargs;
	int creating, rc;

	oplist_init(&l, 0);
	if (wire_get_array(r, &nargs, 4) || (nargs != 3 && nargs != 4) ||
	    get_collection(r, res, collection))
		return res->code ? res->code :
		    fail(res, SAMEN_EPROTO, "malformed put request");
	creating = wire_peek(r) == WIRE_NIL;
	if (creating)
		wire_get_nil(r);
	else if (get_rid(r, res, rid))
		return res->code;
	if (wire_get_array(r, &nassign, CTL_MAX_ASSIGNS))
		return fail(res, SAMEN_EINVAL, "too many assignments "
		    "(at most %d)", CTL_MAX_ASSIGNS);
	if (nassign == 0)
		return fail(res, SAMEN_EINVAL, "nothing to write: give at "
		    "least one field=value");
	if (need_unlocked(c, res))
		return res->code;
	if (!creating) {
		const struct store_record *ir;
		int64_t rkey;

		if ((ir = lookup(c, res, collection, rid, 0)) == NULL)
			return res->code;
		/* The store, not the index: earlier writes of this batch
		 * are visible there, once their group is built. */
		if (group_settle(c, res, ir->circle, collection, rid))
			return res->code;
		rkey = ir->rkey;
		if ((rc = store_record_load(c->env.store, rkey, &cur)) != 0)
			return fail(res, rc, "storage error: %s",
			    samen_strerror(rc));
	} else
		new_rid(c, rid);

	for (uint32_t i = 0; i < nassign; i++) {
		struct op *op = &l.ops[l.n];
		uint8_t how;
		size_t max;
		const struct store_field *f;

		memset(op, 0, sizeof(*op));

		if (wire_get_array_n(r, 3) || wire_get_u8(r, &how) ||
		    wire_get_str(r, &op->field, &op->field_len,
		    OPS_MAX_FIELD + 1) ||
		    wire_get_str(r, &op->value, &op->value_len,
		    OPS_MAX_VALUE + 1)) {
			fail(res, SAMEN_EPROTO, "malformed assignment");
			goto out;
		}
		if (!ops_field_valid(op->field, op->field_len)) {
			fail(res, SAMEN_EINVAL, "invalid field name '%.*s'",
			    (int)op->field_len, op->field);
			goto out;
		}
		max = how == CTL_ASSIGN_SET ? OPS_MAX_VALUE : OPS_MAX_ELEMENT;
		if (op->value_len > max) {
			fail(res, SAMEN_EINVAL, "value of '%.*s' is over %zu "
			    "bytes", (int)op->field_len, op->field, max);
			goto out;
		}
		for (uint32_t j = 0; j < l.n && how == CTL_ASSIGN_SET; j++)
			if (l.ops[j].type == OP_SET &&
			    l.ops[j].field_len == op->field_len &&
			    memcmp(l.ops[j].field, op->field,
			    op->field_len) == 0) {
				fail(res, SAMEN_EINVAL, "field '%.*s' is "
				    "assigned twice", (int)op->field_len,
				    op->field);
				goto out;
			}
		/* Names and values are NUL-free (wire checks), so the
		 * store's NUL-terminated copies compare with strcmp. */
		{
			char name[OPS_MAX_FIELD + 1];

			memcpy(name, op->field, op->field_len);
			name[op->field_len] = '\0';
			f = cur ? index_field(cur, name,
			    how != CTL_ASSIGN_SET) : NULL;
		}
		refs[l.n].first = l.nrefs;
		refs[l.n].count = 0;
		switch (how) {
		case CTL_ASSIGN_SET:
			op->type = OP_SET;
			if (f)
				refs[l.n].count = add_refs(&l, f->vals,
				    f->nvals, NULL);
			break;
		case CTL_ASSIGN_ADD:
			op->type = OP_ADD;
			break;
		case CTL_ASSIGN_REM: {
			char *elem = xstrndup(op->value, op->value_len);

			op->type = OP_REM;
			if (f)
				refs[l.n].count = add_refs(&l, f->vals,
				    f->nvals, elem);
			free(elem);
			break;
		}
		default:
			fail(res, SAMEN_EPROTO, "unknown assignment kind %u",
			    how);
			goto out;
		}
		l.n++;
	}
	if (nargs == 4 && wire_peek(r) == WIRE_NIL)
		wire_get_nil(r);
	else if (nargs == 4 && get_cstr(r, cname, sizeof(cname))) {
		fail(res, SAMEN_EINVAL, "invalid circle name");
		goto out;
	}
	if (wire_end(r)) {
		fail(res, SAMEN_EPROTO, "malformed put request");
		goto out;
	}
	if (cur != NULL) {
		circ = circle_by_id(c, cur->circle);
		if (circ != NULL && *cname != '\0' &&
		    circle_by_name(c, cname) != circ) {
			fail(res, SAMEN_EINVAL, "%s %s stays in the circle it "
			    "was created in", collection, "record");
			goto out;
		}
	} else if (*cname != '\0') {
		if ((circ = circle_by_name(c, cname)) == NULL) {
			fail(res, SAMEN_ENOTFOUND, "no circle named '%s' "
			    "(samen circle ls)", cname);
			goto out;
		}
	} else
		circ = circle_default(c);
	if (circ == NULL) {
		fail(res, SAMEN_ELOCKED, "this device does not hold the key "
		    "of the record's circle");
		goto out;
	}
	if (write_record(c, res, circ, collection, rid, cur, 1, &l,
	    refs) == 0)
		put_write_result(res, collection, rid, creating, NULL);
out:
	store_record_free(cur);
	oplist_free(&l);
	return res->code;
}

static int
handle_rm(struct ctl *c, struct wire_reader *r, struct result *res)
{
	char collection[OPS_MAX_COLLECTION + 1];
	uint8_t rid[RID_LEN];
	const struct store_record *ir;
	struct store_record *cur = NULL;
	struct op_list l;
	struct op_ref refs[1];
	int rc;

	if (wire_get_array_n(r, 2) || get_collection(r, res, collection) ||
	    get_rid(r, res, rid) || wire_end(r))
		return res->code ? res->code :
		    fail(res, SAMEN_EPROTO, "malformed rm request");
	if (need_unlocked(c, res) ||
	    (ir = lookup(c, res, collection, rid, 0)) == NULL ||
	    group_settle(c, res, ir->circle, collection, rid))
		return res->code;
	if ((rc = store_record_load(c->env.store, ir->rkey, &cur)) != 0)
		return fail(res, rc, "storage error: %s", samen_strerror(rc));
	oplist_init(&l, 0);
	if (circle_by_id(c, cur->circle) == NULL)
		fail(res, SAMEN_ELOCKED, "this device does not hold the key "
		    "of the record's circle");
	else if (write_record(c, res, circle_by_id(c, cur->circle),
	    collection, rid, cur, 0, &l, refs) == 0) {
		wire_put_map(res->body, 2);
		wire_put_kv_str(res->body, "collection", collection);
		put_rid(res->body, "id", rid);
	}
	store_record_free(cur);
	oplist_free(&l);
	return res->code;
}

static int
handle_note(struct ctl *c, struct wire_reader *r, struct result *res)
{
	uint8_t case_rid[RID_LEN], rid[RID_LEN];
	char case_id[RID_TEXTLEN + 1];
	struct op_list l;
	struct op_ref refs[3];
	const struct store_record *kase;
	const struct store_circle *circ;

	oplist_init(&l, 2);
	memset(refs, 0, sizeof(refs));
	if (wire_get_array_n(r, 2) || get_rid(r, res, case_rid) ||
	    wire_get_str(r, &l.ops[1].value, &l.ops[1].value_len,
	    OPS_MAX_VALUE + 1) || wire_end(r))
		return res->code ? res->code :
		    fail(res, SAMEN_EPROTO, "malformed note request");
	if (l.ops[1].value_len == 0)
		return fail(res, SAMEN_EINVAL, "the note is empty");
	if (l.ops[1].value_len > OPS_MAX_VALUE)
		return fail(res, SAMEN_EINVAL, "the note is over %d bytes",
		    OPS_MAX_VALUE);
	if (need_unlocked(c, res) ||
	    (kase = lookup(c, res, "case", case_rid, 0)) == NULL)
		return res->code;
	if ((circ = circle_by_id(c, kase->circle)) == NULL)
		return fail(res, SAMEN_ELOCKED, "this device does not hold the "
		    "key of the case's circle");
	rid_encode(case_id, case_rid);
	l.ops[0].type = OP_SET;
	l.ops[0].field = "case";
	l.ops[0].field_len = 4;
	l.ops[0].value = case_id;
	l.ops[0].value_len = RID_TEXTLEN;
	l.ops[1].type = OP_SET;
	l.ops[1].field = "text";
	l.ops[1].field_len = 4;
	l.n = 2;
	new_rid(c, rid);
	if (write_record(c, res, circ, "note", rid, NULL, 1, &l, refs) == 0)
		put_write_result(res, "note", rid, 1, case_id);
	oplist_free(&l);
	return res->code;
}

/* Reads. */

/* Each peer's replica digest when we last synced, next to ours. */
static int
put_status_peers(struct ctl *c, struct result *res)
{
	struct store_peer *sp = NULL;
	size_t n = 0;
	int rc;

	if ((rc = store_peer_list(c->env.store, &sp, &n)) != 0)
		n = 0;
	wire_put_cstr(res->body, "peers");
	wire_put_array(res->body, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		char dev[DEVID_TEXTLEN + 1], hex[65], t[32];
		int has = 0;

		for (int k = 0; k < 32; k++)
			has |= sp[i].digest[k];
		devid_encode(dev, sp[i].device);
		hex_encode(hex, sp[i].digest, 32);
		hlc_format(t, HLC_MAKE(sp[i].last_sync_ms, 0));
		wire_put_map(res->body, 3);
		wire_put_kv_str(res->body, "device", dev);
		wire_put_kv_str(res->body, "digest", has ? hex : NULL);
		wire_put_kv_str(res->body, "last_sync", sp[i].last_sync_ms ? t : NULL);
	}
	store_peer_list_free(sp, n);
	return 0;
}

static int
handle_status(struct ctl *c, struct wire_reader *r, struct result *res)
{
	struct store_stats s;
	uint8_t digest[32];
	char hex[65], id[DEVID_TEXTLEN + 1];
	int rc;

	if (wire_get_array_n(r, 0) || wire_end(r))
		return fail(res, SAMEN_EPROTO, "malformed status request");
	/* Unlocked, the index holds every record (status waits for it to
	 * load): counting there is free, counting in SQLite a table scan.
	 * The change sets and digest count this batch's earlier writes. */
	if (groups_close(c, res))
		return res->code;
	if (vault_locked(c->env.vault) || c->index_bad)
		rc = store_stats(c->env.store, &s);
	else {
		memset(&s, 0, sizeof(s));
		for (size_t i = 0; i < index_count(c->env.index); i++)
			s.records += !index_at(c->env.index, i)->deleted;
		rc = store_stats_but_records(c->env.store, &s);
	}
	if (rc != 0 || (rc = store_digest(c->env.store, digest)) != 0)
		return fail(res, rc, "storage error: %s", samen_strerror(rc));
	hex_encode(hex, digest, sizeof(digest));
	devid_encode(id, vault_public_key(c->env.vault));
	wire_put_map(res->body, 21);
	wire_put_kv_str(res->body, "device", id);
	wire_put_kv_str(res->body, "data_dir", c->env.dir);
	wire_put_kv_str(res->body, "version", SAMEN_VERSION);
	wire_put_kv_u64(res->body, "protocol", SAMEN_PROTOCOL_VERSION);
	wire_put_kv_u64(res->body, "pid", (uint64_t)getpid());
	wire_put_kv_u64(res->body, "uptime_s", (wall_ms() - c->started_ms) / 1000);
	wire_put_kv_bool(res->body, "locked", vault_locked(c->env.vault));
	wire_put_kv_bool(res->body, "passphrase",
	    vault_has_passphrase(c->env.vault));
	wire_put_kv_u64(res->body, "records", s.records);
	wire_put_kv_u64(res->body, "changesets", s.changesets);
	wire_put_kv_u64(res->body, "pending", s.pending);
	wire_put_kv_u64(res->body, "bad", s.bad);
	wire_put_kv_u64(res->body, "flagged", s.flagged);
	wire_put_kv_str(res->body, "replica_digest", hex);
	store_shared_digest(c->env.store, digest);
	hex_encode(hex, digest, sizeof(digest));
	wire_put_kv_str(res->body, "shared_digest", hex);
	wire_put_kv_str(res->body, "listen", c->peers && *peers_listen(c->peers) ?
	    peers_listen(c->peers) : NULL);
	wire_put_kv_u64(res->body, "zap_refused",
	    c->peers ? peers_zap_refused(c->peers) : 0);
	wire_put_kv_u64(res->body, "rejected",
	    c->peers ? peers_rejected(c->peers) : 0);
	wire_put_kv_u64(res->body, "handshake_failed",
	    c->peers ? peers_handshake_failed(c->peers) : 0);
	wire_put_kv_u64(res->body, "dropped",
	    c->peers ? peers_dropped(c->peers) : 0);
	return put_status_peers(c, res);
}

static int
handle_get(struct ctl *c, struct wire_reader *r, struct result *res)
{
	char collection[OPS_MAX_COLLECTION + 1];
	uint8_t rid[RID_LEN];
	const struct store_record *rec;

	if (wire_get_array_n(r, 2) || get_collection(r, res, collection) ||
	    get_rid(r, res, rid) || wire_end(r))
		return res->code ? res->code :
		    fail(res, SAMEN_EPROTO, "malformed get request");
	if (need_unlocked(c, res) ||
	    (rec = lookup(c, res, collection, rid, 0)) == NULL)
		return res->code;
	put_record(c, res->body, rec, strcmp(collection, "case") == 0, NULL,
	    0);
	return 0;
}

struct where {
	char field[OPS_MAX_FIELD + 1];
	const char *value;
	size_t len;
};

static int
where_match(const struct store_record *r, const struct where *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct store_field *f = index_field(r, w[i].field, 0);
		int ok = 0;

		if (f && f->nvals > 0 && f->vals[0].value_len == w[i].len &&
		    memcmp(f->vals[0].value, w[i].value, w[i].len) == 0)
			ok = 1;
		f = index_field(r, w[i].field, 1);
		for (size_t j = 0; f && !ok && j < f->nvals; j++)
			ok = f->vals[j].value_len == w[i].len &&
			    memcmp(f->vals[j].value, w[i].value, w[i].len) == 0;
		if (!ok)
			return 0;
	}
	return 1;
}

static int
visible(struct ctl *c, const struct store_record *r)
{
	return (!r->deleted || r->exist_conflict) && !is_members_chain(c,
	    r->circle);
}

static int
handle_ls(struct ctl *c, struct wire_reader *r, struct result *res)
{
	char collection[OPS_MAX_COLLECTION + 1];
	struct where w[16];
	uint32_t nw;
	size_t n = 0, total = index_count(c->env.index);

	if (wire_get_array_n(r, 2) || get_collection(r, res, collection))
		return res->code ? res->code :
		    fail(res, SAMEN_EPROTO, "malformed ls request");
	if (wire_get_array(r, &nw, 16))
		return fail(res, SAMEN_EINVAL, "at most 16 --where");
	for (uint32_t i = 0; i < nw; i++) {
		const char *s;
		size_t len;

		if (wire_get_array_n(r, 2) ||
		    wire_get_str(r, &s, &len, OPS_MAX_FIELD) ||
		    wire_get_str(r, &w[i].value, &w[i].len, OPS_MAX_VALUE))
			return fail(res, SAMEN_EPROTO, "malformed --where");
		memcpy(w[i].field, s, len);
		w[i].field[len] = '\0';
	}
	if (wire_end(r))
		return fail(res, SAMEN_EPROTO, "malformed ls request");
	if (need_unlocked(c, res))
		return res->code;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			wire_put_array(res->body, (uint32_t)n);
		for (size_t i = 0; i < total; i++) {
			const struct store_record *rec =
			    index_at(c->env.index, i);

			if (!visible(c, rec) ||
			    strcmp(rec->collection, collection) != 0 ||
			    !where_match(rec, w, nw))
				continue;
			if (pass == 0)
				n++;
			else
				put_record(c, res->body, rec, 0, NULL, 0);
		}
	}
	return 0;
}

static int
handle_find(struct ctl *c, struct wire_reader *r, struct result *res)
{
	const char *text;
	size_t len, n = 0, total = index_count(c->env.index);
	const struct store_field *matched[MAX_MATCHED];

	if (wire_get_array_n(r, 1) ||
	    wire_get_str(r, &text, &len, OPS_MAX_VALUE) || wire_end(r))
		return fail(res, SAMEN_EPROTO, "malformed find request");
	if (len == 0)
		return fail(res, SAMEN_EINVAL, "nothing to find: give a text");
	if (need_unlocked(c, res))
		return res->code;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			wire_put_array(res->body, (uint32_t)n);
		for (size_t i = 0; i < total; i++) {
			const struct store_record *rec =
			    index_at(c->env.index, i);
			size_t m;

			if (!visible(c, rec))
				continue;
			m = index_match(rec, text, len, matched, MAX_MATCHED);
			if (m == 0)
				continue;
			if (pass == 0)
				n++;
			else
				put_record(c, res->body, rec, 0, matched,
				    m < MAX_MATCHED ? m : MAX_MATCHED);
		}
	}
	return 0;
}

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
		return op;	/* NULL: the bookkeeping write of an update */
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

static int
handle_log(struct ctl *c, struct wire_reader *r, struct result *res)
{
	char collection[OPS_MAX_COLLECTION + 1];
	uint8_t rid[RID_LEN];
	const struct store_record *rec;
	struct store_hist *h;
	size_t n, shown = 0;
	int rc, alive;

	if (wire_get_array_n(r, 2) || get_collection(r, res, collection) ||
	    get_rid(r, res, rid) || wire_end(r))
		return res->code ? res->code :
		    fail(res, SAMEN_EPROTO, "malformed log request");
	if (need_unlocked(c, res) ||
	    (rec = lookup(c, res, collection, rid, 1)) == NULL ||
	    group_settle(c, res, rec->circle, collection, rid))
		return res->code;
	if ((rc = store_history(c->env.store, rec->rkey, &h, &n)) != 0)
		return fail(res, rc, "storage error: %s", samen_strerror(rc));
	exist_first(h, n);
	alive = 1;
	for (size_t i = 0; i < n; i++)
		shown += hist_op(&h[i], &alive) != NULL;
	wire_put_array(res->body, (uint32_t)shown);
	alive = 1;
	for (size_t i = 0; i < n; i++) {
		const char *op = hist_op(&h[i], &alive);
		int field = h[i].kind != OP_EXIST;

		if (op == NULL)
			continue;
		wire_put_map(res->body, 8);
		put_time(res->body, "time", h[i].hlc);
		wire_put_kv_u64(res->body, "hlc", h[i].hlc);
		put_author(res->body, "author", h[i].author);
		wire_put_kv_u64(res->body, "seq", h[i].seq);
		wire_put_kv_str(res->body, "op", op);
		wire_put_kv_str(res->body, "field", field ? h[i].field : NULL);
		wire_put_kv_str(res->body, "value", field ? h[i].value : NULL);
		wire_put_kv_u64(res->body, "replaced", h[i].nrefs);
	}
	store_history_free(h, n);
	return 0;
}

static int
handle_conflicts(struct ctl *c, struct wire_reader *r, struct result *res)
{
	size_t n = 0, total = index_count(c->env.index);

	if (wire_get_array_n(r, 0) || wire_end(r))
		return fail(res, SAMEN_EPROTO, "malformed conflicts request");
	if (need_unlocked(c, res))
		return res->code;
	for (size_t i = 0; i < total; i++) {
		const struct store_record *rec = index_at(c->env.index, i);

		if (visible(c, rec))
			n += count_conflicts(rec);
	}
	wire_put_array(res->body, (uint32_t)n);
	for (size_t i = 0; i < total; i++) {
		const struct store_record *rec = index_at(c->env.index, i);

		if (!visible(c, rec))
			continue;
		for (size_t j = 0; j <= rec->nfields; j++) {
			/* j == nfields stands for the existence register. */
			const struct store_field *f = j < rec->nfields ?
			    &rec->fields[j] : NULL;

			if (f ? f->is_set || f->ndistinct <= 1 :
			    !rec->exist_conflict)
				continue;
			wire_put_map(res->body, 4);
			wire_put_kv_str(res->body, "collection", rec->collection);
			put_rid(res->body, "id", rec->rid);
			wire_put_kv_str(res->body, "field", f ? f->name : NULL);
			put_conflict_values(res->body, rec, f);
		}
	}
	return 0;
}

/* Index loading, after unlock and rebuild. */

static int
index_add_cb(void *arg, struct store_record *r)
{
	index_append(arg, r);
	return 0;
}

/* Loads the whole index now, on this thread (rebuild).  On failure the old
 * index stays. */
static int
load_index(struct ctl *c)
{
	struct index *ix = index_new();
	int rc;

	if ((rc = store_record_foreach(c->env.store, index_add_cb, ix)) == 0) {
		index_sort(ix);
		index_swap(c->env.index, ix);
		c->index_bad = 0;
	}
	index_free(ix);
	return rc;
}

/*
 * Brings the index up to date with the committed records in c->touched, and
 * empties it.  While the index loads, they are noted to be read again once
 * it is in.  Returns 1 if one of them belongs to a members chain.
 */
static int
cmp_rkey(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;

	return a < b ? -1 : a > b;
}

static int
refresh_touched(struct ctl *c)
{
	struct store_record **recs;
	int members = 0;
	size_t n = 0, m = 0;

	/* A batch may touch one record many times: read it once. */
	if (c->ntouched > 1)
		qsort(c->touched, c->ntouched, sizeof(*c->touched), cmp_rkey);
	for (size_t i = 0; i < c->ntouched; i++)
		if (n == 0 || c->touched[n - 1] != c->touched[i])
			c->touched[n++] = c->touched[i];
	recs = xreallocarray(NULL, n + 1, sizeof(*recs));
	/* One read transaction for the batch, not two locks per record. */
	(void)store_record_load_many(c->env.store, c->touched, n, recs);
	for (size_t i = 0; i < n; i++) {
		struct store_record *rec = recs[i];

		if (rec == NULL) {
			log_warnx("could not reload a record into the index");
			continue;
		}
		members |= is_members_chain(c, rec->circle);
		if (c->load != NULL) {
			push_rkey(&c->reload, &c->nreload, &c->capreload,
			    rec->rkey);
			store_record_free(rec);
		} else
			recs[m++] = rec;
	}
	c->ntouched = 0;
	/* Records arrive author by author, their rids in no order: one
	 * pass over the index, not a move of its tail per record. */
	index_put_many(c->env.index, recs, m);
	free(recs);
	return members;
}

/*
 * Loading the index in the background.  The loader has its own connection
 * to samen.db (WAL: it reads one snapshot while the loop writes) and its own
 * index, which the loop swaps in when done; then it reads again what was
 * committed meanwhile (c->reload), and serves the deferred requests.
 */
struct index_load {
	uv_work_t work;
	struct ctl *c;
	uint8_t key[32];	/* the storage key, wiped once handed over */
	struct index *ix;
	atomic_int stop;
	unsigned delay_ms;	/* $SAMEND_TEST_LOAD_DELAY_MS, for tests */
	uint64_t started;	/* uv_hrtime(), ns */
	int rc;
	char *cause;
};

static int
load_add_cb(void *arg, struct store_record *r)
{
	struct index_load *l = arg;

	index_append(l->ix, r);
	return atomic_load(&l->stop) ? -ECANCELED : 0;
}

static void
load_work_cb(uv_work_t *w)
{
	struct index_load *l = w->data;
	struct store *st;

	for (unsigned t = 0; t < l->delay_ms && !atomic_load(&l->stop); t += 10)
		usleep(10000);
	if ((l->rc = store_open(&st, l->c->env.db_path, &l->cause)) != 0) {
		sodium_memzero(l->key, sizeof(l->key));
		return;
	}
	store_set_key(st, l->key);
	sodium_memzero(l->key, sizeof(l->key));
	if ((l->rc = store_record_foreach(st, load_add_cb, l)) == 0)
		index_sort(l->ix);
	store_close(st);
}

static void serve_deferred(struct ctl *c);

static void
load_done_cb(uv_work_t *w, int status)
{
	struct index_load *l = w->data;
	struct ctl *c = l->c;
	int rc = status ? status : l->rc;

	c->load = NULL;
	if (c->closing) {
		c->nreload = 0;
		goto out;
	}
	if (rc == 0) {
		index_swap(c->env.index, l->ix);
#ifdef __GLIBC__
		/* The loader's thread freed its arena's scratch (SQLite's
		 * cache, the key list): give it back. */
		malloc_trim(0);
#endif
	} else {
		/* Not on the side, then: here, at once. */
		log_warnx("loading the index on the side failed: %s%s%s; "
		    "loading it here", l->cause ? l->cause : "",
		    l->cause ? ": " : "", samen_strerror(rc));
		c->nreload = 0;
		if ((rc = load_index(c)) != 0) {
			log_warnx("could not load the index: %s; reads are "
			    "refused until 'samen rebuild'",
			    samen_strerror(rc));
			c->index_bad = 1;
		}
	}
	for (size_t i = 0; i < c->nreload; i++) {
		struct store_record *rec;

		if (store_record_load(c->env.store, c->reload[i], &rec) == 0)
			index_put(c->env.index, rec);
		else
			log_warnx("could not reload a record into the index");
	}
	log_info("index loaded: %zu records in %llu ms (%zu changed by peers "
	    "meanwhile)", index_count(c->env.index),
	    (unsigned long long)((uv_hrtime() - l->started) / 1000000),
	    c->nreload);
	c->nreload = 0;
	serve_deferred(c);
out:
	index_free(l->ix);
	free(l->cause);
	free(l);
}

static void
start_load(struct ctl *c)
{
	struct index_load *l = xcalloc(1, sizeof(*l));

	l->c = c;
	l->work.data = l;
	l->ix = index_new();
	atomic_init(&l->stop, 0);
	memcpy(l->key, vault_storage_key(c->env.vault), sizeof(l->key));
	l->delay_ms = (unsigned)testhook()->load_delay_ms;
	l->started = uv_hrtime();
	c->load = l;
	c->nreload = 0;
	if (uv_queue_work(c->env.loop, &l->work, load_work_cb,
	    load_done_cb) != 0) {
		/* Cannot happen with a valid loop; load here then. */
		sodium_memzero(l->key, sizeof(l->key));
		l->rc = SAMEN_ESTORE;
		load_done_cb(&l->work, 0);
	}
}

/* Batch handling. */

static void
send_held(struct held *h)
{
	api_reply(h->req, h->code, h->msg, h->has_body ? wire_data(&h->body) :
	    NULL, wire_len(&h->body));
	free(h->msg);
	wire_free(&h->body);
}

/*
 * Sends the waiting replies whose commits are on disk, in order.  After a
 * failed sync the rest are answered with it: what they wait for is
 * committed, visible here, and maybe not on disk, and no later sync will
 * say otherwise.
 */
static void
send_synced(struct ctl *c)
{
	int wrote = 0;

	while (c->wfirst < c->nwaiting) {
		struct held *h = &c->waiting[c->wfirst];

		if (h->ticket > c->synced) {
			if (!c->sync_failed)
				break;
			free(h->msg);
			h->msg = xasprintf("storage error: the disk failed to "
			    "sync; writes since the last sync may be lost at a "
			    "power cut (restart samend)");
			h->code = SAMEN_ESTORE;
			h->has_body = 0;
		} else
			wrote |= h->wrote;
		c->wfirst++;
		send_held(h);
	}
	if (c->wfirst == c->nwaiting)
		c->wfirst = c->nwaiting = 0;
	if (wrote && c->peers != NULL)
		peers_nudge(c->peers);
}

/* Queues h behind the replies that wait for the disk. */
static void
wait_for_sync(struct ctl *c, struct held *h)
{
	/* Under steady writes it may never run empty: slide it down. */
	if (c->wfirst > 0 && c->nwaiting == c->capwaiting) {
		memmove(c->waiting, c->waiting + c->wfirst,
		    (c->nwaiting - c->wfirst) * sizeof(*c->waiting));
		c->nwaiting -= c->wfirst;
		c->wfirst = 0;
	}
	if (c->nwaiting == c->capwaiting) {
		c->capwaiting = c->capwaiting ? c->capwaiting * 2 : 64;
		c->waiting = xreallocarray(c->waiting, c->capwaiting,
		    sizeof(*c->waiting));
	}
	c->waiting[c->nwaiting++] = *h;
}

/*
 * Builds the batch's change sets (one per circle written), commits,
 * refreshes the index for what they touched, and sends every held reply
 * once the disk has the commit (with the store's lazy commits, when
 * ctl_durable says so).  If a change set cannot be stored or the commit
 * fails, every held reply becomes that error: no client was told anything
 * yet, and nothing of it was kept.  A reply never overtakes one before it,
 * so a client that sees a reply sees only what is on the disk.
 */
static void
flush(struct ctl *c)
{
	int rc = 0, wrote;

	if (c->in_txn)
		(void)groups_close(c, NULL);	/* on failure: abort_batch */
	if (c->in_txn) {
		if (!c->lazy)
			rc = store_commit(c->env.store);
		else if ((rc = store_commit_lazy(c->env.store,
		    &c->ticket)) == 0 && c->env.durable != NULL)
			durable_request(c->env.durable, c->ticket);
		if (rc != 0) {
			log_warnx("commit failed: %s; %zu requests refused",
			    samen_strerror(rc), c->nheld);
			store_rollback(c->env.store);
		}
		c->in_txn = 0;
	}
	wrote = rc == 0 && c->ntouched > 0;
	if (rc == 0)
		(void)refresh_touched(c);
	c->ntouched = 0;
	if (c->circles_dirty) {
		int rc2;

		c->circles_dirty = 0;
		if ((rc2 = refresh_circles(c)) != 0)
			log_warnx("could not refresh the circles: %s",
			    samen_strerror(rc2));
	}
	for (size_t i = 0; i < c->nheld; i++) {
		struct held *h = &c->held[i];

		if (rc != 0) {
			free(h->msg);
			h->msg = xasprintf("not stored: %s",
			    samen_strerror(rc));
			h->code = rc;
			h->has_body = 0;
		}
		h->ticket = c->ticket;
		h->wrote = wrote;
		wait_for_sync(c, h);
	}
	c->nheld = 0;
	send_synced(c);
}

void
ctl_durable(struct ctl *c, uint64_t done, int status)
{
	if (status != 0)
		c->sync_failed = 1;
	if (done > c->synced)
		c->synced = done;
	send_synced(c);
}

/* A write that failed half-way poisons the open transaction. */
static void
abort_batch(struct ctl *c, int code)
{
	groups_drop(c);
	if (!c->in_txn)
		return;
	store_rollback(c->env.store);
	c->in_txn = 0;
	c->ntouched = 0;
	for (size_t i = 0; i < c->nheld; i++) {
		struct held *h = &c->held[i];

		free(h->msg);
		h->msg = xasprintf("not stored: %s", samen_strerror(code));
		h->code = code;
		h->has_body = 0;
	}
}

static struct held *
hold(struct ctl *c, struct api_req *req)
{
	struct held *h;

	if (c->nheld == c->capheld) {
		c->capheld = c->capheld ? c->capheld * 2 : 16;
		c->held = xreallocarray(c->held, c->capheld, sizeof(*c->held));
	}
	h = &c->held[c->nheld++];
	memset(h, 0, sizeof(*h));
	h->req = req;
	/* A write's reply is under a hundred bytes; ls grows it. */
	wire_init_size(&h->body, 128);
	return h;
}

struct unlock_work {
	uv_work_t work;
	struct ctl *c;
	struct api_req *req;
	char *pass;		/* sodium_malloc */
	size_t len;
	struct keywrap_secrets secrets;
	int rc;
};

static int after_unlock(struct ctl *c);

static void
unlock_work_cb(uv_work_t *w)
{
	struct unlock_work *u = w->data;

	u->rc = vault_try(u->c->env.vault, u->pass, u->len, &u->secrets);
}

static void
unlock_done_cb(uv_work_t *w, int status)
{
	struct unlock_work *u = w->data;
	struct ctl *c = u->c;
	int rc = status ? status : u->rc;

	c->unlocking = 0;
	if (rc == 0 && vault_locked(c->env.vault)) {
		vault_install(c->env.vault, &u->secrets);
		rc = after_unlock(c);
	}
	sodium_memzero(&u->secrets, sizeof(u->secrets));
	sodium_free(u->pass);
	if (rc == 0) {
		struct wbuf body;

		log_info("unlocked");
		wire_init(&body);
		wire_put_map(&body, 1);
		wire_put_kv_bool(&body, "unlocked", 1);
		api_reply(u->req, 0, NULL, wire_data(&body), wire_len(&body));
		wire_free(&body);
	} else {
		log_warnx("unlock failed: %s", samen_strerror(rc));
		api_reply(u->req, rc, rc == SAMEN_EPASSPHRASE ?
		    "wrong passphrase" : samen_strerror(rc), NULL, 0);
	}
	free(u);
}

/* Returns 1 if the request was taken (answered later). */
static int
start_unlock(struct ctl *c, struct api_req *req, struct wire_reader *r,
    struct result *res)
{
	struct unlock_work *u;
	const char *pass;
	size_t len;

	if (wire_get_array_n(r, 1) || wire_get_str(r, &pass, &len, 4096) ||
	    wire_end(r)) {
		fail(res, SAMEN_EPROTO, "malformed unlock request");
		return 0;
	}
	if (!vault_locked(c->env.vault)) {
		wire_put_map(res->body, 1);
		wire_put_kv_bool(res->body, "unlocked", 1);
		free(res->msg);
		res->msg = xstrdup("already unlocked");
		return 0;
	}
	if (c->unlocking) {
		fail(res, SAMEN_EINVAL, "an unlock is already in progress");
		return 0;
	}
	u = xcalloc(1, sizeof(*u));
	u->c = c;
	u->req = req;
	u->len = len;
	if ((u->pass = sodium_malloc(len + 1)) == NULL)
		die_oom(len + 1);
	memcpy(u->pass, pass, len);
	u->pass[len] = '\0';
	u->work.data = u;
	c->unlocking = 1;
	uv_queue_work(c->env.loop, &u->work, unlock_work_cb, unlock_done_cb);
	return 1;
}

static int
handle_rebuild(struct ctl *c, struct wire_reader *r, struct result *res)
{
	struct store_stats s;
	uint8_t digest[32];
	char hex[65];
	int rc;

	if (wire_get_array_n(r, 0) || wire_end(r))
		return fail(res, SAMEN_EPROTO, "malformed rebuild request");
	if (need_keys(c, res))
		return res->code;
	if ((rc = store_rebuild(c->env.store)) != 0 ||
	    (rc = load_index(c)) != 0 ||
	    (rc = refresh_circles(c)) != 0 ||
	    (rc = store_stats(c->env.store, &s)) != 0 ||
	    (rc = store_digest(c->env.store, digest)) != 0)
		return fail(res, rc, "rebuild failed: %s", samen_strerror(rc));
	log_info("replica rebuilt from %llu change sets",
	    (unsigned long long)s.changesets);
	hex_encode(hex, digest, sizeof(digest));
	wire_put_map(res->body, 2);
	wire_put_kv_str(res->body, "replica_digest", hex);
	wire_put_kv_u64(res->body, "changesets", s.changesets);
	return 0;
}

/* Circles, peers and sync requests. */

#define DEFAULT_CIRCLE_FILE "default-circle"

static int
get_name(struct wire_reader *r, struct result *res, char *out, size_t max)
{
	if (get_cstr(r, out, max) || !ops_field_valid(out, strlen(out)))
		return fail(res, SAMEN_EINVAL, "invalid circle name: 1-64 of "
		    "A-Z a-z 0-9 _ -");
	return 0;
}

static int
get_device(struct wire_reader *r, struct result *res, uint8_t dev[32])
{
	char text[DEVID_TEXTLEN + 2];
	int rc;

	if (get_cstr(r, text, sizeof(text)) ||
	    (rc = devid_decode(dev, text, strlen(text))) != 0)
		return fail(res, SAMEN_EINVAL, "invalid device id (a typo? "
		    "'samen id' on that device prints it)");
	return 0;
}

/* One record of a members chain: SETs of the given fields. */
static int
write_fields(struct ctl *c, struct result *res,
    const struct store_circle *chain, const char *collection,
    const uint8_t rid[RID_LEN], const char *const *kv, uint32_t n)
{
	struct op_list l;
	struct op_ref refs[8];
	int rc;

	oplist_init(&l, n);
	memset(refs, 0, sizeof(refs));
	for (uint32_t i = 0; i < n; i++) {
		l.ops[i].type = OP_SET;
		l.ops[i].field = kv[2 * i];
		l.ops[i].field_len = strlen(kv[2 * i]);
		l.ops[i].value = kv[2 * i + 1];
		l.ops[i].value_len = strlen(kv[2 * i + 1]);
	}
	l.n = n;
	/* Members chains are not grouped: each write its own change set,
	 * as the views (view_build) read them from the store. */
	rc = write_record(c, res, chain, collection, rid, NULL, 1, &l, refs);
	if (rc == 0)
		rc = groups_close(c, res);
	oplist_free(&l);
	return rc;
}

static void
member_rid(uint8_t rid[RID_LEN], const uint8_t device[32])
{
	crypto_generichash(rid, RID_LEN, device, 32, NULL, 0);
	rid[0] &= 0x7f;		/* keeps the ULID text form within range */
}

/* Writes the member record of device into circle circ's members chain. */
static int
write_member(struct ctl *c, struct result *res,
    const struct store_circle *chain, const struct store_circle *circ,
    const uint8_t device[32], const char *role)
{
	uint8_t cpk[32], sealed[CS_KEYLEN + crypto_box_SEALBYTES];
	uint8_t rid[RID_LEN];
	char dev[DEVID_TEXTLEN + 1], me[DEVID_TEXTLEN + 1];
	char hex[2 * sizeof(sealed) + 1];
	const char *kv[8];

	if (crypto_sign_ed25519_pk_to_curve25519(cpk, device) != 0)
		return fail(res, SAMEN_EINVAL, "that device id is not a "
		    "usable key");
	crypto_box_seal(sealed, circ->key, CS_KEYLEN, cpk);
	hex_encode(hex, sealed, sizeof(sealed));
	devid_encode(dev, device);
	devid_encode(me, vault_public_key(c->env.vault));
	kv[0] = "device"; kv[1] = dev;
	kv[2] = "role"; kv[3] = role;
	kv[4] = "added_by"; kv[5] = me;
	kv[6] = "key1"; kv[7] = hex;
	member_rid(rid, device);
	return write_fields(c, res, chain, "member", rid, kv, 4);
}

static const struct store_circle *
members_chain_of(struct ctl *c, const uint8_t base[CS_CIRCLELEN])
{
	for (size_t i = 0; i < c->ncircles; i++)
		if (c->circles[i].kind == STORE_CIRCLE_MEMBERS &&
		    memcmp(c->circles[i].base, base, CS_CIRCLELEN) == 0)
			return &c->circles[i];
	return NULL;
}

/* Stores the members chain of base (its key derives from base's id). */
static int
put_members_chain(struct ctl *c, const uint8_t base[CS_CIRCLELEN],
    const char *name)
{
	struct store_circle m;
	int rc;

	memset(&m, 0, sizeof(m));
	sync_members_circle(m.id, base);
	sync_members_key(m.key, base);
	m.epoch = 1;
	m.kind = STORE_CIRCLE_MEMBERS;
	memcpy(m.base, base, CS_CIRCLELEN);
	m.name = xasprintf("members of %s", name);
	rc = store_circle_put(c->env.store, &m);
	store_circle_clear(&m);
	return rc;
}

static int
handle_circle_new(struct ctl *c, struct wire_reader *r, struct result *res)
{
	char name[OPS_MAX_FIELD + 1], me[DEVID_TEXTLEN + 1];
	char salthex[33];
	const uint8_t *pk;
	struct store_circle sc;
	const struct store_circle *chain, *circ;
	uint8_t salt[16], rid[RID_LEN];
	const char *kv[6];
	int rc;

	if (wire_get_array_n(r, 1) || get_name(r, res, name, sizeof(name)) || wire_end(r))
		return res->code ? res->code :
		    fail(res, SAMEN_EPROTO, "malformed circle request");
	if (need_unlocked(c, res))
		return res->code;
	if (strcmp(name, "private") == 0)
		return fail(res, SAMEN_EEXIST, "'private' is this device's own "
		    "circle");
	/* The circles are read again below: what is open goes first. */
	if (groups_close(c, res))
		return res->code;
	for (size_t i = 0; i < c->nviews; i++)
		if (c->views[i].valid && strcmp(c->views[i].name, name) == 0)
			return fail(res, SAMEN_EEXIST, "a circle named '%s' "
			    "exists", name);
	pk = vault_public_key(c->env.vault);
	randombytes_buf(salt, sizeof(salt));
	memset(&sc, 0, sizeof(sc));
	sync_circle_id(sc.id, pk, salt);
	randombytes_buf(sc.key, sizeof(sc.key));
	sc.epoch = 1;
	sc.kind = STORE_CIRCLE_SHARED;
	sc.name = xstrdup(name);
	c->circles_dirty = 1;
	if (begin_write(c, res)) {
		store_circle_clear(&sc);
		return res->code;
	}
	if ((rc = store_circle_put(c->env.store, &sc)) != 0 ||
	    (rc = put_members_chain(c, sc.id, name)) != 0 ||
	    (rc = refresh_circles(c)) != 0) {
		store_circle_clear(&sc);
		abort_batch(c, rc);
		return fail(res, rc, "could not create the circle: %s",
		    samen_strerror(rc));
	}
	chain = members_chain_of(c, sc.id);
	circ = circle_by_id(c, sc.id);
	devid_encode(me, pk);
	hex_encode(salthex, salt, sizeof(salt));
	kv[0] = "name"; kv[1] = name;
	kv[2] = "creator"; kv[3] = me;
	kv[4] = "salt"; kv[5] = salthex;
	memcpy(rid, sc.id, RID_LEN);
	rid[0] &= 0x7f;
	if (chain == NULL || circ == NULL ||
	    write_fields(c, res, chain, "circle", rid, kv, 3) != 0 ||
	    write_member(c, res, chain, circ, pk, "admin") != 0) {
		store_circle_clear(&sc);
		if (res->code == 0)
			fail(res, SAMEN_ESTORE, "could not create the circle");
		abort_batch(c, res->code);
		return res->code;
	}
	c->circles_dirty = 1;
	{
		char hex[2 * CS_CIRCLELEN + 1];

		hex_encode(hex, sc.id, CS_CIRCLELEN);
		wire_put_map(res->body, 3);
		wire_put_kv_str(res->body, "circle", hex);
		wire_put_kv_str(res->body, "name", name);
		wire_put_kv_u64(res->body, "epoch", 1);
	}
	store_circle_clear(&sc);
	log_info("created circle %s", name);
	return 0;
}

static int
handle_circle_add(struct ctl *c, struct wire_reader *r, struct result *res)
{
	char name[OPS_MAX_FIELD + 1], dev[DEVID_TEXTLEN + 1];
	char hex[2 * CS_CIRCLELEN + 1];
	uint8_t device[32];
	const struct store_circle *circ, *chain;
	const struct circle_view *v;

	if (wire_get_array_n(r, 2) || get_name(r, res, name, sizeof(name)) ||
	    get_device(r, res, device) || wire_end(r))
		return res->code ? res->code :
		    fail(res, SAMEN_EPROTO, "malformed circle request");
	if (need_unlocked(c, res))
		return res->code;
	if ((circ = circle_by_name(c, name)) == NULL || circ == &c->circle ||
	    (v = view_by_id(c, circ->id)) == NULL ||
	    (chain = members_chain_of(c, circ->id)) == NULL)
		return fail(res, SAMEN_ENOTFOUND, "no shared circle named "
		    "'%s' (samen circle ls)", name);
	if (memcmp(v->creator, vault_public_key(c->env.vault), 32) != 0)
		return fail(res, SAMEN_EINVAL, "only the circle's admin can "
		    "add members");
	if (view_member(v, device) != NULL)
		return fail(res, SAMEN_EEXIST, "already a member of %s", name);
	if (groups_close(c, res))
		return res->code;
	if (write_member(c, res, chain, circ, device, "member") != 0)
		return res->code;
	c->circles_dirty = 1;
	devid_encode(dev, device);
	hex_encode(hex, circ->id, CS_CIRCLELEN);
	wire_put_map(res->body, 4);
	wire_put_kv_str(res->body, "circle", hex);
	wire_put_kv_str(res->body, "name", name);
	wire_put_kv_str(res->body, "device", dev);
	wire_put_kv_str(res->body, "role", "member");
	log_info("added a member to circle %s", name);
	return 0;
}

static void
put_circle(struct ctl *c, struct wbuf *w, const struct store_circle *sc,
    const struct circle_view *v)
{
	char hex[2 * CS_CIRCLELEN + 1], dev[DEVID_TEXTLEN + 1];
	const struct store_circle *d = circle_default(c);

	hex_encode(hex, sc->id, CS_CIRCLELEN);
	wire_put_map(w, 6);
	wire_put_kv_str(w, "circle", hex);
	wire_put_kv_str(w, "name", v ? v->name : "private");
	wire_put_kv_str(w, "kind", v ? "shared" : "private");
	wire_put_kv_u64(w, "epoch", sc->epoch);
	wire_put_kv_bool(w, "default", d == sc);
	wire_put_cstr(w, "members");
	wire_put_array(w, v ? (uint32_t)v->nmembers : 0);
	for (size_t i = 0; v && i < v->nmembers; i++) {
		int has_by = 0;

		for (int k = 0; k < 32; k++)
			has_by |= v->members[i].added_by[k];
		wire_put_map(w, 3);
		devid_encode(dev, v->members[i].device);
		wire_put_kv_str(w, "device", dev);
		wire_put_kv_str(w, "role", v->members[i].admin ? "admin" : "member");
		if (has_by)
			devid_encode(dev, v->members[i].added_by);
		wire_put_kv_str(w, "added_by", has_by ? dev : NULL);
	}
}

static int
handle_circle_ls(struct ctl *c, struct wire_reader *r, struct result *res)
{
	size_t n = 1;

	if (wire_get_array_n(r, 0) || wire_end(r))
		return fail(res, SAMEN_EPROTO, "malformed circle request");
	if (need_unlocked(c, res))
		return res->code;
	for (size_t i = 0; i < c->nviews; i++)
		if (c->views[i].valid && circle_by_id(c, c->views[i].id))
			n++;
	wire_put_array(res->body, (uint32_t)n);
	put_circle(c, res->body, &c->circle, NULL);
	for (size_t i = 0; i < c->nviews; i++)
		if (c->views[i].valid && circle_by_id(c, c->views[i].id))
			put_circle(c, res->body,
			    circle_by_id(c, c->views[i].id), &c->views[i]);
	return 0;
}

static int
write_default(struct ctl *c, const uint8_t id[CS_CIRCLELEN])
{
	char hex[2 * CS_CIRCLELEN + 2], *path, *tmp;
	FILE *f;
	int rc = 0, dfd = -1;

	hex_encode(hex, id, CS_CIRCLELEN);
	strcat(hex, "\n");
	path = xasprintf("%s/%s", c->env.dir, DEFAULT_CIRCLE_FILE);
	tmp = xasprintf("%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL || fputs(hex, f) < 0 ||
	    fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = SAMEN_ESTORE;
	if (f != NULL && fclose(f) != 0)
		rc = SAMEN_ESTORE;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = SAMEN_ESTORE;
	/* The rename is durable only once the directory is synced: without
	 * it a power cut could bring the old default back after the reply. */
	if (rc == 0 && ((dfd = open(c->env.dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || fsync(dfd) != 0))
		rc = SAMEN_ESTORE;
	if (dfd != -1)
		close(dfd);
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	free(path);
	return rc;
}

static void
read_default(struct ctl *c)
{
	char buf[2 * CS_CIRCLELEN + 2], *path;
	FILE *f;

	c->has_default = 0;
	path = xasprintf("%s/%s", c->env.dir, DEFAULT_CIRCLE_FILE);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL) {
			buf[strcspn(buf, "\n")] = '\0';
			c->has_default = hex_decode(c->default_circle,
			    CS_CIRCLELEN, buf) == 0;
		}
		fclose(f);
	}
	free(path);
}

static int
handle_circle_use(struct ctl *c, struct wire_reader *r, struct result *res)
{
	char name[OPS_MAX_FIELD + 1], hex[2 * CS_CIRCLELEN + 1];
	const struct store_circle *circ;
	int rc;

	if (wire_get_array_n(r, 1) || get_name(r, res, name, sizeof(name)) || wire_end(r))
		return res->code ? res->code :
		    fail(res, SAMEN_EPROTO, "malformed circle request");
	if (need_unlocked(c, res))
		return res->code;
	if ((circ = circle_by_name(c, name)) == NULL)
		return fail(res, SAMEN_ENOTFOUND, "no circle named '%s' (samen "
		    "circle ls)", name);
	if ((rc = write_default(c, circ->id)) != 0)
		return fail(res, rc, "could not save the default circle");
	memcpy(c->default_circle, circ->id, CS_CIRCLELEN);
	c->has_default = 1;
	hex_encode(hex, circ->id, CS_CIRCLELEN);
	wire_put_map(res->body, 2);
	wire_put_kv_str(res->body, "circle", hex);
	wire_put_kv_str(res->body, "name", name);
	return 0;
}

static int
handle_peer_add(struct ctl *c, struct wire_reader *r, struct result *res)
{
	uint8_t device[32];
	char addr[256] = "", dev[DEVID_TEXTLEN + 1];
	int has_addr, rc;

	if (wire_get_array_n(r, 2) || get_device(r, res, device))
		return res->code ? res->code :
		    fail(res, SAMEN_EPROTO, "malformed peer request");
	has_addr = wire_peek(r) != WIRE_NIL;
	if (!has_addr)
		wire_get_nil(r);
	else if (get_cstr(r, addr, sizeof(addr)) ||
	    strncmp(addr, "tcp://", 6) != 0 || strrchr(addr, ':') == addr + 3)
		return fail(res, SAMEN_EINVAL, "address must be "
		    "tcp://HOST:PORT");
	if (wire_end(r))
		return fail(res, SAMEN_EPROTO, "malformed peer request");
	if (memcmp(device, vault_public_key(c->env.vault), 32) == 0)
		return fail(res, SAMEN_EINVAL, "that is this device's own id");
	if ((rc = store_peer_put(c->env.store, device,
	    has_addr ? addr : NULL)) != 0)
		return fail(res, rc, "could not store the peer: %s",
		    samen_strerror(rc));
	if (c->peers != NULL)
		peers_refresh(c->peers);
	devid_encode(dev, device);
	wire_put_map(res->body, 2);
	wire_put_kv_str(res->body, "device", dev);
	wire_put_kv_str(res->body, "addr", has_addr ? addr : NULL);
	return 0;
}

static int
handle_peer_rm(struct ctl *c, struct wire_reader *r, struct result *res)
{
	uint8_t device[32];
	char dev[DEVID_TEXTLEN + 1];
	int rc;

	if (wire_get_array_n(r, 1) || get_device(r, res, device) ||
	    wire_end(r))
		return res->code ? res->code :
		    fail(res, SAMEN_EPROTO, "malformed peer request");
	devid_encode(dev, device);
	if ((rc = store_peer_rm(c->env.store, device)) != 0)
		return fail(res, rc, rc == SAMEN_ENOTFOUND ? "%.12s is not a "
		    "peer" : "could not remove the peer", dev);
	if (c->peers != NULL)
		peers_refresh(c->peers);
	wire_put_map(res->body, 1);
	wire_put_kv_str(res->body, "device", dev);
	return 0;
}

static int
handle_peer_ls(struct ctl *c, struct wire_reader *r, struct result *res)
{
	int rc;

	if (wire_get_array_n(r, 0) || wire_end(r))
		return fail(res, SAMEN_EPROTO, "malformed peer request");
	if (c->peers == NULL) {
		/* Locked: the stored peers, without live state. */
		struct store_peer *sp = NULL;
		size_t n = 0;

		if ((rc = store_peer_list(c->env.store, &sp, &n)) != 0)
			return fail(res, rc, "storage error");
		wire_put_array(res->body, (uint32_t)n);
		for (size_t i = 0; i < n; i++) {
			char dev[DEVID_TEXTLEN + 1];

			devid_encode(dev, sp[i].device);
			wire_put_map(res->body, 3);
			wire_put_kv_str(res->body, "device", dev);
			wire_put_kv_str(res->body, "addr", sp[i].addr);
			wire_put_kv_str(res->body, "state", "idle");
		}
		store_peer_list_free(sp, n);
		return 0;
	}
	if ((rc = peers_put_ls(c->peers, res->body)) != 0)
		return fail(res, rc, "storage error");
	return 0;
}

static int
handle_sync(struct ctl *c, struct wire_reader *r, struct result *res)
{
	uint8_t device[32];
	int has_dev, rc;

	if (wire_get_array_n(r, 1))
		return fail(res, SAMEN_EPROTO, "malformed sync request");
	has_dev = wire_peek(r) != WIRE_NIL;
	if (!has_dev)
		wire_get_nil(r);
	else if (get_device(r, res, device))
		return res->code;
	if (wire_end(r))
		return fail(res, SAMEN_EPROTO, "malformed sync request");
	if (need_unlocked(c, res))
		return res->code;
	if (c->peers == NULL)
		return fail(res, SAMEN_EINVAL, "sync is not running");
	rc = peers_sync(c->peers, has_dev ? device : NULL, res->body);
	if (rc == SAMEN_ENOTFOUND)
		return fail(res, rc, "not a peer: samen peer add it first");
	if (rc == SAMEN_EINVAL)
		return fail(res, rc, has_dev ? "that peer has no address: it "
		    "syncs when it connects to us" : "no peer has an address "
		    "(samen peer add DEVICE_ID tcp://HOST:PORT)");
	return rc;
}

/* The sync layer's view of us (peer.h). */

static size_t
host_shared(void *arg, const uint8_t device[32],
    uint8_t (**out)[CS_CIRCLELEN])
{
	struct ctl *c = arg;
	const uint8_t *me = vault_public_key(c->env.vault);
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < c->nviews; i++) {
		const struct circle_view *v = &c->views[i];

		if (!v->valid || view_member(v, me) == NULL ||
		    view_member(v, device) == NULL)
			continue;
		*out = xreallocarray(*out, n + 1, sizeof(**out));
		memcpy((*out)[n++], v->id, CS_CIRCLELEN);
	}
	return n;
}

static int
host_holds(void *arg, const uint8_t circle[CS_CIRCLELEN])
{
	struct ctl *c = arg;

	return circle_by_id(c, circle) != NULL ||
	    members_chain_of(c, circle) != NULL;
}

static int
host_refuses(void *arg, const uint8_t circle[CS_CIRCLELEN],
    const uint8_t device[32])
{
	struct ctl *c = arg;
	const struct circle_view *v = view_by_id(c, circle);

	if (c->have_circle && memcmp(c->circle.id, circle, CS_CIRCLELEN) == 0)
		return 1;	/* our private circle: never shared */
	if (v == NULL || !v->valid)
		return 0;
	return view_member(v, device) == NULL ||
	    view_member(v, vault_public_key(c->env.vault)) == NULL;
}

static size_t
host_members(void *arg, uint8_t (**out)[32])
{
	struct ctl *c = arg;
	const uint8_t *me = vault_public_key(c->env.vault);
	size_t n = 0;

	*out = NULL;
	for (size_t i = 0; i < c->nviews; i++) {
		const struct circle_view *v = &c->views[i];

		/* Only circles we are in: anyone can list anyone in theirs. */
		if (!v->valid || view_member(v, me) == NULL)
			continue;
		for (size_t k = 0; k < v->nmembers; k++) {
			*out = xreallocarray(*out, n + 1, sizeof(**out));
			memcpy((*out)[n++], v->members[k].device, 32);
		}
	}
	return n;
}

static void
host_join(void *arg, uint8_t (*circles)[CS_CIRCLELEN], size_t n)
{
	struct ctl *c = arg;
	char hex[2 * CS_CIRCLELEN + 1];
	size_t added = 0;
	int rc;

	/* One transaction (one fsync) for all of them. */
	if ((rc = store_begin(c->env.store)) != 0)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		if (host_holds(c, circles[i]))
			continue;
		hex_encode(hex, circles[i], CS_CIRCLELEN);
		if ((rc = put_members_chain(c, circles[i], hex)) != 0) {
			store_rollback(c->env.store);
			goto bad;
		}
		added++;
	}
	if ((rc = store_commit(c->env.store)) != 0) {
		store_rollback(c->env.store);
		goto bad;
	}
	if (added > 0 && (rc = refresh_circles(c)) != 0)
		goto bad;
	return;
bad:
	log_warnx("could not take in the circles a peer offered: %s",
	    samen_strerror(rc));
}

/*
 * Inside on_batch's transaction: one commit stores and merges a batch.  A
 * merge that fails leaves the change sets pending (merge_one keeps each
 * one all or nothing), and the next batch or unlock merges them.
 */
static void
host_merge(void *arg)
{
	struct ctl *c = arg;
	int rc;

	if ((rc = store_merge_pending(c->env.store, touched_cb, c)) != 0)
		log_warnx("merging what a peer sent failed: %s",
		    samen_strerror(rc));
}

static void
host_stored(void *arg, int committed)
{
	struct ctl *c = arg;
	int rc, members;

	if (!committed) {
		c->ntouched = 0;
		return;
	}
	members = refresh_touched(c);
	if (members && (rc = refresh_circles(c)) != 0)
		log_warnx("merging what a peer sent failed: %s",
		    samen_strerror(rc));
}

static void
host_digest(void *arg, uint8_t out[32])
{
	struct ctl *c = arg;

	if (store_shared_digest(c->env.store, out) != 0)
		memset(out, 0, 32);
}

void
ctl_peer_host(struct ctl *c, struct peer_host *h)
{
	h->arg = c;
	h->shared = host_shared;
	h->refuses = host_refuses;
	h->members = host_members;
	h->join = host_join;
	h->merge = host_merge;
	h->stored = host_stored;
	h->digest = host_digest;
}

void
ctl_set_peers(struct ctl *c, struct peers *p)
{
	c->peers = p;
}

static void
handle_one(struct ctl *c, struct api_req *req)
{
	struct wire_reader r;
	const uint8_t *data;
	size_t len;
	uint32_t version, type;
	struct held *h;
	struct result res;

	data = api_req_data(req, &len);
	wire_reader_init(&r, data, len);
	memset(&res, 0, sizeof(res));
	if (wire_get_array_n(&r, 3) || wire_get_u32(&r, &version) ||
	    wire_get_u32(&r, &type)) {
		api_reply(req, SAMEN_EPROTO, "malformed request", NULL, 0);
		return;
	}
	if (version != SAMEN_PROTOCOL_VERSION) {
		char msg[128];

		snprintf(msg, sizeof(msg), "protocol version %u is not "
		    "supported: this samend speaks %d", version,
		    SAMEN_PROTOCOL_VERSION);
		api_reply(req, SAMEN_EVERSION, msg, NULL, 0);
		return;
	}
	/* Unlock and rebuild work outside the batch's transaction. */
	if (type == CTL_UNLOCK || type == CTL_REBUILD || type == CTL_SYNC)
		flush(c);
	h = hold(c, req);
	res.body = &h->body;
	switch (type) {
	case CTL_STATUS: handle_status(c, &r, &res); break;
	case CTL_GET: handle_get(c, &r, &res); break;
	case CTL_LS: handle_ls(c, &r, &res); break;
	case CTL_FIND: handle_find(c, &r, &res); break;
	case CTL_LOG: handle_log(c, &r, &res); break;
	case CTL_CONFLICTS: handle_conflicts(c, &r, &res); break;
	case CTL_REBUILD: handle_rebuild(c, &r, &res); break;
	case CTL_PUT: handle_put(c, &r, &res); break;
	case CTL_RM: handle_rm(c, &r, &res); break;
	case CTL_NOTE: handle_note(c, &r, &res); break;
	case CTL_PEER_ADD: handle_peer_add(c, &r, &res); break;
	case CTL_PEER_LS: handle_peer_ls(c, &r, &res); break;
	case CTL_PEER_RM: handle_peer_rm(c, &r, &res); break;
	case CTL_SYNC: handle_sync(c, &r, &res); break;
	case CTL_CIRCLE_NEW: handle_circle_new(c, &r, &res); break;
	case CTL_CIRCLE_ADD: handle_circle_add(c, &r, &res); break;
	case CTL_CIRCLE_LS: handle_circle_ls(c, &r, &res); break;
	case CTL_CIRCLE_USE: handle_circle_use(c, &r, &res); break;
	case CTL_UNLOCK:
		if (start_unlock(c, req, &r, &res)) {
			c->nheld--;	/* answered by unlock_done_cb */
			wire_free(&h->body);
			return;
		}
		break;
	default:
		fail(&res, SAMEN_EPROTO, "unknown request type %u", type);
	}
	free(h->msg);	/* abort_batch may have set one */
	h->code = res.code;
	h->msg = res.msg;
	h->has_body = res.code == 0;
}

void
ctl_batch(void *arg, struct api_req **reqs, size_t n)
{
	struct ctl *c = arg;

	if (c->load != NULL) {
		/* Answered once the index is in (serve_deferred). */
		if (c->ndeferred + n > c->capdeferred) {
			c->capdeferred = (c->ndeferred + n) * 2;
			c->deferred = xreallocarray(c->deferred,
			    c->capdeferred, sizeof(*c->deferred));
		}
		memcpy(&c->deferred[c->ndeferred], reqs, n * sizeof(*reqs));
		c->ndeferred += n;
		return;
	}
	for (size_t i = 0; i < n; i++)
		handle_one(c, reqs[i]);
	flush(c);
}

static void
serve_deferred(struct ctl *c)
{
	struct api_req **reqs = c->deferred;
	size_t n = c->ndeferred;

	c->deferred = NULL;
	c->ndeferred = c->capdeferred = 0;
	if (n > 0)
		ctl_batch(c, reqs, n);
	free(reqs);
}

/* Start-up and unlock. */

static int
after_unlock(struct ctl *c)
{
	uint64_t max_hlc;
	int rc;

	store_set_key(c->env.store, vault_storage_key(c->env.vault));
	if ((rc = store_begin(c->env.store)) != 0)
		return rc;
	rc = store_circle_private(c->env.store, &c->circle);
	if (rc == SAMEN_ENOTFOUND) {
		/* First unlock: this device's own private circle. */
		memset(&c->circle, 0, sizeof(c->circle));
		randombytes_buf(c->circle.id, sizeof(c->circle.id));
		randombytes_buf(c->circle.key, sizeof(c->circle.key));
		c->circle.epoch = 1;
		c->circle.name = xstrdup("private");
		rc = store_circle_put_private(c->env.store, &c->circle);
	}
	if (rc == 0)
		rc = store_merge_pending(c->env.store, NULL, NULL);
	if (rc == 0)
		rc = store_commit(c->env.store);
	if (rc != 0) {
		store_rollback(c->env.store);
		store_circle_clear(&c->circle);
		return rc;
	}
	c->have_circle = 1;
	if ((rc = store_max_hlc(c->env.store, &max_hlc)) != 0)
		return rc;
	/* Never issue a timestamp below one already used, even if the wall
	 * clock went back while we were down. */
	hlc_init(&c->clock, max_hlc);
	start_load(c);
	if ((rc = refresh_circles(c)) != 0)
		return rc;
	read_default(c);
	if (c->env.unlocked != NULL)
		c->env.unlocked(c->env.unlocked_arg);
	return 0;
}

int
ctl_unlock_now(struct ctl *c, const char *passphrase, size_t len)
{
	struct keywrap_secrets s;
	int rc;

	if ((rc = vault_try(c->env.vault, passphrase, len, &s)) != 0)
		return rc;
	vault_install(c->env.vault, &s);
	return after_unlock(c);
}

int
ctl_busy(const struct ctl *c)
{
	return c->unlocking;
}

struct ctl *
ctl_new(const struct ctl_env *env)
{
	struct ctl *c = xcalloc(1, sizeof(*c));

	c->env = *env;
	c->started_ms = wall_ms();
	hlc_init(&c->clock, 0);
	wire_init(&c->scratch);
	return c;
}

void
ctl_close(struct ctl *c)
{
	c->closing = 1;
	c->env.durable = NULL;	/* closed first (main.c, stop) */
	if (c->load != NULL)
		atomic_store(&c->load->stop, 1);
	for (size_t i = 0; i < c->ndeferred; i++)
		api_reply(c->deferred[i], -ESHUTDOWN, "samend is shutting down",
		    NULL, 0);
	c->ndeferred = 0;
}

void
ctl_free(struct ctl *c)
{
	if (c == NULL)
		return;
	assert(c->load == NULL);
	if (c->have_circle)
		store_circle_clear(&c->circle);
	store_circle_list_free(c->circles, c->ncircles);
	views_free(c);
	free(c->held);
	for (size_t i = c->wfirst; i < c->nwaiting; i++) {
		free(c->waiting[i].msg);
		wire_free(&c->waiting[i].body);
	}
	free(c->waiting);
	free(c->touched);
	groups_free(c);
	wire_free(&c->scratch);
	free(c->deferred);
	free(c->reload);
	free(c);
}
