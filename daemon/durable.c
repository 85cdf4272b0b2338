/* durable: makes lazy commits durable on a thread of its own (fdatasync of the WAL). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "durable.h"
#include "error.h"
#include "log.h"
#include "metrics.h"
#include "testhook.h"
#include "util.h"

struct durable {
	uv_async_t async;	/* the thread says: done moved */
	durable_cb *cb;
	void *arg;
	int fd;
	pthread_t thread;
	/* Tests only: SAMEND_TEST_SYNC_DELAY_MS holds every sync back,
	 * SAMEND_TEST_SYNC_FAIL makes every sync of commits fail (EIO): a
	 * disk that fails after samend started. */
	long delay_ms;
	int fail;

	/* Under mu: */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_cond_t donecv;	/* done or failed moved (durable_wait) */
	uint64_t requested;
	uint64_t done;
	int failed;		/* a sync failed: no more, ever */
	int stop;
	int presync;		/* durable_prefill's zeros: sync, asked or not */
	/* How long each sync took (us), since the loop last looked. */
	uint64_t *took;
	size_t ntook, captook;

	/* The loop's: what cb was last told. */
	uint64_t told;
	int told_failed;
	struct metric *sync_seconds;	/* durable_time_syncs, or NULL */

	/* The loop's: durable_after's entries, q[qfirst..nq), in order. */
	struct after {
		uint64_t ticket;
		durable_after_fn *fn;	/* NULL: forgotten */
		void *arg;
	} *q;
	size_t qfirst, nq, capq;
	int running;		/* run_after is on the stack */
};

static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Notes how long a sync took, under mu.  The loop empties the array at
 * each tell: it grows only while the loop is busy, and rarely allocates. */
static void
note_took(struct durable *d, uint64_t us)
{
	if (d->ntook == d->captook) {
		d->captook = d->captook ? 2 * d->captook : 16;
		d->took = xreallocarray(d->took, d->captook, sizeof(*d->took));
	}
	d->took[d->ntook++] = us;
}

static void *
run(void *arg)
{
	struct durable *d = arg;
	uint64_t target, t0, t1;
	int rc, err;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (!d->stop && !d->failed && !d->presync &&
		    d->requested <= d->done)
			pthread_cond_wait(&d->cv, &d->mu);
		if (d->failed || (!d->presync && d->requested <= d->done))
			break;	/* stopping, and nothing left to sync */
		/*
		 * Every ticket up to target was requested after its COMMIT
		 * returned, so its frames are written: one sync covers them,
		 * and durable_prefill's zeros if asked.  A failure there is
		 * a failure like any: a writeback error is reported once per
		 * open file, so the next sync could not be trusted to tell.
		 */
		d->presync = 0;
		target = d->requested;
		pthread_mutex_unlock(&d->mu);
		if (d->delay_ms > 0)
			nap(d->delay_ms);
		t0 = clock_mono_us();
		rc = d->fail && target > d->done ? (errno = EIO, -1) :
		    fdatasync(d->fd);
		err = rc == 0 ? 0 : errno ? errno : EIO;
		t1 = clock_mono_us();
		pthread_mutex_lock(&d->mu);
		if (err == 0) {
			d->done = target;
			note_took(d, t1 - t0);
		} else
			d->failed = err;
		pthread_cond_broadcast(&d->donecv);
		uv_async_send(&d->async);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/*
 * Runs the entries the disk has released, in order; after a failure, all
 * of them with the error.  An entry's fn may add more (they run here too,
 * in turn) or forget others.
 */
static void
run_after(struct durable *d)
{
	if (d->running)
		return;
	d->running = 1;
	while (d->qfirst < d->nq) {
		struct after a = d->q[d->qfirst];

		if (a.fn != NULL && a.ticket > d->told && !d->told_failed)
			break;
		d->qfirst++;
		/* Tickets never decrease: once one fails, so do the rest. */
		if (a.fn != NULL)
			a.fn(a.arg, a.ticket > d->told ? SAMEN_ESTORE : 0);
	}
	if (d->qfirst == d->nq)
		d->qfirst = d->nq = 0;
	d->running = 0;
}

void
durable_after(struct durable *d, uint64_t ticket, durable_after_fn *fn,
    void *arg)
{
	if (d == NULL) {
		fn(arg, 0);
		return;
	}
	/* Under steady writes it may never run empty: slide it down. */
	if (d->qfirst > 0 && d->nq == d->capq) {
		memmove(d->q, d->q + d->qfirst,
		    (d->nq - d->qfirst) * sizeof(*d->q));
		d->nq -= d->qfirst;
		d->qfirst = 0;
	}
	if (d->nq == d->capq) {
		d->capq = d->capq ? d->capq * 2 : 64;
		d->q = xreallocarray(d->q, d->capq, sizeof(*d->q));
	}
	d->q[d->nq].ticket = ticket;
	d->q[d->nq].fn = fn;
	d->q[d->nq].arg = arg;
	d->nq++;
	run_after(d);
}

size_t
durable_forget(struct durable *d, void *arg)
{
	size_t n = 0;

	if (d == NULL)
		return 0;
	for (size_t i = d->qfirst; i < d->nq; i++)
		if (d->q[i].fn != NULL && d->q[i].arg == arg) {
			d->q[i].fn = NULL;
			n++;
		}
	return n;
}

size_t
durable_waiting(const struct durable *d)
{
	size_t n = 0;

	for (size_t i = d->qfirst; i < d->nq; i++)
		n += d->q[i].fn != NULL;
	return n;
}

/* On the loop: tells cb where the thread got to, then who waits. */
static void
tell(struct durable *d)
{
	uint64_t done;
	int failed;

	pthread_mutex_lock(&d->mu);
	done = d->done;
	failed = d->failed;
	/* A few adds under the lock: cheaper than handing the array over. */
	for (size_t i = 0; d->sync_seconds != NULL && i < d->ntook; i++)
		metrics_observe(d->sync_seconds, NULL,
		    (double)d->took[i] / 1e6);
	d->ntook = 0;
	pthread_mutex_unlock(&d->mu);
	if (failed && !d->told_failed) {
		d->told_failed = 1;
		d->told = done;
		log_warnx("the disk failed to sync the replica's log: %s; "
		    "nothing more is stored until samend restarts",
		    strerror(failed));
		if (d->cb != NULL)
			d->cb(d->arg, done, SAMEN_ESTORE);
		run_after(d);
		return;
	}
	if (done > d->told) {
		d->told = done;
		if (d->cb != NULL)
			d->cb(d->arg, done, 0);
		run_after(d);
	}
}

static void
async_cb(uv_async_t *h)
{
	tell(h->data);
}

static void
close_cb(uv_handle_t *h)
{
	struct durable *d = h->data;

	pthread_cond_destroy(&d->cv);
	pthread_cond_destroy(&d->donecv);
	pthread_mutex_destroy(&d->mu);
	free(d->took);
	free(d->q);
	free(d);
}

int
durable_open(struct durable **out, uv_loop_t *loop, const char *path,
    durable_cb *cb, void *arg, char **cause)
{
	struct durable *d = xcalloc(1, sizeof(*d));

	d->cb = cb;
	d->arg = arg;
	d->delay_ms = testhook()->sync_delay_ms;
	d->fail = testhook()->sync_fail;
	/* SQLite keeps the WAL file while any connection is open. */
	if ((d->fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		free(d);
		return SAMEN_ESTORE;
	}
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	pthread_cond_init(&d->donecv, NULL);
	if (uv_async_init(loop, &d->async, async_cb) != 0) {
		*cause = xasprintf("cannot watch the sync thread");
		pthread_cond_destroy(&d->cv);
		pthread_cond_destroy(&d->donecv);
		pthread_mutex_destroy(&d->mu);
		close(d->fd);
		free(d);
		return SAMEN_ESTORE;
	}
	d->async.data = d;
	if (pthread_create(&d->thread, NULL, run, d) != 0) {
		*cause = xasprintf("cannot start the sync thread");
		close(d->fd);
		uv_close((uv_handle_t *)&d->async, close_cb);	/* frees d */
		return SAMEN_ESTORE;
	}
	*out = d;
	return 0;
}

int
durable_prefill(struct durable *d, uint64_t bytes)
{
	static const char zero[1 << 16];
	struct stat sb;
	off_t at;

	if (fstat(d->fd, &sb) != 0)
		return SAMEN_ESTORE;
	if ((uint64_t)sb.st_size >= bytes)
		return 0;
	for (at = sb.st_size; (uint64_t)at < bytes; ) {
		size_t n = bytes - (uint64_t)at < sizeof(zero) ?
		    (size_t)(bytes - (uint64_t)at) : sizeof(zero);
		ssize_t w = pwrite(d->fd, zero, n, at);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return SAMEN_ESTORE;
		at += w;
	}
	pthread_mutex_lock(&d->mu);
	d->presync = 1;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return 0;
}

void
durable_time_syncs(struct durable *d, struct metric *hist)
{
	d->sync_seconds = hist;
}

void
durable_request(struct durable *d, uint64_t ticket)
{
	pthread_mutex_lock(&d->mu);
	if (ticket > d->requested) {
		d->requested = ticket;
		pthread_cond_signal(&d->cv);
	}
	pthread_mutex_unlock(&d->mu);
}

void
durable_wait(struct durable *d, uint64_t ticket)
{
	if (d == NULL)
		return;
	durable_request(d, ticket);
	pthread_mutex_lock(&d->mu);
	while (d->done < ticket && !d->failed)
		pthread_cond_wait(&d->donecv, &d->mu);
	pthread_mutex_unlock(&d->mu);
	tell(d);
}

int
durable_sync_here(struct durable *d, uint64_t ticket)
{
	uint64_t t0, t1;
	int idle, rc, err;

	if (d == NULL)
		return 1;
	pthread_mutex_lock(&d->mu);
	idle = !d->failed && !d->presync && d->requested <= d->done &&
	    d->delay_ms == 0 && !d->fail;
	pthread_mutex_unlock(&d->mu);
	if (!idle)
		return 0;
	/* Every commit up to ticket returned: its frames are written. */
	t0 = clock_mono_us();
	rc = fdatasync(d->fd);
	err = rc == 0 ? 0 : errno ? errno : EIO;
	t1 = clock_mono_us();
	pthread_mutex_lock(&d->mu);
	if (err == 0) {
		if (ticket > d->done)
			d->done = ticket;
		if (ticket > d->requested)
			d->requested = ticket;
		note_took(d, t1 - t0);
	} else if (!d->failed)
		d->failed = err;
	pthread_mutex_unlock(&d->mu);
	tell(d);
	return 1;
}

uint64_t
durable_done(const struct durable *d)
{
	return d->told;
}

void
durable_close(struct durable *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = 1;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->thread, NULL);
	close(d->fd);
	tell(d);
	uv_close((uv_handle_t *)&d->async, close_cb);
}
