/* fuzz_conf: the config file's parser, and what --check-config prints of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "error.h"
#include "fixture.h"

/*
 * Input: a config file's contents.  What parses is printed as
 * `samend --check-config` prints it (conf_print, the normalised file), and
 * that text must parse again to the same configuration: the printout is
 * documented as a file samend takes.
 */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* conf_print into a new string (free()). */
static char *
print(const struct conf *c, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (f == NULL)
		abort();
	conf_print(f, c);
	if (fclose(f) != 0)
		abort();
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = malloc(sizeof(*c)), *again = malloc(sizeof(*again));
	char *cause = NULL, *text, *text2;
	size_t len, len2;
	int rc;

	if (c == NULL || again == NULL)
		abort();
	rc = conf_parse(c, (const char *)data, size, "fuzz.conf", &cause);
	if (rc != 0) {
		/* Refused with the reason, "name:line: why". */
		if (cause == NULL || strncmp(cause, "fuzz.conf", 9) != 0)
			abort();
		free(cause);
		goto out;
	}
	if (cause != NULL)
		abort();
	text = print(c, &len);
	if (conf_parse(again, text, len, "printed", &cause) != 0) {
		fprintf(stderr, "fuzz_conf: the printout does not parse: "
		    "%s\n", cause);
		abort();
	}
	text2 = print(again, &len2);
	if (len2 != len || memcmp(text, text2, len) != 0) {
		fprintf(stderr, "fuzz_conf: the printout parses to another "
		    "configuration\n");
		abort();
	}
	free(text);
	free(text2);
out:
	free(c);
	free(again);
	return 0;
}
