/* metrics: samend's counters, gauges and histograms, in Prometheus's text format. */
#ifndef SAMEN_METRICS_H
#define SAMEN_METRICS_H

#include <stddef.h>

/*
 * A registry holds families of metrics (a name, a help line, a type and
 * label names); each family holds one series per set of label values,
 * created at its first update.  metrics_render prints all of them in the
 * Prometheus text exposition format 0.0.4, which node_exporter's textfile
 * collector and `samen metrics` both serve.  Registering happens once, at
 * start; a bad name or a second family of one name is a bug and aborts.
 * A registry is used from one thread (the loop's); the rendered text may
 * go anywhere.
 *
 * Label values are device ids, reasons, states: never record contents or
 * names a person gave (STYLE: never log secrets or record contents, and
 * the metrics file is world-readable).
 */
struct metrics;
struct metric;		/* one family, owned by its registry */

#define METRICS_MAX_LABELS 4

/* A new, empty registry; free with metrics_close(). */
struct metrics *metrics_open(void);
void metrics_close(struct metrics *m);

/*
 * Registers a family and returns it; the registry owns it (it lives until
 * metrics_close).  name: [a-zA-Z_:][a-zA-Z0-9_:]*, a counter's ending in
 * "_total"; help: one line, any text; labels: NULL, or up to
 * METRICS_MAX_LABELS names ([a-zA-Z_][a-zA-Z0-9_]*, not starting "__",
 * not "le" for a histogram) ending with NULL.  Every string is copied.
 * A family with no labels has its one series from the start, at 0.
 */
struct metric *metrics_counter(struct metrics *m, const char *name,
    const char *help, const char *const *labels);
struct metric *metrics_gauge(struct metrics *m, const char *name,
    const char *help, const char *const *labels);
/*
 * bounds: the upper bounds of the buckets, nbounds of them (at least 1, at
 * most 32), strictly increasing and finite; the +Inf bucket is implied.
 * Copied.
 */
struct metric *metrics_histogram(struct metrics *m, const char *name,
    const char *help, const char *const *labels, const double *bounds,
    size_t nbounds);

/*
 * Updates the series of these label values (one per label name of the
 * family, in order; NULL for a family without labels), creating it at 0
 * if it is new.  Borrows values; they are copied when the series is made.
 * metrics_add: a counter or a gauge grows by v (a counter only by v >= 0:
 * a negative v is a bug).  metrics_set: a gauge only.  metrics_observe: a
 * histogram only, v in the family's unit (seconds).
 */
void metrics_add(struct metric *f, const char *const *values, double v);
void metrics_set(struct metric *f, const char *const *values, double v);
void metrics_observe(struct metric *f, const char *const *values, double v);
/*
 * Forgets the series of these label values (a peer that was removed): it
 * is no longer printed.  No such series: nothing happens.
 */
void metrics_remove(struct metric *f, const char *const *values);
/* Forgets every series of a family that has labels (before a refill). */
void metrics_clear(struct metric *f);
/* The value of a counter's or gauge's series; 0 if there is none (tests). */
double metrics_value(const struct metric *f, const char *const *values);

/*
 * The whole registry in the text format, families in the order they were
 * registered, series in the order they were made.  Returns a new
 * NUL-terminated string (free with free()) and its length in *len.
 */
char *metrics_render(const struct metrics *m, size_t *len);

/*
 * Replaces the file at path with text, atomically: a reader (the textfile
 * collector) sees the old file or the new one, never part of one.  The
 * text goes to a temporary file in the same directory (".NAME.XXXXXX",
 * which the collector, reading only *.prom, ignores), mode 0644, synced,
 * then renamed over path.  Returns 0 or -errno; on error no temporary
 * file is left.  Touches nothing but the file system: safe to call on the
 * thread pool.  Borrows path and text.
 */
int metrics_write_file(const char *path, const char *text, size_t len);

/*
 * The families samend exports (docs/metrics.md), registered in one place
 * so that their names, help and buckets are the contract.  The owner
 * fills them: gauges at each render from the store's and the peers' own
 * counts, counters where the event happens, the histograms where commits
 * and syncs are timed.
 */
struct metrics_samen {
	struct metrics *registry;	/* the one they are in */
	struct metric *info;		/* gauge 1 {version, protocol, schema} */
	struct metric *locked;		/* gauge 1 locked, 0 unlocked */
	struct metric *records;		/* gauge, live records */
	struct metric *changesets;	/* gauge, stored change sets */
	struct metric *quarantine;	/* gauge, change sets held back */
	struct metric *peers;		/* gauge {state} */
	struct metric *sync_age;	/* gauge {peer} seconds since last sync */
	struct metric *sessions;	/* counter {result} done, failed */
	struct metric *cs_sent;		/* counter, change sets sent */
	struct metric *cs_received;	/* counter, change sets received */
	struct metric *rejected;	/* counter {reason} change sets refused */
	struct metric *bytes_sent;	/* counter, sync bytes sent */
	struct metric *bytes_received;	/* counter, sync bytes received */
	struct metric *zap_refusals;	/* counter, unknown keys refused */
	struct metric *commit_seconds;	/* histogram, one commit */
	struct metric *fsync_seconds;	/* histogram, one WAL sync */
};

/*
 * Registers the families of struct metrics_samen in m and fills s with
 * them (owned by m), with samen_info set to 1, and the series whose label
 * values are known in advance made at 0 (sessions done and failed, peers
 * in each state), so that a rate over them has a start.
 */
void metrics_samen(struct metrics *m, struct metrics_samen *s);

#endif
