/* hlc: hybrid logical clock.  proto/ reads no clocks: callers pass wall_ms. */
#include <stdio.h>
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

void
hlc_format(char out[32], uint64_t ts)
{
	uint64_t ms = HLC_MS(ts);
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (gmtime_r(&secs, &tm) == NULL) {
		snprintf(out, 32, "@%llu", (unsigned long long)ms);
		return;
	}
	/* 48-bit milliseconds reach year 10889: 20 + 5 bytes always fit. */
	n = strftime(out, 26, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}
