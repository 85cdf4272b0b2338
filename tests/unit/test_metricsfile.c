/* test_metricsfile: the metrics file on a real loop: first write, refresh, failure, close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "metricsfile.h"

struct world {
	uv_loop_t loop;
	struct metrics *m;
	struct metric *g;
	int collected;
	char dir[64];
	char path[128];
};

static void
collect(void *arg)
{
	struct world *w = arg;

	w->collected++;
	metrics_set(w->g, NULL, w->collected);
}

/* The file's text, or NULL if there is none; free with free(). */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 4096);
	assert_non_null(buf);
	n = fread(buf, 1, 4095, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Runs the loop until the file holds want (or fails after 10 s). */
static void
wait_for(struct world *w, const char *want)
{
	struct timespec ts = { 0, 5 * 1000000L };

	for (int i = 0; i < 2000; i++) {
		char *text;

		uv_run(&w->loop, UV_RUN_NOWAIT);
		if ((text = slurp(w->path)) != NULL &&
		    strstr(text, want) != NULL) {
			free(text);
			return;
		}
		free(text);
		nanosleep(&ts, NULL);
	}
	fail_msg("%s never held \"%s\"", w->path, want);
}

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	log_init(1, LOG_LEVEL_ERROR, "test_metricsfile");
	if (w == NULL || uv_loop_init(&w->loop) != 0)
		return -1;
	snprintf(w->dir, sizeof(w->dir), "/tmp/samen-mf-XXXXXX");
	if (mkdtemp(w->dir) == NULL)
		return -1;
	w->m = metrics_open();
	w->g = metrics_gauge(w->m, "x_collected", "collect calls", NULL);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	/* libuv's habit: nothing may be left open on the loop. */
	assert_int_equal(uv_run(&w->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&w->loop), 0);
	metrics_close(w->m);
	rmdir(w->dir);
	free(w);
	return 0;
}

static void
test_writes_and_removes(void **state)
{
	struct world *w = *state;
	struct metricsfile *mf;
	char *cause = NULL;
	struct stat st;

	/* A relative path is the data directory's. */
	assert_int_equal(metricsfile_open(&mf, &w->loop, w->m, w->dir,
	    "samen.prom", 20, collect, w, &cause), 0);
	snprintf(w->path, sizeof(w->path), "%s/samen.prom", w->dir);
	assert_string_equal(metricsfile_path(mf), w->path);
	/* The first write comes at once, collected just before. */
	wait_for(w, "x_collected 1\n");
	/* Then again, every interval, with what collect set. */
	wait_for(w, "x_collected 3\n");
	assert_int_equal(stat(w->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* Closed: the file goes, and so does every handle. */
	metricsfile_close(mf);
	assert_int_equal(uv_run(&w->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(access(w->path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

/* A directory that is not there yet: samend carries on, and writes it later. */
static void
test_recovers(void **state)
{
	struct world *w = *state;
	struct metricsfile *mf;
	char *cause = NULL, sub[96];
	struct timespec ts = { 0, 50 * 1000000L };

	snprintf(sub, sizeof(sub), "%s/later", w->dir);
	snprintf(w->path, sizeof(w->path), "%s/samen.prom", sub);
	assert_int_equal(metricsfile_open(&mf, &w->loop, w->m, "/nonexistent",
	    w->path, 10, collect, w, &cause), 0);
	for (int i = 0; i < 5; i++) {
		uv_run(&w->loop, UV_RUN_NOWAIT);
		nanosleep(&ts, NULL);
	}
	assert_true(w->collected >= 2);
	assert_int_equal(mkdir(sub, 0700), 0);
	wait_for(w, "x_collected ");
	metricsfile_close(mf);
	assert_int_equal(uv_run(&w->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(access(w->path, F_OK), -1);
	assert_int_equal(rmdir(sub), 0);
}

/* Closed with a write on the pool: freed after it, and the file still goes. */
static void
test_close_while_writing(void **state)
{
	struct world *w = *state;
	struct metricsfile *mf;
	char *cause = NULL;

	snprintf(w->path, sizeof(w->path), "%s/busy.prom", w->dir);
	assert_int_equal(metricsfile_open(&mf, &w->loop, w->m, NULL, w->path,
	    1000, NULL, NULL, &cause), 0);
	/* One turn of the loop: the timer fires and queues the write. */
	uv_run(&w->loop, UV_RUN_NOWAIT);
	metricsfile_close(mf);
	assert_int_equal(uv_run(&w->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(access(w->path, F_OK), -1);
}

static void
test_bad_path(void **state)
{
	struct world *w = *state;
	struct metricsfile *mf;
	char *cause = NULL;

	assert_true(metricsfile_open(&mf, &w->loop, w->m, w->dir, "", 10,
	    NULL, NULL, &cause) < 0);
	assert_non_null(cause);
	assert_null(mf);
	free(cause);
	assert_true(metricsfile_open(&mf, &w->loop, w->m, w->dir, "/tmp/", 10,
	    NULL, NULL, &cause) < 0);
	free(cause);
	metricsfile_close(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_writes_and_removes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_recovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_while_writing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_path, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
