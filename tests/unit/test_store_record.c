/* test_store_record: loading records: their history, many at once, from the fresh cache, and the filter of which records exist. */
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

/* Inserted and merged in the caller's transaction; d's chain moves on. */
static void
write_merged(struct dev *d, uint64_t hlc, const struct ops_chunk *c,
    size_t n, uint8_t id[CS_IDLEN])
{
	write_cs_by(w.st, insert_merged, d, hlc, c, n, id);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_many, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_record_filter_fills_over_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_record_filter, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_load_fresh, setup,
		    teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
