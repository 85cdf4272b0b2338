/* trim: gives the free memory glibc keeps back to the system once it piles up. */
#ifndef SAMEN_TRIM_H
#define SAMEN_TRIM_H

#include <uv.h>

/*
 * glibc keeps what a thread freed in that thread's arena, resident: after
 * 2,000 control connections at once (libzmq's buffers, allocated and
 * freed on its I/O thread), samend stayed at 110-126 MB where it had
 * started at 8, for good (docs/reliability.md).  No leak: malloc_trim(0)
 * took it back to 9 MB, and so it stayed over 48,000 more connections.
 *
 * trim_open starts a timer on loop (unreferenced: it keeps no loop
 * alive; main's walk over the handles closes it): every TRIM_EVERY_MS it
 * reads the resident size, and if it grew by TRIM_SLACK since the last
 * trim (or the lowest it was since) while malloc holds at least
 * TRIM_SLACK free, runs malloc_trim(0) on the thread pool (it takes
 * 20 ms for 100 MB: not on the loop).  Resident memory that malloc does
 * not hold free (the index, SQLite's cache) never triggers it: growth
 * waits until it is freed, and what a trim cannot give back is the new
 * base.  A no-op without glibc (and under ASan, whose mallinfo2 is 0).
 */
#define TRIM_EVERY_MS	5000
#define TRIM_SLACK	(16u << 20)

void trim_open(uv_loop_t *loop);
/* Trims given back since start (for tests and logs). */
unsigned long trim_count(void);

#endif
