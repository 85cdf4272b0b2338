/* test_keyfile: the key file written atomically and read back, and the data directory's mode. */
#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "keyfile.h"
#include "util.h"

static char root[64];

static int
setup(void **state)
{
	(void)state;
	strcpy(root, "/tmp/test_keyfile.XXXXXX");
	return mkdtemp(root) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", root);
	int rc;

	(void)state;
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void
test_make_dir(void **state)
{
	char *dir = xasprintf("%s/a/b/samen", root), *cause = NULL;
	char *parent = xasprintf("%s/a/b", root);
	char *file = xasprintf("%s/x", dir);
	FILE *f;

	(void)state;
	assert_int_equal(keyfile_make_dir(dir, &cause), 0);
	assert_int_equal(mode_of(dir), 0700);
	assert_int_equal(mode_of(parent) & 0700, 0700);
	/* An empty directory is made private; one in use is left alone. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(keyfile_make_dir(dir, &cause), 0);
	assert_int_equal(mode_of(dir), 0700);
	assert_non_null(f = fopen(file, "w"));
	fclose(f);
	assert_int_equal(chmod(dir, 0750), 0);
	assert_int_equal(keyfile_make_dir(dir, &cause), 0);
	assert_int_equal(mode_of(dir), 0750);
	/* A file where the directory should be. */
	assert_int_equal(keyfile_make_dir(file, &cause), -ENOTDIR);
	assert_non_null(strstr(cause, "not a directory"));
	free(cause);
	free(file);
	free(parent);
	free(dir);
}

static void
test_write_and_read(void **state)
{
	static const uint8_t data[] = "wrapped keys";
	char *path = xasprintf("%s/%s", root, KEYFILE_NAME), *cause = NULL;
	char *tmp = xasprintf("%s.tmp", path);
	uint8_t *buf;
	size_t len;
	FILE *f;

	(void)state;
	assert_int_equal(keyfile_exists(root, &cause), 0);
	assert_int_equal(keyfile_read(root, &buf, &len), -ENOENT);
	assert_null(buf);
	/* A stale temporary file, loosened, does not lend its mode. */
	assert_non_null(f = fopen(tmp, "w"));
	fclose(f);
	assert_int_equal(chmod(tmp, 0644), 0);
	assert_int_equal(keyfile_write(root, data, sizeof(data), &cause), 0);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(keyfile_exists(root, &cause), 1);
	assert_int_equal(keyfile_read(root, &buf, &len), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(buf, data, len);
	free(buf);
	free(tmp);
	free(path);
}

static void
test_too_large(void **state)
{
	uint8_t *big = xcalloc(1, KEYFILE_MAX + 1), *buf;
	char *cause = NULL;
	size_t len;

	(void)state;
	assert_int_equal(keyfile_write(root, big, KEYFILE_MAX, &cause), 0);
	assert_int_equal(keyfile_read(root, &buf, &len), 0);
	assert_int_equal(len, KEYFILE_MAX);
	free(buf);
	assert_int_equal(keyfile_write(root, big, KEYFILE_MAX + 1, &cause),
	    0);
	assert_int_equal(keyfile_read(root, &buf, &len), SAMEN_EKEYFILE);
	assert_null(buf);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_make_dir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_and_read, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
