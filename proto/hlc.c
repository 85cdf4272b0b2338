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
