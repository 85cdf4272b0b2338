/* test_store_cut: cuts and quarantine: what a removed author wrote past its cut is kept, never merged, until an accept moves the cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "changeset.h"
#include "error.h"
#include "hlc.h"
#include "ops.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "wire.h"

#include "store_fixture.h"

/* store_cs_insert_merged in a transaction of its own: merged at once. */
static int
ins_txn(struct store *st, const struct built *b)
{
	int rc;

	assert_int_equal(store_begin(st), 0);
	rc = insert_merged(st, b);
	assert_int_equal(store_commit(st), 0);
	return rc;
}

static int
ins_optimistic(struct store *st, const struct built *b)
{
	int rc;

	assert_int_equal(store_begin(st), 0);
	rc = store_cs_insert_optimistic(st, &b->h, b->id, wire_data(&b->hdr),
	    wire_len(&b->hdr), wire_data(&b->pay), wire_len(&b->pay), NULL);
	assert_int_equal(store_commit(st), 0);
	return rc;
}

/* d's next change set: one case record rid with name=value. */
static void
write_case(struct dev *d, int (*ins)(struct store *, const struct built *),
    uint8_t rid[RID_LEN], uint64_t ms, const char *value)
{
	struct op ops[2];
	struct ops_chunk c;

	mkrid(rid, ms);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", value, NULL, 0);
	c = chunk("case", rid, ops, 2);
	write_cs_by(w.st, ins, d, HLC_MAKE(ms, 0), &c, 1, NULL);
}

static int
has_record(const uint8_t rid[RID_LEN])
{
	int64_t rkey;
	int rc = store_record_find(w.st, w.circle.id, "case", rid, &rkey);

	assert_true(rc == 0 || rc == SAMEN_ENOTFOUND);
	return rc == 0;
}

static uint64_t
quarantined(void)
{
	struct store_stats s;
	uint64_t n;

	assert_int_equal(store_quarantine_count(w.st, w.circle.id, &n), 0);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.quarantined, n);
	return n;
}

struct seen {
	uint64_t seq[8];
	size_t n;
};

static int
seen_cb(void *arg, const struct store_quarantined *q)
{
	struct seen *s = arg;
	struct cs_header h;

	assert_memory_equal(q->author, w.a.pk, 32);
	assert_int_equal(changeset_header_decode(&h, q->hdr, q->hdr_len), 0);
	assert_int_equal(h.seq, q->seq);
	assert_int_equal(h.hlc, q->hlc);
	assert_int_equal(h.epoch, q->epoch);
	assert_true(q->payload_len > 0);
	s->seq[s->n++] = q->seq;
	return 0;
}

/*
 * The whole bookkeeping: a cut set before (insert past it: quarantined,
 * not merged, not pending), one raised by an accept (what it lets in is
 * merged), one lowered under a merged change set (the rebuild flag, and
 * a rebuild leaves it out), and cleared (all of it merged); another
 * author and another circle never touched.
 */
static void
test_cut_and_quarantine(void **state)
{
	uint8_t r1[RID_LEN], r2[RID_LEN], r3[RID_LEN], rb[RID_LEN];
	uint8_t other[CS_CIRCLELEN], stranger[32];
	struct store_cut *cuts;
	struct store_stats s;
	struct seen seen;
	size_t n;
	int rebuild = -1;

	(void)state;
	write_case(&w.a, ins_txn, r1, 1700000100000ull, "one");
	assert_true(has_record(r1));
	/* A's cut at 1 (a removal): nothing merged is past it. */
	assert_int_equal(store_cut_set(w.st, w.circle.id, w.a.pk, 1,
	    &rebuild), 0);
	assert_int_equal(rebuild, 0);
	assert_int_equal(store_cuts(w.st, w.circle.id, &cuts, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(cuts[0].author, w.a.pk, 32);
	assert_int_equal(cuts[0].seq, 1);
	free(cuts);

	/* Past it: stored, not merged, not pending, listed. */
	write_case(&w.a, ins_txn, r2, 1700000100001ull, "two");
	write_case(&w.a, insert, r3, 1700000100002ull, "three");
	merge(w.st);
	assert_false(has_record(r2));
	assert_false(has_record(r3));
	assert_int_equal(quarantined(), 2);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, 3);
	assert_int_equal(s.pending, 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(store_quarantine_each(w.st, w.circle.id, seen_cb,
	    &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.seq[0], 2);
	assert_int_equal(seen.seq[1], 3);
	/* Another author, another circle: no cut. */
	write_case(&w.b, ins_txn, rb, 1700000100003ull, "bee");
	assert_true(has_record(rb));
	memcpy(other, w.circle.id, CS_CIRCLELEN);
	other[0] ^= 1;
	assert_int_equal(store_quarantine_count(w.st, other, &s.quarantined),
	    0);
	assert_int_equal(s.quarantined, 0);

	/* An accept moves the cut to 3: both become pending, then merged. */
	assert_int_equal(store_cut_set(w.st, w.circle.id, w.a.pk, 3,
	    &rebuild), 0);
	assert_int_equal(rebuild, 0);
	assert_int_equal(quarantined(), 0);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.pending, 2);
	merge(w.st);
	assert_true(has_record(r2));
	assert_true(has_record(r3));

	/* Lowered under seq 3, merged: the replica must be rebuilt. */
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_cut_set(w.st, w.circle.id, w.a.pk, 2,
	    &rebuild), 0);
	assert_int_equal(rebuild, 1);
	assert_int_equal(store_rebuild(w.st), 0);
	assert_int_equal(store_commit(w.st), 0);
	assert_true(has_record(r2));
	assert_false(has_record(r3));
	assert_true(has_record(rb));
	assert_int_equal(quarantined(), 1);
	/* Setting it again changes nothing. */
	assert_int_equal(store_cut_set(w.st, w.circle.id, w.a.pk, 2,
	    &rebuild), 0);
	assert_int_equal(rebuild, 0);

	/* Cleared (added again): nothing of it is held back. */
	assert_int_equal(store_cut_clear(w.st, w.circle.id, w.a.pk), 0);
	assert_int_equal(quarantined(), 0);
	merge(w.st);
	assert_true(has_record(r3));
	assert_int_equal(store_cuts(w.st, w.circle.id, &cuts, &n), 0);
	assert_int_equal(n, 0);
	assert_null(cuts);
	/* Clearing what has no cut, or an author never seen, is no error. */
	assert_int_equal(store_cut_clear(w.st, w.circle.id, w.a.pk), 0);
	randombytes_buf(stranger, sizeof(stranger));
	assert_int_equal(store_cut_clear(w.st, w.circle.id, stranger), 0);
}

/*
 * The cut of a device that never wrote here; the fast paths: an
 * optimistic insert past a cut is a clean insert, quarantined, and a cut
 * is found again after a reopen (the store remembers whether it has
 * any), and by the next insert after a set (the insert's cached head).
 */
static void
test_cut_paths(void **state)
{
	uint8_t r1[RID_LEN], r2[RID_LEN], r3[RID_LEN];
	int rebuild;

	(void)state;
	assert_int_equal(store_cut_set(w.st, w.circle.id, w.b.pk, 0,
	    &rebuild), 0);
	write_case(&w.b, ins_optimistic, r1, 1700000200000ull, "opt");
	assert_false(has_record(r1));
	assert_int_equal(quarantined(), 1);

	write_case(&w.a, ins_txn, r2, 1700000200001ull, "a1");
	assert_int_equal(store_cut_set(w.st, w.circle.id, w.a.pk, 1,
	    &rebuild), 0);
	store_close(w.st);
	open_store(&w.st, 1);
	write_case(&w.a, ins_txn, r3, 1700000200002ull, "a2");
	assert_true(has_record(r2));
	assert_false(has_record(r3));
	assert_int_equal(quarantined(), 2);
	assert_int_equal(store_cut_set(w.st, w.circle.id, w.a.pk, UINT64_MAX,
	    &rebuild), SAMEN_EINVAL);
}

struct each {
	uint64_t n;
	uint8_t authors[4][32];
};

static int
each_cb(void *arg, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	struct each *e = arg;
	struct cs_header h;

	(void)payload;
	assert_true(payload_len > 0);
	assert_int_equal(changeset_header_decode(&h, hdr, hdr_len), 0);
	memcpy(e->authors[e->n++], h.author, 32);
	return 0;
}

/*
 * store_chain_each: every change set of a chain, whoever wrote it, even
 * what is held back from peers until synced, and merged or not.
 */
static void
test_chain_each(void **state)
{
	uint8_t r[RID_LEN], other[CS_CIRCLELEN];
	struct wbuf pw[MAXCHUNKS];
	struct cs_plain pl[MAXCHUNKS];
	struct ops_chunk c;
	struct op ops[2];
	struct built b;
	struct each e;
	uint64_t ticket;

	(void)state;
	write_case(&w.a, insert, r, 1700000300000ull, "x");
	write_case(&w.b, ins_txn, r, 1700000300001ull, "y");
	/* An own change set, committed lazily: hidden from peers. */
	mkrid(r, 1700000300002ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "z", NULL, 0);
	c = chunk("case", r, ops, 2);
	build(&b, &w.a, &w.circle, w.circle.key, w.a.seq + 1, w.a.head,
	    HLC_MAKE(1700000300002ull, 0), &c, 1);
	plains(pw, pl, &c, 1);
	assert_int_equal(store_begin_lazy(w.st), 0);
	assert_int_equal(store_cs_insert_own(w.st, &b.h, b.id,
	    wire_data(&b.hdr), wire_len(&b.hdr), wire_data(&b.pay),
	    wire_len(&b.pay), pl, 1), 0);
	assert_int_equal(store_commit_lazy(w.st, &ticket), 0);
	wire_free(&pw[0]);
	built_free(&b);

	memset(&e, 0, sizeof(e));
	assert_int_equal(store_chain_each(w.st, w.circle.id, each_cb, &e), 0);
	assert_int_equal(e.n, 3);
	memcpy(other, w.circle.id, CS_CIRCLELEN);
	other[0] ^= 1;
	memset(&e, 0, sizeof(e));
	assert_int_equal(store_chain_each(w.st, other, each_cb, &e), 0);
	assert_int_equal(e.n, 0);
	store_durable(w.st, ticket);
}

static int
count_cb(void *arg, uint64_t seq, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *payload, size_t payload_len)
{
	uint64_t *last = arg;

	(void)hdr;
	(void)hdr_len;
	(void)payload;
	(void)payload_len;
	*last = seq;
	return 0;
}

/* The last seq of (circle, author) store_cs_range hands out from 0. */
static uint64_t
range_end(const uint8_t author[32], int clean)
{
	uint64_t last = 0;

	assert_int_equal(store_cs_range(w.st, w.circle.id, author, 0, 100,
	    clean, count_cb, &last), 0);
	return last;
}

/* The head of author in h[0..n), or NULL. */
static const struct sync_head *
head_of(const struct sync_head *h, size_t n, const uint8_t author[32])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(h[i].author, author, 32) == 0)
			return &h[i];
	return NULL;
}

/*
 * What a peer that is no admin or relay is offered (docs/sync.md,
 * "Quarantine travels to admins"): store_vector_capped shows each author
 * with a cut at its cut, with that change set's id (or not at all: cut
 * 0), except the one kept; without any cut it is store_vector.  A clean
 * store_cs_range stops before what is quarantined.
 */
static void
test_vector_capped(void **state)
{
	struct sync_head *h, *full;
	struct dev c;
	uint8_t r[RID_LEN], id2[CS_IDLEN];
	size_t n, nfull;
	int rebuild;

	(void)state;
	dev_init(&c);
	for (int i = 0; i < 4; i++)
		write_case(&w.a, ins_txn, r, 1700000400000ull + i, "a");
	write_case(&w.b, ins_txn, r, 1700000400010ull, "b");
	write_case(&c, ins_txn, r, 1700000400011ull, "c");
	/* No cut anywhere: the same as store_vector. */
	assert_int_equal(store_vector(w.st, w.circle.id, &full, &nfull), 0);
	assert_int_equal(store_vector_capped(w.st, w.circle.id, NULL, &h,
	    &n), 0);
	assert_int_equal(n, nfull);
	assert_int_equal(n, 3);
	assert_memory_equal(h, full, n * sizeof(*h));
	free(h);
	assert_int_equal(range_end(w.a.pk, 1), 4);

	/* a cut at 2, c at 0 (it wrote nothing that counts). */
	assert_int_equal(store_cs_id_at(w.st, w.circle.id, w.a.pk, 2, id2), 0);
	assert_int_equal(store_cut_set(w.st, w.circle.id, w.a.pk, 2,
	    &rebuild), 0);
	assert_int_equal(store_cut_set(w.st, w.circle.id, c.pk, 0,
	    &rebuild), 0);
	assert_int_equal(store_vector_capped(w.st, w.circle.id, NULL, &h,
	    &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(head_of(h, n, w.a.pk)->seq, 2);
	assert_memory_equal(head_of(h, n, w.a.pk)->head, id2, CS_IDLEN);
	assert_memory_equal(head_of(h, n, w.b.pk), head_of(full, nfull,
	    w.b.pk), sizeof(*h));
	assert_null(head_of(h, n, c.pk));
	free(h);
	/* The one kept (ourselves, removed) is shown whole. */
	assert_int_equal(store_vector_capped(w.st, w.circle.id, w.a.pk, &h,
	    &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(head_of(h, n, w.a.pk)->seq, 4);
	free(h);
	/* The vector is still all of it. */
	assert_int_equal(store_vector(w.st, w.circle.id, &h, &n), 0);
	assert_int_equal(n, 3);
	free(h);
	assert_int_equal(range_end(w.a.pk, 1), 2);
	assert_int_equal(range_end(w.a.pk, 0), 4);
	assert_int_equal(range_end(c.pk, 1), 0);
	assert_int_equal(range_end(w.b.pk, 1), 1);
	free(full);
}

/* A circle erased as departed is listed, with whether revoked. */
static void
test_departed(void **state)
{
	struct store_departed *d;
	struct store_erased e;
	uint8_t r[RID_LEN];
	size_t n;

	(void)state;
	assert_int_equal(store_departed(w.st, &d, &n), 0);
	assert_int_equal(n, 0);
	assert_null(d);
	write_case(&w.a, ins_txn, r, 1700000500000ull, "a");
	assert_int_equal(store_erase_circle(w.st, w.circle.id, 1700000500001ull,
	    0, &e), 0);
	store_erased_free(&e);
	assert_int_equal(store_departed(w.st, &d, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(d[0].circle, w.circle.id, CS_CIRCLELEN);
	assert_int_equal(d[0].revoked, 0);
	free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cut_and_quarantine, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cut_paths, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_chain_each, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_vector_capped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_departed, setup,
		    teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
