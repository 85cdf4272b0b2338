/* trim: gives the free memory glibc keeps back to the system once it piles up. */
#include "trim.h"

#include <stdio.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "log.h"

static struct {
	uv_timer_t timer;
	uv_work_t work;
	int running;		/* work is queued or running */
	size_t base;		/* resident bytes after the last trim */
	size_t before, after;	/* around the trim that runs */
	uint64_t took_ns;
	unsigned long count;
} trim;

/* Resident bytes of this process, 0 if unknown. */
static size_t
resident(void)
{
	unsigned long size, pages;
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (f == NULL)
		return 0;
	n = fscanf(f, "%lu %lu", &size, &pages);
	fclose(f);
	return n == 2 ? pages * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
/* On the thread pool: 20 ms for 100 MB, which no write should wait for. */
static void
work_cb(uv_work_t *w)
{
	uint64_t t0 = uv_hrtime();

	(void)w;
	malloc_trim(0);
	trim.took_ns = uv_hrtime() - t0;
	trim.after = resident();
}

static void
after_cb(uv_work_t *w, int status)
{
	(void)w;
	trim.running = 0;
	if (status != 0)
		return;		/* cancelled */
	trim.count++;
	log_debug("gave %zu MiB of free memory back in %.1f ms",
	    (trim.before - (trim.after < trim.before ? trim.after :
	    trim.before)) >> 20, (double)trim.took_ns / 1e6);
	/* What is left is in use, or cannot be given back: from here. */
	trim.base = trim.after;
}

static void
tick(uv_timer_t *t)
{
	size_t rss = resident();

	if (rss == 0 || trim.running)
		return;
	if (rss < trim.base)
		trim.base = rss;
	/* Grown by less than the slack, or grown and in use: not now. */
	if (rss < trim.base + TRIM_SLACK || mallinfo2().fordblks < TRIM_SLACK)
		return;
	trim.before = rss;
	if (uv_queue_work(t->loop, &trim.work, work_cb, after_cb) == 0)
		trim.running = 1;
}
#else
static void
tick(uv_timer_t *t)
{
	(void)t;
}
#endif

void
trim_open(uv_loop_t *loop)
{
	trim.base = resident();
	uv_timer_init(loop, &trim.timer);
	uv_timer_start(&trim.timer, tick, TRIM_EVERY_MS, TRIM_EVERY_MS);
	uv_unref((uv_handle_t *)&trim.timer);
}

unsigned long
trim_count(void)
{
	return trim.count;
}
