/* output_records: the human forms of what samen says of records: get, ls, find, log, conflicts, handover, purge, audit. */
#include "output_records.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "devid.h"
#include "output.h"

#define KEY_COLS_MAX 24		/* wider field names push their value out */
#define VALUE_COLS 60		/* one value on a one-line form */
#define SUMMARY_COLS 80		/* the field summary of ls */
#define SUMMARY_VALUE_COLS 24

/* Conflicts, shared by get and conflicts. */

static const struct reply_node *
conflict_for(const struct reply_node *conflicts, const char *field)
{
	const struct reply_node *c, *f;
	uint32_t i;

	for (i = 0; i < reply_len(conflicts); i++) {
		c = reply_at(conflicts, i);
		f = reply_get(c, "field");
		if (field == NULL ? f != NULL && f->type == REPLY_NIL :
		    reply_str(f) != NULL && strcmp(reply_str(f), field) == 0)
			return c;
	}
	return NULL;
}

/*
 * One line per surviving value: time, device, value; "*" marks the value
 * shown (the daemon lists it first).
 */
static void
put_conflict_values(FILE *fp, const struct reply_node *values, size_t indent)
{
	const struct reply_node *v, *val;
	size_t col;
	uint32_t i;
	int deleted;

	col = indent + 2 + OUTPUT_TIME_COLS + 2 + DEVID_SHORTLEN + 2;
	for (i = 0; i < reply_len(values); i++) {
		v = reply_at(values, i);
		output_spaces(fp, indent);
		fputs(i == 0 ? "* " : "  ", fp);
		output_col(fp, reply_get_str(v, "time"), OUTPUT_TIME_COLS);
		fputs("  ", fp);
		output_col(fp, reply_get_str(v, "author"), DEVID_SHORTLEN);
		fputs("  ", fp);
		if ((val = reply_get(v, "value")) != NULL)
			output_value(fp, val, 0, OUTPUT_BLOCK, col);
		else if (reply_get_bool(v, "deleted", &deleted) == 0)
			fputs(deleted ? "deleted" : "exists", fp);
		else
			output_json_value(fp, v);
		putc('\n', fp);
	}
}

static void
put_conflict_title(FILE *fp, const struct reply_node *c)
{
	const char *field = reply_get_str(c, "field");

	if (field != NULL)
		output_str(fp, field, 0, 0, 0);
	else
		fputs("(existence: deleted and edited)", fp);
}

/* get */

static void
put_label(FILE *fp, const char *label, size_t width)
{
	size_t cols;

	cols = output_str(fp, label, 0, 0, 0);
	output_spaces(fp, cols < width ? width - cols + 2 : 2);
}

static void
put_marker(FILE *fp, const struct reply_node *c)
{
	if (c != NULL)
		fprintf(fp, "  [CONFLICT: %" PRIu32 " values, see below]",
		    reply_len(reply_get(c, "values")));
}

static size_t
widest_key(const struct reply_node *map, size_t width)
{
	const char *k;
	uint32_t i;

	for (i = 0; i < reply_len(map); i++) {
		if (map->type != REPLY_MAP)
			break;
		k = output_key_at(map, i);
		if (strlen(k) > width && strlen(k) <= KEY_COLS_MAX)
			width = strlen(k);
	}
	return width;
}

static void
put_notes(FILE *fp, const struct reply_node *notes)
{
	const struct reply_node *note, *text;
	const char *when;
	uint32_t i;

	fputs("\nnotes:\n", fp);
	for (i = 0; i < reply_len(notes); i++) {
		note = reply_at(notes, i);
		if ((when = reply_get_str(note, "created")) == NULL)
			when = reply_get_str(note, "updated");
		text = reply_get(reply_get(note, "fields"), "text");
		fputs("  ", fp);
		output_col(fp, when, OUTPUT_TIME_COLS);
		fputs("  ", fp);
		output_value(fp, text, 0, OUTPUT_BLOCK,
		    2 + OUTPUT_TIME_COLS + 2);
		putc('\n', fp);
	}
}

void
output_records_get(FILE *fp, const struct reply_node *rec)
{
	static const char *head[] = { "collection", "id", "created",
	    "updated", "circle" };
	const struct reply_node *fields, *sets, *conflicts, *notes, *c, *vals;
	const char *s;
	size_t width = strlen("collection"), i;
	uint32_t j;
	int deleted = 0;

	if (rec == NULL || rec->type != REPLY_MAP) {
		output_json(fp, rec);
		return;
	}
	fields = reply_get(rec, "fields");
	sets = reply_get(rec, "sets");
	conflicts = reply_get(rec, "conflicts");
	notes = reply_get(rec, "notes");
	width = widest_key(fields, width);
	width = widest_key(sets, width);

	for (i = 0; i < sizeof(head) / sizeof(head[0]); i++) {
		if ((s = reply_get_str(rec, head[i])) == NULL)
			continue;
		put_label(fp, head[i], width);
		output_str(fp, s, 0, 0, 0);
		putc('\n', fp);
	}
	reply_get_bool(rec, "deleted", &deleted);
	c = conflict_for(conflicts, NULL);
	if (deleted || c != NULL) {
		put_label(fp, "deleted", width);
		fputs(deleted ? "yes" : "no", fp);
		put_marker(fp, c);
		putc('\n', fp);
	}
	for (j = 0; j < reply_len(fields) && fields->type == REPLY_MAP; j++) {
		s = output_key_at(fields, j);
		put_label(fp, s, width);
		output_value(fp, &fields->v.kids[2 * j + 1], 0, OUTPUT_BLOCK,
		    width + 2);
		put_marker(fp, conflict_for(conflicts, s));
		putc('\n', fp);
	}
	for (j = 0; j < reply_len(sets) && sets->type == REPLY_MAP; j++) {
		s = output_key_at(sets, j);
		put_label(fp, s, width);
		output_value(fp, &sets->v.kids[2 * j + 1], 0, OUTPUT_BLOCK,
		    width + 2);
		putc('\n', fp);
	}
	for (j = 0; j < reply_len(conflicts); j++) {
		c = reply_at(conflicts, j);
		vals = reply_get(c, "values");
		fputs("\nconflict on ", fp);
		put_conflict_title(fp, c);
		fputs(" (* is shown; samen put resolves it):\n", fp);
		put_conflict_values(fp, vals, 2);
	}
	if (reply_len(notes) > 0)
		put_notes(fp, notes);
}

/* ls, find */

/* "field=value  field=a, b ..." within SUMMARY_COLS. */
static void
put_summary(FILE *fp, const struct reply_node *rec)
{
	const struct reply_node *maps[2];
	const struct reply_node *m;
	size_t cols = 0, k;
	uint32_t i;

	maps[0] = reply_get(rec, "fields");
	maps[1] = reply_get(rec, "sets");
	for (k = 0; k < 2; k++) {
		m = maps[k];
		if (m == NULL || m->type != REPLY_MAP)
			continue;
		for (i = 0; i < m->n; i++) {
			if (cols >= SUMMARY_COLS) {
				fputs("  ...", fp);
				return;
			}
			if (cols > 0) {
				fputs("  ", fp);
				cols += 2;
			}
			cols += output_str(fp, output_key_at(m, i), 0, 0, 0);
			putc('=', fp);
			cols++;
			cols += output_value(fp, &m->v.kids[2 * i + 1],
			    SUMMARY_VALUE_COLS, 0, 0);
		}
	}
}

static void
put_rec_start(FILE *fp, const struct reply_node *rec, const char *when)
{
	output_col(fp, reply_get_str(rec, "id"), OUTPUT_RID_COLS);
	fputs("  ", fp);
	if (when != NULL) {
		output_col(fp, reply_get_str(rec, when), OUTPUT_TIME_COLS);
		fputs("  ", fp);
	}
}

void
output_records_ls(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *rec;
	uint32_t i;

	if (list == NULL || list->type != REPLY_ARRAY) {
		output_json(fp, list);
		return;
	}
	for (i = 0; i < list->n; i++) {
		rec = &list->v.kids[i];
		put_rec_start(fp, rec, "updated");
		put_summary(fp, rec);
		if (reply_len(reply_get(rec, "conflicts")) > 0)
			fputs("  [CONFLICT]", fp);
		putc('\n', fp);
	}
}

void
output_records_find(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *rec, *matched, *val;
	const char *coll, *field;
	uint32_t i, j;

	if (list == NULL || list->type != REPLY_ARRAY) {
		output_json(fp, list);
		return;
	}
	for (i = 0; i < list->n; i++) {
		rec = &list->v.kids[i];
		coll = reply_get_str(rec, "collection");
		matched = reply_get(rec, "matched");
		if (reply_len(matched) == 0) {
			output_str(fp, coll != NULL ? coll : "?", 0, 0, 0);
			fputs("  ", fp);
			put_rec_start(fp, rec, NULL);
			put_summary(fp, rec);
			putc('\n', fp);
			continue;
		}
		for (j = 0; j < reply_len(matched); j++) {
			if ((field = reply_str(reply_at(matched, j))) == NULL)
				continue;
			if ((val = reply_get(reply_get(rec, "fields"),
			    field)) == NULL)
				val = reply_get(reply_get(rec, "sets"), field);
			output_str(fp, coll != NULL ? coll : "?", 0, 0, 0);
			fputs("  ", fp);
			put_rec_start(fp, rec, NULL);
			output_str(fp, field, 0, 0, 0);
			fputs(": ", fp);
			output_value(fp, val, VALUE_COLS, 0, 0);
			putc('\n', fp);
		}
	}
}

/* log */

void
output_records_log(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *e, *val;
	const char *author, *prev_author = NULL, *op, *field;
	int64_t seq, prev_seq = -1, replaced;
	int has_seq;
	uint32_t i;

	if (list == NULL || list->type != REPLY_ARRAY) {
		output_json(fp, list);
		return;
	}
	for (i = 0; i < list->n; i++) {
		e = &list->v.kids[i];
		author = reply_get_str(e, "author");
		has_seq = reply_get_i64(e, "seq", &seq) == 0;
		/* Entries of one change set follow each other: show it once. */
		if (has_seq && author != NULL && prev_author != NULL &&
		    seq == prev_seq && strcmp(author, prev_author) == 0)
			output_spaces(fp,
			    OUTPUT_TIME_COLS + 2 + DEVID_SHORTLEN + 2);
		else {
			output_col(fp, reply_get_str(e, "time"),
			    OUTPUT_TIME_COLS);
			fputs("  ", fp);
			output_col(fp, author, DEVID_SHORTLEN);
			fputs("  ", fp);
		}
		prev_author = author;
		prev_seq = has_seq ? seq : -1;

		op = reply_get_str(e, "op");
		if ((field = reply_get_str(e, "field")) == NULL) {
			output_str(fp, op != NULL ? op : "?", 0, 0, 0);
			/* A purge's reason. */
			val = reply_get(e, "value");
			if (val != NULL && val->type != REPLY_NIL) {
				fputs("  ", fp);
				output_value(fp, val, VALUE_COLS, 0, 0);
			}
		} else {
			output_col(fp, op != NULL ? op : "?", 7);
			fputs("  ", fp);
			output_str(fp, field, 0, 0, 0);
			val = reply_get(e, "value");
			if (val != NULL && val->type != REPLY_NIL) {
				fputs(" = ", fp);
				output_value(fp, val, VALUE_COLS, 0, 0);
			}
		}
		/* More than one replaced value: this write ended a conflict. */
		if (reply_get_i64(e, "replaced", &replaced) == 0 &&
		    replaced > 1)
			fprintf(fp, "  (replaced %" PRId64 ")", replaced);
		putc('\n', fp);
	}
}

/* conflicts */

void
output_records_conflicts(FILE *fp, const struct reply_node *list)
{
	const struct reply_node *c;
	uint32_t i;

	if (list == NULL || list->type != REPLY_ARRAY) {
		output_json(fp, list);
		return;
	}
	for (i = 0; i < list->n; i++) {
		c = &list->v.kids[i];
		output_str(fp, reply_get_str(c, "collection") != NULL ?
		    reply_get_str(c, "collection") : "?", 0, 0, 0);
		putc(' ', fp);
		output_str(fp, reply_get_str(c, "id") != NULL ?
		    reply_get_str(c, "id") : "?", 0, 0, 0);
		fputs("  ", fp);
		put_conflict_title(fp, c);
		putc('\n', fp);
		put_conflict_values(fp, reply_get(c, "values"), 2);
	}
}

/* handover */

void
output_records_handover(FILE *fp, const struct reply_node *body)
{
	const struct reply_node *moved = reply_get(body, "moved");
	const struct reply_node *left = reply_get(body, "conflicts");
	const char *from = reply_get_str(body, "from");
	const char *to = reply_get_str(body, "to");
	uint32_t n, i;

	if (moved == NULL || moved->type != REPLY_ARRAY || left == NULL ||
	    left->type != REPLY_ARRAY || from == NULL || to == NULL) {
		output_json(fp, body);
		return;
	}
	n = reply_len(moved);
	fprintf(fp, "%u case%s moved from ", n, n == 1 ? "" : "s");
	output_short(fp, from);
	fputs(" to ", fp);
	output_short(fp, to);
	putc('\n', fp);
	if ((n = reply_len(left)) == 0)
		return;
	fprintf(fp, "%u case%s left as %s (lead or existence in conflict: "
	    "samen conflicts):\n", n, n == 1 ? "" : "s",
	    n == 1 ? "it is" : "they are");
	for (i = 0; i < n; i++) {
		const char *id = reply_str(reply_at(left, i));

		fputs("  ", fp);
		output_str(fp, id != NULL ? id : "?", 0, 0, 0);
		putc('\n', fp);
	}
}


/* purge */

void
output_records_purge(FILE *fp, const struct reply_node *body)
{
	const struct reply_node *recs = reply_get(body, "records"), *r;
	const char *name = reply_get_str(body, "name");
	int local;

	if (name == NULL || recs == NULL || recs->type != REPLY_ARRAY ||
	    recs->n == 0 || reply_get_bool(body, "local", &local) != 0) {
		output_json(fp, body);
		return;
	}
	r = &recs->v.kids[0];
	fputs("purged ", fp);
	output_opt(fp, reply_get_str(r, "collection"));
	putc(' ', fp);
	output_opt(fp, reply_get_str(r, "id"));
	if (recs->n > 1)
		fprintf(fp, " and %" PRIu32 " record%s linking to it",
		    recs->n - 1, recs->n == 2 ? "" : "s");
	if (local)
		fputs(" from the private circle: erased on this device\n", fp);
	else {
		fputs(" in circle ", fp);
		output_str(fp, name, 0, 0, 0);
		fputs(": every device and relay that hears of it erases them\n",
		    fp);
	}
}

/* audit */

void
output_records_audit(FILE *fp, const struct reply_node *body)
{
	const struct reply_node *ev = reply_get(body, "events"), *e, *recs;
	int truncated = 0;
	uint32_t i;

	if (ev == NULL || ev->type != REPLY_ARRAY) {
		output_json(fp, body);
		return;
	}
	for (i = 0; i < ev->n; i++) {
		e = &ev->v.kids[i];
		output_col(fp, reply_get_str(e, "time"), OUTPUT_TIME_COLS);
		fputs("  ", fp);
		output_short(fp, reply_get_str(e, "device"));
		fputs("  ", fp);
		output_col(fp, reply_get_str(e, "action"), 5);
		fputs("  ", fp);
		output_col(fp, reply_get_str(e, "what"), 9);
		recs = reply_get(e, "records");
		if (reply_len(recs) > 0 && recs->type == REPLY_ARRAY) {
			const struct reply_node *r = &recs->v.kids[0];

			fputs("  ", fp);
			output_opt(fp, reply_get_str(r, "collection"));
			putc(' ', fp);
			output_opt(fp, reply_get_str(r, "id"));
			if (recs->n > 1)
				fprintf(fp, " (+%u more)", recs->n - 1);
		} else
			fputs("  (nothing found)", fp);	/* a search */
		putc('\n', fp);
	}
	if (reply_get_bool(body, "truncated", &truncated) == 0 && truncated)
		fputs("samen: only the oldest events are shown: narrow with "
		    "--since or --device\n", stderr);
}
