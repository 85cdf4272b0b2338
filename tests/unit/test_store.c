/* test_store: the SQLite store: chains, forks, merging, record views, rebuild, secrecy at rest, sync support, peers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "changeset.h"
#include "error.h"
#include "hlc.h"
#include "merge.h"
#include "ops.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "wire.h"

#define MAXCHUNKS 4
#define TAGLEN 16		/* daemon/store.c's ctag */
#define MAXOPS 8

/* A device that writes: its keys and its chain in the test circle. */
struct dev {
	uint8_t pk[32];
	uint8_t sk[64];
	uint64_t seq;
	uint8_t head[CS_IDLEN];
};

/* One test's world: a store in a temp dir, a circle, two devices. */
struct world {
	char dir[64];
	char path[96];
	struct store *st;
	uint8_t skey[32];
	struct store_circle circle;
	struct dev a, b;
};

static struct world w;

/* A change set built but not stored. */
struct built {
	struct cs_header h;
	uint8_t id[CS_IDLEN];
	struct wbuf hdr, pay;
};

static void
built_free(struct built *b)
{
	wire_free(&b->hdr);
	wire_free(&b->pay);
}

static void
dev_init(struct dev *d)
{
	crypto_sign_keypair(d->pk, d->sk);
	d->seq = 0;
	memset(d->head, 0, sizeof(d->head));
}

static void
mkrid(uint8_t rid[RID_LEN], uint64_t ms)
{
	int i;

	for (i = 0; i < 6; i++)
		rid[i] = (uint8_t)(ms >> (8 * (5 - i)));
	randombytes_buf(rid + 6, RID_LEN - 6);
}

static struct op
op_set(const char *field, const char *value, const uint8_t *preds,
    uint32_t n)
{
	struct op o = { OP_SET, field, strlen(field), value, strlen(value), 0,
	    preds, n };

	return o;
}

static struct op
op_exist(int alive, const uint8_t *preds, uint32_t n)
{
	struct op o = { OP_EXIST, NULL, 0, NULL, 0, alive, preds, n };

	return o;
}

static struct op
op_add(const char *field, const char *elem)
{
	struct op o = { OP_ADD, field, strlen(field), elem, strlen(elem), 0,
	    NULL, 0 };

	return o;
}

static struct op
op_rem(const char *field, const char *elem, const uint8_t *tags, uint32_t n)
{
	struct op o = { OP_REM, field, strlen(field), elem, strlen(elem), 0,
	    tags, n };

	return o;
}

static struct ops_chunk
chunk(const char *coll, const uint8_t rid[RID_LEN], struct op *ops,
    uint32_t n)
{
	struct ops_chunk c;

	memset(&c, 0, sizeof(c));
	c.collection = coll;
	c.collection_len = strlen(coll);
	memcpy(c.rid, rid, RID_LEN);
	c.ops = ops;
	c.nops = n;
	return c;
}

/* Builds a signed change set of chunks, each sealed under key. */
static void
build(struct built *b, const struct dev *d, const struct store_circle *c,
    const uint8_t key[CS_KEYLEN], uint64_t seq, const uint8_t prev[CS_IDLEN],
    uint64_t hlc, const struct ops_chunk *chunks, size_t n)
{
	struct wbuf pw[MAXCHUNKS];
	struct cs_plain plain[MAXCHUNKS];
	uint8_t nonces[MAXCHUNKS * CS_NONCELEN];
	size_t i;

	assert_true(n >= 1 && n <= MAXCHUNKS);
	for (i = 0; i < n; i++) {
		assert_true(ops_collection_valid(chunks[i].collection,
		    chunks[i].collection_len));
		wire_init(&pw[i]);
		ops_encode(&pw[i], &chunks[i]);
		changeset_rtag(plain[i].rtag, key, chunks[i].collection,
		    chunks[i].collection_len, chunks[i].rid);
		plain[i].data = wire_data(&pw[i]);
		plain[i].len = wire_len(&pw[i]);
	}
	randombytes_buf(nonces, n * CS_NONCELEN);
	memset(&b->h, 0, sizeof(b->h));
	memcpy(b->h.author, d->pk, 32);
	memcpy(b->h.circle, c->id, CS_CIRCLELEN);
	b->h.epoch = c->epoch;
	b->h.seq = seq;
	memcpy(b->h.prev, prev, CS_IDLEN);
	b->h.hlc = hlc;
	wire_init(&b->hdr);
	wire_init(&b->pay);
	changeset_build(&b->hdr, &b->pay, b->id, &b->h, d->sk, key, plain, n,
	    nonces);
	for (i = 0; i < n; i++)
		wire_free(&pw[i]);
}

static int
insert(struct store *st, const struct built *b)
{
	return store_cs_insert(st, &b->h, b->id, wire_data(&b->hdr),
	    wire_len(&b->hdr), wire_data(&b->pay), wire_len(&b->pay));
}

/*
 * Next change set of d in the circle, stored by ins; its id into id (may
 * be NULL).
 */
static void
write_cs_by(struct store *st, int (*ins)(struct store *, const struct built *),
    struct dev *d, uint64_t hlc, const struct ops_chunk *chunks, size_t n,
    uint8_t id[CS_IDLEN])
{
	struct built b;

	build(&b, d, &w.circle, w.circle.key, d->seq + 1, d->head, hlc, chunks,
	    n);
	assert_int_equal(ins(st, &b), 0);
	d->seq++;
	memcpy(d->head, b.id, CS_IDLEN);
	if (id != NULL)
		memcpy(id, b.id, CS_IDLEN);
	built_free(&b);
}

static void
write_cs(struct store *st, struct dev *d, uint64_t hlc,
    const struct ops_chunk *chunks, size_t n, uint8_t id[CS_IDLEN])
{
	write_cs_by(st, insert, d, hlc, chunks, n, id);
}

/* One chunk of ops on (coll, rid). */
static void
write1(struct store *st, struct dev *d, uint64_t hlc, const char *coll,
    const uint8_t rid[RID_LEN], struct op *ops, uint32_t nops,
    uint8_t id[CS_IDLEN])
{
	struct ops_chunk c = chunk(coll, rid, ops, nops);

	write_cs(st, d, hlc, &c, 1, id);
}

static void
vid(uint8_t out[VID_LEN], const uint8_t id[CS_IDLEN], uint32_t chunk_i,
    uint32_t op_i)
{
	ops_vid(out, id, chunk_i, op_i);
}

static void
merge(struct store *st)
{
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_merge_pending(st, NULL, NULL), 0);
	assert_int_equal(store_commit(st), 0);
}

static struct store_record *
load(struct store *st, const char *coll, const uint8_t rid[RID_LEN])
{
	struct store_record *r;
	int64_t rkey;

	assert_int_equal(store_record_find(st, w.circle.id, coll, rid, &rkey),
	    0);
	assert_int_equal(store_record_load(st, rkey, &r), 0);
	assert_int_equal(r->rkey, rkey);
	return r;
}

static const struct store_field *
field(const struct store_record *r, const char *name, int is_set)
{
	size_t i;

	for (i = 0; i < r->nfields; i++)
		if (r->fields[i].is_set == is_set &&
		    strcmp(r->fields[i].name, name) == 0)
			return &r->fields[i];
	return NULL;
}

static void
open_store(struct store **st, int with_key)
{
	char *cause = NULL;

	assert_int_equal(store_open(st, w.path, &cause), 0);
	assert_null(cause);
	if (with_key)
		store_set_key(*st, w.skey);
}

/*
 * Closes the store and runs sql on its file: a database as an older
 * samend left it, for the migrations' tests.
 */
static void
close_and_exec(const char *sql)
{
	sqlite3 *db;

	store_close(w.st);
	w.st = NULL;
	assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int
setup(void **state)
{
	(void)state;
	memset(&w, 0, sizeof(w));
	strcpy(w.dir, "/tmp/samen-store-XXXXXX");
	if (mkdtemp(w.dir) == NULL)
		return -1;
	snprintf(w.path, sizeof(w.path), "%s/samen.db", w.dir);
	randombytes_buf(w.skey, sizeof(w.skey));
	randombytes_buf(w.circle.id, sizeof(w.circle.id));
	randombytes_buf(w.circle.key, sizeof(w.circle.key));
	w.circle.epoch = 1;
	w.circle.name = "team";
	dev_init(&w.a);
	dev_init(&w.b);
	open_store(&w.st, 1);
	return store_circle_put(w.st, &w.circle);
}

static void record_same(const struct store_record *a,
    const struct store_record *b);

struct walk {
	struct store *st;
	size_t n, live;
	int64_t last;
};

static int
walk_cb(void *arg, struct store_record *r)
{
	struct walk *k = arg;
	struct store_record *one;

	assert_true(r->rkey > k->last);
	k->last = r->rkey;
	assert_int_equal(store_record_load(k->st, r->rkey, &one), 0);
	record_same(one, r);
	store_record_free(one);
	k->live += !r->deleted;
	store_record_free(r);
	k->n++;
	return 0;
}

/*
 * store_record_foreach (two statements merged in rkey order) hands out
 * every record, in rkey order, each the same as store_record_load reads.
 */
static void
walk_same(struct store *st)
{
	struct walk k = { st, 0, 0, 0 };
	struct store_stats s;

	if (!store_has_key(st))
		return;
	assert_int_equal(store_record_foreach(st, walk_cb, &k), 0);
	assert_int_equal(store_stats(st, &s), 0);
	assert_int_equal(k.live, s.records);
}

/*
 * The schema's references hold (the store does not have SQLite enforce
 * them row by row): no vals, kills, cs, forks or flagged row without its
 * parent.
 */
static void
refs_hold(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *s;

	if (access(path, F_OK) != 0)
		return;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check",
	    -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static int
teardown(void **state)
{
	char p[128];
	const char *sfx[] = { "", "-wal", "-shm", "-journal" };
	size_t i;

	(void)state;
	if (w.st != NULL)
		walk_same(w.st);
	store_close(w.st);
	w.st = NULL;
	refs_hold(w.path);
	snprintf(p, sizeof(p), "%s/other.db", w.dir);
	refs_hold(p);
	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", w.path, sfx[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/other.db", w.dir);
	for (i = 0; i < 4; i++) {
		char q[160];

		snprintf(q, sizeof(q), "%s%s", p, sfx[i]);
		unlink(q);
	}
	rmdir(w.dir);
	sodium_memzero(w.skey, sizeof(w.skey));
	return 0;
}

/* touched() collects rkeys. */
struct touched {
	int64_t keys[16];
	size_t n;
};

static void
touched_cb(void *arg, int64_t rkey)
{
	struct touched *t = arg;

	if (t->n < 16)
		t->keys[t->n++] = rkey;
}

static void
merge_t(struct store *st, struct touched *t)
{
	t->n = 0;
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_merge_pending(st, touched_cb, t), 0);
	assert_int_equal(store_commit(st), 0);
}

/* Two loaded records hold the same thing, value for value, in order. */
static void
value_same(const struct store_value *a, const struct store_value *b)
{
	assert_memory_equal(a->vid, b->vid, VID_LEN);
	assert_int_equal(a->hlc, b->hlc);
	assert_memory_equal(a->author, b->author, 32);
	assert_int_equal(a->alive, b->alive);
	assert_int_equal(a->value_len, b->value_len);
	assert_int_equal(a->value == NULL, b->value == NULL);
	if (a->value != NULL)
		assert_memory_equal(a->value, b->value, a->value_len + 1);
}

static void
record_same(const struct store_record *a, const struct store_record *b)
{
	size_t i, j;

	assert_int_equal(a->rkey, b->rkey);
	assert_memory_equal(a->circle, b->circle, CS_CIRCLELEN);
	assert_string_equal(a->collection, b->collection);
	assert_memory_equal(a->rid, b->rid, RID_LEN);
	assert_int_equal(a->nexist, b->nexist);
	assert_int_equal(a->deleted, b->deleted);
	assert_int_equal(a->exist_conflict, b->exist_conflict);
	assert_int_equal(a->created, b->created);
	assert_int_equal(a->updated, b->updated);
	for (i = 0; i < a->nexist; i++)
		value_same(&a->exist[i], &b->exist[i]);
	assert_int_equal(a->nfields, b->nfields);
	for (i = 0; i < a->nfields; i++) {
		const struct store_field *fa = &a->fields[i], *fb = &b->fields[i];

		assert_string_equal(fa->name, fb->name);
		assert_int_equal(fa->is_set, fb->is_set);
		assert_int_equal(fa->nvals, fb->nvals);
		assert_int_equal(fa->ndistinct, fb->ndistinct);
		for (j = 0; j < fa->nvals; j++)
			value_same(&fa->vals[j], &fb->vals[j]);
	}
}

/* Tests. */

static void
test_create_and_load(void **state)
{
	uint8_t rid[RID_LEN], id[CS_IDLEN], v[4][VID_LEN], d1[32], d2[32];
	struct op ops[4];
	struct store_record *r;
	const struct store_field *f;
	struct store_stats s;
	struct touched t = { .n = 0 };
	struct merge_digest md;
	int64_t rkey;
	size_t i;

	(void)state;
	mkrid(rid, 1700000000000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "Jansen", NULL, 0);
	ops[2] = op_add("tags", "urgent");
	ops[3] = op_set("address", "", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(1000, 0), "case", rid, ops, 4, id);

	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, 1);
	assert_int_equal(s.pending, 1);
	assert_int_equal(s.records, 0);
	assert_int_equal(s.max_hlc, HLC_MAKE(1000, 0));

	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_merge_pending(w.st, touched_cb, &t), 0);
	assert_int_equal(store_commit(w.st), 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(store_record_find(w.st, w.circle.id, "case", rid,
	    &rkey), 0);
	assert_int_equal(t.keys[0], rkey);
	assert_int_equal(store_record_find(w.st, w.circle.id, "note", rid,
	    &rkey), SAMEN_ENOTFOUND);

	r = load(w.st, "case", rid);
	assert_string_equal(r->collection, "case");
	assert_memory_equal(r->rid, rid, RID_LEN);
	assert_memory_equal(r->circle, w.circle.id, CS_CIRCLELEN);
	assert_int_equal(r->nexist, 1);
	assert_true(r->exist[0].alive);
	assert_null(r->exist[0].value);
	assert_false(r->deleted);
	assert_false(r->exist_conflict);
	assert_int_equal(r->created, HLC_MAKE(1000, 0));
	assert_int_equal(r->updated, HLC_MAKE(1000, 0));
	/* Sorted by (name, is_set). */
	assert_int_equal(r->nfields, 3);
	assert_string_equal(r->fields[0].name, "address");
	assert_string_equal(r->fields[1].name, "name");
	assert_string_equal(r->fields[2].name, "tags");
	f = field(r, "address", 0);
	assert_non_null(f);
	assert_int_equal(f->nvals, 1);
	assert_string_equal(f->vals[0].value, "");
	f = field(r, "name", 0);
	assert_non_null(f);
	assert_int_equal(f->nvals, 1);
	assert_int_equal(f->ndistinct, 1);
	assert_string_equal(f->vals[0].value, "Jansen");
	assert_int_equal(f->vals[0].value_len, 6);
	assert_memory_equal(f->vals[0].author, w.a.pk, 32);
	assert_int_equal(f->vals[0].hlc, HLC_MAKE(1000, 0));
	vid(v[1], id, 0, 1);
	assert_memory_equal(f->vals[0].vid, v[1], VID_LEN);
	f = field(r, "tags", 1);
	assert_non_null(f);
	assert_int_equal(f->nvals, 1);
	assert_string_equal(f->vals[0].value, "urgent");
	store_record_free(r);

	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 0);
	assert_int_equal(s.records, 1);
	assert_int_equal(s.bad, 0);

	/* The digest is the multiset hash of the live vids. */
	merge_digest_init(&md);
	for (i = 0; i < 4; i++) {
		vid(v[i], id, 0, (uint32_t)i);
		merge_digest_add(&md, v[i]);
	}
	merge_digest_final(d1, &md);
	assert_int_equal(store_digest(w.st, d2), 0);
	assert_memory_equal(d1, d2, 32);

	/* Merging again finds nothing to do. */
	t.n = 0;
	assert_int_equal(store_merge_pending(w.st, touched_cb, &t), 0);
	assert_int_equal(t.n, 0);
	assert_int_equal(store_digest(w.st, d2), 0);
	assert_memory_equal(d1, d2, 32);
}

static void
test_conflict(void **state)
{
	uint8_t rid[RID_LEN], id0[CS_IDLEN], ida[CS_IDLEN], idb[CS_IDLEN];
	uint8_t v0[VID_LEN], both[2 * VID_LEN];
	struct op ops[2];
	struct store_record *r;
	const struct store_field *f;

	(void)state;
	mkrid(rid, 1700000000001ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("status", "open", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(1000, 0), "case", rid, ops, 2, id0);
	vid(v0, id0, 0, 1);
	/* Two devices replace "open" without seeing each other. */
	ops[0] = op_set("status", "waiting", v0, 1);
	write1(w.st, &w.a, HLC_MAKE(2000, 0), "case", rid, ops, 1, ida);
	ops[0] = op_set("status", "closed", v0, 1);
	write1(w.st, &w.b, HLC_MAKE(2500, 0), "case", rid, ops, 1, idb);
	merge(w.st);

	r = load(w.st, "case", rid);
	f = field(r, "status", 0);
	assert_non_null(f);
	assert_int_equal(f->nvals, 2);
	assert_int_equal(f->ndistinct, 2);
	/* The shown value has the highest (hlc, author). */
	assert_string_equal(f->vals[0].value, "closed");
	assert_string_equal(f->vals[1].value, "waiting");
	assert_int_equal(r->updated, HLC_MAKE(2500, 0));
	assert_int_equal(r->created, HLC_MAKE(1000, 0));
	store_record_free(r);

	/* A write that names both survivors resolves it. */
	vid(both, ida, 0, 0);
	vid(both + VID_LEN, idb, 0, 0);
	ops[0] = op_set("status", "waiting", both, 2);
	write1(w.st, &w.a, HLC_MAKE(3000, 0), "case", rid, ops, 1, NULL);
	merge(w.st);
	r = load(w.st, "case", rid);
	f = field(r, "status", 0);
	assert_int_equal(f->nvals, 1);
	assert_int_equal(f->ndistinct, 1);
	assert_string_equal(f->vals[0].value, "waiting");
	store_record_free(r);
}

static void
test_delete_vs_edit(void **state)
{
	uint8_t rid[RID_LEN], id0[CS_IDLEN], ida[CS_IDLEN], idb[CS_IDLEN];
	uint8_t e0[VID_LEN], n0[VID_LEN], both[2 * VID_LEN];
	struct op ops[2];
	struct store_record *r;
	struct store_stats s;

	(void)state;
	mkrid(rid, 1700000000002ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "Pietersen", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(1000, 0), "case", rid, ops, 2, id0);
	vid(e0, id0, 0, 0);
	vid(n0, id0, 0, 1);
	/* A edits (and says the record lives); B deletes, later. */
	ops[0] = op_exist(1, e0, 1);
	ops[1] = op_set("name", "Pieters", n0, 1);
	write1(w.st, &w.a, HLC_MAKE(2000, 0), "case", rid, ops, 2, ida);
	ops[0] = op_exist(0, e0, 1);
	write1(w.st, &w.b, HLC_MAKE(3000, 0), "case", rid, ops, 1, idb);
	merge(w.st);

	r = load(w.st, "case", rid);
	assert_int_equal(r->nexist, 2);
	assert_true(r->exist_conflict);
	assert_true(r->deleted);
	assert_false(r->exist[0].alive);
	assert_true(r->exist[1].alive);
	assert_string_equal(field(r, "name", 0)->vals[0].value, "Pieters");
	store_record_free(r);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.records, 0);

	/* Restoring it names both existence values. */
	vid(both, ida, 0, 0);
	vid(both + VID_LEN, idb, 0, 0);
	ops[0] = op_exist(1, both, 2);
	write1(w.st, &w.b, HLC_MAKE(4000, 0), "case", rid, ops, 1, NULL);
	merge(w.st);
	r = load(w.st, "case", rid);
	assert_int_equal(r->nexist, 1);
	assert_false(r->exist_conflict);
	assert_false(r->deleted);
	store_record_free(r);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.records, 1);
}

static void
test_sets(void **state)
{
	uint8_t rid[RID_LEN], ida[CS_IDLEN], idb[CS_IDLEN], tag[VID_LEN];
	uint8_t tag2[VID_LEN];
	struct op ops[3];
	struct store_record *r;
	const struct store_field *f;

	(void)state;
	mkrid(rid, 1700000000003ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_add("partners", "wijkteam");
	ops[2] = op_add("partners", "GGD");
	write1(w.st, &w.a, HLC_MAKE(1000, 0), "case", rid, ops, 3, ida);
	/* B adds "wijkteam" too, concurrently: a second tag. */
	ops[0] = op_add("partners", "wijkteam");
	write1(w.st, &w.b, HLC_MAKE(1100, 0), "case", rid, ops, 1, idb);
	/* A register of the same name stays apart from the set. */
	ops[0] = op_set("partners", "none", NULL, 0);
	write1(w.st, &w.b, HLC_MAKE(1200, 0), "case", rid, ops, 1, NULL);
	merge(w.st);

	r = load(w.st, "case", rid);
	assert_int_equal(r->nfields, 2);
	assert_false(r->fields[0].is_set);
	assert_true(r->fields[1].is_set);
	f = field(r, "partners", 1);
	assert_non_null(f);
	assert_int_equal(f->nvals, 3);
	assert_int_equal(f->ndistinct, 2);
	assert_string_equal(f->vals[0].value, "GGD");
	assert_string_equal(f->vals[1].value, "wijkteam");
	assert_string_equal(f->vals[2].value, "wijkteam");
	assert_true(memcmp(f->vals[1].vid, f->vals[2].vid, VID_LEN) < 0);
	assert_string_equal(field(r, "partners", 0)->vals[0].value, "none");
	store_record_free(r);

	/* A removes "wijkteam" having seen only its own tag: B's add wins. */
	vid(tag, ida, 0, 1);
	ops[0] = op_rem("partners", "wijkteam", tag, 1);
	write1(w.st, &w.a, HLC_MAKE(1300, 0), "case", rid, ops, 1, NULL);
	merge(w.st);
	r = load(w.st, "case", rid);
	f = field(r, "partners", 1);
	assert_int_equal(f->nvals, 2);
	assert_int_equal(f->ndistinct, 2);
	assert_string_equal(f->vals[1].value, "wijkteam");
	assert_memory_equal(f->vals[1].author, w.b.pk, 32);
	/* Packed (one allocation): two authors, each stored once, every
	 * value pointing at its own. */
	assert_int_equal(r->packed, 1);
	assert_memory_equal(f->vals[0].author, w.a.pk, 32);
	assert_ptr_equal(f->vals[0].author, r->exist[0].author);
	assert_ptr_not_equal(f->vals[0].author, f->vals[1].author);
	assert_true((const char *)f->vals[1].author > (const char *)r &&
	    (const char *)f->vals[1].author < f->vals[1].value);
	store_record_free(r);

	/* Removing each element with the tags it has left empties it. */
	vid(tag, idb, 0, 0);
	vid(tag2, ida, 0, 2);
	ops[0] = op_rem("partners", "wijkteam", tag, 1);
	ops[1] = op_rem("partners", "GGD", tag2, 1);
	write1(w.st, &w.a, HLC_MAKE(1400, 0), "case", rid, ops, 2, NULL);
	merge(w.st);
	r = load(w.st, "case", rid);
	assert_null(field(r, "partners", 1));
	assert_non_null(field(r, "partners", 0));
	store_record_free(r);
}

static void
test_history(void **state)
{
	uint8_t rid[RID_LEN], id0[CS_IDLEN], v0[VID_LEN];
	struct op ops[2];
	struct store_hist *h;
	struct store_record *r;
	const uint8_t *lo, *hi;
	size_t n;

	(void)state;
	mkrid(rid, 1700000000004ull);
	lo = memcmp(w.a.pk, w.b.pk, 32) < 0 ? w.a.pk : w.b.pk;
	hi = lo == w.a.pk ? w.b.pk : w.a.pk;
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "een", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(1000, 0), "note", rid, ops, 2, id0);
	vid(v0, id0, 0, 1);
	/* Same hlc from both: the author's key breaks the tie. */
	ops[0] = op_set("name", "twee", v0, 1);
	write1(w.st, &w.b, HLC_MAKE(3000, 0), "note", rid, ops, 1, NULL);
	ops[0] = op_add("tags", "x");
	write1(w.st, &w.a, HLC_MAKE(3000, 0), "note", rid, ops, 1, NULL);
	/* Written later, stamped earlier. */
	ops[0] = op_rem("tags", "y", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(2000, 0), "note", rid, ops, 1, NULL);
	merge(w.st);

	r = load(w.st, "note", rid);
	assert_int_equal(store_history(w.st, r->rkey, &h, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(h[0].hlc, HLC_MAKE(1000, 0));
	assert_int_equal(h[0].hlc, h[1].hlc);
	assert_int_equal(h[2].kind, OP_REM);
	assert_string_equal(h[2].field, "tags");
	assert_string_equal(h[2].value, "y");
	assert_int_equal(h[2].seq, 3);
	assert_int_equal(h[2].hlc, HLC_MAKE(2000, 0));
	assert_memory_equal(h[3].author, lo, 32);
	assert_memory_equal(h[4].author, hi, 32);
	assert_int_equal(h[3].hlc, HLC_MAKE(3000, 0));
	assert_int_equal(h[4].hlc, HLC_MAKE(3000, 0));
	if (lo == w.b.pk) {
		assert_int_equal(h[3].kind, OP_SET);
		assert_int_equal(h[3].nrefs, 1);
		assert_string_equal(h[3].value, "twee");
	} else {
		assert_int_equal(h[4].kind, OP_SET);
		assert_int_equal(h[4].nrefs, 1);
		assert_string_equal(h[4].value, "twee");
	}
	/* The two at hlc 1000 come from one change set, in vid order. */
	for (size_t i = 0; i < 2; i++) {
		if (h[i].kind == OP_EXIST) {
			assert_string_equal(h[i].field, "");
			assert_null(h[i].value);
			assert_true(h[i].alive);
		} else {
			assert_int_equal(h[i].kind, OP_SET);
			assert_string_equal(h[i].field, "name");
			assert_string_equal(h[i].value, "een");
		}
		assert_int_equal(h[i].seq, 1);
	}
	assert_int_not_equal(h[0].kind, h[1].kind);
	assert_int_equal(r->created, HLC_MAKE(1000, 0));
	assert_int_equal(r->updated, HLC_MAKE(3000, 0));
	store_history_free(h, n);
	store_record_free(r);
}

static void
test_chain_errors(void **state)
{
	uint8_t rid[RID_LEN], zero[CS_IDLEN], bogus[CS_IDLEN];
	struct op ops[1];
	struct ops_chunk c;
	struct built b;
	struct store_stats s;

	(void)state;
	memset(zero, 0, sizeof(zero));
	mkrid(rid, 1700000000005ull);
	ops[0] = op_set("name", "x", NULL, 0);
	c = chunk("case", rid, ops, 1);

	/* A chain must start at 1. */
	randombytes_buf(bogus, sizeof(bogus));
	build(&b, &w.a, &w.circle, w.circle.key, 2, bogus, HLC_MAKE(1, 0), &c,
	    1);
	assert_int_equal(insert(w.st, &b), SAMEN_ECHAIN);
	built_free(&b);

	write_cs(w.st, &w.a, HLC_MAKE(2, 0), &c, 1, NULL);
	/* A gap: seq 3 after 1. */
	build(&b, &w.a, &w.circle, w.circle.key, 3, w.a.head, HLC_MAKE(3, 0),
	    &c, 1);
	assert_int_equal(insert(w.st, &b), SAMEN_ECHAIN);
	built_free(&b);
	/* The right seq with the wrong prev. */
	build(&b, &w.a, &w.circle, w.circle.key, 2, bogus, HLC_MAKE(3, 0), &c,
	    1);
	assert_int_equal(insert(w.st, &b), SAMEN_ECHAIN);
	built_free(&b);

	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, 1);
	assert_int_equal(s.flagged, 0);
	/* The chain goes on. */
	write_cs(w.st, &w.a, HLC_MAKE(4, 0), &c, 1, NULL);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, 2);
}

static void
test_replay_and_head(void **state)
{
	uint8_t rid[RID_LEN], head[CS_IDLEN], zero[CS_IDLEN];
	struct op ops[1];
	struct ops_chunk c;
	struct built b1, b2;
	struct store_stats s;
	uint64_t seq;

	(void)state;
	memset(zero, 0, sizeof(zero));
	mkrid(rid, 1700000000006ull);
	ops[0] = op_set("name", "x", NULL, 0);
	c = chunk("case", rid, ops, 1);
	assert_int_equal(store_cs_head(w.st, w.a.pk, w.circle.id, &seq, head),
	    0);
	assert_int_equal(seq, 0);
	assert_memory_equal(head, zero, CS_IDLEN);

	build(&b1, &w.a, &w.circle, w.circle.key, 1, zero, HLC_MAKE(1, 0), &c,
	    1);
	assert_int_equal(insert(w.st, &b1), 0);
	build(&b2, &w.a, &w.circle, w.circle.key, 2, b1.id, HLC_MAKE(2, 0), &c,
	    1);
	assert_int_equal(insert(w.st, &b2), 0);
	assert_int_equal(store_cs_head(w.st, w.a.pk, w.circle.id, &seq, head),
	    0);
	assert_int_equal(seq, 2);
	assert_memory_equal(head, b2.id, CS_IDLEN);
	/* Replays, old and new, are harmless. */
	assert_int_equal(insert(w.st, &b1), SAMEN_EEXIST);
	assert_int_equal(insert(w.st, &b2), SAMEN_EEXIST);
	merge(w.st);
	assert_int_equal(insert(w.st, &b2), SAMEN_EEXIST);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, 2);
	assert_int_equal(s.flagged, 0);
	assert_int_equal(s.pending, 0);
	built_free(&b1);
	built_free(&b2);
}

static int
count_rows(const char *path, const char *table)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	char *q = xasprintf("SELECT count(*) FROM %s", table);
	int n = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(q);
	return n;
}

static void
test_fork(void **state)
{
	uint8_t rid[RID_LEN], zero[CS_IDLEN];
	struct op ops[1];
	struct ops_chunk c;
	struct built b1, f1, b2;
	struct store_stats s;

	(void)state;
	memset(zero, 0, sizeof(zero));
	mkrid(rid, 1700000000007ull);
	ops[0] = op_set("name", "x", NULL, 0);
	c = chunk("case", rid, ops, 1);
	build(&b1, &w.a, &w.circle, w.circle.key, 1, zero, HLC_MAKE(1, 0), &c,
	    1);
	/* The same seq, signed again over other content. */
	build(&f1, &w.a, &w.circle, w.circle.key, 1, zero, HLC_MAKE(5, 0), &c,
	    1);
	build(&b2, &w.a, &w.circle, w.circle.key, 2, b1.id, HLC_MAKE(2, 0), &c,
	    1);
	assert_int_equal(insert(w.st, &b1), 0);
	assert_int_equal(insert(w.st, &f1), SAMEN_EFORK);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.flagged, 1);
	assert_int_equal(s.changesets, 1);
	assert_int_equal(count_rows(w.path, "forks"), 1);
	/* Nothing more from the flagged author, not even the next link. */
	assert_int_equal(insert(w.st, &b2), SAMEN_EFORK);
	assert_int_equal(insert(w.st, &b1), SAMEN_EFORK);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, 1);
	/* Others are not affected. */
	write_cs(w.st, &w.b, HLC_MAKE(3, 0), &c, 1, NULL);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, 2);
	assert_int_equal(s.flagged, 1);
	built_free(&b1);
	built_free(&f1);
	built_free(&b2);
}

/*
 * store_cs_insert carries the head of the chain it last wrote from one
 * change set to the next; a rollback, a refused insert or a fork must not
 * leave it believing a head the database does not hold.
 */
static void
test_head_carried(void **state)
{
	uint8_t rid[RID_LEN], zero[CS_IDLEN], bogus[CS_IDLEN];
	struct op ops[1];
	struct ops_chunk c;
	struct built a1, a2, a3, f3, a4, b1, b2, bx;
	struct store_stats s;

	(void)state;
	memset(zero, 0, sizeof(zero));
	randombytes_buf(bogus, sizeof(bogus));
	mkrid(rid, 1700000000077ull);
	ops[0] = op_set("name", "x", NULL, 0);
	c = chunk("case", rid, ops, 1);
	build(&a1, &w.a, &w.circle, w.circle.key, 1, zero, HLC_MAKE(1, 0), &c,
	    1);
	build(&a2, &w.a, &w.circle, w.circle.key, 2, a1.id, HLC_MAKE(2, 0), &c,
	    1);
	build(&a3, &w.a, &w.circle, w.circle.key, 3, a2.id, HLC_MAKE(3, 0), &c,
	    1);
	build(&f3, &w.a, &w.circle, w.circle.key, 3, a2.id, HLC_MAKE(9, 0), &c,
	    1);
	build(&a4, &w.a, &w.circle, w.circle.key, 4, a3.id, HLC_MAKE(4, 0), &c,
	    1);
	build(&b1, &w.b, &w.circle, w.circle.key, 1, zero, HLC_MAKE(1, 0), &c,
	    1);
	build(&b2, &w.b, &w.circle, w.circle.key, 2, b1.id, HLC_MAKE(2, 0), &c,
	    1);
	build(&bx, &w.b, &w.circle, w.circle.key, 2, bogus, HLC_MAKE(2, 0), &c,
	    1);

	/* Rolled back: the head is seq 0 again, not 2. */
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(insert(w.st, &a1), 0);
	assert_int_equal(insert(w.st, &a2), 0);
	store_rollback(w.st);
	assert_int_equal(insert(w.st, &a2), SAMEN_ECHAIN);
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(insert(w.st, &a1), 0);
	assert_int_equal(insert(w.st, &a2), 0);
	/* Another author in between, one refused link included. */
	assert_int_equal(insert(w.st, &b1), 0);
	assert_int_equal(insert(w.st, &bx), SAMEN_ECHAIN);
	assert_int_equal(insert(w.st, &b2), 0);
	assert_int_equal(insert(w.st, &b2), SAMEN_EEXIST);
	assert_int_equal(insert(w.st, &a3), 0);
	assert_int_equal(store_commit(w.st), 0);
	/* A fork right after the head it carries: flagged, nothing more. */
	assert_int_equal(insert(w.st, &f3), SAMEN_EFORK);
	assert_int_equal(insert(w.st, &a4), SAMEN_EFORK);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, 5);
	assert_int_equal(s.flagged, 1);
	built_free(&a1);
	built_free(&a2);
	built_free(&a3);
	built_free(&f3);
	built_free(&a4);
	built_free(&b1);
	built_free(&b2);
	built_free(&bx);
}

static void
test_locked(void **state)
{
	uint8_t rid[RID_LEN];
	struct op ops[2];
	struct store_circle c;
	struct store_record *r;
	struct store_stats s;
	int64_t rkey;

	(void)state;
	store_close(w.st);
	open_store(&w.st, 0);
	assert_false(store_has_key(w.st));
	mkrid(rid, 1700000000008ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "locked", NULL, 0);
	/* A locked store still takes change sets in. */
	write1(w.st, &w.a, HLC_MAKE(1, 0), "case", rid, ops, 2, NULL);
	assert_int_equal(store_merge_pending(w.st, NULL, NULL),
	    SAMEN_ELOCKED);
	assert_int_equal(store_record_find(w.st, w.circle.id, "case", rid,
	    &rkey), SAMEN_ELOCKED);
	assert_int_equal(store_circle_get(w.st, w.circle.id, 1, &c),
	    SAMEN_ELOCKED);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 1);

	store_set_key(w.st, w.skey);
	assert_true(store_has_key(w.st));
	merge(w.st);
	r = load(w.st, "case", rid);
	assert_string_equal(field(r, "name", 0)->vals[0].value, "locked");
	store_record_free(r);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 0);
}

static void
test_circles(void **state)
{
	struct store_circle c, p, other;
	uint8_t rid[RID_LEN];
	struct op ops[1];
	struct ops_chunk ch;
	struct built b;
	struct store_stats s;
	uint8_t zero[CS_IDLEN];

	(void)state;
	assert_int_equal(store_circle_get(w.st, w.circle.id, 1, &c), 0);
	assert_string_equal(c.name, "team");
	assert_memory_equal(c.key, w.circle.key, CS_KEYLEN);
	store_circle_clear(&c);
	assert_int_equal(store_circle_get(w.st, w.circle.id, 2, &c),
	    SAMEN_ENOTFOUND);
	assert_int_equal(store_circle_private(w.st, &c), SAMEN_ENOTFOUND);

	memset(&p, 0, sizeof(p));
	randombytes_buf(p.id, sizeof(p.id));
	randombytes_buf(p.key, sizeof(p.key));
	p.epoch = 1;
	p.name = "private";
	assert_int_equal(store_circle_put_private(w.st, &p), 0);
	assert_int_equal(store_circle_private(w.st, &c), 0);
	assert_memory_equal(c.id, p.id, CS_CIRCLELEN);
	assert_memory_equal(c.key, p.key, CS_KEYLEN);
	assert_string_equal(c.name, "private");
	store_circle_clear(&c);
	/* Putting it again as an ordinary circle keeps the flag. */
	assert_int_equal(store_circle_put(w.st, &p), 0);
	assert_int_equal(store_circle_private(w.st, &c), 0);
	assert_memory_equal(c.id, p.id, CS_CIRCLELEN);
	store_circle_clear(&c);

	/* A change set of a circle we have no key for waits for it. */
	memset(&other, 0, sizeof(other));
	randombytes_buf(other.id, sizeof(other.id));
	randombytes_buf(other.key, sizeof(other.key));
	other.epoch = 3;
	other.name = "elsewhere";
	memset(zero, 0, sizeof(zero));
	mkrid(rid, 1700000000009ull);
	ops[0] = op_set("name", "later", NULL, 0);
	ch = chunk("task", rid, ops, 1);
	build(&b, &w.a, &other, other.key, 1, zero, HLC_MAKE(9, 0), &ch, 1);
	assert_int_equal(insert(w.st, &b), 0);
	built_free(&b);
	merge(w.st);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 1);
	assert_int_equal(s.records, 0);
	assert_int_equal(store_circle_put(w.st, &other), 0);
	merge(w.st);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 0);
	assert_int_equal(s.records, 1);
	{
		int64_t rkey;

		assert_int_equal(store_record_find(w.st, other.id, "task", rid,
		    &rkey), 0);
	}
}

/* Re-encodes a payload from sealed chunks taken from several payloads. */
static void
splice(struct wbuf *out, const struct cs_chunk *const *chunks, size_t n,
    uint8_t hash[CS_HASHLEN])
{
	crypto_generichash_state hs;
	size_t i;

	crypto_generichash_init(&hs, NULL, 0, CS_HASHLEN);
	wire_put_array(out, (uint32_t)n);
	for (i = 0; i < n; i++) {
		wire_put_array(out, 3);
		wire_put_bin(out, chunks[i]->rtag, CS_RTAGLEN);
		wire_put_bin(out, chunks[i]->nonce, CS_NONCELEN);
		wire_put_bin(out, chunks[i]->ct, chunks[i]->ct_len);
		crypto_generichash_update(&hs, chunks[i]->hash, CS_HASHLEN);
	}
	crypto_generichash_final(&hs, hash, CS_HASHLEN);
}

/*
 * A change set with one chunk sealed under a wrong key: stored bad and
 * nothing of it applied, whether merged from the queue or, with
 * at_insert, as store_cs_insert_merged stores it in a transaction.  With
 * at_insert 2, store_cs_insert_optimistic is tried first, as daemon/peer.c
 * does: it refuses it (SAMEN_ERETRY), and once the transaction is rolled
 * back nothing of it is left, not the good chunk's record either; then it
 * is stored carefully.
 */
static void
bad_chunk(int at_insert)
{
	uint8_t rid1[RID_LEN], rid2[RID_LEN], rid3[RID_LEN], id0[CS_IDLEN];
	uint8_t v0[VID_LEN], wrong[CS_KEYLEN], before[32], after[32];
	struct op ops1[1], ops2[2], ops0[2];
	struct ops_chunk cc[2];
	struct built good, evil;
	struct cs_payload pg, pe;
	const struct cs_chunk *mix[2];
	struct cs_header h;
	struct wbuf pay, hdr;
	struct store_record *r;
	struct store_stats s;
	struct touched t;
	int64_t rkey;
	uint8_t id[CS_IDLEN];

	mkrid(rid1, 1700000000010ull);
	mkrid(rid2, 1700000000011ull);
	ops0[0] = op_exist(1, NULL, 0);
	ops0[1] = op_set("name", "ok", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(10, 0), "case", rid1, ops0, 2, id0);
	merge(w.st);
	assert_int_equal(store_digest(w.st, before), 0);

	/*
	 * Chunk 0 sealed right (creates rid2, the first of its collection),
	 * chunk 1 (edits rid1) under another key.
	 */
	vid(v0, id0, 0, 1);
	ops1[0] = op_set("name", "changed", v0, 1);
	ops2[0] = op_exist(1, NULL, 0);
	ops2[1] = op_set("name", "new", NULL, 0);
	cc[0] = chunk("visit", rid2, ops2, 2);
	cc[1] = chunk("case", rid1, ops1, 1);
	randombytes_buf(wrong, sizeof(wrong));
	build(&good, &w.a, &w.circle, w.circle.key, w.a.seq + 1, w.a.head,
	    HLC_MAKE(20, 0), cc, 2);
	build(&evil, &w.a, &w.circle, wrong, w.a.seq + 1, w.a.head,
	    HLC_MAKE(20, 0), cc, 2);
	assert_int_equal(changeset_payload_decode(&pg, wire_data(&good.pay),
	    wire_len(&good.pay)), 0);
	assert_int_equal(changeset_payload_decode(&pe, wire_data(&evil.pay),
	    wire_len(&evil.pay)), 0);
	mix[0] = &pg.chunks[0];
	mix[1] = &pe.chunks[1];
	wire_init(&pay);
	h = good.h;
	splice(&pay, mix, 2, h.payload_hash);
	h.payload_len = wire_len(&pay);
	changeset_sign(&h, w.a.sk);
	assert_int_equal(changeset_verify(&h), 0);
	wire_init(&hdr);
	changeset_header_encode(&hdr, &h);
	changeset_id(id, wire_data(&hdr), wire_len(&hdr));
	{
		/* The spliced change set is well-formed and signed. */
		struct cs_payload chk;

		assert_int_equal(changeset_payload_decode(&chk,
		    wire_data(&pay), wire_len(&pay)), 0);
		assert_int_equal(changeset_payload_check(&h, &chk,
		    wire_len(&pay)), 0);
		changeset_payload_free(&chk);
	}
	if (at_insert == 2) {
		assert_int_equal(store_begin(w.st), 0);
		assert_int_equal(store_cs_insert_optimistic(w.st, &h, id,
		    wire_data(&hdr), wire_len(&hdr), wire_data(&pay),
		    wire_len(&pay), NULL), SAMEN_ERETRY);
		store_rollback(w.st);
		assert_int_equal(store_stats(w.st, &s), 0);
		assert_int_equal(s.changesets, 1);
		assert_int_equal(s.records, 1);
		assert_int_equal(s.bad, 0);
		assert_int_equal(store_record_find(w.st, w.circle.id, "visit",
		    rid2, &rkey), SAMEN_ENOTFOUND);
		assert_int_equal(store_digest(w.st, after), 0);
		assert_memory_equal(before, after, 32);
	}
	if (at_insert) {
		assert_int_equal(store_begin(w.st), 0);
		assert_int_equal(store_cs_insert_merged(w.st, &h, id,
		    wire_data(&hdr), wire_len(&hdr), wire_data(&pay),
		    wire_len(&pay)), 0);
		/* Found bad as it was stored: never pending. */
		assert_int_equal(store_stats(w.st, &s), 0);
		assert_int_equal(s.bad, 1);
		assert_int_equal(s.pending, 0);
	} else
		assert_int_equal(store_cs_insert(w.st, &h, id,
		    wire_data(&hdr), wire_len(&hdr), wire_data(&pay),
		    wire_len(&pay)), 0);
	w.a.seq++;
	memcpy(w.a.head, id, CS_IDLEN);
	changeset_payload_free(&pg);
	changeset_payload_free(&pe);
	built_free(&good);
	built_free(&evil);
	wire_free(&pay);
	wire_free(&hdr);

	if (at_insert) {
		t.n = 0;
		assert_int_equal(store_merge_pending(w.st, touched_cb, &t), 0);
		assert_int_equal(store_commit(w.st), 0);
	} else
		merge_t(w.st, &t);
	assert_int_equal(t.n, 0);
	/*
	 * rid2 was created, under the next rkey, and undone with its
	 * change set: the index must not be handed it (from the records
	 * the transaction created) either.
	 */
	assert_int_equal(store_record_find(w.st, w.circle.id, "case", rid1,
	    &rkey), 0);
	rkey++;
	assert_int_equal(store_record_load_many(w.st, &rkey, 1, &r), 0);
	assert_null(r);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.bad, 1);
	assert_int_equal(s.pending, 0);
	/* Nothing of it applied: not the good chunk either. */
	assert_int_equal(store_digest(w.st, after), 0);
	assert_memory_equal(before, after, 32);
	r = load(w.st, "case", rid1);
	assert_string_equal(field(r, "name", 0)->vals[0].value, "ok");
	assert_int_equal(field(r, "name", 0)->nvals, 1);
	assert_int_equal(r->updated, HLC_MAKE(10, 0));
	store_record_free(r);
	assert_int_equal(store_record_find(w.st, w.circle.id, "visit", rid2,
	    &rkey), SAMEN_ENOTFOUND);

	/* The chain goes on past it, and later change sets merge. */
	ops0[0] = op_set("name", "after", v0, 1);
	write1(w.st, &w.a, HLC_MAKE(30, 0), "case", rid1, ops0, 1, NULL);
	merge(w.st);
	r = load(w.st, "case", rid1);
	assert_string_equal(field(r, "name", 0)->vals[0].value, "after");
	store_record_free(r);
	/*
	 * rid2's collection is named again by the next record in it: the
	 * rollback took the name's colls row with rid2, and the store must
	 * not go on thinking it wrote one.
	 */
	mkrid(rid3, 1700000000012ull);
	ops2[1] = op_set("name", "again", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(40, 0), "visit", rid3, ops2, 2, NULL);
	merge(w.st);
	assert_int_equal(count_rows(w.path, "colls"), 2);
	r = load(w.st, "visit", rid3);
	assert_string_equal(r->collection, "visit");
	assert_string_equal(field(r, "name", 0)->vals[0].value, "again");
	store_record_free(r);
	assert_int_equal(store_record_find(w.st, w.circle.id, "visit", rid3,
	    &rkey), 0);
	assert_int_equal(store_record_load(w.st, rkey, &r), 0);
	assert_string_equal(r->collection, "visit");
	store_record_free(r);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.bad, 1);

	/* A rebuild finds it bad again. */
	assert_int_equal(store_rebuild(w.st), 0);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.bad, 1);
	assert_int_equal(s.pending, 0);
}

static void
test_bad_chunk(void **state)
{
	(void)state;
	bad_chunk(0);
}

static void
test_bad_chunk_at_insert(void **state)
{
	(void)state;
	bad_chunk(1);
}

static void
test_bad_chunk_optimistic(void **state)
{
	(void)state;
	bad_chunk(2);
}

/* A canonical text of every record, for comparing replicas. */
struct dump {
	char **lines;
	size_t n;
};

static void
hexcat(char **s, const uint8_t *p, size_t n)
{
	char *hex = xmalloc(2 * n + 1), *t;

	hex_encode(hex, p, n);
	t = xasprintf("%s%s ", *s, hex);
	free(*s);
	free(hex);
	*s = t;
}

static void
strcat_free(char **s, const char *add)
{
	char *t = xasprintf("%s%s", *s, add);

	free(*s);
	*s = t;
}

static void
dump_values(char **s, const struct store_value *v, size_t n)
{
	size_t i;
	char num[64];

	for (i = 0; i < n; i++) {
		hexcat(s, v[i].vid, VID_LEN);
		hexcat(s, v[i].author, 32);
		snprintf(num, sizeof(num), "%llu %d [",
		    (unsigned long long)v[i].hlc, v[i].alive);
		strcat_free(s, num);
		strcat_free(s, v[i].value ? v[i].value : "(nil)");
		strcat_free(s, "] ");
	}
}

static int
dump_cb(void *arg, struct store_record *r)
{
	struct dump *d = arg;
	char *s = xstrdup(""), num[160];
	size_t i;

	hexcat(&s, r->rid, RID_LEN);
	hexcat(&s, r->circle, CS_CIRCLELEN);
	snprintf(num, sizeof(num), "%s del=%d conf=%d %llu-%llu exist: ",
	    r->collection, r->deleted, r->exist_conflict,
	    (unsigned long long)r->created, (unsigned long long)r->updated);
	strcat_free(&s, num);
	dump_values(&s, r->exist, r->nexist);
	for (i = 0; i < r->nfields; i++) {
		snprintf(num, sizeof(num), "| %s/%d/%zu: ", r->fields[i].name,
		    r->fields[i].is_set, r->fields[i].ndistinct);
		strcat_free(&s, num);
		dump_values(&s, r->fields[i].vals, r->fields[i].nvals);
	}
	d->lines = xreallocarray(d->lines, d->n + 1, sizeof(*d->lines));
	d->lines[d->n++] = s;
	store_record_free(r);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
dump(struct store *st, struct dump *d)
{
	d->lines = NULL;
	d->n = 0;
	assert_int_equal(store_record_foreach(st, dump_cb, d), 0);
	/* rkeys differ between replicas: compare by content. */
	qsort(d->lines, d->n, sizeof(*d->lines), cmp_str);
}

static void
dump_equal(const struct dump *x, const struct dump *y)
{
	size_t i;

	assert_int_equal(x->n, y->n);
	for (i = 0; i < x->n; i++)
		assert_string_equal(x->lines[i], y->lines[i]);
}

static void
dump_free(struct dump *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
}

/* A history of edits, conflicts, deletes and sets on a few records. */
static void
scenario(struct store *st)
{
	uint8_t rid[3][RID_LEN], id[4][CS_IDLEN], v[4][VID_LEN];
	struct op ops[3];
	struct ops_chunk cc[2];
	struct touched t;

	mkrid(rid[0], 1700000001000ull);
	mkrid(rid[1], 1700000001001ull);
	mkrid(rid[2], 1700000001002ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "alpha", NULL, 0);
	ops[2] = op_add("tags", "t1");
	cc[0] = chunk("case", rid[0], ops, 3);
	cc[1] = chunk("note", rid[1], ops, 2);
	write_cs(st, &w.a, HLC_MAKE(100, 0), cc, 2, id[0]);
	/* One change set, two records: touched once each. */
	merge_t(st, &t);
	assert_int_equal(t.n, 2);
	assert_int_not_equal(t.keys[0], t.keys[1]);
	vid(v[0], id[0], 0, 1);
	vid(v[1], id[0], 0, 0);
	ops[0] = op_set("name", "beta", v[0], 1);
	write1(st, &w.a, HLC_MAKE(200, 0), "case", rid[0], ops, 1, id[1]);
	ops[0] = op_set("name", "gamma", v[0], 1);
	ops[1] = op_exist(0, v[1], 1);
	write1(st, &w.b, HLC_MAKE(150, 0), "case", rid[0], ops, 2, id[2]);
	vid(v[2], id[0], 0, 2);
	ops[0] = op_rem("tags", "t1", v[2], 1);
	ops[1] = op_add("tags", "t2");
	write1(st, &w.b, HLC_MAKE(250, 0), "case", rid[0], ops, 2, id[3]);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("body", "third", NULL, 0);
	write1(st, &w.b, HLC_MAKE(300, 0), "task", rid[2], ops, 2, NULL);
	merge(st);
}

static void
test_rebuild(void **state)
{
	struct dump d1, d2;
	uint8_t g1[32], g2[32];
	struct store_stats s1, s2;

	(void)state;
	scenario(w.st);
	dump(w.st, &d1);
	assert_int_equal(d1.n, 3);
	assert_int_equal(store_digest(w.st, g1), 0);
	assert_int_equal(store_stats(w.st, &s1), 0);

	assert_int_equal(store_rebuild(w.st), 0);
	dump(w.st, &d2);
	dump_equal(&d1, &d2);
	assert_int_equal(store_digest(w.st, g2), 0);
	assert_memory_equal(g1, g2, 32);
	assert_int_equal(store_stats(w.st, &s2), 0);
	assert_memory_equal(&s1, &s2, sizeof(s1));
	dump_free(&d2);

	/* The digest stored by the rebuild survives a reopen. */
	store_close(w.st);
	open_store(&w.st, 1);
	assert_int_equal(store_digest(w.st, g2), 0);
	assert_memory_equal(g1, g2, 32);
	dump(w.st, &d2);
	dump_equal(&d1, &d2);
	dump_free(&d1);
	dump_free(&d2);
	/* Rebuilding needs the key. */
	store_close(w.st);
	open_store(&w.st, 0);
	assert_int_equal(store_rebuild(w.st), SAMEN_ELOCKED);
}

static int
stop_cb(void *arg, struct store_record *r)
{
	int *n = arg;

	store_record_free(r);
	return ++*n == 2 ? 7 : 0;
}

static void
test_reopen(void **state)
{
	struct dump d1, d2;
	uint8_t g1[32], g2[32];
	struct store_stats s1, s2;
	uint8_t head[CS_IDLEN];
	uint64_t seq;
	int stop = 0;

	(void)state;
	scenario(w.st);
	dump(w.st, &d1);
	assert_int_equal(store_digest(w.st, g1), 0);
	assert_int_equal(store_stats(w.st, &s1), 0);
	store_close(w.st);

	open_store(&w.st, 0);
	/* Digest and stats need no key. */
	assert_int_equal(store_digest(w.st, g2), 0);
	assert_memory_equal(g1, g2, 32);
	assert_int_equal(store_stats(w.st, &s2), 0);
	assert_memory_equal(&s1, &s2, sizeof(s1));
	assert_int_equal(store_cs_head(w.st, w.b.pk, w.circle.id, &seq, head),
	    0);
	assert_int_equal(seq, w.b.seq);
	assert_memory_equal(head, w.b.head, CS_IDLEN);
	assert_int_equal(store_record_foreach(w.st, stop_cb, &stop),
	    SAMEN_ELOCKED);
	store_set_key(w.st, w.skey);
	dump(w.st, &d2);
	dump_equal(&d1, &d2);
	dump_free(&d1);
	dump_free(&d2);
	/* A callback's non-zero return stops the walk and comes back. */
	assert_int_equal(store_record_foreach(w.st, stop_cb, &stop), 7);
	assert_int_equal(stop, 2);
}

/* Another store that receives the same change sets in another order. */
static void
test_order_independent(void **state)
{
	uint8_t rid[RID_LEN], id0[CS_IDLEN], idb[CS_IDLEN], v0[VID_LEN];
	uint8_t g1[32], g2[32];
	struct op ops[2];
	struct ops_chunk c;
	struct built b[3];
	struct store *o;
	struct dump d1, d2;
	char *cause = NULL;
	char path[128];
	size_t i;
	uint8_t zero[CS_IDLEN];

	(void)state;
	memset(zero, 0, sizeof(zero));
	mkrid(rid, 1700000002000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "first", NULL, 0);
	c = chunk("case", rid, ops, 2);
	build(&b[0], &w.a, &w.circle, w.circle.key, 1, zero, HLC_MAKE(1, 0),
	    &c, 1);
	memcpy(id0, b[0].id, CS_IDLEN);
	vid(v0, id0, 0, 1);
	/* B replaces A's value; C (b again, second device) adds a tag. */
	ops[0] = op_set("name", "second", v0, 1);
	c = chunk("case", rid, ops, 1);
	build(&b[1], &w.b, &w.circle, w.circle.key, 1, zero, HLC_MAKE(2, 0),
	    &c, 1);
	memcpy(idb, b[1].id, CS_IDLEN);
	ops[0] = op_add("tags", "x");
	c = chunk("case", rid, ops, 1);
	build(&b[2], &w.b, &w.circle, w.circle.key, 2, idb, HLC_MAKE(3, 0), &c,
	    1);

	/* Here: in order, one by one. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(insert(w.st, &b[i]), 0);
		merge(w.st);
	}
	/* There: B's chain first, so the kill comes before its value. */
	snprintf(path, sizeof(path), "%s/other.db", w.dir);
	assert_int_equal(store_open(&o, path, &cause), 0);
	store_set_key(o, w.skey);
	assert_int_equal(store_circle_put(o, &w.circle), 0);
	assert_int_equal(insert(o, &b[1]), 0);
	assert_int_equal(insert(o, &b[2]), 0);
	merge(o);
	assert_int_equal(insert(o, &b[0]), 0);
	/* Merging without an outer transaction works too. */
	assert_int_equal(store_merge_pending(o, NULL, NULL), 0);

	assert_int_equal(store_digest(w.st, g1), 0);
	assert_int_equal(store_digest(o, g2), 0);
	assert_memory_equal(g1, g2, 32);
	dump(w.st, &d1);
	dump(o, &d2);
	dump_equal(&d1, &d2);
	assert_non_null(strstr(d1.lines[0], "[second]"));
	assert_null(strstr(d1.lines[0], "[first]"));
	dump_free(&d1);
	dump_free(&d2);
	store_close(o);
	o = NULL;
	/* ...and the digest it wrote without a transaction persisted. */
	assert_int_equal(store_open(&o, path, &cause), 0);
	assert_int_equal(store_digest(o, g2), 0);
	assert_memory_equal(g1, g2, 32);
	store_close(o);
	for (i = 0; i < 3; i++)
		built_free(&b[i]);
}

static void
test_rollback(void **state)
{
	uint8_t rid[RID_LEN], g0[32], g1[32];
	struct op ops[2];
	struct store_stats s;
	int64_t rkey;

	(void)state;
	assert_int_equal(store_digest(w.st, g0), 0);
	mkrid(rid, 1700000003000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "gone", NULL, 0);
	assert_int_equal(store_begin(w.st), 0);
	write1(w.st, &w.a, HLC_MAKE(1, 0), "case", rid, ops, 2, NULL);
	assert_int_equal(store_merge_pending(w.st, NULL, NULL), 0);
	assert_int_equal(store_record_find(w.st, w.circle.id, "case", rid,
	    &rkey), 0);
	store_rollback(w.st);
	/* Nothing stays, the digest included. */
	assert_int_equal(store_record_find(w.st, w.circle.id, "case", rid,
	    &rkey), SAMEN_ENOTFOUND);
	assert_int_equal(store_digest(w.st, g1), 0);
	assert_memory_equal(g0, g1, 32);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, 0);
	/* A rollback with no transaction is harmless. */
	store_rollback(w.st);
	assert_int_equal(store_commit(w.st), SAMEN_EINVAL);
}

/* The shown existence value: what the merge keeps in the records row. */

/* records.deleted and records.shown of rkey, read as another process would. */
static void
row_shown(const char *path, int64_t rkey, int *deleted, int *has,
    uint8_t vid[VID_LEN])
{
	sqlite3 *db;
	sqlite3_stmt *s;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT deleted, shown FROM"
	    " records WHERE rkey = ?1", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_int64(s, 1, rkey);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	*deleted = sqlite3_column_int(s, 0);
	*has = sqlite3_column_type(s, 1) != SQLITE_NULL;
	if (*has) {
		assert_int_equal(sqlite3_column_bytes(s, 1), VID_LEN);
		memcpy(vid, sqlite3_column_blob(s, 1), VID_LEN);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/*
 * The row's shown vid and deleted equal what a full load computes from
 * every live existence value with merge_order.  Returns deleted; the shown
 * vid into vid if not NULL.
 */
static int
check_shown(struct store *st, const char *path, const uint8_t rid[RID_LEN],
    uint8_t vid[VID_LEN])
{
	struct store_record *r;
	uint8_t got[VID_LEN];
	int64_t rkey;
	int deleted, has;

	assert_int_equal(store_record_find(st, w.circle.id, "case", rid,
	    &rkey), 0);
	assert_int_equal(store_record_load(st, rkey, &r), 0);
	row_shown(path, rkey, &deleted, &has, got);
	assert_int_equal(has, r->nexist > 0);
	assert_int_equal(deleted, r->deleted);
	if (has)
		assert_memory_equal(got, r->exist[0].vid, VID_LEN);
	if (vid != NULL)
		memcpy(vid, got, VID_LEN);
	store_record_free(r);
	return deleted;
}

static void
other_rm(const char *path)
{
	const char *sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[160];
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
	}
}

/*
 * A storm on one record: a create, then STORM devices that saw only it and
 * each set the existence (some delete) and a field, with hlcs that tie;
 * then a device whose clock is behind kills the three shown existence
 * values, so the merge must find the next one.
 */
#define STORM 40

struct storm {
	struct dev d[STORM + 1];
	struct built b[STORM + 2];
	uint8_t rid[RID_LEN];
	uint8_t shown[VID_LEN];		/* expected at the end */
	int deleted;
	uint8_t digest[32];		/* expected: the live vids' */
};

static void
storm_build(struct storm *s)
{
	uint8_t e0[VID_LEN], s0[VID_LEN], ev[STORM + 2][VID_LEN];
	uint8_t top3[3 * VID_LEN], sv[VID_LEN], zero[CS_IDLEN];
	struct merge_survivor surv[STORM];
	struct merge_digest md;
	struct op ops[2];
	struct ops_chunk c;
	char val[16];
	size_t i;

	memset(zero, 0, sizeof(zero));
	mkrid(s->rid, 1700000004000ull);
	for (i = 0; i <= STORM; i++)
		dev_init(&s->d[i]);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("status", "open", NULL, 0);
	c = chunk("case", s->rid, ops, 2);
	build(&s->b[0], &s->d[0], &w.circle, w.circle.key, 1, zero,
	    HLC_MAKE(1000, 0), &c, 1);
	vid(e0, s->b[0].id, 0, 0);
	vid(s0, s->b[0].id, 0, 1);
	merge_digest_init(&md);
	for (i = 1; i <= STORM; i++) {
		snprintf(val, sizeof(val), "s%zu", i);
		ops[0] = op_exist(i % 4 != 0, e0, 1);
		ops[1] = op_set("status", val, s0, 1);
		c = chunk("case", s->rid, ops, 2);
		build(&s->b[i], &s->d[i], &w.circle, w.circle.key, 1, zero,
		    HLC_MAKE(2000 + i % 3, 0), &c, 1);
		vid(ev[i], s->b[i].id, 0, 0);
		vid(sv, s->b[i].id, 0, 1);
		merge_digest_add(&md, sv);
		memset(&surv[i - 1], 0, sizeof(surv[0]));
		surv[i - 1].vid = ev[i];
		surv[i - 1].hlc = s->b[i].h.hlc;
		surv[i - 1].author = s->d[i].pk;
		surv[i - 1].alive = i % 4 != 0;
	}
	merge_order(surv, STORM);
	for (i = 0; i < 3; i++)
		memcpy(top3 + i * VID_LEN, surv[i].vid, VID_LEN);
	/* Device 1 again, its clock behind: its value is not shown. */
	ops[0] = op_exist(1, top3, 3);
	c = chunk("case", s->rid, ops, 1);
	build(&s->b[STORM + 1], &s->d[1], &w.circle, w.circle.key, 2,
	    s->b[1].id, HLC_MAKE(1500, 0), &c, 1);
	vid(ev[STORM + 1], s->b[STORM + 1].id, 0, 0);
	merge_digest_add(&md, ev[STORM + 1]);
	for (i = 3; i < STORM; i++)
		merge_digest_add(&md, surv[i].vid);
	merge_digest_final(s->digest, &md);
	memcpy(s->shown, surv[3].vid, VID_LEN);
	s->deleted = !surv[3].alive;
}

static void
storm_free(struct storm *s)
{
	size_t i;

	for (i = 0; i < STORM + 2; i++)
		built_free(&s->b[i]);
}

/* Inserts s->b in the order of perm, merging after every batch of them. */
static void
storm_apply(struct store *st, const char *path, struct storm *s,
    const size_t *perm, size_t batch)
{
	struct touched t;
	size_t i, k;

	for (i = 0; i < STORM + 2; i = k) {
		for (k = i; k < STORM + 2 && k < i + batch; k++)
			assert_int_equal(insert(st, &s->b[perm[k]]), 0);
		merge_t(st, &t);
		/* One record: touched once, however many change sets. */
		assert_int_equal(t.n, 1);
		check_shown(st, path, s->rid, NULL);
	}
}

/* scenario(), then storm s built and applied in order, five at a time. */
static void
scenario_and_storm(struct storm *s)
{
	size_t i, perm[STORM + 2];

	scenario(w.st);
	storm_build(s);
	for (i = 0; i < STORM + 2; i++)
		perm[i] = i;
	storm_apply(w.st, w.path, s, perm, 5);
}

static void
test_exist_storm(void **state)
{
	struct storm *s = xcalloc(1, sizeof(*s));
	size_t perm[STORM + 2], i, j, t, order, pos1, posl;
	struct store *o;
	struct dump d0, d1;
	struct store_stats ss;
	uint8_t shown[VID_LEN], g[32];
	char *cause = NULL, path[128];

	(void)state;
	storm_build(s);
	snprintf(path, sizeof(path), "%s/other.db", w.dir);
	for (order = 0; order < 6; order++) {
		for (i = 0; i < STORM + 2; i++)
			perm[i] = order == 1 ? STORM + 1 - i : i;
		if (order >= 2)
			for (i = STORM + 1; i > 0; i--) {
				j = randombytes_uniform((uint32_t)i + 1);
				t = perm[i];
				perm[i] = perm[j];
				perm[j] = t;
			}
		/* Device 1's second change set after its first. */
		for (i = 0, pos1 = posl = 0; i < STORM + 2; i++) {
			if (perm[i] == 1)
				pos1 = i;
			if (perm[i] == STORM + 1)
				posl = i;
		}
		if (posl < pos1) {
			perm[posl] = 1;
			perm[pos1] = STORM + 1;
		}
		other_rm(path);
		assert_int_equal(store_open(&o, path, &cause), 0);
		store_set_key(o, w.skey);
		assert_int_equal(store_circle_put(o, &w.circle), 0);
		storm_apply(o, path, s, perm, order == 0 ? STORM + 2 :
		    order == 1 ? 1 : 1 + order * 2);
		/* The shown one after the three killed, and its delete. */
		assert_int_equal(check_shown(o, path, s->rid, shown),
		    s->deleted);
		assert_memory_equal(shown, s->shown, VID_LEN);
		assert_int_equal(store_stats(o, &ss), 0);
		assert_int_equal(ss.records, !s->deleted);
		assert_int_equal(store_digest(o, g), 0);
		assert_memory_equal(g, s->digest, 32);
		if (order == 0)
			dump(o, &d0);
		else {
			dump(o, &d1);
			dump_equal(&d0, &d1);
			dump_free(&d1);
		}
		/* A rebuild comes to the same row. */
		assert_int_equal(store_rebuild(o), 0);
		assert_int_equal(check_shown(o, path, s->rid, shown),
		    s->deleted);
		assert_memory_equal(shown, s->shown, VID_LEN);
		store_close(o);
	}
	dump_free(&d0);
	other_rm(path);
	storm_free(s);
	free(s);
}

/* Killing the shown value brings the next, and a resolve ends it. */
static void
test_shown_killed(void **state)
{
	uint8_t rid[RID_LEN], id[5][CS_IDLEN], e[5][VID_LEN], got[VID_LEN];
	uint8_t all[3 * VID_LEN];
	struct op ops[1];
	struct store_stats ss;
	struct dev c;

	(void)state;
	dev_init(&c);
	mkrid(rid, 1700000005000ull);
	/* Three concurrent creates-or-deletes of one record. */
	ops[0] = op_exist(1, NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(2000, 0), "case", rid, ops, 1, id[0]);
	ops[0] = op_exist(0, NULL, 0);
	write1(w.st, &w.b, HLC_MAKE(3000, 0), "case", rid, ops, 1, id[1]);
	ops[0] = op_exist(1, NULL, 0);
	write1(w.st, &c, HLC_MAKE(2500, 0), "case", rid, ops, 1, id[2]);
	merge(w.st);
	for (int i = 0; i < 3; i++)
		vid(e[i], id[i], 0, 0);
	assert_true(check_shown(w.st, w.path, rid, got));
	assert_memory_equal(got, e[1], VID_LEN);
	/* c, clock behind, kills the shown delete: c's 2500 comes up. */
	ops[0] = op_exist(1, e[1], 1);
	write1(w.st, &c, HLC_MAKE(1500, 0), "case", rid, ops, 1, id[3]);
	vid(e[3], id[3], 0, 0);
	merge(w.st);
	assert_false(check_shown(w.st, w.path, rid, got));
	assert_memory_equal(got, e[2], VID_LEN);
	assert_int_equal(store_stats(w.st, &ss), 0);
	assert_int_equal(ss.records, 1);
	/* Then a's 2000, then c's 1500 (same chunk kills two). */
	ops[0] = op_exist(0, e[2], 1);
	write1(w.st, &w.b, HLC_MAKE(1000, 0), "case", rid, ops, 1, id[4]);
	vid(e[4], id[4], 0, 0);
	merge(w.st);
	assert_false(check_shown(w.st, w.path, rid, got));
	assert_memory_equal(got, e[0], VID_LEN);
	memcpy(all, e[0], VID_LEN);
	memcpy(all + VID_LEN, e[3], VID_LEN);
	ops[0] = op_exist(0, all, 2);
	write1(w.st, &w.a, HLC_MAKE(900, 0), "case", rid, ops, 1, NULL);
	merge(w.st);
	/* Left: b's delete at 1000 and a's at 900. */
	assert_true(check_shown(w.st, w.path, rid, got));
	assert_memory_equal(got, e[4], VID_LEN);
	assert_int_equal(store_stats(w.st, &ss), 0);
	assert_int_equal(ss.records, 0);
}

/* An edit and a delete, concurrent, in every order their chains allow. */
static void
test_delete_edit_orders(void **state)
{
	uint8_t rid[RID_LEN], e0[VID_LEN], want[VID_LEN], got[VID_LEN];
	uint8_t zero[CS_IDLEN];
	const size_t orders[3][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 2, 0, 1 } };
	struct op ops[2];
	struct ops_chunk c;
	struct built b[3];
	struct store *o;
	struct store_stats ss;
	char *cause = NULL, path[128];
	size_t i, k;
	int later;

	(void)state;
	memset(zero, 0, sizeof(zero));
	snprintf(path, sizeof(path), "%s/other.db", w.dir);
	for (later = 0; later < 2; later++) {
		mkrid(rid, 1700000006000ull);
		ops[0] = op_exist(1, NULL, 0);
		ops[1] = op_set("name", "x", NULL, 0);
		c = chunk("case", rid, ops, 2);
		build(&b[0], &w.a, &w.circle, w.circle.key, 1, zero,
		    HLC_MAKE(1000, 0), &c, 1);
		vid(e0, b[0].id, 0, 0);
		/* a edits; b deletes, later or earlier than the edit. */
		ops[0] = op_exist(1, e0, 1);
		ops[1] = op_set("name", "y", NULL, 0);
		c = chunk("case", rid, ops, 2);
		build(&b[1], &w.a, &w.circle, w.circle.key, 2, b[0].id,
		    HLC_MAKE(2000, 0), &c, 1);
		ops[0] = op_exist(0, e0, 1);
		c = chunk("case", rid, ops, 1);
		build(&b[2], &w.b, &w.circle, w.circle.key, 1, zero,
		    HLC_MAKE(later ? 3000 : 1500, 0), &c, 1);
		vid(want, b[later ? 2 : 1].id, 0, 0);
		for (k = 0; k < 3; k++) {
			other_rm(path);
			assert_int_equal(store_open(&o, path, &cause), 0);
			store_set_key(o, w.skey);
			assert_int_equal(store_circle_put(o, &w.circle), 0);
			for (i = 0; i < 3; i++) {
				assert_int_equal(insert(o, &b[orders[k][i]]),
				    0);
				merge(o);
				if (orders[k][i] != 2 || i > 0)
					check_shown(o, path, rid, NULL);
			}
			assert_int_equal(check_shown(o, path, rid, got),
			    later);
			assert_memory_equal(got, want, VID_LEN);
			assert_int_equal(store_stats(o, &ss), 0);
			assert_int_equal(ss.records, !later);
			store_close(o);
		}
		for (i = 0; i < 3; i++)
			built_free(&b[i]);
	}
	other_rm(path);
}

/* The records whose row holds a pack. */
#define PACKED "records WHERE pkeys IS NOT NULL"
/* The records named in colls: an empty coll, and a pack. */
#define NAMED "records WHERE length(coll) = 0 AND pbox IS NOT NULL"

/*
 * Schema 4's and 5's additions dropped again, for a database of an older
 * one (packing off, so that no record is named in colls).
 */
#define DROP_PACKS "DROP TABLE colls;" \
	"DROP INDEX records_deleted;" \
	"ALTER TABLE records DROP COLUMN paid;" \
	"ALTER TABLE records DROP COLUMN pseq;" \
	"ALTER TABLE records DROP COLUMN phlc;" \
	"ALTER TABLE records DROP COLUMN pkeys;" \
	"ALTER TABLE records DROP COLUMN pdead;" \
	"ALTER TABLE records DROP COLUMN pbox;"

/*
 * A database of schema 1 (no records.shown) opens, gains the column filled
 * as the merge would have, shows the same records and digest, and merges
 * on from there.  The old schema is made by dropping the column again.
 */
static void
test_migrate_1(void **state)
{
	uint8_t rid[RID_LEN], id[CS_IDLEN], e[VID_LEN], g1[32], g2[32];
	uint8_t want[VID_LEN], got[VID_LEN];
	struct storm *s = xcalloc(1, sizeof(*s));
	struct store_stats s1, s2;
	struct dump d1, d2;
	struct op ops[1];
	sqlite3 *db;
	char *cause = NULL;
	int version, deleted;

	(void)state;
	store_set_packing(w.st, 0);	/* as schema 1 wrote values */
	scenario_and_storm(s);
	mkrid(rid, 1700000007000ull);
	ops[0] = op_exist(0, NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(50, 0), "case", rid, ops, 1, id);
	vid(e, id, 0, 0);
	merge(w.st);
	dump(w.st, &d1);
	assert_int_equal(store_digest(w.st, g1), 0);
	assert_int_equal(store_stats(w.st, &s1), 0);
	close_and_exec("ALTER TABLE records DROP COLUMN shown;" DROP_PACKS
	    "PRAGMA user_version = 1;");
	assert_int_equal(count_rows(w.path, "pragma_table_info('records')"
	    " WHERE name = 'shown'"), 0);

	/* Without the key: the migration needs none. */
	assert_int_equal(store_open(&w.st, w.path, &cause), 0);
	assert_null(cause);
	assert_int_equal(count_rows(w.path, "pragma_table_info('records')"
	    " WHERE name = 'shown'"), 1);
	assert_int_equal(count_rows(w.path, "records WHERE shown IS NULL"),
	    0);
	assert_int_equal(store_digest(w.st, g2), 0);
	assert_memory_equal(g1, g2, 32);
	assert_int_equal(store_stats(w.st, &s2), 0);
	assert_memory_equal(&s1, &s2, sizeof(s1));
	store_close(w.st);
	assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
	{
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version",
		    -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	assert_int_equal(version, 5);

	open_store(&w.st, 1);
	dump(w.st, &d2);
	dump_equal(&d1, &d2);
	dump_free(&d2);
	/* Every row agrees with a full load, the storm's among them. */
	assert_int_equal(check_shown(w.st, w.path, s->rid, got), s->deleted);
	assert_memory_equal(got, s->shown, VID_LEN);
	deleted = check_shown(w.st, w.path, rid, got);
	assert_true(deleted);
	assert_memory_equal(got, e, VID_LEN);
	/* And merging goes on from the migrated row: an undelete. */
	ops[0] = op_exist(1, e, 1);
	write1(w.st, &w.b, HLC_MAKE(60, 0), "case", rid, ops, 1, id);
	vid(want, id, 0, 0);
	merge(w.st);
	assert_false(check_shown(w.st, w.path, rid, got));
	assert_memory_equal(got, want, VID_LEN);
	assert_int_equal(store_stats(w.st, &s2), 0);
	assert_int_equal(s2.records, s1.records + 1);
	dump_free(&d1);
	storm_free(s);
	free(s);
}

/* The records of w.circle, as store_circle_records hands them out. */
static size_t
circle_records_n(struct store *st)
{
	struct store_record **r;
	size_t n;

	assert_int_equal(store_circle_records(st, w.circle.id, &r, &n), 0);
	store_record_list_free(r, n);
	return n;
}

/*
 * A database of schema 2 (records_key on (rid, circle, ctag) and an index
 * on circle beside it, every value in vals) opens with records_key on
 * (circle, rid, ctag) alone, the same records, digest and reads by circle,
 * at schema 4, and merges on with packs.
 */
static void
test_migrate_2(void **state)
{
	uint8_t g1[32], g2[32], rid[RID_LEN];
	struct store_stats s1, s2;
	struct dump d1, d2;
	struct op ops[2];
	size_t n1;

	(void)state;
	store_set_packing(w.st, 0);	/* as schema 2 wrote values */
	scenario(w.st);
	dump(w.st, &d1);
	n1 = circle_records_n(w.st);
	assert_true(n1 > 0);
	assert_int_equal(store_digest(w.st, g1), 0);
	assert_int_equal(store_stats(w.st, &s1), 0);
	assert_int_equal(count_rows(w.path, "pragma_index_info('records_key')"
	    " WHERE seqno = 0 AND name = 'circle'"), 1);
	close_and_exec("DROP INDEX records_key;"
	    "CREATE UNIQUE INDEX records_key ON records(rid, circle, ctag);"
	    "CREATE INDEX records_circle ON records(circle);"
	    DROP_PACKS "PRAGMA user_version = 2;");
	assert_int_equal(count_rows(w.path, "pragma_index_info('records_key')"
	    " WHERE seqno = 0 AND name = 'rid'"), 1);

	open_store(&w.st, 1);
	assert_int_equal(count_rows(w.path, "pragma_index_info('records_key')"
	    " WHERE seqno = 0 AND name = 'circle'"), 1);
	assert_int_equal(count_rows(w.path, "pragma_index_info('records_key')"),
	    3);
	assert_int_equal(count_rows(w.path, "sqlite_master"
	    " WHERE name = 'records_circle'"), 0);
	assert_int_equal(count_rows(w.path, "pragma_user_version"
	    " WHERE user_version = 5"), 1);
	/* The old rows keep their names: colls is there, and empty. */
	assert_int_equal(count_rows(w.path, "colls"), 0);
	assert_int_equal(count_rows(w.path, NAMED), 0);
	assert_int_equal(store_digest(w.st, g2), 0);
	assert_memory_equal(g1, g2, 32);
	assert_int_equal(store_stats(w.st, &s2), 0);
	assert_memory_equal(&s1, &s2, sizeof(s1));
	assert_int_equal(circle_records_n(w.st), n1);
	dump(w.st, &d2);
	dump_equal(&d1, &d2);
	dump_free(&d1);
	dump_free(&d2);

	/*
	 * On to schema 4: a new record is packed, and the lot reads as a
	 * rebuild, which packs every record, has it.
	 */
	assert_int_equal(count_rows(w.path, "sqlite_master"
	    " WHERE name = 'records_deleted'"), 1);
	assert_int_equal(count_rows(w.path, PACKED), 0);
	mkrid(rid, 1700000007000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "nieuw", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(500, 0), "case", rid, ops, 2, NULL);
	merge(w.st);
	assert_int_equal(count_rows(w.path, PACKED), 1);
	assert_int_equal(count_rows(w.path, NAMED), 1);
	assert_int_equal(count_rows(w.path, "colls"), 1);
	dump(w.st, &d1);
	assert_int_equal(store_digest(w.st, g1), 0);
	assert_int_equal(store_stats(w.st, &s1), 0);
	assert_int_equal(s1.records, s2.records + 1);
	assert_int_equal(store_rebuild(w.st), 0);
	assert_int_equal(count_rows(w.path, PACKED), n1 + 1);
	assert_int_equal(count_rows(w.path, NAMED), n1 + 1);
	dump(w.st, &d2);
	dump_equal(&d1, &d2);
	assert_int_equal(store_digest(w.st, g2), 0);
	assert_memory_equal(g1, g2, 32);
	dump_free(&d1);
	dump_free(&d2);
}

static void peer_sql(const char *q);

/* Every record's history, one line each, as dump() has them. */
struct hists {
	struct store *st;
	struct dump d;
};

static int
hist_cb(void *arg, struct store_record *r)
{
	struct hists *x = arg;
	struct store_hist *h;
	char *s = xstrdup(""), num[96];
	size_t i, n;

	hexcat(&s, r->rid, RID_LEN);
	assert_int_equal(store_history(x->st, r->rkey, &h, &n), 0);
	for (i = 0; i < n; i++) {
		hexcat(&s, h[i].author, 32);
		snprintf(num, sizeof(num), "%llu %llu %d %d %u [",
		    (unsigned long long)h[i].hlc,
		    (unsigned long long)h[i].seq, (int)h[i].kind, h[i].alive,
		    (unsigned)h[i].nrefs);
		strcat_free(&s, num);
		strcat_free(&s, h[i].field);
		strcat_free(&s, "=");
		strcat_free(&s, h[i].value ? h[i].value : "(nil)");
		strcat_free(&s, "] ");
	}
	store_history_free(h, n);
	x->d.lines = xreallocarray(x->d.lines, x->d.n + 1,
	    sizeof(*x->d.lines));
	x->d.lines[x->d.n++] = s;
	store_record_free(r);
	return 0;
}

/* What test_packs_like_vals compares. */
struct seen {
	struct dump d;
	struct hists h;
	uint8_t digest[32];
	struct store_stats stats;
};

static void
seen_take(struct store *st, struct seen *x)
{
	dump(st, &x->d);
	memset(&x->h, 0, sizeof(x->h));
	x->h.st = st;
	assert_int_equal(store_record_foreach(st, hist_cb, &x->h), 0);
	qsort(x->h.d.lines, x->h.d.n, sizeof(*x->h.d.lines), cmp_str);
	assert_int_equal(store_digest(st, x->digest), 0);
	assert_int_equal(store_stats(st, &x->stats), 0);
}

/* x and y hold the same; frees y. */
static void
seen_same(const struct seen *x, struct seen *y)
{
	dump_equal(&x->d, &y->d);
	dump_equal(&x->h.d, &y->h.d);
	assert_memory_equal(x->digest, y->digest, 32);
	assert_memory_equal(&x->stats, &y->stats, sizeof(x->stats));
	dump_free(&y->d);
	dump_free(&y->h.d);
}

/*
 * A database of schema 4 (packed records that name their collection in
 * their row, their packs' associated data led by 'p'; no colls) opens at
 * schema 5 with nothing rewritten, reads as it did, and takes new records
 * named in colls beside the old ones; a rebuild names every packed record
 * and reads the same.
 */
static void
test_migrate_4(void **state)
{
	uint8_t rid[RID_LEN];
	struct seen x1, x2;
	struct op ops[2];
	size_t n1;

	(void)state;
	store_set_naming(w.st, 0);	/* as schema 4 wrote records */
	scenario(w.st);
	seen_take(w.st, &x1);
	n1 = circle_records_n(w.st);
	assert_true(count_rows(w.path, PACKED) > 0);
	assert_int_equal(count_rows(w.path, "records WHERE length(coll) = 0"),
	    0);
	close_and_exec("DROP TABLE colls; PRAGMA user_version = 4;");

	open_store(&w.st, 1);
	assert_int_equal(count_rows(w.path, "pragma_user_version"
	    " WHERE user_version = 5"), 1);
	assert_int_equal(count_rows(w.path, "colls"), 0);
	assert_int_equal(count_rows(w.path, NAMED), 0);
	assert_int_equal(circle_records_n(w.st), n1);
	seen_take(w.st, &x2);
	seen_same(&x1, &x2);
	dump_free(&x1.d);
	dump_free(&x1.h.d);

	/* A new record beside them is named in colls. */
	mkrid(rid, 1700000007500ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "nieuw", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(500, 0), "case", rid, ops, 2, NULL);
	merge(w.st);
	assert_int_equal(count_rows(w.path, NAMED), 1);
	assert_int_equal(count_rows(w.path, "colls"), 1);
	seen_take(w.st, &x1);
	assert_int_equal(store_rebuild(w.st), 0);
	assert_int_equal(count_rows(w.path, NAMED),
	    count_rows(w.path, PACKED));
	assert_int_equal(count_rows(w.path, "records WHERE length(coll) > 0"
	    " AND pbox IS NOT NULL"), 0);
	seen_take(w.st, &x2);
	seen_same(&x1, &x2);
	dump_free(&x1.d);
	dump_free(&x1.h.d);
}

/*
 * The values of a record's first chunk go into its row, a pack, and the
 * replica merges, kills and reads them as it does vals rows: the same
 * change sets merged with packing off (every value in vals, as schema 3
 * wrote them) give the same records, histories, digest and statistics.
 * The scenario and the storm kill packed values (edits, a delete, a set
 * member removed, forty devices killing the create's existence value and
 * field, an edit that changes nothing else of the row), so the shown
 * value is found in a pack, lost and scanned for.
 */
static void
test_packs_like_vals(void **state)
{
	struct storm *s = xcalloc(1, sizeof(*s));
	uint8_t rid[RID_LEN], rid2[RID_LEN], id[CS_IDLEN], v[VID_LEN];
	struct store_record *r;
	struct op ops[2];
	struct seen a, b;

	(void)state;
	scenario_and_storm(s);
	/*
	 * A kill that changes nothing else of the row: a write stamped
	 * between the record's first and last ones edits a packed value.
	 */
	mkrid(rid, 1700000008000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "een", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(1000, 0), "case", rid, ops, 2, id);
	ops[0] = op_add("tags", "x");
	write1(w.st, &w.b, HLC_MAKE(3000, 0), "case", rid, ops, 1, NULL);
	merge(w.st);
	vid(v, id, 0, 1);
	ops[0] = op_set("name", "twee", v, 1);
	write1(w.st, &w.a, HLC_MAKE(2000, 0), "case", rid, ops, 1, NULL);
	merge(w.st);
	/*
	 * The shown existence value killed, and the next one in a pack
	 * whose plaintext was wiped once sealed: read back for its flag.
	 */
	mkrid(rid2, 1700000008001ull);
	ops[0] = op_exist(1, NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(1000, 0), "case", rid2, ops, 1, NULL);
	merge(w.st);
	write1(w.st, &w.b, HLC_MAKE(3000, 0), "case", rid2, ops, 1, id);
	merge(w.st);
	vid(v, id, 0, 0);
	ops[0] = op_exist(0, v, 1);
	write1(w.st, &w.b, HLC_MAKE(500, 0), "case", rid2, ops, 1, NULL);
	merge(w.st);
	r = load(w.st, "case", rid2);
	assert_false(r->deleted);
	assert_int_equal(r->nexist, 2);
	assert_int_equal(r->exist[0].hlc, HLC_MAKE(1000, 0));
	store_record_free(r);
	/* Six records, each created by a first chunk. */
	assert_int_equal(count_rows(w.path, PACKED), 6);
	assert_true(count_rows(w.path, "records"
	    " WHERE instr(pdead, x'01') > 0") >= 2);
	/*
	 * Only the later chunks' values are rows of vals: the scenario's 5,
	 * the storm's 2 * STORM + 1, then 2 and 2 above.
	 */
	assert_int_equal(count_rows(w.path, "vals"), 5 + 2 * STORM + 1 + 4);
	seen_take(w.st, &a);

	store_set_packing(w.st, 0);
	assert_int_equal(store_rebuild(w.st), 0);
	assert_int_equal(count_rows(w.path, PACKED), 0);
	seen_take(w.st, &b);
	seen_same(&a, &b);

	store_set_packing(w.st, 1);
	assert_int_equal(store_rebuild(w.st), 0);
	assert_int_equal(count_rows(w.path, PACKED), 6);
	seen_take(w.st, &b);
	seen_same(&a, &b);
	/* And after a reopen, read from the file alone. */
	store_close(w.st);
	open_store(&w.st, 1);
	seen_take(w.st, &b);
	seen_same(&a, &b);
	check_shown(w.st, w.path, s->rid, NULL);

	dump_free(&a.d);
	dump_free(&a.h.d);
	storm_free(s);
	free(s);
}

/*
 * A first chunk past a pack's 1 MiB: the values before the cap are packed,
 * the rest go into vals, and the record reads whole, as with no packs.
 */
static void
test_pack_overflow(void **state)
{
	uint8_t rid[RID_LEN];
	struct store_record *r;
	struct op ops[21];
	struct dump d1, d2;
	char names[20][8], *big[20];
	size_t i;

	(void)state;
	mkrid(rid, 1700000009100ull);
	ops[0] = op_exist(1, NULL, 0);
	for (i = 0; i < 20; i++) {
		big[i] = xmalloc(60001);
		memset(big[i], 'a' + (int)i, 60000);
		big[i][60000] = '\0';
		snprintf(names[i], sizeof(names[i]), "f%02zu", i);
		ops[1 + i] = op_set(names[i], big[i], NULL, 0);
	}
	write1(w.st, &w.a, HLC_MAKE(100, 0), "case", rid, ops, 21, NULL);
	merge(w.st);
	assert_int_equal(count_rows(w.path, PACKED), 1);
	/* 1 MiB holds the existence value and 17 of 60,000 bytes. */
	assert_int_equal(count_rows(w.path, "vals"), 3);
	r = load(w.st, "case", rid);
	assert_int_equal(r->nexist, 1);
	assert_int_equal(r->nfields, 20);
	for (i = 0; i < 20; i++) {
		assert_string_equal(r->fields[i].name, names[i]);
		assert_int_equal(r->fields[i].vals[0].value_len, 60000);
		assert_memory_equal(r->fields[i].vals[0].value, big[i], 60000);
		free(big[i]);
	}
	store_record_free(r);
	dump(w.st, &d1);
	store_set_packing(w.st, 0);
	assert_int_equal(store_rebuild(w.st), 0);
	assert_int_equal(count_rows(w.path, "vals"), 21);
	dump(w.st, &d2);
	dump_equal(&d1, &d2);
	dump_free(&d1);
	dump_free(&d2);
}

/*
 * A pack's box is bound to its record and to the keys beside it: a box
 * moved to another record's row, or keys changed, fail to decrypt; a
 * damaged vals row is refused as well.
 */
static void
test_pack_bound(void **state)
{
	uint8_t rid[2][RID_LEN];
	struct store_record *r;
	struct op ops[2];
	int64_t k[2];
	char sql[256];
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		mkrid(rid[i], 1700000009000ull + i);
		ops[0] = op_exist(1, NULL, 0);
		ops[1] = op_set("name", i ? "twee" : "een", NULL, 0);
		write1(w.st, &w.a, HLC_MAKE(100 + i, 0), "case", rid[i], ops,
		    2, NULL);
		merge(w.st);
		assert_int_equal(store_record_find(w.st, w.circle.id, "case",
		    rid[i], &k[i]), 0);
		assert_int_equal(store_record_load(w.st, k[i], &r), 0);
		store_record_free(r);
	}
	assert_int_equal(count_rows(w.path, PACKED), 2);
	peer_sql("CREATE TABLE saved AS SELECT rkey, pkeys, pbox FROM records");
	snprintf(sql, sizeof(sql), "UPDATE records SET pbox = (SELECT pbox"
	    " FROM records WHERE rkey = %lld) WHERE rkey = %lld",
	    (long long)k[0], (long long)k[1]);
	peer_sql(sql);
	assert_int_equal(store_record_load(w.st, k[1], &r), SAMEN_EDECRYPT);
	assert_int_equal(store_record_load(w.st, k[0], &r), 0);
	store_record_free(r);
	snprintf(sql, sizeof(sql), "UPDATE records SET pkeys ="
	    " zeroblob(length(pkeys)) WHERE rkey = %lld", (long long)k[0]);
	peer_sql(sql);
	assert_int_equal(store_record_load(w.st, k[0], &r), SAMEN_EDECRYPT);
	/* Put back, for the teardown's checks. */
	peer_sql("UPDATE records SET (pkeys, pbox) = (SELECT pkeys, pbox FROM"
	    " saved WHERE saved.rkey = records.rkey); DROP TABLE saved");
	for (i = 0; i < 2; i++) {
		assert_int_equal(store_record_load(w.st, k[i], &r), 0);
		store_record_free(r);
	}
	/*
	 * A vals row's kind is in clear and outside its box's associated
	 * data: a damaged one is an error, not an op of no kind.
	 */
	ops[0] = op_add("tags", "x");
	write1(w.st, &w.b, HLC_MAKE(200, 0), "case", rid[0], ops, 1, NULL);
	merge(w.st);
	assert_int_equal(count_rows(w.path, "vals"), 1);
	peer_sql("UPDATE vals SET kind = 9");
	assert_int_equal(store_record_load(w.st, k[0], &r), SAMEN_ESTORE);
	peer_sql("UPDATE vals SET kind = 3");
	assert_int_equal(store_record_load(w.st, k[0], &r), 0);
	store_record_free(r);
}

static int
file_contains(const char *path, const void *needle, size_t n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, got, i;
	int found;

	if (f == NULL)
		return 0;
	for (;;) {
		buf = xrealloc(buf, len + 65536);
		got = fread(buf + len, 1, 65536, f);
		len += got;
		if (got < 65536)
			break;
	}
	fclose(f);
	found = 0;
	for (i = 0; !found && i + n <= len; i++)
		found = buf[i] == *(const uint8_t *)needle &&
		    memcmp(buf + i, needle, n) == 0;
	free(buf);
	return found;
}

static void
assert_absent(const char *needle)
{
	char p[128];

	snprintf(p, sizeof(p), "%s-wal", w.path);
	assert_false(file_contains(w.path, needle, strlen(needle)));
	assert_false(file_contains(p, needle, strlen(needle)));
}

static void
test_plaintext_absent(void **state)
{
	static const char *secrets[] = {
		"dossiergeheim", "Huisartsnotitie", "Zonnebloemstraat 42 XYZZY",
		"kwartelkoning", "Kringnaam-Vertrouwelijk", "Bewindvoerder"
	};
	uint8_t rid[RID_LEN];
	struct op ops[4];
	struct store_circle c;
	struct store_record *r;
	char p[128];
	size_t i;

	(void)state;
	memset(&c, 0, sizeof(c));
	randombytes_buf(c.id, sizeof(c.id));
	randombytes_buf(c.key, sizeof(c.key));
	c.epoch = 1;
	c.name = (char *)secrets[4];
	assert_int_equal(store_circle_put(w.st, &c), 0);
	mkrid(rid, 1700000004000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set(secrets[1], secrets[2], NULL, 0);
	ops[2] = op_add(secrets[5], secrets[3]);
	ops[3] = op_rem(secrets[5], "ex-partner", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(1, 0), secrets[0], rid, ops, 4, NULL);
	merge(w.st);
	r = load(w.st, secrets[0], rid);
	assert_string_equal(field(r, secrets[1], 0)->vals[0].value,
	    secrets[2]);
	store_record_free(r);

	/* The check can see: the author's key is stored in clear. */
	snprintf(p, sizeof(p), "%s-wal", w.path);
	assert_true(file_contains(w.path, w.a.pk, 32) ||
	    file_contains(p, w.a.pk, 32));
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		assert_absent(secrets[i]);
	assert_absent("ex-partner");

	/* After a rebuild (rows rewritten) and a close (checkpoint). */
	assert_int_equal(store_rebuild(w.st), 0);
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		assert_absent(secrets[i]);
	store_close(w.st);
	w.st = NULL;
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
		assert_absent(secrets[i]);
	open_store(&w.st, 1);
}

/*
 * Checkpoints off the writer (samend's): SQLite's own in-commit checkpoint
 * is gone, store_ckpt_run from another connection copies the WAL into
 * the database, and store_checkpoint_here lets the next commit restart it.
 */
/* n notes of 4,000 bytes each from ms on: past 1,000 WAL pages at 300. */
static void
write_big(uint64_t ms, int n)
{
	uint8_t rid[RID_LEN];
	static uint64_t hlc = 10;

	for (int i = 0; i < n; i++) {
		char v[4001];
		struct op ops[2];

		memset(v, 'a' + i % 26, sizeof(v) - 1);
		v[sizeof(v) - 1] = '\0';
		ops[0] = op_exist(1, NULL, 0);
		ops[1] = op_set("text", v, NULL, 0);
		mkrid(rid, ms + (uint64_t)i);
		write1(w.st, &w.a, HLC_MAKE(hlc++, 0), "note", rid, ops, 2,
		    NULL);
		merge(w.st);
	}
}

/* A connection of its own reading the store: its snapshot holds back
 * checkpoints until sqlite3_close. */
static sqlite3 *
reader_at_snapshot(void)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN; SELECT count(*) "
	    "FROM records", NULL, NULL, NULL), SQLITE_OK);
	return db;
}

/*
 * main turned SQLite's memory statistics off before anything used SQLite:
 * a store was opened and written since, and SQLite counted none of it.
 * Once SQLite is in use, the switch is refused and says so.
 */
static void
test_memory_statistics_off(void **state)
{
	sqlite3_int64 now = -1, high = -1;

	(void)state;
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_circle_put(w.st, &w.circle), 0);
	assert_int_equal(store_commit(w.st), 0);
	assert_int_equal(sqlite3_status64(SQLITE_STATUS_MALLOC_COUNT, &now,
	    &high, 0), SQLITE_OK);
	assert_int_equal(now, 0);
	assert_int_equal(sqlite3_memory_used(), 0);
	assert_int_equal(store_global_init(), SAMEN_ESTORE);
}

/*
 * store_release_memory frees SQLite's cached pages: some after writes,
 * none on a second call, and what was written still reads, and can be
 * written to, from the file.
 */
static void
test_release_memory(void **state)
{
	uint8_t rid[RID_LEN];
	struct store_record *r;
	int64_t rkey;
	size_t i;

	(void)state;
	for (i = 0; i < 200; i++) {
		struct op ops[2] = { op_exist(1, NULL, 0),
		    op_set("name", "a name long enough to fill some pages of "
		    "the cache", NULL, 0) };

		mkrid(rid, 5000 + i);
		write1(w.st, &w.a, 10 + i, "case", rid, ops, 2, NULL);
	}
	merge(w.st);
	assert_true(store_release_memory(w.st) > 0);
	assert_int_equal(store_release_memory(w.st), 0);
	assert_int_equal(store_record_find(w.st, w.circle.id, "case", rid,
	    &rkey), 0);
	assert_int_equal(store_record_load(w.st, rkey, &r), 0);
	assert_non_null(r);
	store_record_free(r);
	{
		struct op ops[1] = { op_set("name", "Bo", NULL, 0) };

		mkrid(rid, 6000);
		write1(w.st, &w.a, 300, "case", rid, ops, 1, NULL);
	}
	merge(w.st);
	assert_int_equal(store_record_find(w.st, w.circle.id, "case", rid,
	    &rkey), 0);
}

static void
test_checkpoints(void **state)
{
	uint64_t frames, before, log, copied;
	struct store_ckpt *ck;
	struct stat sb;

	(void)state;
	store_checkpoint_elsewhere(w.st);
	/* Far past SQLite's 1,000 pages: it would have checkpointed. */
	write_big(1700000020000ull, 300);
	frames = store_wal_frames(w.st);
	assert_true(frames > 1000);
	assert_int_equal(stat(w.path, &sb), 0);
	before = (uint64_t)sb.st_size;
	assert_true(before < 1u << 20);	/* all of it still in the WAL */
	/* From a connection of its own: the pages reach the database. */
	ck = store_ckpt_new(w.path);
	assert_int_equal(store_ckpt_run(ck, &log, &copied), 0);
	assert_int_equal(log, frames);
	assert_int_equal(copied, frames);
	assert_int_equal(stat(w.path, &sb), 0);
	assert_true((uint64_t)sb.st_size > before + (1u << 20));
	/* Kept open, it holds no snapshot: the next commit starts over. */
	write_big(1700000029000ull, 1);
	assert_true(store_wal_frames(w.st) < frames / 10);
	/* On the store's own, with nothing copied before: all of it. */
	write_big(1700000030000ull, 300);
	frames = store_wal_frames(w.st);
	assert_true(frames > 1000);
	assert_int_equal(store_checkpoint_here(w.st, &copied), 0);
	assert_int_equal(copied, frames);
	write_big(1700000039000ull, 1);
	assert_true(store_wal_frames(w.st) < frames / 10);
	/* The kept connection after the WAL started over. */
	assert_int_equal(store_ckpt_run(ck, &log, &copied), 0);
	assert_int_equal(log, store_wal_frames(w.st));
	assert_true(log > 0);
	assert_int_equal(copied, log);
	/* A reader's snapshot: copied stops there, log goes on. */
	{
		sqlite3 *db;
		uint64_t at;

		write_big(1700000040000ull, 10);
		at = store_wal_frames(w.st);
		db = reader_at_snapshot();
		write_big(1700000041000ull, 10);
		assert_int_equal(store_ckpt_run(ck, &log, &copied), 0);
		assert_int_equal(log, store_wal_frames(w.st));
		assert_int_equal(copied, at);
		assert_true(copied < log);
		sqlite3_close(db);
	}
	store_ckpt_free(ck);
}

/*
 * A VFS that is the default one, but whose syncs of main database files
 * fail while fail_db_sync is set: a disk that cannot write samen.db.  Its
 * files are the default VFS's own, with a copy of their methods in which
 * xSync (and xClose, to forget them) are ours.
 */
static sqlite3_vfs failvfs, *realvfs;
static sqlite3_io_methods failio;
static const sqlite3_io_methods *realio;
static sqlite3_file *dbfiles[8];
static int fail_db_sync;

static int
is_dbfile(sqlite3_file *f)
{
	for (size_t i = 0; i < sizeof(dbfiles) / sizeof(dbfiles[0]); i++)
		if (dbfiles[i] == f)
			return 1;
	return 0;
}

static int
failvfs_sync(sqlite3_file *f, int flags)
{
	if (fail_db_sync && is_dbfile(f))
		return SQLITE_IOERR_FSYNC;
	return realio->xSync(f, flags);
}

static int
failvfs_close(sqlite3_file *f)
{
	for (size_t i = 0; i < sizeof(dbfiles) / sizeof(dbfiles[0]); i++)
		if (dbfiles[i] == f)
			dbfiles[i] = NULL;
	return realio->xClose(f);
}

static int
failvfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f,
    int flags, int *out)
{
	int rc;

	size_t i = 0;

	(void)vfs;
	if ((rc = realvfs->xOpen(realvfs, name, f, flags, out)) != SQLITE_OK ||
	    f->pMethods == NULL || !(flags & SQLITE_OPEN_MAIN_DB))
		return rc;
	if (realio == NULL) {
		realio = f->pMethods;
		failio = *realio;
		failio.xSync = failvfs_sync;
		failio.xClose = failvfs_close;
	}
	if (f->pMethods != realio)
		return rc;		/* not a file of the kind we copied */
	f->pMethods = &failio;
	while (i < sizeof(dbfiles) / sizeof(dbfiles[0]) && dbfiles[i] != NULL)
		i++;
	if (i < sizeof(dbfiles) / sizeof(dbfiles[0]))
		dbfiles[i] = f;
	return SQLITE_OK;
}

/*
 * A failed sync of samen.db in a checkpoint is told apart (-EIO), from
 * the connection of its own and from the store's: samend stops on it
 * (main.c, sync_failed) before the WAL can start over without what was
 * lost.  Nothing is lost meanwhile: the WAL still holds every commit.
 */
/* teardown, with the default VFS back even if the test failed half-way. */
static int
teardown_vfs(void **state)
{
	fail_db_sync = 0;
	sqlite3_vfs_unregister(&failvfs);
	return teardown(state);
}

static void
test_checkpoint_sync_fails(void **state)
{
	uint64_t log, copied;
	struct store_ckpt *ck;
	struct store_stats s;
	sqlite3 *db;

	(void)state;
	realvfs = sqlite3_vfs_find(NULL);
	failvfs = *realvfs;
	failvfs.zName = "samen-failsync";
	failvfs.xOpen = failvfs_open;
	assert_int_equal(sqlite3_vfs_register(&failvfs, 1), SQLITE_OK);
	store_close(w.st);
	open_store(&w.st, 1);
	store_checkpoint_elsewhere(w.st);
	write_big(1700000050000ull, 300);
	ck = store_ckpt_new(w.path);
	/* Behind a reader's snapshot SQLite does not sync: our own sync. */
	db = reader_at_snapshot();
	write_big(1700000051000ull, 10);
	fail_db_sync = 1;
	assert_int_equal(store_ckpt_run(ck, &log, &copied), -EIO);
	sqlite3_close(db);
	/* All of it: SQLite's own sync, from both connections. */
	assert_int_equal(store_ckpt_run(ck, &log, &copied), -EIO);
	assert_int_equal(store_checkpoint_here(w.st, &copied), -EIO);
	fail_db_sync = 0;
	assert_int_equal(store_ckpt_run(ck, &log, &copied), 0);
	assert_int_equal(copied, log);
	/* The disk is back: the WAL still held all of it. */
	store_ckpt_free(ck);
	store_close(w.st);
	w.st = NULL;
	open_store(&w.st, 1);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.records, 310);
	store_close(w.st);
	w.st = NULL;
	assert_int_equal(sqlite3_vfs_unregister(&failvfs), SQLITE_OK);
	assert_ptr_equal(sqlite3_vfs_find(NULL), realvfs);
	open_store(&w.st, 1);
}

static void
test_open_errors(void **state)
{
	struct store *st;
	char *cause = NULL;
	char p[128];

	(void)state;
	snprintf(p, sizeof(p), "%s/no/such/dir/x.db", w.dir);
	assert_int_equal(store_open(&st, p, &cause), SAMEN_ESTORE);
	assert_null(st);
	assert_non_null(cause);
	free(cause);
}

/* Sync support. */

/*
 * Next change set of d in circle c, stored; d's seq and head are its chain
 * in c (a device writing in two circles needs a struct dev for each).  Kept
 * in b if b is not NULL (free with built_free).
 */
static void
chain_next(struct store *st, struct dev *d, const struct store_circle *c,
    uint64_t hlc, struct built *b)
{
	uint8_t rid[RID_LEN];
	struct op ops[1];
	struct ops_chunk ch;
	struct built tmp, *x = b ? b : &tmp;

	mkrid(rid, 1700000005000ull + d->seq);
	ops[0] = op_set("n", "v", NULL, 0);
	ch = chunk("case", rid, ops, 1);
	build(x, d, c, c->key, d->seq + 1, d->head, hlc, &ch, 1);
	assert_int_equal(insert(st, x), 0);
	d->seq++;
	memcpy(d->head, x->id, CS_IDLEN);
	if (b == NULL)
		built_free(&tmp);
}

/* Sorted by author bytes, one entry per device, at its head. */
static void
vec_check(const struct sync_head *h, size_t n, struct dev *const *d,
    size_t nd)
{
	size_t i, j;

	assert_int_equal(n, nd);
	for (i = 1; i < n; i++)
		assert_true(memcmp(h[i - 1].author, h[i].author, 32) < 0);
	for (i = 0; i < nd; i++) {
		for (j = 0; j < n; j++)
			if (memcmp(h[j].author, d[i]->pk, 32) == 0)
				break;
		assert_true(j < n);
		assert_int_equal(h[j].seq, d[i]->seq);
		assert_memory_equal(h[j].head, d[i]->head, CS_IDLEN);
	}
}

static void
test_vector(void **state)
{
	struct dev c, a2, *all[3], *mine = &a2;
	struct store_circle other;
	struct sync_head *h;
	struct built ids[3], fork;
	struct op ops[1];
	struct ops_chunk ch;
	uint8_t id[CS_IDLEN], unknown[CS_CIRCLELEN], stranger[32];
	uint8_t rid[RID_LEN];
	struct store_stats s;
	size_t n, i;

	(void)state;
	dev_init(&c);
	all[0] = &w.a;
	all[1] = &w.b;
	all[2] = &c;
	memset(&other, 0, sizeof(other));
	randombytes_buf(other.id, sizeof(other.id));
	randombytes_buf(other.key, sizeof(other.key));
	other.epoch = 1;
	other.name = "other";
	assert_int_equal(store_circle_put(w.st, &other), 0);
	/* a's chain in the other circle is a chain of its own. */
	a2 = w.a;
	a2.seq = 0;
	memset(a2.head, 0, sizeof(a2.head));
	randombytes_buf(unknown, sizeof(unknown));
	randombytes_buf(stranger, sizeof(stranger));

	/* Nothing yet: an empty vector, not an error. */
	assert_int_equal(store_vector(w.st, w.circle.id, &h, &n), 0);
	assert_int_equal(n, 0);
	free(h);

	/* Interleaved chains of 3, 1 and 2 in the team circle. */
	for (i = 0; i < 3; i++) {
		chain_next(w.st, &w.a, &w.circle, HLC_MAKE(10 + i, 0), &ids[i]);
		if (i == 0)
			chain_next(w.st, &w.b, &w.circle, HLC_MAKE(20, 0),
			    NULL);
		if (i < 2)
			chain_next(w.st, &c, &w.circle, HLC_MAKE(30 + i, 0),
			    NULL);
	}
	chain_next(w.st, &a2, &other, HLC_MAKE(40, 0), NULL);
	chain_next(w.st, &a2, &other, HLC_MAKE(41, 0), NULL);

	assert_int_equal(store_vector(w.st, w.circle.id, &h, &n), 0);
	vec_check(h, n, all, 3);
	free(h);
	assert_int_equal(store_vector(w.st, other.id, &h, &n), 0);
	vec_check(h, n, &mine, 1);
	assert_memory_equal(h[0].author, w.a.pk, 32);
	free(h);
	/* A chain nobody wrote to. */
	h = (struct sync_head *)&n;
	assert_int_equal(store_vector(w.st, unknown, &h, &n), 0);
	assert_int_equal(n, 0);
	assert_null(h);

	/* The id at each link of a's chain, and nothing past or beside it. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(store_cs_id_at(w.st, w.circle.id, w.a.pk,
		    i + 1, id), 0);
		assert_memory_equal(id, ids[i].id, CS_IDLEN);
	}
	assert_int_equal(store_cs_id_at(w.st, w.circle.id, w.a.pk, 4, id),
	    SAMEN_ENOTFOUND);
	assert_int_equal(store_cs_id_at(w.st, w.circle.id, w.a.pk, 0, id),
	    SAMEN_ENOTFOUND);
	assert_int_equal(store_cs_id_at(w.st, unknown, w.a.pk, 1, id),
	    SAMEN_ENOTFOUND);
	assert_int_equal(store_cs_id_at(w.st, w.circle.id, stranger, 1, id),
	    SAMEN_ENOTFOUND);
	assert_int_equal(store_cs_id_at(w.st, other.id, w.a.pk, 2, id), 0);
	assert_memory_equal(id, a2.head, CS_IDLEN);

	/* A second change set at a's head: kept as evidence, not counted. */
	assert_int_equal(store_author_flagged(w.st, w.a.pk), 0);
	mkrid(rid, 1700000005900ull);
	ops[0] = op_set("n", "forked", NULL, 0);
	ch = chunk("case", rid, ops, 1);
	build(&fork, &w.a, &w.circle, w.circle.key, 3, ids[1].id,
	    HLC_MAKE(99, 0), &ch, 1);
	assert_int_equal(insert(w.st, &fork), SAMEN_EFORK);
	assert_int_equal(count_rows(w.path, "forks"), 1);
	assert_int_equal(store_author_flagged(w.st, w.a.pk), 1);
	assert_int_equal(store_author_flagged(w.st, w.b.pk), 0);
	assert_int_equal(store_author_flagged(w.st, stranger), 0);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.flagged, 1);
	assert_int_equal(store_vector(w.st, w.circle.id, &h, &n), 0);
	vec_check(h, n, all, 3);
	free(h);
	assert_int_equal(store_cs_id_at(w.st, w.circle.id, w.a.pk, 3, id), 0);
	assert_memory_equal(id, ids[2].id, CS_IDLEN);

	/* All of it without the storage key, after a reopen. */
	store_close(w.st);
	open_store(&w.st, 0);
	assert_int_equal(store_vector(w.st, w.circle.id, &h, &n), 0);
	vec_check(h, n, all, 3);
	free(h);
	assert_int_equal(store_cs_id_at(w.st, w.circle.id, w.a.pk, 1, id), 0);
	assert_memory_equal(id, ids[0].id, CS_IDLEN);
	assert_int_equal(store_author_flagged(w.st, w.a.pk), 1);
	assert_int_equal(store_author_flagged(w.st, c.pk), 0);

	built_free(&fork);
	for (i = 0; i < 3; i++)
		built_free(&ids[i]);
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * 100,000 change sets from 20 authors, written straight into the tables
 * (signing them would take the test longer than the point it makes): the
 * vector must come from index seeks, not a walk of the chain.
 */
static void
test_vector_large(void **state)
{
	enum { AUTHORS = 20, PER = 5000 };
	uint8_t chain[CS_CIRCLELEN], pk[AUTHORS][32], last[AUTHORS][CS_IDLEN];
	uint8_t id[CS_IDLEN];
	struct sync_head *h;
	sqlite3 *db;
	sqlite3_stmt *sa, *sc;
	uint64_t t0, best = UINT64_MAX;
	size_t n, i, j, k;

	(void)state;
	randombytes_buf(chain, sizeof(chain));
	assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO authors (pk)"
	    " VALUES (?1)", -1, &sa, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO cs (circle, aid,"
	    " seq, epoch, hlc, readable, id, hdr, payload) VALUES (?1, ?2, ?3,"
	    " 1, 0, 1, ?4, x'00', x'00')", -1, &sc, NULL), SQLITE_OK);
	for (i = 0; i < AUTHORS; i++) {
		sqlite3_int64 aid;

		randombytes_buf(pk[i], 32);
		sqlite3_bind_blob(sa, 1, pk[i], 32, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(sa), SQLITE_DONE);
		sqlite3_reset(sa);
		aid = sqlite3_last_insert_rowid(db);
		for (j = 1; j <= PER; j++) {
			randombytes_buf(id, sizeof(id));
			sqlite3_bind_blob(sc, 1, chain, CS_CIRCLELEN,
			    SQLITE_STATIC);
			sqlite3_bind_int64(sc, 2, aid);
			sqlite3_bind_int64(sc, 3, (sqlite3_int64)j);
			sqlite3_bind_blob(sc, 4, id, CS_IDLEN,
			    SQLITE_TRANSIENT);
			assert_int_equal(sqlite3_step(sc), SQLITE_DONE);
			sqlite3_reset(sc);
		}
		memcpy(last[i], id, CS_IDLEN);
	}
	sqlite3_finalize(sa);
	sqlite3_finalize(sc);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	for (k = 0; k < 5; k++) {
		t0 = mono_us();
		assert_int_equal(store_vector(w.st, chain, &h, &n), 0);
		t0 = mono_us() - t0;
		if (t0 < best)
			best = t0;
		assert_int_equal(n, AUTHORS);
		for (i = 0; i < n; i++) {
			if (i > 0)
				assert_true(memcmp(h[i - 1].author,
				    h[i].author, 32) < 0);
			for (j = 0; j < AUTHORS; j++)
				if (memcmp(pk[j], h[i].author, 32) == 0)
					break;
			assert_true(j < AUTHORS);
			assert_int_equal(h[i].seq, PER);
			assert_memory_equal(h[i].head, last[j], CS_IDLEN);
		}
		free(h);
	}
	/* Tens of microseconds in practice; a walk takes tens of ms. */
	assert_true(best < 5000);
}

/* Collects what store_cs_range hands out; stops after stop_at calls. */
struct range {
	uint64_t seq[16];
	uint8_t *hdr[16], *pay[16];
	size_t hdr_len[16], pay_len[16];
	size_t n;
	size_t stop_at;
};

static int
range_cb(void *arg, uint64_t seq, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct range *r = arg;

	assert_true(r->n < 16);
	r->seq[r->n] = seq;
	r->hdr[r->n] = xmalloc(hdr_len);
	memcpy(r->hdr[r->n], hdr, hdr_len);
	r->hdr_len[r->n] = hdr_len;
	r->pay[r->n] = xmalloc(payload_len);
	memcpy(r->pay[r->n], payload, payload_len);
	r->pay_len[r->n] = payload_len;
	r->n++;
	return r->stop_at != 0 && r->n == r->stop_at ? 9 : 0;
}

static void
range_reset(struct range *r, size_t stop_at)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->hdr[i]);
		free(r->pay[i]);
	}
	memset(r, 0, sizeof(*r));
	r->stop_at = stop_at;
}

/* r holds exactly seqs first..first+n-1 of b, with their bytes. */
static void
range_check(const struct range *r, const struct built *b, uint64_t first,
    size_t n)
{
	size_t i;

	assert_int_equal(r->n, n);
	for (i = 0; i < n; i++) {
		const struct built *x = &b[first - 1 + i];

		assert_int_equal(r->seq[i], first + i);
		assert_int_equal(r->hdr_len[i], wire_len(&x->hdr));
		assert_memory_equal(r->hdr[i], wire_data(&x->hdr),
		    r->hdr_len[i]);
		assert_int_equal(r->pay_len[i], wire_len(&x->pay));
		assert_memory_equal(r->pay[i], wire_data(&x->pay),
		    r->pay_len[i]);
	}
}

static void
test_range(void **state)
{
	struct built b[5];
	struct range r;
	uint8_t unknown[CS_CIRCLELEN], stranger[32];
	size_t i;

	(void)state;
	memset(&r, 0, sizeof(r));
	randombytes_buf(unknown, sizeof(unknown));
	randombytes_buf(stranger, sizeof(stranger));
	/* b's change sets in between must not show up in a's range. */
	for (i = 0; i < 5; i++) {
		chain_next(w.st, &w.a, &w.circle, HLC_MAKE(100 + i, 0), &b[i]);
		chain_next(w.st, &w.b, &w.circle, HLC_MAKE(200 + i, 0), NULL);
	}

	range_reset(&r, 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 0, 100,
	    range_cb, &r), 0);
	range_check(&r, b, 1, 5);
	range_reset(&r, 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 2, 2,
	    range_cb, &r), 0);
	range_check(&r, b, 3, 2);
	range_reset(&r, 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 4,
	    UINT64_MAX, range_cb, &r), 0);
	range_check(&r, b, 5, 1);
	/* Nothing past the head, nothing for limit 0, no such chain. */
	range_reset(&r, 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 5, 10,
	    range_cb, &r), 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, UINT64_MAX,
	    10, range_cb, &r), 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 0, 0,
	    range_cb, &r), 0);
	assert_int_equal(store_cs_range(w.st, unknown, w.a.pk, 0, 10,
	    range_cb, &r), 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, stranger, 0, 10,
	    range_cb, &r), 0);
	assert_int_equal(r.n, 0);
	/* A non-zero return from cb stops the walk and comes back. */
	range_reset(&r, 2);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 1, 10,
	    range_cb, &r), 9);
	range_check(&r, b, 2, 2);
	/* The statement was reset: the next walk starts afresh. */
	range_reset(&r, 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.b.pk, 0, 3,
	    range_cb, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.seq[2], 3);

	/* Without the key, after a reopen. */
	store_close(w.st);
	open_store(&w.st, 0);
	range_reset(&r, 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 0, 5,
	    range_cb, &r), 0);
	range_check(&r, b, 1, 5);
	range_reset(&r, 0);
	for (i = 0; i < 5; i++)
		built_free(&b[i]);
}

/* Circles of every kind. */

static struct store_circle
mkcircle(const char *name, uint32_t epoch, int kind)
{
	struct store_circle c;

	memset(&c, 0, sizeof(c));
	randombytes_buf(c.id, sizeof(c.id));
	randombytes_buf(c.key, sizeof(c.key));
	c.epoch = epoch;
	c.name = (char *)name;
	c.kind = kind;
	return c;
}

static void
circle_equal(const struct store_circle *got, const struct store_circle *want)
{
	uint8_t zero[CS_CIRCLELEN];

	memset(zero, 0, sizeof(zero));
	assert_memory_equal(got->id, want->id, CS_CIRCLELEN);
	assert_int_equal(got->epoch, want->epoch);
	assert_string_equal(got->name, want->name);
	assert_memory_equal(got->key, want->key, CS_KEYLEN);
	assert_int_equal(got->kind, want->kind);
	assert_memory_equal(got->base, want->kind == STORE_CIRCLE_MEMBERS ?
	    want->base : zero, CS_CIRCLELEN);
}

static void
list_check(struct store *st, const struct store_circle *const *want,
    size_t n)
{
	struct store_circle *l;
	size_t nl, i;

	assert_int_equal(store_circle_list(st, &l, &nl), 0);
	assert_int_equal(nl, n);
	for (i = 0; i < n; i++)
		circle_equal(&l[i], want[i]);
	store_circle_list_free(l, nl);
}

static void
test_circle_list(void **state)
{
	struct store_circle beta1, beta2, dup1, dup2, priv, mem, priv2, got;
	struct store_circle team = w.circle, *l;
	const struct store_circle *want[8];
	uint8_t rid[RID_LEN], zero[CS_IDLEN];
	struct op ops[2];
	struct ops_chunk ch;
	struct built b;
	struct store_stats s;
	int64_t rkey;
	size_t n;

	(void)state;
	memset(zero, 0, sizeof(zero));
	store_circle_list_free(NULL, 0);
	/* The circle setup() put (a memset'ed struct: shared). */
	want[0] = &team;
	list_check(w.st, want, 1);

	beta1 = mkcircle("beta-old", 1, STORE_CIRCLE_SHARED);
	beta2 = beta1;
	beta2.epoch = 2;
	beta2.name = "beta";
	randombytes_buf(beta2.key, sizeof(beta2.key));
	/* Same name, told apart by id. */
	dup1 = mkcircle("dup", 1, STORE_CIRCLE_SHARED);
	dup2 = mkcircle("dup", 1, STORE_CIRCLE_SHARED);
	if (memcmp(dup1.id, dup2.id, CS_CIRCLELEN) > 0) {
		struct store_circle t = dup1;

		dup1 = dup2;
		dup2 = t;
	}
	/* put_private marks it whatever kind the struct says. */
	priv = mkcircle("zzz-private", 1, STORE_CIRCLE_SHARED);
	/* A members chain, named before the circles: kind sorts first. */
	mem = mkcircle("aaa-members", 1, STORE_CIRCLE_MEMBERS);
	memcpy(mem.base, team.id, CS_CIRCLELEN);

	/* Its change set arrives before its key, and waits for it. */
	mkrid(rid, 1700000006000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("member", "a", NULL, 0);
	ch = chunk("member", rid, ops, 2);
	build(&b, &w.a, &mem, mem.key, 1, zero, HLC_MAKE(5, 0), &ch, 1);
	assert_int_equal(insert(w.st, &b), 0);
	built_free(&b);
	merge(w.st);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 1);

	assert_int_equal(store_circle_put(w.st, &dup2), 0);
	assert_int_equal(store_circle_put(w.st, &beta2), 0);
	assert_int_equal(store_circle_put(w.st, &mem), 0);
	assert_int_equal(store_circle_put(w.st, &beta1), 0);
	assert_int_equal(store_circle_put_private(w.st, &priv), 0);
	assert_int_equal(store_circle_put(w.st, &dup1), 0);
	priv.kind = STORE_CIRCLE_PRIVATE;

	merge(w.st);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 0);
	assert_int_equal(store_record_find(w.st, mem.id, "member", rid,
	    &rkey), 0);

	want[0] = &beta2;
	want[1] = &dup1;
	want[2] = &dup2;
	want[3] = &team;
	want[4] = &priv;
	want[5] = &mem;
	list_check(w.st, want, 6);
	/* Each epoch keeps its own kind, name and key. */
	assert_int_equal(store_circle_get(w.st, beta1.id, 1, &got), 0);
	circle_equal(&got, &beta1);
	store_circle_clear(&got);
	assert_int_equal(store_circle_get(w.st, mem.id, 1, &got), 0);
	circle_equal(&got, &mem);
	store_circle_clear(&got);
	assert_int_equal(store_circle_private(w.st, &got), 0);
	circle_equal(&got, &priv);
	store_circle_clear(&got);

	/* Base is kept for members chains only. */
	memset(beta2.base, 0xaa, sizeof(beta2.base));
	assert_int_equal(store_circle_put(w.st, &beta2), 0);
	assert_int_equal(store_circle_get(w.st, beta2.id, 2, &got), 0);
	circle_equal(&got, &beta2);
	store_circle_clear(&got);
	/* A kind that does not exist. */
	got = mkcircle("bogus", 1, 3);
	assert_int_equal(store_circle_put(w.st, &got), SAMEN_EINVAL);
	got.kind = -1;
	assert_int_equal(store_circle_put(w.st, &got), SAMEN_EINVAL);

	/* A new private circle takes the mark: the old one is shared now. */
	priv2 = mkcircle("private", 1, STORE_CIRCLE_SHARED);
	assert_int_equal(store_circle_put_private(w.st, &priv2), 0);
	priv2.kind = STORE_CIRCLE_PRIVATE;
	priv.kind = STORE_CIRCLE_SHARED;
	want[0] = &beta2;
	want[1] = &dup1;
	want[2] = &dup2;
	want[3] = &team;
	want[4] = &priv;
	want[5] = &priv2;
	want[6] = &mem;
	list_check(w.st, want, 7);

	/* It survives a reopen; it needs the key. */
	store_close(w.st);
	open_store(&w.st, 0);
	l = (struct store_circle *)&n;
	assert_int_equal(store_circle_list(w.st, &l, &n), SAMEN_ELOCKED);
	assert_null(l);
	assert_int_equal(n, 0);
	store_set_key(w.st, w.skey);
	list_check(w.st, want, 7);
}

/* Peers. */

static void
peer_dev(uint8_t d[32], uint8_t first)
{
	randombytes_buf(d, 32);
	d[0] = first;
}

static uint64_t
wall_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


static void
peer_sql(const char *q)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_peers(void **state)
{
	uint8_t d1[32], d2[32], d3[32], d4[32], dg[32], dg2[32], zero[32];
	struct timespec pause = { 0, 3 * 1000 * 1000 };
	struct store_peer *p;
	uint64_t t0, t1, added;
	size_t n;

	(void)state;
	memset(zero, 0, sizeof(zero));
	randombytes_buf(dg, sizeof(dg));
	randombytes_buf(dg2, sizeof(dg2));
	peer_dev(d1, 0xf0);
	peer_dev(d2, 0x10);
	peer_dev(d3, 0x80);
	peer_dev(d4, 0x01);
	store_peer_list_free(NULL, 0);
	p = (struct store_peer *)&n;
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_null(p);
	assert_int_equal(n, 0);

	/* Listed in the order added, whatever the device bytes. */
	t0 = wall_now_ms();
	assert_int_equal(store_peer_put(w.st, d1, "tcp://10.0.0.1:7000"), 0);
	t1 = wall_now_ms();
	nanosleep(&pause, NULL);
	assert_int_equal(store_peer_put(w.st, d2, NULL), 0);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(p[0].device, d1, 32);
	assert_string_equal(p[0].addr, "tcp://10.0.0.1:7000");
	assert_true(p[0].added_ms >= t0 && p[0].added_ms <= t1);
	assert_int_equal(p[0].last_sync_ms, 0);
	assert_int_equal(p[0].sent, 0);
	assert_int_equal(p[0].received, 0);
	assert_int_equal(p[0].rejected, 0);
	assert_memory_equal(p[0].digest, zero, 32);
	assert_memory_equal(p[1].device, d2, 32);
	assert_null(p[1].addr);
	assert_true(p[1].added_ms > p[0].added_ms);
	added = p[0].added_ms;
	store_peer_list_free(p, n);

	/* Putting it again changes the address only. */
	nanosleep(&pause, NULL);
	assert_int_equal(store_peer_put(w.st, d1, "tcp://[::1]:7001"), 0);
	assert_int_equal(store_peer_note(w.st, d1, 1234, dg, 5, 6, 1), 0);
	assert_int_equal(store_peer_note(w.st, d1, 2000, dg2, 1, 1, 1), 0);
	assert_int_equal(store_peer_put(w.st, d2, "tcp://10.0.0.2:7000"), 0);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(p[0].device, d1, 32);
	assert_string_equal(p[0].addr, "tcp://[::1]:7001");
	assert_int_equal(p[0].added_ms, added);
	assert_int_equal(p[0].last_sync_ms, 2000);
	assert_memory_equal(p[0].digest, dg2, 32);
	assert_int_equal(p[0].sent, 6);
	assert_int_equal(p[0].received, 7);
	assert_int_equal(p[0].rejected, 2);
	assert_string_equal(p[1].addr, "tcp://10.0.0.2:7000");
	assert_int_equal(p[1].last_sync_ms, 0);
	store_peer_list_free(p, n);
	/* ...and NULL clears it. */
	assert_int_equal(store_peer_put(w.st, d1, NULL), 0);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_null(p[0].addr);
	assert_int_equal(p[0].sent, 6);
	store_peer_list_free(p, n);

	/* Not peers. */
	assert_int_equal(store_peer_note(w.st, d3, 1, dg, 1, 1, 1),
	    SAMEN_ENOTFOUND);
	assert_int_equal(store_peer_rm(w.st, d3), SAMEN_ENOTFOUND);

	/* Inside a transaction: gone with a rollback, kept with a commit. */
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_peer_put(w.st, d3, "tcp://10.0.0.3:7000"), 0);
	assert_int_equal(store_peer_note(w.st, d3, 7, dg, 1, 2, 3), 0);
	store_rollback(w.st);
	assert_int_equal(store_peer_rm(w.st, d3), SAMEN_ENOTFOUND);
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_peer_put(w.st, d3, "tcp://10.0.0.3:7000"), 0);
	assert_int_equal(store_peer_put(w.st, d4, NULL), 0);
	assert_int_equal(store_peer_note(w.st, d3, 7, dg, 1, 2, 3), 0);
	assert_int_equal(store_commit(w.st), 0);

	/* Added in the same millisecond: by device bytes. */
	peer_sql("UPDATE peers SET added_ms = 42");
	assert_int_equal(store_peer_rm(w.st, d2), 0);
	assert_int_equal(store_peer_rm(w.st, d2), SAMEN_ENOTFOUND);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(p[0].device, d4, 32);
	assert_memory_equal(p[1].device, d3, 32);
	assert_memory_equal(p[2].device, d1, 32);
	store_peer_list_free(p, n);

	/* Peers need no key, and survive a reopen. */
	store_close(w.st);
	open_store(&w.st, 0);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(p[0].device, d4, 32);
	assert_null(p[0].addr);
	assert_memory_equal(p[1].device, d3, 32);
	assert_string_equal(p[1].addr, "tcp://10.0.0.3:7000");
	assert_int_equal(p[1].last_sync_ms, 7);
	assert_memory_equal(p[1].digest, dg, 32);
	assert_int_equal(p[1].sent, 1);
	assert_int_equal(p[1].received, 2);
	assert_int_equal(p[1].rejected, 3);
	assert_int_equal(p[1].added_ms, 42);
	assert_memory_equal(p[2].device, d1, 32);
	assert_int_equal(p[2].sent, 6);
	assert_memory_equal(p[2].digest, dg2, 32);
	store_peer_list_free(p, n);
	assert_int_equal(store_peer_rm(w.st, d1), 0);
	assert_int_equal(store_peer_put(w.st, d1, "tcp://10.0.0.1:7000"), 0);
	assert_int_equal(store_peer_list(w.st, &p, &n), 0);
	/* Added again: a new entry, counters from zero, listed last. */
	assert_int_equal(n, 3);
	assert_memory_equal(p[2].device, d1, 32);
	assert_int_equal(p[2].sent, 0);
	assert_true(p[2].added_ms >= t1);
	store_peer_list_free(p, n);
}

/*
 * store_record_load_many gives what store_record_load gives, record for
 * record, in and out of a transaction; a missing record is NULL alone.
 */
static void
test_load_many(void **state)
{
	uint8_t rid[3][RID_LEN], id[CS_IDLEN], v0[VID_LEN];
	struct store_record *one, *many[4];
	int64_t keys[4];
	struct touched t;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		struct op ops[3] = { op_exist(1, NULL, 0),
		    op_set("name", i == 1 ? "Bo" : "An", NULL, 0),
		    op_add("tags", "x") };

		mkrid(rid[i], 1000 + i);
		write1(w.st, &w.a, 10 + i, "case", rid[i], ops, 3,
		    i == 0 ? id : NULL);
	}
	merge(w.st);
	/* A conflict and a second device on the first record. */
	{
		struct op ops[2] = { op_set("name", "Cy", NULL, 0),
		    op_add("tags", "y") };

		write1(w.st, &w.b, 20, "case", rid[0], ops, 2, NULL);
	}
	vid(v0, id, 0, 0);
	{
		struct op ops[1] = { op_exist(0, v0, 1) };

		write1(w.st, &w.b, 21, "case", rid[2], ops, 1, NULL);
	}
	merge_t(w.st, &t);
	assert_int_equal(t.n, 2);
	for (i = 0; i < 3; i++)
		assert_int_equal(store_record_find(w.st, w.circle.id, "case",
		    rid[i], &keys[i]), 0);
	keys[3] = keys[2] + 1000;	/* no such record */

	assert_int_equal(store_record_load_many(w.st, keys, 4, many), 0);
	assert_null(many[3]);
	for (i = 0; i < 3; i++) {
		assert_non_null(many[i]);
		assert_int_equal(store_record_load(w.st, keys[i], &one), 0);
		record_same(one, many[i]);
		store_record_free(one);
		store_record_free(many[i]);
	}
	/* Inside the caller's transaction it neither ends nor breaks it. */
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_record_load_many(w.st, keys, 3, many), 0);
	for (i = 0; i < 3; i++) {
		assert_non_null(many[i]);
		store_record_free(many[i]);
	}
	assert_int_equal(store_commit(w.st), 0);
	assert_int_equal(store_record_load_many(w.st, keys, 0, many), 0);
}

/* A second store in the same directory holding the test circle. */
static struct store *
other_store(void)
{
	struct store *o;
	char path[128], *cause = NULL;

	snprintf(path, sizeof(path), "%s/other.db", w.dir);
	assert_int_equal(store_open(&o, path, &cause), 0);
	assert_null(cause);
	store_set_key(o, w.skey);
	assert_int_equal(store_circle_put(o, &w.circle), 0);
	return o;
}

/*
 * Change sets for the insert-merged tests: batch 1 creates r0; batch 2
 * creates r1 and updates it in the next change set (its preds name the
 * first), updates r0 (existing), and adds a second device's value to r0.
 */
#define IM_N 5
static void
im_build(struct built b[IM_N], uint8_t rid[2][RID_LEN])
{
	struct dev a = w.a, bd = w.b;
	uint8_t v[3][VID_LEN];
	struct op o0[2], o1[3], o2[1], o3[1], o4[1];
	struct ops_chunk c;

	mkrid(rid[0], 1700000004000ull);
	mkrid(rid[1], 1700000004001ull);
	o0[0] = op_exist(1, NULL, 0);
	o0[1] = op_set("name", "first", NULL, 0);
	c = chunk("case", rid[0], o0, 2);
	build(&b[0], &a, &w.circle, w.circle.key, 1, a.head, HLC_MAKE(1, 0),
	    &c, 1);
	memcpy(a.head, b[0].id, CS_IDLEN);
	o1[0] = op_exist(1, NULL, 0);
	o1[1] = op_set("name", "new", NULL, 0);
	o1[2] = op_add("tags", "t");
	c = chunk("case", rid[1], o1, 3);
	build(&b[1], &a, &w.circle, w.circle.key, 2, a.head, HLC_MAKE(2, 0),
	    &c, 1);
	memcpy(a.head, b[1].id, CS_IDLEN);
	vid(v[0], b[1].id, 0, 1);
	vid(v[2], b[1].id, 0, 2);
	o2[0] = op_set("name", "renamed", v[0], 1);
	c = chunk("case", rid[1], o2, 1);
	build(&b[2], &a, &w.circle, w.circle.key, 3, a.head, HLC_MAKE(3, 0),
	    &c, 1);
	memcpy(a.head, b[2].id, CS_IDLEN);
	vid(v[1], b[0].id, 0, 1);
	o3[0] = op_set("name", "second", v[1], 1);
	c = chunk("case", rid[0], o3, 1);
	build(&b[3], &a, &w.circle, w.circle.key, 4, a.head, HLC_MAKE(4, 0),
	    &c, 1);
	o4[0] = op_rem("tags", "t", v[2], 1);
	c = chunk("case", rid[1], o4, 1);
	build(&b[4], &bd, &w.circle, w.circle.key, 1, bd.head, HLC_MAKE(5, 0),
	    &c, 1);
}

/* im_build's change sets, and a store that stored, then merged them. */
static struct store *
im_reference(struct built b[IM_N], uint8_t rid[2][RID_LEN])
{
	struct store *o = other_store();

	im_build(b, rid);
	for (size_t i = 0; i < IM_N; i++)
		assert_int_equal(insert(o, &b[i]), 0);
	merge(o);
	return o;
}

/* As host_merge then the commit: in the caller's open transaction. */
static void
merge_commit(struct store *st, struct touched *t)
{
	t->n = 0;
	assert_int_equal(store_merge_pending(st, touched_cb, t), 0);
	assert_int_equal(store_commit(st), 0);
}

static int
insert_merged(struct store *st, const struct built *b)
{
	return store_cs_insert_merged(st, &b->h, b->id, wire_data(&b->hdr),
	    wire_len(&b->hdr), wire_data(&b->pay), wire_len(&b->pay));
}

/*
 * store_cs_insert_merged: the same replica as store_cs_insert and
 * store_merge_pending, a record created and updated within one batch, a
 * batch that mixes new and existing records; touched records reported by
 * the next store_merge_pending; nothing left pending.
 */
static void
test_insert_merged(void **state)
{
	uint8_t rid[2][RID_LEN], g1[32], g2[32];
	struct built b[IM_N];
	struct store *o;
	struct store_record *r;
	struct store_stats s;
	struct dump d1, d2;
	struct touched t;
	size_t i;

	(void)state;
	/* The reference: stored, then merged from the queue. */
	o = im_reference(b, rid);

	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(insert_merged(w.st, &b[0]), 0);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 0);
	merge_commit(w.st, &t);
	assert_int_equal(t.n, 1);
	assert_int_equal(store_begin(w.st), 0);
	for (i = 1; i < IM_N; i++)
		assert_int_equal(insert_merged(w.st, &b[i]), 0);
	/* A replay is refused as before and merges nothing twice. */
	assert_int_equal(insert_merged(w.st, &b[1]), SAMEN_EEXIST);
	merge_commit(w.st, &t);
	assert_int_equal(t.n, 2);
	assert_true(t.keys[0] < t.keys[1]);

	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, IM_N);
	assert_int_equal(s.pending, 0);
	assert_int_equal(s.bad, 0);
	assert_int_equal(store_digest(w.st, g1), 0);
	assert_int_equal(store_digest(o, g2), 0);
	assert_memory_equal(g1, g2, 32);
	dump(w.st, &d1);
	dump(o, &d2);
	dump_equal(&d1, &d2);
	dump_free(&d1);
	dump_free(&d2);
	r = load(w.st, "case", rid[1]);
	assert_string_equal(field(r, "name", 0)->vals[0].value, "renamed");
	assert_int_equal(field(r, "name", 0)->nvals, 1);
	assert_null(field(r, "tags", 1));
	assert_int_equal(r->created, HLC_MAKE(2, 0));
	assert_int_equal(r->updated, HLC_MAKE(5, 0));
	store_record_free(r);
	r = load(w.st, "case", rid[0]);
	assert_string_equal(field(r, "name", 0)->vals[0].value, "second");
	store_record_free(r);

	/* The digest was written with the commit: it survives a reopen. */
	store_close(w.st);
	open_store(&w.st, 1);
	assert_int_equal(store_digest(w.st, g2), 0);
	assert_memory_equal(g1, g2, 32);
	/* And a rebuild from the change sets agrees. */
	assert_int_equal(store_rebuild(w.st), 0);
	assert_int_equal(store_digest(w.st, g2), 0);
	assert_memory_equal(g1, g2, 32);
	for (i = 0; i < IM_N; i++)
		built_free(&b[i]);
	store_close(o);
}

/* a and b hold the same replica: digest and every row. */
static void
same_replica(struct store *a, struct store *b)
{
	uint8_t ga[32], gb[32];
	struct dump da, db;

	assert_int_equal(store_digest(a, ga), 0);
	assert_int_equal(store_digest(b, gb), 0);
	assert_memory_equal(ga, gb, 32);
	dump(a, &da);
	dump(b, &db);
	dump_equal(&da, &db);
	dump_free(&da);
	dump_free(&db);
}

/* The plaintexts of chunks[0..n), as store_cs_insert_own takes them. */
static void
plains(struct wbuf pw[MAXCHUNKS], struct cs_plain pl[MAXCHUNKS],
    const struct ops_chunk *chunks, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		wire_init(&pw[i]);
		ops_encode(&pw[i], &chunks[i]);
		pl[i].data = wire_data(&pw[i]);
		pl[i].len = wire_len(&pw[i]);
	}
}

/*
 * Group commit (daemon/ctl.c): one change set holds a chunk per record a
 * batch wrote, and a later change set names the values of any of its chunks
 * by (change set, chunk index, op index).  Stored and merged as a peer's
 * batch is (store_cs_insert_merged), it gives the replica that storing and
 * merging from the queue gives, each record touched once; and so does the
 * author's own merge from its plaintexts (store_cs_insert_own).
 */
static void
test_insert_merged_grouped(void **state)
{
	uint8_t rid[4][RID_LEN], v[3][VID_LEN], g1[32], g2[32];
	char case_id[RID_TEXTLEN + 1];
	struct built b[2];
	struct store *o = other_store(), *own;
	struct store_record *r;
	struct touched t;
	struct wbuf pw[2][MAXCHUNKS];
	struct cs_plain pl[2][MAXCHUNKS];
	struct op o0[3], o1[2], o2[3], o3[1], p0[2], p1[1];
	struct ops_chunk c[MAXCHUNKS];
	struct dev a = w.a;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++)
		mkrid(rid[i], 1700000005000ull + i);
	rid_encode(case_id, rid[0]);
	o0[0] = op_exist(1, NULL, 0);
	o0[1] = op_set("name", "Jansen", NULL, 0);
	o0[2] = op_add("tags", "housing");
	c[0] = chunk("case", rid[0], o0, 3);
	o1[0] = op_exist(1, NULL, 0);
	o1[1] = op_set("what", "call", NULL, 0);
	c[1] = chunk("task", rid[1], o1, 2);
	o2[0] = op_exist(1, NULL, 0);
	o2[1] = op_set("case", case_id, NULL, 0);
	o2[2] = op_set("text", "visited", NULL, 0);
	c[2] = chunk("note", rid[2], o2, 3);
	o3[0] = op_set("name", "Bakker", NULL, 0);
	c[3] = chunk("case", rid[3], o3, 1);
	build(&b[0], &a, &w.circle, w.circle.key, 1, a.head, HLC_MAKE(1, 0),
	    c, 4);
	plains(pw[0], pl[0], c, 4);
	/* The next batch: rename the case, delete the task, drop the tag. */
	vid(v[0], b[0].id, 0, 1);
	vid(v[1], b[0].id, 1, 0);
	vid(v[2], b[0].id, 0, 2);
	p0[0] = op_set("name", "Jansen-Bakker", v[0], 1);
	p0[1] = op_rem("tags", "housing", v[2], 1);
	p1[0] = op_exist(0, v[1], 1);
	c[0] = chunk("task", rid[1], p1, 1);
	c[1] = chunk("case", rid[0], p0, 2);
	build(&b[1], &a, &w.circle, w.circle.key, 2, b[0].id, HLC_MAKE(2, 0),
	    c, 2);
	plains(pw[1], pl[1], c, 2);

	for (i = 0; i < 2; i++)
		assert_int_equal(insert(o, &b[i]), 0);
	merge(o);
	assert_int_equal(store_begin(w.st), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(insert_merged(w.st, &b[i]), 0);
	merge_commit(w.st, &t);
	/* Four records, each reported once though two change sets hit two. */
	assert_int_equal(t.n, 4);

	same_replica(w.st, o);
	store_close(o);

	/* The author's own: merged from the plaintexts, the same replica;
	 * the stored bytes are what a peer gets, and rebuild agrees. */
	{
		char path[128];

		for (i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), "%s/other.db%s", w.dir,
			    i == 0 ? "" : i == 1 ? "-wal" : "-shm");
			(void)unlink(path);
		}
	}
	o = other_store();
	own = o;
	assert_int_equal(store_begin(own), 0);
	assert_int_equal(store_cs_insert_own(own, &b[0].h, b[0].id,
	    wire_data(&b[0].hdr), wire_len(&b[0].hdr), wire_data(&b[0].pay),
	    wire_len(&b[0].pay), pl[0], 4), 0);
	assert_int_equal(store_cs_insert_own(own, &b[1].h, b[1].id,
	    wire_data(&b[1].hdr), wire_len(&b[1].hdr), wire_data(&b[1].pay),
	    wire_len(&b[1].pay), pl[1], 2), 0);
	merge_commit(own, &t);
	assert_int_equal(t.n, 4);
	same_replica(w.st, own);
	assert_int_equal(store_digest(own, g1), 0);
	assert_int_equal(store_rebuild(own), 0);
	assert_int_equal(store_digest(own, g2), 0);
	assert_memory_equal(g1, g2, 32);
	for (i = 0; i < MAXCHUNKS; i++) {
		if (i < 4)
			wire_free(&pw[0][i]);
		if (i < 2)
			wire_free(&pw[1][i]);
	}

	r = load(w.st, "case", rid[0]);
	assert_int_equal(field(r, "name", 0)->nvals, 1);
	assert_string_equal(field(r, "name", 0)->vals[0].value,
	    "Jansen-Bakker");
	assert_null(field(r, "tags", 1));
	store_record_free(r);
	r = load(w.st, "task", rid[1]);
	assert_true(r->deleted);
	assert_false(r->exist_conflict);
	store_record_free(r);
	r = load(w.st, "note", rid[2]);
	assert_string_equal(field(r, "case", 0)->vals[0].value, case_id);
	store_record_free(r);
	r = load(w.st, "case", rid[3]);
	assert_string_equal(field(r, "name", 0)->vals[0].value, "Bakker");
	store_record_free(r);
	for (i = 0; i < 2; i++)
		built_free(&b[i]);
	store_close(o);
}

/*
 * d's next change set (one new record), stored as its own in a lazy
 * transaction, or rolled back instead of committed; the ticket of its
 * commit into *ticket.
 */
static void
own_lazy(struct store *st, struct dev *d, uint64_t hlc, int commit,
    uint64_t *ticket)
{
	struct wbuf pw[MAXCHUNKS];
	struct cs_plain pl[MAXCHUNKS];
	struct op op[1] = { op_exist(1, NULL, 0) };
	uint8_t rid[RID_LEN];
	struct ops_chunk c;
	struct built b;

	mkrid(rid, 1700000040000ull + hlc);
	c = chunk("note", rid, op, 1);
	build(&b, d, &w.circle, w.circle.key, d->seq + 1, d->head,
	    HLC_MAKE(hlc, 0), &c, 1);
	plains(pw, pl, &c, 1);
	assert_int_equal(store_begin_lazy(st), 0);
	/* NORMAL inside: the COMMIT does not wait for the disk. */
	assert_int_equal(store_safety_level(st), 1);
	assert_int_equal(store_cs_insert_own(st, &b.h, b.id,
	    wire_data(&b.hdr), wire_len(&b.hdr), wire_data(&b.pay),
	    wire_len(&b.pay), pl, 1), 0);
	if (commit) {
		assert_int_equal(store_commit_lazy(st, ticket), 0);
		d->seq++;
		memcpy(d->head, b.id, CS_IDLEN);
	} else
		store_rollback(st);
	/* FULL again for everything else. */
	assert_int_equal(store_safety_level(st), 2);
	wire_free(&pw[0]);
	built_free(&b);
}

/* The seq of author in chain's vector, 0 if it is not there. */
static uint64_t
vector_seq(struct store *st, const uint8_t author[32],
    uint8_t head[CS_IDLEN])
{
	struct sync_head *h;
	size_t n, i;
	uint64_t seq = 0;

	assert_int_equal(store_vector(st, w.circle.id, &h, &n), 0);
	for (i = 0; i < n; i++)
		if (memcmp(h[i].author, author, 32) == 0) {
			seq = h[i].seq;
			if (head != NULL)
				memcpy(head, h[i].head, CS_IDLEN);
		}
	free(h);
	return seq;
}

/* How many change sets of author store_cs_range hands out, from seq 1. */
static size_t
range_n(struct store *st, const uint8_t author[32])
{
	struct range r;
	size_t n;

	memset(&r, 0, sizeof(r));
	assert_int_equal(store_cs_range(st, w.circle.id, author, 0, 100,
	    range_cb, &r), 0);
	n = r.n;
	range_reset(&r, 0);
	return n;
}

/*
 * Lazy commits (docs/design.md, "Durable off the loop"): own change sets
 * stay out of the vector, the ranges and store_cs_id_at, with the rest of
 * their chain, until store_durable passes their commit's ticket or a
 * synced commit comes after them; a rollback takes its hold with it;
 * received change sets are not held.  Tickets count the lazy commits.
 */
static void
test_lazy_holds(void **state)
{
	uint8_t id[CS_IDLEN], head1[CS_IDLEN], head[CS_IDLEN];
	struct dev c;
	uint64_t t1, t2, t3, seq;
	struct op op[1] = { op_exist(1, NULL, 0) };
	uint8_t rid[RID_LEN];
	struct ops_chunk ch;
	struct built b;

	(void)state;
	assert_int_equal(store_safety_level(w.st), 2);
	mkrid(rid, 1700000041000ull);
	write1(w.st, &w.a, HLC_MAKE(1, 0), "note", rid, op, 1, head1);
	merge(w.st);
	assert_int_equal(vector_seq(w.st, w.a.pk, NULL), 1);

	own_lazy(w.st, &w.a, 2, 1, &t1);
	own_lazy(w.st, &w.a, 3, 1, &t2);
	assert_int_equal(t1, 1);
	assert_int_equal(t2, 2);
	/* Stored, and our own head says so; peers see seq 1 only. */
	assert_int_equal(store_cs_head(w.st, w.a.pk, w.circle.id, &seq, id),
	    0);
	assert_int_equal(seq, 3);
	assert_int_equal(vector_seq(w.st, w.a.pk, head), 1);
	assert_memory_equal(head, head1, CS_IDLEN);
	assert_int_equal(range_n(w.st, w.a.pk), 1);
	assert_int_equal(store_cs_id_at(w.st, w.circle.id, w.a.pk, 2, id),
	    SAMEN_ENOTFOUND);
	assert_int_equal(store_cs_id_at(w.st, w.circle.id, w.a.pk, 1, id), 0);

	/* The first commit synced: seq 2 shows, seq 3 still not. */
	store_durable(w.st, t1);
	assert_int_equal(vector_seq(w.st, w.a.pk, NULL), 2);
	assert_int_equal(range_n(w.st, w.a.pk), 2);
	assert_int_equal(store_cs_id_at(w.st, w.circle.id, w.a.pk, 2, id), 0);
	assert_int_equal(store_cs_id_at(w.st, w.circle.id, w.a.pk, 3, id),
	    SAMEN_ENOTFOUND);

	/* Rolled back: gone, hold and all; seq 3's hold stays. */
	own_lazy(w.st, &w.a, 4, 0, NULL);
	assert_int_equal(vector_seq(w.st, w.a.pk, NULL), 2);
	store_durable(w.st, t2);
	assert_int_equal(vector_seq(w.st, w.a.pk, NULL), 3);
	assert_int_equal(range_n(w.st, w.a.pk), 3);

	/* A chain's first change set held: no entry at all. */
	own_lazy(w.st, &w.b, 5, 1, &t3);
	assert_int_equal(t3, 3);
	assert_int_equal(vector_seq(w.st, w.b.pk, NULL), 0);
	assert_int_equal(range_n(w.st, w.b.pk), 0);

	/* Received in a lazy transaction: not held. */
	dev_init(&c);
	mkrid(rid, 1700000042000ull);
	ch = chunk("note", rid, op, 1);
	build(&b, &c, &w.circle, w.circle.key, 1, c.head, HLC_MAKE(6, 0), &ch,
	    1);
	assert_int_equal(store_begin_lazy(w.st), 0);
	assert_int_equal(insert_merged(w.st, &b), 0);
	assert_int_equal(store_commit_lazy(w.st, &t1), 0);
	assert_int_equal(t1, 4);
	built_free(&b);
	assert_int_equal(vector_seq(w.st, c.pk, NULL), 1);
	assert_int_equal(vector_seq(w.st, w.b.pk, NULL), 0);

	/* A synced commit syncs every lazy one before it. */
	merge(w.st);
	assert_int_equal(vector_seq(w.st, w.b.pk, NULL), 1);
	assert_int_equal(range_n(w.st, w.b.pk), 1);
}

/* Inserted and merged in the caller's transaction; d's chain moves on. */
static void
write_merged(struct dev *d, uint64_t hlc, const struct ops_chunk *c,
    size_t n, uint8_t id[CS_IDLEN])
{
	write_cs_by(w.st, insert_merged, d, hlc, c, n, id);
}

/*
 * Commits the open transaction holding the im_build change sets (the
 * merge pass first): two records touched, nothing pending or bad, and the
 * replica of o.
 */
static void
im_committed(struct store *o)
{
	struct store_stats s;
	struct touched t;

	merge_commit(w.st, &t);
	assert_int_equal(t.n, 2);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, IM_N);
	assert_int_equal(s.pending, 0);
	assert_int_equal(s.bad, 0);
	same_replica(w.st, o);
}

/* The chunks of from, read ahead as daemon/peer.c reads them, vids and
 * all. */
static void
read_ahead(const struct built *from, struct cs_opened *op)
{
	struct cs_payload pl;

	assert_int_equal(changeset_payload_decode(&pl, wire_data(&from->pay),
	    wire_len(&from->pay)), 0);
	assert_int_equal(changeset_open(op, &from->h, &pl, w.circle.key), 0);
	assert_int_equal(op->n, pl.nchunks);
	changeset_payload_free(&pl);
	merge_opened_vids(op, from->id);
}

/* store_cs_insert_merged with the chunks read ahead, as daemon/peer.c does. */
static int
insert_opened_as(struct store *st, const struct built *b,
    const struct built *from)
{
	struct cs_opened op;
	int rc;

	read_ahead(from, &op);
	rc = store_cs_insert_opened(st, &b->h, b->id, wire_data(&b->hdr),
	    wire_len(&b->hdr), wire_data(&b->pay), wire_len(&b->pay), &op);
	changeset_opened_free(&op);
	assert_null(op.chunks);
	return rc;
}

static int
insert_opened(struct store *st, const struct built *b)
{
	return insert_opened_as(st, b, b);
}

/*
 * store_cs_insert_opened: the replica that storing and merging from the
 * queue gives, from chunks read ahead; a replay refused as before.  And
 * the merge takes the chunks it is handed, not the payload's (the caller
 * vouches that they are the same): handed another change set's chunks,
 * the record shows theirs; but the vids worked out ahead only for the
 * change set they were worked out for.
 */
static void
test_insert_opened(void **state)
{
	uint8_t rid[2][RID_LEN], r2[RID_LEN], vid[VID_LEN];
	struct built b[IM_N], x, y;
	struct store *o;
	struct store_record *r;
	struct touched t;
	struct ops_chunk c;
	struct op op[2];
	struct dev d;
	size_t i;

	(void)state;
	o = im_reference(b, rid);

	assert_int_equal(store_begin(w.st), 0);
	for (i = 0; i < IM_N; i++)
		assert_int_equal(insert_opened(w.st, &b[i]), 0);
	assert_int_equal(insert_opened(w.st, &b[2]), SAMEN_EEXIST);
	im_committed(o);
	for (i = 0; i < IM_N; i++)
		built_free(&b[i]);
	store_close(o);

	/* x's header and payload, y's chunks (one record each, same rid). */
	dev_init(&d);
	mkrid(r2, 1700000009000ull);
	op[0] = op_exist(1, NULL, 0);
	op[1] = op_set("name", "in the payload", NULL, 0);
	c = chunk("case", r2, op, 2);
	build(&x, &d, &w.circle, w.circle.key, 1, d.head, HLC_MAKE(9, 0), &c,
	    1);
	op[1] = op_set("name", "read ahead", NULL, 0);
	build(&y, &d, &w.circle, w.circle.key, 1, d.head, HLC_MAKE(9, 0), &c,
	    1);
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(insert_opened_as(w.st, &x, &y), 0);
	merge_commit(w.st, &t);
	r = load(w.st, "case", r2);
	assert_string_equal(field(r, "name", 0)->vals[0].value, "read ahead");
	/* The vids are x's, not the ones worked out ahead for y's id. */
	ops_vid(vid, x.id, 0, 1);
	assert_memory_equal(field(r, "name", 0)->vals[0].vid, vid, VID_LEN);
	store_record_free(r);
	built_free(&x);
	built_free(&y);
}

/*
 * store_chain_key: the key of a chain at its highest epoch; none for a
 * chain not held; none while locked.
 */
static void
test_chain_key(void **state)
{
	struct store_circle c = w.circle;
	struct store *locked;
	uint8_t key[CS_KEYLEN], other[CS_CIRCLELEN];
	uint32_t epoch = 0;

	(void)state;
	assert_int_equal(store_chain_key(w.st, w.circle.id, &epoch, key), 0);
	assert_int_equal(epoch, w.circle.epoch);
	assert_memory_equal(key, w.circle.key, CS_KEYLEN);
	c.epoch = w.circle.epoch + 2;
	randombytes_buf(c.key, sizeof(c.key));
	assert_int_equal(store_circle_put(w.st, &c), 0);
	assert_int_equal(store_chain_key(w.st, w.circle.id, &epoch, key), 0);
	assert_int_equal(epoch, w.circle.epoch + 2);
	assert_memory_equal(key, c.key, CS_KEYLEN);
	memcpy(other, w.circle.id, CS_CIRCLELEN);
	other[0] ^= 1;
	assert_int_equal(store_chain_key(w.st, other, &epoch, key),
	    SAMEN_ENOTFOUND);
	open_store(&locked, 0);
	assert_int_equal(store_chain_key(locked, w.circle.id, &epoch, key),
	    SAMEN_ELOCKED);
	store_close(locked);
	sodium_memzero(key, sizeof(key));
}

/*
 * n new records in the circle's "case", MAXCHUNKS per change set, at
 * ms = base, base + 2, ... (merged in the caller's transaction); the rids
 * of the first and the last into first and last (may be NULL).
 */
static void
new_records(uint64_t base, uint64_t n, uint8_t first[RID_LEN],
    uint8_t last[RID_LEN])
{
	struct ops_chunk c[MAXCHUNKS];
	struct op op[MAXCHUNKS][2];
	uint8_t rids[MAXCHUNKS][RID_LEN];

	for (uint64_t i = 0; i < n; i += MAXCHUNKS) {
		for (int j = 0; j < MAXCHUNKS; j++) {
			mkrid(rids[j], base + 2 * (i + (uint64_t)j));
			op[j][0] = op_exist(1, NULL, 0);
			op[j][1] = op_set("name", "one", NULL, 0);
			c[j] = chunk("case", rids[j], op[j], 2);
		}
		if (i == 0 && first != NULL)
			memcpy(first, rids[0], RID_LEN);
		if (last != NULL)
			memcpy(last, rids[MAXCHUNKS - 1], RID_LEN);
		write_merged(&w.a, HLC_MAKE(10, 0), c, MAXCHUNKS, NULL);
	}
}

/*
 * The filter of which records exist (rk_absent) never takes an existing
 * record for a new one: after a reopen, while it is filled 1,024 rows of
 * records_key at a time (each time about 64 more were asked about), a
 * record it has read, one past what it has read, and new records before
 * and past that point are merged right (an update of an existing record
 * taken for new would fail on records_key's UNIQUE); and again once it is
 * complete, for a record written after it was.
 */
#define RK_N (1024 + 40)
#define RK_BUSY_N 64
static void
test_record_filter(void **state)
{
	uint8_t rid[RID_LEN], first[RID_LEN], last[RID_LEN], mid[RID_LEN];
	uint8_t late[RID_LEN];
	const uint64_t t0 = 1700000100000ull;
	struct ops_chunk c[MAXCHUNKS];
	struct op op[2], up[1];
	struct store_record *r;
	struct store_stats s;

	(void)state;
	/* Every other millisecond: room for new records in between. */
	assert_int_equal(store_begin(w.st), 0);
	new_records(t0, RK_N, first, last);
	assert_int_equal(store_commit(w.st), 0);
	store_close(w.st);
	open_store(&w.st, 1);

	/*
	 * Enough new records (in between the old ones) for the first step,
	 * which reads up to the 1,024th row; last is past it.
	 */
	assert_int_equal(store_begin(w.st), 0);
	new_records(t0 + 1, RK_BUSY_N, NULL, NULL);
	up[0] = op_set("name", "two", NULL, 0);
	op[0] = op_exist(1, NULL, 0);
	op[1] = op_set("name", "new", NULL, 0);
	c[0] = chunk("case", first, up, 1);
	c[1] = chunk("case", last, up, 1);
	mkrid(mid, t0 + 2 * 100 + 1 + 2 * RK_BUSY_N);
	c[2] = chunk("case", mid, op, 2);
	mkrid(late, t0 + 2 * RK_N + 1);
	c[3] = chunk("case", late, op, 2);
	write_merged(&w.a, HLC_MAKE(11, 0), c, 4, NULL);
	assert_int_equal(store_commit(w.st), 0);

	/* The second completes it. */
	assert_int_equal(store_begin(w.st), 0);
	new_records(t0 + 1 + 2 * (RK_BUSY_N + 200), RK_BUSY_N, NULL, NULL);
	up[0] = op_set("name", "three", NULL, 0);
	c[0] = chunk("case", last, up, 1);
	c[1] = chunk("case", late, up, 1);
	mkrid(rid, t0 + 2 * 5000 + 1);
	c[2] = chunk("case", rid, op, 2);
	write_merged(&w.a, HLC_MAKE(12, 0), c, 3, NULL);
	assert_int_equal(store_commit(w.st), 0);

	/* Complete: a record it did not read, written since, is found. */
	assert_int_equal(store_begin(w.st), 0);
	c[0] = chunk("case", rid, up, 1);
	write_merged(&w.a, HLC_MAKE(13, 0), c, 1, NULL);
	assert_int_equal(store_commit(w.st), 0);

	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.records, RK_N + 2 * RK_BUSY_N + 3);
	assert_int_equal(s.bad, 0);
	r = load(w.st, "case", first);
	assert_int_equal(field(r, "name", 0)->nvals, 2);
	store_record_free(r);
	r = load(w.st, "case", last);
	assert_int_equal(field(r, "name", 0)->nvals, 3);
	store_record_free(r);
	r = load(w.st, "case", late);
	assert_int_equal(field(r, "name", 0)->nvals, 2);
	store_record_free(r);
	r = load(w.st, "case", mid);
	assert_string_equal(field(r, "name", 0)->vals[0].value, "new");
	store_record_free(r);
	r = load(w.st, "case", rid);
	assert_int_equal(field(r, "name", 0)->nvals, 2);
	store_record_free(r);
}

/*
 * The filter fills as records are asked about, however few a transaction
 * asks: a device that only puts, four records a batch, gets there as a
 * sync does.  Counted per transaction it never did, and every put asked
 * SQLite whether its record was new.  Not before RK_BUSY asks either: a
 * step per ask would slow every put.
 */
static void
test_record_filter_fills_over_transactions(void **state)
{
	const uint64_t t0 = 1700000300000ull;
	uint8_t first[RID_LEN];
	struct ops_chunk c[1];
	struct op up[1];
	struct store_record *r;

	(void)state;
	assert_int_equal(store_begin(w.st), 0);
	new_records(t0, 100, first, NULL);
	assert_int_equal(store_commit(w.st), 0);
	store_close(w.st);
	open_store(&w.st, 1);
	for (int i = 0; i < RK_BUSY_N / MAXCHUNKS; i++) {
		assert_false(store_records_filter_complete(w.st));
		assert_int_equal(store_begin(w.st), 0);
		new_records(t0 + 1 + 2 * MAXCHUNKS * (uint64_t)i, MAXCHUNKS,
		    NULL, NULL);
		assert_int_equal(store_commit(w.st), 0);
	}
	assert_true(store_records_filter_complete(w.st));

	/* Complete, it still knows a record from before the reopen. */
	assert_int_equal(store_begin(w.st), 0);
	up[0] = op_set("name", "two", NULL, 0);
	c[0] = chunk("case", first, up, 1);
	write_merged(&w.a, HLC_MAKE(11, 0), c, 1, NULL);
	assert_int_equal(store_commit(w.st), 0);
	r = load(w.st, "case", first);
	assert_int_equal(field(r, "name", 0)->nvals, 2);
	store_record_free(r);
}

/* Zeros past the end of path, up to its size plus more (durable_prefill). */
static void
zeros_past_end(const char *path, off_t more)
{
	static const char zero[1 << 16];
	struct stat sb;
	FILE *fp;

	assert_int_equal(stat(path, &sb), 0);
	assert_non_null(fp = fopen(path, "r+b"));
	assert_int_equal(fseeko(fp, sb.st_size, SEEK_SET), 0);
	for (off_t n = 0; n < more; n += sizeof(zero))
		assert_int_equal(fwrite(zero, 1, sizeof(zero), fp),
		    sizeof(zero));
	assert_int_equal(fclose(fp), 0);
}

static void
copy_file(const char *from, const char *to)
{
	char buf[1 << 16];
	FILE *in, *out;
	size_t n;

	assert_non_null(in = fopen(from, "rb"));
	assert_non_null(out = fopen(to, "wb"));
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/*
 * The store as a crash would leave it: its database and WAL files copied
 * while it is open (no -shm: the copy recovers from the WAL), opened with
 * the key.  Its digest and records must be w.st's.
 */
static void
crash_copy_same(uint64_t records)
{
	char db[128], wal[140], to[128], towal[140];
	uint8_t g1[32], g2[32];
	struct store_stats s;
	struct store *o;
	char *cause = NULL;

	snprintf(db, sizeof(db), "%s", w.path);
	snprintf(wal, sizeof(wal), "%s-wal", w.path);
	snprintf(to, sizeof(to), "%s/other.db", w.dir);
	snprintf(towal, sizeof(towal), "%s-wal", to);
	copy_file(db, to);
	copy_file(wal, towal);
	assert_int_equal(store_open(&o, to, &cause), 0);
	store_set_key(o, w.skey);
	assert_int_equal(store_stats(o, &s), 0);
	assert_int_equal(s.records, records);
	assert_int_equal(store_digest(o, g1), 0);
	assert_int_equal(store_digest(w.st, g2), 0);
	assert_memory_equal(g1, g2, 32);
	store_close(o);
	unlink(to);
	unlink(towal);
}

/*
 * A WAL written ahead with zeros (samend's durable_prefill) is read as
 * SQLite reads any log, after a crash too: zeros before its first frame
 * are an empty log, zeros past its last frame end it, and the frames
 * written over them later count.
 */
static void
test_wal_written_ahead(void **state)
{
	uint8_t r1[RID_LEN], r2[RID_LEN];
	char wal[140];
	struct op o[2];

	(void)state;
	snprintf(wal, sizeof(wal), "%s-wal", w.path);
	/* A clean close deletes the WAL: the next one starts empty. */
	store_close(w.st);
	open_store(&w.st, 1);
	zeros_past_end(wal, 256 << 10);
	crash_copy_same(0);

	mkrid(r1, 1700000200000ull);
	o[0] = op_exist(1, NULL, 0);
	o[1] = op_set("name", "one", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(20, 0), "case", r1, o, 2, NULL);
	merge(w.st);
	crash_copy_same(1);
	zeros_past_end(wal, 256 << 10);
	mkrid(r2, 1700000200001ull);
	write1(w.st, &w.a, HLC_MAKE(21, 0), "case", r2, o, 2, NULL);
	merge(w.st);
	crash_copy_same(2);
}

/* Every rkey's record, by store_record_load_many; out[i] must be found. */
static void
load_keys(const int64_t *keys, size_t n, struct store_record **out)
{
	assert_int_equal(store_record_load_many(w.st, keys, n, out), 0);
	for (size_t i = 0; i < n; i++)
		assert_non_null(out[i]);
}

/*
 * Records a transaction created are handed to store_record_load_many from
 * what the merge wrote (without reading them back), and are the same
 * records as read back: with sets, a remove, a tombstone, two authors and
 * two chunks.  A record merged into again in the same transaction, and one
 * that existed before, are read back.
 */
static void
test_load_fresh(void **state)
{
	uint8_t rid[5][RID_LEN], id[CS_IDLEN], idw[CS_IDLEN], idy[CS_IDLEN];
	uint8_t v[VID_LEN], notag[VID_LEN];
	struct store_record *got[5], *back[5];
	int64_t keys[5];
	struct touched t;
	struct ops_chunk c[2];
	char q[192];
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++)
		mkrid(rid[i], 1700000009000ull + i);
	randombytes_buf(notag, sizeof(notag));
	{
		/* rid[3]: made before the transaction. */
		struct op o[2] = { op_exist(1, NULL, 0),
		    op_set("name", "old", NULL, 0) };

		write1(w.st, &w.a, HLC_MAKE(1, 0), "case", rid[3], o, 2, idw);
		merge(w.st);
	}
	assert_int_equal(store_begin(w.st), 0);
	{
		/* rid[0] and rid[1] in one change set of two chunks. */
		struct op o0[6] = { op_exist(1, NULL, 0),
		    op_set("name", "Ana", NULL, 0), op_add("tags", "y"),
		    op_add("tags", "x"), op_add("tags", "x"),
		    op_rem("tags", "z", notag, 1) };
		struct op o1[2] = { op_exist(0, NULL, 0),
		    op_set("note", "", NULL, 0) };

		c[0] = chunk("case", rid[0], o0, 6);
		c[1] = chunk("note", rid[1], o1, 2);
		write_merged(&w.a, HLC_MAKE(2, 0), c, 2, NULL);
	}
	{
		/* rid[2] by b, then renamed by a: merged into twice. */
		struct op o[2] = { op_exist(1, NULL, 0),
		    op_set("name", "Bo", NULL, 0) };
		struct op o2[1];

		c[0] = chunk("case", rid[2], o, 2);
		write_merged(&w.b, HLC_MAKE(3, 0), c, 1, idy);
		vid(v, idy, 0, 1);
		o2[0] = op_set("name", "Bob", v, 1);
		c[0] = chunk("case", rid[2], o2, 1);
		write_merged(&w.a, HLC_MAKE(4, 0), c, 1, NULL);
	}
	{
		/* rid[3] edited by b without seeing a's value: a conflict. */
		struct op o[1] = { op_set("name", "new", NULL, 0) };

		c[0] = chunk("case", rid[3], o, 1);
		write_merged(&w.b, HLC_MAKE(5, 0), c, 1, NULL);
	}
	merge_commit(w.st, &t);
	assert_int_equal(t.n, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(store_record_find(w.st, w.circle.id,
		    i == 1 ? "note" : "case", rid[i], &keys[i]), 0);
	load_keys(keys, 4, got);
	load_keys(keys, 4, back);	/* the cache served once: SQL now */
	for (i = 0; i < 4; i++) {
		record_same(got[i], back[i]);
		store_record_free(got[i]);
		store_record_free(back[i]);
	}

	/*
	 * The first load after the commit does not read: with the values
	 * gone from under the store, rid[4] still comes whole, then not.
	 */
	assert_int_equal(store_begin(w.st), 0);
	{
		struct op o[2] = { op_exist(1, NULL, 0),
		    op_set("name", "Cy", NULL, 0) };

		c[0] = chunk("case", rid[4], o, 2);
		write_merged(&w.a, HLC_MAKE(6, 0), c, 1, id);
	}
	merge_commit(w.st, &t);
	assert_int_equal(t.n, 1);
	assert_int_equal(store_record_find(w.st, w.circle.id, "case", rid[4],
	    &keys[4]), 0);
	snprintf(q, sizeof(q), "DELETE FROM vals WHERE rkey = %lld",
	    (long long)keys[4]);
	peer_sql(q);
	snprintf(q, sizeof(q), "UPDATE records SET paid = NULL, pseq = NULL,"
	    " phlc = NULL, pkeys = NULL, pdead = NULL, pbox = NULL"
	    " WHERE rkey = %lld", (long long)keys[4]);
	peer_sql(q);
	load_keys(&keys[4], 1, got);
	assert_int_equal(got[0]->nexist, 1);
	assert_string_equal(field(got[0], "name", 0)->vals[0].value, "Cy");
	vid(v, id, 0, 1);
	assert_memory_equal(field(got[0], "name", 0)->vals[0].vid, v,
	    VID_LEN);
	store_record_free(got[0]);
	load_keys(&keys[4], 1, got);
	assert_int_equal(got[0]->nexist, 0);
	assert_int_equal(got[0]->nfields, 0);
	store_record_free(got[0]);
}

/*
 * After a rollback of the im_build change sets: no change set, no record,
 * the digest g0 of before.
 */
static void
left_nothing(const uint8_t g0[32], uint8_t rid[2][RID_LEN])
{
	struct store_stats s;
	uint8_t g1[32];
	int64_t rkey;

	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, 0);
	assert_int_equal(s.records, 0);
	assert_int_equal(store_digest(w.st, g1), 0);
	assert_memory_equal(g0, g1, 32);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(store_record_find(w.st, w.circle.id, "case",
		    rid[i], &rkey), SAMEN_ENOTFOUND);
}

static int
insert_optimistic(struct store *st, const struct built *b, int opened)
{
	struct cs_opened op;
	int rc;

	if (!opened)
		return store_cs_insert_optimistic(st, &b->h, b->id,
		    wire_data(&b->hdr), wire_len(&b->hdr), wire_data(&b->pay),
		    wire_len(&b->pay), NULL);
	read_ahead(b, &op);
	rc = store_cs_insert_optimistic(st, &b->h, b->id, wire_data(&b->hdr),
	    wire_len(&b->hdr), wire_data(&b->pay), wire_len(&b->pay), &op);
	changeset_opened_free(&op);
	return rc;
}

/*
 * store_cs_insert_optimistic (daemon/peer.c's first pass): clean change
 * sets, read ahead or not, give the replica that storing and merging from
 * the queue gives.  A replay or a break in the chain is SAMEN_ERETRY, not
 * an answer: rolled back, the transaction leaves nothing of what it held,
 * and the same change sets stored again give the same replica.  Locked, a
 * change set is stored pending, which is clean.
 */
static void
test_insert_optimistic(void **state)
{
	uint8_t rid[2][RID_LEN], g0[32];
	char path[128], *cause = NULL;
	struct built b[IM_N];
	struct store *o;
	struct store_stats s;
	struct touched t;
	size_t i;

	(void)state;
	o = im_reference(b, rid);
	assert_int_equal(store_digest(w.st, g0), 0);

	/* A gap: seq 2 on an empty chain. */
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(insert_optimistic(w.st, &b[1], 0), SAMEN_ERETRY);
	store_rollback(w.st);

	/* Three clean ones, then a replay: all of it goes. */
	assert_int_equal(store_begin(w.st), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(insert_optimistic(w.st, &b[i], i % 2), 0);
	assert_int_equal(insert_optimistic(w.st, &b[1], 0), SAMEN_ERETRY);
	store_rollback(w.st);
	left_nothing(g0, rid);

	/* Stored again, all clean: the reference's replica. */
	assert_int_equal(store_begin(w.st), 0);
	for (i = 0; i < IM_N; i++)
		assert_int_equal(insert_optimistic(w.st, &b[i], i % 2), 0);
	im_committed(o);
	store_close(o);

	/* Locked: stored pending, as store_cs_insert_merged stores it. */
	snprintf(path, sizeof(path), "%s/locked.db", w.dir);
	assert_int_equal(store_open(&o, path, &cause), 0);
	store_set_key(o, w.skey);
	assert_int_equal(store_circle_put(o, &w.circle), 0);
	store_close(o);
	assert_int_equal(store_open(&o, path, &cause), 0);
	assert_null(cause);
	assert_int_equal(store_begin(o), 0);
	for (i = 0; i < IM_N; i++)
		assert_int_equal(insert_optimistic(o, &b[i], 0), 0);
	assert_int_equal(store_commit(o), 0);
	assert_int_equal(store_stats(o, &s), 0);
	assert_int_equal(s.pending, IM_N);
	store_set_key(o, w.skey);
	merge_t(o, &t);
	assert_int_equal(t.n, 2);
	same_replica(w.st, o);
	store_close(o);
	for (i = 0; i < IM_N; i++)
		built_free(&b[i]);
}

/*
 * A rollback reads the replica digest back from meta.  When it cannot (here
 * meta's row is cut short behind the store's back), memory holds no digest
 * it could trust, and a commit would write that over the right one: the
 * store takes no more writes, as after a failed sync.
 */
static void
test_rollback_digest_unreadable(void **state)
{
	uint8_t rid[RID_LEN], g0[32], g1[32];
	struct op ops[1];
	sqlite3 *db;

	(void)state;
	mkrid(rid, 1700000012000ull);
	ops[0] = op_exist(1, NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(100, 0), "case", rid, ops, 1, NULL);
	merge(w.st);
	assert_int_equal(store_digest(w.st, g0), 0);

	/* Read back fine: the same digest, and writes go on. */
	assert_int_equal(store_begin(w.st), 0);
	store_rollback(w.st);
	assert_int_equal(store_digest(w.st, g1), 0);
	assert_memory_equal(g0, g1, 32);
	assert_int_equal(store_begin(w.st), 0);
	store_rollback(w.st);

	assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE meta SET v = x'0102'"
	    " WHERE k = 'digest'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_begin(w.st), 0);
	store_rollback(w.st);
	assert_int_equal(store_begin(w.st), SAMEN_ESTORE);
	assert_int_equal(store_begin_lazy(w.st), SAMEN_ESTORE);

}

/*
 * Out of a transaction, or without the storage key, a change set is only
 * stored (pending); committed without store_merge_pending, the digest is
 * still written; a rollback mid-batch leaves nothing half-merged.
 */
static void
test_insert_merged_edges(void **state)
{
	uint8_t rid[2][RID_LEN], g0[32], g1[32], g2[32], head[CS_IDLEN];
	struct built b[IM_N];
	struct store_stats s;
	struct touched t;
	uint64_t seq;
	size_t i;

	(void)state;
	im_build(b, rid);
	assert_int_equal(store_digest(w.st, g0), 0);

	/* A rollback after three of them: nothing of any stays. */
	assert_int_equal(store_begin(w.st), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(insert_merged(w.st, &b[i]), 0);
	store_rollback(w.st);
	left_nothing(g0, rid);
	assert_int_equal(store_cs_head(w.st, w.a.pk, w.circle.id, &seq,
	    head), 0);
	assert_int_equal(seq, 0);
	/* Nothing of it is reported touched by the next merge either. */
	merge_t(w.st, &t);
	assert_int_equal(t.n, 0);

	/* Out of a transaction: stored, pending, merged by the queue. */
	assert_int_equal(insert_merged(w.st, &b[0]), 0);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 1);
	merge_t(w.st, &t);
	assert_int_equal(t.n, 1);

	/* Committed with no store_merge_pending: the digest goes too. */
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(insert_merged(w.st, &b[1]), 0);
	assert_int_equal(insert_merged(w.st, &b[2]), 0);
	assert_int_equal(store_commit(w.st), 0);
	assert_int_equal(store_digest(w.st, g1), 0);
	store_close(w.st);

	/* Locked: stored pending, merged once the key is set. */
	open_store(&w.st, 0);
	assert_int_equal(store_digest(w.st, g2), 0);
	assert_memory_equal(g1, g2, 32);
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(insert_merged(w.st, &b[3]), 0);
	assert_int_equal(insert_merged(w.st, &b[4]), 0);
	assert_int_equal(store_commit(w.st), 0);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 2);
	store_set_key(w.st, w.skey);
	merge_t(w.st, &t);
	assert_int_equal(t.n, 2);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 0);
	assert_int_equal(store_digest(w.st, g1), 0);
	assert_int_equal(store_rebuild(w.st), 0);
	assert_int_equal(store_digest(w.st, g2), 0);
	assert_memory_equal(g1, g2, 32);
	for (i = 0; i < IM_N; i++)
		built_free(&b[i]);
}

/*
 * Boxes are XChaCha20-Poly1305 under the storage key, as libsodium seals
 * them, though the store derives the subkey of its nonce prefix once
 * (struct store_keys): a collection's box (in colls, for a packed record,
 * bound to its tag) opens with crypto_aead_xchacha20poly1305_ietf_decrypt.
 * And boxes of two key
 * settings (two nonce prefixes) read back in turn, A, B, A: the subkey
 * kept for reading follows the prefix.
 */
static void
test_boxes_are_xchacha(void **state)
{
	uint8_t rid[2][RID_LEN], ad[1 + TAGLEN], pt[64];
	unsigned long long ptlen;
	struct store_record *r;
	struct op ops[2];
	sqlite3_stmt *s;
	sqlite3 *db;
	const uint8_t *box;
	int n;

	(void)state;
	mkrid(rid[0], 1700000013000ull);
	mkrid(rid[1], 1700000013001ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "first run", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(100, 0), "case", rid[0], ops, 2, NULL);
	merge(w.st);
	store_close(w.st);
	open_store(&w.st, 1);
	ops[1] = op_set("name", "second run", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(101, 0), "note", rid[1], ops, 2, NULL);
	merge(w.st);

	assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT c.name, c.ctag FROM "
	    "records r JOIN colls c ON c.ctag = r.ctag WHERE r.rid = ?1 AND "
	    "length(r.coll) = 0", -1, &s, NULL), SQLITE_OK);
	for (int i = 0; i < 2; i++) {
		sqlite3_bind_blob(s, 1, rid[i], RID_LEN, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		box = sqlite3_column_blob(s, 0);
		n = sqlite3_column_bytes(s, 0);
		assert_true(n > (int)crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
		assert_int_equal(sqlite3_column_bytes(s, 1), TAGLEN);
		ad[0] = 'C';
		memcpy(ad + 1, sqlite3_column_blob(s, 1), TAGLEN);
		assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(pt,
		    &ptlen, NULL,
		    box + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
		    (unsigned long long)n -
		    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, ad,
		    sizeof(ad), box, w.skey), 0);
		assert_int_equal(ptlen, 4);
		assert_memory_equal(pt, i == 0 ? "case" : "note", 4);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);

	for (int k = 0; k < 3; k++) {
		int i = k % 2;

		r = load(w.st, i == 0 ? "case" : "note", rid[i]);
		assert_string_equal(field(r, "name", 0)->vals[0].value,
		    i == 0 ? "first run" : "second run");
		store_record_free(r);
	}
}

/*
 * A packed record's collection is named in colls, once per collection, and
 * its pack's associated data binds the row's ctag, rid and circle, as the
 * coll box did: a row moved to another collection, rid or circle, or a
 * name moved to another collection's tag, no longer reads.  Put back, it
 * reads again.
 */
static void
test_colls_bound(void **state)
{
	/* %1$lld: the record that must not read; %2$lld: another's. */
	static const char *const tamper[] = {
		"UPDATE records SET ctag = (SELECT ctag FROM records"
		"  WHERE rkey = %2$lld) WHERE rkey = %1$lld",
		"UPDATE records SET rid = zeroblob(16) WHERE rkey = %1$lld",
		"UPDATE records SET circle = zeroblob(16) WHERE rkey = %1$lld",
		"UPDATE colls SET name = (SELECT c.name FROM colls c"
		"  JOIN records r ON r.ctag = c.ctag WHERE r.rkey = %2$lld)"
		"  WHERE ctag = (SELECT ctag FROM records WHERE rkey = %1$lld)",
	};
	uint8_t rid[3][RID_LEN];
	int64_t rkey[2];
	struct store_record *r;
	struct op ops[2];
	char q[512];
	size_t i;

	(void)state;
	mkrid(rid[0], 1700000014000ull);
	mkrid(rid[1], 1700000014001ull);
	mkrid(rid[2], 1700000014002ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "een", NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(100, 0), "case", rid[0], ops, 2, NULL);
	write1(w.st, &w.a, HLC_MAKE(101, 0), "note", rid[1], ops, 2, NULL);
	write1(w.st, &w.a, HLC_MAKE(102, 0), "case", rid[2], ops, 2, NULL);
	merge(w.st);
	assert_int_equal(count_rows(w.path, "records WHERE length(coll) = 0"
	    " AND pbox IS NOT NULL AND ctag IN (SELECT ctag FROM colls)"), 3);
	assert_int_equal(count_rows(w.path, "colls"), 2);
	assert_int_equal(store_record_find(w.st, w.circle.id, "case", rid[0],
	    &rkey[0]), 0);
	assert_int_equal(store_record_find(w.st, w.circle.id, "note", rid[1],
	    &rkey[1]), 0);
	peer_sql("CREATE TABLE keep_r AS SELECT rkey, ctag, rid, circle"
	    " FROM records; CREATE TABLE keep_c AS SELECT * FROM colls;");
	for (i = 0; i < sizeof(tamper) / sizeof(tamper[0]); i++) {
		snprintf(q, sizeof(q), tamper[i], (long long)rkey[0],
		    (long long)rkey[1]);
		peer_sql(q);
		/* Reopened: a name read already is kept, not read again. */
		store_close(w.st);
		open_store(&w.st, 1);
		r = NULL;
		assert_int_equal(store_record_load(w.st, rkey[0], &r),
		    SAMEN_EDECRYPT);
		assert_null(r);
		peer_sql("UPDATE records SET"
		    " ctag = (SELECT ctag FROM keep_r k WHERE k.rkey = records.rkey),"
		    " rid = (SELECT rid FROM keep_r k WHERE k.rkey = records.rkey),"
		    " circle = (SELECT circle FROM keep_r k"
		    "  WHERE k.rkey = records.rkey);"
		    "UPDATE colls SET name = (SELECT name FROM keep_c k"
		    "  WHERE k.ctag = colls.ctag);");
		assert_int_equal(store_record_load(w.st, rkey[0], &r), 0);
		assert_string_equal(r->collection, "case");
		assert_string_equal(field(r, "name", 0)->vals[0].value, "een");
		store_record_free(r);
	}
	r = load(w.st, "note", rid[1]);
	assert_string_equal(r->collection, "note");
	store_record_free(r);

	/*
	 * A damaged name fails every record of its collection, and a
	 * rebuild writes it again.
	 */
	snprintf(q, sizeof(q), "UPDATE colls SET name ="
	    " zeroblob(length(name)) WHERE ctag = (SELECT ctag FROM records"
	    " WHERE rkey = %lld)", (long long)rkey[0]);
	peer_sql(q);
	store_close(w.st);
	open_store(&w.st, 1);
	r = NULL;
	assert_int_equal(store_record_load(w.st, rkey[0], &r),
	    SAMEN_EDECRYPT);
	assert_null(r);
	assert_int_equal(store_rebuild(w.st), 0);
	assert_int_equal(count_rows(w.path, "colls"), 2);
	for (i = 0; i < 3; i++) {
		r = load(w.st, i == 1 ? "note" : "case", rid[i]);
		assert_string_equal(r->collection, i == 1 ? "note" : "case");
		store_record_free(r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_load, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_memory, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_memory_statistics_off,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoints, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_sync_fails, setup,
		    teardown_vfs),
		cmocka_unit_test_setup_teardown(test_delete_vs_edit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replay_and_head, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_carried, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_circles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_chunk, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_chunk_optimistic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_chunk_at_insert,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_independent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exist_storm, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_shown_killed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete_edit_orders, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_4, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_2, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_1, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_plaintext_absent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_vector, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vector_large, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_circle_list, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_peers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_many, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_insert_merged, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_insert_opened, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_chain_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_record_filter_fills_over_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_filter, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wal_written_ahead, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_insert_merged_grouped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lazy_holds, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_packs_like_vals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pack_bound, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pack_overflow, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_load_fresh, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_insert_optimistic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rollback_digest_unreadable,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_merged_edges,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_colls_bound, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_boxes_are_xchacha, setup,
		    teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
