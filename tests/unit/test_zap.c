/* test_zap: refused connections are all counted, and logged once, then summed up once a minute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../../daemon/zap.c"

/*
 * The log goes to stderr: the tests point stderr at a file of their own
 * and read back the lines that say "refused".
 */
struct capture {
	char path[64];
	int saved;
};

static void
capture_start(struct capture *c)
{
	int fd;

	strcpy(c->path, "/tmp/samen-zap-XXXXXX");
	assert_true((fd = mkstemp(c->path)) >= 0);
	fflush(stderr);
	c->saved = dup(2);
	assert_true(c->saved >= 0);
	assert_true(dup2(fd, 2) == 2);
	close(fd);
}

/* The lines logged since capture_start that hold what (NULL: all of
 * "refused"); the first one is copied to first, if not NULL. */
static int
capture_count(struct capture *c, const char *what, char *first, size_t len)
{
	char line[512];
	FILE *f;
	int n = 0;

	fflush(stderr);
	assert_non_null(f = fopen(c->path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "refused") == NULL ||
		    (what != NULL && strstr(line, what) == NULL))
			continue;
		if (n++ == 0 && first != NULL)
			snprintf(first, len, "%s", line);
	}
	fclose(f);
	return n;
}

static void
capture_end(struct capture *c)
{
	fflush(stderr);
	assert_true(dup2(c->saved, 2) == 2);
	close(c->saved);
	unlink(c->path);
}

static struct zap *
zap_new(void)
{
	struct zap *z = calloc(1, sizeof(*z));

	assert_non_null(z);
	return z;
}

/*
 * One stranger tries 200 times in a minute: one line, then one sum when
 * the minute is over, and every refusal counted.  Quiet for a minute
 * after that, its next try is news again.
 */
static void
test_one_stranger(void **state)
{
	struct capture c;
	struct zap *z = zap_new();
	uint8_t key[32];
	char line[512];
	uint64_t t0 = 1000000;

	(void)state;
	randombytes_buf(key, sizeof(key));
	capture_start(&c);
	for (int i = 0; i < 200; i++)
		refusal_note(z, "192.0.2.7", key, t0 + (uint64_t)i * 100);
	zap_tick(z, t0 + 200 * 100);
	assert_int_equal(zap_refused(z), 200);
	assert_int_equal(capture_count(&c, NULL, line, sizeof(line)), 1);
	assert_non_null(strstr(line, "refused a connection from 192.0.2.7: "
	    "unknown key"));

	zap_tick(z, t0 + QUIET_MS);
	assert_int_equal(capture_count(&c, NULL, NULL, 0), 2);
	assert_int_equal(capture_count(&c, "refused 199 more connections "
	    "from 192.0.2.7 in 60 s: unknown key", NULL, 0), 1);
	/* Nothing more to say; then forgotten. */
	zap_tick(z, t0 + QUIET_MS + 1000);
	zap_tick(z, t0 + 2 * QUIET_MS + 1000);
	assert_int_equal(capture_count(&c, NULL, NULL, 0), 2);
	assert_int_equal(z->nseen, 0);
	refusal_note(z, "192.0.2.7", key, t0 + 3 * QUIET_MS);
	assert_int_equal(capture_count(&c, "refused a connection", NULL, 0),
	    2);
	assert_int_equal(zap_refused(z), 201);
	capture_end(&c);
	free(z);
}

/*
 * A stranger that rotates keys (or addresses) as fast as it can: at most
 * NEW_LINES lines for the new ones, one sum for the rest each minute, and
 * no more than TRACKED of them remembered.  A client that is not CURVE at
 * all is said so.
 */
static void
test_rotating_keys(void **state)
{
	struct capture c;
	struct zap *z = zap_new();
	uint8_t key[32];
	uint64_t t0 = 1000000, t = t0;
	int lines;

	(void)state;
	capture_start(&c);
	for (int i = 0; i < 5000; i++, t += 10) {
		randombytes_buf(key, sizeof(key));
		refusal_note(z, i % 2 ? "192.0.2.7" : "2001:db8::7", key, t);
		zap_tick(z, t);
		assert_true(z->nseen <= TRACKED);
	}
	assert_int_equal(zap_refused(z), 5000);
	/* 50 s in: only the first lines so far. */
	assert_int_equal(capture_count(&c, NULL, NULL, 0), NEW_LINES);
	zap_tick(z, t0 + QUIET_MS + 1000);
	lines = capture_count(&c, NULL, NULL, 0);
	assert_int_equal(lines, NEW_LINES + 1);
	assert_int_equal(capture_count(&c, "refused 4984 more connections "
	    "from other addresses or keys", NULL, 0), 1);
	/* A new minute: a few new lines again, at most. */
	for (int i = 0; i < 1000; i++, t += 10) {
		randombytes_buf(key, sizeof(key));
		refusal_note(z, "192.0.2.8", key, t0 + QUIET_MS + 1 + i);
	}
	assert_int_equal(capture_count(&c, NULL, NULL, 0),
	    lines + NEW_LINES);
	assert_true(z->nseen <= TRACKED);

	refusal_note(z, "198.51.100.1", NULL, t0 + 3 * QUIET_MS);
	assert_int_equal(capture_count(&c, "refused a connection from "
	    "198.51.100.1: not CURVE", NULL, 0), 1);
	assert_int_equal(zap_refused(z), 6001);
	capture_end(&c);
	free(z);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_stranger),
		cmocka_unit_test(test_rotating_keys),
	};

	if (sodium_init() < 0)
		return 1;
	log_init(1, LOG_LEVEL_INFO, "test_zap");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
