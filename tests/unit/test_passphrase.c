/* test_passphrase: the passphrase from a file or the environment: first line, checks, wiping. */
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
#include "passphrase.h"
#include "util.h"

static char path[64];

static int
setup(void **state)
{
	int fd;

	(void)state;
	strcpy(path, "/tmp/test_passphrase.XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		return -1;
	close(fd);
	unsetenv("SAMEN_PASSPHRASE");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void
write_file(const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* The passphrase from path, or the refusal's code with its message. */
static int
from_file(struct passphrase *p, char **cause)
{
	*cause = NULL;
	return passphrase_get(p, path, "/d", 0, cause);
}

static void
test_first_line(void **state)
{
	struct passphrase p;
	char *cause;

	(void)state;
	write_file("eerste regel\ntweede regel\n", 26);
	assert_int_equal(from_file(&p, &cause), 0);
	assert_string_equal(p.buf, "eerste regel");
	assert_int_equal(p.len, 12);
	/* Nothing of the second line stays behind the first. */
	assert_null(memchr(p.buf + p.len, 't', sizeof(p.buf) - p.len));
	passphrase_wipe(&p);
	assert_int_equal(p.len, 0);
	assert_int_equal(p.buf[0], 0);

	/* A Windows line end, and a file without one. */
	write_file("geheim\r\nrest", 12);
	assert_int_equal(from_file(&p, &cause), 0);
	assert_string_equal(p.buf, "geheim");
	write_file("zonder einde", 12);
	assert_int_equal(from_file(&p, &cause), 0);
	assert_string_equal(p.buf, "zonder einde");
	passphrase_wipe(&p);
}

static void
test_refused(void **state)
{
	struct passphrase p;
	char *cause, *big;

	(void)state;
	write_file("\nsecond", 7);
	assert_int_equal(from_file(&p, &cause), -EINVAL);
	assert_non_null(strstr(cause, "empty passphrase from"));
	free(cause);
	write_file("a\0b\n", 4);
	assert_int_equal(from_file(&p, &cause), -EINVAL);
	assert_non_null(strstr(cause, "holds a NUL byte"));
	free(cause);
	big = xmalloc(PASSPHRASE_MAX + 2);
	memset(big, 'x', PASSPHRASE_MAX + 1);
	big[PASSPHRASE_MAX + 1] = '\n';
	write_file(big, PASSPHRASE_MAX);
	assert_int_equal(from_file(&p, &cause), 0);
	write_file(big, PASSPHRASE_MAX + 2);
	assert_int_equal(from_file(&p, &cause), -EINVAL);
	assert_non_null(strstr(cause, "longer than 1024 bytes"));
	free(cause);
	free(big);
	unlink(path);
	assert_int_equal(from_file(&p, &cause), -ENOENT);
	assert_non_null(strstr(cause, path));
	free(cause);
	passphrase_wipe(&p);
}

/* The file wins over the environment, which wins over the terminal. */
static void
test_environment(void **state)
{
	struct passphrase p;
	char *cause = NULL;

	(void)state;
	setenv("SAMEN_PASSPHRASE", "uit de omgeving", 1);
	assert_int_equal(passphrase_get(&p, NULL, "/d", 1, &cause), 0);
	assert_string_equal(p.buf, "uit de omgeving");
	write_file("uit het bestand\n", 16);
	assert_int_equal(from_file(&p, &cause), 0);
	assert_string_equal(p.buf, "uit het bestand");
	setenv("SAMEN_PASSPHRASE", "", 1);
	assert_int_equal(passphrase_get(&p, NULL, "/d", 0, &cause), -EINVAL);
	assert_non_null(strstr(cause, "from SAMEN_PASSPHRASE"));
	free(cause);
	passphrase_wipe(&p);
	unsetenv("SAMEN_PASSPHRASE");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
