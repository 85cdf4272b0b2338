/* test_hlc: the hybrid logical clock: monotonic issue, receive, drift, format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "hlc.h"

static uint64_t
rnd(uint64_t *s)
{
	/* splitmix64: the seed alone reproduces a run. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
test_macros(void **state)
{
	uint64_t ts;

	(void)state;
	ts = HLC_MAKE(0x123456789abcULL, 0xdef0);
	assert_true(ts == 0x123456789abcdef0ULL);
	assert_true(HLC_MS(ts) == 0x123456789abcULL);
	assert_true(HLC_COUNTER(ts) == 0xdef0);
	/* The counter is cut to 16 bits. */
	assert_true(HLC_MAKE(1, 0x10001) == HLC_MAKE(1, 1));
}

static void
test_init(void **state)
{
	struct hlc c;

	(void)state;
	memset(&c, 0xff, sizeof(c));
	hlc_init(&c, 0);
	assert_true(c.last == 0);
	hlc_init(&c, HLC_MAKE(77, 5));
	assert_true(c.last == HLC_MAKE(77, 5));
	/* Starting from a saved state, the next stamp is past it even if
	 * the wall clock is behind. */
	assert_true(hlc_now(&c, 10) > HLC_MAKE(77, 5));
}

static void
test_now_wall_ahead(void **state)
{
	struct hlc c;
	uint64_t t;

	(void)state;
	hlc_init(&c, 0);
	t = hlc_now(&c, 1000);
	/* The wall clock is ahead of the state: the stamp takes its ms. */
	assert_true(HLC_MS(t) == 1000);
	assert_true(c.last == t);
	t = hlc_now(&c, 1001);
	assert_true(HLC_MS(t) == 1001);
	assert_true(c.last == t);
	t = hlc_now(&c, 1764028596123ULL);
	assert_true(HLC_MS(t) == 1764028596123ULL);
}

static void
test_now_wall_equal_or_behind(void **state)
{
	struct hlc c;
	uint64_t t, prev;
	int i;

	(void)state;
	hlc_init(&c, 0);
	prev = hlc_now(&c, 1000);
	/* Same millisecond: the counter ticks, the ms stays. */
	for (i = 0; i < 100; i++) {
		t = hlc_now(&c, 1000);
		assert_true(t == prev + 1);
		assert_true(HLC_MS(t) == 1000);
		assert_true(c.last == t);
		prev = t;
	}
	/* The wall clock steps back: still strictly increasing. */
	t = hlc_now(&c, 400);
	assert_true(t == prev + 1);
	assert_true(HLC_MS(t) == 1000);
	prev = t;
	t = hlc_now(&c, 0);
	assert_true(t == prev + 1);
	prev = t;
	/* When the wall clock catches up it takes over again. */
	t = hlc_now(&c, 1002);
	assert_true(t > prev);
	assert_true(HLC_MS(t) == 1002);
}

static void
test_counter_overflow(void **state)
{
	struct hlc c;
	uint64_t t;

	(void)state;
	hlc_init(&c, HLC_MAKE(1000, 0xfffe));
	t = hlc_now(&c, 1000);
	assert_true(t == HLC_MAKE(1000, 0xffff));
	/* The counter would overflow: the ms part advances instead. */
	t = hlc_now(&c, 1000);
	assert_true(t > HLC_MAKE(1000, 0xffff));
	assert_true(HLC_MS(t) == 1001);
	assert_true(HLC_COUNTER(t) == 0);
	assert_true(hlc_now(&c, 1000) > t);

	/* Also with the wall clock far behind. */
	hlc_init(&c, HLC_MAKE(5000, 0xffff));
	t = hlc_now(&c, 3);
	assert_true(t > HLC_MAKE(5000, 0xffff));
	assert_true(HLC_MS(t) == 5001);
}

static void
test_now_random_walk(void **state)
{
	uint64_t s = 0x5eed, wall = 1700000000000ULL, t, prev = 0;
	struct hlc c;
	int i;

	(void)state;
	hlc_init(&c, 0);
	for (i = 0; i < 200000; i++) {
		switch (rnd(&s) % 8) {
		case 0:
			wall -= rnd(&s) % 50;	/* NTP steps back */
			break;
		case 1:
		case 2:
			wall += rnd(&s) % 5;
			break;
		default:
			break;			/* same millisecond */
		}
		t = hlc_now(&c, wall);
		assert_true(t > prev);
		assert_true(HLC_MS(t) >= wall);
		if (wall > HLC_MS(prev))
			assert_true(HLC_MS(t) == wall);
		else
			assert_true(t == prev + 1);
		assert_true(c.last == t);
		prev = t;
	}
}

static void
test_recv_ahead(void **state)
{
	struct hlc c;
	uint64_t ts, t;

	(void)state;
	hlc_init(&c, HLC_MAKE(1000, 3));
	ts = HLC_MAKE(1500, 7);
	assert_int_equal(hlc_recv(&c, ts, 1000, 1000), 0);
	assert_true(c.last >= ts);
	t = hlc_now(&c, 1000);
	assert_true(t > ts);
	/* No jump further than needed: the remote ms is kept. */
	assert_true(HLC_MS(t) == 1500);

	/* A remote stamp with a full counter. */
	hlc_init(&c, 0);
	ts = HLC_MAKE(2000, 0xffff);
	assert_int_equal(hlc_recv(&c, ts, 1990, 100), 0);
	assert_true(hlc_now(&c, 1990) > ts);

	/* Exactly max_drift ahead is still accepted. */
	hlc_init(&c, 0);
	ts = HLC_MAKE(2000, 0);
	assert_int_equal(hlc_recv(&c, ts, 1000, 1000), 0);
	assert_true(hlc_now(&c, 1000) > ts);

	/* A drift of zero accepts the present. */
	hlc_init(&c, 0);
	ts = HLC_MAKE(1000, 9);
	assert_int_equal(hlc_recv(&c, ts, 1000, 0), 0);
	assert_true(hlc_now(&c, 1000) > ts);
}

static void
test_recv_behind(void **state)
{
	struct hlc c;
	uint64_t before;

	(void)state;
	before = HLC_MAKE(2000, 5);
	hlc_init(&c, before);
	/* An old stamp never moves the clock back. */
	assert_int_equal(hlc_recv(&c, HLC_MAKE(1000, 0), 2000, 10), 0);
	assert_true(c.last >= before);
	assert_true(hlc_now(&c, 2000) > before);

	/* The wall clock ahead of both: the next stamp follows the wall. */
	hlc_init(&c, HLC_MAKE(100, 0));
	assert_int_equal(hlc_recv(&c, HLC_MAKE(200, 0), 5000, 10), 0);
	assert_true(HLC_MS(hlc_now(&c, 5000)) == 5000);
}

static void
test_recv_drift(void **state)
{
	struct hlc c;
	uint64_t before;

	(void)state;
	before = HLC_MAKE(1000, 1);
	hlc_init(&c, before);
	assert_int_equal(hlc_recv(&c, HLC_MAKE(2001, 0), 1000, 1000),
	    SAMEN_EDRIFT);
	assert_true(c.last == before);
	assert_int_equal(hlc_recv(&c, HLC_MAKE(0xffffffffffffULL, 0xffff),
	    1000, 1000), SAMEN_EDRIFT);
	assert_true(c.last == before);
	assert_int_equal(hlc_recv(&c, HLC_MAKE(1001, 0), 1000, 0),
	    SAMEN_EDRIFT);
	assert_true(c.last == before);
	/* The clock was left alone: the next stamp follows the old state. */
	assert_true(hlc_now(&c, 1000) == before + 1);
}

static void
test_too_far(void **state)
{
	(void)state;
	assert_int_equal(hlc_too_far(HLC_MAKE(2001, 0), 1000, 1000), 1);
	assert_int_equal(hlc_too_far(HLC_MAKE(2000, 0), 1000, 1000), 0);
	assert_int_equal(hlc_too_far(HLC_MAKE(1999, 0xffff), 1000, 1000), 0);
	assert_int_equal(hlc_too_far(HLC_MAKE(1000, 0), 1000, 0), 0);
	assert_int_equal(hlc_too_far(HLC_MAKE(1001, 0), 1000, 0), 1);
	/* The past is never too far. */
	assert_int_equal(hlc_too_far(HLC_MAKE(0, 0), 1000, 0), 0);
	assert_int_equal(hlc_too_far(HLC_MAKE(5, 3), 1764028596123ULL, 0),
	    0);
	/* Far future. */
	assert_int_equal(hlc_too_far(HLC_MAKE(0xffffffffffffULL, 0xffff), 0,
	    0), 1);
	assert_int_equal(hlc_too_far(HLC_MAKE(1764028596123ULL + 60001, 0),
	    1764028596123ULL, 60000), 1);
	assert_int_equal(hlc_too_far(HLC_MAKE(1764028596123ULL + 60000, 0),
	    1764028596123ULL, 60000), 0);
	/* No wrap-around with large limits. */
	assert_int_equal(hlc_too_far(HLC_MAKE(0xffffffffffffULL, 0xffff),
	    0xfffffffffff0ULL, UINT64_MAX), 0);
}

static void
check_format(uint64_t ts, const char *want)
{
	char out[32];

	memset(out, 'X', sizeof(out));
	hlc_format(out, ts);
	assert_non_null(memchr(out, '\0', sizeof(out)));
	assert_string_equal(out, want);
}

static void
test_format(void **state)
{
	(void)state;
	/* Expected strings from Python's datetime, independently. */
	check_format(HLC_MAKE(0, 0), "1970-01-01T00:00:00.000Z");
	check_format(HLC_MAKE(1, 0), "1970-01-01T00:00:00.001Z");
	check_format(HLC_MAKE(86399999, 0), "1970-01-01T23:59:59.999Z");
	check_format(HLC_MAKE(1764028596123ULL, 0),
	    "2025-11-24T23:56:36.123Z");
	/* The counter is not part of the time. */
	check_format(HLC_MAKE(1764028596123ULL, 0xffff),
	    "2025-11-24T23:56:36.123Z");
	check_format(HLC_MAKE(1000000000000ULL, 42),
	    "2001-09-09T01:46:40.000Z");
	check_format(HLC_MAKE(951782400999ULL, 0),
	    "2000-02-29T00:00:00.999Z");
	check_format(HLC_MAKE(1583020799999ULL, 0),
	    "2020-02-29T23:59:59.999Z");
	check_format(HLC_MAKE(4107542399999ULL, 0),
	    "2100-02-28T23:59:59.999Z");
	check_format(HLC_MAKE(4107542400000ULL, 0),
	    "2100-03-01T00:00:00.000Z");
	check_format(HLC_MAKE(253402300799999ULL, 0),
	    "9999-12-31T23:59:59.999Z");
	/* The second's text is kept: the same second again, another,
	 * and back. */
	check_format(HLC_MAKE(1764028596123ULL, 0),
	    "2025-11-24T23:56:36.123Z");
	check_format(HLC_MAKE(1764028596007ULL, 0),
	    "2025-11-24T23:56:36.007Z");
	check_format(HLC_MAKE(1764028597000ULL, 0),
	    "2025-11-24T23:56:37.000Z");
	check_format(HLC_MAKE(1764028596999ULL, 0),
	    "2025-11-24T23:56:36.999Z");
	check_format(HLC_MAKE(253402300799999ULL, 0),
	    "9999-12-31T23:59:59.999Z");
	check_format(HLC_MAKE(253402300799001ULL, 0),
	    "9999-12-31T23:59:59.001Z");
	/* A five-digit year, and back to four. */
	check_format(HLC_MAKE(253402300800000ULL, 0),
	    "10000-01-01T00:00:00.000Z");
	check_format(HLC_MAKE(0, 0), "1970-01-01T00:00:00.000Z");
}

/*
 * A device whose clock ran two days ahead, set right: its next timestamp
 * is the wall clock's, not the stored one's successor (issue 28).
 */
static void
test_bound(void **state)
{
	const uint64_t day = 86400000, wall = 1764028596123ULL;
	struct hlc c;
	char span[32];

	(void)state;
	hlc_init(&c, HLC_MAKE(wall + 2 * day, 7));
	assert_true(hlc_bound(&c, wall, 600000) == 2 * day);
	assert_true(hlc_now(&c, wall) == HLC_MAKE(wall, 0));
	/* Monotone again from there, and said once. */
	assert_true(hlc_bound(&c, wall, 600000) == 0);
	assert_true(hlc_now(&c, wall) == HLC_MAKE(wall, 1));
	/* Within the skew: left alone (a peer a little ahead is normal). */
	hlc_init(&c, HLC_MAKE(wall + 600000, 3));
	assert_true(hlc_bound(&c, wall, 600000) == 0);
	assert_true(hlc_now(&c, wall) == HLC_MAKE(wall + 600000, 4));
	hlc_init(&c, HLC_MAKE(wall + 600001, 0));
	assert_true(hlc_bound(&c, wall, 600000) == 600001);
	assert_true(hlc_now(&c, wall) == HLC_MAKE(wall, 0));
	/* Behind the wall clock: nothing to do. */
	hlc_init(&c, HLC_MAKE(wall - day, 0));
	assert_true(hlc_bound(&c, wall, 600000) == 0);
	/* Ten years ahead, and at wall 0. */
	hlc_init(&c, HLC_MAKE(wall + 3650 * day, 0));
	assert_true(hlc_bound(&c, wall, 0) == 3650 * day);
	hlc_init(&c, HLC_MAKE(5, 0));
	assert_true(hlc_bound(&c, 0, 1) == 5);
	assert_true(hlc_now(&c, 0) == HLC_MAKE(0, 0) + 1);

	hlc_span(span, 2 * day - 250);
	assert_string_equal(span, "2d 0h");
	hlc_span(span, 2 * day + 5 * 3600000);
	assert_string_equal(span, "2d 5h");
	hlc_span(span, 3650 * day);
	assert_string_equal(span, "3650d 0h");
	hlc_span(span, 3 * 3600000 + 5 * 60000);
	assert_string_equal(span, "3h 5m");
	hlc_span(span, 61000);
	assert_string_equal(span, "1m 1s");
	hlc_span(span, 42000);
	assert_string_equal(span, "42s");
	hlc_span(span, 300);
	assert_string_equal(span, "0.3s");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_macros),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_now_wall_ahead),
		cmocka_unit_test(test_now_wall_equal_or_behind),
		cmocka_unit_test(test_counter_overflow),
		cmocka_unit_test(test_now_random_walk),
		cmocka_unit_test(test_recv_ahead),
		cmocka_unit_test(test_recv_behind),
		cmocka_unit_test(test_recv_drift),
		cmocka_unit_test(test_too_far),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
