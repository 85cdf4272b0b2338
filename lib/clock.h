/* clock: the two clocks samen reads, wall time for timestamps and monotonic time for timers. */
#ifndef SAMEN_CLOCK_H
#define SAMEN_CLOCK_H

#include <stdint.h>

/*
 * Milliseconds since the Unix epoch (CLOCK_REALTIME).  For what is shown or
 * stored as a date: the HLC, record ids, "last sync".  It can step back or
 * jump ahead, so never subtract two readings to time something: use
 * clock_mono_ms (or uv_now on the loop) for that.
 */
uint64_t clock_wall_ms(void);
/*
 * Moves clock_wall_ms by ms from now on: a test's stand-in for a device
 * whose clock is wrong (samend's SAMEND_TEST_CLOCK_OFFSET_MS).  0 at start.
 */
void clock_set_offset_ms(int64_t ms);
/* Milliseconds from an arbitrary start (CLOCK_MONOTONIC): for deadlines. */
uint64_t clock_mono_ms(void);
/*
 * The same clock in microseconds: to time what may take less than a
 * millisecond (a commit, a sync of the disk), and for systemd, which
 * compares a reload's MONOTONIC_USEC with the time it asked for it (a
 * value rounded down to the millisecond could fall before that).
 */
uint64_t clock_mono_us(void);

#endif
