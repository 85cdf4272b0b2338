/* clock: the two clocks samen reads, wall time for timestamps and monotonic time for timers. */
#include "clock.h"

#include <time.h>

static uint64_t
read_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t wall_offset_ms;

void
clock_set_offset_ms(int64_t ms)
{
	wall_offset_ms = ms;
}

uint64_t
clock_wall_ms(void)
{
	return read_ms(CLOCK_REALTIME) + (uint64_t)wall_offset_ms;
}

uint64_t
clock_mono_ms(void)
{
	return read_ms(CLOCK_MONOTONIC);
}

uint64_t
clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
