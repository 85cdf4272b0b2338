/* fuzz_csv: the CSV reader of samen import, and its set cells, on any bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "fixture.h"

/*
 * Input: a file as samen import would read it.  Every row the reader
 * returns must hold NUL-terminated cells inside its buffer and lines that
 * only go forward; a row written back with csv_put_cell must read again
 * as the same cells; every cell splits as a set cell or says why not.
 */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fixture_init();
	return 0;
}

static int
element(void *arg, const char *e, size_t n)
{
	(void)arg;
	/* Borrowed, and NUL-terminated as a C string may need. */
	if (e[n] != '\0')
		abort();
	return 0;
}

/* The row r holds, written and read back. */
static void
again(const struct csv_reader *r)
{
	struct csv_reader r2;
	char *buf = NULL, *cause = NULL;
	size_t len = 0, n, n2;
	FILE *fp;

	/* One empty cell writes an empty line, which reads as no row. */
	if (r->ncells == 1 && r->cells[0].len == 0)
		return;
	if ((fp = open_memstream(&buf, &len)) == NULL)
		abort();
	for (size_t i = 0; i < r->ncells; i++) {
		const char *s = csv_cell(r, i, &n);

		if (i > 0)
			putc(',', fp);
		csv_put_cell(fp, s, n);
	}
	fputs(CSV_EOL, fp);
	fclose(fp);
	csv_reader_init(&r2, buf, len);
	/* A BOM that a cell starts with would be taken for the file's. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		csv_reader_free(&r2);
		free(buf);
		return;
	}
	if (csv_next(&r2, &cause) != 1 || r2.ncells != r->ncells)
		abort();
	for (size_t i = 0; i < r->ncells; i++) {
		const char *a = csv_cell(r, i, &n);
		const char *b = csv_cell(&r2, i, &n2);

		if (n != n2 || memcmp(a, b, n) != 0)
			abort();
	}
	if (csv_next(&r2, &cause) != 0)
		abort();
	csv_reader_free(&r2);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_reader r;
	char *cause = NULL;
	size_t last = 0, n;
	int rc;

	csv_reader_init(&r, (const char *)data, size);
	while ((rc = csv_next(&r, &cause)) != 0) {
		if (rc < 0) {
			if (cause == NULL || r.err_line < last)
				abort();
			last = r.err_line;
			free(cause);
			cause = NULL;
			continue;
		}
		if (cause != NULL || r.ncells == 0 || r.row_line < last)
			abort();
		last = r.row_line;
		for (size_t i = 0; i < r.ncells; i++) {
			const char *s = csv_cell(&r, i, &n);

			if (s[n] != '\0' || s < r.buf.p ||
			    s + n >= r.buf.p + r.buf.cap)
				abort();
			if (csv_split(s, n, element, NULL, &cause) != 0) {
				if (cause == NULL)
					abort();
				free(cause);
				cause = NULL;
			}
		}
		again(&r);
	}
	csv_reader_free(&r);
	return 0;
}
