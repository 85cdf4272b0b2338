/* store_fresh: the records this transaction created, kept in plaintext as the merge wrote them, so that loading them needs no SQL. */
#include "store_int.h"

#include <stdlib.h>

#include "util.h"

/*
 * The fresh cache (struct store's fresh) lives in three arrays that only
 * grow within a transaction: its records, their values (a record's are
 * contiguous: all come from the chunk that created it) and the bytes of
 * their strings.  Per-value allocations, made during the merge and freed
 * at the index refresh, would leave the packed records built in between
 * scattered over a heap full of holes (14 MiB more resident after an
 * initial sync of 100k cases).  A record is built from the buffer's
 * strings in place (each is followed by a NUL): only its packed copy is
 * allocated.
 */
struct fresh_val {
	struct item it;			/* its field and value NULL */
	size_t field, value;		/* their offsets in fresh.buf */
};

struct fresh_rec {
	int64_t rkey;
	uint8_t rid[RID_LEN];
	uint8_t circle[CS_CIRCLELEN];
	size_t coll, coll_len;		/* offset into fresh.buf */
	int has_range;
	uint64_t created, updated;	/* of every value added */
	size_t first, n;		/* its live values in fresh.v */
	int stale;
};

/* Enough for a batch of sync or of local writes, not for a rebuild. */
#define FRESH_MAX 65536
/* Values' room kept between transactions (a group of sync batches). */
#define FRESH_KEEP 8192

static void
fresh_release(struct store *st)
{
	free(st->fresh.r);
	free(st->fresh.v);
	free(st->fresh.buf);
	st->fresh.r = NULL;
	st->fresh.v = NULL;
	st->fresh.buf = NULL;
	st->fresh.capr = st->fresh.capv = st->fresh.cap = 0;
}

/*
 * Empties the cache; off: and keeps it off until the next store_begin.
 * Its arrays are kept for the next transaction, unless a big one (a merge
 * at unlock, a rebuild) left them large.
 */
void
store_fresh_clear(struct store *st, int off)
{
	if (st->fresh.len > 0)
		sodium_memzero(st->fresh.buf, st->fresh.len);
	st->fresh.n = st->fresh.nv = st->fresh.len = 0;
	st->fresh.off = off;
	st->rec.fr = NO_FRESH;
	if (st->fresh.capv > FRESH_KEEP)
		fresh_release(st);
}

/* Frees what store_fresh_clear keeps for the next transaction. */
void
store_fresh_free(struct store *st)
{
	store_fresh_clear(st, 1);
	fresh_release(st);
}

/*
 * Copies n bytes of s into fresh.buf, and a NUL after them (fresh_take
 * builds from the buffer's strings in place); returns their offset.
 */
static size_t
fresh_bytes(struct store *st, const char *s, size_t n)
{
	size_t at = st->fresh.len;

	if (at + n + 1 > st->fresh.cap) {
		size_t cap = st->fresh.cap ? st->fresh.cap : 4096;
		char *nb;

		while (cap < at + n + 1)
			cap *= 2;
		/* Moved by hand, so that the old copy is wiped. */
		nb = xmalloc(cap);
		if (at > 0) {
			memcpy(nb, st->fresh.buf, at);
			sodium_memzero(st->fresh.buf, at);
		}
		free(st->fresh.buf);
		st->fresh.buf = nb;
		st->fresh.cap = cap;
	}
	if (n > 0)
		memcpy(st->fresh.buf + at, s, n);
	st->fresh.buf[at + n] = '\0';
	st->fresh.len += n + 1;
	return at;
}

static struct fresh_rec *
fresh_find(struct store *st, int64_t rkey)
{
	size_t lo = 0, hi = st->fresh.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (st->fresh.r[mid].rkey == rkey)
			return &st->fresh.r[mid];
		if (st->fresh.r[mid].rkey < rkey)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Notes that the merge resolved the cached record st->rec (created: as a
 * new record, given the next rkey), and where its values go: into the
 * cache for a record this transaction created, nowhere for others.
 */
void
store_fresh_resolved(struct store *st, const struct merge_rec *rec, int created)
{
	struct fresh_rec *f;

	st->rec.fr = NO_FRESH;
	if (st->fresh.off)
		return;
	if (!st->in_txn) {
		/* Nothing may be served that a later write could outdate. */
		store_fresh_clear(st, 1);
		return;
	}
	if (!created) {
		if ((f = fresh_find(st, st->rec.rkey)) != NULL)
			f->stale = 1;
		return;
	}
	if (st->fresh.n > 0 &&
	    st->fresh.r[st->fresh.n - 1].rkey >= st->rec.rkey) {
		store_fresh_clear(st, 1);	/* not in order: do without */
		return;
	}
	if (st->fresh.n == st->fresh.capr) {
		st->fresh.capr = st->fresh.capr ? st->fresh.capr * 2 : 64;
		st->fresh.r = xreallocarray(st->fresh.r, st->fresh.capr,
		    sizeof(*st->fresh.r));
	}
	f = &st->fresh.r[st->fresh.n];
	memset(f, 0, sizeof(*f));
	f->rkey = st->rec.rkey;
	memcpy(f->rid, rec->rid, RID_LEN);
	memcpy(f->circle, rec->circle, CS_CIRCLELEN);
	f->coll = fresh_bytes(st, rec->collection, rec->collection_len);
	f->coll_len = rec->collection_len;
	f->first = st->fresh.nv;
	st->rec.fr = st->fresh.n++;
}

/* Notes value v, just added to the cached record (live: as a live row). */
void
store_fresh_added(struct store *st, const struct merge_value *v, int live)
{
	struct fresh_rec *f;
	struct fresh_val *x;

	if (st->rec.fr == NO_FRESH)
		return;
	f = &st->fresh.r[st->rec.fr];
	if (f->stale)
		return;
	if (!f->has_range) {
		f->created = f->updated = v->hlc;
		f->has_range = 1;
	} else if (v->hlc < f->created)
		f->created = v->hlc;
	else if (v->hlc > f->updated)
		f->updated = v->hlc;
	if (!live)
		return;
	/* Its values must stay contiguous: it was the last one added. */
	if (st->fresh.nv >= FRESH_MAX || st->rec.fr != st->fresh.n - 1 ||
	    f->first + f->n != st->fresh.nv) {
		store_fresh_clear(st, 1);
		return;
	}
	if (st->fresh.nv == st->fresh.capv) {
		st->fresh.capv = st->fresh.capv ? st->fresh.capv * 2 : 256;
		st->fresh.v = xreallocarray(st->fresh.v, st->fresh.capv,
		    sizeof(*st->fresh.v));
	}
	x = &st->fresh.v[st->fresh.nv++];
	f->n++;
	memset(x, 0, sizeof(*x));
	x->it.kind = v->kind;
	memcpy(x->it.vid, v->vid, VID_LEN);
	x->it.hlc = v->hlc;
	memcpy(x->it.author, v->author, 32);
	x->it.seq = v->seq;
	x->it.nrefs = v->nrefs;
	x->it.alive = v->alive != 0;
	x->field = fresh_bytes(st, v->field, v->field_len);
	x->it.field_len = v->field_len;
	if (v->kind != OP_EXIST) {
		x->value = fresh_bytes(st, v->value, v->value_len);
		x->it.value_len = v->value_len;
	}
}

void
store_fresh_stale(struct store *st)
{
	if (st->rec.fr != NO_FRESH)
		st->fresh.r[st->rec.fr].stale = 1;
}

/* The record f caches (which goes stale: it is handed out once). */
static struct store_record *
fresh_take(struct store *st, struct fresh_rec *f)
{
	struct store_record *r = xcalloc(1, sizeof(*r));
	struct item *it = xcalloc(f->n ? f->n : 1, sizeof(*it));
	char *buf = st->fresh.buf;

	/* Its strings are the buffer's (NUL-terminated), borrowed. */
	r->rkey = f->rkey;
	memcpy(r->rid, f->rid, RID_LEN);
	memcpy(r->circle, f->circle, CS_CIRCLELEN);
	r->collection = buf + f->coll;
	r->created = f->created;
	r->updated = f->updated;
	for (size_t i = 0; i < f->n; i++) {
		const struct fresh_val *x = &st->fresh.v[f->first + i];

		it[i] = x->it;
		it[i].field = buf + x->field;
		if (x->it.kind != OP_EXIST)
			it[i].value = buf + x->value;
	}
	f->stale = 1;
	return store_record_build(r, it, f->n, 1);
}

void
store_fresh_take(struct store *st, const int64_t *rkeys, size_t n,
    struct store_record **out)
{
	for (size_t i = 0; i < n; i++) {
		struct fresh_rec *f = fresh_find(st, rkeys[i]);

		out[i] = f != NULL && !f->stale ? fresh_take(st, f) : NULL;
	}
	store_fresh_clear(st, 1);
}
