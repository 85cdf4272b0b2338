/* subject: a case's whole file (samen export --subject) as JSON, or as a page a resident can read. */
#include "subject.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devid.h"
#include "output.h"
#include "util.h"
#include "version.h"

/* JSON. */

static void
json_list(FILE *fp, const struct reply_node *const *n, size_t count)
{
	fputs("[", fp);
	for (size_t i = 0; i < count; i++) {
		fputs(i > 0 ? ",\n  " : "\n  ", fp);
		output_json_value(fp, n[i]);
	}
	fputs(count > 0 ? "\n ]" : "]", fp);
}

static void
json_kv_str(FILE *fp, const char *k, const char *v)
{
	fprintf(fp, " \"%s\": ", k);
	if (v != NULL)
		output_json_str(fp, v, strlen(v));
	else
		fputs("null", fp);
	fputs(",\n", fp);
}

void
subject_json(FILE *fp, const struct subject *s)
{
	fputs("{\"kind\": \"samen subject\", \"version\": 1,\n", fp);
	json_kv_str(fp, "exported", s->time);
	json_kv_str(fp, "device", s->device);
	fputs(" \"case\": ", fp);
	output_json_value(fp, s->kase);
	fputs(",\n \"records\": ", fp);
	json_list(fp, s->recs, s->nrecs);
	fputs(",\n \"audit\": ", fp);
	json_list(fp, s->events, s->nevents);
	fputs("}\n", fp);
}

/* The page's words: one table per language, chosen in one place. */

struct labels {
	const char *lang;		/* the page's lang attribute */
	/* %n: the case's name */
	const char *title;
	const char *lead;
	const char *made_on;
	const char *made_by;
	const char *case_id;
	const char *sec_case;
	const char *sec_records;
	const char *sec_audit;
	const char *sec_devices;
	const char *audit_lead;
	const char *devices_lead;
	const char *no_records;
	const char *no_events;
	const char *created;
	const char *updated;
	const char *deleted;
	const char *conflict;		/* a field with several values */
	const char *history;
	const char *no_history;
	const char *col_field;
	const char *col_value;
	const char *col_when;
	const char *col_who;
	const char *col_what;
	const char *col_record;
	const char *col_short;
	const char *col_device;
	/* History: %f the field, %v the value. */
	const char *op_create;
	const char *op_set;
	const char *op_add;
	const char *op_remove;
	const char *op_delete;
	const char *op_restore;
	const char *op_other;
	/* The audit trail: %w the request that read it. */
	const char *ev_create;
	const char *ev_update;
	const char *ev_delete;
	const char *ev_restore;
	const char *ev_read;
	const char *ev_other;
	const char *footer;		/* %w: samen's version */
	const char *times;
};

static const struct labels labels_en = {
	.lang = "en",
	.title = "Everything held about %n",
	.lead = "This page shows everything this samen device holds about "
	    "one case: the case itself, the records that refer to it, who "
	    "wrote what and when, and who looked at it.",
	.made_on = "Made on",
	.made_by = "By device",
	.case_id = "Case number",
	.sec_case = "The case",
	.sec_records = "Records about this case",
	.sec_audit = "Who looked at or changed this file",
	.sec_devices = "Devices named on this page",
	.audit_lead = "Every time someone's device opened or changed one of "
	    "the records above, oldest first.",
	.devices_lead = "Each device belongs to one worker; it is named by "
	    "the first characters of its id.",
	.no_records = "No other records refer to this case.",
	.no_events = "Nothing is recorded yet.",
	.created = "Created",
	.updated = "last changed",
	.deleted = "This record was deleted; its history is still kept.",
	.conflict = "Two workers wrote different values here at the same "
	    "time; the first is shown above. All of them:",
	.history = "Who wrote what, and when",
	.no_history = "No history is kept for this record.",
	.col_field = "Field",
	.col_value = "What it says",
	.col_when = "When",
	.col_who = "Who (device)",
	.col_what = "What",
	.col_record = "Record",
	.col_short = "Shown as",
	.col_device = "Full device id",
	.op_create = "created the record",
	.op_set = "wrote %f: %v",
	.op_add = "added %v to %f",
	.op_remove = "removed %v from %f",
	.op_delete = "deleted the record",
	.op_restore = "brought the record back",
	.op_other = "changed %f",
	.ev_create = "created it",
	.ev_update = "changed it",
	.ev_delete = "deleted it",
	.ev_restore = "brought it back",
	.ev_read = "looked at it (%w)",
	.ev_other = "%w",
	.footer = "Made by samen %w.",
	.times = "Times are in UTC.",
};

static const struct labels *const L = &labels_en;

/* HTML. */

/*
 * s[0..len) as HTML text or attribute value: the five characters that
 * mean something in HTML become references, and control characters other
 * than tab and newline become U+FFFD (replies hold valid UTF-8: the reply
 * parser refuses anything else).
 */
static void
esc_n(FILE *fp, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '&': fputs("&amp;", fp); break;
		case '<': fputs("&lt;", fp); break;
		case '>': fputs("&gt;", fp); break;
		case '"': fputs("&quot;", fp); break;
		case '\'': fputs("&#39;", fp); break;
		case '\t': case '\n': putc(c, fp); break;
		case '\r': break;
		default:
			if (c < 0x20 || c == 0x7f)
				fputs("\xef\xbf\xbd", fp);
			else
				putc(c, fp);
		}
	}
}

static void
esc(FILE *fp, const char *s)
{
	if (s != NULL)
		esc_n(fp, s, strlen(s));
}

/* Devices named on the page, for the list at its end. */
struct devices {
	const char **id;
	size_t n;
	size_t cap;
};

static void
put_device(FILE *fp, struct devices *d, const char *id)
{
	size_t i;

	if (id == NULL) {
		fputs("?", fp);
		return;
	}
	for (i = 0; i < d->n && strcmp(d->id[i], id) != 0; i++)
		;
	if (i == d->n) {
		if (d->n == d->cap) {
			d->cap = d->cap ? d->cap * 2 : 8;
			d->id = xreallocarray(d->id, d->cap, sizeof(*d->id));
		}
		d->id[d->n++] = id;
	}
	fputs("<span class=\"dev\">", fp);
	esc_n(fp, id, strlen(id) < DEVID_SHORTLEN ? strlen(id) :
	    DEVID_SHORTLEN);
	fputs("</span>", fp);
}

/* 2026-11-24T23:50:01.123Z as "2026-11-24 23:50". */
static void
put_time(FILE *fp, const char *t)
{
	if (t == NULL) {
		fputs("?", fp);
		return;
	}
	fputs("<time datetime=\"", fp);
	esc(fp, t);
	fputs("\">", fp);
	if (strlen(t) >= 16 && t[10] == 'T') {
		esc_n(fp, t, 10);
		putc(' ', fp);
		esc_n(fp, t + 11, 5);
	} else
		esc(fp, t);
	fputs("</time>", fp);
}

static void
put_value(FILE *fp, const char *v)
{
	fputs("<span class=\"val\">", fp);
	esc(fp, v);
	fputs("</span>", fp);
}

/*
 * A label with its parts put in: %f a field's name, %v a value (quoted),
 * %w a request, %n the case's name.  Labels are ours; what goes into
 * them is escaped.
 */
static void
put_label(FILE *fp, const char *label, const char *field, const char *value,
    const char *name)
{
	const char *p = label, *pct;

	while ((pct = strchr(p, '%')) != NULL) {
		fwrite(p, 1, (size_t)(pct - p), fp);
		switch (pct[1]) {
		case 'f':
			fputs("<span class=\"field\">", fp);
			esc(fp, field);
			fputs("</span>", fp);
			break;
		case 'v':
			fputs("\xe2\x80\x9c", fp);
			put_value(fp, value);
			fputs("\xe2\x80\x9d", fp);
			break;
		case 'w':
			esc(fp, field);
			break;
		case 'n':
			esc(fp, name);
			break;
		default:
			putc('%', fp);
			p = pct + 1;
			continue;
		}
		p = pct + 2;
	}
	fputs(p, fp);
}

static const char *
history_label(const char *op)
{
	static const struct {
		const char *op;
		size_t at;
	} ops[] = {
		{ "create", offsetof(struct labels, op_create) },
		{ "set", offsetof(struct labels, op_set) },
		{ "add", offsetof(struct labels, op_add) },
		{ "remove", offsetof(struct labels, op_remove) },
		{ "delete", offsetof(struct labels, op_delete) },
		{ "restore", offsetof(struct labels, op_restore) },
	};

	for (size_t i = 0; op != NULL && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(op, ops[i].op) == 0)
			return *(const char *const *)((const char *)L +
			    ops[i].at);
	return L->op_other;
}

static void
put_history(FILE *fp, struct devices *d, const struct reply_node *hist)
{
	const struct reply_node *e;

	fprintf(fp, "<h4>%s</h4>\n", L->history);
	if (reply_len(hist) == 0 || hist->type != REPLY_ARRAY) {
		fprintf(fp, "<p>%s</p>\n", L->no_history);
		return;
	}
	fprintf(fp, "<table class=\"history\">\n<thead><tr><th scope=\"col\">"
	    "%s</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr>"
	    "</thead>\n<tbody>\n", L->col_when, L->col_who, L->col_what);
	for (uint32_t i = 0; i < hist->n; i++) {
		e = reply_at(hist, i);
		fputs("<tr><td>", fp);
		put_time(fp, reply_get_str(e, "time"));
		fputs("</td><td>", fp);
		put_device(fp, d, reply_get_str(e, "author"));
		fputs("</td><td>", fp);
		put_label(fp, history_label(reply_get_str(e, "op")),
		    reply_get_str(e, "field"), reply_get_str(e, "value"), NULL);
		fputs("</td></tr>\n", fp);
	}
	fputs("</tbody>\n</table>\n", fp);
}

/* The values of a field in conflict (the record's "conflicts"). */
static void
put_conflict(FILE *fp, struct devices *d, const struct reply_node *rec,
    const char *field)
{
	const struct reply_node *cs = reply_get(rec, "conflicts");
	const struct reply_node *vals = NULL;

	for (uint32_t i = 0; i < reply_len(cs); i++) {
		const char *f = reply_get_str(reply_at(cs, i), "field");

		if (f != NULL && strcmp(f, field) == 0)
			vals = reply_get(reply_at(cs, i), "values");
	}
	if (reply_len(vals) == 0)
		return;
	fprintf(fp, "<div class=\"conflict\">%s<ul>\n", L->conflict);
	for (uint32_t i = 0; i < reply_len(vals); i++) {
		const struct reply_node *v = reply_at(vals, i);

		fputs("<li>", fp);
		put_value(fp, reply_get_str(v, "value"));
		fputs(" \xe2\x80\x94 ", fp);
		put_device(fp, d, reply_get_str(v, "author"));
		putc(' ', fp);
		put_time(fp, reply_get_str(v, "time"));
		fputs("</li>\n", fp);
	}
	fputs("</ul></div>\n", fp);
}

static void
put_record(FILE *fp, struct devices *d, const struct reply_node *rec,
    int heading)
{
	const struct reply_node *fields = reply_get(rec, "fields");
	const struct reply_node *sets = reply_get(rec, "sets");
	const struct reply_node *set;
	int deleted = 0;
	uint32_t i, j;

	fputs("<article class=\"record\">\n", fp);
	if (heading) {
		fputs("<h3>", fp);
		esc(fp, reply_get_str(rec, "collection"));
		fputs(" <span class=\"id\">", fp);
		esc(fp, reply_get_str(rec, "id"));
		fputs("</span></h3>\n", fp);
	}
	fprintf(fp, "<p class=\"dates\">%s ", L->created);
	put_time(fp, reply_get_str(rec, "created"));
	fprintf(fp, ", %s ", L->updated);
	put_time(fp, reply_get_str(rec, "updated"));
	fputs("</p>\n", fp);
	if (reply_get_bool(rec, "deleted", &deleted) == 0 && deleted)
		fprintf(fp, "<p class=\"deleted\">%s</p>\n", L->deleted);
	fprintf(fp, "<table class=\"fields\">\n<thead><tr><th scope=\"col\">%s"
	    "</th><th scope=\"col\">%s</th></tr></thead>\n<tbody>\n",
	    L->col_field, L->col_value);
	for (i = 0; fields != NULL && fields->type == REPLY_MAP &&
	    i < fields->n; i++) {
		const char *name = reply_str(&fields->v.kids[2 * i]);

		fputs("<tr><th scope=\"row\">", fp);
		esc(fp, name);
		fputs("</th><td>", fp);
		put_value(fp, reply_str(&fields->v.kids[2 * i + 1]));
		if (name != NULL)
			put_conflict(fp, d, rec, name);
		fputs("</td></tr>\n", fp);
	}
	for (i = 0; sets != NULL && sets->type == REPLY_MAP && i < sets->n;
	    i++) {
		set = &sets->v.kids[2 * i + 1];
		fputs("<tr><th scope=\"row\">", fp);
		esc(fp, reply_str(&sets->v.kids[2 * i]));
		fputs("</th><td><ul class=\"set\">", fp);
		for (j = 0; j < reply_len(set) && set->type == REPLY_ARRAY;
		    j++) {
			fputs("<li>", fp);
			put_value(fp, reply_str(reply_at(set, j)));
			fputs("</li>", fp);
		}
		fputs("</ul></td></tr>\n", fp);
	}
	fputs("</tbody>\n</table>\n", fp);
	put_history(fp, d, reply_get(rec, "history"));
	fputs("</article>\n", fp);
}

static const char *
event_label(const char *action, const char *what)
{
	if (action != NULL && strcmp(action, "read") == 0)
		return L->ev_read;
	if (what == NULL)
		return L->ev_other;
	if (strcmp(what, "create") == 0)
		return L->ev_create;
	if (strcmp(what, "update") == 0)
		return L->ev_update;
	if (strcmp(what, "delete") == 0)
		return L->ev_delete;
	if (strcmp(what, "restore") == 0)
		return L->ev_restore;
	return L->ev_other;
}

static void
put_events(FILE *fp, struct devices *d, const struct subject *s)
{
	fprintf(fp, "<section id=\"audit\">\n<h2>%s</h2>\n<p>%s</p>\n",
	    L->sec_audit, L->audit_lead);
	if (s->nevents == 0) {
		fprintf(fp, "<p>%s</p>\n</section>\n", L->no_events);
		return;
	}
	fprintf(fp, "<table class=\"audit\">\n<thead><tr><th scope=\"col\">%s"
	    "</th><th scope=\"col\">%s</th><th scope=\"col\">%s</th>"
	    "<th scope=\"col\">%s</th></tr></thead>\n<tbody>\n", L->col_when,
	    L->col_who, L->col_what, L->col_record);
	for (size_t i = 0; i < s->nevents; i++) {
		const struct reply_node *e = s->events[i];
		const char *what = reply_get_str(e, "what");

		fputs("<tr><td>", fp);
		put_time(fp, reply_get_str(e, "time"));
		fputs("</td><td>", fp);
		put_device(fp, d, reply_get_str(e, "device"));
		fputs("</td><td>", fp);
		put_label(fp, event_label(reply_get_str(e, "action"), what),
		    what, NULL, NULL);
		fputs("</td><td>", fp);
		esc(fp, reply_get_str(e, "collection"));
		fputs(" <span class=\"id\">", fp);
		esc(fp, reply_get_str(e, "id"));
		fputs("</span></td></tr>\n", fp);
	}
	fputs("</tbody>\n</table>\n</section>\n", fp);
}

static const char style[] =
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,"
    "sans-serif;color:#1a1a1a;line-height:1.5;max-width:60rem;"
    "margin:2rem auto;padding:0 1rem}\n"
    "h1{font-size:1.7rem;margin-bottom:.3rem}\n"
    "h2{font-size:1.3rem;border-bottom:2px solid #bbb;padding-bottom:.2rem;"
    "margin-top:2.2rem}\n"
    "h3{font-size:1.1rem;margin:.2rem 0}\n"
    "h4{font-size:1rem;margin:1rem 0 .2rem}\n"
    ".lead{font-size:1.1rem}\n"
    "dl.meta{display:grid;grid-template-columns:max-content auto;"
    "gap:.1rem 1rem}\n"
    "dl.meta dt{font-weight:600}\n"
    "dl.meta dd{margin:0}\n"
    "table{border-collapse:collapse;width:100%;margin:.4rem 0}\n"
    "th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;"
    "border-bottom:1px solid #ddd}\n"
    "thead th{border-bottom:2px solid #bbb}\n"
    "table.fields th[scope=row]{width:12rem;font-weight:600}\n"
    ".val{white-space:pre-wrap;overflow-wrap:anywhere}\n"
    ".id,.dev{font-family:ui-monospace,\"DejaVu Sans Mono\",monospace;"
    "font-size:.92em}\n"
    "time,.dev{white-space:nowrap}\n"
    ".field{font-weight:600}\n"
    "ul.set{margin:0;padding-left:1.2rem}\n"
    "article.record{border:1px solid #ccc;border-radius:6px;"
    "padding:.6rem 1rem;margin:1rem 0}\n"
    ".dates{color:#555;margin:.2rem 0}\n"
    ".deleted{color:#9b1c1c;font-weight:600}\n"
    ".conflict{margin-top:.4rem;padding:.3rem .6rem;background:#fff4e5;"
    "border-left:4px solid #e6a23c}\n"
    "footer{margin-top:2.5rem;color:#555;font-size:.9rem}\n"
    "@media print{body{margin:0;max-width:none;font-size:11pt}"
    "article.record,tr{break-inside:avoid}"
    "h2,h3,h4{break-after:avoid}}\n";

void
subject_html(FILE *fp, const struct subject *s)
{
	struct devices d;
	const char *name, *id;

	memset(&d, 0, sizeof(d));
	id = reply_get_str(s->kase, "id");
	name = reply_get_str(reply_get(s->kase, "fields"), "name");
	if (name == NULL)
		name = id;
	fprintf(fp, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\""
	    "default-src 'none'; style-src 'unsafe-inline'\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n<title>", L->lang);
	put_label(fp, L->title, NULL, NULL, name);
	fprintf(fp, "</title>\n<style>\n%s</style>\n</head>\n<body>\n"
	    "<header>\n<h1>", style);
	put_label(fp, L->title, NULL, NULL, name);
	fprintf(fp, "</h1>\n<p class=\"lead\">%s</p>\n<dl class=\"meta\">\n"
	    "<dt>%s</dt><dd>", L->lead, L->case_id);
	fputs("<span class=\"id\">", fp);
	esc(fp, id);
	fprintf(fp, "</span></dd>\n<dt>%s</dt><dd>", L->made_on);
	put_time(fp, s->time);
	fprintf(fp, "</dd>\n<dt>%s</dt><dd>", L->made_by);
	put_device(fp, &d, s->device);
	fputs("</dd>\n</dl>\n</header>\n<main>\n", fp);

	fprintf(fp, "<section id=\"case\">\n<h2>%s</h2>\n", L->sec_case);
	put_record(fp, &d, s->kase, 0);
	fputs("</section>\n", fp);

	fprintf(fp, "<section id=\"records\">\n<h2>%s (%zu)</h2>\n",
	    L->sec_records, s->nrecs);
	if (s->nrecs == 0)
		fprintf(fp, "<p>%s</p>\n", L->no_records);
	for (size_t i = 0; i < s->nrecs; i++)
		put_record(fp, &d, s->recs[i], 1);
	fputs("</section>\n", fp);

	put_events(fp, &d, s);

	fprintf(fp, "<section id=\"devices\">\n<h2>%s</h2>\n<p>%s</p>\n"
	    "<table class=\"devices\">\n<thead><tr><th scope=\"col\">%s</th>"
	    "<th scope=\"col\">%s</th></tr></thead>\n<tbody>\n",
	    L->sec_devices, L->devices_lead, L->col_short, L->col_device);
	for (size_t i = 0; i < d.n; i++) {
		fputs("<tr><td class=\"dev\">", fp);
		esc_n(fp, d.id[i], strlen(d.id[i]) < DEVID_SHORTLEN ?
		    strlen(d.id[i]) : DEVID_SHORTLEN);
		fputs("</td><td class=\"id\">", fp);
		esc(fp, d.id[i]);
		fputs("</td></tr>\n", fp);
	}
	fputs("</tbody>\n</table>\n</section>\n</main>\n<footer>\n<p>", fp);
	put_label(fp, L->footer, SAMEN_VERSION, NULL, NULL);
	fprintf(fp, " %s</p>\n</footer>\n</body>\n</html>\n", L->times);
	free(d.id);
}
