/* test_store_erase: erasure holds: a purge, late arrivals, a departed circle, everything, a kill at any point, the WAL. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>
#include <uv.h>

#include "changeset.h"
#include "ckpt.h"
#include "durable.h"
#include "error.h"
#include "hlc.h"
#include "index.h"
#include "loader.h"
#include "merge.h"
#include "ops.h"
#include "store.h"
#include "store_int.h"
#include "sync.h"
#include "util.h"
#include "wire.h"

#include "store_fixture.h"

/*
 * The scene: a case holding a canary in a field and a tag in a set field,
 * edited often, once under a second epoch; a note that links to it (and
 * names the canary); unrelated cases all around, one of them in a change
 * set with the case.  The case and the note are erased.
 */
#define NOTHER 60
#define NEDITS 12

struct scene {
	uint8_t case_rid[RID_LEN], note_rid[RID_LEN];
	uint8_t other[NOTHER][RID_LEN];
	char canary[40];
	uint8_t tags[2][CS_RTAGLEN];	/* epoch 1: the purge op's */
	uint8_t tags2[2][CS_RTAGLEN];	/* epoch 2 */
	uint8_t op[CS_IDLEN];
	struct store_circle c2;		/* the circle at epoch 2 */
	struct needles secret;		/* their ciphertext, the canary */
	size_t nchunks;			/* their chunks */
	/* Every change set as built, in order, for other stores. */
	struct built *all;
	size_t nall;
};

static struct scene sc;

static int
is_erased_tag(const uint8_t rtag[CS_RTAGLEN])
{
	for (int i = 0; i < 2; i++)
		if (memcmp(rtag, sc.tags[i], CS_RTAGLEN) == 0 ||
		    memcmp(rtag, sc.tags2[i], CS_RTAGLEN) == 0)
			return 1;
	return 0;
}

/* Notes the ciphertext of every chunk of b that an erase takes. */
static void
capture(const struct built *b)
{
	struct cs_payload pl;

	assert_int_equal(changeset_payload_decode(&pl, wire_data(&b->pay),
	    wire_len(&b->pay)), 0);
	for (uint32_t i = 0; i < pl.nchunks; i++)
		if (!pl.chunks[i].purged && is_erased_tag(pl.chunks[i].rtag)) {
			needle_add(&sc.secret, pl.chunks[i].ct,
			    pl.chunks[i].ct_len);
			sc.nchunks++;
		}
	changeset_payload_free(&pl);
}

/* Keeps a copy of b (for other stores) and inserts it. */
static int
keep_insert(struct store *st, const struct built *b)
{
	struct built *k;

	capture(b);
	sc.all = xreallocarray(sc.all, sc.nall + 1, sizeof(*sc.all));
	k = &sc.all[sc.nall++];
	k->h = b->h;
	memcpy(k->id, b->id, CS_IDLEN);
	wire_init(&k->hdr);
	wire_init(&k->pay);
	wire_put_raw(&k->hdr, wire_data(&b->hdr), wire_len(&b->hdr));
	wire_put_raw(&k->pay, wire_data(&b->pay), wire_len(&b->pay));
	return insert(st, b);
}

static void
put_cs(struct store *st, struct dev *d, uint64_t hlc,
    const struct ops_chunk *chunks, size_t n)
{
	write_cs_by(st, keep_insert, d, hlc, chunks, n, NULL);
}

/* The next change set of d under circle c at its epoch (key c->key). */
static void
put_cs_epoch(struct store *st, struct dev *d, const struct store_circle *c,
    uint64_t hlc, const struct ops_chunk *chunks, size_t n)
{
	struct built b;

	build(&b, d, c, c->key, d->seq + 1, d->head, hlc, chunks, n);
	assert_int_equal(keep_insert(st, &b), 0);
	d->seq++;
	memcpy(d->head, b.id, CS_IDLEN);
	built_free(&b);
}

static void
scene_free(void)
{
	needles_free(&sc.secret);
	for (size_t i = 0; i < sc.nall; i++)
		built_free(&sc.all[i]);
	free(sc.all);
	memset(&sc, 0, sizeof(sc));
}

/* Writes the scene into st (w's circle; epoch 2 added) and merges it. */
static void
scene(struct store *st)
{
	static char big[1200], big2[1200], text[200], link[2 * RID_LEN + 1];
	static char filler[NOTHER][400], status[NEDITS][32];
	uint8_t hex[12], id0[CS_IDLEN], v[VID_LEN];
	struct op ops[3], oo[2];
	struct ops_chunk cc[2];
	uint64_t t = 1700000000000ull;
	size_t i;

	memset(&sc, 0, sizeof(sc));
	randombytes_buf(hex, sizeof(hex));
	strcpy(sc.canary, "canary-");
	hex_encode(sc.canary + 7, hex, sizeof(hex));
	randombytes_buf(sc.op, sizeof(sc.op));
	mkrid(sc.case_rid, t + 10);
	mkrid(sc.note_rid, t + 20);
	for (i = 0; i < NOTHER; i++)
		mkrid(sc.other[i], t + 100 + i);
	changeset_rtag(sc.tags[0], w.circle.key, "case", 4, sc.case_rid);
	changeset_rtag(sc.tags[1], w.circle.key, "note", 4, sc.note_rid);
	sc.c2 = w.circle;
	sc.c2.epoch = 2;
	randombytes_buf(sc.c2.key, sizeof(sc.c2.key));
	assert_int_equal(store_circle_put(st, &sc.c2), 0);
	changeset_rtag(sc.tags2[0], sc.c2.key, "case", 4, sc.case_rid);
	changeset_rtag(sc.tags2[1], sc.c2.key, "note", 4, sc.note_rid);
	needle_add(&sc.secret, sc.canary, strlen(sc.canary));

	/* Unrelated cases first, and a value of some size each. */
	for (i = 0; i < NOTHER / 2; i++) {
		memset(filler[i], 'a' + (int)(i % 26), sizeof(filler[i]) - 1);
		ops[0] = op_exist(1, NULL, 0);
		ops[1] = op_set("summary", filler[i], NULL, 0);
		cc[0] = chunk("case", sc.other[i], ops, 2);
		put_cs(st, i % 2 ? &w.b : &w.a, HLC_MAKE(t + 100 + i, 0), cc,
		    1);
	}
	/* The case: the canary in a field, a tag in a set field. */
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big + 500, sc.canary, strlen(sc.canary));
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", big, NULL, 0);
	ops[2] = op_add("tags", "canary-tag");
	cc[0] = chunk("case", sc.case_rid, ops, 3);
	write_cs_by(st, keep_insert, &w.a, HLC_MAKE(t + 200, 0), cc, 1, id0);
	/* The note, linking to it. */
	hex_encode(link, sc.case_rid, RID_LEN);
	snprintf(text, sizeof(text), "visited; %s", sc.canary);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("case", link, NULL, 0);
	ops[2] = op_set("text", text, NULL, 0);
	cc[0] = chunk("note", sc.note_rid, ops, 3);
	put_cs(st, &w.b, HLC_MAKE(t + 210, 0), cc, 1);
	/* Edits of the case, one with an unrelated case beside it. */
	for (i = 0; i < NEDITS; i++) {
		snprintf(status[i], sizeof(status[i]), "status %zu", i);
		ops[0] = op_set("status", status[i], NULL, 0);
		cc[0] = chunk("case", sc.case_rid, ops, 1);
		oo[0] = op_exist(1, NULL, 0);
		oo[1] = op_set("summary", "beside the case", NULL, 0);
		cc[1] = chunk("case", sc.other[NOTHER - 1], oo, 2);
		put_cs(st, i % 2 ? &w.b : &w.a, HLC_MAKE(t + 300 + i, 0), cc,
		    i == 3 ? 2 : 1);
	}
	/* An edit that replaces the canary's value: the old one dies. */
	memset(big2, 'y', sizeof(big2) - 1);
	memcpy(big2 + 100, sc.canary, strlen(sc.canary));
	vid(v, id0, 0, 1);
	ops[0] = op_set("name", big2, v, 1);
	cc[0] = chunk("case", sc.case_rid, ops, 1);
	put_cs(st, &w.b, HLC_MAKE(t + 400, 0), cc, 1);
	/* One under the second epoch, which the purge op does not name. */
	ops[0] = op_set("status", "epoch two", NULL, 0);
	cc[0] = chunk("case", sc.case_rid, ops, 1);
	put_cs_epoch(st, &w.a, &sc.c2, HLC_MAKE(t + 500, 0), cc, 1);
	for (i = NOTHER / 2; i < NOTHER - 1; i++) {
		memset(filler[i], 'a' + (int)(i % 26), sizeof(filler[i]) - 1);
		ops[0] = op_exist(1, NULL, 0);
		ops[1] = op_set("summary", filler[i], NULL, 0);
		cc[0] = chunk("case", sc.other[i], ops, 2);
		put_cs(st, i % 2 ? &w.b : &w.a, HLC_MAKE(t + 600 + i, 0), cc,
		    1);
	}
	merge(st);
}

/* The replica's boxes of rid's record (its row's and its vals'). */
static void
capture_boxes(const char *path, const uint8_t rid[RID_LEN])
{
	sqlite3 *db;
	sqlite3_stmt *s;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT pbox, coll FROM"
	    " records WHERE rid = ?1 UNION ALL SELECT v.box, NULL FROM vals v"
	    " JOIN records r ON r.rkey = v.rkey WHERE r.rid = ?1", -1, &s,
	    NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, rid, RID_LEN, SQLITE_STATIC);
	/*
	 * A box is its nonce, then the ciphertext.  The nonce's first 16
	 * bytes are the same in every box one key setting sealed (store_int.h,
	 * struct store_keys): they are in live boxes too.
	 */
	while (sqlite3_step(s) == SQLITE_ROW)
		for (int c = 0; c < 2; c++)
			if (sqlite3_column_bytes(s, c) > (int)BOX_NONCE)
				needle_add(&sc.secret,
				    (const uint8_t *)sqlite3_column_blob(s, c) +
				    BOX_NONCE, (size_t)sqlite3_column_bytes(s,
				    c) - BOX_NONCE);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/*
 * Every change set of path (the log and the forks), checked as a peer
 * checks one: its header decodes and is signed, its payload checks
 * against it.  Returns the sealed chunks that carry one of the scene's
 * tags; *purged: the purged chunks.
 */
static size_t
chains_check(const char *path, size_t *purged)
{
	static const char *const q[] = { "SELECT hdr, payload FROM cs",
	    "SELECT hdr, payload FROM forks" };
	sqlite3 *db;
	sqlite3_stmt *s;
	size_t sealed = 0;

	*purged = 0;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(sqlite3_prepare_v2(db, q[k], -1, &s, NULL),
		    SQLITE_OK);
		while (sqlite3_step(s) == SQLITE_ROW) {
			struct cs_header h;
			struct cs_payload pl;
			size_t n = (size_t)sqlite3_column_bytes(s, 1);

			assert_int_equal(changeset_header_decode(&h,
			    sqlite3_column_blob(s, 0),
			    (size_t)sqlite3_column_bytes(s, 0)), 0);
			assert_int_equal(changeset_verify(&h), 0);
			assert_int_equal(changeset_payload_decode(&pl,
			    sqlite3_column_blob(s, 1), n), 0);
			assert_int_equal(changeset_payload_check(&h, &pl, n),
			    0);
			for (uint32_t i = 0; i < pl.nchunks; i++) {
				*purged += pl.chunks[i].purged;
				sealed += !pl.chunks[i].purged &&
				    is_erased_tag(pl.chunks[i].rtag);
			}
			changeset_payload_free(&pl);
		}
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return sealed;
}

static int
has_record(struct store *st, const char *coll, const uint8_t rid[RID_LEN])
{
	int64_t rkey;
	int rc = store_record_find(st, w.circle.id, coll, rid, &rkey);

	assert_true(rc == 0 || rc == SAMEN_ENOTFOUND);
	return rc == 0;
}

/* Drops the lines of d that are the case's or the note's. */
static void
dump_without(struct dump *d)
{
	char a[2 * RID_LEN + 1], b[2 * RID_LEN + 1];
	size_t i, n = 0;

	hex_encode(a, sc.case_rid, RID_LEN);
	hex_encode(b, sc.note_rid, RID_LEN);
	for (i = 0; i < d->n; i++) {
		if (strncmp(d->lines[i], a, strlen(a)) == 0 ||
		    strncmp(d->lines[i], b, strlen(b)) == 0) {
			free(d->lines[i]);
			continue;
		}
		d->lines[n++] = d->lines[i];
	}
	d->n = n;
}

/* The digests equal a rebuild's, and the records it gives. */
static void
digest_is_rebuilds(struct store *st)
{
	uint8_t d1[32], s1[32], d2[32], s2[32];
	struct dump x, y;

	dump(st, &x);
	assert_int_equal(store_digest(st, d1), 0);
	assert_int_equal(store_shared_digest(st, s1), 0);
	assert_int_equal(store_rebuild(st), 0);
	assert_int_equal(store_digest(st, d2), 0);
	assert_int_equal(store_shared_digest(st, s2), 0);
	assert_memory_equal(d1, d2, 32);
	assert_memory_equal(s1, s2, 32);
	dump(st, &y);
	dump_equal(&x, &y);
	dump_free(&x);
	dump_free(&y);
}

/* The purge: the two records' tags of epoch 1, as the op names them. */
static void
erase_scene(struct store *st, struct store_erased *out)
{
	assert_int_equal(store_erase_tags(st, w.circle.id, sc.op,
	    (const uint8_t (*)[CS_RTAGLEN])sc.tags, 2, out), 0);
}

static void
test_erase_tags(void **state)
{
	uint8_t (*rt)[CS_RTAGLEN];
	struct store_erased out;
	struct store_stats s0, s1;
	struct dump before, after;
	struct store_record *r;
	uint8_t d0[32], d1[32], rid[RID_LEN];
	struct touched t = { { 0 }, 0 };
	struct ops_chunk cc[1];
	struct op ops[1];
	struct dev bdev;
	size_t purged, nrt;
	int64_t rkey;
	int on;

	(void)state;
	scene(w.st);
	capture_boxes(w.path, sc.case_rid);
	capture_boxes(w.path, sc.note_rid);
	assert_true(has_record(w.st, "case", sc.case_rid));
	assert_true(has_record(w.st, "note", sc.note_rid));
	/* The tags of a record under every key held, as a purge names it. */
	assert_int_equal(store_erase_rtags(w.st, w.circle.id, "case",
	    sc.case_rid, &rt, &nrt), 0);
	assert_int_equal(nrt, 2);
	assert_memory_equal(rt[0], sc.tags[0], CS_RTAGLEN);
	assert_memory_equal(rt[1], sc.tags2[0], CS_RTAGLEN);
	free(rt);
	/* The search finds what is there: the chunks, the boxes. */
	assert_int_equal(chains_check(w.path, &purged), sc.nchunks);
	assert_int_equal(purged, 0);
	assert_true(dir_finds(w.dir, &sc.secret) > sc.nchunks);
	assert_int_equal(store_stats(w.st, &s0), 0);
	assert_int_equal(store_digest(w.st, d0), 0);
	dump(w.st, &before);
	dump_without(&before);
	/* What is deleted is overwritten (store_open's setting). */
	assert_int_equal(store_sql_pragma_int(w.st->db, "PRAGMA secure_delete",
	    &on), 0);
	assert_int_equal(on, 1);

	/*
	 * In the caller's transaction, after a merge there touched the case:
	 * the merge's report leaves it out.  Rolled back: nothing happened.
	 */
	bdev = w.b;
	ops[0] = op_set("status", "touched first", NULL, 0);
	cc[0] = chunk("case", sc.case_rid, ops, 1);
	assert_int_equal(store_begin(w.st), 0);
	write_cs_by(w.st, insert_merged, &w.b, HLC_MAKE(1700000008000ull, 0),
	    cc, 1, NULL);
	erase_scene(w.st, &out);
	assert_int_equal(out.nrkeys, 2);
	store_erased_free(&out);
	assert_int_equal(store_merge_pending(w.st, touched_cb, &t), 0);
	assert_int_equal(t.n, 0);
	assert_false(store_wal_truncate_owed(w.st));
	store_rollback(w.st);
	w.b = bdev;
	assert_false(store_wal_truncate_owed(w.st));
	assert_int_equal(chains_check(w.path, &purged), sc.nchunks);
	assert_int_equal(count_rows(w.path, "purged"), 0);
	assert_true(has_record(w.st, "case", sc.case_rid));
	assert_int_equal(store_digest(w.st, d1), 0);
	assert_memory_equal(d0, d1, 32);

	erase_scene(w.st, &out);
	assert_int_equal(out.nrkeys, 2);
	assert_true(out.rkeys[0] < out.rkeys[1]);
	assert_int_equal(out.chunks, sc.nchunks);
	assert_int_equal(out.changesets, sc.nchunks);	/* one each */
	assert_true(store_wal_truncate_owed(w.st));
	/* Chains verify; no chunk of either is left sealed. */
	assert_int_equal(chains_check(w.path, &purged), 0);
	assert_int_equal(purged, sc.nchunks);
	/* Gone, with the tags of both epochs purged; the rest intact. */
	assert_false(has_record(w.st, "case", sc.case_rid));
	assert_false(has_record(w.st, "note", sc.note_rid));
	assert_int_equal(count_rows(w.path, "purged"), 4);
	assert_int_equal(store_record_load(w.st, out.rkeys[0], &r),
	    SAMEN_ENOTFOUND);
	dump(w.st, &after);
	dump_equal(&before, &after);
	dump_free(&before);
	dump_free(&after);
	assert_int_equal(store_stats(w.st, &s1), 0);
	assert_int_equal(s1.records, s0.records - 2);
	assert_int_equal(s1.changesets, s0.changesets);
	digest_is_rebuilds(w.st);

	/* Then the WAL: nothing of it is left in any file. */
	assert_int_equal(store_wal_truncate(w.st), 0);
	assert_false(store_wal_truncate_owed(w.st));
	assert_int_equal(dir_finds(w.dir, &sc.secret), 0);

	/* Again: nothing more to do, nothing changes. */
	store_erased_free(&out);
	erase_scene(w.st, &out);
	assert_int_equal(out.nrkeys, 0);
	assert_int_equal(out.chunks, 0);
	assert_int_equal(count_rows(w.path, "purged"), 4);
	/* A new record of the same collection is no trouble for the filter. */
	mkrid(rid, 1700000009000ull);
	ops[0] = op_exist(1, NULL, 0);
	write1(w.st, &w.a, HLC_MAKE(1700000009000ull, 0), "case", rid, ops, 1,
	    NULL);
	merge(w.st);
	assert_int_equal(store_record_find(w.st, w.circle.id, "case", rid,
	    &rkey), 0);
	store_erased_free(&out);
	scene_free();
}

/*
 * The daemon's side: the records an erase took leave the index, and the
 * merges' reloads waiting for them are dropped (loader_erased).
 */
static void
test_erase_index(void **state)
{
	struct loader_env env;
	struct store_erased out;
	struct index *ix = index_open();
	struct loader *l;
	int64_t rkey[2];
	size_t n;

	(void)state;
	scene(w.st);
	memset(&env, 0, sizeof(env));
	env.store = w.st;
	env.index = ix;
	env.db_path = w.path;
	l = loader_open(&env);
	assert_int_equal(loader_load_now(l), 0);
	n = index_count(ix);
	assert_non_null(index_get(ix, "case", sc.case_rid));
	assert_int_equal(store_record_find(w.st, w.circle.id, "case",
	    sc.case_rid, &rkey[0]), 0);
	assert_int_equal(store_record_find(w.st, w.circle.id, "case",
	    sc.other[0], &rkey[1]), 0);
	loader_touched(l, rkey[0]);
	loader_touched(l, rkey[1]);
	erase_scene(w.st, &out);
	loader_erased(l, out.rkeys, out.nrkeys);
	assert_int_equal(index_count(ix), n - 2);
	assert_null(index_get(ix, "case", sc.case_rid));
	assert_null(index_get(ix, "note", sc.note_rid));
	assert_non_null(index_get(ix, "case", sc.other[0]));
	assert_int_equal(loader_pending(l), 1);
	loader_forget(l);
	store_erased_free(&out);
	loader_close(l);
	index_close(ix);
	scene_free();
}

/* Opens another store in w's directory with the storage key. */
static struct store *
other_store(const char *name, int with_circle)
{
	struct store *st;
	char path[128], *cause = NULL;

	snprintf(path, sizeof(path), "%s/%s", w.dir, name);
	assert_int_equal(store_open(&st, path, &cause), 0);
	store_set_key(st, w.skey);
	if (with_circle) {
		assert_int_equal(store_circle_put(st, &w.circle), 0);
		assert_int_equal(store_circle_put(st, &sc.c2), 0);
	}
	return st;
}

static void
other_unlink(const char *name)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[160];

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s%s", w.dir, name, sfx[i]);
		unlink(p);
	}
}

/* Every change set's payload in st, in (circle, author, seq) order. */
static void
payloads(const char *path, struct dump *d)
{
	sqlite3 *db;
	sqlite3_stmt *s;

	d->lines = NULL;
	d->n = 0;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT id, payload FROM cs"
	    " ORDER BY id", -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		char *line = xstrdup("");

		hexcat(&line, sqlite3_column_blob(s, 0), CS_IDLEN);
		hexcat(&line, sqlite3_column_blob(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1));
		d->lines = xreallocarray(d->lines, d->n + 1,
		    sizeof(*d->lines));
		d->lines[d->n++] = line;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/*
 * Two members that got the change sets in other orders and ways (merged
 * as they came, or later) erase the same bytes and end with the same
 * digests; a relay, without the circle's key, rewrites the chunks the op
 * names; a locked member erases nothing until it is unlocked.
 */
static void
test_erase_everywhere(void **state)
{
	struct store_erased out;
	struct store *m2, *relay;
	struct dump p1, p2;
	uint8_t d1[32], d2[32];
	char path[128];
	size_t purged;

	(void)state;
	scene(w.st);
	/* Locked, with records of the circle: nothing, until unlocked. */
	store_close(w.st);
	open_store(&w.st, 0);
	assert_int_equal(store_erase_tags(w.st, w.circle.id, sc.op,
	    (const uint8_t (*)[CS_RTAGLEN])sc.tags, 2, &out), SAMEN_ELOCKED);
	assert_int_equal(count_rows(w.path, "purged"), 0);
	assert_int_equal(chains_check(w.path, &purged), sc.nchunks);
	store_close(w.st);
	open_store(&w.st, 1);

	m2 = other_store("other.db", 1);
	assert_int_equal(store_begin(m2), 0);
	for (size_t i = sc.nall; i-- > 0; ) {
		/* Newest first: each chain comes in one go, in order. */
		if (sc.all[i].h.seq != 1)
			continue;
		for (size_t j = i; j < sc.nall; j++)
			if (memcmp(sc.all[j].h.author, sc.all[i].h.author,
			    32) == 0)
				assert_int_equal(insert_merged(m2, &sc.all[j]),
				    0);
	}
	assert_int_equal(store_merge_pending(m2, NULL, NULL), 0);
	assert_int_equal(store_commit(m2), 0);

	erase_scene(w.st, &out);
	store_erased_free(&out);
	erase_scene(m2, &out);
	assert_int_equal(out.nrkeys, 2);
	store_erased_free(&out);
	assert_int_equal(store_digest(w.st, d1), 0);
	assert_int_equal(store_digest(m2, d2), 0);
	assert_memory_equal(d1, d2, 32);
	payloads(w.path, &p1);
	snprintf(path, sizeof(path), "%s/other.db", w.dir);
	payloads(path, &p2);
	dump_equal(&p1, &p2);
	dump_free(&p2);
	store_close(m2);
	other_unlink("other.db");

	/* A relay: the op's tags only, the chunks of epoch 1. */
	relay = other_store("relay.db", 0);
	for (size_t i = 0; i < sc.nall; i++)
		assert_int_equal(insert(relay, &sc.all[i]), 0);
	assert_int_equal(store_erase_tags(relay, w.circle.id, sc.op,
	    (const uint8_t (*)[CS_RTAGLEN])sc.tags, 2, &out), 0);
	assert_int_equal(out.nrkeys, 0);
	assert_int_equal(out.chunks, sc.nchunks - 1);
	store_erased_free(&out);
	assert_int_equal(count_rows(w.path, "purged"), 4);
	snprintf(path, sizeof(path), "%s/relay.db", w.dir);
	assert_int_equal(count_rows(path, "purged"), 2);
	assert_int_equal(chains_check(path, &purged), 1);
	assert_int_equal(purged, sc.nchunks - 1);
	store_close(relay);
	other_unlink("relay.db");
	dump_free(&p1);
	scene_free();
}

/* A change set from b that has not heard of the purge: chunks on rids. */
static void
late(struct built *b, const char *coll, const uint8_t rid[RID_LEN],
    const uint8_t *rid2, uint64_t ms)
{
	static struct op ops[2], o2[2];
	struct ops_chunk cc[2];

	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("status", "edited offline", NULL, 0);
	cc[0] = chunk(coll, rid, ops, 2);
	o2[0] = op_exist(1, NULL, 0);
	o2[1] = op_set("name", "new beside it", NULL, 0);
	if (rid2 != NULL)
		cc[1] = chunk("case", rid2, o2, 2);
	build(b, &w.b, &w.circle, w.circle.key, w.b.seq + 1, w.b.head,
	    HLC_MAKE(ms, 0), cc, rid2 != NULL ? 2 : 1);
	capture(b);
	w.b.seq++;
	memcpy(w.b.head, b->id, CS_IDLEN);
}

/* The payload stored for b: its chunk i is purged, the others not. */
static void
stored_purged(const struct built *b, uint32_t i)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	struct cs_payload pl;

	assert_int_equal(sqlite3_open_v2(w.path, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT payload FROM cs"
	    " WHERE id = ?1", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_blob(s, 1, b->id, CS_IDLEN, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(changeset_payload_decode(&pl,
	    sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0)), 0);
	assert_int_equal(changeset_payload_check(&b->h, &pl,
	    (size_t)sqlite3_column_bytes(s, 0)), 0);
	for (uint32_t k = 0; k < pl.nchunks; k++)
		assert_int_equal(pl.chunks[k].purged, k == i);
	changeset_payload_free(&pl);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

static uint64_t
dropped(struct store *st)
{
	struct store_stats s;

	assert_int_equal(store_stats(st, &s), 0);
	return s.purged_dropped;
}

/*
 * After a purge, a change set that carries a chunk of an erased record
 * is stored with that chunk purged, counted, and the record stays away,
 * whichever way it comes in: merged at arrival, read ahead, optimistic
 * (counted only once committed), pending, or written here.
 */
static void
test_erase_arrival(void **state)
{
	struct store_erased out;
	struct cs_payload pl;
	struct cs_opened op;
	struct built b;
	struct wbuf pw[MAXCHUNKS];
	struct cs_plain pls[MAXCHUNKS];
	struct op ops[2];
	struct ops_chunk cc[1];
	uint8_t nrid[4][RID_LEN];
	size_t np;

	(void)state;
	scene(w.st);
	for (int i = 0; i < 4; i++)
		mkrid(nrid[i], 1700000020000ull + (uint64_t)i);
	erase_scene(w.st, &out);
	store_erased_free(&out);
	assert_int_equal(dropped(w.st), 0);

	/* Merged as it arrives, beside a new record. */
	late(&b, "case", sc.case_rid, nrid[0], 1700000010000ull);
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(insert_merged(w.st, &b), 0);
	assert_int_equal(store_merge_pending(w.st, NULL, NULL), 0);
	assert_int_equal(dropped(w.st), 0);	/* not committed yet */
	assert_int_equal(store_commit(w.st), 0);
	assert_int_equal(dropped(w.st), 1);
	stored_purged(&b, 0);
	assert_false(has_record(w.st, "case", sc.case_rid));
	assert_true(has_record(w.st, "case", nrid[0]));
	/* The same again: a replay, not counted. */
	assert_int_equal(insert_merged(w.st, &b), SAMEN_EEXIST);
	assert_int_equal(dropped(w.st), 1);
	built_free(&b);

	/* Read ahead on the pool, then stored. */
	late(&b, "note", sc.note_rid, nrid[1], 1700000011000ull);
	assert_int_equal(changeset_payload_decode(&pl, wire_data(&b.pay),
	    wire_len(&b.pay)), 0);
	assert_int_equal(changeset_open(&op, &b.h, &pl, w.circle.key), 0);
	merge_opened_vids(&op, b.id);
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_cs_insert_opened(w.st, &b.h, b.id,
	    wire_data(&b.hdr), wire_len(&b.hdr), wire_data(&b.pay),
	    wire_len(&b.pay), &op), 0);
	assert_int_equal(store_merge_pending(w.st, NULL, NULL), 0);
	assert_int_equal(store_commit(w.st), 0);
	changeset_opened_free(&op);
	changeset_payload_free(&pl);
	stored_purged(&b, 0);
	assert_int_equal(dropped(w.st), 2);
	assert_false(has_record(w.st, "note", sc.note_rid));
	assert_true(has_record(w.st, "case", nrid[1]));

	/* Optimistic: rolled back, not counted; stored again, counted. */
	built_free(&b);
	late(&b, "case", sc.case_rid, nrid[2], 1700000012000ull);
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_cs_insert_optimistic(w.st, &b.h, b.id,
	    wire_data(&b.hdr), wire_len(&b.hdr), wire_data(&b.pay),
	    wire_len(&b.pay), NULL), 0);
	store_rollback(w.st);
	assert_int_equal(dropped(w.st), 2);
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_cs_insert_optimistic(w.st, &b.h, b.id,
	    wire_data(&b.hdr), wire_len(&b.hdr), wire_data(&b.pay),
	    wire_len(&b.pay), NULL), 0);
	assert_int_equal(store_commit(w.st), 0);
	assert_int_equal(dropped(w.st), 3);
	stored_purged(&b, 0);
	assert_false(has_record(w.st, "case", sc.case_rid));
	assert_true(has_record(w.st, "case", nrid[2]));
	built_free(&b);

	/* Pending (stored alone), merged later. */
	late(&b, "case", sc.case_rid, NULL, 1700000013000ull);
	assert_int_equal(insert(w.st, &b), 0);
	assert_int_equal(dropped(w.st), 4);	/* its own transaction */
	merge(w.st);
	stored_purged(&b, 0);
	assert_false(has_record(w.st, "case", sc.case_rid));
	built_free(&b);

	/* Written here by a device that had not heard of it. */
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("status", "mine", NULL, 0);
	cc[0] = chunk("case", sc.case_rid, ops, 2);
	build(&b, &w.a, &w.circle, w.circle.key, w.a.seq + 1, w.a.head,
	    HLC_MAKE(1700000014000ull, 0), cc, 1);
	capture(&b);
	plains(pw, pls, cc, 1);
	np = 1;
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_cs_insert_own(w.st, &b.h, b.id,
	    wire_data(&b.hdr), wire_len(&b.hdr), wire_data(&b.pay),
	    wire_len(&b.pay), pls, np), 0);
	assert_int_equal(store_commit(w.st), 0);
	wire_free(&pw[0]);
	w.a.seq++;
	memcpy(w.a.head, b.id, CS_IDLEN);
	stored_purged(&b, 0);
	assert_int_equal(dropped(w.st), 5);
	assert_false(has_record(w.st, "case", sc.case_rid));
	built_free(&b);

	digest_is_rebuilds(w.st);
	assert_int_equal(store_wal_truncate(w.st), 0);
	assert_int_equal(dir_finds(w.dir, &sc.secret), 0);
	/* After a reopen the tags still hold (and the count starts over). */
	store_close(w.st);
	open_store(&w.st, 1);
	assert_int_equal(dropped(w.st), 0);
	late(&b, "note", sc.note_rid, NULL, 1700000015000ull);
	assert_int_equal(insert_merged(w.st, &b), 0);
	assert_int_equal(dropped(w.st), 1);
	stored_purged(&b, 0);
	assert_false(has_record(w.st, "note", sc.note_rid));
	built_free(&b);
	scene_free();
}

/* A fork of a's chain at its last seq, with a chunk of the case. */
static void
fork_case(struct store *st)
{
	struct built b;
	struct op ops[1];
	struct ops_chunk cc[1];
	uint8_t prev[CS_IDLEN];

	ops[0] = op_set("status", "forked", NULL, 0);
	cc[0] = chunk("case", sc.case_rid, ops, 1);
	/* The same seq as a's head, another content: a fork. */
	assert_int_equal(store_cs_id_at(st, w.circle.id, w.a.pk, w.a.seq - 1,
	    prev), 0);
	build(&b, &w.a, &w.circle, w.circle.key, w.a.seq, prev,
	    HLC_MAKE(1700000030000ull, 0), cc, 1);
	capture(&b);
	assert_int_equal(insert(st, &b), SAMEN_EFORK);
	built_free(&b);
	assert_int_equal(count_rows(w.path, "forks"), 1);
}

/*
 * A purge reaches the forks kept as evidence too; a circle this device
 * left goes whole (its chains, records, keys, cuts, purged tags) and
 * another stays; then everything goes.
 */
static void
test_erase_circle(void **state)
{
	struct store_circle c3, mc;
	struct store_erased out;
	struct needles keep;
	struct op ops[2];
	struct ops_chunk cc[1];
	struct built b;
	struct dev d3;
	uint8_t rid3[RID_LEN], zero[CS_IDLEN], mrid[RID_LEN];
	struct store_stats s;
	size_t purged;

	(void)state;
	scene(w.st);
	/* A fork with a chunk of the case, then the purge. */
	fork_case(w.st);
	erase_scene(w.st, &out);
	assert_int_equal(out.chunks, sc.nchunks);
	store_erased_free(&out);
	assert_int_equal(chains_check(w.path, &purged), 0);

	/* Another circle, which stays, with a secret of its own. */
	memset(&c3, 0, sizeof(c3));
	randombytes_buf(c3.id, sizeof(c3.id));
	randombytes_buf(c3.key, sizeof(c3.key));
	c3.epoch = 1;
	c3.name = "other";
	assert_int_equal(store_circle_put(w.st, &c3), 0);
	dev_init(&d3);
	memset(zero, 0, sizeof(zero));
	mkrid(rid3, 1700000040000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "stays-in-the-other-circle", NULL, 0);
	cc[0] = chunk("case", rid3, ops, 2);
	build(&b, &d3, &c3, c3.key, 1, zero, HLC_MAKE(1700000040000ull, 0),
	    cc, 1);
	assert_int_equal(insert(w.st, &b), 0);
	memset(&keep, 0, sizeof(keep));
	{
		struct cs_payload pl;

		assert_int_equal(changeset_payload_decode(&pl,
		    wire_data(&b.pay), wire_len(&b.pay)), 0);
		needle_add(&keep, pl.chunks[0].ct, pl.chunks[0].ct_len);
		changeset_payload_free(&pl);
	}
	built_free(&b);
	/* The scene's circle's members chain, with a member record. */
	memset(&mc, 0, sizeof(mc));
	sync_members_circle(mc.id, w.circle.id);
	sync_members_key(mc.key, w.circle.id);
	mc.epoch = 1;
	mc.name = "";
	mc.kind = STORE_CIRCLE_MEMBERS;
	memcpy(mc.base, w.circle.id, CS_CIRCLELEN);
	assert_int_equal(store_circle_put(w.st, &mc), 0);
	mkrid(mrid, 1700000041000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("role", "admin", NULL, 0);
	cc[0] = chunk("mop", mrid, ops, 2);
	build(&b, &d3, &mc, mc.key, 1, zero, HLC_MAKE(1700000041000ull, 0),
	    cc, 1);
	capture(&b);
	assert_int_equal(insert(w.st, &b), 0);
	built_free(&b);
	merge(w.st);
	/* The unrelated cases' chunks are the circle's secret now too. */
	for (size_t i = 0; i < sc.nall; i++) {
		struct cs_payload pl;

		assert_int_equal(changeset_payload_decode(&pl,
		    wire_data(&sc.all[i].pay), wire_len(&sc.all[i].pay)), 0);
		for (uint32_t k = 0; k < pl.nchunks; k++)
			needle_add(&sc.secret, pl.chunks[k].ct,
			    pl.chunks[k].ct_len);
		changeset_payload_free(&pl);
	}
	assert_true(dir_finds(w.dir, &sc.secret) > 0);

	assert_int_equal(store_erase_circle(w.st, w.circle.id,
	    1700000050000ull, 0, &out), 0);
	assert_int_equal(out.nrkeys, NOTHER + 1);	/* + the member */
	/* And the fork, and the member's. */
	assert_int_equal(out.changesets, sc.nall + 2);
	store_erased_free(&out);
	assert_true(store_wal_truncate_owed(w.st));
	assert_int_equal(count_rows(w.path, "cs"), 1);
	assert_int_equal(count_rows(w.path, "forks"), 0);
	assert_int_equal(count_rows(w.path, "purged"), 0);
	assert_int_equal(count_rows(w.path, "records"), 1);
	assert_int_equal(count_rows(w.path, "circles"), 1);
	assert_int_equal(count_rows(w.path, "departed WHERE revoked = 0"),
	    1);
	assert_false(has_record(w.st, "case", sc.other[0]));
	{
		int64_t rkey;

		assert_int_equal(store_record_find(w.st, c3.id, "case", rid3,
		    &rkey), 0);
	}
	digest_is_rebuilds(w.st);
	assert_int_equal(store_wal_truncate(w.st), 0);
	assert_int_equal(dir_finds(w.dir, &sc.secret), 0);
	assert_int_equal(dir_finds(w.dir, &keep), 1);

	/* Everything. */
	assert_int_equal(store_erase_all(w.st, 1700000060000ull, &out), 0);
	assert_null(out.rkeys);
	assert_int_equal(out.changesets, 1);
	assert_int_equal(store_wal_truncate(w.st), 0);
	for (const char *const *t = (const char *const[]){ "cs", "forks",
	    "records", "vals", "kills", "colls", "circles", "cuts", "purged",
	    "peers", "flagged", "authors", NULL }; *t != NULL; t++)
		assert_int_equal(count_rows(w.path, *t), 0);
	assert_int_equal(count_rows(w.path, "departed WHERE revoked = 1"), 1);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(s.records, 0);
	digest_is_rebuilds(w.st);
	{
		uint8_t d[32], empty[32];
		struct merge_digest md;

		merge_digest_init(&md);
		merge_digest_final(empty, &md);
		assert_int_equal(store_digest(w.st, d), 0);
		assert_memory_equal(d, empty, 32);
	}
	assert_int_equal(dir_finds(w.dir, &keep), 0);
	needles_free(&keep);
	scene_free();
}

/* Samend's start. */

/*
 * samend's start on st: ckpt_open, which truncates the WAL and writes it
 * ahead, then closed again with the store left open (its close would
 * delete the WAL, and the search must see it).
 */
static void
startup(struct store *st, const char *path)
{
	struct durable *d;
	struct ckpt *c;
	uv_loop_t loop;
	char wal[160], *cause = NULL;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(durable_open(&d, &loop, wal, NULL, NULL, &cause), 0);
	c = ckpt_open(&loop, st, d, path, 100);
	assert_false(ckpt_truncate_pending(c));
	ckpt_close(c);
	durable_close(d);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static void
tick_cb(uv_timer_t *h)
{
	(void)h;
}

/*
 * An erase committed, then samend stopped before the truncate: its next
 * start truncates the WAL before writing it ahead.  Then a truncate owed
 * while a reader's snapshot holds the WAL waits for the reader, on the
 * loop, without blocking it, and happens once it is gone.
 */
static void
test_erase_startup_truncate(void **state)
{
	uint8_t rid[RID_LEN], tag[1][CS_RTAGLEN];
	struct store_erased out;
	struct ops_chunk cc[1];
	struct op ops[2];
	struct durable *d;
	struct ckpt *c;
	uv_loop_t loop;
	uv_timer_t tick;
	sqlite3 *rd;
	char wal[160], *cause = NULL;
	uint64_t until;

	(void)state;
	/* The scene's change sets are in the WAL when the erase commits. */
	scene(w.st);
	erase_scene(w.st, &out);
	store_erased_free(&out);
	snprintf(wal, sizeof(wal), "%s-wal", w.path);
	assert_true(dir_finds(w.dir, &sc.secret) > 0);
	startup(w.st, w.path);
	assert_int_equal(dir_finds(w.dir, &sc.secret), 0);
	/* Written ahead again: 200 frames of zeros. */
	assert_true(file_size(wal) >= 200 * 4096);
	assert_false(store_wal_truncate_owed(w.st));

	/* Another record, its chunk the only secret now. */
	needles_free(&sc.secret);
	mkrid(rid, 1700000070000ull);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "second canary, in the WAL", NULL, 0);
	cc[0] = chunk("case", rid, ops, 2);
	changeset_rtag(tag[0], w.circle.key, "case", 4, rid);
	memcpy(sc.tags[0], tag[0], CS_RTAGLEN);
	write_cs_by(w.st, keep_insert, &w.a, HLC_MAKE(1700000070000ull, 0),
	    cc, 1, NULL);
	merge(w.st);
	/* A reader's snapshot in the WAL; the erase commits beside it. */
	assert_int_equal(sqlite3_open(w.path, &rd), SQLITE_OK);
	assert_int_equal(sqlite3_exec(rd, "BEGIN; SELECT count(*) FROM cs",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_erase_tags(w.st, w.circle.id, sc.op,
	    (const uint8_t (*)[CS_RTAGLEN])tag, 1, &out), 0);
	assert_int_equal(out.nrkeys, 1);
	store_erased_free(&out);
	assert_int_equal(store_wal_truncate(w.st), -EBUSY);
	assert_true(dir_finds(w.dir, &sc.secret) > 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(durable_open(&d, &loop, wal, NULL, NULL, &cause), 0);
	/* At start too: it cannot, and tries again. */
	c = ckpt_open(&loop, w.st, d, w.path, 100);
	assert_true(ckpt_truncate_pending(c));
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, tick_cb, 10, 10);
	until = uv_now(&loop) + 350;
	while (uv_now(&loop) < until)
		uv_run(&loop, UV_RUN_ONCE);
	assert_true(ckpt_truncate_pending(c));
	assert_true(dir_finds(w.dir, &sc.secret) > 0);
	/* The reader goes: the next try truncates, and writes it ahead. */
	assert_int_equal(sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(rd);
	until = uv_now(&loop) + 5000;
	while (ckpt_truncate_pending(c) && uv_now(&loop) < until)
		uv_run(&loop, UV_RUN_ONCE);
	assert_false(ckpt_truncate_pending(c));
	assert_false(store_wal_truncate_owed(w.st));
	assert_int_equal(dir_finds(w.dir, &sc.secret), 0);
	/* A second erase's notice while none is owed: harmless. */
	ckpt_erased(c);
	until = uv_now(&loop) + 5000;
	while (ckpt_truncate_pending(c) && uv_now(&loop) < until)
		uv_run(&loop, UV_RUN_ONCE);
	assert_false(ckpt_truncate_pending(c));
	uv_close((uv_handle_t *)&tick, NULL);
	ckpt_close(c);
	durable_close(d);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_true(file_size(wal) >= 200 * 4096);
	assert_int_equal(dir_finds(w.dir, &sc.secret), 0);
	scene_free();
}

/* Crashes. */

/*
 * The crash tests: a template database holds the scene but for the two
 * records' change sets; each round a child process opens a copy, stores
 * those (so their chunks are in the WAL, as in a daemon that got them
 * lately), commits, and erases, and is killed (SIGKILL) at a named step
 * or at a random moment.  Then the copy is opened as samend opens it
 * (ckpt_open: the WAL truncated at start) and must hold the erase whole
 * or not at all; whole, no file holds a byte of what it erased.
 */
#define ROUNDS_DEFAULT 4

struct crash {
	char tmpl[128];
	size_t first;		/* the child stores sc.all[first..) */
};

static void
unlink_world(void)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[160];

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", w.path, sfx[i]);
		unlink(p);
	}
}

/*
 * The template: the scene written, then the change sets that carry the
 * two records' chunks (and everything after the first) taken out of it
 * again into sc.all[first..), for the child to store.
 */
static void
crash_template(struct crash *cr)
{
	struct store *st;
	char *cause = NULL;

	scene(w.st);
	store_close(w.st);
	w.st = NULL;
	/* Built again into an empty store up to the case's first change set. */
	unlink_world();
	assert_int_equal(store_open(&st, w.path, &cause), 0);
	store_set_key(st, w.skey);
	assert_int_equal(store_circle_put(st, &w.circle), 0);
	assert_int_equal(store_circle_put(st, &sc.c2), 0);
	for (cr->first = 0; cr->first < sc.nall; cr->first++) {
		struct cs_payload pl;
		int has = 0;

		assert_int_equal(changeset_payload_decode(&pl,
		    wire_data(&sc.all[cr->first].pay),
		    wire_len(&sc.all[cr->first].pay)), 0);
		for (uint32_t i = 0; i < pl.nchunks; i++)
			has |= is_erased_tag(pl.chunks[i].rtag);
		changeset_payload_free(&pl);
		if (has)
			break;
		assert_int_equal(insert(st, &sc.all[cr->first]), 0);
	}
	merge(st);
	store_close(st);	/* clean: no WAL */
	snprintf(cr->tmpl, sizeof(cr->tmpl), "%s/template.db", w.dir);
	assert_int_equal(rename(w.path, cr->tmpl), 0);
}

struct killer {
	const char *where;	/* NULL: tell the parent of the commit */
	int nth;
	int seen;
	int fd;
	struct timespec go;	/* when it told the parent it erases */
};

static void
kill_at(void *arg, const char *where)
{
	struct killer *k = arg;
	struct timespec t;
	long us;

	if (k->where == NULL) {
		if (strcmp(where, "commit") != 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		us = (t.tv_sec - k->go.tv_sec) * 1000000L +
		    (t.tv_nsec - k->go.tv_nsec) / 1000;
		if (write(k->fd, &us, sizeof(us)) != sizeof(us))
			_exit(4);
		return;
	}
	if (strcmp(where, k->where) == 0 && ++k->seen == k->nth)
		raise(SIGKILL);
}

/*
 * The child: stores the rest, commits, tells the parent (a byte on fd),
 * erases.  where "after": killed once the erase committed, before any
 * truncate; "none": it tells the parent when it commits (another byte).
 * Exits 0 if nothing killed it; never returns.
 */
static void
alarm_kill(int sig)
{
	(void)sig;
	raise(SIGKILL);
}

static void
crash_child(const struct crash *cr, int fd, const char *where, int nth,
    long kill_us)
{
	struct killer k = { where, nth, 0, fd, { 0, 0 } };
	struct store_erased out;
	struct store *st;
	char *cause = NULL;
	int ok = 1;

	if (store_open(&st, w.path, &cause) != 0)
		_exit(2);
	store_set_key(st, w.skey);
	if (store_begin(st) != 0)
		_exit(2);
	for (size_t i = cr->first; i < sc.nall && ok; i++)
		ok = insert_merged(st, &sc.all[i]) == 0;
	if (!ok || store_merge_pending(st, NULL, NULL) != 0 ||
	    store_commit(st) != 0)
		_exit(3);
	if (where != NULL && strcmp(where, "none") == 0)
		k.where = NULL;
	if (where != NULL)
		store_set_erase_hook(st, kill_at, &k);
	clock_gettime(CLOCK_MONOTONIC, &k.go);
	if (write(fd, "g", 1) != 1)
		_exit(4);
	/* Its own timer: the parent's wake-up would be later, and vary. */
	if (kill_us > 0) {
		struct itimerval it = { { 0, 0 }, { kill_us / 1000000,
		    kill_us % 1000000 } };

		signal(SIGALRM, alarm_kill);
		setitimer(ITIMER_REAL, &it, NULL);
	}
	if (store_erase_tags(st, w.circle.id, sc.op,
	    (const uint8_t (*)[CS_RTAGLEN])sc.tags, 2, &out) != 0)
		_exit(5);
	if (where != NULL && strcmp(where, "after") == 0)
		raise(SIGKILL);
	_exit(0);
}

/* Sealed chunks with the scene's tags, and the purged rows, in path. */
static void
erase_state(size_t *sealed, int *purged)
{
	size_t p;

	*sealed = chains_check(w.path, &p);
	*purged = count_rows(w.path, "purged");
}

/*
 * One round: a copy of the template, a child killed at where/nth (NULL:
 * delay_us after its signal, by its own timer; "none": not at all), then
 * samend's
 * start on it and the checks.  Returns 1 if the erase was whole, 0 if it
 * had not started; *us ("none" only): how long after its signal the
 * erase began to commit.
 */
static int
crash_round(const struct crash *cr, const char *where, int nth,
    long delay_us, long *us)
{
	size_t sealed;
	pid_t pid;
	char b;
	int fds[2], status, purged, whole;

	file_copy(cr->tmpl, w.path);
	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		crash_child(cr, fds[1], where, nth,
		    where == NULL ? delay_us + 1 : 0);
	}
	assert_true(pid > 0);
	close(fds[1]);
	assert_int_equal(read(fds[0], &b, 1), 1);
	if (where != NULL && strcmp(where, "none") == 0) {
		long t;

		assert_int_equal(read(fds[0], &t, sizeof(t)), sizeof(t));
		if (us != NULL)
			*us = t;
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fds[0]);
	if (where != NULL && strcmp(where, "none") == 0)
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	else if (where != NULL)
		assert_true(WIFSIGNALED(status) &&
		    WTERMSIG(status) == SIGKILL);
	else
		assert_true((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
		    (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));

	/* As samend starts: the store, then its checkpoints. */
	open_store(&w.st, 1);
	startup(w.st, w.path);
	erase_state(&sealed, &purged);
	whole = sealed == 0;
	if (whole) {
		assert_int_equal(purged, 4);
		assert_false(has_record(w.st, "case", sc.case_rid));
		assert_false(has_record(w.st, "note", sc.note_rid));
		assert_int_equal(dir_finds(w.dir, &sc.secret), 0);
	} else {
		assert_int_equal(sealed, sc.nchunks);
		assert_int_equal(purged, 0);
		assert_true(has_record(w.st, "case", sc.case_rid));
		assert_true(has_record(w.st, "note", sc.note_rid));
	}
	digest_is_rebuilds(w.st);
	store_close(w.st);
	w.st = NULL;
	unlink_world();
	return whole;
}

static void
crash_end(struct crash *cr)
{
	unlink(cr->tmpl);
	open_store(&w.st, 1);
	scene_free();
}

/* Killed at each named step of an erase: before its commit, never half. */
static void
test_erase_crash_points(void **state)
{
	struct crash cr;
	int n = NEDITS + 4;	/* change sets to rewrite */

	(void)state;
	crash_template(&cr);
	assert_int_equal(crash_round(&cr, "rewrite", 1, 0, NULL), 0);
	assert_int_equal(crash_round(&cr, "rewrite", n / 2, 0, NULL), 0);
	assert_int_equal(crash_round(&cr, "rewrite", n, 0, NULL), 0);
	assert_int_equal(crash_round(&cr, "commit", 1, 0, NULL), 0);
	/* After its commit, before the truncate: whole, and nothing left. */
	assert_int_equal(crash_round(&cr, "after", 1, 0, NULL), 1);
	assert_int_equal(crash_round(&cr, "none", 0, 0, NULL), 1);
	crash_end(&cr);
}

/*
 * Killed at a random moment of the erase, ROUNDS times ($ROUNDS, for
 * make torture; a few in make test).
 */
static void
test_erase_crash_random(void **state)
{
	const char *e = getenv("ROUNDS");
	long rounds = e != NULL ? strtol(e, NULL, 10) : ROUNDS_DEFAULT;
	long us, span;
	int whole = 0;
	struct crash cr;

	(void)state;
	if (rounds < 1)
		rounds = ROUNDS_DEFAULT;
	crash_template(&cr);
	/*
	 * How long an erase takes here to reach its commit: the kills fall
	 * in twice that, half before it and half in or after it (once its
	 * frames are written, a kill cannot take it back: only a power cut
	 * could, which the commit's sync is for).
	 */
	assert_int_equal(crash_round(&cr, "none", 0, 0, &us), 1);
	span = 2 * us + 1;
	for (long i = 0; i < rounds; i++)
		whole += crash_round(&cr, NULL, 0,
		    (long)randombytes_uniform((uint32_t)span), NULL);
	print_message("erase killed at random: %ld rounds, %d whole, %ld not "
	    "started (its commit began after %ld us)\n", rounds, whole,
	    rounds - whole, us);
	crash_end(&cr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_erase_tags, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_erase_index, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_erase_everywhere, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_erase_arrival, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_erase_circle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_erase_startup_truncate,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_crash_points, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_erase_crash_random, setup,
		    teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
