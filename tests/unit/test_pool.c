/* test_pool: lanes on libuv's pool: width, order, cancelling, lifetime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pool.h"

/* Lanes. */

#define NJOBS 6

struct job {
	struct pool_job pj;	/* first */
	struct world *w;
	int id;
	int ran;
	int done;
	int status;
};

struct world {
	uv_loop_t loop;
	struct pool_lane lane;
	struct job jobs[NJOBS];
	atomic_int running;
	atomic_int max_running;
	int done_order[NJOBS];
	int ndone;
	int sleep_ms;
};

static void
job_run(uv_work_t *w)
{
	struct job *j = w->data;
	struct world *x = j->w;
	struct timespec ts = { 0, (long)x->sleep_ms * 1000000L };
	int now = atomic_fetch_add(&x->running, 1) + 1;
	int max = atomic_load(&x->max_running);

	while (now > max &&
	    !atomic_compare_exchange_weak(&x->max_running, &max, now))
		;
	j->ran++;
	nanosleep(&ts, NULL);
	atomic_fetch_sub(&x->running, 1);
}

static void
job_done(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct world *x = j->w;

	j->done++;
	j->status = status;
	x->done_order[x->ndone++] = j->id;
}

static struct world *
world_new(unsigned width, int sleep_ms)
{
	struct world *x = calloc(1, sizeof(*x));

	assert_non_null(x);
	uv_loop_init(&x->loop);
	pool_lane_init(&x->lane, &x->loop, width);
	x->sleep_ms = sleep_ms;
	for (int i = 0; i < NJOBS; i++) {
		x->jobs[i].w = x;
		x->jobs[i].id = i;
		x->jobs[i].pj.work.data = &x->jobs[i];
	}
	return x;
}

static void
world_free(struct world *x)
{
	assert_int_equal(uv_loop_close(&x->loop), 0);
	free(x);
}

/*
 * Six jobs of 60 ms on a lane of two: never more than two at once (libuv
 * alone runs four), two at once at some point, each run and done once.
 * (The order is test_cancel_waiting_job's, on a lane of one.)
 */
static void
test_lane_runs_width_at_a_time(void **state)
{
	struct world *x = world_new(2, 60);

	(void)state;
	for (int i = 0; i < NJOBS; i++)
		pool_submit(&x->lane, &x->jobs[i].pj, job_run, job_done);
	assert_int_equal(pool_lane_busy(&x->lane), NJOBS);
	uv_run(&x->loop, UV_RUN_DEFAULT);
	assert_int_equal(atomic_load(&x->max_running), 2);
	assert_int_equal(pool_lane_busy(&x->lane), 0);
	assert_int_equal(x->ndone, NJOBS);
	for (int i = 0; i < NJOBS; i++) {
		assert_int_equal(x->jobs[i].ran, 1);
		assert_int_equal(x->jobs[i].done, 1);
		assert_int_equal(x->jobs[i].status, 0);
	}
	world_free(x);
}

/* A job waiting in the lane: done at once, cancelled, never run; the
 * others in the order submitted. */
static void
test_cancel_waiting_job(void **state)
{
	struct world *x = world_new(1, 30);

	(void)state;
	for (int i = 0; i < 3; i++)
		pool_submit(&x->lane, &x->jobs[i].pj, job_run, job_done);
	pool_cancel(&x->jobs[2].pj);
	assert_int_equal(x->jobs[2].done, 1);
	assert_int_equal(x->jobs[2].status, UV_ECANCELED);
	assert_int_equal(pool_lane_busy(&x->lane), 2);
	/* The one in the middle of the lane too. */
	pool_submit(&x->lane, &x->jobs[3].pj, job_run, job_done);
	pool_submit(&x->lane, &x->jobs[4].pj, job_run, job_done);
	pool_cancel(&x->jobs[3].pj);
	assert_int_equal(x->jobs[3].status, UV_ECANCELED);
	uv_run(&x->loop, UV_RUN_DEFAULT);
	assert_int_equal(x->jobs[2].ran, 0);
	assert_int_equal(x->jobs[3].ran, 0);
	assert_int_equal(x->jobs[2].done, 1);
	assert_int_equal(x->jobs[3].done, 1);
	for (int i = 0; i < 5; i++)
		if (i != 2 && i != 3) {
			assert_int_equal(x->jobs[i].ran, 1);
			assert_int_equal(x->jobs[i].status, 0);
		}
	/* Jobs 0, 1, 4 in turn, after the two cancelled at once. */
	assert_int_equal(x->ndone, 5);
	assert_int_equal(x->done_order[2], 0);
	assert_int_equal(x->done_order[3], 1);
	assert_int_equal(x->done_order[4], 4);
	assert_int_equal(pool_lane_busy(&x->lane), 0);
	world_free(x);
}

/*
 * done may submit more, and the last done may free the lane (and what
 * holds it): the lane is not touched after (ASan would say so).
 */
struct owner {
	struct pool_lane *lane;
	struct pool_job jobs[3];
	int ran[3];
	int freed;
};

static void
owner_run(uv_work_t *w)
{
	struct owner *o = w->data;

	for (int i = 0; i < 3; i++)
		if (w == &o->jobs[i].work)
			o->ran[i]++;
}

static void
owner_done(uv_work_t *w, int status)
{
	struct owner *o = w->data;

	assert_int_equal(status, 0);
	if (w == &o->jobs[0].work) {
		o->jobs[2].work.data = o;
		pool_submit(o->lane, &o->jobs[2], owner_run, owner_done);
	}
	if (pool_lane_busy(o->lane) == 0) {
		free(o->lane);
		o->lane = NULL;
		o->freed++;
	}
}

static void
test_done_may_submit_and_free_the_lane(void **state)
{
	uv_loop_t loop;
	struct owner o;

	(void)state;
	memset(&o, 0, sizeof(o));
	uv_loop_init(&loop);
	o.lane = malloc(sizeof(*o.lane));
	assert_non_null(o.lane);
	pool_lane_init(o.lane, &loop, 1);
	for (int i = 0; i < 2; i++) {
		o.jobs[i].work.data = &o;
		pool_submit(o.lane, &o.jobs[i], owner_run, owner_done);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(o.ran[0], 1);
	assert_int_equal(o.ran[1], 1);
	assert_int_equal(o.ran[2], 1);
	assert_int_equal(o.freed, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Within what the pool can run beside checkpoints, and at least one. */
static void
test_width(void **state)
{
	unsigned w = pool_width();

	(void)state;
	assert_true(w >= 1 && w <= 3);
	assert_true(w <= uv_available_parallelism() || w == 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lane_runs_width_at_a_time),
		cmocka_unit_test(test_cancel_waiting_job),
		cmocka_unit_test(test_done_may_submit_and_free_the_lane),
		cmocka_unit_test(test_width),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
