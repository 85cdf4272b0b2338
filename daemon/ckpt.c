/* ckpt: samen.db's checkpoints, scheduled from the loop and run on the thread pool. */
#include "ckpt.h"

#include <errno.h>
#include <string.h>

#include "durable.h"
#include "error.h"
#include "log.h"
#include "store.h"
#include "testhook.h"
#include "util.h"

/*
 * One checkpoint at a time, and early: once the WAL holds CKPT_FIRST
 * frames, each time CKPT_EVERY more were written (T/8 and T/32 for a
 * smaller T, the threshold), and whatever the WAL holds once the loop has
 * not written for CKPT_IDLE_MS.  So each copies and syncs a little, never
 * the 16 MB whose sync once held every write in flight for 20 ms.  Not
 * more with a larger T: a checkpoint's sync holds the WAL's syncs beside
 * it (a flush is the whole disk's), and four times the pages in each made
 * the p99 of pipelined writes worse (docs/performance.md, "The WAL starts
 * over rarely").
 */
#define CKPT_IDLE_MS 1000
#define CKPT_FIRST 500
#define CKPT_EVERY 125
/*
 * The most of the WAL written ahead at start: at the default threshold
 * the WAL would be 128 MiB, for a gain the first 64 already give.
 */
#define CKPT_PREFILL_MAX (64ull << 20)
/* How often the truncate an erase is owed is tried while readers hold
 * the WAL: an index load takes seconds, a checkpoint milliseconds. */
#define CKPT_TRUNCATE_MS 100

struct ckpt {
	uv_loop_t *loop;
	struct store *store;
	struct durable *durable;
	char *db_path;
	uint64_t threshold;	/* wal_autocheckpoint, frames */
	struct store_ckpt *pool;	/* the pool's connection */
	uv_check_t check;
	uv_timer_t idle;
	uv_timer_t trunc;	/* an erase's truncate, until it is done */
	int truncating;
	uv_work_t work;
	int busy;		/* work is on the pool */
	int rc;			/* its result, read on the loop */
	/*
	 * ran: work_cb has ended (under mu, signalled on ran_cv), so that
	 * hold() can wait for it; taken: its result was handled there, and
	 * the done callback has nothing left to do.
	 */
	uv_mutex_t mu;
	uv_cond_t ran_cv;
	int ran;
	int taken;
	uint64_t frames;	/* the WAL's frames when the last began */
	uint64_t commits;	/* the store's commits then */
	uint64_t copied;	/* the WAL's frames copied when it ended */
	uint64_t idle_from;	/* the commits when the idle timer was set */
	int test_fail;		/* $SAMEND_TEST_CKPT_SYNC_FAIL */
	long test_delay_ms;	/* $SAMEND_TEST_CKPT_DELAY_MS */
	int closing;
	int handles;		/* handles not closed yet */
};

static void ckpt_done_cb(uv_work_t *w, int status);

static void
work_cb(uv_work_t *w)
{
	struct ckpt *c = w->data;
	uint64_t log;

	c->rc = store_ckpt_run(c->pool, &log, &c->copied);
	/*
	 * Tests only: once a checkpoint has copied, samend is told that the
	 * sync of samen.db failed (test_durability.py).  test_store's
	 * test_checkpoint_sync_fails makes the store tell it for real.
	 */
	if (c->test_fail && c->rc == 0 && c->copied > 0)
		c->rc = -EIO;
	/* Tests only: a slow disk, or a thread the machine leaves waiting. */
	if (c->test_delay_ms > 0)
		uv_sleep((unsigned)c->test_delay_ms);
	uv_mutex_lock(&c->mu);
	c->ran = 1;
	uv_cond_signal(&c->ran_cv);
	uv_mutex_unlock(&c->mu);
}

/*
 * The disk failed to sync samen.db in a checkpoint: what was copied may
 * be lost while the WAL holds it, and a later sync of the file may succeed
 * all the same, after which the WAL would start over without it
 * (store.h).  So samend stops at once, as after a crash: no close, no
 * checkpoint, the WAL left whole; every acknowledged write is in it, and
 * the next start recovers from it.
 */
static void
sync_failed(struct ckpt *c)
{
	fatalx("%s: the disk failed to sync it; stopping with its WAL whole "
	    "(every acknowledged write is in it): check the disk, then start "
	    "samend again", c->db_path);
}

static void
start(struct ckpt *c, uint64_t frames)
{
	c->frames = frames;
	c->commits = store_wal_commits(c->store);
	c->ran = 0;
	c->taken = 0;
	if (uv_queue_work(c->loop, &c->work, work_cb, ckpt_done_cb) == 0)
		c->busy = 1;
}

static void
maybe_free(struct ckpt *c)
{
	if (!c->closing || c->busy || c->handles > 0)
		return;
	store_ckpt_free(c->pool);
	uv_cond_destroy(&c->ran_cv);
	uv_mutex_destroy(&c->mu);
	free(c->db_path);
	free(c);
}

/*
 * The result of the pool's checkpoint, on the loop: a failed sync stops
 * samend (sync_failed), another failure is logged.
 */
static void
take(struct ckpt *c)
{
	c->taken = 1;
	if (c->rc == -EIO)
		sync_failed(c);
	if (c->rc != 0)
		log_warnx("checkpoint failed: %s", samen_strerror(c->rc));
}

/*
 * The WAL starts over only at the first commit after a checkpoint that
 * copied all of it, and beside a writer that does not pause, none does:
 * it would grow without bound (250 MB in the 100k initial sync).  So once
 * it holds T frames and a checkpoint leaves little behind (T/16 frames:
 * what was written while it ran), the loop copies the rest itself: with no
 * writer beside it, all of it, and the next commit starts the WAL over.
 * Past 2T it does so whatever is left (copied 0).
 */
static void
catch_up(struct ckpt *c, uint64_t copied)
{
	uint64_t t = c->threshold, frames = store_wal_frames(c->store);
	int rc;

	if (frames >= t && (frames <= copied + t / 16 || frames >= 2 * t)) {
		if ((rc = store_checkpoint_here(c->store, &copied)) == -EIO)
			sync_failed(c);
		if (rc != 0) {
			log_warnx("checkpoint failed: %s", samen_strerror(rc));
			return;
		}
		c->commits = store_wal_commits(c->store);
	}
	/* All copied, nothing since: the next commit starts the WAL over. */
	if (copied == frames && c->commits == store_wal_commits(c->store))
		c->frames = 0;
}

static void
ckpt_done_cb(uv_work_t *w, int status)
{
	struct ckpt *c = w->data;

	c->busy = 0;
	if (status != 0 || c->taken || c->closing) {
		maybe_free(c);
		return;
	}
	take(c);
	catch_up(c, c->copied);
}

/*
 * Past 2T while the pool's checkpoint runs, which it may do for as long
 * as the machine leaves its thread waiting or the disk takes to sync:
 * every commit meanwhile grew the WAL, without bound under a fast writer
 * on a busy machine (a test's stream took it to 4T).  SQLite lets one
 * checkpoint run at a time, so the loop waits for the pool's to end (or
 * takes it back if it has not started: uv_cancel), as long as one
 * checkpoint's copy and sync, the stall its own catch-up costs anyway;
 * then it copies the rest.  So the WAL stays within 2T and what one turn
 * of the loop writes, however fast the writes come and however slow the
 * pool.
 */
static void
hold(struct ckpt *c)
{
	if (!c->taken && uv_cancel((uv_req_t *)&c->work) != 0) {
		uv_mutex_lock(&c->mu);
		while (!c->ran)
			uv_cond_wait(&c->ran_cv, &c->mu);
		uv_mutex_unlock(&c->mu);
		take(c);
	}
	/* Cancelled, done_cb still comes (UV_ECANCELED): nothing to take. */
	c->taken = 1;
	catch_up(c, 0);
}

static void
idle_cb(uv_timer_t *h)
{
	struct ckpt *c = h->data;

	if (c->closing || store_wal_commits(c->store) == c->commits)
		return;
	/* A checkpoint still running may not have seen the last commits. */
	if (c->busy)
		uv_timer_start(h, idle_cb, CKPT_IDLE_MS, 0);
	else
		start(c, store_wal_frames(c->store));
}

static void
check_cb(uv_check_t *h)
{
	struct ckpt *c = h->data;
	uint64_t t = c->threshold;
	uint64_t frames = store_wal_frames(c->store);
	uint64_t first = t / 8 < CKPT_FIRST ? t / 8 : CKPT_FIRST;
	uint64_t every = t / 32 < CKPT_EVERY ? t / 32 : CKPT_EVERY;

	if (frames < c->frames)		/* the WAL started over */
		c->frames = 0;
	if (c->busy && frames >= 2 * t) {
		hold(c);
		return;
	}
	if (c->busy || store_wal_commits(c->store) == c->commits)
		return;
	if (frames < first || frames - c->frames < every) {
		/*
		 * Not yet: unless the writes stop here.  Set from the last
		 * commit, not from every loop iteration: the one that ends
		 * the timer's wait would set it again.
		 */
		if (store_wal_commits(c->store) != c->idle_from) {
			c->idle_from = store_wal_commits(c->store);
			uv_timer_start(&c->idle, idle_cb, CKPT_IDLE_MS, 0);
		}
		return;
	}
	uv_timer_stop(&c->idle);
	start(c, frames);
}

/*
 * The WAL written to where it grows to (twice the threshold:
 * ckpt_done_cb), before anything writes it: SQLite then overwrites blocks
 * on disk instead of growing the file at every commit, and a sync that
 * changes no size or block takes about half as long.
 */
static void
prefill(struct ckpt *c, struct durable *d)
{
	uint64_t bytes = store_wal_bytes(c->store, 2 * c->threshold);

	if (durable_prefill(d, bytes < CKPT_PREFILL_MAX ? bytes :
	    CKPT_PREFILL_MAX) != 0)
		log_warnx("%s-wal: could not write it ahead: %s", c->db_path,
		    strerror(errno));
}

/*
 * The truncate an erase is owed: tried on the loop when no checkpoint of
 * the pool's holds a snapshot, and again later while any reader does.
 */
static void
trunc_cb(uv_timer_t *h)
{
	struct ckpt *c = h->data;
	int rc = -EBUSY;

	if (c->closing)
		return;
	if (!c->busy && (rc = store_wal_truncate(c->store)) == -EIO)
		sync_failed(c);
	if (rc == 0) {
		c->truncating = 0;
		c->frames = 0;
		/* Nothing writes the WAL beside the loop, which is here. */
		prefill(c, c->durable);
		return;
	}
	if (rc != -EBUSY)
		log_warnx("%s-wal: could not truncate it after an erase: %s; "
		    "trying again", c->db_path, samen_strerror(rc));
	uv_timer_start(h, trunc_cb, CKPT_TRUNCATE_MS, 0);
}

void
ckpt_erased(struct ckpt *c)
{
	if (c->closing || c->truncating)
		return;
	c->truncating = 1;
	uv_timer_start(&c->trunc, trunc_cb, 0, 0);
}

int
ckpt_truncate_pending(const struct ckpt *c)
{
	return c->truncating;
}

struct ckpt *
ckpt_open(uv_loop_t *loop, struct store *st, struct durable *d,
    const char *db_path, uint64_t threshold)
{
	struct ckpt *c = xcalloc(1, sizeof(*c));
	int rc;

	c->loop = loop;
	c->store = st;
	c->durable = d;
	c->db_path = xstrdup(db_path);
	c->threshold = threshold;
	c->test_fail = testhook()->ckpt_sync_fail;
	c->test_delay_ms = testhook()->ckpt_delay_ms;
	if (uv_mutex_init(&c->mu) != 0 || uv_cond_init(&c->ran_cv) != 0)
		fatalx("ckpt: cannot make a mutex");
	c->work.data = c;
	store_checkpoint_elsewhere(st);
	uv_timer_init(loop, &c->trunc);
	c->trunc.data = c;
	/*
	 * An erase may have committed just before samend stopped (a crash,
	 * a kill): its WAL, which the prefill would keep past its frames,
	 * still holds what it erased.  Nothing else has the database open.
	 */
	if ((rc = store_wal_truncate(st)) == -EIO)
		sync_failed(c);
	if (rc != 0) {
		log_warnx("%s-wal: could not truncate it: %s; trying again",
		    db_path, samen_strerror(rc));
		ckpt_erased(c);
	}
	prefill(c, d);
	c->pool = store_ckpt_new(db_path);
	uv_check_init(loop, &c->check);
	c->check.data = c;
	uv_check_start(&c->check, check_cb);
	uv_timer_init(loop, &c->idle);
	c->idle.data = c;
	/* A pending idle checkpoint does not keep the loop alive. */
	uv_unref((uv_handle_t *)&c->idle);
	c->handles = 3;
	return c;
}

static void
close_cb(uv_handle_t *h)
{
	struct ckpt *c = h->data;

	c->handles--;
	maybe_free(c);
}

void
ckpt_close(struct ckpt *c)
{
	c->closing = 1;
	uv_check_stop(&c->check);
	uv_timer_stop(&c->idle);
	uv_timer_stop(&c->trunc);
	uv_close((uv_handle_t *)&c->check, close_cb);
	uv_close((uv_handle_t *)&c->idle, close_cb);
	uv_close((uv_handle_t *)&c->trunc, close_cb);
}
