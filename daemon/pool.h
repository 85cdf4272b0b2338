/* pool: samend's work on libuv's thread pool, a few at a time, in order. */
#ifndef SAMEN_POOL_H
#define SAMEN_POOL_H

#include <uv.h>

/*
 * A lane runs its jobs on the pool, at most width of them at a time,
 * starting them in the order they were submitted.  The jobs wait in the
 * lane, not in libuv's queue: the first one has a core to itself instead
 * of sharing every core with all the jobs behind it, which is what a
 * caller that needs the results in order waits for (docs/design.md,
 * "Checked in order").  Everything but run is called on the loop's
 * thread.
 *
 * The caller owns the lane and the jobs.  A job is the caller's until
 * done is called (always exactly once, with 0, or UV_ECANCELED if it was
 * cancelled before it ran); done may free it, and may submit more.  The
 * lane must outlive its jobs: pool_lane_busy says how many it still has.
 */
struct pool_job {
	uv_work_t work;		/* first; work.data is the caller's */
	uv_work_cb run;
	uv_after_work_cb done;
	struct pool_lane *lane;
	struct pool_job *next;	/* waiting in the lane */
	int waiting;
};

struct pool_lane {
	uv_loop_t *loop;
	unsigned width;
	unsigned running;
	struct pool_job *head, *tail;	/* waiting, in order */
};

/* An empty lane of width (at least 1) on loop. */
void pool_lane_init(struct pool_lane *l, uv_loop_t *loop, unsigned width);
/*
 * The width for jobs that each keep a core busy: the cores this process
 * may use (uv_available_parallelism), at least 1 and at most 3, libuv's 4
 * threads less one, so that a checkpoint or the index loader always finds
 * a thread free.
 */
unsigned pool_width(void);
/*
 * Runs run(&j->work) on the pool in its turn, then done(&j->work, 0) on
 * the loop.  Neither may be NULL.
 */
void pool_submit(struct pool_lane *l, struct pool_job *j, uv_work_cb run,
    uv_after_work_cb done);
/*
 * Takes back a job whose done has not been called: one still waiting
 * leaves the lane and done(&j->work, UV_ECANCELED) is called before this
 * returns; one on the pool is uv_cancel'ed, and done comes later (with
 * UV_ECANCELED if it had not started).
 */
void pool_cancel(struct pool_job *j);
/* Jobs submitted whose done has not been called yet. */
unsigned pool_lane_busy(const struct pool_lane *l);

#endif
