/* pool: samend's work on libuv's thread pool, a few at a time, in order. */
#include "pool.h"

#include <assert.h>
#include <stddef.h>

/* libuv's default pool (UV_THREADPOOL_SIZE unset), less one thread. */
#define POOL_LANE_MAX 3

void
pool_lane_init(struct pool_lane *l, uv_loop_t *loop, unsigned width)
{
	l->loop = loop;
	l->width = width > 0 ? width : 1;
	l->running = 0;
	l->head = l->tail = NULL;
}

unsigned
pool_width(void)
{
	unsigned n = uv_available_parallelism();

	if (n < 1)
		n = 1;
	return n > POOL_LANE_MAX ? POOL_LANE_MAX : n;
}

static void lane_pump(struct pool_lane *l);

static void
lane_after(uv_work_t *w, int status)
{
	struct pool_job *j = (struct pool_job *)w;
	struct pool_lane *l = j->lane;
	uv_after_work_cb done = j->done;

	l->running--;
	/* Before done, which may free the lane's owner with its last job. */
	lane_pump(l);
	done(w, status);
}

/* Starts waiting jobs while fewer than width run. */
static void
lane_pump(struct pool_lane *l)
{
	struct pool_job *j;

	while (l->running < l->width && (j = l->head) != NULL) {
		int rc;

		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
		j->next = NULL;
		j->waiting = 0;
		l->running++;
		/* Fails only for a NULL run, which pool_submit refuses. */
		rc = uv_queue_work(l->loop, &j->work, j->run, lane_after);
		assert(rc == 0);
		(void)rc;
	}
}

void
pool_submit(struct pool_lane *l, struct pool_job *j, uv_work_cb run,
    uv_after_work_cb done)
{
	assert(run != NULL && done != NULL);
	j->run = run;
	j->done = done;
	j->lane = l;
	j->next = NULL;
	j->waiting = 1;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	lane_pump(l);
}

void
pool_cancel(struct pool_job *j)
{
	struct pool_lane *l = j->lane;
	struct pool_job **pp, *prev = NULL;

	if (!j->waiting) {
		(void)uv_cancel((uv_req_t *)&j->work);
		return;
	}
	for (pp = &l->head; *pp != NULL && *pp != j; pp = &(*pp)->next)
		prev = *pp;
	assert(*pp == j);
	*pp = j->next;
	if (l->tail == j)
		l->tail = prev;
	j->next = NULL;
	j->waiting = 0;
	j->done(&j->work, UV_ECANCELED);
}

unsigned
pool_lane_busy(const struct pool_lane *l)
{
	unsigned n = l->running;

	for (const struct pool_job *j = l->head; j != NULL; j = j->next)
		n++;
	return n;
}
