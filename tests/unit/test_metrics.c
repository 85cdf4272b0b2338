/* test_metrics: the registry, the text format it renders, and the atomic file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"
#include "protocol.h"
#include "version.h"

static char *
render(const struct metrics *m)
{
	size_t len;
	char *s = metrics_render(m, &len);

	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	return s;
}

static void
assert_render(const struct metrics *m, const char *want)
{
	char *s = render(m);

	assert_string_equal(s, want);
	free(s);
}

static void
test_empty(void **state)
{
	struct metrics *m = metrics_open();

	(void)state;
	assert_render(m, "");
	metrics_close(m);
	metrics_close(NULL);
}

static void
test_counter_gauge(void **state)
{
	static const char *const peer[] = { "peer", NULL };
	struct metrics *m = metrics_open();
	struct metric *c, *g;
	const char *a = "aaaa", *b = "bbbb";

	(void)state;
	c = metrics_counter(m, "x_sent_total", "things sent", NULL);
	g = metrics_gauge(m, "x_age_seconds", "age per peer", peer);
	/* A family without labels has its series at once; one with, not. */
	assert_render(m,
	    "# HELP x_sent_total things sent\n"
	    "# TYPE x_sent_total counter\n"
	    "x_sent_total 0\n"
	    "# HELP x_age_seconds age per peer\n"
	    "# TYPE x_age_seconds gauge\n");
	metrics_add(c, NULL, 2);
	metrics_add(c, NULL, 1);
	metrics_set(g, &b, 1.5);
	metrics_set(g, &a, 7);
	metrics_add(g, &a, -2);
	assert_true(metrics_value(c, NULL) == 3);
	assert_true(metrics_value(g, &a) == 5);
	assert_true(metrics_value(g, &b) == 1.5);
	assert_render(m,
	    "# HELP x_sent_total things sent\n"
	    "# TYPE x_sent_total counter\n"
	    "x_sent_total 3\n"
	    "# HELP x_age_seconds age per peer\n"
	    "# TYPE x_age_seconds gauge\n"
	    "x_age_seconds{peer=\"bbbb\"} 1.5\n"
	    "x_age_seconds{peer=\"aaaa\"} 5\n");

	/* A removed peer is no longer printed; an unknown one is no error. */
	metrics_remove(g, &b);
	metrics_remove(g, &b);
	assert_true(metrics_value(g, &b) == 0);
	assert_render(m,
	    "# HELP x_sent_total things sent\n"
	    "# TYPE x_sent_total counter\n"
	    "x_sent_total 3\n"
	    "# HELP x_age_seconds age per peer\n"
	    "# TYPE x_age_seconds gauge\n"
	    "x_age_seconds{peer=\"aaaa\"} 5\n");
	metrics_clear(g);
	metrics_set(g, &b, 0.25);
	assert_render(m,
	    "# HELP x_sent_total things sent\n"
	    "# TYPE x_sent_total counter\n"
	    "x_sent_total 3\n"
	    "# HELP x_age_seconds age per peer\n"
	    "# TYPE x_age_seconds gauge\n"
	    "x_age_seconds{peer=\"bbbb\"} 0.25\n");
	metrics_close(m);
}

/* Backslash, double quote and newline are escaped; UTF-8 goes as it is. */
static void
test_escaping(void **state)
{
	static const char *const labels[] = { "reason", "where", NULL };
	const char *v1[] = { "a\\b\"c\nd", "wijk é" };
	struct metrics *m = metrics_open();
	struct metric *c;

	(void)state;
	c = metrics_counter(m, "x_rejected_total",
	    "refused: a\\b \"quoted\"\nsecond line", labels);
	metrics_add(c, v1, 1);
	assert_render(m,
	    "# HELP x_rejected_total refused: a\\\\b \"quoted\"\\nsecond "
	    "line\n"
	    "# TYPE x_rejected_total counter\n"
	    "x_rejected_total{reason=\"a\\\\b\\\"c\\nd\",where=\"wijk é\"} 1\n");
	metrics_close(m);
}

static void
test_values(void **state)
{
	struct metrics *m = metrics_open();
	struct metric *g = metrics_gauge(m, "v", "h", NULL);
	static const struct {
		double v;
		const char *text;
	} cases[] = {
		{ 0, "0" }, { -3, "-3" }, { 0.1, "0.1" }, { 1e-6, "1e-06" },
		{ 123456789012, "123456789012" }, { 2.5e20, "2.5e+20" },
		{ 1.0 / 3, "0.33333333333333331" },
	};
	char want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		metrics_set(g, NULL, cases[i].v);
		snprintf(want, sizeof(want), "# HELP v h\n# TYPE v gauge\n"
		    "v %s\n", cases[i].text);
		assert_render(m, want);
	}
	metrics_set(g, NULL, NAN);
	assert_render(m, "# HELP v h\n# TYPE v gauge\nv NaN\n");
	metrics_set(g, NULL, INFINITY);
	assert_render(m, "# HELP v h\n# TYPE v gauge\nv +Inf\n");
	metrics_set(g, NULL, -INFINITY);
	assert_render(m, "# HELP v h\n# TYPE v gauge\nv -Inf\n");
	metrics_close(m);
}

/* Buckets are cumulative; +Inf holds the count; a value on a bound is in. */
static void
test_histogram(void **state)
{
	static const double bounds[] = { 0.001, 0.01, 0.1 };
	static const char *const op[] = { "op", NULL };
	const char *commit = "commit";
	struct metrics *m = metrics_open();
	struct metric *h;

	(void)state;
	h = metrics_histogram(m, "x_seconds", "latency", NULL, bounds, 3);
	assert_render(m,
	    "# HELP x_seconds latency\n"
	    "# TYPE x_seconds histogram\n"
	    "x_seconds_bucket{le=\"0.001\"} 0\n"
	    "x_seconds_bucket{le=\"0.01\"} 0\n"
	    "x_seconds_bucket{le=\"0.1\"} 0\n"
	    "x_seconds_bucket{le=\"+Inf\"} 0\n"
	    "x_seconds_sum 0\n"
	    "x_seconds_count 0\n");
	metrics_observe(h, NULL, 0.0005);
	metrics_observe(h, NULL, 0.001);
	metrics_observe(h, NULL, 0.05);
	metrics_observe(h, NULL, 3);
	assert_render(m,
	    "# HELP x_seconds latency\n"
	    "# TYPE x_seconds histogram\n"
	    "x_seconds_bucket{le=\"0.001\"} 2\n"
	    "x_seconds_bucket{le=\"0.01\"} 2\n"
	    "x_seconds_bucket{le=\"0.1\"} 3\n"
	    "x_seconds_bucket{le=\"+Inf\"} 4\n"
	    "x_seconds_sum 3.0515\n"
	    "x_seconds_count 4\n");
	metrics_close(m);

	/* With labels, le comes last. */
	m = metrics_open();
	h = metrics_histogram(m, "y_seconds", "latency", op, bounds, 1);
	metrics_observe(h, &commit, 0.5);
	assert_render(m,
	    "# HELP y_seconds latency\n"
	    "# TYPE y_seconds histogram\n"
	    "y_seconds_bucket{op=\"commit\",le=\"0.001\"} 0\n"
	    "y_seconds_bucket{op=\"commit\",le=\"+Inf\"} 1\n"
	    "y_seconds_sum{op=\"commit\"} 0.5\n"
	    "y_seconds_count{op=\"commit\"} 1\n");
	metrics_close(m);
}

static void
test_samen(void **state)
{
	struct metrics *m = metrics_open();
	struct metrics_samen s;
	const char *reason = "ESIG";
	char *text, info[128];

	(void)state;
	metrics_samen(m, &s);
	metrics_add(s.rejected, &reason, 2);
	metrics_observe(s.commit_seconds, NULL, 0.003);
	text = render(m);
	snprintf(info, sizeof(info), "\nsamen_info{version=\"%s\","
	    "protocol=\"%d\",schema=\"%d\"} 1\n", SAMEN_VERSION,
	    SAMEN_PROTOCOL_VERSION, SAMEN_SCHEMA_VERSION);
	assert_non_null(strstr(text, info));
	assert_non_null(strstr(text,
	    "\nsamen_changesets_rejected_total{reason=\"ESIG\"} 2\n"));
	assert_non_null(strstr(text,
	    "\nsamen_commit_seconds_bucket{le=\"0.005\"} 1\n"));
	assert_non_null(strstr(text, "# TYPE samen_fsync_seconds histogram\n"));
	free(text);
	metrics_close(m);
}

static char dir[64];

static int
setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/samen-metrics-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

/* The files in dir, but . and .. */
static int
count_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_write_file(void **state)
{
	char path[128], buf[64];
	struct stat st, st2;
	FILE *f;
	size_t n;
	mode_t old = umask(077);	/* samend's */

	(void)state;
	snprintf(path, sizeof(path), "%s/samen.prom", dir);
	assert_int_equal(metrics_write_file(path, "a 1\n", 4), 0);
	assert_int_equal(stat(path, &st), 0);
	/* Readable by the collector, whatever the umask. */
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(count_files(), 1);

	/* Replaced by a rename: a new inode, never the old one rewritten. */
	assert_int_equal(metrics_write_file(path, "a 2\nb 3\n", 8), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st.st_ino != st2.st_ino);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, "a 2\nb 3\n");
	assert_int_equal(count_files(), 1);

	/* A directory that does not exist: the error, and nothing left. */
	snprintf(path, sizeof(path), "%s/missing/samen.prom", dir);
	assert_int_equal(metrics_write_file(path, "a 1\n", 4), -ENOENT);
	/* A directory where the file should be: no temporary file stays. */
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(metrics_write_file(path, "a 1\n", 4) < 0);
	assert_int_equal(count_files(), 2);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/samen.prom", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	umask(old);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_counter_gauge),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_samen),
		cmocka_unit_test_setup(test_write_file, setup_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
