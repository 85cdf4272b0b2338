/* cmd_bulk: samen export and import: many records at once, in CSV, JSON, NDJSON or a resident's page. */
#include "cmd_bulk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "argcheck.h"
#include "csv.h"
#include "ops.h"
#include "output.h"
#include "subject.h"
#include "util.h"

#define EXPORT_LIMIT 1000	/* records asked for per page */
#define IMPORT_BATCH_ROWS 1000	/* rows per request at most */
/* The rows of one request: the rest of it fits in what is left. */
#define IMPORT_BATCH_BYTES (CTL_MAX_REQUEST - 4096)
#define IMPORT_MAX_PROBLEMS 20	/* shown; more are only counted */

/* The columns of a CSV export that are no field (docs/cli.md). */
#define COL_COLLECTION "_collection"
#define COL_ID "_id"
#define COL_CONFLICTS "_conflicts"
#define COL_DELETED "_deleted"	/* in _conflicts: deleted and edited */
#define COL_SET_MARK "[]"	/* after a set field's name */

enum format { FMT_CSV, FMT_JSON, FMT_NDJSON, FMT_HTML };

static const char *const format_names[] = { "csv", "json", "ndjson", "html" };

/* Output. */

/*
 * Where an export goes: stdout, or a file written beside its final name
 * (mode 0600: it holds people's records) and renamed into place once
 * whole, so that a failed export leaves no half file behind.
 */
struct out {
	FILE *fp;
	const char *path;	/* NULL: stdout */
	char *tmp;
};

static int
out_open(struct out *o, const char *path)
{
	const char *slash;
	int fd, e;

	memset(o, 0, sizeof(*o));
	if (path == NULL) {
		o->fp = stdout;
		return 0;
	}
	o->path = path;
	slash = strrchr(path, '/');
	if (slash == NULL)
		o->tmp = xasprintf(".%s.XXXXXX", path);
	else
		o->tmp = xasprintf("%.*s/.%s.XXXXXX", (int)(slash - path), path,
		    slash + 1);
	/* mkstemp creates it 0600. */
	if ((fd = mkstemp(o->tmp)) == -1 || (o->fp = fdopen(fd, "w")) == NULL) {
		e = errno;
		if (fd != -1) {
			close(fd);
			unlink(o->tmp);
		}
		free(o->tmp);
		o->tmp = NULL;
		return cmd_complain(CMD_EXIT_FAIL, "cannot write %s: %s", path,
		    strerror(e));
	}
	return 0;
}

static void
out_abort(struct out *o)
{
	if (o->tmp == NULL)
		return;
	fclose(o->fp);
	unlink(o->tmp);
	free(o->tmp);
	o->tmp = NULL;
}

/* The file, whole and on disk, under its name. */
static int
out_commit(struct out *o)
{
	char *dir;
	int e = 0, fd;

	if (o->tmp == NULL)
		return 0;
	if (fflush(o->fp) == EOF || ferror(o->fp) || fsync(fileno(o->fp)) == -1)
		e = errno ? errno : EIO;
	if (fclose(o->fp) == EOF && e == 0)
		e = errno;
	o->fp = NULL;
	if (e == 0 && rename(o->tmp, o->path) == -1)
		e = errno;
	if (e != 0) {
		unlink(o->tmp);
		free(o->tmp);
		o->tmp = NULL;
		return cmd_complain(CMD_EXIT_FAIL, "cannot write %s: %s",
		    o->path, strerror(e));
	}
	free(o->tmp);
	o->tmp = NULL;
	/* The rename too must reach the disk. */
	dir = strrchr(o->path, '/') == NULL ? xstrdup(".") :
	    xstrndup(o->path, (size_t)(strrchr(o->path, '/') - o->path));
	if ((fd = open(*dir != '\0' ? dir : "/", O_RDONLY | O_DIRECTORY)) !=
	    -1) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
	return 0;
}

/* Export: paging. */

/* What every page is handed to: 0, or an exit code after saying why. */
typedef int page_fn(void *arg, struct reply *rp);

/*
 * Asks for the pages of an export until the last one: page() takes each
 * reply (and frees it, or keeps it).  Returns 0 or an exit code.
 */
static int
export_pages(struct cmd_ctx *c, const char *collection, const char *subject,
    int history, page_fn *page, void *arg)
{
	const struct reply_node *records;
	struct reply rp;
	struct wbuf w;
	char *next = NULL;
	int rc;

	do {
		cmd_request(&w, CTL_EXPORT, 6);
		if (collection != NULL)
			wire_put_cstr(&w, collection);
		else
			wire_put_nil(&w);
		if (c->circle != NULL)
			wire_put_cstr(&w, c->circle);
		else
			wire_put_nil(&w);
		if (subject != NULL)
			wire_put_cstr(&w, subject);
		else
			wire_put_nil(&w);
		if (next != NULL)
			wire_put_cstr(&w, next);
		else
			wire_put_nil(&w);
		wire_put_u64(&w, EXPORT_LIMIT);
		wire_put_bool(&w, history);
		free(next);
		next = NULL;
		if ((rc = cmd_call(c, &w, &rp)) != 0)
			return rc;
		records = reply_get(rp.body, "records");
		if (records == NULL || records->type != REPLY_ARRAY) {
			reply_free(&rp);
			return cmd_complain(CMD_EXIT_FAIL, "malformed reply from "
			    "samend: an export page without records");
		}
		if (reply_get_str(rp.body, "next") != NULL) {
			/* A page that leads on but holds nothing would loop. */
			if (records->n == 0) {
				reply_free(&rp);
				return cmd_complain(CMD_EXIT_FAIL, "malformed "
				    "reply from samend: an empty export page "
				    "before the last");
			}
			next = xstrdup(reply_get_str(rp.body, "next"));
		}
		if ((rc = page(arg, &rp)) != 0) {
			free(next);
			return rc;
		}
	} while (next != NULL);
	return 0;
}

/* Export: CSV. */

struct column {
	char *name;
	int is_set;
};

struct table {
	FILE *fp;
	int with_collection;	/* every collection: say which one */
	int started;		/* the header is out */
	struct column *cols;
	size_t ncols;
	size_t rows;
	struct csv_buf cell;
};

static void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->ncols; i++)
		free(t->cols[i].name);
	free(t->cols);
	csv_buf_free(&t->cell);
}

static int
has_column(const struct table *t, const char *name, int is_set)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (t->cols[i].is_set == is_set &&
		    strcmp(t->cols[i].name, name) == 0)
			return 1;
	return 0;
}

/* The header, from the first page's columns. */
static int
csv_header(struct table *t, const struct reply_node *columns)
{
	const struct reply_node *col;
	const char *name;
	uint32_t i;
	int is_set;

	if (columns == NULL || columns->type != REPLY_ARRAY)
		return cmd_complain(CMD_EXIT_FAIL, "malformed reply from "
		    "samend: an export without columns");
	t->cols = xcalloc(columns->n + 1, sizeof(*t->cols));
	for (i = 0; i < columns->n; i++) {
		col = reply_at(columns, i);
		if ((name = reply_get_str(col, "field")) == NULL ||
		    reply_get_bool(col, "set", &is_set) != 0)
			return cmd_complain(CMD_EXIT_FAIL, "malformed reply "
			    "from samend: a column without its field");
		t->cols[t->ncols].name = xstrdup(name);
		t->cols[t->ncols++].is_set = is_set;
	}
	if (t->with_collection) {
		csv_put_cell(t->fp, COL_COLLECTION, strlen(COL_COLLECTION));
		putc(',', t->fp);
	}
	csv_put_cell(t->fp, COL_ID, strlen(COL_ID));
	for (size_t j = 0; j < t->ncols; j++) {
		putc(',', t->fp);
		t->cell.len = 0;
		csv_buf_add(&t->cell, t->cols[j].name,
		    strlen(t->cols[j].name));
		if (t->cols[j].is_set)
			csv_buf_add(&t->cell, COL_SET_MARK,
			    strlen(COL_SET_MARK));
		csv_put_cell(t->fp, t->cell.p, t->cell.len);
	}
	putc(',', t->fp);
	csv_put_cell(t->fp, COL_CONFLICTS, strlen(COL_CONFLICTS));
	fputs(CSV_EOL, t->fp);
	t->started = 1;
	return 0;
}

/* A field the header lacks: the records changed under the export. */
static int
check_known(const struct table *t, const struct reply_node *map, int is_set)
{
	uint32_t i;

	for (i = 0; map != NULL && map->type == REPLY_MAP && i < map->n; i++) {
		const char *name = reply_str(&map->v.kids[2 * i]);

		if (name != NULL && !has_column(t, name, is_set))
			return cmd_complain(CMD_EXIT_FAIL, "a record gained the "
			    "field '%s' during the export: run it again", name);
	}
	return 0;
}

static void
csv_str(struct table *t, const char *s)
{
	csv_put_cell(t->fp, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static int
csv_row(struct table *t, const struct reply_node *rec)
{
	const struct reply_node *fields = reply_get(rec, "fields");
	const struct reply_node *sets = reply_get(rec, "sets");
	const struct reply_node *conflicts = reply_get(rec, "conflicts");
	const struct reply_node *set;
	uint32_t i, n;
	int rc;

	if ((rc = check_known(t, fields, 0)) != 0 ||
	    (rc = check_known(t, sets, 1)) != 0)
		return rc;
	if (t->with_collection) {
		csv_str(t, reply_get_str(rec, "collection"));
		putc(',', t->fp);
	}
	csv_str(t, reply_get_str(rec, "id"));
	for (size_t j = 0; j < t->ncols; j++) {
		putc(',', t->fp);
		if (!t->cols[j].is_set) {
			csv_str(t, reply_get_str(fields, t->cols[j].name));
			continue;
		}
		set = reply_get(sets, t->cols[j].name);
		n = reply_len(set);
		t->cell.len = 0;
		csv_buf_add(&t->cell, "", 0);
		for (i = 0; i < n && set->type == REPLY_ARRAY; i++) {
			const char *e = reply_str(reply_at(set, i));

			csv_join(&t->cell, e != NULL ? e : "",
			    e != NULL ? strlen(e) : 0, i == 0, i + 1 == n);
		}
		csv_put_cell(t->fp, t->cell.p, t->cell.len);
	}
	/* The fields whose shown value is one of several. */
	putc(',', t->fp);
	t->cell.len = 0;
	csv_buf_add(&t->cell, "", 0);
	for (i = 0; i < reply_len(conflicts); i++) {
		const char *f = reply_get_str(reply_at(conflicts, i), "field");

		if (i > 0)
			csv_buf_add(&t->cell, ";", 1);
		if (f == NULL)
			f = COL_DELETED;
		csv_buf_add(&t->cell, f, strlen(f));
	}
	csv_put_cell(t->fp, t->cell.p, t->cell.len);
	fputs(CSV_EOL, t->fp);
	t->rows++;
	return 0;
}

static int
csv_page(void *arg, struct reply *rp)
{
	struct table *t = arg;
	const struct reply_node *records = reply_get(rp->body, "records");
	int rc = 0;

	if (!t->started)
		rc = csv_header(t, reply_get(rp->body, "columns"));
	for (uint32_t i = 0; rc == 0 && i < records->n; i++)
		rc = csv_row(t, reply_at(records, i));
	reply_free(rp);
	return rc;
}

/* Export: JSON and NDJSON. */

struct stream {
	FILE *fp;
	int ndjson;
	size_t rows;
};

static int
json_page(void *arg, struct reply *rp)
{
	struct stream *s = arg;
	const struct reply_node *records = reply_get(rp->body, "records");

	for (uint32_t i = 0; i < records->n; i++) {
		if (!s->ndjson)
			fputs(s->rows == 0 ? "\n" : ",\n", s->fp);
		output_json_value(s->fp, reply_at(records, i));
		if (s->ndjson)
			putc('\n', s->fp);
		s->rows++;
	}
	reply_free(rp);
	return 0;
}

/* Export: a subject's file, which needs every page before it is written. */

struct pages {
	struct reply *r;
	size_t n;
	size_t cap;
};

static int
keep_page(void *arg, struct reply *rp)
{
	struct pages *p = arg;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 4;
		p->r = xreallocarray(p->r, p->cap, sizeof(*p->r));
	}
	p->r[p->n++] = *rp;
	memset(rp, 0, sizeof(*rp));
	return 0;
}

/* Events by time, oldest first; of one time, in the order they came. */
struct event_ref {
	const struct reply_node *ev;
	size_t pos;
};

static int
cmp_event(const void *a, const void *b)
{
	const struct event_ref *x = a, *y = b;
	const char *tx = reply_get_str(x->ev, "time");
	const char *ty = reply_get_str(y->ev, "time");
	int d = strcmp(tx != NULL ? tx : "", ty != NULL ? ty : "");

	if (d != 0)
		return d;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static int
write_subject(FILE *fp, enum format fmt, const struct pages *pg,
    size_t *count)
{
	struct subject s;
	struct event_ref *refs;
	size_t nrecs = 0, nev = 0, i;
	uint32_t j;

	memset(&s, 0, sizeof(s));
	s.device = reply_get_str(pg->r[0].body, "device");
	s.time = reply_get_str(pg->r[0].body, "time");
	s.kase = reply_get(pg->r[0].body, "subject");
	if (s.kase == NULL || s.kase->type != REPLY_MAP)
		return cmd_complain(CMD_EXIT_FAIL, "malformed reply from "
		    "samend: a subject export without its subject");
	for (i = 0; i < pg->n; i++) {
		nrecs += reply_len(reply_get(pg->r[i].body, "records"));
		nev += reply_len(reply_get(pg->r[i].body, "audit"));
	}
	s.recs = xcalloc(nrecs + 1, sizeof(*s.recs));
	s.events = xcalloc(nev + 1, sizeof(*s.events));
	refs = xcalloc(nev + 1, sizeof(*refs));
	for (i = 0; i < pg->n; i++) {
		const struct reply_node *recs = reply_get(pg->r[i].body,
		    "records");
		const struct reply_node *audit = reply_get(pg->r[i].body,
		    "audit");

		for (j = 0; j < reply_len(recs); j++)
			s.recs[s.nrecs++] = reply_at(recs, j);
		for (j = 0; j < reply_len(audit) &&
		    audit->type == REPLY_ARRAY; j++) {
			refs[s.nevents].ev = reply_at(audit, j);
			refs[s.nevents].pos = s.nevents;
			s.nevents++;
		}
	}
	/* Pages each bring their records' events: one timeline of them. */
	qsort(refs, s.nevents, sizeof(*refs), cmp_event);
	for (i = 0; i < s.nevents; i++)
		s.events[i] = refs[i].ev;
	free(refs);
	if (fmt == FMT_HTML)
		subject_html(fp, &s);
	else
		subject_json(fp, &s);
	*count = 1 + s.nrecs;
	free(s.recs);
	free(s.events);
	return 0;
}

static int
parse_format(const char *name, int subject, enum format *fmt)
{
	size_t i;

	*fmt = subject ? FMT_JSON : FMT_CSV;
	if (name == NULL)
		return 0;
	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
		if (strcmp(name, format_names[i]) == 0)
			break;
	if (i == sizeof(format_names) / sizeof(format_names[0]) ||
	    (subject && i != FMT_JSON && i != FMT_HTML) ||
	    (!subject && i == FMT_HTML))
		return cmd_complain(CMD_EXIT_USAGE, "--format %s: %s", name,
		    subject ? "a subject's file is json or html" :
		    "an export is csv, json or ndjson (html is for --subject)");
	*fmt = (enum format)i;
	return 0;
}

/* The export's arguments, checked before anything is asked. */
static int
export_check(struct cmd_ctx *c, enum format *fmt, char rid[RID_TEXTLEN + 1])
{
	char *cause = NULL;
	int rc;

	if ((rc = parse_format(c->format, c->subject != NULL, fmt)) != 0)
		return rc;
	if (c->subject != NULL) {
		if (c->argc > 0 || c->circle != NULL)
			return cmd_complain(CMD_EXIT_USAGE, "--subject takes no "
			    "COLLECTION and no --circle: it exports one case "
			    "and every record that links to it");
		if (c->with_history)
			return cmd_complain(CMD_EXIT_USAGE, "--subject always "
			    "holds the history: drop --with-history");
		if ((rc = argcheck_rid(c->subject, rid, &cause)) != 0)
			return cmd_failed(rc, cause);
		return 0;
	}
	if (c->with_history && *fmt == FMT_CSV)
		return cmd_complain(CMD_EXIT_USAGE, "--with-history needs "
		    "--format json or ndjson");
	if ((c->argc > 0 &&
	    (rc = argcheck_collection(c->argv[0], &cause)) != 0) ||
	    (c->circle != NULL &&
	    (rc = argcheck_circle(c->circle, &cause)) != 0))
		return cmd_failed(rc, cause);
	if (c->output != NULL && *c->output == '\0')
		return cmd_complain(CMD_EXIT_USAGE, "-o needs a file name");
	return 0;
}

int
cmd_bulk_export(struct cmd_ctx *c)
{
	struct out o;
	struct table t;
	struct stream s;
	struct pages pg;
	enum format fmt;
	char rid[RID_TEXTLEN + 1];
	size_t count = 0;
	int rc;

	if ((rc = export_check(c, &fmt, rid)) != 0 ||
	    (rc = out_open(&o, c->output)) != 0)
		return rc;
	memset(&t, 0, sizeof(t));
	memset(&s, 0, sizeof(s));
	memset(&pg, 0, sizeof(pg));
	if (c->subject != NULL) {
		if ((rc = export_pages(c, NULL, rid, 1, keep_page, &pg)) == 0)
			rc = write_subject(o.fp, fmt, &pg, &count);
		for (size_t i = 0; i < pg.n; i++)
			reply_free(&pg.r[i]);
		free(pg.r);
	} else if (fmt == FMT_CSV) {
		t.fp = o.fp;
		t.with_collection = c->argc == 0;
		rc = export_pages(c, c->argc > 0 ? c->argv[0] : NULL, NULL, 0,
		    csv_page, &t);
		count = t.rows;
		table_free(&t);
	} else {
		s.fp = o.fp;
		s.ndjson = fmt == FMT_NDJSON;
		if (!s.ndjson)
			putc('[', o.fp);
		rc = export_pages(c, c->argc > 0 ? c->argv[0] : NULL, NULL,
		    c->with_history, json_page, &s);
		if (!s.ndjson)
			fputs(s.rows > 0 ? "\n]\n" : "]\n", o.fp);
		count = s.rows;
	}
	if (rc != 0) {
		out_abort(&o);
		return rc;
	}
	if ((rc = out_commit(&o)) != 0 || c->output == NULL)
		return rc;
	if (c->json) {
		printf("{\"records\": %zu, \"format\": \"%s\", \"file\": ", count,
		    format_names[fmt]);
		output_json_str(stdout, c->output, strlen(c->output));
		fputs("}\n", stdout);
	} else
		printf("%zu record%s exported to %s\n", count,
		    count == 1 ? "" : "s", c->output);
	return 0;
}

/* Import. */

enum col_kind { COL_FIELD, COL_SET, COL_IGNORED, COL_WHICH };

struct import_col {
	char name[OPS_MAX_FIELD + 1];
	enum col_kind kind;
};

/* A file being checked, and its rows encoded for the requests. */
struct import {
	const char *file;	/* as named, for the messages */
	const char *collection;
	struct import_col *cols;
	size_t ncols;
	struct wbuf rows;	/* every row's assigns, one after the other */
	size_t *off;		/* row i is rows[off[i], off[i + 1]) */
	size_t *line;		/* and starts on this line */
	size_t n;
	size_t cap;
	size_t skipped;		/* empty rows */
	size_t problems;
	struct wbuf row;	/* the row being checked */
	uint32_t nassigns;
};

static void
problem(struct import *im, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
problem(struct import *im, size_t line, const char *fmt, ...)
{
	va_list ap;

	if (im->problems++ >= IMPORT_MAX_PROBLEMS)
		return;
	fprintf(stderr, "samen: %s:%zu: ", im->file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	putc('\n', stderr);
}

/* The whole file (or stdin for "-"), into *data (free with free()). */
static int
read_all(const char *path, char **data, size_t *len)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	size_t cap = 65536, n = 0, got;
	char *buf;
	int e;

	if (fp == NULL)
		return cmd_complain(CMD_EXIT_FAIL, "cannot read %s: %s", path,
		    strerror(errno));
	buf = xmalloc(cap);
	while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
		n += got;
		if (n == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	e = ferror(fp) ? errno : 0;
	if (fp != stdin)
		fclose(fp);
	if (e != 0) {
		free(buf);
		return cmd_complain(CMD_EXIT_FAIL, "cannot read %s: %s", path,
		    strerror(e));
	}
	*data = buf;
	*len = n;
	return 0;
}

/* The header row: which field each column is. */
static void
read_header(struct import *im, struct csv_reader *r)
{
	size_t len, mark = strlen(COL_SET_MARK);
	const char *s;

	im->ncols = r->ncells;
	im->cols = xcalloc(r->ncells, sizeof(*im->cols));
	for (size_t i = 0; i < r->ncells; i++) {
		struct import_col *col = &im->cols[i];

		s = csv_cell(r, i, &len);
		col->kind = COL_FIELD;
		if (strcmp(s, COL_ID) == 0 || strcmp(s, COL_CONFLICTS) == 0)
			col->kind = COL_IGNORED;
		else if (strcmp(s, COL_COLLECTION) == 0)
			col->kind = COL_WHICH;
		else if (len > mark &&
		    memcmp(s + len - mark, COL_SET_MARK, mark) == 0) {
			col->kind = COL_SET;
			len -= mark;
		}
		if (col->kind == COL_IGNORED || col->kind == COL_WHICH) {
			snprintf(col->name, sizeof(col->name), "%s", s);
		} else if (!ops_field_valid(s, len)) {
			/* Spreadsheets set to Dutch write ';' between cells. */
			problem(im, r->row_line, "column %zu: '%.*s' is not a "
			    "field name (1-64 of A-Z a-z 0-9 _ -, starting with "
			    "a letter or digit; a set field ends in [])%s", i + 1,
			    len > 80 ? 80 : (int)len, utf8_valid(s, len) ? s :
			    "?", memchr(s, ';', len) != NULL ? ": is the file "
			    "separated by ';'? samen reads commas" : "");
			continue;
		} else {
			memcpy(col->name, s, len);
			col->name[len] = '\0';
		}
		for (size_t j = 0; j < i; j++)
			if (im->cols[j].kind == col->kind &&
			    strcmp(im->cols[j].name, col->name) == 0)
				problem(im, r->row_line, "column %zu: '%s' is "
				    "also column %zu", i + 1, s, j + 1);
	}
}

static void
put_assign(struct import *im, int how, const char *field, const char *v,
    size_t len)
{
	wire_put_array(&im->row, 3);
	wire_put_u64(&im->row, (uint64_t)how);
	wire_put_cstr(&im->row, field);
	wire_put_str(&im->row, v, len);
	im->nassigns++;
}

/* One set cell's elements, as they are split. */
struct split {
	struct import *im;
	size_t line;
	const struct import_col *col;
	char **seen;		/* the elements so far (a set has each once) */
	size_t nseen;
	size_t cap;
};

static int
add_element(void *arg, const char *e, size_t n)
{
	struct split *sp = arg;

	if (n > OPS_MAX_ELEMENT) {
		problem(sp->im, sp->line, "column %s[]: an element of %zu bytes, "
		    "over the %d a set element may hold", sp->col->name, n,
		    OPS_MAX_ELEMENT);
		return 0;
	}
	for (size_t i = 0; i < sp->nseen; i++)
		if (strlen(sp->seen[i]) == n && memcmp(sp->seen[i], e, n) == 0)
			return 0;
	if (sp->nseen == sp->cap) {
		sp->cap = sp->cap ? sp->cap * 2 : 8;
		sp->seen = xreallocarray(sp->seen, sp->cap, sizeof(*sp->seen));
	}
	sp->seen[sp->nseen++] = xstrndup(e, n);
	put_assign(sp->im, CTL_ASSIGN_ADD, sp->col->name, e, n);
	return 0;
}

/* Checks one row and, if it is good, keeps its assigns. */
static void
read_row(struct import *im, struct csv_reader *r)
{
	size_t line = r->row_line, before = im->problems, len;
	char *cause = NULL;
	const char *s;
	int empty = 1;

	if (r->ncells != im->ncols) {
		problem(im, line, "%zu cells where the header has %zu", r->ncells,
		    im->ncols);
		return;
	}
	wire_reset(&im->row);
	im->nassigns = 0;
	for (size_t i = 0; i < r->ncells; i++) {
		const struct import_col *col = &im->cols[i];
		struct split sp;

		s = csv_cell(r, i, &len);
		if (len == 0)
			continue;
		if (!utf8_valid(s, len)) {
			problem(im, line, "column %s: not UTF-8 text, or holding "
			    "a NUL byte (save the file as UTF-8)", col->name);
			continue;
		}
		switch (col->kind) {
		case COL_IGNORED:
			break;
		case COL_WHICH:
			if (strcmp(s, im->collection) != 0)
				problem(im, line, "a row of collection '%.*s', "
				    "not %s (export one collection at a time)",
				    len > 32 ? 32 : (int)len, s, im->collection);
			break;
		case COL_FIELD:
			empty = 0;
			if (len > OPS_MAX_VALUE)
				problem(im, line, "column %s: a value of %zu "
				    "bytes, over the %d a field may hold",
				    col->name, len, OPS_MAX_VALUE);
			else
				put_assign(im, CTL_ASSIGN_SET, col->name, s, len);
			break;
		case COL_SET:
			empty = 0;
			memset(&sp, 0, sizeof(sp));
			sp.im = im;
			sp.line = line;
			sp.col = col;
			if (csv_split(s, len, add_element, &sp, &cause) != 0) {
				problem(im, line, "column %s[]: %s", col->name,
				    cause);
				free(cause);
				cause = NULL;
			}
			for (size_t j = 0; j < sp.nseen; j++)
				free(sp.seen[j]);
			free(sp.seen);
			break;
		}
	}
	if (im->problems > before)
		return;
	if (empty) {
		im->skipped++;
		return;
	}
	if (im->nassigns > CTL_MAX_ASSIGNS) {
		problem(im, line, "%" PRIu32 " values in one row, at most %d",
		    im->nassigns, CTL_MAX_ASSIGNS);
		return;
	}
	if (wire_len(&im->row) + 8 > IMPORT_BATCH_BYTES) {
		problem(im, line, "a row of %zu bytes, over the %d that one "
		    "request carries", wire_len(&im->row), IMPORT_BATCH_BYTES);
		return;
	}
	if (im->n + 1 >= im->cap) {
		im->cap = im->cap ? im->cap * 2 : 256;
		im->off = xreallocarray(im->off, im->cap, sizeof(*im->off));
		im->line = xreallocarray(im->line, im->cap, sizeof(*im->line));
	}
	if (im->n == 0)
		im->off[0] = 0;
	wire_put_array(&im->rows, im->nassigns);
	wire_put_raw(&im->rows, wire_data(&im->row), wire_len(&im->row));
	im->line[im->n] = line;
	im->off[++im->n] = wire_len(&im->rows);
}

/* Reads and checks the whole file; 0, or an exit code after saying why. */
static int
import_check(struct import *im, const char *data, size_t len)
{
	struct csv_reader r;
	char *cause = NULL;
	int rc;

	csv_reader_init(&r, data, len);
	if ((rc = csv_next(&r, &cause)) <= 0) {
		if (rc < 0)
			problem(im, r.err_line, "%s", cause);
		else
			problem(im, 1, "no header row");
		free(cause);
		csv_reader_free(&r);
		goto out;
	}
	read_header(im, &r);
	/* Without a sound header, rows cannot be checked. */
	while (im->problems == 0 && (rc = csv_next(&r, &cause)) != 0) {
		if (rc < 0) {
			problem(im, r.err_line, "%s", cause);
			free(cause);
			cause = NULL;
			continue;
		}
		read_row(im, &r);
	}
	/* After a bad header, only the rows' format is checked. */
	while (im->problems > 0 && (rc = csv_next(&r, &cause)) != 0) {
		if (rc < 0) {
			problem(im, r.err_line, "%s", cause);
			free(cause);
			cause = NULL;
		} else if (r.ncells != im->ncols)
			problem(im, r.row_line, "%zu cells where the header has "
			    "%zu", r.ncells, im->ncols);
	}
	csv_reader_free(&r);
out:
	if (im->problems == 0)
		return 0;
	if (im->problems > IMPORT_MAX_PROBLEMS)
		cmd_complain(0, "%s: %zu more problems", im->file,
		    im->problems - IMPORT_MAX_PROBLEMS);
	return cmd_complain(CMD_EXIT_FAIL, "%s: %zu problem%s: nothing was "
	    "imported", im->file, im->problems, im->problems == 1 ? "" : "s");
}

static void
import_free(struct import *im)
{
	free(im->cols);
	free(im->off);
	free(im->line);
	wire_wipe(&im->rows);
	wire_free(&im->rows);
	wire_wipe(&im->row);
	wire_free(&im->row);
}

/* The ids of the records written, in row order. */
struct ids {
	char **id;
	size_t n;
};

/* Sends the rows in batches; 0, or an exit code after saying why. */
static int
import_send(struct cmd_ctx *c, struct import *im, struct ids *ids)
{
	const struct reply_node *got;
	struct reply rp;
	struct wbuf w;
	size_t i = 0, j, bytes;
	int tty = isatty(STDERR_FILENO), rc;

	ids->id = xcalloc(im->n + 1, sizeof(*ids->id));
	while (i < im->n) {
		for (j = i, bytes = 0; j < im->n && j - i < IMPORT_BATCH_ROWS &&
		    bytes + im->off[j + 1] - im->off[j] <= IMPORT_BATCH_BYTES;
		    j++)
			bytes += im->off[j + 1] - im->off[j];
		cmd_request(&w, CTL_IMPORT, 4);
		wire_put_cstr(&w, im->collection);
		if (c->circle != NULL)
			wire_put_cstr(&w, c->circle);
		else
			wire_put_nil(&w);
		wire_put_bool(&w, c->dry_run);
		wire_put_array(&w, (uint32_t)(j - i));
		wire_put_raw(&w, wire_data(&im->rows) + im->off[i], bytes);
		if ((rc = cmd_call(c, &w, &rp)) != 0) {
			if (tty && i > 0)
				putc('\n', stderr);
			if (i > 0 && !c->dry_run)
				cmd_complain(0, "%s: the %zu rows before line %zu "
				    "were imported; from line %zu on, none was",
				    im->file, i, im->line[i], im->line[i]);
			return rc;
		}
		got = reply_get(rp.body, "ids");
		if (!c->dry_run && reply_len(got) != j - i) {
			reply_free(&rp);
			return cmd_complain(CMD_EXIT_FAIL, "malformed reply from "
			    "samend: %zu rows imported, %" PRIu32 " ids", j - i,
			    reply_len(got));
		}
		for (uint32_t k = 0; !c->dry_run && k < reply_len(got); k++) {
			const char *id = reply_str(reply_at(got, k));

			ids->id[ids->n++] = xstrdup(id != NULL ? id : "");
		}
		reply_free(&rp);
		i = j;
		if (tty)
			fprintf(stderr, "\rimport: %zu of %zu rows%s", i, im->n,
			    c->dry_run ? " checked" : "");
	}
	if (tty && im->n > 0)
		putc('\n', stderr);
	return 0;
}

int
cmd_bulk_import(struct cmd_ctx *c)
{
	struct import im;
	struct ids ids;
	char *data = NULL, *cause = NULL;
	size_t len = 0;
	int rc;

	if ((rc = argcheck_collection(c->argv[0], &cause)) != 0 ||
	    (c->circle != NULL &&
	    (rc = argcheck_circle(c->circle, &cause)) != 0))
		return cmd_failed(rc, cause);
	if ((rc = read_all(c->argv[1], &data, &len)) != 0)
		return rc;
	memset(&im, 0, sizeof(im));
	memset(&ids, 0, sizeof(ids));
	im.file = c->argv[1];
	im.collection = c->argv[0];
	wire_init(&im.rows);
	wire_init(&im.row);
	rc = import_check(&im, data, len);
	sodium_memzero(data, len);
	free(data);
	if (rc == 0 && im.n > 0)
		rc = import_send(c, &im, &ids);
	if (rc == 0 && c->json) {
		printf("{\"collection\": \"%s\", \"rows\": %zu, \"imported\": "
		    "%zu, \"dry_run\": %s, \"ids\": [", im.collection, im.n,
		    ids.n, c->dry_run ? "true" : "false");
		for (size_t i = 0; i < ids.n; i++)
			printf("%s\"%s\"", i > 0 ? ", " : "", ids.id[i]);
		fputs("]}\n", stdout);
	} else if (rc == 0 && c->dry_run)
		printf("%zu row%s checked, nothing written (dry run)\n", im.n,
		    im.n == 1 ? "" : "s");
	else if (rc == 0)
		printf("%zu record%s imported into %s\n", ids.n,
		    ids.n == 1 ? "" : "s", im.collection);
	if (rc == 0 && im.skipped > 0)
		cmd_complain(0, "%s: %zu empty row%s skipped", im.file,
		    im.skipped, im.skipped == 1 ? "" : "s");
	for (size_t i = 0; i < ids.n; i++)
		free(ids.id[i]);
	free(ids.id);
	import_free(&im);
	return rc;
}
