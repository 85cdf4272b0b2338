/* metrics: samend's counters, gauges and histograms, in Prometheus's text format. */
#include "metrics.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol.h"
#include "util.h"
#include "version.h"

#define MAX_BOUNDS 32

enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

struct series {
	char *values[METRICS_MAX_LABELS];
	double v;		/* a counter's or a gauge's value */
	uint64_t *buckets;	/* a histogram's: nbounds + 1, not cumulative */
	double sum;
	uint64_t count;
};

struct metric {
	char *name;
	char *help;
	enum kind kind;
	size_t nlabels;
	char *labels[METRICS_MAX_LABELS];
	double *bounds;
	size_t nbounds;
	struct series *series;
	size_t nseries;
	size_t cap;
};

struct metrics {
	struct metric **fam;
	size_t n;
};

struct metrics *
metrics_open(void)
{
	return xcalloc(1, sizeof(struct metrics));
}

static void
series_free(const struct metric *f, struct series *s)
{
	for (size_t i = 0; i < f->nlabels; i++)
		free(s->values[i]);
	free(s->buckets);
}

void
metrics_close(struct metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		struct metric *f = m->fam[i];

		for (size_t j = 0; j < f->nseries; j++)
			series_free(f, &f->series[j]);
		for (size_t j = 0; j < f->nlabels; j++)
			free(f->labels[j]);
		free(f->series);
		free(f->bounds);
		free(f->name);
		free(f->help);
		free(f);
	}
	free(m->fam);
	free(m);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for a metric, without ':' for a label. */
static int
valid_name(const char *s, int colon)
{
	if (*s == '\0' || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' ||
		    (colon && *s == ':')))
			return 0;
	return 1;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static struct series *
series_new(struct metric *f, const char *const *values)
{
	struct series *s;

	if (f->nseries == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 4;
		f->series = xreallocarray(f->series, f->cap,
		    sizeof(*f->series));
	}
	s = &f->series[f->nseries++];
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < f->nlabels; i++)
		s->values[i] = xstrdup(values[i]);
	if (f->kind == KIND_HISTOGRAM)
		s->buckets = xcalloc(f->nbounds + 1, sizeof(*s->buckets));
	return s;
}

static struct metric *
family_new(struct metrics *m, enum kind kind, const char *name,
    const char *help, const char *const *labels)
{
	struct metric *f;

	/* The registry's names are the program's, never input: a bug. */
	assert(valid_name(name, 1));
	assert(kind != KIND_COUNTER || ends_with(name, "_total"));
	for (size_t i = 0; i < m->n; i++)
		assert(strcmp(m->fam[i]->name, name) != 0);
	f = xcalloc(1, sizeof(*f));
	f->name = xstrdup(name);
	f->help = xstrdup(help);
	f->kind = kind;
	for (; labels != NULL && labels[f->nlabels] != NULL; f->nlabels++) {
		const char *l = labels[f->nlabels];

		assert(f->nlabels < METRICS_MAX_LABELS);
		assert(valid_name(l, 0) && strncmp(l, "__", 2) != 0);
		assert(kind != KIND_HISTOGRAM || strcmp(l, "le") != 0);
		f->labels[f->nlabels] = xstrdup(l);
	}
	m->fam = xreallocarray(m->fam, m->n + 1, sizeof(*m->fam));
	m->fam[m->n++] = f;
	return f;
}

struct metric *
metrics_counter(struct metrics *m, const char *name, const char *help,
    const char *const *labels)
{
	struct metric *f = family_new(m, KIND_COUNTER, name, help, labels);

	if (f->nlabels == 0)
		series_new(f, NULL);
	return f;
}

struct metric *
metrics_gauge(struct metrics *m, const char *name, const char *help,
    const char *const *labels)
{
	struct metric *f = family_new(m, KIND_GAUGE, name, help, labels);

	if (f->nlabels == 0)
		series_new(f, NULL);
	return f;
}

struct metric *
metrics_histogram(struct metrics *m, const char *name, const char *help,
    const char *const *labels, const double *bounds, size_t nbounds)
{
	struct metric *f = family_new(m, KIND_HISTOGRAM, name, help, labels);

	assert(nbounds >= 1 && nbounds <= MAX_BOUNDS);
	for (size_t i = 0; i < nbounds; i++)
		assert(isfinite(bounds[i]) && (i == 0 || bounds[i] >
		    bounds[i - 1]));
	f->bounds = xcalloc(nbounds, sizeof(*f->bounds));
	memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
	f->nbounds = nbounds;
	if (f->nlabels == 0)
		series_new(f, NULL);
	return f;
}

/* The series of these values, or NULL; *at its index. */
static struct series *
series_find(const struct metric *f, const char *const *values, size_t *at)
{
	for (size_t i = 0; i < f->nseries; i++) {
		size_t j;

		for (j = 0; j < f->nlabels; j++)
			if (strcmp(f->series[i].values[j], values[j]) != 0)
				break;
		if (j == f->nlabels) {
			if (at != NULL)
				*at = i;
			return &f->series[i];
		}
	}
	return NULL;
}

static struct series *
series_get(struct metric *f, const char *const *values)
{
	struct series *s;

	assert(f->nlabels == 0 || values != NULL);
	if ((s = series_find(f, values, NULL)) == NULL)
		s = series_new(f, values);
	return s;
}

void
metrics_add(struct metric *f, const char *const *values, double v)
{
	assert(f->kind != KIND_HISTOGRAM);
	assert(f->kind != KIND_COUNTER || v >= 0);
	series_get(f, values)->v += v;
}

void
metrics_set(struct metric *f, const char *const *values, double v)
{
	assert(f->kind == KIND_GAUGE);
	series_get(f, values)->v = v;
}

void
metrics_observe(struct metric *f, const char *const *values, double v)
{
	struct series *s;
	size_t i;

	assert(f->kind == KIND_HISTOGRAM);
	s = series_get(f, values);
	/* The first bucket whose bound is at least v; NaN lands in +Inf. */
	for (i = 0; i < f->nbounds; i++)
		if (v <= f->bounds[i])
			break;
	s->buckets[i]++;
	s->sum += v;
	s->count++;
}

void
metrics_remove(struct metric *f, const char *const *values)
{
	size_t at;

	if (f->nlabels == 0 || series_find(f, values, &at) == NULL)
		return;
	series_free(f, &f->series[at]);
	memmove(&f->series[at], &f->series[at + 1],
	    (f->nseries - at - 1) * sizeof(*f->series));
	f->nseries--;
}

void
metrics_clear(struct metric *f)
{
	if (f->nlabels == 0)
		return;
	for (size_t i = 0; i < f->nseries; i++)
		series_free(f, &f->series[i]);
	f->nseries = 0;
}

double
metrics_value(const struct metric *f, const char *const *values)
{
	const struct series *s;

	if (f->kind == KIND_HISTOGRAM ||
	    (s = series_find(f, values, NULL)) == NULL)
		return 0;
	return s->v;
}

/* The text as it grows. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
};

static void
put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? 2 * b->cap : 4096;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/*
 * HELP text escapes backslash and newline; a label value also the double
 * quote.  Any other byte goes as it is: the format is UTF-8.
 */
static void
put_escaped(struct buf *b, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			puts_(b, "\\\\");
		else if (*s == '\n')
			puts_(b, "\\n");
		else if (*s == '"' && quote)
			puts_(b, "\\\"");
		else
			put(b, s, 1);
	}
}

/*
 * A value as Prometheus reads it (Go's ParseFloat): NaN, +Inf, -Inf,
 * whole numbers without a point, others in the fewest digits that read
 * back as the same double.
 */
static void
format_value(char out[40], double v)
{
	if (isnan(v))
		snprintf(out, 40, "NaN");
	else if (isinf(v))
		snprintf(out, 40, "%cInf", v > 0 ? '+' : '-');
	else if (v > -9007199254740992.0 && v < 9007199254740992.0 &&
	    v == (double)(long long)v)
		/* Exact below 2^53; and no floor(): samend does not link libm. */
		snprintf(out, 40, "%.0f", v);
	else {
		snprintf(out, 40, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, 40, "%.17g", v);
	}
}

/* name{l1="v1",...,extra} value\n; extra is "le=\"...\"" or NULL. */
static void
put_sample(struct buf *b, const struct metric *f, const char *suffix,
    const struct series *s, const char *extra, double v)
{
	char num[40];
	int any = 0;

	puts_(b, f->name);
	puts_(b, suffix);
	for (size_t i = 0; i < f->nlabels; i++) {
		puts_(b, any++ ? "," : "{");
		puts_(b, f->labels[i]);
		puts_(b, "=\"");
		put_escaped(b, s->values[i], 1);
		puts_(b, "\"");
	}
	if (extra != NULL) {
		puts_(b, any++ ? "," : "{");
		puts_(b, extra);
	}
	if (any)
		puts_(b, "}");
	format_value(num, v);
	puts_(b, " ");
	puts_(b, num);
	puts_(b, "\n");
}

static void
put_histogram(struct buf *b, const struct metric *f, const struct series *s)
{
	char le[64], num[40];
	uint64_t cum = 0;

	for (size_t i = 0; i <= f->nbounds; i++) {
		cum += s->buckets[i];
		if (i < f->nbounds)
			format_value(num, f->bounds[i]);
		else
			snprintf(num, sizeof(num), "+Inf");
		snprintf(le, sizeof(le), "le=\"%s\"", num);
		put_sample(b, f, "_bucket", s, le, (double)cum);
	}
	put_sample(b, f, "_sum", s, NULL, s->sum);
	put_sample(b, f, "_count", s, NULL, (double)s->count);
}

char *
metrics_render(const struct metrics *m, size_t *len)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	struct buf b = { NULL, 0, 0 };

	put(&b, "", 0);
	for (size_t i = 0; i < m->n; i++) {
		const struct metric *f = m->fam[i];

		puts_(&b, "# HELP ");
		puts_(&b, f->name);
		puts_(&b, " ");
		put_escaped(&b, f->help, 0);
		puts_(&b, "\n# TYPE ");
		puts_(&b, f->name);
		puts_(&b, " ");
		puts_(&b, types[f->kind]);
		puts_(&b, "\n");
		for (size_t j = 0; j < f->nseries; j++) {
			if (f->kind == KIND_HISTOGRAM)
				put_histogram(&b, f, &f->series[j]);
			else
				put_sample(&b, f, "", &f->series[j], NULL,
				    f->series[j].v);
		}
	}
	*len = b.len;
	return b.p;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
metrics_write_file(const char *path, const char *text, size_t len)
{
	const char *slash = strrchr(path, '/');
	char *tmp;
	int fd, rc;

	/* ".NAME.XXXXXX" beside NAME: the rename stays in one file system. */
	if (slash == NULL)
		tmp = xasprintf(".%s.XXXXXX", path);
	else
		tmp = xasprintf("%.*s/.%s.XXXXXX", (int)(slash - path), path,
		    slash + 1);
	if ((fd = mkstemp(tmp)) < 0) {
		rc = -errno;
		free(tmp);
		return rc;
	}
	/*
	 * Counts and device ids only, for a collector that runs as another
	 * user: readable by all, whatever samend's umask (077).
	 */
	if (fchmod(fd, 0644) != 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = write_all(fd, text, len)) != 0)
		goto fail;
	if (fsync(fd) != 0) {
		rc = -errno;
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = -errno;
		goto fail;
	}
	fd = -1;
	/*
	 * The directory is not synced: after a crash the file may be the one
	 * before, which the next write replaces within seconds.
	 */
	if (rename(tmp, path) != 0) {
		rc = -errno;
		goto fail;
	}
	free(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

/* Commits and WAL syncs: half a millisecond (a fast SSD) to seconds. */
static const double latency_bounds[] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5,
};

void
metrics_samen(struct metrics *m, struct metrics_samen *s)
{
	static const char *const info[] = { "version", "protocol", "schema",
	    NULL };
	static const char *const state[] = { "state", NULL };
	static const char *const peer[] = { "peer", NULL };
	static const char *const result[] = { "result", NULL };
	static const char *const reason[] = { "reason", NULL };
	static const char *const results[] = { "done", "failed",
	    "superseded" };
	static const char *const states[] = { "connected", "connecting",
	    "inbound", "idle" };
	const size_t nb = sizeof(latency_bounds) / sizeof(latency_bounds[0]);
	char proto[16], schema[16];
	const char *values[3] = { SAMEN_VERSION, proto, schema };

	memset(s, 0, sizeof(*s));
	s->registry = m;
	s->info = metrics_gauge(m, "samen_info",
	    "samend's version, protocol and schema (always 1)", info);
	s->locked = metrics_gauge(m, "samen_locked",
	    "1 while samend waits for samen unlock, else 0", NULL);
	s->records = metrics_gauge(m, "samen_records",
	    "live records in the replica", NULL);
	s->changesets = metrics_gauge(m, "samen_changesets",
	    "change sets stored", NULL);
	s->quarantine = metrics_gauge(m, "samen_quarantine_changesets",
	    "change sets held back for a person to decide on", NULL);
	s->peers = metrics_gauge(m, "samen_peers", "peers by state", state);
	s->sync_age = metrics_gauge(m, "samen_peer_last_sync_age_seconds",
	    "seconds since the last completed sync with each peer", peer);
	s->sessions = metrics_counter(m, "samen_sync_sessions_total",
	    "sync sessions this device started, ended, by result", result);
	s->cs_sent = metrics_counter(m, "samen_changesets_sent_total",
	    "change sets sent to peers", NULL);
	s->cs_received = metrics_counter(m, "samen_changesets_received_total",
	    "change sets received from peers and stored", NULL);
	s->rejected = metrics_counter(m, "samen_changesets_rejected_total",
	    "change sets from peers refused, by reason", reason);
	s->bytes_sent = metrics_counter(m, "samen_sync_sent_bytes_total",
	    "bytes of sync messages sent", NULL);
	s->bytes_received = metrics_counter(m,
	    "samen_sync_received_bytes_total",
	    "bytes of sync messages received", NULL);
	s->zap_refusals = metrics_counter(m, "samen_zap_refusals_total",
	    "connections refused at the handshake (unknown key)", NULL);
	s->commit_seconds = metrics_histogram(m, "samen_commit_seconds",
	    "time of one commit to the store, in seconds", NULL,
	    latency_bounds, nb);
	s->fsync_seconds = metrics_histogram(m, "samen_fsync_seconds",
	    "time of one sync of the WAL to the disk, in seconds", NULL,
	    latency_bounds, nb);
	snprintf(proto, sizeof(proto), "%d", SAMEN_PROTOCOL_VERSION);
	snprintf(schema, sizeof(schema), "%d", SAMEN_SCHEMA_VERSION);
	metrics_set(s->info, values, 1);
	for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++)
		metrics_add(s->sessions, &results[i], 0);
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		metrics_set(s->peers, &states[i], 0);
}
