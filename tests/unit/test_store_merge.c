/* test_store_merge: merging change sets: pending or at insert, read ahead, optimistic, bad chunks, locked, rebuilt, in any order. */
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

/* The wall clock of test_held, in ms. */
static uint64_t held_now;

static uint64_t
held_clock(void)
{
	return held_now;
}

/*
 * Change sets from the future (store_set_hold, issue 28): stored, so that
 * the author's chain goes on, but not merged while their hlc is past the
 * wall clock plus the skew, by an insert, a merge or a rebuild; merged
 * once the clock has caught up, into the replica that storing and merging
 * them all gives.
 */
static void
test_held(void **state)
{
	uint8_t rid[2][RID_LEN], head[CS_IDLEN];
	struct built b[IM_N];
	struct store *o;
	struct store_stats s;
	struct touched t;
	uint64_t n, next, seq;
	size_t i;

	(void)state;
	o = im_reference(b, rid);
	/* im_build dates them at ms 1 to 5; the clock says 1, no skew. */
	held_now = 1;
	store_set_hold(w.st, held_clock, 0);
	assert_true(store_hold_horizon(w.st) == HLC_MAKE(1, 0xffff));
	assert_int_equal(store_begin(w.st), 0);
	for (i = 0; i < IM_N; i++)
		assert_int_equal(insert_merged(w.st, &b[i]), 0);
	assert_int_equal(store_commit(w.st), 0);
	/* All stored: the chain goes on past the held ones. */
	assert_int_equal(store_cs_head(w.st, w.a.pk, w.circle.id, &seq,
	    head), 0);
	assert_int_equal(seq, 4);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.changesets, IM_N);
	assert_int_equal(s.held, 4);
	assert_int_equal(s.pending, 0);
	assert_int_equal(store_held(w.st, &n, &next), 0);
	assert_int_equal(n, 4);
	assert_true(next == HLC_MAKE(2, 0));
	/* Neither the queue nor a rebuild merges them: the queue reports
	 * r0 alone, which the insert merged. */
	merge_t(w.st, &t);
	assert_int_equal(t.n, 1);
	merge_t(w.st, &t);
	assert_int_equal(t.n, 0);
	assert_int_equal(store_rebuild(w.st), 0);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.held, 4);
	assert_int_equal(s.records, 1);

	/* The clock reaches ms 3: two come due, in one merge. */
	held_now = 3;
	merge_t(w.st, &t);
	assert_int_equal(t.n, 1);
	assert_int_equal(store_held(w.st, &n, &next), 0);
	assert_int_equal(n, 2);
	assert_true(next == HLC_MAKE(4, 0));
	/* A skew moves the horizon as the clock would. */
	store_set_hold(w.st, held_clock, 2);
	merge_t(w.st, &t);
	assert_int_equal(t.n, 2);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.held, 0);
	assert_int_equal(s.pending, 0);
	/* Merged in another order, the same replica as the reference's. */
	same_replica(w.st, o);
	store_close(o);
	for (i = 0; i < IM_N; i++)
		built_free(&b[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_chunk, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_chunk_optimistic,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_chunk_at_insert, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rebuild, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_independent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_insert_merged, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_insert_opened, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_insert_merged_grouped,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_optimistic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_insert_merged_edges, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_held, setup, teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
