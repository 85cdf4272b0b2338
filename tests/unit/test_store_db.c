/* test_store_db: the store's handle: opening and reopening, transactions and rollback, the WAL and its checkpoints, memory. */
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
#include "metrics.h"
#include "ops.h"
#include "store.h"
#include "sync.h"
#include "util.h"
#include "wire.h"

#include "store_fixture.h"

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

/* The _count of the histogram in m's text (its only histogram). */
static unsigned long
commits_counted(const struct metrics *m)
{
	char *text, *at;
	unsigned long n;
	size_t len;

	text = metrics_render(m, &len);
	assert_non_null(at = strstr(text, "\nc_seconds_count "));
	n = strtoul(at + strlen("\nc_seconds_count "), NULL, 10);
	free(text);
	return n;
}

/*
 * Every COMMIT of a write is timed, synced or lazy; reads, rollbacks and
 * a commit without a transaction are not, nor anything once unset.
 */
static void
test_commits_timed(void **state)
{
	static const double bounds[] = { 0.001, 1 };
	struct metrics *m = metrics_open();
	struct metric *h = metrics_histogram(m, "c_seconds", "commits", NULL,
	    bounds, 2);
	uint8_t rid[RID_LEN];
	struct op ops[2];
	struct store_stats s;
	uint64_t ticket;

	(void)state;
	store_time_commits(w.st, h);
	ops[0] = op_exist(1, NULL, 0);
	ops[1] = op_set("name", "timed", NULL, 0);
	mkrid(rid, 1700000004000ull);
	assert_int_equal(store_begin(w.st), 0);
	write1(w.st, &w.a, HLC_MAKE(1, 0), "case", rid, ops, 2, NULL);
	assert_int_equal(store_commit(w.st), 0);
	assert_int_equal(commits_counted(m), 1);
	mkrid(rid, 1700000004001ull);
	assert_int_equal(store_begin_lazy(w.st), 0);
	write1(w.st, &w.a, HLC_MAKE(2, 0), "case", rid, ops, 2, NULL);
	assert_int_equal(store_commit_lazy(w.st, &ticket), 0);
	assert_int_equal(commits_counted(m), 2);
	assert_int_equal(store_stats(w.st, &s), 0);
	assert_int_equal(store_begin(w.st), 0);
	store_rollback(w.st);
	assert_int_equal(store_commit(w.st), SAMEN_EINVAL);
	assert_int_equal(commits_counted(m), 2);
	store_time_commits(w.st, NULL);
	assert_int_equal(store_begin(w.st), 0);
	assert_int_equal(store_commit(w.st), 0);
	assert_int_equal(commits_counted(m), 2);
	metrics_close(m);
}

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_release_memory, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_memory_statistics_off,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_checkpoints, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_sync_fails,
		    setup, teardown_vfs),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commits_timed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wal_written_ahead, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rollback_digest_unreadable,
		    setup, teardown),
	};

	if (store_global_init() != 0 || sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
