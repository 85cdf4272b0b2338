/* csv: RFC 4180 tables: cells written with their quoting, rows read back with their line numbers, set cells joined and split. */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"
#include "util.h"

void
csv_buf_add(struct csv_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		/* Grown by hand, so that the old copy is wiped. */
		p = xmalloc(cap);
		if (b->len > 0)
			memcpy(p, b->p, b->len);
		if (b->p != NULL) {
			sodium_memzero(b->p, b->cap);
			free(b->p);
		}
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
csv_buf_free(struct csv_buf *b)
{
	if (b->p != NULL) {
		sodium_memzero(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

/* Writing. */

void
csv_put_cell(FILE *fp, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			break;
	if (i == len) {
		fwrite(s, 1, len, fp);
		return;
	}
	putc('"', fp);
	for (i = 0; i < len; i++) {
		if (s[i] == '"')
			putc('"', fp);
		putc(s[i], fp);
	}
	putc('"', fp);
}

void
csv_join(struct csv_buf *b, const char *e, size_t len, int first, int last)
{
	char c = CSV_SET_SEP;
	size_t i, start = 0;

	if (!first)
		csv_buf_add(b, &c, 1);
	for (i = 0; i < len; i++) {
		if (e[i] != CSV_SET_SEP && e[i] != CSV_SET_ESC)
			continue;
		csv_buf_add(b, e + start, i - start);
		c = CSV_SET_ESC;
		csv_buf_add(b, &c, 1);
		start = i;
	}
	csv_buf_add(b, e + start, len - start);
	/* One empty element alone would read as no element at all. */
	if (first && last && len == 0) {
		c = CSV_SET_SEP;
		csv_buf_add(b, &c, 1);
	}
}

int
csv_split(const char *s, size_t len,
    int (*fn)(void *arg, const char *e, size_t n), void *arg, char **cause)
{
	struct csv_buf e;
	size_t i;
	int rc = 0;

	if (len == 0)
		return 0;
	memset(&e, 0, sizeof(e));
	csv_buf_add(&e, "", 0);
	for (i = 0; i <= len && rc == 0; i++) {
		if (i == len || s[i] == CSV_SET_SEP) {
			rc = fn(arg, e.p, e.len);
			e.len = 0;
			e.p[0] = '\0';
			continue;
		}
		if (s[i] == CSV_SET_ESC) {
			if (i + 1 == len || (s[i + 1] != CSV_SET_SEP &&
			    s[i + 1] != CSV_SET_ESC)) {
				rc = samen_fail(cause, -1, "a '\\' in a set cell "
				    "must be followed by '\\' or ';'");
				break;
			}
			i++;
		}
		csv_buf_add(&e, &s[i], 1);
	}
	csv_buf_free(&e);
	return rc;
}

/* Reading. */

void
csv_reader_init(struct csv_reader *r, const char *data, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->p = data;
	r->end = data + len;
	r->line = 1;
	/* Spreadsheets write a byte order mark before UTF-8. */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		r->p += 3;
}

void
csv_reader_free(struct csv_reader *r)
{
	csv_buf_free(&r->buf);
	free(r->cells);
	r->cells = NULL;
	r->ncells = r->capcells = 0;
}

static void
new_cell(struct csv_reader *r)
{
	/* The cell before ends with a NUL of its own. */
	if (r->ncells > 0)
		csv_buf_add(&r->buf, "", 1);
	if (r->ncells == r->capcells) {
		r->capcells = r->capcells ? r->capcells * 2 : 16;
		r->cells = xreallocarray(r->cells, r->capcells,
		    sizeof(*r->cells));
	}
	r->cells[r->ncells].off = r->buf.len;
	r->cells[r->ncells].len = 0;
	r->ncells++;
}

static void
cell_add(struct csv_reader *r, const char *s, size_t n)
{
	csv_buf_add(&r->buf, s, n);
	r->cells[r->ncells - 1].len += n;
}

/* After an error: on to the start of the next line. */
static int
bad_row(struct csv_reader *r, char **cause, const char *why)
{
	const char *nl;

	r->err_line = r->line;
	nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
	if (nl == NULL)
		r->p = r->end;
	else {
		r->p = nl + 1;
		r->line++;
	}
	return samen_fail(cause, -1, "%s", why);
}

/* The end of a row at p: LF, CRLF or the end.  Consumes it; 1 if so. */
static int
row_end(struct csv_reader *r)
{
	if (r->p == r->end)
		return 1;
	if (*r->p == '\n' || (*r->p == '\r' && r->p + 1 < r->end &&
	    r->p[1] == '\n')) {
		r->p += *r->p == '\r' ? 2 : 1;
		r->line++;
		return 1;
	}
	return 0;
}

int
csv_next(struct csv_reader *r, char **cause)
{
	size_t open_line;

	r->buf.len = 0;
	r->ncells = 0;
	/* Empty lines are no rows (as Python's csv module reads them). */
	while (r->p < r->end && row_end(r))
		;
	if (r->p == r->end)
		return 0;
	r->row_line = r->line;
	for (;;) {
		new_cell(r);
		cell_add(r, "", 0);
		if (r->p < r->end && *r->p == '"') {
			open_line = r->line;
			r->p++;
			for (;;) {
				const char *q;

				if (r->p == r->end) {
					r->line = open_line;
					return bad_row(r, cause, "a quoted cell "
					    "is never closed");
				}
				q = memchr(r->p, '"', (size_t)(r->end - r->p));
				if (q == NULL)
					q = r->end;
				for (const char *c = r->p; c < q; c++)
					r->line += *c == '\n';
				cell_add(r, r->p, (size_t)(q - r->p));
				r->p = q;
				if (r->p == r->end)
					continue;
				if (r->p + 1 < r->end && r->p[1] == '"') {
					cell_add(r, "\"", 1);
					r->p += 2;
					continue;
				}
				r->p++;
				break;
			}
			if (r->p < r->end && *r->p == ',') {
				r->p++;
				continue;
			}
			if (row_end(r))
				return 1;
			return bad_row(r, cause, "text after the closing quote "
			    "of a cell");
		}
		while (r->p < r->end && *r->p != ',' && *r->p != '\n' &&
		    *r->p != '\r' && *r->p != '"') {
			const char *s = r->p;

			while (r->p < r->end && *r->p != ',' && *r->p != '\n' &&
			    *r->p != '\r' && *r->p != '"')
				r->p++;
			cell_add(r, s, (size_t)(r->p - s));
		}
		if (r->p < r->end && *r->p == '"')
			return bad_row(r, cause, "a quote inside a cell that is "
			    "not quoted (quote the cell and double the quote)");
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (row_end(r))
			return 1;
		return bad_row(r, cause, "a carriage return inside a cell that "
		    "is not quoted");
	}
}

const char *
csv_cell(const struct csv_reader *r, size_t i, size_t *len)
{
	*len = r->cells[i].len;
	return r->buf.p + r->cells[i].off;
}
