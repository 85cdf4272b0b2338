/* test_conf: the configuration table: parsing, bounds, errors with file:line, reload. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "error.h"
#include "log.h"

static char path[64];

static void
write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/samen-conf-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
load(struct conf *c, const char *text, char **cause)
{
	int rc;

	write_conf(text);
	rc = conf_load(c, path, 1, cause);
	unlink(path);
	return rc;
}

static void
test_defaults_and_missing_file(void **state)
{
	struct conf c;
	char *cause;

	(void)state;
	assert_int_equal(conf_load(&c, "/nonexistent/samen.conf", 0, &cause),
	    0);
	assert_null(cause);
	assert_int_equal(c.log_level, LOG_LEVEL_INFO);
	assert_int_equal(c.batch_max, 256);
	assert_true(conf_load(&c, "/nonexistent/samen.conf", 1, &cause) < 0);
	assert_non_null(strstr(cause, "/nonexistent/samen.conf"));
	free(cause);
}

static void
test_parse(void **state)
{
	struct conf c;
	char *cause;

	(void)state;
	assert_int_equal(load(&c, "# comment\n; other\n\n[samend]\n"
	    "  log_level =  debug  \nbatch_max=17\n", &cause), 0);
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c.batch_max, 17);
}

static void
expect_error(const char *text, const char *line, const char *words)
{
	struct conf c;
	char *cause = NULL;

	assert_true(load(&c, text, &cause) < 0);
	assert_non_null(cause);
	/* file:line, then the reason */
	assert_non_null(strstr(cause, path));
	assert_non_null(strstr(cause, line));
	assert_non_null(strstr(cause, words));
	free(cause);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("log_level = info\nfoo = 1\n", ":2:", "unknown option");
	expect_error("batch_max = 0\n", ":1:", "out of range");
	expect_error("batch_max = 70000\n", ":1:", "out of range");
	expect_error("batch_max = 12x\n", ":1:", "whole number");
	expect_error("log_level = loud\n", ":1:", "error, warn, info");
	expect_error("\n\njust words\n", ":3:", "name = value");
}

static void
test_print_round_trip(void **state)
{
	struct conf c, back;
	char *cause, *text;
	size_t len;
	FILE *f;

	(void)state;
	conf_defaults(&c);
	c.batch_max = 99;
	c.log_level = LOG_LEVEL_WARN;
	f = open_memstream(&text, &len);
	conf_print(f, &c);
	fclose(f);
	assert_int_equal(load(&back, text, &cause), 0);
	assert_memory_equal(&c, &back, sizeof(c));
	free(text);
}

/*
 * The longest value a file may give, written as tightly as it can be,
 * loads; --check-config prints it with spaces around "=", and that must
 * load too (fuzz_conf found it did not: the line was too long).
 */
static void
test_long_value(void **state)
{
	struct conf c, back;
	char *cause, *text, *line;
	size_t len;
	FILE *f;

	(void)state;
	line = calloc(1, CONF_STRLEN + 16);
	assert_non_null(line);
	strcpy(line, "listen=");
	memset(line + 7, 'x', CONF_STRLEN - 1);
	strcat(line, "\n");
	assert_int_equal(conf_parse(&c, line, strlen(line), "long", &cause),
	    0);
	assert_int_equal(strlen(c.listen), CONF_STRLEN - 1);
	f = open_memstream(&text, &len);
	conf_print(f, &c);
	fclose(f);
	assert_int_equal(conf_parse(&back, text, len, "printed", &cause), 0);
	assert_string_equal(back.listen, c.listen);
	free(text);

	/* One byte more is refused, by name and line. */
	strcpy(line, "listen=");
	memset(line + 7, 'x', CONF_STRLEN);
	line[7 + CONF_STRLEN] = '\0';
	assert_int_equal(conf_parse(&c, line, strlen(line), "long", &cause),
	    SAMEN_EINVAL);
	assert_string_equal(cause, "long:1: listen: too long");
	free(cause);
	free(line);

	/* An empty text is an empty file: the defaults. */
	assert_int_equal(conf_parse(&c, "", 0, "empty", &cause), 0);
	assert_null(cause);
	assert_int_equal(c.batch_max, 256);
}

static void
test_reload(void **state)
{
	struct conf cur, next;
	char *ignored;

	(void)state;
	conf_defaults(&cur);
	next = cur;
	next.batch_max = 5;
	next.wal_autocheckpoint = cur.wal_autocheckpoint + 1;
	conf_apply_reload(&cur, &next, &ignored);
	assert_int_equal(cur.batch_max, 5);
	/* Not reloadable: kept, and named. */
	assert_int_not_equal(cur.wal_autocheckpoint, next.wal_autocheckpoint);
	assert_non_null(ignored);
	assert_string_equal(ignored, "wal_autocheckpoint");
	free(ignored);
	conf_apply_reload(&cur, &cur, &ignored);
	assert_null(ignored);
}

static void
test_metrics_options(void **state)
{
	struct conf c;
	char *cause;

	(void)state;
	conf_defaults(&c);
	assert_string_equal(c.metrics_file, "");
	assert_int_equal(c.metrics_interval, 15);
	assert_int_equal(load(&c, "metrics_file = /var/lib/node/samen.prom\n"
	    "metrics_interval = 60\n", &cause), 0);
	assert_string_equal(c.metrics_file, "/var/lib/node/samen.prom");
	assert_int_equal(c.metrics_interval, 60);
	expect_error("metrics_interval = 0\n", ":1:", "out of range");
	expect_error("metrics_interval = 3601\n", ":1:", "out of range");
}

/*
 * What the man page and the example file are written from (man/confdoc.c)
 * says what samend parses: each option once, documented, with the default
 * conf_defaults sets, as the file would write it.
 */
static void
test_option_table(void **state)
{
	struct conf_option o, p;
	struct conf c, parsed;
	char *cause, text[128];

	(void)state;
	assert_true(conf_noptions() >= 12);
	conf_defaults(&c);
	for (size_t i = 0; i < conf_noptions(); i++) {
		conf_option(i, &o);
		assert_non_null(o.name);
		assert_true(strlen(o.doc) > strlen(o.help) / 2);
		assert_int_equal(o.doc[strlen(o.doc) - 1], '.');
		assert_null(strstr(o.doc, "  "));
		for (size_t j = 0; j < i; j++) {
			conf_option(j, &p);
			assert_string_not_equal(o.name, p.name);
		}
		if (strcmp(o.type, "number") == 0)
			assert_true(atol(o.def) >= o.min &&
			    atol(o.def) <= o.max);
		else if (strcmp(o.type, "string") == 0)
			assert_string_equal(o.def, "");
		/* The default, written out, parses to the default. */
		snprintf(text, sizeof(text), "%s = %s\n", o.name, o.def);
		assert_int_equal(load(&parsed, text, &cause), 0);
		assert_memory_equal(&parsed, &c, sizeof(c));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_missing_file),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_print_round_trip),
		cmocka_unit_test(test_long_value),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_metrics_options),
		cmocka_unit_test(test_option_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
