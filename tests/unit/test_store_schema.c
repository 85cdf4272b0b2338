/* test_store_schema: databases of older schemas brought up to date, and records packed or not read the same. */
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
#include "version.h"
#include "wire.h"

#include "store_fixture.h"

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

/* Schema 7's addition dropped again, for a database of schema 6 or older. */
#define DROP_JOURNAL "DROP TABLE audit_journal;"

/*
 * Schema 6's additions dropped again, for a database of schema 5 or older:
 * the lifecycle's tables, cs.quarantined and the merge queue's index
 * without it.
 */
#define DROP_LIFECYCLE DROP_JOURNAL \
	"DROP TABLE cuts; DROP INDEX cs_quarantine;" \
	"DROP TABLE purged; DROP TABLE departed; DROP INDEX cs_todo;" \
	"ALTER TABLE cs DROP COLUMN quarantined;" \
	"CREATE INDEX cs_todo ON cs(aid, circle, seq, merged, bad, readable)" \
	"  WHERE merged = 0 AND bad = 0 AND readable = 1;"

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
	close_and_exec(DROP_LIFECYCLE
	    "ALTER TABLE records DROP COLUMN shown;" DROP_PACKS
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
	assert_int_equal(version, SAMEN_SCHEMA_VERSION);

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
	close_and_exec(DROP_LIFECYCLE "DROP INDEX records_key;"
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
	    " WHERE user_version = 7"), 1);
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
 * the current schema with nothing rewritten, reads as it did, and takes new records
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
	close_and_exec(DROP_LIFECYCLE "DROP TABLE colls;"
	    "PRAGMA user_version = 4;");

	open_store(&w.st, 1);
	assert_int_equal(count_rows(w.path, "pragma_user_version"
	    " WHERE user_version = 7"), 1);
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
 * A database of schema 5 (no quarantine, cuts, purged tags or departed
 * circles) opens at schema 6 with the tables added, cs.quarantined 0 for
 * every change set, and the merge queue's index on it; it reads as it
 * did, and a rebuild gives the same.
 */
static void
test_migrate_5(void **state)
{
	struct seen x1, x2;

	(void)state;
	scenario(w.st);
	seen_take(w.st, &x1);
	close_and_exec(DROP_LIFECYCLE "PRAGMA user_version = 5;");
	assert_int_equal(count_rows(w.path, "sqlite_master"
	    " WHERE name IN ('cuts', 'purged', 'departed')"), 0);

	open_store(&w.st, 1);
	assert_int_equal(count_rows(w.path, "pragma_user_version"
	    " WHERE user_version = 7"), 1);
	assert_int_equal(count_rows(w.path, "sqlite_master"
	    " WHERE name IN ('cuts', 'purged', 'departed', 'cs_quarantine',"
	    " 'audit_journal')"), 5);
	assert_int_equal(count_rows(w.path, "pragma_index_info('cs_todo')"
	    " WHERE name = 'quarantined'"), 1);
	assert_true(count_rows(w.path, "cs") > 0);
	assert_int_equal(count_rows(w.path, "cs WHERE quarantined <> 0"), 0);
	seen_take(w.st, &x2);
	seen_same(&x1, &x2);
	assert_int_equal(store_rebuild(w.st), 0);
	seen_take(w.st, &x2);
	seen_same(&x1, &x2);
	dump_free(&x1.d);
	dump_free(&x1.h.d);
}

/*
 * A database of schema 6 (no audit journal) opens at schema 7 with an
 * empty one, and reads as it did.
 */
static void
test_migrate_6(void **state)
{
	struct seen x1, x2;

	(void)state;
	scenario(w.st);
	seen_take(w.st, &x1);
	close_and_exec(DROP_JOURNAL "PRAGMA user_version = 6;");
	assert_int_equal(count_rows(w.path, "sqlite_master"
	    " WHERE name = 'audit_journal'"), 0);

	open_store(&w.st, 1);
	assert_int_equal(count_rows(w.path, "pragma_user_version"
	    " WHERE user_version = 7"), 1);
	assert_int_equal(count_rows(w.path, "audit_journal"), 0);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_6,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_5, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_4, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_2, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_migrate_1, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_packs_like_vals, setup,
		    teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
