/* test_store_cs: the change-set log: chains, replays, forks, heads, vectors and ranges, and own change sets held back until synced. */
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

#include "store_fixture.h"

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
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 0, 100, 0,
	    range_cb, &r), 0);
	range_check(&r, b, 1, 5);
	range_reset(&r, 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 2, 2, 0,
	    range_cb, &r), 0);
	range_check(&r, b, 3, 2);
	range_reset(&r, 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 4,
	    UINT64_MAX, 0, range_cb, &r), 0);
	range_check(&r, b, 5, 1);
	/* Nothing past the head, nothing for limit 0, no such chain. */
	range_reset(&r, 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 5, 10, 0,
	    range_cb, &r), 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, UINT64_MAX,
	    10, 0, range_cb, &r), 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 0, 0, 0,
	    range_cb, &r), 0);
	assert_int_equal(store_cs_range(w.st, unknown, w.a.pk, 0, 10, 0,
	    range_cb, &r), 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, stranger, 0, 10, 0,
	    range_cb, &r), 0);
	assert_int_equal(r.n, 0);
	/* A non-zero return from cb stops the walk and comes back. */
	range_reset(&r, 2);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 1, 10, 0,
	    range_cb, &r), 9);
	range_check(&r, b, 2, 2);
	/* The statement was reset: the next walk starts afresh. */
	range_reset(&r, 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.b.pk, 0, 3, 0,
	    range_cb, &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.seq[2], 3);

	/* Without the key, after a reopen. */
	store_close(w.st);
	open_store(&w.st, 0);
	range_reset(&r, 0);
	assert_int_equal(store_cs_range(w.st, w.circle.id, w.a.pk, 0, 5, 0,
	    range_cb, &r), 0);
	range_check(&r, b, 1, 5);
	range_reset(&r, 0);
	for (i = 0; i < 5; i++)
		built_free(&b[i]);
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
	assert_int_equal(store_cs_range(st, w.circle.id, author, 0, 100, 0,
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replay_and_head, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_carried, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_vector, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vector_large, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lazy_holds, setup,
		    teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
