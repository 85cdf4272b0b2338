/* test_store_replica: the merge rules over SQLite: records, conflicts, deletes against edits, sets, the shown existence value. */
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_load, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_vs_edit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exist_storm, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_shown_killed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete_edit_orders, setup,
		    teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
