/* test_store_vp: value packs and colls: what a pack takes, and what it leaves to vals. */
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
		cmocka_unit_test_setup_teardown(test_pack_bound, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pack_overflow, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_colls_bound, setup,
		    teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
