/* hlc: hybrid logical clock, 48 bits of milliseconds and 16 bits of counter. */
#ifndef SAMEN_HLC_H
#define SAMEN_HLC_H

#include <stdint.h>

/* A timestamp is one uint64_t: (ms << 16) | counter; ordering is numeric. */
#define HLC_MS(ts) ((ts) >> 16)
#define HLC_COUNTER(ts) ((ts) & 0xffff)
#define HLC_MAKE(ms, c) (((uint64_t)(ms) << 16) | ((uint64_t)(c) & 0xffff))

/* The clock's state: the last timestamp issued or observed. */
struct hlc {
	uint64_t last;
};

void hlc_init(struct hlc *c, uint64_t last);
/*
 * Issues a timestamp for a local event, strictly greater than every earlier
 * one.  wall_ms is the caller's wall clock (proto/ reads no clocks).  When
 * the counter would overflow, the millisecond part is advanced instead.
 */
uint64_t hlc_now(struct hlc *c, uint64_t wall_ms);
/*
 * Takes in a remote timestamp.  Returns SAMEN_EDRIFT (and leaves the clock
 * alone) if ts is more than max_drift_ms ahead of wall_ms; otherwise advances
 * the clock past ts and returns 0.
 */
/*
 * Brings back a clock that ran ahead: if the last timestamp lies more than
 * max_ahead_ms ahead of wall_ms (a device whose clock was wrong, or a
 * peer's change set from the future seeded it), the next hlc_now takes
 * wall_ms again.  Returns how many ms ahead it was, or 0 if it was not.
 * Timestamps of one device then go down once: its own change sets are
 * ordered by their seq, and nothing orders them by hlc (docs/sync.md, "A
 * clock ahead").
 */
uint64_t hlc_bound(struct hlc *c, uint64_t wall_ms, uint64_t max_ahead_ms);
int hlc_recv(struct hlc *c, uint64_t ts, uint64_t wall_ms,
    uint64_t max_drift_ms);
/* 1 if ts lies more than max_drift_ms ahead of wall_ms. */
int hlc_too_far(uint64_t ts, uint64_t wall_ms, uint64_t max_drift_ms);
/* Formats ts as ISO 8601 UTC with milliseconds ("2026-11-24T23:36:36.123Z"). */
void hlc_format(char out[32], uint64_t ts);
/* Formats a span of ms as people read it: "2d 0h", "3h 5m", "42s", "0.3s". */
void hlc_span(char out[32], uint64_t ms);

#endif
