/* trail_query: the read audit opened by admins: samen audit's timeline and a record's trail for the subject export. */
#include "trail.h"
#include "trail_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "keyring.h"
#include "log.h"
#include "sync.h"
#include "util.h"
#include "vault.h"

/* The audit secrets of one circle this device holds, and what they open. */
struct opener {
	uint8_t circle[CS_CIRCLELEN];
	uint8_t key[CS_KEYLEN];		/* the audit chain's chunks */
	/* Every audit secret sealed to us, with its public key. */
	struct secret {
		uint8_t pk[32];
		uint8_t sk[32];
	} *sec;				/* sodium_allocarray */
	size_t nsec;
	/* Shared keys of the boxes opened so far, by (hint, ephemeral). */
	struct shared {
		uint8_t id[AUDIT_HINTLEN + 32];
		uint8_t k[AUDIT_KEYLEN];
		int ok;			/* 0: no secret of ours opens it */
	} *sh;				/* sodium_allocarray, sorted by id */
	size_t nsh, capsh;
};

static void
opener_free(struct opener *o)
{
	if (o->sec != NULL)
		sodium_free(o->sec);
	if (o->sh != NULL)
		sodium_free(o->sh);
	sodium_memzero(o->key, sizeof(o->key));
	memset(o, 0, sizeof(*o));
}

/*
 * Every audit secret of circle ci sealed to us, opened.  0 with o ready;
 * SAMEN_ENOTFOUND if there is none (not an admin, or a demoted one that
 * is still asked about is refused before).
 */
static int
opener_init(struct trail *t, const struct circle_info *ci, struct opener *o)
{
	const struct roster_seal *seals;
	const uint8_t *me = vault_public_key(t->env.vault);
	size_t n, k = 0;

	memset(o, 0, sizeof(*o));
	memcpy(o->circle, ci->id, CS_CIRCLELEN);
	sync_audit_key(o->key, ci->id);
	if (ci->r == NULL)
		return SAMEN_ENOTFOUND;
	seals = roster_seals(ci->r, me, &n);
	for (size_t i = 0; i < n; i++)
		k += seals[i].epoch == ROSTER_AUDIT_EPOCH;
	if (k == 0)
		return SAMEN_ENOTFOUND;
	if ((o->sec = sodium_allocarray(k, sizeof(*o->sec))) == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < n; i++) {
		struct secret *s = &o->sec[o->nsec];

		if (seals[i].epoch != ROSTER_AUDIT_EPOCH ||
		    keyring_open(s->sk, &seals[i], me,
		    vault_sign_sk(t->env.vault)) != 0 ||
		    crypto_scalarmult_base(s->pk, s->sk) != 0)
			continue;
		o->nsec++;
	}
	if (o->nsec == 0) {
		opener_free(o);
		return SAMEN_ENOTFOUND;
	}
	return 0;
}

/* The shared key of box b: made with the secret its hint names, once. */
static const struct shared *
shared_of(struct opener *o, const struct audit_box *b)
{
	uint8_t id[AUDIT_HINTLEN + 32];
	struct shared *s;
	size_t lo = 0, hi = o->nsh;

	memcpy(id, b->hint, AUDIT_HINTLEN);
	memcpy(id + AUDIT_HINTLEN, b->eph, 32);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = memcmp(o->sh[mid].id, id, sizeof(id));

		if (d == 0)
			return &o->sh[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (o->nsh == o->capsh) {
		size_t cap = o->capsh ? 2 * o->capsh : 16;
		struct shared *grown = sodium_allocarray(cap, sizeof(*grown));

		if (grown == NULL)
			fatalx("out of memory");
		if (o->nsh > 0)
			memcpy(grown, o->sh, o->nsh * sizeof(*grown));
		if (o->sh != NULL)
			sodium_free(o->sh);
		o->sh = grown;
		o->capsh = cap;
	}
	memmove(&o->sh[lo + 1], &o->sh[lo], (o->nsh - lo) * sizeof(*o->sh));
	s = &o->sh[lo];
	o->nsh++;
	memcpy(s->id, id, sizeof(id));
	s->ok = 0;
	for (size_t i = 0; i < o->nsec && !s->ok; i++)
		if (audit_box_for(b, o->sec[i].pk))
			s->ok = crypto_box_beforenm(s->k, b->eph,
			    o->sec[i].sk) == 0;
	return s;
}

/* What a walk over a chain collects into. */
struct walk {
	struct trail_list *out;
	const struct trail_query *q;
	struct opener *o;
	int (*keep)(const struct walk *, const struct audit_rec *);
	const struct store_epoch_key *keys;	/* a data chain's */
	size_t nkeys;
	uint64_t refused;			/* blocks not theirs */
};

static int
cmp_entry(const void *pa, const void *pb)
{
	const struct trail_entry *a = pa, *b = pb;
	int d;

	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	if ((d = memcmp(a->device, b->device, 32)) != 0)
		return d;
	if (a->action != b->action)
		return a->action == TRAIL_WRITE ? -1 : 1;
	return strcmp(a->what, b->what);
}

static void
entry_free(struct trail_entry *e)
{
	free(e->recs);
	e->recs = NULL;
	e->nrecs = 0;
}

void
trail_list_free(struct trail_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		entry_free(&l->e[i]);
	free(l->e);
	memset(l, 0, sizeof(*l));
}

/* Sorts l and keeps its oldest TRAIL_QUERY_MAX. */
static void
list_trim(struct trail_list *l)
{
	if (l->n > 1)
		qsort(l->e, l->n, sizeof(*l->e), cmp_entry);
	if (l->n <= TRAIL_QUERY_MAX)
		return;
	for (size_t i = TRAIL_QUERY_MAX; i < l->n; i++)
		entry_free(&l->e[i]);
	l->n = TRAIL_QUERY_MAX;
	l->truncated = 1;
}

/* A new entry at the end of l (sorted and trimmed when it grows). */
static struct trail_entry *
list_add(struct trail_list *l)
{
	struct trail_entry *e;

	if (l->n >= 2 * TRAIL_QUERY_MAX)
		list_trim(l);
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->e = xreallocarray(l->e, l->cap, sizeof(*l->e));
	}
	e = &l->e[l->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* Keeps every record: the timeline of a whole circle. */
static int
keep_all(const struct walk *w, const struct audit_rec *r)
{
	(void)w;
	(void)r;
	return 1;
}

/* Keeps the record the query names. */
static int
keep_named(const struct walk *w, const struct audit_rec *r)
{
	return memcmp(r->rid, w->q->rid, RID_LEN) == 0 &&
	    strcmp(r->collection, w->q->collection) == 0;
}

/*
 * The entry of one event, with the records w keeps: none, no entry,
 * unless the event had none (a search that found nothing) and the
 * question names no record.
 */
static void
add_read(struct walk *w, const struct cs_header *h,
    const struct audit_event *ev)
{
	struct trail_entry *e;
	size_t k = 0;

	if (ev->hlc < w->q->since)
		return;
	for (size_t i = 0; i < ev->nrecs; i++)
		k += w->keep(w, &ev->recs[i]);
	if (k == 0 && (ev->nrecs > 0 || w->q->has_record))
		return;
	e = list_add(w->out);
	e->hlc = ev->hlc;
	memcpy(e->device, h->author, 32);
	memcpy(e->circle, w->o->circle, CS_CIRCLELEN);
	e->action = TRAIL_READ;
	e->what = audit_action_name(ev->action);
	e->recs = xreallocarray(NULL, k ? k : 1, sizeof(*e->recs));
	for (size_t i = 0; i < ev->nrecs; i++)
		if (w->keep(w, &ev->recs[i]))
			e->recs[e->nrecs++] = ev->recs[i];
}

/* One chunk of an audit change set: its box opened, its events taken. */
static void
read_box(struct walk *w, const struct cs_header *h, const struct cs_chunk *c)
{
	const struct shared *s;
	struct audit_block blk;
	struct audit_box box;
	uint8_t *outer, *plain;
	size_t olen, plen;

	if (changeset_chunk_open(&outer, &olen, h, c, w->o->key) != 0)
		return;
	if (audit_box_parse(&box, outer, olen) != 0 ||
	    !(s = shared_of(w->o, &box))->ok ||
	    audit_box_open(&plain, &plen, &box, s->k) != 0) {
		free(outer);
		return;
	}
	if (audit_block_decode(&blk, plain, plen) == 0) {
		/* Sealed by its author, for this circle: else not counted. */
		if (memcmp(blk.device, h->author, 32) != 0 ||
		    memcmp(blk.circle, w->o->circle, CS_CIRCLELEN) != 0)
			w->refused++;
		else
			for (size_t i = 0; i < blk.nevents; i++)
				add_read(w, h, &blk.events[i]);
		audit_block_free(&blk);
	}
	sodium_memzero(plain, plen);
	free(plain);
	free(outer);
}

/* Filters a change set by its header: author and time (events are older
 * than their change set, writes as old). */
static int
header_kept(const struct walk *w, const struct cs_header *h)
{
	if (w->q->has_device && memcmp(h->author, w->q->device, 32) != 0)
		return 0;
	return h->hlc >= w->q->since;
}

/* store_chain_each over an audit chain. */
static int
reads_cb(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct walk *w = arg;
	struct cs_payload pl;
	struct cs_header h;

	if (changeset_header_decode(&h, hdr, hdr_len) != 0 ||
	    !header_kept(w, &h))
		return 0;
	if (changeset_payload_decode(&pl, payload, payload_len) != 0)
		return 0;
	for (uint32_t i = 0; i < pl.nchunks; i++)
		if (!pl.chunks[i].purged)
			read_box(w, &h, &pl.chunks[i]);
	changeset_payload_free(&pl);
	return 0;
}

static int
walk_reads(struct trail *t, struct walk *w)
{
	uint8_t chain[CS_CIRCLELEN];
	char hex[2 * CS_CIRCLELEN + 1];
	int rc;

	sync_audit_circle(chain, w->o->circle);
	rc = store_chain_each(t->env.store, chain, reads_cb, w);
	if (w->refused > 0) {
		hex_encode(hex, w->o->circle, CS_CIRCLELEN);
		log_warnx("circle %.8s: %llu audit blocks sealed for another "
		    "circle or author were not counted", hex,
		    (unsigned long long)w->refused);
		w->refused = 0;
	}
	return rc;
}

/* Writes. */

/*
 * One change set's part of a history, h[0..n) (its entries are adjacent),
 * as a person names it; *alive is the existence before it, and after.
 */
static const char *
write_kind(const struct store_hist *h, size_t n, int *alive)
{
	const char *what = "update";

	for (size_t i = 0; i < n; i++) {
		if (h[i].kind != OP_EXIST)
			continue;
		if (!h[i].alive)
			what = "delete";
		else if (h[i].nrefs == 0)
			what = "create";
		else if (!*alive)
			what = "restore";
		*alive = h[i].alive;
	}
	return what;
}

/* The writes of record rec (its history) that q keeps, into out. */
static int
record_writes(struct trail *t, const struct store_record *rec,
    const struct trail_query *q, struct trail_list *out)
{
	struct store_hist *h;
	size_t nh, i, j;
	int alive = 1, rc;

	if ((rc = store_history(t->env.store, rec->rkey, &h, &nh)) != 0)
		return rc;
	for (i = 0; i < nh; i = j) {
		const char *what;
		struct trail_entry *e;

		for (j = i + 1; j < nh && h[j].seq == h[i].seq &&
		    memcmp(h[j].author, h[i].author, 32) == 0; j++)
			;
		what = write_kind(&h[i], j - i, &alive);
		if (h[i].hlc < q->since || (q->has_device &&
		    memcmp(h[i].author, q->device, 32) != 0))
			continue;
		e = list_add(out);
		e->hlc = h[i].hlc;
		memcpy(e->device, h[i].author, 32);
		memcpy(e->circle, rec->circle, CS_CIRCLELEN);
		e->action = TRAIL_WRITE;
		e->what = what;
		e->recs = xcalloc(1, sizeof(*e->recs));
		snprintf(e->recs[0].collection, sizeof(e->recs[0].collection),
		    "%s", rec->collection);
		memcpy(e->recs[0].rid, rec->rid, RID_LEN);
		e->nrecs = 1;
	}
	store_history_free(h, nh);
	return 0;
}

/* What one chunk of a data change set writes: create, update, delete. */
static const char *
chunk_kind(const struct ops_chunk *oc)
{
	for (uint32_t i = 0; i < oc->nops; i++)
		if (oc->ops[i].type == OP_EXIST)
			return !oc->ops[i].alive ? "delete" :
			    oc->ops[i].nrefs == 0 ? "create" : "update";
	return "update";
}

/* store_chain_each over a data chain: one entry per change set. */
static int
writes_cb(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct walk *w = arg;
	struct trail_entry *e = NULL;
	const uint8_t *key = NULL;
	struct cs_payload pl;
	struct cs_header h;
	struct ops_chunk oc;
	uint8_t *plain;
	size_t plen;

	if (changeset_header_decode(&h, hdr, hdr_len) != 0 ||
	    !header_kept(w, &h))
		return 0;
	for (size_t i = 0; i < w->nkeys; i++)
		if (w->keys[i].epoch == h.epoch)
			key = w->keys[i].key;
	if (key == NULL ||
	    changeset_payload_decode(&pl, payload, payload_len) != 0)
		return 0;
	for (uint32_t i = 0; i < pl.nchunks; i++) {
		const char *what;

		if (pl.chunks[i].purged || changeset_chunk_read(&plain, &plen,
		    &oc, &h, &pl.chunks[i], key) != 0)
			continue;
		what = chunk_kind(&oc);
		if (e == NULL) {
			e = list_add(w->out);
			e->hlc = h.hlc;
			memcpy(e->device, h.author, 32);
			memcpy(e->circle, w->o->circle, CS_CIRCLELEN);
			e->action = TRAIL_WRITE;
			e->what = what;
			e->recs = xreallocarray(NULL, pl.nchunks,
			    sizeof(*e->recs));
		} else if (strcmp(e->what, what) != 0)
			e->what = "write";
		snprintf(e->recs[e->nrecs].collection,
		    sizeof(e->recs[0].collection), "%.*s",
		    (int)oc.collection_len, oc.collection);
		memcpy(e->recs[e->nrecs].rid, oc.rid, RID_LEN);
		e->nrecs++;
		ops_chunk_free(&oc);
		sodium_memzero(plain, plen);
		free(plain);
	}
	changeset_payload_free(&pl);
	return 0;
}

#define TRAIL_MAX_EPOCHS 16

static int
walk_writes(struct trail *t, struct walk *w)
{
	struct store_epoch_key *keys;
	size_t n = 0;
	int rc;

	keys = sodium_allocarray(TRAIL_MAX_EPOCHS, sizeof(*keys));
	if (keys == NULL)
		fatalx("out of memory");
	rc = store_chain_keys(t->env.store, w->o->circle, keys,
	    TRAIL_MAX_EPOCHS, &n);
	if (rc == 0) {
		w->keys = keys;
		w->nkeys = n;
		rc = store_chain_each(t->env.store, w->o->circle, writes_cb, w);
	}
	sodium_free(keys);
	w->keys = NULL;
	w->nkeys = 0;
	return rc;
}

/* Queries. */

/* 1 if this device is a current admin of ci. */
static int
admin_of(const struct circle_info *ci)
{
	return ci->r != NULL && ci->role == ROSTER_ADMIN &&
	    ci->state == ROSTER_CURRENT;
}

static int
storage_fail(char **cause, int rc)
{
	return samen_fail(cause, rc, "storage error: %s", samen_strerror(rc));
}

/*
 * The reads (and, with writes, the writes of every change set) of one
 * circle that q keeps.
 */
static int
query_circle(struct trail *t, const struct circle_info *ci,
    const struct trail_query *q, int writes, struct trail_list *out,
    char **cause)
{
	struct opener o;
	struct walk w;
	int rc;

	if (opener_init(t, ci, &o) != 0)
		return samen_fail(cause, SAMEN_EINVAL, "only an admin of '%s' "
		    "can read its audit: this device holds no audit key of it",
		    ci->name);
	memset(&w, 0, sizeof(w));
	w.out = out;
	w.q = q;
	w.o = &o;
	w.keep = q->has_record ? keep_named : keep_all;
	rc = walk_reads(t, &w);
	if (rc == 0 && writes)
		rc = walk_writes(t, &w);
	opener_free(&o);
	return rc != 0 ? storage_fail(cause, rc) : 0;
}

int
trail_query(struct trail *t, const struct trail_query *q,
    const struct store_record *rec, struct trail_list *out, char **cause)
{
	const struct circle_info *ci;
	size_t n, asked = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	ci = circle_list(t->env.circle, &n);
	if (rec != NULL) {
		const struct circle_info *in = trail_info_of(t, rec->circle);

		if (in == NULL || !admin_of(in)) {
			char id[RID_TEXTLEN + 1];

			rid_encode(id, q->rid);
			return samen_fail(cause, SAMEN_EINVAL, "only an admin "
			    "of the circle of %s %s can read who read it",
			    q->collection, id);
		}
		if ((rc = query_circle(t, in, q, 0, out, cause)) == 0 &&
		    (rc = record_writes(t, rec, q, out)) != 0)
			rc = storage_fail(cause, rc);
	} else
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (!admin_of(&ci[i]))
				continue;
			asked++;
			rc = query_circle(t, &ci[i], q, !q->has_record, out,
			    cause);
		}
	if (rc == 0 && rec == NULL && asked == 0)
		rc = samen_fail(cause, SAMEN_EINVAL, "only a circle's admins "
		    "can read its audit, and this device is an admin of none");
	if (rc != 0) {
		trail_list_free(out);
		return rc;
	}
	list_trim(out);
	return 0;
}

/* The subject export's trail. */

void
trail_cache_drop(struct trail *t)
{
	if (t->cache.valid)
		trail_list_free(&t->cache.reads);
	t->cache.valid = 0;
}


/* Every read of circle ci, kept while nothing is committed. */
static const struct trail_list *
circle_reads(struct trail *t, const struct circle_info *ci, int *rc)
{
	struct trail_query all;
	char *cause = NULL;
	uint64_t commits = store_wal_commits(t->env.store);

	*rc = 0;
	if (t->cache.valid && t->cache.commits == commits &&
	    memcmp(t->cache.circle, ci->id, CS_CIRCLELEN) == 0)
		return t->cache.readable ? &t->cache.reads : NULL;
	trail_cache_drop(t);
	memset(&all, 0, sizeof(all));
	memcpy(t->cache.circle, ci->id, CS_CIRCLELEN);
	t->cache.commits = commits;
	t->cache.readable = 0;
	if (admin_of(ci)) {
		*rc = query_circle(t, ci, &all, 0, &t->cache.reads, &cause);
		if (*rc == SAMEN_EINVAL)	/* no audit key: the writes */
			*rc = 0;
		else if (*rc == 0)
			t->cache.readable = 1;
		free(cause);
	}
	if (*rc != 0)
		return NULL;
	t->cache.valid = 1;
	return t->cache.readable ? &t->cache.reads : NULL;
}

static int
cmp_event(const void *pa, const void *pb)
{
	const struct trail_event *a = pa, *b = pb;

	if (a->hlc != b->hlc)
		return a->hlc < b->hlc ? -1 : 1;
	return memcmp(a->device, b->device, 32);
}

int
trail_events(struct ctl_parts *p, const struct store_record *rec,
    struct trail_event **out, size_t *n, char **cause)
{
	struct trail *t = p->trail;
	const struct trail_list *reads = NULL;
	const struct circle_info *ci;
	struct trail_query q;
	struct trail_list w;
	struct trail_event *ev;
	size_t k = 0, cap;
	int rc;

	*out = NULL;
	*n = 0;
	memset(&q, 0, sizeof(q));
	q.has_record = 1;
	snprintf(q.collection, sizeof(q.collection), "%s", rec->collection);
	memcpy(q.rid, rec->rid, RID_LEN);
	memset(&w, 0, sizeof(w));
	if ((rc = record_writes(t, rec, &q, &w)) != 0)
		return storage_fail(cause, rc);
	if ((ci = trail_info_of(t, rec->circle)) != NULL &&
	    (reads = circle_reads(t, ci, &rc)) == NULL && rc != 0) {
		trail_list_free(&w);
		return storage_fail(cause, rc);
	}
	cap = w.n + (reads != NULL ? reads->n : 0);
	ev = xreallocarray(NULL, cap ? cap : 1, sizeof(*ev));
	for (size_t i = 0; i < w.n; i++) {
		ev[k].hlc = w.e[i].hlc;
		memcpy(ev[k].device, w.e[i].device, 32);
		ev[k].action = TRAIL_WRITE;
		ev[k].what = w.e[i].what;
		k++;
	}
	for (size_t i = 0; reads != NULL && i < reads->n; i++) {
		const struct trail_entry *e = &reads->e[i];
		int names = 0;

		for (size_t j = 0; j < e->nrecs && !names; j++)
			names = memcmp(e->recs[j].rid, rec->rid, RID_LEN) == 0 &&
			    strcmp(e->recs[j].collection, rec->collection) == 0;
		if (!names)
			continue;
		ev[k].hlc = e->hlc;
		memcpy(ev[k].device, e->device, 32);
		ev[k].action = TRAIL_READ;
		ev[k].what = e->what;
		k++;
	}
	trail_list_free(&w);
	/* Writes come in history order; reads by chain: one timeline. */
	if (k > 1)
		qsort(ev, k, sizeof(*ev), cmp_event);
	*out = ev;
	*n = k;
	return 0;
}
