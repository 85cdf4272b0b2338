/* hlc: hybrid logical clock.  proto/ reads no clocks: callers pass wall_ms. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "hlc.h"

void
hlc_init(struct hlc *c, uint64_t last)
{
	c->last = last;
}

uint64_t
hlc_now(struct hlc *c, uint64_t wall_ms)
{
	uint64_t ts = HLC_MAKE(wall_ms, 0);

	/* Past the last one, or its successor (the counter carries into ms). */
	if (ts <= c->last)
		ts = c->last + 1;
	c->last = ts;
	return ts;
}

uint64_t
hlc_bound(struct hlc *c, uint64_t wall_ms, uint64_t max_ahead_ms)
{
	uint64_t ahead;

	if (!hlc_too_far(c->last, wall_ms, max_ahead_ms))
		return 0;
	ahead = HLC_MS(c->last) - wall_ms;
	/* Just below wall_ms's first timestamp: hlc_now issues that one. */
	c->last = wall_ms > 0 ? HLC_MAKE(wall_ms, 0) - 1 : 0;
	return ahead;
}

int
hlc_too_far(uint64_t ts, uint64_t wall_ms, uint64_t max_drift_ms)
{
	return HLC_MS(ts) > wall_ms && HLC_MS(ts) - wall_ms > max_drift_ms;
}

int
hlc_recv(struct hlc *c, uint64_t ts, uint64_t wall_ms, uint64_t max_drift_ms)
{
	if (hlc_too_far(ts, wall_ms, max_drift_ms))
		return SAMEN_EDRIFT;
	if (ts > c->last)
		c->last = ts;
	return 0;
}

/* Two units, the smaller rounded to the nearest: 2d 0h, not 1d 23h. */
static void
span2(char out[32], uint64_t ms, uint64_t big, uint64_t small,
    const char *bn, const char *sn)
{
	uint64_t n = ms > UINT64_MAX - small / 2 ? ms / small :
	    (ms + small / 2) / small;

	snprintf(out, 32, "%llu%s %llu%s",
	    (unsigned long long)(n / (big / small)), bn,
	    (unsigned long long)(n % (big / small)), sn);
}

void
hlc_span(char out[32], uint64_t ms)
{
	if (ms >= 86400000 - 1800000)
		span2(out, ms, 86400000, 3600000, "d", "h");
	else if (ms >= 3600000 - 30000)
		span2(out, ms, 3600000, 60000, "h", "m");
	else if (ms >= 60000 - 500)
		span2(out, ms, 60000, 1000, "m", "s");
	else if (ms >= 10000)
		snprintf(out, 32, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(out, 32, "%llu.%llus", (unsigned long long)(ms / 1000),
		    (unsigned long long)(ms % 1000 / 100));
}

/*
 * The second's text, as last formatted on this thread: a reply lists
 * many times of one second, and gmtime_r and strftime were a quarter of
 * a read's rendering (docs/performance.md §11).
 */
static _Thread_local struct {
	time_t secs;
	size_t len;		/* 0: none yet */
	char text[26];
} last_second;

void
hlc_format(char out[32], uint64_t ts)
{
	uint64_t ms = HLC_MS(ts);
	time_t secs = (time_t)(ms / 1000);
	unsigned frac = (unsigned)(ms % 1000);
	struct tm tm;
	size_t n;

	if (last_second.len == 0 || last_second.secs != secs) {
		if (gmtime_r(&secs, &tm) == NULL) {
			snprintf(out, 32, "@%llu", (unsigned long long)ms);
			return;
		}
		/* 48-bit milliseconds reach year 10889: 20 + 5 bytes
		 * always fit. */
		n = strftime(last_second.text, sizeof(last_second.text),
		    "%Y-%m-%dT%H:%M:%S", &tm);
		last_second.secs = secs;
		last_second.len = n;
	}
	n = last_second.len;
	memcpy(out, last_second.text, n);
	out[n++] = '.';
	out[n++] = (char)('0' + frac / 100);
	out[n++] = (char)('0' + frac / 10 % 10);
	out[n++] = (char)('0' + frac % 10);
	out[n++] = 'Z';
	out[n] = '\0';
}
