/* store: the store's handle: opening and closing the database, transactions, and the WAL's checkpoints. */
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "clock.h"
#include "metrics.h"
#include "store_int.h"
#include "util.h"

#define STORE_BUSY_MS 5000

/* Caches and the digest. */

void
store_drop_caches(struct store *st)
{
	st->rec.valid = 0;
	st->rkey.valid = 0;
	store_fresh_clear(st, 1);
	st->author.valid = 0;
	st->ckey.valid = 0;
	st->head.valid = 0;
	st->cuts_any = -1;
	st->colls.n = st->colls.next = 0;
	st->purged.valid = 0;
	st->audit.valid = 0;
	if (st->keys != NULL)
		sodium_memzero(st->keys->circle, sizeof(st->keys->circle));
}

void
store_digests_init(struct digests *d)
{
	merge_digest_init(&d->all);
	merge_digest_init(&d->shared);
}

static int
digest_load_one(struct store *st, const char *k, struct merge_digest *d)
{
	sqlite3_stmt *s = sql_q(st, Q_META_GET);
	int rc;

	merge_digest_init(d);
	if (s == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	if ((rc = sql_row(s)) <= 0)
		return rc;
	rc = sql_col_fixed(s, 0, d->sum, sizeof(d->sum));
	sqlite3_reset(s);
	return rc ? 0 : SAMEN_ESTORE;
}

int
store_digest_load(struct store *st)
{
	int rc;

	if ((rc = digest_load_one(st, "digest", &st->digest.all)) != 0)
		return rc;
	return digest_load_one(st, "digest_shared", &st->digest.shared);
}

static int
digest_save_one(struct store *st, const char *k, const struct merge_digest *d)
{
	sqlite3_stmt *s = sql_q(st, Q_META_PUT);

	if (s == NULL)
		return SAMEN_ESTORE;
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	sql_bind_blob(s, 2, d->sum, sizeof(d->sum));
	return sql_run(s);
}

int
store_digest_save(struct store *st)
{
	int rc;

	if ((rc = digest_save_one(st, "digest", &st->digest.all)) != 0)
		return rc;
	return digest_save_one(st, "digest_shared", &st->digest.shared);
}

/* Savepoint "st": makes a multi-statement write atomic, in or out of a txn. */
int
store_sp_begin(struct store *st)
{
	return sql_run_q(st, Q_SP_ST);
}

int
store_sp_end(struct store *st, int keep)
{
	int rc = 0;

	if (!keep) {
		rc = sql_run_q(st, Q_SP_ST_ROLLBACK);
		store_drop_caches(st);
	}
	if (sql_run_q(st, Q_SP_ST_RELEASE) != 0)
		rc = SAMEN_ESTORE;
	return rc;
}

/* Open and close. */

int
store_global_init(void)
{
	return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK ? 0 :
	    SAMEN_ESTORE;
}

/*
 * Opens path's database as samend needs it (durable, WAL, purges
 * overwritten), brings its schema up to date, and reads what the handle
 * keeps of it.
 */
static int
setup(struct store *st, const char *path, char **cause)
{
	sqlite3_stmt *s;
	const char *mode;
	int ok, rc;

	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*cause = xasprintf("cannot open %s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : "out of memory");
		return SAMEN_ESTORE;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	/*
	 * Only synchronous=FULL survives power loss in WAL mode; secure_delete
	 * overwrites what a purge removes instead of leaving it in free pages;
	 * temp_store keeps sorts off the disk.  The schema's REFERENCES say
	 * what must hold, and the tests check it (PRAGMA foreign_key_check
	 * after every unit test of the store and on every system test's
	 * databases), but SQLite does not enforce them row by row: that was
	 * two parent lookups per value written, 8-10 % of a merge, for what
	 * only the store writes, always parent first in one transaction.
	 */
	if (store_sql_exec(st->db, "PRAGMA synchronous = FULL;"
	    "PRAGMA secure_delete = ON;"
	    "PRAGMA foreign_keys = OFF;"
	    "PRAGMA temp_store = MEMORY;"
	    "PRAGMA cache_size = -16384;", cause) != 0)
		return SAMEN_ESTORE;
	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s,
	    NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: %s", path, sqlite3_errmsg(st->db));
		return SAMEN_ESTORE;
	}
	ok = sqlite3_step(s) == SQLITE_ROW &&
	    (mode = (const char *)sqlite3_column_text(s, 0)) != NULL &&
	    strcmp(mode, "wal") == 0;
	sqlite3_finalize(s);
	if (!ok) {
		*cause = xasprintf("%s: cannot switch to WAL mode", path);
		return SAMEN_ESTORE;
	}
	if ((rc = store_schema_ensure(st, path, cause)) != 0)
		return rc;
	if (store_digest_load(st) != 0 ||
	    store_circle_private_load(st) != 0) {
		*cause = xasprintf("%s: cannot read the replica digest", path);
		return SAMEN_ESTORE;
	}
	return 0;
}

int
store_open(struct store **stp, const char *path, char **cause)
{
	struct store *st;
	int rc;

	*stp = NULL;
	*cause = NULL;
	st = xcalloc(1, sizeof(*st));
	st->rec.fr = NO_FRESH;
	st->cuts_any = -1;
	if ((st->keys = sodium_malloc(sizeof(*st->keys))) == NULL)
		die_oom(sizeof(*st->keys));
	sodium_memzero(st->keys, sizeof(*st->keys));
	if ((rc = setup(st, path, cause)) != 0) {
		store_close(st);
		return rc;
	}
	*stp = st;
	return 0;
}

void
store_close(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	if (st->db != NULL && !sqlite3_get_autocommit(st->db))
		store_sql_exec(st->db, "ROLLBACK", NULL);
	sqlite3_close(st->db);
	sodium_free(st->keys);	/* wipes */
	if (st->buf != NULL)
		sodium_memzero(st->buf, st->bufcap);
	store_vp_free(&st->rec.vp);
	store_vp_free(&st->rdvp);
	free(st->buf);
	free(st->touched);
	free(st->held);
	store_fresh_free(st);
	store_rk_free(st);
	store_erase_free(st);
	store_circle_audit_free(st);
	free(st);
}

void
store_set_packing(struct store *st, int on)
{
	st->no_packs = !on;
}

void
store_set_naming(struct store *st, int on)
{
	st->no_colls = !on;
}

void
store_time_commits(struct store *st, struct metric *hist)
{
	st->commit_seconds = hist;
}

int
store_has_key(const struct store *st)
{
	return st->has_key;
}

/* The WAL and checkpoints. */

/* After every commit: how many frames the WAL holds now. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *st = arg;

	(void)db;
	(void)name;
	st->wal_frames = frames > 0 ? (uint64_t)frames : 0;
	st->wal_commits++;
	return SQLITE_OK;
}

uint64_t
store_wal_bytes(struct store *st, uint64_t frames)
{
	int page = 0;

	/* The WAL's header is 32 bytes; each frame's, 24 (SQLite's wal.c). */
	if (store_sql_pragma_int(st->db, "PRAGMA page_size", &page) != 0 ||
	    page <= 0)
		page = 4096;
	return 32 + frames * (24 + (uint64_t)page);
}

void
store_checkpoint_elsewhere(struct store *st)
{
	/* Replaces SQLite's own hook, which checkpointed in the commit. */
	sqlite3_wal_hook(st->db, wal_hook, st);
}

uint64_t
store_wal_frames(const struct store *st)
{
	return st->wal_frames;
}

uint64_t
store_wal_commits(const struct store *st)
{
	return st->wal_commits;
}

/* SQLite's page cache of st's connection now, in bytes. */
static size_t
cache_bytes(struct store *st)
{
	int cur = 0, hi = 0;

	sqlite3_db_status(st->db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0);
	return cur > 0 ? (size_t)cur : 0;
}

size_t
store_release_memory(struct store *st)
{
	size_t before = cache_bytes(st), after;

	sqlite3_db_release_memory(st->db);
	after = cache_bytes(st);
	return after < before ? before - after : 0;
}

/*
 * A checkpoint's failure: -EIO if a sync failed (what it was to write may
 * be lost, and a later sync of the same file may succeed all the same: a
 * writeback error is reported once per open file), else SAMEN_ESTORE.
 */
static int
ckpt_error(sqlite3 *db)
{
	return sqlite3_extended_errcode(db) == SQLITE_IOERR_FSYNC ? -EIO :
	    SAMEN_ESTORE;
}

int
store_checkpoint_here(struct store *st, uint64_t *copied)
{
	int log = 0, ckpt = 0;

	*copied = 0;
	/* The store's connection has read the database: it knows its WAL. */
	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &log, &ckpt) != SQLITE_OK)
		return ckpt_error(st->db);
	*copied = ckpt > 0 ? (uint64_t)ckpt : 0;
	return 0;
}

int
store_wal_truncate(struct store *st)
{
	int log = 0, ckpt = 0, rc;

	if (st->in_txn)
		return -EBUSY;
	/*
	 * TRUNCATE waits for every reader to leave the WAL: with the busy
	 * timeout, that would be seconds on the loop behind an index load.
	 * The caller tries again instead.
	 */
	sqlite3_busy_timeout(st->db, 0);
	rc = sqlite3_wal_checkpoint_v2(st->db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, &log, &ckpt);
	sqlite3_busy_timeout(st->db, STORE_BUSY_MS);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return -EBUSY;
	if (rc != SQLITE_OK)
		return ckpt_error(st->db);
	st->wal_frames = 0;
	st->purged.owed = 0;
	return 0;
}

/*
 * A connection of its own, opened at its first run (on the thread that
 * runs it, not the caller's) and kept: opening reads the whole schema,
 * which cost more than a small checkpoint.  Idle between runs it holds no
 * lock and no snapshot, so it never keeps the WAL from starting over.
 */
struct store_ckpt {
	char *path;
	sqlite3 *db;
	sqlite3_stmt *s;
};

struct store_ckpt *
store_ckpt_new(const char *path)
{
	struct store_ckpt *c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(path);
	return c;
}

static int
ckpt_open(struct store_ckpt *c)
{
	if (sqlite3_open_v2(c->path, &c->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(c->db, STORE_BUSY_MS);
	/*
	 * A checkpoint copies pages and deletes nothing; but whatever a
	 * connection to samen.db ever deletes must be overwritten (an
	 * erase, docs/design.md "Erasure"), this one's too.
	 */
	if (store_sql_exec(c->db, "PRAGMA secure_delete = ON", NULL) != 0)
		goto fail;
	/*
	 * PASSIVE: copies what it can, never waits for the writer or a
	 * reader; the database file is synced (synchronous is FULL).  As a
	 * statement: sqlite3_wal_checkpoint_v2 on a connection that has not
	 * read the database yet does not know it is in WAL mode, and does
	 * nothing.  Its row: (busy, frames in the WAL, frames copied).
	 */
	if (sqlite3_prepare_v2(c->db, "PRAGMA wal_checkpoint(PASSIVE)", -1,
	    &c->s, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	sqlite3_finalize(c->s);
	sqlite3_close(c->db);
	c->s = NULL;
	c->db = NULL;
	return SAMEN_ESTORE;
}

int
store_ckpt_run(struct store_ckpt *c, uint64_t *log, uint64_t *copied)
{
	int64_t nlog = -1, ncopied = -1;
	int rc;

	*log = *copied = 0;
	if (c->db == NULL && ckpt_open(c) != 0)
		return SAMEN_ESTORE;
	if ((rc = sqlite3_step(c->s)) == SQLITE_ROW) {
		nlog = sqlite3_column_int64(c->s, 1);
		ncopied = sqlite3_column_int64(c->s, 2);
		rc = sqlite3_step(c->s);
	}
	if (rc != SQLITE_DONE) {
		rc = ckpt_error(c->db);
		sqlite3_reset(c->s);
		return rc;
	}
	/* Reset at once: no snapshot or lock is kept until the next run. */
	if (sqlite3_reset(c->s) != SQLITE_OK || nlog < 0 || ncopied < 0)
		return SAMEN_ESTORE;	/* -1: not in WAL mode */
	/*
	 * SQLite syncs the database only when it copied up to the WAL's end
	 * as it is when the copy is done: beside a writer, never.  The pages
	 * then wait in the page cache until the checkpoint that does reach
	 * the end (the loop's, store_checkpoint_here), which paid for all of
	 * them: 40-70 ms.  Synced here, that one syncs only its own (and
	 * when SQLite has synced, this finds nothing to write).  Through
	 * SQLite's own handle: closing a descriptor of our own would drop
	 * every POSIX lock this process holds on the file.
	 */
	if (ncopied > 0) {
		sqlite3_file *f = NULL;

		if (sqlite3_file_control(c->db, "main",
		    SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || f == NULL ||
		    f->pMethods == NULL)
			return SAMEN_ESTORE;
		if (f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) != SQLITE_OK)
			return -EIO;
	}
	*log = (uint64_t)nlog;
	*copied = (uint64_t)ncopied;
	return 0;
}

void
store_ckpt_free(struct store_ckpt *c)
{
	if (c == NULL)
		return;
	sqlite3_finalize(c->s);
	sqlite3_close(c->db);
	free(c->path);
	free(c);
}

/* Transactions. */

int
store_begin(struct store *st)
{
	assert(!st->in_txn);
	if (st->broken)
		return SAMEN_ESTORE;
	if (sql_run_q(st, Q_BEGIN) != 0)
		return SAMEN_ESTORE;
	st->in_txn = 1;
	st->horizon = store_horizon_now(st);
	st->rkey.valid = 0;	/* read again: nobody else writes, but cheap */
	store_fresh_clear(st, 0);
	return 0;
}

/*
 * The safety level applies when the statement is prepared, and SQLite
 * refuses it inside a transaction: set between transactions, by exec.
 */
static int
set_synchronous(struct store *st, int full)
{
	if (store_sql_exec(st->db, full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", NULL) == 0)
		return 0;
	/* Back at FULL or not: nothing more is written (store_begin). */
	st->broken = 1;
	return SAMEN_ESTORE;
}

int
store_begin_lazy(struct store *st)
{
	int rc;

	assert(!st->in_txn);
	if (st->broken)
		return SAMEN_ESTORE;
	if (set_synchronous(st, 0) != 0)
		return SAMEN_ESTORE;
	if ((rc = store_begin(st)) != 0) {
		(void)set_synchronous(st, 1);
		return rc;
	}
	st->lazy = 1;
	return 0;
}

/* Drops the holds of tickets up to upto (UINT64_MAX: all); 0: the open
 * transaction's. */
static void
held_drop(struct store *st, uint64_t upto, int open)
{
	size_t i, n = 0;

	for (i = 0; i < st->nheld; i++) {
		uint64_t t = st->held[i].ticket;

		if (t == 0 ? open : t <= upto)
			continue;
		st->held[n++] = st->held[i];
	}
	st->nheld = n;
}

/*
 * The first hold on (chain, author), if its change sets are not all
 * synced: one per lazy commit that stored some, oldest (lowest seq) first.
 */
const struct held_own *
store_held_find(const struct store *st, const uint8_t chain[CS_CIRCLELEN],
    const uint8_t author[32])
{
	for (size_t i = 0; i < st->nheld; i++)
		if (memcmp(st->held[i].chain, chain, CS_CIRCLELEN) == 0 &&
		    memcmp(st->held[i].author, author, 32) == 0)
			return &st->held[i];
	return NULL;
}

/* Holds own change set h back from peers until its commit is synced. */
void
store_held_add(struct store *st, const struct cs_header *h)
{
	struct held_own *o;

	for (size_t i = 0; i < st->nheld; i++)
		if (st->held[i].ticket == 0 && memcmp(st->held[i].chain,
		    h->circle, CS_CIRCLELEN) == 0 &&
		    memcmp(st->held[i].author, h->author, 32) == 0)
			return;	/* this transaction's lower seq holds it */
	if (st->nheld == st->capheld) {
		st->capheld = st->capheld ? st->capheld * 2 : 8;
		st->held = xreallocarray(st->held, st->capheld,
		    sizeof(*st->held));
	}
	o = &st->held[st->nheld++];
	memcpy(o->chain, h->circle, CS_CIRCLELEN);
	memcpy(o->author, h->author, 32);
	o->seq = h->seq;
	o->ticket = 0;
}

/*
 * The errno of the last failed system call on the WAL (or else the
 * database file): SQLite keeps one per file (the connection's own
 * sqlite3_system_errno is often 0 by the time a commit returns).
 */
static int
last_errno(sqlite3 *db)
{
	sqlite3_file *f = NULL;
	int e = 0;

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &f) == SQLITE_OK && f != NULL && f->pMethods != NULL &&
	    f->pMethods->xFileControl(f, SQLITE_FCNTL_LAST_ERRNO, &e) ==
	    SQLITE_OK && e != 0)
		return e;
	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &e) !=
	    SQLITE_OK)
		e = 0;
	return e;
}

/*
 * Why a commit failed, as a person can act on it: -ENOSPC for a full disk
 * (or quota), -EROFS for one that went read-only, else SAMEN_ESTORE.
 * Either way nothing of the transaction was kept.
 */
static int
commit_error(struct store *st)
{
	int code = sqlite3_extended_errcode(st->db) & 0xff, e;

	if (code == SQLITE_FULL)
		return -ENOSPC;
	if (code == SQLITE_IOERR) {
		e = last_errno(st->db);
		if (e == ENOSPC || e == EDQUOT)
			return -ENOSPC;
		if (e == EROFS)
			return -EROFS;
	}
	return SAMEN_ESTORE;
}

static int
commit(struct store *st)
{
	uint64_t t0 = 0;

	if (!st->in_txn)
		return SAMEN_EINVAL;
	/* Merged at insert and no store_merge_pending since: written now. */
	if (st->digest_unsaved && store_digest_save(st) != 0)
		return commit_error(st);	/* the caller rolls back */
	if (st->commit_seconds != NULL)
		t0 = clock_mono_us();
	if (sql_run_q(st, Q_COMMIT) != 0)
		return commit_error(st);	/* still open: the caller
						 * rolls back */
	if (st->commit_seconds != NULL)
		metrics_observe(st->commit_seconds, NULL,
		    (double)(clock_mono_us() - t0) / 1e6);
	st->in_txn = 0;
	st->digest_unsaved = 0;
	st->purged.dropped += st->purged.dropped_txn;
	st->purged.dropped_txn = 0;
	if (st->purged.erased)
		st->purged.owed = 1;
	st->purged.erased = 0;
	return 0;
}

int
store_commit(struct store *st)
{
	int rc;

	assert(!st->lazy);
	if ((rc = commit(st)) != 0)
		return rc;
	/* The WAL is synced up to here: every lazy commit with it. */
	held_drop(st, UINT64_MAX, 1);
	return 0;
}

int
store_commit_lazy(struct store *st, uint64_t *ticket)
{
	int rc;

	assert(st->lazy);
	if ((rc = commit(st)) != 0)
		return rc;	/* still lazy: store_rollback ends it */
	st->lazy = 0;
	*ticket = ++st->lazy_commits;
	for (size_t i = 0; i < st->nheld; i++)
		if (st->held[i].ticket == 0)
			st->held[i].ticket = *ticket;
	/* Committed either way; if this fails, nothing more is. */
	(void)set_synchronous(st, 1);
	return 0;
}

void
store_durable(struct store *st, uint64_t ticket)
{
	held_drop(st, ticket, 0);
}

void
store_fail(struct store *st)
{
	st->broken = 1;
}

int
store_safety_level(struct store *st)
{
	int level;

	return store_sql_pragma_int(st->db, "PRAGMA synchronous", &level) == 0 ?
	    level : -1;
}

void
store_rollback(struct store *st)
{
	/* After a failed COMMIT SQLite may already have rolled back. */
	if (!sqlite3_get_autocommit(st->db))
		sql_run_q(st, Q_ROLLBACK);
	st->in_txn = 0;
	held_drop(st, 0, 1);
	if (st->lazy) {
		st->lazy = 0;
		(void)set_synchronous(st, 1);
	}
	store_drop_caches(st);
	/* What store_cs_insert_merged touched is gone with it. */
	st->ntouched = 0;
	st->want_touched = 0;
	st->digest_unsaved = 0;
	st->purged.dropped_txn = 0;
	st->purged.erased = 0;
	/*
	 * What memory held may include rolled-back merges.  Unread, the
	 * digest in memory is not the replica's, and a commit would write it
	 * over the right one: no more writes (store_begin refuses them).
	 */
	if (store_digest_load(st) != 0)
		st->broken = 1;
}
