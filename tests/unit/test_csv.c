/* test_csv: CSV cells written and read back, set cells joined and split, and every refusal with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "csv.h"

/* What f wrote to its memory stream, as a string to free. */
static char *
written(void (*f)(FILE *, void *), void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	f(fp, arg);
	fclose(fp);
	return buf;
}

static void
put_one(FILE *fp, void *arg)
{
	const char *s = arg;

	csv_put_cell(fp, s, strlen(s));
}

static void
expect_cell(const char *value, const char *cell)
{
	char *got = written(put_one, (void *)value);

	assert_string_equal(got, cell);
	free(got);
}

static void
test_quoting(void **state)
{
	(void)state;
	expect_cell("plain", "plain");
	expect_cell("", "");
	expect_cell("a,b", "\"a,b\"");
	expect_cell("say \"hi\"", "\"say \"\"hi\"\"\"");
	expect_cell("two\nlines", "\"two\nlines\"");
	expect_cell("cr\rlf", "\"cr\rlf\"");
	/* Spaces and semicolons need no quotes. */
	expect_cell(" x; y ", " x; y ");
	expect_cell("\xf0\x9f\x99\x82", "\xf0\x9f\x99\x82");
}

/* Splits cell into a NUL-separated list of its elements in out. */
struct got {
	char buf[256];
	size_t len;
	int n;
};

static int
collect(void *arg, const char *e, size_t n)
{
	struct got *g = arg;

	memcpy(g->buf + g->len, e, n);
	g->len += n;
	g->buf[g->len++] = '|';
	g->n++;
	return 0;
}

static void
roundtrip_set(const char *const *elems, int n, const char *cell)
{
	struct csv_buf b;
	struct got g;
	char want[256];
	size_t w = 0;
	char *cause = NULL;

	memset(&b, 0, sizeof(b));
	csv_buf_add(&b, "", 0);
	for (int i = 0; i < n; i++)
		csv_join(&b, elems[i], strlen(elems[i]), i == 0, i + 1 == n);
	assert_string_equal(b.p, cell);
	memset(&g, 0, sizeof(g));
	assert_int_equal(csv_split(b.p, b.len, collect, &g, &cause), 0);
	for (int i = 0; i < n; i++) {
		memcpy(want + w, elems[i], strlen(elems[i]));
		w += strlen(elems[i]);
		want[w++] = '|';
	}
	/* A lone empty element comes back twice: a set holds it once. */
	if (n == 1 && *elems[0] == '\0') {
		assert_int_equal(g.n, 2);
		assert_memory_equal(g.buf, "||", 2);
	} else {
		assert_int_equal(g.n, n);
		assert_int_equal(g.len, w);
		assert_memory_equal(g.buf, want, w);
	}
	csv_buf_free(&b);
}

static void
test_sets(void **state)
{
	static const char *const plain[] = { "housing", "debts" };
	static const char *const sep[] = { "a;b", "c\\d", "\\;" };
	static const char *const empty_too[] = { "", "x" };
	static const char *const empty_only[] = { "" };
	struct got g;
	char *cause = NULL;

	(void)state;
	roundtrip_set(plain, 2, "housing;debts");
	roundtrip_set(sep, 3, "a\\;b;c\\\\d;\\\\\\;");
	roundtrip_set(empty_too, 2, ";x");
	roundtrip_set(empty_only, 1, ";");
	/* No elements: an empty cell, and no call. */
	memset(&g, 0, sizeof(g));
	assert_int_equal(csv_split("", 0, collect, &g, &cause), 0);
	assert_int_equal(g.n, 0);
	/* A backslash escapes only '\' and ';'. */
	assert_int_equal(csv_split("a\\b", 3, collect, &g, &cause), -1);
	assert_string_equal(cause, "a '\\' in a set cell must be followed by "
	    "'\\' or ';'");
	free(cause);
	cause = NULL;
	assert_int_equal(csv_split("ab\\", 3, collect, &g, &cause), -1);
	free(cause);
}

/* The rows of text, each as "cell|cell|...;" with its line, or the error. */
static void
expect_rows(const char *text, const char *want)
{
	struct csv_reader r;
	char out[1024] = "";
	size_t o = 0, len;
	char *cause = NULL;
	int rc;

	csv_reader_init(&r, text, strlen(text));
	while ((rc = csv_next(&r, &cause)) != 0) {
		if (rc < 0) {
			o += (size_t)snprintf(out + o, sizeof(out) - o,
			    "E%zu:%s;", r.err_line, cause);
			free(cause);
			cause = NULL;
			continue;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%zu:",
		    r.row_line);
		for (size_t i = 0; i < r.ncells; i++) {
			const char *s = csv_cell(&r, i, &len);

			assert_int_equal(strlen(s), len);
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s",
			    i > 0 ? "|" : "", s);
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, ";");
	}
	csv_reader_free(&r);
	assert_string_equal(out, want);
}

static void
test_reader(void **state)
{
	(void)state;
	expect_rows("", "");
	expect_rows("a,b\r\n1,2\r\n", "1:a|b;2:1|2;");
	expect_rows("a,b\n1,2", "1:a|b;2:1|2;");
	/* A byte order mark, empty lines, empty cells. */
	expect_rows("\xef\xbb\xbf" "a,b\n\n,\r\n\r\nx,\n", "1:a|b;3:|;5:x|;");
	/* Quotes: doubled, and line breaks kept; lines counted inside. */
	expect_rows("\"say \"\"hi\"\"\",\"two\nlines\"\r\nnext,\"\"\r\n",
	    "1:say \"hi\"|two\nlines;3:next|;");
	expect_rows("\"crlf\r\ninside\",x\n", "1:crlf\r\ninside|x;");
	/* Refusals: each names its line, and reading goes on after it. */
	expect_rows("a,b\nx\"y,2\n3,4\n",
	    "1:a|b;E2:a quote inside a cell that is not quoted (quote the "
	    "cell and double the quote);3:3|4;");
	expect_rows("\"a\"b,c\nd,e\n",
	    "E1:text after the closing quote of a cell;2:d|e;");
	expect_rows("a\rb,c\nd\n",
	    "E1:a carriage return inside a cell that is not quoted;2:d;");
	expect_rows("a\n\"open\nstill,open\n",
	    "1:a;E2:a quoted cell is never closed;");
}

/* Awkward values written as a row and read back as they were. */
struct table {
	const char *const *v;
	size_t n;
};

static void
put_row(FILE *fp, void *arg)
{
	const struct table *t = arg;

	for (size_t i = 0; i < t->n; i++) {
		if (i > 0)
			putc(',', fp);
		csv_put_cell(fp, t->v[i], strlen(t->v[i]));
	}
	fputs(CSV_EOL, fp);
}

static void
test_write_read(void **state)
{
	static const char *const v[] = { "", "a,b", "\"", "\r\n", "\n\n",
	    "x\"\"y", " lead", "trail ", "\xf0\x9f\x99\x82 emoji", "a;b\\c" };
	struct table t = { v, sizeof(v) / sizeof(v[0]) };
	struct csv_reader r;
	char *text = written(put_row, &t), *cause = NULL;
	size_t len;

	(void)state;
	csv_reader_init(&r, text, strlen(text));
	assert_int_equal(csv_next(&r, &cause), 1);
	assert_int_equal(r.ncells, t.n);
	for (size_t i = 0; i < t.n; i++) {
		const char *s = csv_cell(&r, i, &len);

		assert_int_equal(len, strlen(v[i]));
		assert_memory_equal(s, v[i], len);
	}
	assert_int_equal(csv_next(&r, &cause), 0);
	csv_reader_free(&r);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_reader),
		cmocka_unit_test(test_write_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
