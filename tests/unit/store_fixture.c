/* store_fixture: what the store's unit tests share (store_fixture.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "store_fixture.h"

struct world w;

void
built_free(struct built *b)
{
	wire_free(&b->hdr);
	wire_free(&b->pay);
}

void
dev_init(struct dev *d)
{
	crypto_sign_keypair(d->pk, d->sk);
	d->seq = 0;
	memset(d->head, 0, sizeof(d->head));
}

void
mkrid(uint8_t rid[RID_LEN], uint64_t ms)
{
	int i;

	for (i = 0; i < 6; i++)
		rid[i] = (uint8_t)(ms >> (8 * (5 - i)));
	randombytes_buf(rid + 6, RID_LEN - 6);
}

struct op
op_set(const char *field, const char *value, const uint8_t *preds,
    uint32_t n)
{
	struct op o = { OP_SET, field, strlen(field), value, strlen(value), 0,
	    preds, n };

	return o;
}

struct op
op_exist(int alive, const uint8_t *preds, uint32_t n)
{
	struct op o = { OP_EXIST, NULL, 0, NULL, 0, alive, preds, n };

	return o;
}

struct op
op_add(const char *field, const char *elem)
{
	struct op o = { OP_ADD, field, strlen(field), elem, strlen(elem), 0,
	    NULL, 0 };

	return o;
}

struct op
op_rem(const char *field, const char *elem, const uint8_t *tags, uint32_t n)
{
	struct op o = { OP_REM, field, strlen(field), elem, strlen(elem), 0,
	    tags, n };

	return o;
}

struct ops_chunk
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

void
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

int
insert(struct store *st, const struct built *b)
{
	return store_cs_insert(st, &b->h, b->id, wire_data(&b->hdr),
	    wire_len(&b->hdr), wire_data(&b->pay), wire_len(&b->pay));
}

void
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

void
write_cs(struct store *st, struct dev *d, uint64_t hlc,
    const struct ops_chunk *chunks, size_t n, uint8_t id[CS_IDLEN])
{
	write_cs_by(st, insert, d, hlc, chunks, n, id);
}

void
write1(struct store *st, struct dev *d, uint64_t hlc, const char *coll,
    const uint8_t rid[RID_LEN], struct op *ops, uint32_t nops,
    uint8_t id[CS_IDLEN])
{
	struct ops_chunk c = chunk(coll, rid, ops, nops);

	write_cs(st, d, hlc, &c, 1, id);
}

void
vid(uint8_t out[VID_LEN], const uint8_t id[CS_IDLEN], uint32_t chunk_i,
    uint32_t op_i)
{
	ops_vid(out, id, chunk_i, op_i);
}

void
merge(struct store *st)
{
	assert_int_equal(store_begin(st), 0);
	assert_int_equal(store_merge_pending(st, NULL, NULL), 0);
	assert_int_equal(store_commit(st), 0);
}

struct store_record *
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

const struct store_field *
field(const struct store_record *r, const char *name, int is_set)
{
	size_t i;

	for (i = 0; i < r->nfields; i++)
		if (r->fields[i].is_set == is_set &&
		    strcmp(r->fields[i].name, name) == 0)
			return &r->fields[i];
	return NULL;
}

void
open_store(struct store **st, int with_key)
{
	char *cause = NULL;

	assert_int_equal(store_open(st, w.path, &cause), 0);
	assert_null(cause);
	if (with_key)
		store_set_key(*st, w.skey);
}

int
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

int
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

void
touched_cb(void *arg, int64_t rkey)
{
	struct touched *t = arg;

	if (t->n < 16)
		t->keys[t->n++] = rkey;
}

void
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

void
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

int
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

void
hexcat(char **s, const uint8_t *p, size_t n)
{
	char *hex = xmalloc(2 * n + 1), *t;

	hex_encode(hex, p, n);
	t = xasprintf("%s%s ", *s, hex);
	free(*s);
	free(hex);
	*s = t;
}

void
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

int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
dump(struct store *st, struct dump *d)
{
	d->lines = NULL;
	d->n = 0;
	assert_int_equal(store_record_foreach(st, dump_cb, d), 0);
	/* rkeys differ between replicas: compare by content. */
	if (d->n > 1)
		qsort(d->lines, d->n, sizeof(*d->lines), cmp_str);
}

void
dump_equal(const struct dump *x, const struct dump *y)
{
	size_t i;

	assert_int_equal(x->n, y->n);
	for (i = 0; i < x->n; i++)
		assert_string_equal(x->lines[i], y->lines[i]);
}

void
dump_free(struct dump *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
}

void
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

int
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

void
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

void
storm_free(struct storm *s)
{
	size_t i;

	for (i = 0; i < STORM + 2; i++)
		built_free(&s->b[i]);
}

void
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

void
peer_sql(const char *q)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(w.path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

void
merge_commit(struct store *st, struct touched *t)
{
	t->n = 0;
	assert_int_equal(store_merge_pending(st, touched_cb, t), 0);
	assert_int_equal(store_commit(st), 0);
}

int
insert_merged(struct store *st, const struct built *b)
{
	return store_cs_insert_merged(st, &b->h, b->id, wire_data(&b->hdr),
	    wire_len(&b->hdr), wire_data(&b->pay), wire_len(&b->pay));
}

void
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

void
needle_add(struct needles *nd, const void *p, size_t n)
{
	nd->p = xreallocarray(nd->p, nd->count + 1, sizeof(*nd->p));
	nd->n = xreallocarray(nd->n, nd->count + 1, sizeof(*nd->n));
	nd->p[nd->count] = xmalloc(n ? n : 1);
	memcpy(nd->p[nd->count], p, n);
	nd->n[nd->count++] = n;
}

void
needles_free(struct needles *nd)
{
	for (size_t i = 0; i < nd->count; i++)
		free(nd->p[i]);
	free(nd->p);
	free(nd->n);
	memset(nd, 0, sizeof(*nd));
}

uint8_t *
file_read(const char *path, size_t *n)
{
	struct stat sb;
	uint8_t *p;
	ssize_t got;
	size_t at = 0;
	int fd;

	*n = 0;
	if ((fd = open(path, O_RDONLY)) < 0)
		return NULL;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return NULL;
	}
	p = xmalloc((size_t)sb.st_size + 1);
	while (at < (size_t)sb.st_size &&
	    (got = read(fd, p + at, (size_t)sb.st_size - at)) > 0)
		at += (size_t)got;
	close(fd);
	*n = at;
	return p;
}

void
file_copy(const char *from, const char *to)
{
	uint8_t *p;
	size_t n;
	FILE *f;

	assert_non_null(p = file_read(from, &n));
	assert_non_null(f = fopen(to, "wb"));
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	free(p);
}

/* 1 if buf holds the n bytes at p (memmem is GNU's). */
static int
holds(const uint8_t *buf, size_t len, const uint8_t *p, size_t n)
{
	const uint8_t *at = buf, *end = buf + len;

	while (n > 0 && (size_t)(end - at) >= n &&
	    (at = memchr(at, p[0], (size_t)(end - at) - n + 1)) != NULL) {
		if (memcmp(at, p, n) == 0)
			return 1;
		at++;
	}
	return 0;
}

/* 1 if a window of needle i is in buf. */
static int
finds_one(const uint8_t *buf, size_t len, const struct needles *nd,
    size_t i, const char *name)
{
	size_t step = nd->n[i] < NEEDLE_WINDOW ? nd->n[i] : NEEDLE_WINDOW;

	for (size_t off = 0; off + step <= nd->n[i] && step > 0;
	    off += step) {
		if (!holds(buf, len, nd->p[i] + off, step))
			continue;
		if (getenv("NEEDLES_VERBOSE") != NULL)
			fprintf(stderr, "needle %zu (%zu bytes): its bytes "
			    "from %zu are in %s\n", i, nd->n[i], off, name);
		return 1;
	}
	return 0;
}

size_t
dir_finds(const char *dir, const struct needles *nd)
{
	struct dirent *de;
	size_t found = 0;
	DIR *d;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		char path[300];
		uint8_t *buf;
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((buf = file_read(path, &len)) == NULL)
			continue;
		for (size_t i = 0; i < nd->count; i++)
			found += finds_one(buf, len, nd, i, de->d_name);
		free(buf);
	}
	closedir(d);
	return found;
}
