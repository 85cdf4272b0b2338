/* ctl_bulk: the control requests on many records at once: export, a subject's file, and import. */
#include "ctl_bulk.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "circle.h"
#include "clock.h"
#include "error.h"
#include "hlc.h"
#include "index.h"
#include "testhook.h"
#include "trail.h"
#include "util.h"
#include "writer.h"

/*
 * A page's body stays near BULK_PAGE_BYTES, far below CTL_MAX_REPLY: the
 * CLI holds a page in memory.  Records are estimated, not measured: the
 * bytes of their names and values, and these for keys, times and ids.
 */
#define BULK_PAGE_BYTES (4u << 20)
#define BULK_RECORD_BYTES 320
#define BULK_VALUE_BYTES 96
#define BULK_ENTRY_BYTES 224

/* Shown by ls, and so exported: live, and not of a members chain. */
static int
shown(struct ctl_parts *p, const struct store_record *r)
{
	return (!r->deleted || r->exist_conflict) &&
	    !circle_is_chain(p->circle, r->circle);
}

static size_t
record_bytes(const struct store_record *r)
{
	size_t n = BULK_RECORD_BYTES + r->nexist * BULK_VALUE_BYTES;

	for (size_t i = 0; i < r->nfields; i++) {
		const struct store_field *f = &r->fields[i];

		n += strlen(f->name);
		for (size_t j = 0; j < f->nvals; j++)
			n += f->vals[j].value_len + BULK_VALUE_BYTES;
	}
	return n;
}

static size_t
history_bytes(const struct store_hist *h, size_t n)
{
	size_t b = 0;

	for (size_t i = 0; i < n; i++)
		b += BULK_ENTRY_BYTES + strlen(h[i].field) +
		    (h[i].value != NULL ? strlen(h[i].value) : 0);
	return b;
}

/* 1 if a value or element of r, shown or in conflict, is id. */
static int
links_to(const struct store_record *r, const char id[RID_TEXTLEN + 1])
{
	for (size_t i = 0; i < r->nfields; i++) {
		const struct store_field *f = &r->fields[i];

		for (size_t j = 0; j < f->nvals; j++)
			if (f->vals[j].value_len == RID_TEXTLEN &&
			    strncasecmp(f->vals[j].value, id, RID_TEXTLEN) == 0)
				return 1;
	}
	return 0;
}

/* What a page of this export holds. */
static int
wanted(struct ctl_parts *p, const struct request_export *rq,
    const struct store_circle *circ, const struct store_record *kase,
    const char *case_id, const struct store_record *r)
{
	if (kase != NULL)
		return r != kase && !circle_is_chain(p->circle, r->circle) &&
		    links_to(r, case_id);
	return shown(p, r) &&
	    (*rq->collection == '\0' ||
	    strcmp(r->collection, rq->collection) == 0) &&
	    (circ == NULL || memcmp(r->circle, circ->id, CS_CIRCLELEN) == 0);
}

static int
cmp_column(const char *name, int is_set, const struct render_column *c)
{
	int d = strcmp(name, c->name);

	return d != 0 ? d : is_set - c->is_set;
}

/* Adds (name, is_set) to the sorted columns of out, once. */
static void
add_column(struct render_export *out, size_t *cap, const char *name,
    int is_set)
{
	size_t lo = 0, hi = out->ncols;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = cmp_column(name, is_set, &out->cols[mid]);

		if (d == 0)
			return;
		if (d > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (out->ncols == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		out->cols = xreallocarray(out->cols, *cap, sizeof(*out->cols));
	}
	memmove(&out->cols[lo + 1], &out->cols[lo],
	    (out->ncols - lo) * sizeof(*out->cols));
	out->cols[lo].name = name;
	out->cols[lo].is_set = is_set;
	out->ncols++;
}

/*
 * The columns of a table of every record the export will send, from all
 * of them (not only this page's), so that the CLI can write a CSV header
 * before its first row.
 */
static void
columns(struct ctl_parts *p, const struct request_export *rq,
    const struct store_circle *circ, struct render_export *out)
{
	size_t total = index_count(p->env.index), cap = 0;

	out->has_columns = 1;
	for (size_t i = 0; i < total; i++) {
		const struct store_record *r = index_at(p->env.index, i);

		if (!wanted(p, rq, circ, NULL, NULL, r))
			continue;
		for (size_t j = 0; j < r->nfields; j++)
			if (r->fields[j].nvals > 0)
				add_column(out, &cap, r->fields[j].name,
				    r->fields[j].is_set);
	}
}

/* Frees what an export act gathered, for a page that is not sent. */
static void
export_free(struct render_export *out)
{
	if (out->has_subject)
		store_history_free(out->subj.h, out->subj.nh);
	for (size_t i = 0; i < out->n; i++)
		store_history_free(out->items[i].h, out->items[i].nh);
	free(out->items);
	free(out->events);
	free(out->cols);
	memset(out, 0, sizeof(*out));
}

/* it's record r, with its history if asked; adds its size to *bytes. */
static int
fill_item(struct ctl_parts *p, struct render_export_item *it,
    const struct store_record *r, int history, size_t *bytes,
    struct ctl_reply *res)
{
	int rc;

	memset(it, 0, sizeof(*it));
	it->rec = r;
	*bytes += record_bytes(r);
	if (!history)
		return 0;
	it->with_history = 1;
	if ((rc = store_history(p->env.store, r->rkey, &it->h, &it->nh)) != 0)
		return ctl_fail(res, rc, "storage error: %s",
		    samen_strerror(rc));
	*bytes += history_bytes(it->h, it->nh);
	return 0;
}

/* The audit trail of r appended to out's events. */
static int
add_trail(struct ctl_parts *p, struct render_export *out, size_t *cap,
    const struct store_record *r, struct ctl_reply *res)
{
	struct trail_event *ev;
	char *cause = NULL;
	size_t n;
	int rc;

	if ((rc = trail_events(p, r, &ev, &n, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	for (size_t i = 0; i < n; i++) {
		struct render_event *e;

		if (out->nevents == *cap) {
			*cap = *cap ? *cap * 2 : 32;
			out->events = xreallocarray(out->events, *cap,
			    sizeof(*out->events));
		}
		e = &out->events[out->nevents++];
		e->rec = r;
		e->hlc = ev[i].hlc;
		memcpy(e->device, ev[i].device, 32);
		e->action = ev[i].action == TRAIL_READ ? "read" : "write";
		e->what = ev[i].what;
	}
	free(ev);
	return 0;
}

/*
 * AUDIT: an export returns records' contents, so it is a read that the
 * read audit records, before the reply leaves (trail_read: the one call
 * site for every export, plain or of a subject).
 */
static int
audit_page(struct ctl_parts *p, struct render_export *out,
    struct ctl_reply *res)
{
	const struct store_record **recs;
	char *cause = NULL;
	size_t n = 0;
	int rc;

	recs = xreallocarray(NULL, out->n + 1, sizeof(*recs));
	if (out->has_subject)
		recs[n++] = out->subj.rec;
	for (size_t i = 0; i < out->n; i++)
		recs[n++] = out->items[i].rec;
	rc = trail_read(p, "export", recs, n, &cause);
	free(recs);
	if (rc != 0)
		return ctl_fail_cause(res, rc, cause);
	return 0;
}

int
ctl_bulk_export(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_export *rq = &q->export;
	struct render_export *out = &res->out.export;
	const struct store_circle *circ = NULL;
	const struct store_record *kase = NULL, *last = NULL;
	size_t total = index_count(p->env.index), limit = rq->limit;
	size_t i, cap = 0, capev = 0, bytes = 0;
	char case_id[RID_TEXTLEN + 1];
	int history = rq->history || rq->has_subject;

	case_id[0] = '\0';
	memset(out, 0, sizeof(*out));
	out->device = vault_public_key(p->env.vault);
	out->now = HLC_MAKE(clock_wall_ms(), 0);
	out->subject = rq->has_subject;
	if (*rq->circle != '\0' &&
	    (circ = circle_by_name(p->circle, rq->circle)) == NULL)
		return ctl_fail(res, SAMEN_ENOTFOUND, "no circle named '%s' "
		    "(samen circle ls)", rq->circle);
	if (rq->has_subject) {
		rid_encode(case_id, rq->subject);
		kase = index_get(p->env.index, "case", rq->subject);
		if (kase == NULL || circle_is_chain(p->circle, kase->circle))
			return ctl_fail(res, SAMEN_ENOTFOUND, "no case with id "
			    "%s", case_id);
	}
	if (testhook()->export_page > 0 &&
	    (size_t)testhook()->export_page < limit)
		limit = (size_t)testhook()->export_page;

	if (!rq->has_after && kase != NULL) {
		out->has_subject = 1;
		if (fill_item(p, &out->subj, kase, 1, &bytes, res) != 0 ||
		    add_trail(p, out, &capev, kase, res) != 0)
			goto fail;
	}
	if (!rq->has_after && kase == NULL)
		columns(p, rq, circ, out);
	i = rq->has_after ? index_after(p->env.index, rq->after_rid,
	    rq->after_rkey) : 0;
	for (; i < total; i++) {
		const struct store_record *r = index_at(p->env.index, i);

		if (!wanted(p, rq, circ, kase, case_id, r))
			continue;
		/* Full: this record starts the next page. */
		if (out->n == limit || (out->n > 0 && bytes >= BULK_PAGE_BYTES))
			break;
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			out->items = xreallocarray(out->items, cap,
			    sizeof(*out->items));
		}
		out->n++;
		if (fill_item(p, &out->items[out->n - 1], r, history, &bytes,
		    res) != 0 ||
		    (kase != NULL && add_trail(p, out, &capev, r, res) != 0))
			goto fail;
		last = r;
	}
	if (i < total && last != NULL) {
		out->has_next = 1;
		request_cursor_format(out->next, last->rid, last->rkey);
	}
	if (audit_page(p, out, res) != 0)
		goto fail;
	return 0;
fail:
	export_free(out);
	return res->code;
}

static int
cmp_rid(const void *a, const void *b)
{
	return memcmp(a, b, RID_LEN);
}

int
ctl_bulk_import(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_import *rq = &q->import;
	struct render_import *out = &res->out.import;
	const struct store_circle *circ;
	const struct circle_info *ci;
	struct request_assign *as;
	struct wire_reader r = rq->rows;
	char *cause = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (*rq->circle != '\0') {
		if ((circ = circle_by_name(p->circle, rq->circle)) == NULL)
			return ctl_no_writer(p, res, rq->circle);
	} else if ((ci = circle_default_unresolved(p->circle)) != NULL)
		return ctl_no_writer(p, res, ci->name);
	else if ((circ = circle_default(p->circle)) == NULL)
		return ctl_fail(res, SAMEN_ELOCKED, "this device does not hold "
		    "the key of the circle");
	out->collection = rq->collection;
	out->dry_run = rq->dry_run;
	out->n = rq->nrows;
	if (rq->dry_run)
		return 0;
	/* Ids in row order: rids of one millisecond are not. */
	out->rids = xreallocarray(NULL, rq->nrows, RID_LEN);
	for (uint32_t i = 0; i < rq->nrows; i++)
		writer_new_rid(p->writer, out->rids[i]);
	qsort(out->rids, rq->nrows, RID_LEN, cmp_rid);

	as = xreallocarray(NULL, CTL_MAX_ASSIGNS, sizeof(*as));
	for (uint32_t i = 0; i < rq->nrows && rc == 0; i++) {
		struct writer_ops l;
		uint32_t n;

		/* The decoder read every row: this cannot fail. */
		if ((rc = request_import_row(&r, as, &n, &cause)) != 0) {
			ctl_fail_cause(res, rc, cause);
			break;
		}
		writer_ops_init(&l);
		for (uint32_t j = 0; j < n; j++)
			writer_ops_add(&l, as[j].how == CTL_ASSIGN_SET ? OP_SET :
			    OP_ADD, as[j].field, as[j].field_len, as[j].value,
			    as[j].value_len);
		if ((rc = writer_record(p->writer, circ, rq->collection,
		    out->rids[i], NULL, 1, &l, &cause)) != 0)
			ctl_fail_cause(res, rc, cause);
		writer_ops_free(&l);
	}
	free(as);
	if (rc != 0) {
		/* The rows before it are in the batch: none may stay. */
		writer_abort(p->writer, rc);
		free(out->rids);
		out->rids = NULL;
	}
	return res->code;
}
