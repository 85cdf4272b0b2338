/* test_argcheck: samen's argument checks: what passes, what is refused, and what the message says. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "argcheck.h"
#include "ops.h"
#include "protocol.h"
#include "util.h"

/*
 * rc is a refusal whose message, in *cause (read after the call that set
 * it), holds want; frees the message.
 */
static void
expect_refused(int rc, char **cause, const char *want)
{
	assert_int_equal(rc, -EINVAL);
	assert_non_null(*cause);
	if (strstr(*cause, want) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", *cause, want);
	free(*cause);
	*cause = NULL;
}

/* A string of n copies of ch (free with free()). */
static char *
repeat(char ch, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

static void
test_collection(void **state)
{
	char *cause = NULL, *s;

	(void)state;
	assert_int_equal(argcheck_collection("case", &cause), 0);
	assert_int_equal(argcheck_collection("a-b_9", &cause), 0);
	assert_null(cause);
	expect_refused(argcheck_collection("Case", &cause), &cause,
	    "invalid collection name \"Case\"");
	expect_refused(argcheck_collection("9case", &cause), &cause,
	    "starting with a letter");
	expect_refused(argcheck_collection("", &cause), &cause, "1-32");
	s = repeat('a', OPS_MAX_COLLECTION);
	assert_int_equal(argcheck_collection(s, &cause), 0);
	free(s);
	s = repeat('a', OPS_MAX_COLLECTION + 1);
	expect_refused(argcheck_collection(s, &cause), &cause, "1-32");
	free(s);
}

static void
test_field_and_text(void **state)
{
	char *cause = NULL, *s;

	(void)state;
	assert_int_equal(argcheck_field("Name_1", 6, &cause), 0);
	assert_int_equal(argcheck_field("9lives", 6, &cause), 0);
	/* n bounds the name: what follows is not looked at. */
	assert_int_equal(argcheck_field("ab=cd", 2, &cause), 0);
	expect_refused(argcheck_field("-x", 2, &cause), &cause,
	    "invalid field name \"-x\"");
	expect_refused(argcheck_field("", 0, &cause), &cause, "1-64");
	expect_refused(argcheck_field("a b", 3, &cause), &cause, "a b");

	assert_int_equal(argcheck_text("note text", "héhé", 8, &cause), 0);
	expect_refused(argcheck_text("note text", "123456789", 8, &cause),
	    &cause, "note text is too long: 9 bytes, at most 8");
	expect_refused(argcheck_text("value of x", "a\xff", 8, &cause),
	    &cause, "value of x is not valid UTF-8");
	s = repeat('v', OPS_MAX_VALUE);
	assert_int_equal(argcheck_text("v", s, OPS_MAX_VALUE, &cause), 0);
	free(s);
}

static void
test_rid(void **state)
{
	uint8_t bin[RID_LEN];
	char text[RID_TEXTLEN + 1], lower[RID_TEXTLEN + 1];
	char out[RID_TEXTLEN + 1];
	char *cause = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < RID_LEN; i++)
		bin[i] = (uint8_t)(i * 13 + 1);
	bin[0] = 0x01;
	rid_encode(text, bin);
	for (i = 0; i <= RID_TEXTLEN; i++)
		lower[i] = (char)(text[i] >= 'A' && text[i] <= 'Z' ?
		    text[i] - 'A' + 'a' : text[i]);
	/* Any case in, the canonical upper case out. */
	assert_int_equal(argcheck_rid(lower, out, &cause), 0);
	assert_string_equal(out, text);
	lower[RID_TEXTLEN - 1] = '\0';
	expect_refused(argcheck_rid(lower, out, &cause), &cause,
	    "expected the 26-character id");
	expect_refused(argcheck_rid("", out, &cause), &cause, "invalid id");
}

static void
test_devid(void **state)
{
	uint8_t key[DEVID_KEYLEN];
	char text[DEVID_TEXTLEN + 1], upper[DEVID_TEXTLEN + 1];
	char out[DEVID_TEXTLEN + 1];
	char *cause = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < DEVID_KEYLEN; i++)
		key[i] = (uint8_t)(i * 7 + 3);
	devid_encode(text, key);
	for (i = 0; i <= DEVID_TEXTLEN; i++)
		upper[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ?
		    text[i] - 'a' + 'A' : text[i]);
	assert_int_equal(argcheck_devid(upper, out, &cause), 0);
	assert_string_equal(out, text);

	/* Each mistake is named: the length, the character, the checksum. */
	upper[10] = '\0';
	expect_refused(argcheck_devid(upper, out, &cause), &cause,
	    "10 characters, expected 56");
	strcpy(upper, text);
	upper[4] = '1';
	expect_refused(argcheck_devid(upper, out, &cause), &cause,
	    "'1' (character 5) is not one of a-z 2-7");
	upper[4] = ' ';
	expect_refused(argcheck_devid(upper, out, &cause), &cause,
	    "character 5 is not one of a-z 2-7");
	strcpy(upper, text);
	upper[20] = upper[20] == 'a' ? 'b' : 'a';
	expect_refused(argcheck_devid(upper, out, &cause), &cause,
	    "checksum mismatch");
}

static void
test_addr(void **state)
{
	static const char *const good[] = {
		"tcp://example.org:7400", "tcp://10.0.0.1:1",
		"tcp://host_1.lan:65535", "tcp://[::1]:7400",
		"tcp://[fe80::1]:80",
	};
	static const struct {
		const char *addr;
		const char *says;
	} bad[] = {
		{ "udp://h:1", "expected tcp://HOST:PORT" },
		{ "tcp://h", "no :PORT" },
		{ "tcp://:80", "no HOST" },
		{ "tcp://[::1:80", "no ] after the IPv6 address" },
		{ "tcp://[1.2.3.4]:80", "not an IPv6 address" },
		{ "tcp://[::g]:80", "not an IPv6 address" },
		{ "tcp://::1:80", "an IPv6 address goes in [brackets]" },
		{ "tcp://a b:80", "HOST may hold only" },
		{ "tcp://h:0", "PORT must be a number from 1 to 65535" },
		{ "tcp://h:65536", "PORT must be" },
		{ "tcp://h:", "PORT must be" },
		{ "tcp://h:8o", "PORT must be" },
		{ "tcp://h:000080", "PORT must be" },
	};
	char *cause = NULL, *host, *addr;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (argcheck_addr(good[i], &cause) != 0)
			fail_msg("%s refused: %s", good[i], cause);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(argcheck_addr(bad[i].addr, &cause), &cause,
		    bad[i].says);
	host = repeat('h', ARGCHECK_HOST_MAX);
	addr = xasprintf("tcp://%s:1", host);
	assert_int_equal(argcheck_addr(addr, &cause), 0);
	free(addr);
	addr = xasprintf("tcp://%sh:1", host);
	expect_refused(argcheck_addr(addr, &cause), &cause,
	    "HOST is longer than 253 bytes");
	free(addr);
	free(host);
}

static void
test_circle(void **state)
{
	char *cause = NULL, *s;

	(void)state;
	assert_int_equal(argcheck_circle("Team-1_a", &cause), 0);
	expect_refused(argcheck_circle("", &cause), &cause,
	    "invalid circle name \"\": 1-64");
	expect_refused(argcheck_circle("wijk team", &cause), &cause,
	    "A-Z a-z 0-9 _ -");
	s = repeat('c', ARGCHECK_CIRCLE_MAX);
	assert_int_equal(argcheck_circle(s, &cause), 0);
	free(s);
	s = repeat('c', ARGCHECK_CIRCLE_MAX + 1);
	expect_refused(argcheck_circle(s, &cause), &cause, "1-64");
	free(s);
}

static void
test_pair_and_where(void **state)
{
	const char *field, *value;
	char *cause = NULL, *s, *arg;
	size_t flen;

	(void)state;
	/* At the first '=': a value may hold more. */
	assert_int_equal(argcheck_pair("status=a=b", &field, &flen, &value,
	    &cause), 0);
	assert_int_equal(flen, 6);
	assert_memory_equal(field, "status", 6);
	assert_string_equal(value, "a=b");
	assert_int_equal(argcheck_pair("x=", &field, &flen, &value, &cause),
	    0);
	assert_string_equal(value, "");
	expect_refused(argcheck_pair("status", &field, &flen, &value,
	    &cause), &cause, "expected FIELD=VALUE: \"status\"");

	assert_int_equal(argcheck_where("status=open", &field, &flen, &value,
	    &cause), 0);
	assert_string_equal(value, "open");
	expect_refused(argcheck_where("=open", &field, &flen, &value,
	    &cause), &cause, "invalid field name");
	expect_refused(argcheck_where("open", &field, &flen, &value,
	    &cause), &cause, "expected FIELD=VALUE");
	s = repeat('v', OPS_MAX_VALUE + 1);
	arg = xasprintf("status=%s", s);
	expect_refused(argcheck_where(arg, &field, &flen, &value, &cause),
	    &cause, "value of status is too long");
	free(arg);
	free(s);
}

static void
test_assign(void **state)
{
	struct argcheck_assign a;
	char *cause = NULL, *s, *arg;

	(void)state;
	assert_int_equal(argcheck_assign("name=Jansen", &a, &cause), 0);
	assert_int_equal(a.how, CTL_ASSIGN_SET);
	assert_int_equal(a.flen, 4);
	assert_string_equal(a.value, "Jansen");
	assert_int_equal(argcheck_assign("tags+=urgent", &a, &cause), 0);
	assert_int_equal(a.how, CTL_ASSIGN_ADD);
	assert_int_equal(a.flen, 4);
	assert_memory_equal(a.field, "tags", 4);
	assert_string_equal(a.value, "urgent");
	assert_int_equal(argcheck_assign("tags-=urgent", &a, &cause), 0);
	assert_int_equal(a.how, CTL_ASSIGN_REM);
	assert_int_equal(a.flen, 4);
	expect_refused(argcheck_assign("+=x", &a, &cause), &cause,
	    "invalid field name");
	expect_refused(argcheck_assign("name", &a, &cause), &cause,
	    "expected FIELD=VALUE");
	/* An element is held to its own, smaller, cap. */
	s = repeat('e', OPS_MAX_ELEMENT + 1);
	arg = xasprintf("tags+=%s", s);
	expect_refused(argcheck_assign(arg, &a, &cause), &cause,
	    "element of tags is too long");
	free(arg);
	arg = xasprintf("tags=%s", s);
	assert_int_equal(argcheck_assign(arg, &a, &cause), 0);
	free(arg);
	free(s);
}

static void
test_timeout(void **state)
{
	static const char *const bad[] = {
		"0", "-1", "nan", "inf", "1e7", "abc", "1s", "",
	};
	char *cause = NULL;
	double secs = 0;
	size_t i;

	(void)state;
	assert_int_equal(argcheck_timeout("0.5", &secs, &cause), 0);
	assert_true(secs == 0.5);
	assert_int_equal(argcheck_timeout("1e6", &secs, &cause), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(argcheck_timeout(bad[i], &secs, &cause), &cause,
		    "is not a number of seconds");
}

/* Retention: y 365 days, m 30, d 1; none is 0; a hundred years at most. */
static void
test_duration(void **state)
{
	static const struct {
		const char *s;
		uint32_t days;
	} good[] = {
		{ "7y", 2555 }, { "18m", 540 }, { "30d", 30 }, { "1d", 1 },
		{ "none", 0 }, { "100y", 36500 }, { "36500d", 36500 },
	};
	static const char *const bad[] = {
		"", "0d", "7", "y", "7w", "7Y", "-1d", "1.5y", "101y", "36501d",
		"7yy", " 7y", "7y ", "None", "0000001d", "1217m",
	};
	char *cause = NULL;
	uint32_t days;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		days = 99;
		assert_int_equal(argcheck_duration(good[i].s, &days, &cause),
		    0);
		assert_int_equal(days, good[i].days);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(argcheck_duration(bad[i], &days, &cause),
		    &cause, "invalid retention");
}

static void
test_since(void **state)
{
	static const char *const bad[] = {
		"", "2026", "2026-13-01", "2026-02-30", "2025-02-29",
		"1969-12-31", "2026-1-01", "2026-01-01T25:00", "2026-01-01T10",
		"2026-01-01T10:00:60", "2026-01-01T10:00:00.12",
		"2026-01-01T10:00Zx", "yesterday", "7d",
	};
	char *cause = NULL;
	uint64_t ms = 0;
	size_t i;

	(void)state;
	assert_int_equal(argcheck_since("1970-01-01", &ms, &cause), 0);
	assert_true(ms == 0);
	assert_int_equal(argcheck_since("2026-12-01", &ms, &cause), 0);
	assert_true(ms == 1796083200000ULL);
	/* As samen prints a time, and shorter. */
	assert_int_equal(argcheck_since("2026-11-24T23:36:36.123Z", &ms,
	    &cause), 0);
	assert_true(ms == 1795563396123ULL);
	assert_int_equal(argcheck_since("2026-11-24T23:36", &ms, &cause), 0);
	assert_true(ms == 1795563360000ULL);
	assert_int_equal(argcheck_since("2024-02-29 00:00:01", &ms, &cause),
	    0);
	assert_true(ms == 1709164801000ULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(argcheck_since(bad[i], &ms, &cause), &cause,
		    "invalid time");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collection),
		cmocka_unit_test(test_field_and_text),
		cmocka_unit_test(test_rid),
		cmocka_unit_test(test_devid),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_circle),
		cmocka_unit_test(test_pair_and_where),
		cmocka_unit_test(test_assign),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_since),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
