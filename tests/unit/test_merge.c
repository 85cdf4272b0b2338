/* test_merge: the CRDT rules against an in-memory replica, in every order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "changeset.h"
#include "hlc.h"
#include "merge.h"
#include "ops.h"
#include "util.h"
#include "wire.h"

/*
 * The in-memory replica: grow-only sets of values and kills, as merge.h
 * describes, with a live flag per value and the digest kept up to date.
 * Fixed arrays and an open-addressing index by vid keep a permutation
 * cheap: the exhaustive test merges some 40000 orders.
 */
#define TVALUE_MAX 32
#define RMAXV 256
#define RMAXK 512
#define RSLOTS 1024	/* power of two, over twice RMAXK */

/* All bytes, no padding: memcmp compares and orders keys. */
struct tkey {
	uint8_t circle[CS_CIRCLELEN];
	uint8_t rid[RID_LEN];
	uint8_t coll_len;
	char coll[OPS_MAX_COLLECTION];
	uint8_t kind;
	uint8_t field_len;
	char field[OPS_MAX_FIELD];
};

struct tval {
	struct tkey key;
	uint64_t keyhash;	/* orders groups cheaply in the materialiser */
	uint8_t vid[VID_LEN];
	uint8_t author[32];
	uint64_t hlc;
	char value[TVALUE_MAX];
	size_t value_len;
	int alive;
	int live;
};

struct tkill {
	struct tkey key;
	uint8_t vid[VID_LEN];
};

struct replica {
	struct tval v[RMAXV];
	struct tkill k[RMAXK];
	size_t nv, nk;
	uint16_t vslot[RSLOTS];	/* 1 + index into v; 0 is empty */
	uint16_t kslot[RSLOTS];
	struct merge_digest d;
};

static void
replica_reset(struct replica *r)
{
	r->nv = r->nk = 0;
	memset(r->vslot, 0, sizeof(r->vslot));
	memset(r->kslot, 0, sizeof(r->kslot));
	merge_digest_init(&r->d);
}

static size_t
slot0(const uint8_t *vid)
{
	return (vid[0] | (size_t)vid[1] << 8) & (RSLOTS - 1);
}

static void
key_make(struct tkey *k, const struct merge_rec *rec, enum op_type kind,
    const char *field, size_t field_len)
{
	assert_in_range(rec->collection_len, 1, OPS_MAX_COLLECTION);
	assert_in_range(field_len, 0, OPS_MAX_FIELD);
	memset(k, 0, sizeof(*k));
	memcpy(k->circle, rec->circle, CS_CIRCLELEN);
	memcpy(k->rid, rec->rid, RID_LEN);
	k->coll_len = (uint8_t)rec->collection_len;
	memcpy(k->coll, rec->collection, rec->collection_len);
	k->kind = (uint8_t)kind;
	k->field_len = (uint8_t)field_len;
	if (field_len)
		memcpy(k->field, field, field_len);
}

/* FNV-1a: any fixed function of the key gives a canonical group order. */
static uint64_t
key_hash(const struct tkey *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static struct tval *
find_value(struct replica *r, const struct tkey *k, const uint8_t *vid)
{
	struct tval *v;
	size_t s;

	for (s = slot0(vid); r->vslot[s]; s = (s + 1) & (RSLOTS - 1)) {
		v = &r->v[r->vslot[s] - 1];
		if (memcmp(v->vid, vid, VID_LEN) == 0 &&
		    memcmp(&v->key, k, sizeof(*k)) == 0)
			return v;
	}
	return NULL;
}

static int
has_kill(struct replica *r, const struct tkey *k, const uint8_t *vid)
{
	struct tkill *x;
	size_t s;

	for (s = slot0(vid); r->kslot[s]; s = (s + 1) & (RSLOTS - 1)) {
		x = &r->k[r->kslot[s] - 1];
		if (memcmp(x->vid, vid, VID_LEN) == 0 &&
		    memcmp(&x->key, k, sizeof(*k)) == 0)
			return 1;
	}
	return 0;
}

static void
slot_put(uint16_t *slots, const uint8_t *vid, size_t index)
{
	size_t s;

	for (s = slot0(vid); slots[s]; s = (s + 1) & (RSLOTS - 1))
		;
	slots[s] = (uint16_t)(index + 1);
}

static int
r_add(void *ctx, const struct merge_value *mv)
{
	struct replica *r = ctx;
	struct tval *v;
	struct tkey k;

	key_make(&k, mv->rec, mv->kind, mv->field, mv->field_len);
	if (find_value(r, &k, mv->vid) != NULL)
		return 0;
	assert_true(r->nv < RMAXV);
	assert_true(mv->value_len <= TVALUE_MAX);
	v = &r->v[r->nv];
	memset(v, 0, sizeof(*v));
	v->key = k;
	v->keyhash = key_hash(&k);
	memcpy(v->vid, mv->vid, VID_LEN);
	memcpy(v->author, mv->author, 32);
	v->hlc = mv->hlc;
	if (mv->value_len)
		memcpy(v->value, mv->value, mv->value_len);
	v->value_len = mv->value_len;
	v->alive = mv->alive;
	v->live = !has_kill(r, &k, mv->vid);
	slot_put(r->vslot, v->vid, r->nv++);
	if (v->live)
		merge_digest_add(&r->d, v->vid);
	return 0;
}

static int
r_kill(void *ctx, const struct merge_rec *rec, enum op_type kind,
    const char *field, size_t field_len, const uint8_t vid[VID_LEN])
{
	struct replica *r = ctx;
	struct tkill *x;
	struct tval *v;
	struct tkey k;

	key_make(&k, rec, kind, field, field_len);
	if (has_kill(r, &k, vid))
		return 0;
	assert_true(r->nk < RMAXK);
	x = &r->k[r->nk];
	x->key = k;
	memcpy(x->vid, vid, VID_LEN);
	slot_put(r->kslot, vid, r->nk++);
	if ((v = find_value(r, &k, vid)) != NULL && v->live) {
		v->live = 0;
		merge_digest_sub(&r->d, vid);
	}
	return 0;
}

static const struct replica_ops rops = { r_add, r_kill };

/* A growing string for the materialised view. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void
sb_put(struct sbuf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void
sb_hex(struct sbuf *b, const uint8_t *p, size_t n)
{
	char hex[2 * 32 + 1];

	hex_encode(hex, p, n);
	sb_put(b, hex, 2 * n);
}

static void
sb_u64(struct sbuf *b, uint64_t v)
{
	char s[20];
	size_t i = sizeof(s);

	do
		s[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	sb_put(b, s + i, sizeof(s) - i);
}

static int
same_key(const struct tval *a, const struct tval *b)
{
	return a->keyhash == b->keyhash &&
	    memcmp(&a->key, &b->key, sizeof(a->key)) == 0;
}

static int
cmp_tval(const void *pa, const void *pb)
{
	const struct tval *a = *(const struct tval *const *)pa;
	const struct tval *b = *(const struct tval *const *)pb;
	int d;

	if (a->keyhash != b->keyhash)
		return a->keyhash < b->keyhash ? -1 : 1;
	if ((d = memcmp(&a->key, &b->key, sizeof(a->key))) != 0)
		return d;
	if (a->value_len != b->value_len)
		return a->value_len < b->value_len ? -1 : 1;
	if ((d = memcmp(a->value, b->value, a->value_len)) != 0)
		return d;
	return memcmp(a->vid, b->vid, VID_LEN);
}

struct view_counts {
	size_t conflicts;	/* SET registers holding distinct values */
	size_t exist_conflicts;	/* the same for existence */
	size_t removed;		/* ADDs killed by a REM */
	size_t add_wins;	/* live elements that a REM also names */
};

/*
 * The materialiser: one line per register or set, in key order.  A register
 * lists merge_order()'s distinct count and every survivor in display order
 * (the shown one first); a set lists its live elements, each once.
 */
static void
materialise(struct replica *r, struct sbuf *b, struct view_counts *vc)
{
	struct tval *live[RMAXV], *t;
	struct merge_survivor s[RMAXV];
	size_t i, j, k, n = 0, ns, distinct;

	b->len = 0;
	sb_put(b, "", 0);	/* an empty view is "", not NULL */
	for (i = 0; i < r->nv; i++)
		if (r->v[i].live && r->v[i].key.kind != OP_REM)
			live[n++] = &r->v[i];
	if (n > 1)
		qsort(live, n, sizeof(live[0]), cmp_tval);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && same_key(live[i], live[j]); j++)
			;
		t = live[i];
		sb_put(b, t->key.coll, t->key.coll_len);
		sb_put(b, "/", 1);
		sb_hex(b, t->key.rid, RID_LEN);
		sb_str(b, t->key.kind == OP_EXIST ? " exist" : " ");
		sb_put(b, t->key.field, t->key.field_len);
		if (t->key.kind == OP_ADD) {
			sb_put(b, " {", 2);
			for (k = i; k < j; k++) {
				/* Sorted by content: repeats are adjacent. */
				if (k > i &&
				    live[k - 1]->value_len == live[k]->value_len &&
				    memcmp(live[k - 1]->value, live[k]->value,
				    live[k]->value_len) == 0)
					continue;
				sb_put(b, " ", 1);
				sb_put(b, live[k]->value, live[k]->value_len);
			}
			sb_put(b, " }\n", 3);
			continue;
		}
		ns = j - i;
		for (k = 0; k < ns; k++) {
			t = live[i + k];
			memset(&s[k], 0, sizeof(s[k]));
			s[k].vid = t->vid;
			s[k].hlc = t->hlc;
			s[k].author = t->author;
			s[k].value = t->key.kind == OP_EXIST ? NULL : t->value;
			s[k].value_len = t->value_len;
			s[k].alive = t->alive;
			s[k].user = t;
		}
		distinct = merge_order(s, ns);
		if (distinct > 1 && vc != NULL) {
			if (live[i]->key.kind == OP_EXIST)
				vc->exist_conflicts++;
			else
				vc->conflicts++;
		}
		sb_put(b, " =", 2);
		sb_u64(b, distinct);
		for (k = 0; k < ns; k++) {
			t = s[k].user;
			sb_put(b, " ", 1);
			if (t->key.kind == OP_EXIST)
				sb_str(b, t->alive ? "alive" : "deleted");
			else
				sb_put(b, t->value, t->value_len);
			sb_put(b, "@", 1);
			sb_u64(b, t->hlc);
			sb_put(b, ":", 1);
			sb_hex(b, t->author, 1);
			sb_put(b, ":", 1);
			sb_hex(b, t->vid, 4);
		}
		sb_put(b, "\n", 1);
	}
}

/* Counts the set cases the random scenarios must exercise. */
static void
count_sets(const struct replica *r, struct view_counts *vc)
{
	const struct tval *t;
	size_t i, k;

	for (i = 0; i < r->nv; i++) {
		struct tkey rem;

		t = &r->v[i];
		if (t->key.kind != OP_ADD)
			continue;
		if (!t->live) {
			vc->removed++;
			continue;
		}
		rem = t->key;
		rem.kind = OP_REM;
		for (k = 0; k < r->nv; k++)
			if (memcmp(&r->v[k].key, &rem, sizeof(rem)) == 0 &&
			    r->v[k].value_len == t->value_len &&
			    memcmp(r->v[k].value, t->value, t->value_len) == 0)
				break;
		if (k < r->nv)
			vc->add_wins++;
	}
}

/*
 * Test change sets: a header filled by hand, a csid derived from author and
 * seq, and chunks that went through ops_encode() and ops_decode().
 */
#define NAUTHORS 3
#define MAXCHUNKS 3
#define MAXOPS 8
#define MAXCS 8

struct tcs {
	struct cs_header h;
	uint8_t csid[CS_IDLEN];
	uint32_t nchunks;
	struct ops_chunk chunk[MAXCHUNKS];
	uint8_t *buf[MAXCHUNKS];
};

struct trec {
	const char *coll;
	uint8_t rid[RID_LEN];
};

/* Records 0 and 1 share a rid but not a collection: two records. */
static const struct trec recs[] = {
	{ "case", { 1, 1 } },
	{ "task", { 1, 1 } },
	{ "case", { 2, 2 } },
};
#define NRECS (sizeof(recs) / sizeof(recs[0]))

static const uint8_t circle[CS_CIRCLELEN] = { 0xc1 };

static void
tcs_init(struct tcs *cs, unsigned author, uint64_t seq, uint64_t hlc)
{
	uint8_t msg[40];

	memset(cs, 0, sizeof(*cs));
	cs->h.version = CS_VERSION;
	/* Author k's key is 32 bytes of 0x11 * (k + 1): ordered by k. */
	memset(cs->h.author, 0x11 * (int)(author + 1), 32);
	memcpy(cs->h.circle, circle, CS_CIRCLELEN);
	cs->h.epoch = 1;
	cs->h.seq = seq;
	cs->h.hlc = hlc;
	memcpy(msg, cs->h.author, 32);
	put_le64(msg + 32, seq);
	crypto_generichash(cs->csid, CS_IDLEN, msg, sizeof(msg), NULL, 0);
}

static void
tcs_chunk(struct tcs *cs, const struct trec *rec, struct op *ops,
    uint32_t nops)
{
	struct ops_chunk c;
	struct wbuf w;
	size_t n;

	assert_true(cs->nchunks < MAXCHUNKS);
	memset(&c, 0, sizeof(c));
	c.collection = rec->coll;
	c.collection_len = strlen(rec->coll);
	memcpy(c.rid, rec->rid, RID_LEN);
	c.ops = ops;
	c.nops = nops;
	wire_init(&w);
	ops_encode(&w, &c);
	cs->buf[cs->nchunks] = wire_take(&w, &n);
	assert_int_equal(ops_decode(&cs->chunk[cs->nchunks],
	    cs->buf[cs->nchunks], n), 0);
	cs->nchunks++;
}

static void
tcs_free(struct tcs *cs)
{
	uint32_t i;

	for (i = 0; i < cs->nchunks; i++) {
		ops_chunk_free(&cs->chunk[i]);
		free(cs->buf[i]);
	}
	cs->nchunks = 0;
}

static void
apply(struct replica *r, const struct tcs *cs)
{
	uint32_t i;

	for (i = 0; i < cs->nchunks; i++)
		assert_int_equal(merge_chunk(&rops, r, &cs->h, cs->csid, i,
		    &cs->chunk[i]), 0);
}

static struct op
mkop(enum op_type t, const char *field, const char *value,
    const uint8_t *refs, uint32_t nrefs)
{
	struct op o;

	memset(&o, 0, sizeof(o));
	o.type = t;
	o.field = field;
	o.field_len = strlen(field);
	o.value = value;
	o.value_len = strlen(value);
	o.refs = refs;
	o.nrefs = nrefs;
	return o;
}

static struct op
mkexist(int alive, const uint8_t *refs, uint32_t nrefs)
{
	struct op o;

	memset(&o, 0, sizeof(o));
	o.type = OP_EXIST;
	o.alive = alive;
	o.refs = refs;
	o.nrefs = nrefs;
	return o;
}

/*
 * Vids of the live values of a register (or of an element's ADDs) in r,
 * as a writer reads them for its pred (or tags).  Returns the count, at
 * most MAXCS: no change set writes a register twice.
 */
static uint32_t
live_vids(struct replica *r, uint8_t *out, const struct trec *rec,
    enum op_type kind, const char *field, const char *element)
{
	struct merge_rec mr = { circle, rec->coll, strlen(rec->coll),
	    rec->rid };
	struct tkey k;
	uint32_t n = 0;
	size_t i;

	key_make(&k, &mr, kind, field, strlen(field));
	for (i = 0; i < r->nv; i++) {
		if (!r->v[i].live ||
		    memcmp(&r->v[i].key, &k, sizeof(k)) != 0)
			continue;
		if (element != NULL && (r->v[i].value_len != strlen(element) ||
		    memcmp(r->v[i].value, element, strlen(element)) != 0))
			continue;
		assert_true(n < MAXCS);
		memcpy(out + (size_t)n++ * VID_LEN, r->v[i].vid, VID_LEN);
	}
	return n;
}

static uint64_t
rnd(uint64_t *s)
{
	/* splitmix64: small, and the seed alone reproduces a run. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct scenario {
	struct tcs cs[MAXCS];
	size_t ncs;
};

/*
 * Three authors write change sets, each against its own view: its own
 * writes, plus, now and then, everything another author has written so far
 * (a sync).  preds and tags name what the writer saw, so concurrent edits,
 * edit-vs-delete and add-vs-remove arise by themselves.
 */
static void
gen_scenario(struct scenario *sc, uint64_t seed, size_t ncs)
{
	static const char *fields[] = { "name", "phone" };
	static const char *elements[] = { "a", "b", "c" };
	static const char *shared[] = { "red", "blue" };
	struct replica *view[NAUTHORS];
	size_t seen[NAUTHORS][MAXCS], nseen[NAUTHORS] = { 0 };
	uint64_t seq[NAUTHORS] = { 0 }, s = seed;
	uint8_t refs[MAXOPS * (MAXCS + 1) * VID_LEN];
	char vals[MAXOPS][32];
	struct op ops[MAXOPS];
	struct tcs *cs;
	size_t i, j, k, nref;
	uint32_t nops, f, nrec, ri, ci;
	unsigned a, b;
	const char *e;

	memset(sc, 0, sizeof(*sc));
	for (a = 0; a < NAUTHORS; a++) {
		view[a] = xcalloc(1, sizeof(*view[a]));
		replica_reset(view[a]);
	}
	for (i = 0; i < ncs; i++) {
		a = (unsigned)(rnd(&s) % NAUTHORS);
		b = (unsigned)(rnd(&s) % NAUTHORS);
		/* Sync: take in every change set of b not yet seen. */
		if (b != a && rnd(&s) % 2) {
			for (j = 0; j < i; j++) {
				if (sc->cs[j].h.author[0] != 0x11 * (b + 1))
					continue;
				for (k = 0; k < nseen[a] && seen[a][k] != j; k++)
					;
				if (k < nseen[a])
					continue;
				apply(view[a], &sc->cs[j]);
				seen[a][nseen[a]++] = j;
			}
		}
		cs = &sc->cs[i];
		/* Few distinct times, so that ties fall to the author. */
		tcs_init(cs, a, ++seq[a], HLC_MAKE(1000 + rnd(&s) % 3, 0));
		nrec = 1 + (uint32_t)(rnd(&s) % 2);
		ri = (uint32_t)(rnd(&s) % NRECS);
		for (ci = 0; ci < nrec; ci++, ri = (ri + 1) % NRECS) {
			const struct trec *rec = &recs[ri];

			nops = 0;
			nref = 0;
			if (rnd(&s) % 3 == 0) {
				/* Mostly an edit's "alive", now and then a delete. */
				k = live_vids(view[a], refs + nref * VID_LEN,
				    rec, OP_EXIST, "", NULL);
				ops[nops++] = mkexist(rnd(&s) % 3 != 0,
				    refs + nref * VID_LEN, (uint32_t)k);
				nref += k;
			}
			for (f = 0; f < 2; f++) {
				if (rnd(&s) % 2)
					continue;
				if (rnd(&s) % 2)
					e = shared[rnd(&s) % 2];
				else {
					snprintf(vals[nops], sizeof(vals[nops]),
					    "v%zu.%u", i, f);
					e = vals[nops];
				}
				k = live_vids(view[a], refs + nref * VID_LEN,
				    rec, OP_SET, fields[f], NULL);
				/* Now and then a blind write. */
				if (rnd(&s) % 8 == 0)
					k = 0;
				/*
				 * Now and then a stray pred: the vid of the
				 * same field in another record.
				 */
				if (rnd(&s) % 4 == 0)
					k += live_vids(view[a], refs +
					    (nref + k) * VID_LEN,
					    &recs[(ri + 1) % NRECS], OP_SET,
					    fields[f], NULL) > 0;
				ops[nops++] = mkop(OP_SET, fields[f], e,
				    refs + nref * VID_LEN, (uint32_t)k);
				nref += k;
			}
			if (rnd(&s) % 2)
				ops[nops++] = mkop(OP_ADD, "tags",
				    elements[rnd(&s) % 3], NULL, 0);
			e = elements[rnd(&s) % 3];
			k = live_vids(view[a], refs + nref * VID_LEN, rec,
			    OP_ADD, "tags", e);
			if (k > 0 && rnd(&s) % 2) {
				ops[nops++] = mkop(OP_REM, "tags", e,
				    refs + nref * VID_LEN, (uint32_t)k);
				nref += k;
			}
			if (nops == 0)
				ops[nops++] = mkop(OP_SET, "name", "red",
				    NULL, 0);
			tcs_chunk(cs, rec, ops, nops);
		}
		apply(view[a], cs);
		seen[a][nseen[a]++] = i;
	}
	sc->ncs = ncs;
	for (a = 0; a < NAUTHORS; a++)
		free(view[a]);
}

static void
scenario_free(struct scenario *sc)
{
	size_t i;

	for (i = 0; i < sc->ncs; i++)
		tcs_free(&sc->cs[i]);
}

/* The next permutation in lexicographic order; 0 after the last. */
static int
next_perm(size_t *a, size_t n)
{
	size_t i, j, t;

	if (n < 2)
		return 0;
	for (i = n - 1; i > 0 && a[i - 1] >= a[i]; i--)
		;
	if (i == 0)
		return 0;
	for (j = n - 1; a[j] <= a[i - 1]; j--)
		;
	t = a[i - 1], a[i - 1] = a[j], a[j] = t;
	for (j = n - 1; i < j; i++, j--)
		t = a[i], a[i] = a[j], a[j] = t;
	return 1;
}

static void
apply_order(struct replica *r, const struct scenario *sc, const size_t *order)
{
	size_t i;

	for (i = 0; i < sc->ncs; i++)
		apply(r, &sc->cs[order[i]]);
}

static void
fmt_order(char *out, size_t len, const size_t *order, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 3 < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%zu ", order[i]);
}

/*
 * Merges the scenario's change sets in every order: the digest and the
 * materialised view must always equal the first ones.  Every fourth order
 * is merged twice over, for idempotence (all of them would double the
 * runtime and find nothing more).
 */
static void
check_all_orders(const struct scenario *sc, uint64_t seed,
    struct view_counts *vc)
{
	struct replica *r;
	struct sbuf ref = { 0 }, view = { 0 };
	uint8_t refd[32], d[32];
	size_t order[MAXCS], i, nperm = 0;
	char ord[4 * MAXCS];
	int pass;

	r = xcalloc(1, sizeof(*r));
	for (i = 0; i < sc->ncs; i++)
		order[i] = i;
	do {
		replica_reset(r);
		for (pass = 0; pass < (nperm % 4 == 0 ? 2 : 1); pass++) {
			apply_order(r, sc, order);
			merge_digest_final(d, &r->d);
			materialise(r, &view, nperm == 0 && pass == 0 ?
			    vc : NULL);
			if (nperm == 0 && pass == 0) {
				count_sets(r, vc);
				memcpy(refd, d, sizeof(d));
				sb_put(&ref, view.p, view.len);
				continue;
			}
			if (memcmp(d, refd, sizeof(d)) == 0 &&
			    view.len == ref.len &&
			    memcmp(view.p, ref.p, ref.len) == 0)
				continue;
			/* cmocka cuts its messages at 1 KiB: views go first. */
			fprintf(stderr, "first view:\n%sthis view:\n%s",
			    ref.p, view.p);
			fmt_order(ord, sizeof(ord), order, sc->ncs);
			fail_msg("seed %#llx, order %s(pass %d): %s differs",
			    (unsigned long long)seed, ord, pass + 1,
			    memcmp(d, refd, sizeof(d)) ? "digest" : "view");
		}
		nperm++;
	} while (next_perm(order, sc->ncs));
	free(ref.p);
	free(view.p);
	free(r);
}

/* SAMEN_TEST_SEED overrides the seed, to explore or to reproduce. */
static uint64_t
base_seed(void)
{
	const char *e = getenv("SAMEN_TEST_SEED");

	return e != NULL ? strtoull(e, NULL, 0) : 0x5a3e11;
}

static void
test_all_orders(void **state)
{
	struct scenario *sc;
	struct view_counts vc = { 0 };
	uint64_t seed = base_seed();
	int i;

	(void)state;
	sc = xcalloc(1, sizeof(*sc));
	/* Twenty scenarios of 720 orders each, then one of 40320. */
	for (i = 0; i < 21; i++) {
		gen_scenario(sc, seed + (uint64_t)i, i < 20 ? 6 : 8);
		check_all_orders(sc, seed + (uint64_t)i, &vc);
		scenario_free(sc);
	}
	free(sc);
	print_message("seed %#llx: %zu conflicts, %zu edit/delete, "
	    "%zu removed, %zu add-wins\n", (unsigned long long)seed,
	    vc.conflicts, vc.exist_conflicts, vc.removed, vc.add_wins);
	if (vc.conflicts == 0 || vc.exist_conflicts == 0 || vc.removed == 0 ||
	    vc.add_wins == 0)
		fail_msg("seed %#llx: the scenarios miss a case",
		    (unsigned long long)seed);
}

/* Targeted rules, on small hand-made histories. */

static struct replica *
replica_new(void)
{
	struct replica *r = xcalloc(1, sizeof(*r));

	replica_reset(r);
	return r;
}

static void
mk(struct tcs *cs, unsigned author, uint64_t seq, uint64_t ms,
    const struct trec *rec, struct op *ops, uint32_t nops)
{
	tcs_init(cs, author, seq, HLC_MAKE(ms, 0));
	tcs_chunk(cs, rec, ops, nops);
}

/* The live values of one register, in display order; returns their count. */
static size_t
survivors(struct replica *r, const struct trec *rec, enum op_type kind,
    const char *field, struct merge_survivor *s, size_t *distinct)
{
	struct merge_rec mr = { circle, rec->coll, strlen(rec->coll),
	    rec->rid };
	struct tkey k;
	struct tval *t;
	size_t i, n = 0;

	key_make(&k, &mr, kind, field, strlen(field));
	for (i = 0; i < r->nv; i++) {
		t = &r->v[i];
		if (!t->live || memcmp(&t->key, &k, sizeof(k)) != 0)
			continue;
		memset(&s[n], 0, sizeof(s[n]));
		s[n].vid = t->vid;
		s[n].hlc = t->hlc;
		s[n].author = t->author;
		s[n].value = kind == OP_EXIST ? NULL : t->value;
		s[n].value_len = t->value_len;
		s[n].alive = t->alive;
		n++;
	}
	*distinct = merge_order(s, n);
	return n;
}

static void
assert_value(const struct merge_survivor *s, const char *want)
{
	assert_int_equal(s->value_len, strlen(want));
	assert_memory_equal(s->value, want, s->value_len);
}

static int
has_element(struct replica *r, const struct trec *rec, const char *e)
{
	uint8_t vids[MAXCS * VID_LEN];

	return live_vids(r, vids, rec, OP_ADD, "tags", e) > 0;
}

static void
test_concurrent_edit(void **state)
{
	struct tcs cs[5];
	struct op o;
	struct merge_survivor s[8];
	struct replica *r = replica_new();
	uint8_t v0[VID_LEN], pred[3 * VID_LEN];
	size_t n, d, i;

	(void)state;
	o = mkop(OP_SET, "name", "Jansen", NULL, 0);
	mk(&cs[0], 0, 1, 5, &recs[0], &o, 1);
	ops_vid(v0, cs[0].csid, 0, 0);
	/* Two authors replace what they saw, without seeing each other. */
	o = mkop(OP_SET, "name", "Janssen", v0, 1);
	mk(&cs[1], 1, 1, 7, &recs[0], &o, 1);
	o = mkop(OP_SET, "name", "Jansens", v0, 1);
	mk(&cs[2], 2, 1, 6, &recs[0], &o, 1);
	for (i = 0; i < 3; i++)
		apply(r, &cs[i]);
	n = survivors(r, &recs[0], OP_SET, "name", s, &d);
	assert_int_equal(n, 2);
	assert_int_equal(d, 2);
	assert_value(&s[0], "Janssen");
	assert_value(&s[1], "Jansens");

	/* Equal hlc: the higher author is shown; equal content counts once. */
	o = mkop(OP_SET, "name", "Jansens", v0, 1);
	mk(&cs[3], 0, 2, 7, &recs[0], &o, 1);
	apply(r, &cs[3]);
	n = survivors(r, &recs[0], OP_SET, "name", s, &d);
	assert_int_equal(n, 3);
	assert_int_equal(d, 2);
	assert_value(&s[0], "Janssen");
	assert_int_equal(s[0].author[0], 0x22);
	assert_value(&s[1], "Jansens");
	assert_int_equal(s[1].author[0], 0x11);

	/* A write that names every survivor resolves the conflict. */
	for (i = 0; i < 3; i++)
		memcpy(pred + i * VID_LEN, s[i].vid, VID_LEN);
	o = mkop(OP_SET, "name", "Jansen-Smit", pred, 3);
	mk(&cs[4], 0, 3, 4, &recs[0], &o, 1);
	apply(r, &cs[4]);
	n = survivors(r, &recs[0], OP_SET, "name", s, &d);
	assert_int_equal(n, 1);
	assert_int_equal(d, 1);
	assert_value(&s[0], "Jansen-Smit");
	for (i = 0; i < 5; i++)
		tcs_free(&cs[i]);
	free(r);
}

static void
test_delete_vs_edit(void **state)
{
	struct tcs cs[4];
	struct op o[2];
	struct merge_survivor s[8];
	struct replica *r = replica_new();
	uint8_t e0[VID_LEN], s0[VID_LEN], both[2 * VID_LEN];
	size_t n, d, i;

	(void)state;
	o[0] = mkexist(1, NULL, 0);
	o[1] = mkop(OP_SET, "name", "Jansen", NULL, 0);
	mk(&cs[0], 0, 1, 5, &recs[0], o, 2);
	ops_vid(e0, cs[0].csid, 0, 0);
	ops_vid(s0, cs[0].csid, 0, 1);
	/* One deletes the record; another edits it, having seen the same. */
	o[0] = mkexist(0, e0, 1);
	mk(&cs[1], 1, 1, 9, &recs[0], o, 1);
	o[0] = mkexist(1, e0, 1);
	o[1] = mkop(OP_SET, "name", "Janssen", s0, 1);
	mk(&cs[2], 2, 1, 6, &recs[0], o, 2);

	apply(r, &cs[0]);
	apply(r, &cs[1]);
	n = survivors(r, &recs[0], OP_EXIST, "", s, &d);
	assert_int_equal(n, 1);
	assert_false(s[0].alive);
	apply(r, &cs[2]);
	n = survivors(r, &recs[0], OP_EXIST, "", s, &d);
	assert_int_equal(n, 2);
	assert_int_equal(d, 2);
	assert_false(s[0].alive);	/* the delete has the higher hlc */
	assert_true(s[1].alive);
	n = survivors(r, &recs[0], OP_SET, "name", s, &d);
	assert_int_equal(n, 1);
	assert_value(&s[0], "Janssen");

	/* Deleting again, naming both, settles it. */
	n = survivors(r, &recs[0], OP_EXIST, "", s, &d);
	assert_int_equal(n, 2);
	for (i = 0; i < 2; i++)
		memcpy(both + i * VID_LEN, s[i].vid, VID_LEN);
	o[0] = mkexist(0, both, 2);
	mk(&cs[3], 0, 2, 10, &recs[0], o, 1);
	apply(r, &cs[3]);
	n = survivors(r, &recs[0], OP_EXIST, "", s, &d);
	assert_int_equal(n, 1);
	assert_int_equal(d, 1);
	assert_false(s[0].alive);
	for (i = 0; i < 4; i++)
		tcs_free(&cs[i]);
	free(r);
}

static void
test_add_wins(void **state)
{
	struct tcs cs[3];
	struct op o;
	struct replica *r = replica_new();
	uint8_t a0[VID_LEN];
	size_t i;

	(void)state;
	o = mkop(OP_ADD, "tags", "wonen", NULL, 0);
	mk(&cs[0], 0, 1, 5, &recs[0], &o, 1);
	ops_vid(a0, cs[0].csid, 0, 0);
	/* One removes the add it saw; another adds the element again. */
	o = mkop(OP_REM, "tags", "wonen", a0, 1);
	mk(&cs[1], 1, 1, 9, &recs[0], &o, 1);
	o = mkop(OP_ADD, "tags", "wonen", NULL, 0);
	mk(&cs[2], 2, 1, 6, &recs[0], &o, 1);
	apply(r, &cs[0]);
	apply(r, &cs[1]);
	assert_false(has_element(r, &recs[0], "wonen"));
	apply(r, &cs[2]);
	assert_true(has_element(r, &recs[0], "wonen"));
	/* In the other order too. */
	replica_reset(r);
	apply(r, &cs[2]);
	apply(r, &cs[1]);
	apply(r, &cs[0]);
	assert_true(has_element(r, &recs[0], "wonen"));
	for (i = 0; i < 3; i++)
		tcs_free(&cs[i]);
	free(r);
}

static void
test_observed_remove(void **state)
{
	struct tcs cs[3];
	struct op o[2];
	struct replica *r = replica_new();
	uint8_t a[2 * VID_LEN];
	size_t i;

	(void)state;
	o[0] = mkop(OP_ADD, "tags", "wonen", NULL, 0);
	o[1] = mkop(OP_ADD, "tags", "schulden", NULL, 0);
	mk(&cs[0], 0, 1, 5, &recs[0], o, 2);
	ops_vid(a, cs[0].csid, 0, 0);
	ops_vid(a + VID_LEN, cs[0].csid, 0, 1);
	/* A REM of another field, naming the same ADD, removes nothing. */
	o[0] = mkop(OP_REM, "labels", "wonen", a, 1);
	mk(&cs[1], 1, 1, 6, &recs[0], o, 1);
	apply(r, &cs[0]);
	apply(r, &cs[1]);
	assert_true(has_element(r, &recs[0], "wonen"));
	o[0] = mkop(OP_REM, "tags", "wonen", a, 1);
	mk(&cs[2], 0, 2, 7, &recs[0], o, 1);
	apply(r, &cs[2]);
	assert_false(has_element(r, &recs[0], "wonen"));
	assert_true(has_element(r, &recs[0], "schulden"));
	for (i = 0; i < 3; i++)
		tcs_free(&cs[i]);
	free(r);
}

static void
test_pred_stays_in_its_register(void **state)
{
	struct tcs cs[2];
	struct op o[3];
	struct merge_survivor s[8];
	struct replica *r = replica_new();
	uint8_t v0[VID_LEN];
	size_t n, d, i;

	(void)state;
	o[0] = mkop(OP_SET, "name", "Jansen", NULL, 0);
	mk(&cs[0], 0, 1, 5, &recs[0], o, 1);
	ops_vid(v0, cs[0].csid, 0, 0);
	/*
	 * v0 named from the record with the same rid in another collection,
	 * from another rid, from another field, and as a record's existence.
	 */
	tcs_init(&cs[1], 1, 1, HLC_MAKE(6, 0));
	o[0] = mkop(OP_SET, "name", "x", v0, 1);
	tcs_chunk(&cs[1], &recs[1], o, 1);
	tcs_chunk(&cs[1], &recs[2], o, 1);
	o[0] = mkop(OP_SET, "phone", "x", v0, 1);
	o[1] = mkexist(0, v0, 1);
	o[2] = mkop(OP_REM, "name", "Jansen", v0, 1);
	tcs_chunk(&cs[1], &recs[0], o, 3);
	for (i = 0; i < 2; i++) {
		replica_reset(r);
		apply(r, &cs[i]);
		apply(r, &cs[1 - i]);
		n = survivors(r, &recs[0], OP_SET, "name", s, &d);
		assert_int_equal(n, 1);
		assert_value(&s[0], "Jansen");
		assert_memory_equal(s[0].vid, v0, VID_LEN);
	}
	for (i = 0; i < 2; i++)
		tcs_free(&cs[i]);
	free(r);
}

static void
test_kill_before_value(void **state)
{
	struct tcs cs[2];
	struct op o;
	struct merge_survivor s[8];
	struct replica *r = replica_new();
	uint8_t v0[VID_LEN], d1[32], d2[32];
	size_t n, d, i;

	(void)state;
	o = mkop(OP_SET, "name", "Jansen", NULL, 0);
	mk(&cs[0], 0, 1, 5, &recs[0], &o, 1);
	ops_vid(v0, cs[0].csid, 0, 0);
	o = mkop(OP_SET, "name", "Janssen", v0, 1);
	mk(&cs[1], 1, 1, 6, &recs[0], &o, 1);
	apply(r, &cs[0]);
	apply(r, &cs[1]);
	merge_digest_final(d1, &r->d);

	replica_reset(r);
	apply(r, &cs[1]);
	apply(r, &cs[0]);
	assert_int_equal(r->nv, 2);
	for (i = 0; i < r->nv; i++)
		if (memcmp(r->v[i].vid, v0, VID_LEN) == 0)
			assert_false(r->v[i].live);
	n = survivors(r, &recs[0], OP_SET, "name", s, &d);
	assert_int_equal(n, 1);
	assert_value(&s[0], "Janssen");
	merge_digest_final(d2, &r->d);
	assert_memory_equal(d1, d2, 32);
	for (i = 0; i < 2; i++)
		tcs_free(&cs[i]);
	free(r);
}

static void
test_order(void **state)
{
	uint8_t lo[32] = { 1 }, hi[32] = { 2 }, va[VID_LEN] = { 1 },
	    vb[VID_LEN] = { 2 }, vc[VID_LEN] = { 3 }, vd[VID_LEN] = { 4 };
	struct merge_survivor s[4] = {
		{ va, 7, hi, "b", 1, 0, NULL },
		{ vb, 9, lo, "a", 1, 0, NULL },
		{ vc, 9, hi, "b", 1, 0, NULL },
		{ vd, 9, hi, "a", 1, 0, NULL },
	};
	struct merge_survivor e[3] = {
		{ va, 1, lo, NULL, 0, 1, NULL },
		{ vb, 2, lo, NULL, 0, 0, NULL },
		{ vc, 3, lo, NULL, 0, 1, NULL },
	};

	(void)state;
	assert_int_equal(merge_order(NULL, 0), 0);
	assert_int_equal(merge_order(s, 1), 1);
	/* hlc, then author, then vid; two distinct contents. */
	assert_int_equal(merge_order(s, 4), 2);
	assert_ptr_equal(s[0].vid, vd);
	assert_ptr_equal(s[1].vid, vc);
	assert_ptr_equal(s[2].vid, vb);
	assert_ptr_equal(s[3].vid, va);
	/* Existence compares alive. */
	assert_int_equal(merge_order(e, 3), 2);
	assert_ptr_equal(e[0].vid, vc);
	assert_int_equal(merge_order(e, 1), 1);
	e[1].alive = 1;
	assert_int_equal(merge_order(e, 3), 1);
}

/*
 * merge_cmp is merge_order's order: keeping the best of survivors seen one
 * at a time, in any order, gives merge_order's first, for hlcs on both
 * sides of 2^63 and ties on hlc and author.
 */
static void
test_cmp(void **state)
{
	enum { N = 24 };
	uint8_t vids[N][VID_LEN], authors[3][32];
	struct merge_survivor s[N], sorted[N];
	const uint64_t hlcs[4] = { 5, 9, UINT64_C(1) << 63, UINT64_MAX };
	size_t i, j, best, round;

	(void)state;
	assert_true(sodium_init() >= 0);
	randombytes_buf(authors, sizeof(authors));
	for (round = 0; round < 50; round++) {
		for (i = 0; i < N; i++) {
			randombytes_buf(vids[i], VID_LEN);
			memset(&s[i], 0, sizeof(s[i]));
			s[i].vid = vids[i];
			s[i].hlc = hlcs[randombytes_uniform(4)];
			s[i].author = authors[randombytes_uniform(3)];
			s[i].alive = (int)randombytes_uniform(2);
		}
		memcpy(sorted, s, sizeof(s));
		merge_order(sorted, N);
		for (i = 1; i < N; i++)
			assert_true(merge_cmp(&sorted[i - 1], &sorted[i]) < 0);
		for (i = 0, best = 0; i < N; i++) {
			assert_int_equal(merge_cmp(&s[i], &s[i]), 0);
			if (merge_cmp(&s[i], &s[best]) < 0)
				best = i;
		}
		assert_ptr_equal(s[best].vid, sorted[0].vid);
		for (i = 0; i < N; i++)
			for (j = 0; j < N; j++)
				assert_true((merge_cmp(&s[i], &s[j]) < 0) ==
				    (merge_cmp(&s[j], &s[i]) > 0));
	}
}

static void
test_digest(void **state)
{
	struct merge_digest a, b;
	uint8_t vids[64][VID_LEN], fa[32], fb[32], zero[32] = { 0 };
	uint64_t s = 0xd16e57;
	size_t i, j;

	(void)state;
	for (i = 0; i < 64; i++)
		for (j = 0; j < VID_LEN; j++)
			vids[i][j] = (uint8_t)rnd(&s);
	merge_digest_init(&a);
	merge_digest_final(fa, &a);
	crypto_generichash(fb, 32, zero, 32, NULL, 0);
	assert_memory_equal(fa, fb, 32);
	/* Any order of adds gives one sum; subs undo adds, carries included. */
	merge_digest_init(&b);
	for (i = 0; i < 64; i++) {
		merge_digest_add(&a, vids[i]);
		merge_digest_add(&b, vids[63 - i]);
	}
	assert_memory_equal(a.sum, b.sum, 32);
	assert_memory_not_equal(a.sum, zero, 32);
	for (i = 0; i < 32; i++)
		merge_digest_sub(&a, vids[2 * i]);
	merge_digest_init(&b);
	for (i = 0; i < 32; i++)
		merge_digest_add(&b, vids[2 * i + 1]);
	assert_memory_equal(a.sum, b.sum, 32);
	for (i = 0; i < 32; i++)
		merge_digest_sub(&a, vids[2 * i + 1]);
	assert_memory_equal(a.sum, zero, 32);
	/* A multiset: adding one vid twice is not adding it once. */
	merge_digest_add(&a, vids[0]);
	merge_digest_final(fa, &a);
	merge_digest_add(&a, vids[0]);
	merge_digest_final(fb, &a);
	assert_memory_not_equal(fa, fb, 32);
}

/* A replica that fails on the n'th call, to see the merge stop there. */
struct failing {
	int calls, fail_at;
};

static int
f_add(void *ctx, const struct merge_value *v)
{
	struct failing *f = ctx;

	(void)v;
	return ++f->calls == f->fail_at ? -EIO : 0;
}

static int
f_kill(void *ctx, const struct merge_rec *rec, enum op_type kind,
    const char *field, size_t field_len, const uint8_t vid[VID_LEN])
{
	struct failing *f = ctx;

	(void)rec, (void)kind, (void)field, (void)field_len, (void)vid;
	return ++f->calls == f->fail_at ? -ENOSPC : 0;
}

static void
test_replica_error(void **state)
{
	static const struct replica_ops fops = { f_add, f_kill };
	uint8_t refs[2 * VID_LEN] = { 0 };
	struct failing f;
	struct tcs cs;
	struct op o[2];

	(void)state;
	o[0] = mkop(OP_SET, "name", "x", refs, 2);
	o[1] = mkop(OP_ADD, "tags", "y", NULL, 0);
	mk(&cs, 0, 1, 1, &recs[0], o, 2);
	/* add, kill, kill, add: four calls when nothing fails. */
	f.calls = 0;
	f.fail_at = 0;
	assert_int_equal(merge_chunk(&fops, &f, &cs.h, cs.csid, 0,
	    &cs.chunk[0]), 0);
	assert_int_equal(f.calls, 4);
	f.calls = 0;
	f.fail_at = 2;
	assert_int_equal(merge_chunk(&fops, &f, &cs.h, cs.csid, 0,
	    &cs.chunk[0]), -ENOSPC);
	assert_int_equal(f.calls, 2);
	f.calls = 0;
	f.fail_at = 4;
	assert_int_equal(merge_chunk(&fops, &f, &cs.h, cs.csid, 0,
	    &cs.chunk[0]), -EIO);
	tcs_free(&cs);
}

/* The two-step digest update is the one-step one. */
static void
test_digest_hash(void **state)
{
	struct merge_digest a, b, z;
	uint8_t vid[2][VID_LEN], h[MERGE_VID_HASHLEN], fa[32], fb[32];

	(void)state;
	randombytes_buf(vid, sizeof(vid));
	merge_digest_init(&a);
	merge_digest_init(&b);
	merge_digest_init(&z);
	for (int i = 0; i < 2; i++) {
		merge_digest_add(&a, vid[i]);
		merge_vid_hash(h, vid[i]);
		merge_digest_add_hash(&b, h);
	}
	merge_digest_final(fa, &a);
	merge_digest_final(fb, &b);
	assert_memory_equal(fa, fb, 32);
	merge_digest_sub(&a, vid[0]);
	merge_vid_hash(h, vid[0]);
	merge_digest_sub_hash(&b, h);
	assert_memory_equal(a.sum, b.sum, sizeof(a.sum));
	merge_vid_hash(h, vid[1]);
	merge_digest_sub_hash(&b, h);
	assert_memory_equal(b.sum, z.sum, sizeof(z.sum));
}

/* What merge_chunk_vids hands add(): each op's vid and its hash. */
struct seen {
	uint8_t vid[8][VID_LEN];
	const uint8_t *hash[8];
	uint8_t hashed[8][MERGE_VID_HASHLEN];
	size_t n;
};

static int
seen_add(void *ctx, const struct merge_value *v)
{
	struct seen *x = ctx;

	assert_true(x->n < 8);
	memcpy(x->vid[x->n], v->vid, VID_LEN);
	x->hash[x->n] = v->vid_hash;
	if (v->vid_hash != NULL)
		memcpy(x->hashed[x->n], v->vid_hash, MERGE_VID_HASHLEN);
	x->n++;
	return 0;
}

static int
seen_kill(void *ctx, const struct merge_rec *rec, enum op_type kind,
    const char *field, size_t field_len, const uint8_t vid[VID_LEN])
{
	(void)ctx;
	(void)rec;
	(void)kind;
	(void)field;
	(void)field_len;
	(void)vid;
	return 0;
}

/*
 * merge_opened_vids works out, chunk by chunk and op by op, the vid
 * merge_chunk derives (ops_vid of the change set, the chunk's place in
 * the payload and the op's) and its merge_vid_hash; a purged chunk gets
 * none.  merge_chunk_vids hands add() those, hash and all; merge_chunk
 * the same vids, without a hash.
 */
static void
test_vids_ahead(void **state)
{
	static const struct replica_ops sops = { seen_add, seen_kill };
	struct cs_read_chunk rc[3];
	struct cs_opened o;
	struct seen a, b;
	struct op ops[3];
	struct tcs cs;
	uint8_t vid[VID_LEN], h[MERGE_VID_HASHLEN];

	(void)state;
	tcs_init(&cs, 0, 1, HLC_MAKE(1, 0));
	ops[0] = mkexist(1, NULL, 0);
	ops[1] = mkop(OP_SET, "name", "x", NULL, 0);
	ops[2] = mkop(OP_ADD, "tags", "y", NULL, 0);
	tcs_chunk(&cs, &recs[0], ops, 3);
	tcs_chunk(&cs, &recs[1], ops, 2);
	/* A purged chunk between them: payload order counts it. */
	memset(rc, 0, sizeof(rc));
	rc[0].plain = cs.buf[0];
	rc[0].oc = cs.chunk[0];
	rc[2].plain = cs.buf[1];
	rc[2].oc = cs.chunk[1];
	o.chunks = rc;
	o.n = 3;
	o.has_vids = 0;
	o.vids = NULL;
	merge_opened_vids(&o, cs.csid);
	/* Again: the first ones are replaced, not leaked (LeakSanitizer). */
	merge_opened_vids(&o, cs.csid);
	assert_int_equal(o.has_vids, 1);
	assert_memory_equal(o.csid, cs.csid, CS_IDLEN);
	assert_null(rc[1].vids);
	for (uint32_t i = 0; i < 3; i += 2)
		for (uint32_t j = 0; j < rc[i].oc.nops; j++) {
			ops_vid(vid, cs.csid, i, j);
			merge_vid_hash(h, vid);
			assert_memory_equal(rc[i].vids[j].vid, vid, VID_LEN);
			assert_memory_equal(rc[i].vids[j].hash, h,
			    MERGE_VID_HASHLEN);
		}

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(merge_chunk_vids(&sops, &a, &cs.h, cs.csid, 2,
	    &rc[2].oc, rc[2].vids), 0);
	assert_int_equal(merge_chunk(&sops, &b, &cs.h, cs.csid, 2,
	    &rc[2].oc), 0);
	assert_int_equal(a.n, 2);
	assert_int_equal(b.n, 2);
	for (size_t j = 0; j < 2; j++) {
		assert_memory_equal(a.vid[j], b.vid[j], VID_LEN);
		assert_non_null(a.hash[j]);
		merge_vid_hash(h, b.vid[j]);
		assert_memory_equal(a.hashed[j], h, MERGE_VID_HASHLEN);
		assert_null(b.hash[j]);
	}
	free(o.vids);
	tcs_free(&cs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_edit),
		cmocka_unit_test(test_delete_vs_edit),
		cmocka_unit_test(test_add_wins),
		cmocka_unit_test(test_observed_remove),
		cmocka_unit_test(test_pred_stays_in_its_register),
		cmocka_unit_test(test_kill_before_value),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_digest_hash),
		cmocka_unit_test(test_replica_error),
		cmocka_unit_test(test_all_orders),
		cmocka_unit_test(test_vids_ahead),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
