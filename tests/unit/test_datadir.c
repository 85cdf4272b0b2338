/* test_datadir: the data directory both programs find: -d, the environment, the home. */
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "datadir.h"
#include "util.h"

/* Every variable the lookup reads, unset; each test sets its own. */
static int
clean_env(void **state)
{
	(void)state;
	unsetenv("SAMEN_HOME");
	unsetenv("XDG_DATA_HOME");
	setenv("HOME", "/home/w", 1);
	return 0;
}

static void
expect_dir(const char *opt, const char *want)
{
	char *dir = datadir_find(opt);

	assert_non_null(dir);
	assert_string_equal(dir, want);
	free(dir);
}

static void
test_option_wins(void **state)
{
	(void)state;
	setenv("SAMEN_HOME", "/srv/samen", 1);
	setenv("XDG_DATA_HOME", "/data", 1);
	expect_dir("/tmp/d", "/tmp/d");
	expect_dir("rel/dir", "rel/dir");
	/* An empty -d is no choice: the environment decides. */
	expect_dir("", "/srv/samen");
}

static void
test_samen_home(void **state)
{
	(void)state;
	setenv("SAMEN_HOME", "/srv/samen", 1);
	setenv("XDG_DATA_HOME", "/data", 1);
	expect_dir(NULL, "/srv/samen");
	setenv("SAMEN_HOME", "", 1);
	expect_dir(NULL, "/data/samen");
}

static void
test_xdg_data_home(void **state)
{
	(void)state;
	setenv("XDG_DATA_HOME", "/data", 1);
	expect_dir(NULL, "/data/samen");
	setenv("XDG_DATA_HOME", "/data//", 1);
	expect_dir(NULL, "/data/samen");
	setenv("XDG_DATA_HOME", "", 1);
	expect_dir(NULL, "/home/w/.local/share/samen");
}

static void
test_home(void **state)
{
	(void)state;
	expect_dir(NULL, "/home/w/.local/share/samen");
	setenv("HOME", "/home/w/", 1);
	expect_dir(NULL, "/home/w/.local/share/samen");
	setenv("HOME", "/", 1);
	expect_dir(NULL, "/.local/share/samen");
}

/* No $HOME (a service, cron): the password database has the home. */
static void
test_passwd_fallback(void **state)
{
	const struct passwd *pw = getpwuid(getuid());
	char *want;

	(void)state;
	if (pw == NULL || pw->pw_dir == NULL || *pw->pw_dir == '\0')
		skip();
	want = xasprintf("%s/.local/share/samen",
	    strcmp(pw->pw_dir, "/") == 0 ? "" : pw->pw_dir);
	unsetenv("HOME");
	expect_dir(NULL, want);
	setenv("HOME", "", 1);
	expect_dir(NULL, want);
	free(want);
}

/* One directory, one string: the socket's path is built from it. */
static void
test_trailing_slashes(void **state)
{
	(void)state;
	expect_dir("/tmp/d/", "/tmp/d");
	expect_dir("/tmp/d///", "/tmp/d");
	expect_dir("/", "/");
	expect_dir("///", "/");
	setenv("SAMEN_HOME", "/srv/samen/", 1);
	expect_dir(NULL, "/srv/samen");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_option_wins, clean_env),
		cmocka_unit_test_setup(test_samen_home, clean_env),
		cmocka_unit_test_setup(test_xdg_data_home, clean_env),
		cmocka_unit_test_setup(test_home, clean_env),
		cmocka_unit_test_setup(test_passwd_fallback, clean_env),
		cmocka_unit_test_setup(test_trailing_slashes, clean_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
