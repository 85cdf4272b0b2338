/* ctl_records: the control requests on records: put, rm, note, get, ls, find, log, conflicts, handover, purge, audit. */
#include "ctl_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "circle.h"
#include "devid.h"
#include "error.h"
#include "hlc.h"
#include "index.h"
#include "log.h"
#include "trail.h"
#include "util.h"
#include "writer.h"

/* The live record (collection, rid) from the index, or an error. */
static const struct store_record *
lookup(struct ctl_parts *p, struct ctl_reply *res, const char *collection,
    const uint8_t rid[RID_LEN], int allow_deleted)
{
	const struct store_record *r;
	struct circle_purged gone;
	char text[RID_TEXTLEN + 1];

	rid_encode(text, rid);
	r = index_get(p->env.index, collection, rid);
	if (r == NULL && circle_purged(p->circle, collection, rid,
	    &gone) == 0) {
		circle_purged_free(&gone);
		ctl_fail(res, SAMEN_ENOTFOUND, "%s %s was purged (samen log %s "
		    "%s says by whom, when and why)", collection, text,
		    collection, text);
		return NULL;
	}
	if (r == NULL || circle_is_chain(p->circle, r->circle)) {
		ctl_fail(res, SAMEN_ENOTFOUND, "no %s with id %s", collection,
		    text);
		return NULL;
	}
	if (!allow_deleted && r->deleted && !r->exist_conflict) {
		ctl_fail(res, SAMEN_EDELETED, "%s %s was deleted (samen log %s "
		    "%s shows its history)", collection, text, collection,
		    text);
		return NULL;
	}
	return r;
}

/* Shown by ls, find and conflicts: live, and not of a members chain. */
static int
visible(struct ctl_parts *p, const struct store_record *r)
{
	return (!r->deleted || r->exist_conflict) &&
	    !circle_is_chain(p->circle, r->circle);
}

static void
pick(const struct store_record ***a, size_t *n, size_t *cap,
    const struct store_record *r)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*a = xreallocarray(*a, *cap, sizeof(**a));
	}
	(*a)[(*n)++] = r;
}

/* Writes. */

/*
 * The record as the store has it (not the index: earlier writes of this
 * batch are there once their group is built, which settling does).
 */
static int
load_current(struct ctl_parts *p, struct ctl_reply *res,
    const struct store_record *ir, const char *collection,
    struct store_record **cur)
{
	char *cause = NULL;
	int rc;

	if ((rc = writer_settle(p->writer, ir->circle, collection, ir->rid,
	    &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	if ((rc = store_record_load(p->env.store, ir->rkey, cur)) != 0)
		return ctl_fail(res, rc, "storage error: %s",
		    samen_strerror(rc));
	return 0;
}

/* The circle a put writes to: the record's, or the one it names. */
static const struct store_circle *
put_circle(struct ctl_parts *p, struct ctl_reply *res,
    const struct request_put *rq, const struct store_record *cur)
{
	const struct store_circle *circ;
	const struct circle_info *ci;

	if (cur != NULL) {
		circ = circle_by_id(p->circle, cur->circle);
		if (circ != NULL && *rq->circle != '\0' &&
		    circle_by_name(p->circle, rq->circle) != circ) {
			ctl_fail(res, SAMEN_EINVAL, "%s %s stays in the circle "
			    "it was created in", rq->collection, "record");
			return NULL;
		}
	} else if (*rq->circle != '\0') {
		if ((circ = circle_by_name(p->circle, rq->circle)) == NULL) {
			ctl_no_writer(p, res, rq->circle);
			return NULL;
		}
	} else if ((ci = circle_default_unresolved(p->circle)) != NULL) {
		ctl_no_writer(p, res, ci->name);
		return NULL;
	} else
		circ = circle_default(p->circle);
	if (circ == NULL)
		ctl_fail(res, SAMEN_ELOCKED, "this device does not hold the key "
		    "of the record's circle");
	return circ;
}

int
ctl_records_put(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_put *rq = &q->put;
	struct render_written *out = &res->out.written;
	struct store_record *cur = NULL;
	const struct store_circle *circ;
	struct writer_ops l;
	char *cause = NULL;
	int rc;

	if (!rq->creating) {
		const struct store_record *ir;

		if ((ir = lookup(p, res, rq->collection, rq->rid, 0)) == NULL ||
		    load_current(p, res, ir, rq->collection, &cur) != 0)
			return res->code;
		memcpy(out->rid, rq->rid, RID_LEN);
	} else
		writer_new_rid(p->writer, out->rid);

	writer_ops_init(&l);
	for (uint32_t i = 0; i < rq->nassigns; i++) {
		const struct request_assign *a = &rq->assigns[i];
		const struct store_field *f = NULL;
		char name[OPS_MAX_FIELD + 1];

		/* Names and values are NUL-free (wire checks), so the
		 * store's NUL-terminated copies compare with strcmp. */
		if (cur != NULL) {
			memcpy(name, a->field, a->field_len);
			name[a->field_len] = '\0';
			f = index_field(cur, name, a->how != CTL_ASSIGN_SET);
		}
		switch (a->how) {
		case CTL_ASSIGN_SET:
			writer_ops_add(&l, OP_SET, a->field, a->field_len,
			    a->value, a->value_len);
			if (f)
				writer_ops_ref(&l, f->vals, f->nvals, NULL);
			break;
		case CTL_ASSIGN_ADD:
			writer_ops_add(&l, OP_ADD, a->field, a->field_len,
			    a->value, a->value_len);
			break;
		default: {	/* CTL_ASSIGN_REM: the decoder allows no other */
			char *elem = xstrndup(a->value, a->value_len);

			writer_ops_add(&l, OP_REM, a->field, a->field_len,
			    a->value, a->value_len);
			if (f)
				writer_ops_ref(&l, f->vals, f->nvals, elem);
			free(elem);
			break;
		}
		}
	}
	if ((circ = put_circle(p, res, rq, cur)) != NULL) {
		if ((rc = writer_record(p->writer, circ, rq->collection,
		    out->rid, cur, 1, &l, &cause)) != 0)
			ctl_fail_cause(res, rc, cause);
		else {
			out->collection = rq->collection;
			out->created = rq->creating;
			out->case_id[0] = '\0';
		}
	}
	store_record_free(cur);
	writer_ops_free(&l);
	return res->code;
}

int
ctl_records_rm(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_record *rq = &q->record;
	const struct store_record *ir;
	const struct store_circle *circ;
	struct store_record *cur = NULL;
	struct writer_ops l;
	char *cause = NULL;
	int rc;

	if ((ir = lookup(p, res, rq->collection, rq->rid, 0)) == NULL ||
	    load_current(p, res, ir, rq->collection, &cur) != 0)
		return res->code;
	writer_ops_init(&l);
	if ((circ = circle_by_id(p->circle, cur->circle)) == NULL)
		ctl_fail(res, SAMEN_ELOCKED, "this device does not hold the key "
		    "of the record's circle");
	else if ((rc = writer_record(p->writer, circ, rq->collection, rq->rid,
	    cur, 0, &l, &cause)) != 0)
		ctl_fail_cause(res, rc, cause);
	else {
		res->out.written.collection = rq->collection;
		memcpy(res->out.written.rid, rq->rid, RID_LEN);
	}
	store_record_free(cur);
	writer_ops_free(&l);
	return res->code;
}

int
ctl_records_note(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_note *rq = &q->note;
	struct render_written *out = &res->out.written;
	const struct store_record *kase;
	const struct store_circle *circ;
	struct writer_ops l;
	char *cause = NULL;
	int rc;

	if ((kase = lookup(p, res, "case", rq->case_rid, 0)) == NULL)
		return res->code;
	if ((circ = circle_by_id(p->circle, kase->circle)) == NULL)
		return ctl_fail(res, SAMEN_ELOCKED, "this device does not hold "
		    "the key of the case's circle");
	rid_encode(out->case_id, rq->case_rid);
	writer_ops_init(&l);
	writer_ops_add(&l, OP_SET, "case", 4, out->case_id, RID_TEXTLEN);
	writer_ops_add(&l, OP_SET, "text", 4, rq->text, rq->len);
	writer_new_rid(p->writer, out->rid);
	if ((rc = writer_record(p->writer, circ, "note", out->rid, NULL, 1, &l,
	    &cause)) != 0)
		ctl_fail_cause(res, rc, cause);
	else {
		out->collection = "note";
		out->created = 1;
	}
	writer_ops_free(&l);
	return res->code;
}

/* Reads. */

/*
 * The read audit (trail.h): recs[0..n) are about to be returned.  0, or
 * the request is refused (res set) and nothing of it is returned.
 */
static int
audited(struct ctl_parts *p, struct ctl_reply *res, const char *action,
    const struct store_record *const *recs, size_t n)
{
	char *cause = NULL;
	int rc;

	if ((rc = trail_read(p, action, recs, n, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	return 0;
}

static int
audited_list(struct ctl_parts *p, struct ctl_reply *res, const char *action)
{
	struct render_list *out = &res->out.list;

	if (audited(p, res, action, out->recs, out->n) != 0) {
		free(out->recs);
		out->recs = NULL;
		out->n = 0;
		return res->code;
	}
	return 0;
}

static int
is_note_of(const struct store_record *r, const char *case_id)
{
	const struct store_field *f;

	if (r->deleted && !r->exist_conflict)
		return 0;
	if (strcmp(r->collection, "note") != 0)
		return 0;
	f = index_field(r, "case", 0);
	return f && f->nvals > 0 && strcmp(f->vals[0].value, case_id) == 0;
}

int
ctl_records_get(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_record *rq = &q->record;
	struct render_get *out = &res->out.get;
	size_t total = index_count(p->env.index), cap = 0;
	char id[RID_TEXTLEN + 1];

	const struct store_record **shown;
	int rc;

	if ((out->rec = lookup(p, res, rq->collection, rq->rid, 0)) == NULL)
		return res->code;
	out->with_notes = strcmp(rq->collection, "case") == 0;
	out->notes = NULL;
	out->nnotes = 0;
	/* A case shows its notes: they name it in their "case" field. */
	rid_encode(id, out->rec->rid);
	for (size_t i = 0; out->with_notes && i < total; i++) {
		const struct store_record *note = index_at(p->env.index, i);

		if (is_note_of(note, id))
			pick(&out->notes, &out->nnotes, &cap, note);
	}
	/* The record and the notes shown with it are read. */
	shown = xreallocarray(NULL, out->nnotes + 1, sizeof(*shown));
	shown[0] = out->rec;
	if (out->nnotes > 0)
		memcpy(shown + 1, out->notes, out->nnotes * sizeof(*shown));
	rc = audited(p, res, "get", shown, out->nnotes + 1);
	free(shown);
	if (rc != 0) {
		free(out->notes);
		out->notes = NULL;
		out->nnotes = 0;
	}
	return rc;
}

static int
where_match(const struct store_record *r, const struct request_where *w,
    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct store_field *f = index_field(r, w[i].field, 0);
		int ok = 0;

		if (f && f->nvals > 0 && f->vals[0].value_len == w[i].len &&
		    memcmp(f->vals[0].value, w[i].value, w[i].len) == 0)
			ok = 1;
		f = index_field(r, w[i].field, 1);
		for (size_t j = 0; f && !ok && j < f->nvals; j++)
			ok = f->vals[j].value_len == w[i].len &&
			    memcmp(f->vals[j].value, w[i].value, w[i].len) == 0;
		if (!ok)
			return 0;
	}
	return 1;
}

int
ctl_records_ls(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_ls *rq = &q->ls;
	struct render_list *out = &res->out.list;
	size_t total = index_count(p->env.index), cap = 0;

	out->recs = NULL;
	out->n = 0;
	out->find = NULL;
	for (size_t i = 0; i < total; i++) {
		const struct store_record *rec = index_at(p->env.index, i);

		if (visible(p, rec) &&
		    strcmp(rec->collection, rq->collection) == 0 &&
		    where_match(rec, rq->where, rq->nwhere))
			pick(&out->recs, &out->n, &cap, rec);
	}
	return audited_list(p, res, "ls");
}

int
ctl_records_find(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_find *rq = &q->find;
	struct render_list *out = &res->out.list;
	const struct store_field *matched[RENDER_MAX_MATCHED];
	size_t total = index_count(p->env.index), cap = 0;

	out->recs = NULL;
	out->n = 0;
	out->find = rq->text;
	out->find_len = rq->len;
	for (size_t i = 0; i < total; i++) {
		const struct store_record *rec = index_at(p->env.index, i);

		if (visible(p, rec) && index_match(rec, rq->text, rq->len,
		    matched, RENDER_MAX_MATCHED) > 0)
			pick(&out->recs, &out->n, &cap, rec);
	}
	/* A search, with what it found; never its text. */
	return audited_list(p, res, "find");
}

int
ctl_records_log(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_record *rq = &q->record;
	const struct store_record *rec;
	char *cause = NULL;
	int rc;

	res->out.log.h = NULL;
	res->out.log.n = 0;
	res->out.log.is_purged = 0;
	/* A purged record: who purged it, when and why, and nothing else. */
	if (index_get(p->env.index, rq->collection, rq->rid) == NULL &&
	    circle_purged(p->circle, rq->collection, rq->rid,
	    &res->out.log.purged) == 0) {
		res->out.log.is_purged = 1;
		return 0;
	}
	if ((rec = lookup(p, res, rq->collection, rq->rid, 1)) == NULL)
		return res->code;
	/* The store's history: settled, it has this batch's writes too. */
	if ((rc = writer_settle(p->writer, rec->circle, rq->collection,
	    rq->rid, &cause)) != 0)
		return ctl_fail_cause(res, rc, cause);
	if ((rc = store_history(p->env.store, rec->rkey, &res->out.log.h,
	    &res->out.log.n)) != 0)
		return ctl_fail(res, rc, "storage error: %s",
		    samen_strerror(rc));
	if (audited(p, res, "log", &rec, 1) != 0) {
		store_history_free(res->out.log.h, res->out.log.n);
		res->out.log.h = NULL;
		res->out.log.n = 0;
		return res->code;
	}
	return 0;
}

int
ctl_records_conflicts(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	struct render_list *out = &res->out.list;
	size_t total = index_count(p->env.index), cap = 0;

	(void)q;
	out->recs = NULL;
	out->n = 0;
	out->find = NULL;
	for (size_t i = 0; i < total; i++) {
		const struct store_record *rec = index_at(p->env.index, i);

		if (visible(p, rec) && render_count_conflicts(rec) > 0)
			pick(&out->recs, &out->n, &cap, rec);
	}
	return audited_list(p, res, "conflicts");
}

/* Handover. */

#define HANDOVER_FIELD "lead"

/* 1 if v (a value of a lead) is the text of device's id, in any case. */
static int
names_device(const struct store_value *v, const uint8_t device[DEVID_KEYLEN])
{
	uint8_t key[DEVID_KEYLEN];

	return v->value != NULL && devid_decode(key, v->value,
	    v->value_len) == 0 && memcmp(key, device, DEVID_KEYLEN) == 0;
}

/* 1 if a survivor of r's lead names device. */
static int
lead_names(const struct store_record *r, const uint8_t device[DEVID_KEYLEN])
{
	const struct store_field *f = index_field(r, HANDOVER_FIELD, 0);

	for (size_t i = 0; f != NULL && i < f->nvals; i++)
		if (names_device(&f->vals[i], device))
			return 1;
	return 0;
}

static void
push_rid(uint8_t (**a)[RID_LEN], size_t *n, size_t *cap,
    const uint8_t rid[RID_LEN])
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*a = xreallocarray(*a, *cap, RID_LEN);
	}
	memcpy((*a)[(*n)++], rid, RID_LEN);
}

/* Room in the result's arrays. */
struct handover_caps {
	size_t moved;
	size_t conflicts;
};

/* 1 if device is a current member or admin of shared circle id. */
static int
can_read(struct ctl_parts *p, const uint8_t id[CS_CIRCLELEN],
    const uint8_t device[32])
{
	enum roster_state state = 0;
	enum roster_role role = circle_role(p->circle, id, device, &state);

	return state == ROSTER_CURRENT &&
	    (role == ROSTER_MEMBER || role == ROSTER_ADMIN);
}

/* How circle id is called here: its name, or its id's short hex. */
static const char *
circle_label(struct ctl_parts *p, const uint8_t id[CS_CIRCLELEN])
{
	size_t n;
	const struct circle_info *ci = circle_list(p->circle, &n);

	for (size_t i = 0; i < n; i++)
		if (memcmp(ci[i].id, id, CS_CIRCLELEN) == 0)
			return ci[i].name;
	return "?";
}

/*
 * Case ir, read again from the store (this batch's writes are there):
 * its lead becomes to (1), or it is left in conflict (0, listed), or it
 * is not from's any more (0); or a negative code, res set.
 */
static int
hand_one(struct ctl_parts *p, struct ctl_reply *res,
    const struct request_handover *rq, const struct store_record *ir,
    const char *to, struct handover_caps *caps)
{
	struct render_handover *out = &res->out.handover;
	const struct store_circle *circ;
	struct store_record *cur = NULL;
	const struct store_field *f;
	struct writer_ops l;
	char *cause = NULL;
	int rc;

	if ((circ = circle_by_id(p->circle, ir->circle)) == NULL)
		return 0;
	if (load_current(p, res, ir, "case", &cur) != 0)
		return res->code;
	f = index_field(cur, HANDOVER_FIELD, 0);
	if ((cur->deleted && !cur->exist_conflict) || f == NULL ||
	    !lead_names(cur, rq->from)) {
		store_record_free(cur);
		return 0;
	}
	/* Two leads, or deleted on one device and edited on another: a
	 * person decides which (samen conflicts), not a handover. */
	if (f->ndistinct > 1 || cur->exist_conflict) {
		push_rid(&out->conflicts, &out->nconflicts, &caps->conflicts,
		    cur->rid);
		store_record_free(cur);
		return 0;
	}
	writer_ops_init(&l);
	writer_ops_add(&l, OP_SET, HANDOVER_FIELD, strlen(HANDOVER_FIELD), to,
	    strlen(to));
	/* pred: what we saw, so that a concurrent edit stays a conflict. */
	writer_ops_ref(&l, f->vals, f->nvals, NULL);
	rc = writer_record(p->writer, circ, "case", cur->rid, cur, 1, &l,
	    &cause);
	if (rc != 0)
		ctl_fail_cause(res, rc, cause);
	else
		push_rid(&out->moved, &out->nmoved, &caps->moved, cur->rid);
	writer_ops_free(&l);
	store_record_free(cur);
	return rc != 0 ? rc : 1;
}

int
ctl_records_handover(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_handover *rq = &q->handover;
	struct render_handover *out = &res->out.handover;
	const struct store_circle *only = NULL, *circ;
	const struct store_record **cand = NULL;
	struct handover_caps caps = { 0, 0 };
	size_t total = index_count(p->env.index), ncand = 0, capcand = 0;
	char to[DEVID_TEXTLEN + 1];
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->from = rq->from;
	out->to = rq->to;
	devid_encode(to, rq->to);
	if (*rq->circle != '\0' &&
	    (only = circle_by_name(p->circle, rq->circle)) == NULL)
		return ctl_no_writer(p, res, rq->circle);
	/* The cases the index shows from as a lead of, in the circles we
	 * write to; hand_one reads each again from the store. */
	for (size_t i = 0; i < total; i++) {
		const struct store_record *r = index_at(p->env.index, i);

		if (strcmp(r->collection, "case") != 0 || !visible(p, r) ||
		    (circ = circle_by_id(p->circle, r->circle)) == NULL ||
		    (only != NULL && circ != only) || !lead_names(r, rq->from))
			continue;
		/* The new lead must be able to read the case. */
		if (circ != circle_private(p->circle) &&
		    !can_read(p, r->circle, rq->to)) {
			free(cand);
			return ctl_fail(res, SAMEN_EINVAL, "%.12s is not a "
			    "member of circle %s: add it first (samen circle "
			    "add %s %s); nothing was handed over", to,
			    circle_label(p, r->circle),
			    circle_label(p, r->circle), to);
		}
		pick(&cand, &ncand, &capcand, r);
	}
	for (size_t i = 0; i < ncand && rc >= 0; i++)
		rc = hand_one(p, res, rq, cand[i], to, &caps);
	free(cand);
	if (rc < 0) {
		free(out->moved);
		free(out->conflicts);
		return res->code;
	}
	log_info("handover: %zu cases moved, %zu left in conflict",
	    out->nmoved, out->nconflicts);
	return 0;
}

/* Purge. */

/*
 * 1 if a value of r (a register's survivors, a set's elements) is the id
 * rid, in any case.
 */
static int
links_to(const struct store_record *r, const uint8_t rid[RID_LEN])
{
	uint8_t v_rid[RID_LEN];

	for (size_t i = 0; i < r->nfields; i++)
		for (size_t j = 0; j < r->fields[i].nvals; j++) {
			const struct store_value *v = &r->fields[i].vals[j];

			if (v->value != NULL && v->value_len == RID_TEXTLEN &&
			    rid_decode(v_rid, v->value, v->value_len) == 0 &&
			    memcmp(v_rid, rid, RID_LEN) == 0)
				return 1;
		}
	return 0;
}

static void
push_rec(struct circle_rec **a, size_t *n, const char *collection,
    const uint8_t rid[RID_LEN])
{
	*a = xreallocarray(*a, *n + 1, sizeof(**a));
	snprintf((*a)[*n].collection, sizeof((*a)[*n].collection), "%s",
	    collection);
	memcpy((*a)[*n].rid, rid, RID_LEN);
	(*n)++;
}

int
ctl_records_purge(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_purge *rq = &q->purge;
	struct render_purge *out = &res->out.purge;
	const struct store_record *r, *x;
	char *cause = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	/* Deleted records too: their values are in the change sets. */
	if ((r = lookup(p, res, rq->collection, rq->rid, 1)) == NULL)
		return res->code;
	push_rec(&out->recs, &out->n, rq->collection, rq->rid);
	for (size_t i = 0; rq->cascade && i < index_count(p->env.index);
	    i++) {
		x = index_at(p->env.index, i);
		if (x != r && memcmp(x->circle, r->circle, CS_CIRCLELEN) == 0 &&
		    links_to(x, rq->rid))
			push_rec(&out->recs, &out->n, x->collection, x->rid);
	}
	if ((rc = circle_purge(p->circle, r->circle, out->recs, out->n,
	    rq->reason, rq->reason_len, &out->done, &cause)) != 0) {
		free(out->recs);
		out->recs = NULL;
		return ctl_fail_cause(res, rc, cause);
	}
	return 0;
}

/* The read audit: who read or changed what. */

int
ctl_records_audit(struct ctl_parts *p, const union request *q,
    struct ctl_reply *res)
{
	const struct request_audit *rq = &q->audit;
	const struct store_record *rec = NULL;
	struct trail_query tq;
	struct trail_list *l;
	char *cause = NULL;
	int rc;

	memset(&tq, 0, sizeof(tq));
	if ((tq.has_record = rq->has_record)) {
		memcpy(tq.collection, rq->collection, sizeof(tq.collection));
		memcpy(tq.rid, rq->rid, RID_LEN);
		/* Deleted or not; one no longer held (purged): its reads. */
		rec = index_get(p->env.index, rq->collection, rq->rid);
		if (rec != NULL && circle_is_chain(p->circle, rec->circle))
			rec = NULL;
		if (rec != NULL && circle_private(p->circle) != NULL &&
		    memcmp(rec->circle, circle_private(p->circle)->id,
		    CS_CIRCLELEN) == 0) {
			char id[RID_TEXTLEN + 1];

			rid_encode(id, rq->rid);
			return ctl_fail(res, SAMEN_EINVAL, "%s %s is in this "
			    "device's private circle, whose reads are not "
			    "audited (no other device can read it)",
			    rq->collection, id);
		}
	}
	if ((tq.has_device = rq->has_device))
		memcpy(tq.device, rq->device, sizeof(tq.device));
	tq.since = rq->since_ms ? HLC_MAKE(rq->since_ms, 0) : 0;
	l = xcalloc(1, sizeof(*l));
	if ((rc = trail_query(p->trail, &tq, rec, l, &cause)) != 0) {
		free(l);
		return ctl_fail_cause(res, rc, cause);
	}
	res->out.audit.list = l;
	return 0;
}
