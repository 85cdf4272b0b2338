/* metricsfile: samend's metrics written to a file every few seconds, for node_exporter. */
#ifndef SAMEN_METRICSFILE_H
#define SAMEN_METRICSFILE_H

#include <uv.h>

#include "metrics.h"

/*
 * metrics_file (samen.conf(5)): a timer on the loop renders the registry
 * and a job on the thread pool replaces the file with it
 * (metrics_write_file: atomically, synced), so that the loop never waits
 * for the disk.  The first write is at once, then one every interval.  A
 * write still running when the next is due makes that one skip.  A failed
 * write is logged once, and its recovery too, not at every tick.  On
 * close the file is removed: a stopped samend has no metrics, and a
 * collector then shows none rather than the last ones, frozen.
 */
struct metricsfile;

/* Fills the gauges that are read, not counted, just before each render. */
typedef void metricsfile_collect_cb(void *arg);

/*
 * Starts writing m to path (absolute, or relative to dir) every
 * interval_ms (at least 1).  collect, if not NULL, runs on the loop before
 * each render.  Borrows loop and m, which must outlive the metricsfile
 * until metricsfile_close; copies dir and path.  Returns 0, or a negative
 * code and *cause (free with free()).
 */
int metricsfile_open(struct metricsfile **out, uv_loop_t *loop,
    struct metrics *m, const char *dir, const char *path,
    unsigned interval_ms, metricsfile_collect_cb *collect, void *arg,
    char **cause);
/*
 * Stops the timer and removes the file (after a write still running has
 * ended, which would bring it back).  m may be freed once this
 * returns; the metricsfile frees itself in its handle's close callback
 * (and after a write still running), so the loop must run on; call it
 * before the loop's handles are walked and closed.  NULL: nothing.
 */
void metricsfile_close(struct metricsfile *mf);
/* The path written (absolute or as given with its dir); for logs. */
const char *metricsfile_path(const struct metricsfile *mf);

#endif
