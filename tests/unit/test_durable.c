/* test_durable: the sync thread: tickets, the callback on the loop, failure, close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "durable.h"
#include "error.h"
#include "metrics.h"

/* What the callback was told, in order. */
struct told {
	uint64_t done[16];
	int status[16];
	size_t n;
};

static void
told_cb(void *arg, uint64_t done, int status)
{
	struct told *t = arg;

	assert_true(t->n < 16);
	t->done[t->n] = done;
	t->status[t->n] = status;
	t->n++;
}

struct fixture {
	char dir[64];
	char path[96];
	uv_loop_t loop;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	FILE *fp;

	strcpy(f->dir, "/tmp/samen-durable-XXXXXX");
	if (f == NULL || mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/samen.db-wal", f->dir);
	if ((fp = fopen(f->path, "w")) == NULL)
		return -1;
	fputs("frames", fp);
	fclose(fp);
	uv_loop_init(&f->loop);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char fifo[128];

	uv_run(&f->loop, UV_RUN_DEFAULT);	/* the closed handles */
	assert_int_equal(uv_loop_close(&f->loop), 0);
	snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
	unlink(fifo);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A durable on path whose callback fills *t. */
static struct durable *
open_told(struct fixture *f, const char *path, struct told *t)
{
	struct durable *d;
	char *cause = NULL;

	memset(t, 0, sizeof(*t));
	assert_int_equal(durable_open(&d, &f->loop, path, told_cb, t, &cause),
	    0);
	assert_null(cause);
	return d;
}

/* Runs the loop until the callback has been called n times in all. */
static void
wait_told(struct fixture *f, struct told *t, size_t n)
{
	for (int i = 0; i < 5000 && t->n < n; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_int_equal(t->n, n);
}

/*
 * Each request is answered with the highest ticket synced, on the loop,
 * never with one that was not asked for; a lower ticket than one already
 * synced asks for nothing.
 */
static void
test_tickets(void **state)
{
	struct fixture *f = *state;
	struct told t;
	struct durable *d = open_told(f, f->path, &t);

	assert_int_equal(durable_done(d), 0);
	durable_request(d, 1);
	wait_told(f, &t, 1);
	assert_int_equal(t.done[0], 1);
	assert_int_equal(t.status[0], 0);
	assert_int_equal(durable_done(d), 1);
	durable_request(d, 2);
	durable_request(d, 5);
	wait_told(f, &t, 2);
	/* 5 at the latest: 2 may have been synced on its own first. */
	if (t.done[1] == 2)
		wait_told(f, &t, 3);
	assert_int_equal(t.done[t.n - 1], 5);
	assert_int_equal(durable_done(d), 5);
	durable_request(d, 3);
	for (int i = 0; i < 50; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_int_equal(durable_done(d), 5);
	assert_true(t.n <= 3);
	durable_close(d);
}

/* Close syncs what was asked for and tells it before it returns. */
static void
test_close_syncs(void **state)
{
	struct fixture *f = *state;
	struct told t;
	struct durable *d = open_told(f, f->path, &t);

	durable_request(d, 7);
	durable_close(d);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.done[0], 7);
	assert_int_equal(t.status[0], 0);
}

/*
 * A sync that fails (fdatasync on a FIFO: EINVAL) is told once, with
 * SAMEN_ESTORE and the last ticket synced; nothing is synced after it.
 */
static void
test_failure(void **state)
{
	struct fixture *f = *state;
	struct durable *d;
	struct told t;
	char fifo[128];

	snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	d = open_told(f, fifo, &t);
	durable_request(d, 1);
	wait_told(f, &t, 1);
	assert_int_equal(t.status[0], SAMEN_ESTORE);
	assert_int_equal(t.done[0], 0);
	durable_request(d, 2);
	for (int i = 0; i < 50; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT), usleep(1000);
	assert_int_equal(durable_done(d), 0);
	durable_close(d);
	assert_int_equal(t.n, 1);
}

/* The _count of histogram name in m's text. */
static unsigned long
hist_count(const struct metrics *m, const char *name)
{
	char key[128], *text, *at;
	unsigned long n;
	size_t len;

	snprintf(key, sizeof(key), "\n%s_count ", name);
	text = metrics_render(m, &len);
	assert_non_null(at = strstr(text, key));
	n = strtoul(at + strlen(key), NULL, 10);
	free(text);
	return n;
}

/*
 * Each sync is timed into the histogram, on the loop, by the time the
 * callback hears of it; a sync that fails is not.
 */
static void
test_timed(void **state)
{
	static const double bounds[] = { 1 };
	struct fixture *f = *state;
	struct metrics *m = metrics_open();
	struct metric *h = metrics_histogram(m, "t_seconds", "syncs", NULL,
	    bounds, 1);
	struct durable *d;
	struct told t;
	unsigned long n[3];
	char fifo[128];

	/* Counted first, checked once closed: a failure must not leave the
	 * thread's handle open for teardown's loop to wait on. */
	d = open_told(f, f->path, &t);
	durable_time_syncs(d, h);
	n[0] = hist_count(m, "t_seconds");
	durable_request(d, 1);
	wait_told(f, &t, 1);
	n[1] = hist_count(m, "t_seconds");
	durable_request(d, 2);
	wait_told(f, &t, 2);
	n[2] = hist_count(m, "t_seconds");
	durable_close(d);
	assert_int_equal(n[0], 0);
	assert_int_equal(n[1], 1);
	assert_int_equal(n[2], 2);

	snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	d = open_told(f, fifo, &t);
	durable_time_syncs(d, h);
	durable_request(d, 1);
	wait_told(f, &t, 1);
	assert_int_equal(t.status[0], SAMEN_ESTORE);
	durable_close(d);
	uv_run(&f->loop, UV_RUN_DEFAULT);	/* frees both */
	assert_int_equal(hist_count(m, "t_seconds"), 2);
	metrics_close(m);
}

static void
test_open_error(void **state)
{
	struct fixture *f = *state;
	struct durable *d = NULL;
	struct told t;
	char path[128], *cause = NULL;

	snprintf(path, sizeof(path), "%s/missing-wal", f->dir);
	assert_int_equal(durable_open(&d, &f->loop, path, told_cb, &t, &cause),
	    SAMEN_ESTORE);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "missing-wal"));
	free(cause);
}

/*
 * durable_prefill writes zeros past the file's end and nothing before it
 * ("frames" stays); a size at or under the file's writes nothing; syncs
 * of tickets go on as before.
 */
static void
test_prefill(void **state)
{
	struct fixture *f = *state;
	struct told t;
	struct durable *d = open_told(f, f->path, &t);
	char head[6], *rest;
	struct stat sb;
	FILE *fp;
	size_t i, n = 200000 - 6;

	assert_int_equal(durable_prefill(d, 200000), 0);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_size, 200000);
	assert_int_equal(durable_prefill(d, 4), 0);
	assert_int_equal(durable_prefill(d, 200000), 0);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_size, 200000);
	rest = malloc(n);
	assert_non_null(rest);
	assert_non_null(fp = fopen(f->path, "r"));
	assert_int_equal(fread(head, 1, 6, fp), 6);
	assert_memory_equal(head, "frames", 6);
	assert_int_equal(fread(rest, 1, n, fp), n);
	fclose(fp);
	for (i = 0; i < n && rest[i] == 0; i++)
		;
	assert_int_equal(i, n);
	free(rest);

	durable_request(d, 1);
	wait_told(f, &t, 1);
	assert_int_equal(t.done[0], 1);
	assert_int_equal(t.status[0], 0);
	durable_close(d);
}

/*
 * A failed sync of the zeros is a failed sync like any: told at once, and
 * nothing is synced after it (the next sync of the file could succeed all
 * the same: a writeback error is reported once per open file).
 */
static void
test_prefill_sync_fails(void **state)
{
	struct fixture *f = *state;
	struct told t;
	struct durable *d;
	size_t told;

	/* /dev/null takes the zeros, and fails every sync (EINVAL). */
	d = open_told(f, "/dev/null", &t);
	assert_int_equal(durable_prefill(d, 100000), 0);
	/* Waited for without an assert: d must be closed before one. */
	for (int i = 0; i < 5000 && t.n == 0; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT), usleep(1000);
	told = t.n;
	durable_close(d);
	assert_int_equal(told, 1);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.done[0], 0);
	assert_int_equal(t.status[0], SAMEN_ESTORE);
}

/* What durable_after ran: (tag, status) in order. */
struct ran {
	int tag[32];
	int status[32];
	size_t n;
	struct durable *d;
	int add_from_fn;	/* the entry tagged 1 adds one tagged 99 */
};

struct entry {
	struct ran *r;
	int tag;
};

static void
ran_fn(void *arg, int status)
{
	struct entry *e = arg;
	struct ran *r = e->r;

	assert_true(r->n < 32);
	r->tag[r->n] = e->tag;
	r->status[r->n] = status;
	r->n++;
	if (e->tag == 1 && r->add_from_fn) {
		static struct entry late;

		late.r = r;
		late.tag = 99;
		durable_after(r->d, 0, ran_fn, &late);
	}
}

/*
 * Entries run once their ticket is synced, in the order added, after cb;
 * one whose ticket is synced already runs at once, unless an older one
 * still waits; a forgotten one never runs; one added by a running entry
 * runs in turn.
 */
static void
test_after_in_order(void **state)
{
	struct fixture *f = *state;
	struct told t;
	struct durable *d = open_told(f, f->path, &t);
	struct ran r;
	struct entry e[6];

	memset(&r, 0, sizeof(r));
	r.d = d;
	r.add_from_fn = 1;
	for (int i = 0; i < 6; i++)
		e[i].r = &r, e[i].tag = i;
	durable_after(d, 0, ran_fn, &e[0]);	/* synced already: at once */
	assert_int_equal(r.n, 1);
	assert_int_equal(r.tag[0], 0);
	durable_after(d, 1, ran_fn, &e[1]);
	durable_after(d, 1, ran_fn, &e[2]);
	durable_after(d, 2, ran_fn, &e[3]);
	durable_after(d, 2, ran_fn, &e[4]);
	durable_after(d, 0, ran_fn, &e[5]);	/* behind the others */
	assert_int_equal(r.n, 1);
	assert_int_equal(durable_waiting(d), 5);
	assert_int_equal(durable_forget(d, &e[3]), 1);
	assert_int_equal(durable_waiting(d), 4);
	durable_request(d, 1);
	wait_told(f, &t, 1);
	/* 1, then the entry it added (99) behind 2, and not 4, 5 yet. */
	assert_int_equal(r.n, 3);
	assert_int_equal(r.tag[1], 1);
	assert_int_equal(r.tag[2], 2);
	durable_request(d, 2);
	wait_told(f, &t, 2);
	assert_int_equal(r.n, 6);
	assert_int_equal(r.tag[3], 4);
	assert_int_equal(r.tag[4], 5);
	assert_int_equal(r.tag[5], 99);
	for (size_t i = 0; i < r.n; i++)
		assert_int_equal(r.status[i], 0);
	assert_int_equal(durable_waiting(d), 0);
	durable_close(d);
}

/*
 * durable_sync_here syncs on the caller's thread while the thread is
 * idle: the callback is told and the entries released before it returns;
 * with a request of the thread's pending it leaves the sync to it.
 * durable_wait returns once the thread has synced.
 */
static void
test_sync_here(void **state)
{
	struct fixture *f = *state;
	struct told t;
	struct durable *d = open_told(f, f->path, &t);
	struct ran r;
	struct entry e[2];

	memset(&r, 0, sizeof(r));
	r.d = d;
	for (int i = 0; i < 2; i++)
		e[i].r = &r, e[i].tag = i;
	durable_after(d, 1, ran_fn, &e[0]);
	assert_int_equal(r.n, 0);
	assert_int_equal(durable_sync_here(d, 1), 1);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.done[0], 1);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.status[0], 0);
	assert_int_equal(durable_done(d), 1);
	/* The thread has a sync to do: not here.  Waiting for it. */
	durable_request(d, 2);
	durable_after(d, 3, ran_fn, &e[1]);
	if (durable_sync_here(d, 3) == 0) {
		assert_int_equal(r.n, 1);
		durable_wait(d, 3);
	}
	assert_int_equal(durable_done(d), 3);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.status[1], 0);
	durable_close(d);
}

/*
 * After a failed sync every waiting entry runs with SAMEN_ESTORE, and so
 * does every entry added later for a commit that was not synced.
 */
static void
test_after_failure(void **state)
{
	struct fixture *f = *state;
	struct durable *d;
	struct told t;
	struct ran r;
	struct entry e[3];
	char fifo[128];

	snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	d = open_told(f, fifo, &t);
	memset(&r, 0, sizeof(r));
	r.d = d;
	for (int i = 0; i < 3; i++)
		e[i].r = &r, e[i].tag = i;
	durable_after(d, 1, ran_fn, &e[0]);
	durable_after(d, 2, ran_fn, &e[1]);
	durable_request(d, 1);
	wait_told(f, &t, 1);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.status[0], SAMEN_ESTORE);
	assert_int_equal(r.status[1], SAMEN_ESTORE);
	/* Ticket 0 (synced by itself): fine; anything later: not. */
	durable_after(d, 0, ran_fn, &e[2]);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.status[2], 0);
	durable_after(d, 3, ran_fn, &e[0]);
	assert_int_equal(r.n, 4);
	assert_int_equal(r.status[3], SAMEN_ESTORE);
	durable_close(d);
}

/* Without a durable (every commit syncs itself) an entry runs at once. */
static void
test_after_without_durable(void **state)
{
	struct ran r;
	struct entry e = { &r, 7 };

	(void)state;
	memset(&r, 0, sizeof(r));
	durable_after(NULL, 42, ran_fn, &e);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.tag[0], 7);
	assert_int_equal(r.status[0], 0);
	assert_int_equal(durable_forget(NULL, &e), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tickets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_after_in_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_after_failure, setup,
		    teardown),
		cmocka_unit_test(test_after_without_durable),
		cmocka_unit_test_setup_teardown(test_sync_here, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_prefill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_syncs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefill_sync_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_error, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
