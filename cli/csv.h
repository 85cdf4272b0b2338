/* csv: RFC 4180 tables: cells written with their quoting, rows read back with their line numbers, set cells joined and split. */
#ifndef SAMEN_CSV_H
#define SAMEN_CSV_H

#include <stddef.h>
#include <stdio.h>

/*
 * The format (docs/cli.md, "samen export"): cells separated by commas,
 * rows ended by CRLF; a cell that holds a comma, a quote, CR or LF is
 * quoted, and a quote inside it doubled.  The reader takes CRLF and LF
 * alike, keeps line breaks inside quoted cells as they are, skips empty
 * lines and a UTF-8 byte order mark at the start, and refuses what RFC
 * 4180 does not allow (a quote inside an unquoted cell, text after a
 * closing quote, a quoted cell never closed, a lone CR).
 *
 * A set field is one cell: its elements joined with ';', and in each
 * element '\' and ';' written as "\\" and "\;".  An empty cell is the
 * empty set; a set whose only element is empty is ";".
 */
#define CSV_EOL "\r\n"
#define CSV_SET_SEP ';'
#define CSV_SET_ESC '\\'

/* A growing byte buffer (out of memory is fatal). */
struct csv_buf {
	char *p;
	size_t len;
	size_t cap;
};

void csv_buf_add(struct csv_buf *b, const char *s, size_t n);
/* Wipes (the cells are people's records) and frees. */
void csv_buf_free(struct csv_buf *b);

/* s[0..len) as one cell, quoted if it must be. */
void csv_put_cell(FILE *fp, const char *s, size_t len);

/*
 * Appends element e[0..len) to the set cell being joined in b (first: it
 * is the first element; a lone empty element becomes ";").
 */
void csv_join(struct csv_buf *b, const char *e, size_t len, int first,
    int last);

/*
 * Splits set cell s[0..len) into its elements: fn(arg, element, n) for
 * each, in order (the element, NUL-terminated, is borrowed for the call;
 * duplicates are the caller's).  fn returns 0 to go on.  Returns 0, fn's
 * non-zero return, or -1 and *cause (free with free()) for a '\' that
 * escapes neither '\' nor ';'.
 */
int csv_split(const char *s, size_t len,
    int (*fn)(void *arg, const char *e, size_t n), void *arg, char **cause);

struct csv_cell {
	size_t off;		/* in the reader's buffer */
	size_t len;
};

/* Reads rows out of a table held in memory (borrowed). */
struct csv_reader {
	const char *p;
	const char *end;
	size_t line;		/* of p, from 1 */
	size_t row_line;	/* where the last row read starts */
	size_t err_line;	/* where the last error is */
	struct csv_buf buf;	/* the last row's cells, unquoted */
	struct csv_cell *cells;
	size_t ncells;
	size_t capcells;
};

void csv_reader_init(struct csv_reader *r, const char *data, size_t len);
void csv_reader_free(struct csv_reader *r);
/*
 * The next row: 1 (r->ncells cells, csv_cell), 0 at the end, or -1 for a
 * row that breaks the format: *cause says why (free with free()) and
 * r->err_line where; the reader has skipped to the next line, so the
 * caller may read on to find more problems.
 */
int csv_next(struct csv_reader *r, char **cause);
/* Cell i of the last row (NUL-terminated; may hold other NULs). */
const char *csv_cell(const struct csv_reader *r, size_t i, size_t *len);

#endif
